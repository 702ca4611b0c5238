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
  refund_start: { from: ['PAID', 'SETTLED', 'PARTIALLY_REFUNDED'], to: 'REFUNDING' },
  partially_refunded: { from: ['REFUNDING'], to: 'PARTIALLY_REFUNDED' },
  refunded: { from: ['REFUNDING'], to: 'REFUNDED' },
  /** A refund we had closed as failed that the channel carried out after all. */
  late_refund_partial: { from: ['PAID', 'SETTLED', 'PARTIALLY_REFUNDED'], to: 'PARTIALLY_REFUNDED' },
  late_refund_full: { from: ['PAID', 'SETTLED', 'PARTIALLY_REFUNDED'], to: 'REFUNDED' },
  /** The hospital paid money back in cash at the window (manual cash refund, recorded by an admin). */
  cash_refund_partial: { from: ['PAID', 'SETTLED', 'PARTIALLY_REFUNDED'], to: 'PARTIALLY_REFUNDED' },
  cash_refund_full: { from: ['PAID', 'SETTLED', 'PARTIALLY_REFUNDED'], to: 'REFUNDED' },
  /** A refund that failed puts the order back where it was: three events, one per place. */
  refund_aborted_to_paid: { from: ['REFUNDING'], to: 'PAID' },
  refund_aborted_to_settled: { from: ['REFUNDING'], to: 'SETTLED' },
  refund_aborted_to_partial: { from: ['REFUNDING'], to: 'PARTIALLY_REFUNDED' },
  /** Amount mismatch, or a success after a local close/failure: flagged, never silently applied. */
  conflict: { from: ['CREATED', 'PAYING', 'PAID', 'CLOSED', 'FAILED'], to: 'CONFLICTED' },
} as const satisfies Record<string, { from: readonly OrderStatus[]; to: OrderStatus }>;

export type OrderEvent = keyof typeof TRANSITIONS;
