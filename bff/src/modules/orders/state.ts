import type { OrderStatus } from '@hp/shared';

/**
 * Every order transition, in one table. A transition is applied with a conditional update
 * (`WHERE status = ANY(from)`), so two racing writers cannot both apply it.
 */
export const TRANSITIONS = {
  start_payment: { from: ['CREATED'], to: 'PAYING' },
  paid: { from: ['CREATED', 'PAYING'], to: 'PAID' },
  settled: { from: ['PAID'], to: 'SETTLED' },
  close: { from: ['CREATED', 'PAYING'], to: 'CLOSED' },
  fail: { from: ['CREATED', 'PAYING'], to: 'FAILED' },
  /** Amount mismatch, or a success after a local close/failure: flagged, never silently applied. */
  conflict: { from: ['CREATED', 'PAYING', 'PAID', 'CLOSED', 'FAILED'], to: 'CONFLICTED' },
} as const satisfies Record<string, { from: readonly OrderStatus[]; to: OrderStatus }>;

export type OrderEvent = keyof typeof TRANSITIONS;
