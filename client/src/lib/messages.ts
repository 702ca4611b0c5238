import { PAGES } from './nav';

/** `GET /api/patient/messages` (bff/src/modules/credit/routes.ts `PatientMessageSchema`). */
export interface PatientMessage {
  id: string;
  kind: string;
  title: string;
  body: string;
  /** billId, orderId, refundId, debitId. */
  refs: Record<string, string>;
  readAt: string | null;
  createdAt: string;
}

export interface PatientMessageList {
  messages: PatientMessage[];
  unread: number;
}

/** One character and a colour per kind (no image files: the subpackage stays small and offline-safe). */
const KINDS: Record<string, { icon: string; tone: 'ok' | 'warn' | 'info' }> = {
  payment_succeeded: { icon: '付', tone: 'ok' },
  refund_done: { icon: '退', tone: 'info' },
  credit_debit_failed: { icon: '!', tone: 'warn' },
  bill_waiting: { icon: '账', tone: 'warn' },
  credit_signed: { icon: '信', tone: 'ok' },
  deposit_paid: { icon: '押', tone: 'ok' },
  settlement_refunded: { icon: '退', tone: 'info' },
  settlement_debited: { icon: '结', tone: 'ok' },
};

/** The icon of a message kind; an unknown kind (a newer bff) gets a neutral one. */
export function kindIcon(kind: string): { icon: string; tone: 'ok' | 'warn' | 'info' } {
  return KINDS[kind] ?? { icon: '信', tone: 'info' };
}

/**
 * Where tapping a message goes: the order it names, else the pending bills for a bill still to pay, else
 * the stay for an inpatient message; nothing when its refs name nothing the patient can open.
 */
export function messageTarget(
  m: PatientMessage,
): { page: string; query?: Record<string, string> } | undefined {
  if (m.refs.orderId) return { page: PAGES.order, query: { id: m.refs.orderId } };
  if (m.kind.startsWith('deposit_') || m.kind.startsWith('settlement_')) return { page: PAGES.inpatient };
  if (m.refs.billId) return { page: PAGES.bills };
  return undefined;
}

/** The badge text of an unread count. */
export const unreadBadge = (n: number): string | undefined =>
  n <= 0 ? undefined : n > 99 ? '99+' : String(n);
