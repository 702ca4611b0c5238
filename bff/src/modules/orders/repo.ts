import { and, eq, inArray, sql } from 'drizzle-orm';
import type { Tx } from '../../db/client';
import { bills, orderBills, orderEvents, orders, payments } from '../../db/schema';
import { TRANSITIONS, type OrderEvent } from './state';

export type OrderRow = typeof orders.$inferSelect;
export type PaymentRow = typeof payments.$inferSelect;

export interface TransitionMeta {
  actor: string;
  reason?: string;
  data?: Record<string, unknown>;
  /** Other columns to set in the same update. */
  patch?: Partial<Pick<OrderRow, 'paidAt' | 'settledAt' | 'closedAt' | 'hisSyncStatus' | 'oneSided'>>;
}

/**
 * Applies `event` to an order if its current status allows it: conditional UPDATE + order_events row.
 * Returns the updated order, or null when the order was not in a `from` state (someone else moved it).
 */
export async function transition(
  tx: Tx,
  orderId: string,
  event: OrderEvent,
  meta: TransitionMeta,
): Promise<OrderRow | null> {
  const t = TRANSITIONS[event];
  const [before] = await tx.select({ status: orders.status }).from(orders).where(eq(orders.id, orderId));
  const updated = await tx
    .update(orders)
    .set({ status: t.to, updatedAt: sql`now()`, ...meta.patch })
    .where(and(eq(orders.id, orderId), inArray(orders.status, [...t.from])))
    .returning();
  const row = updated[0];
  if (!row) return null;
  await tx.insert(orderEvents).values({
    orderId,
    hospitalId: row.hospitalId,
    event,
    fromStatus: before?.status ?? null,
    toStatus: t.to,
    actor: meta.actor,
    reason: meta.reason ?? null,
    data: meta.data ?? {},
  });
  return row;
}

/** Records an event that changes no status (e.g. a duplicate notification noticed, a query result). */
export async function recordEvent(
  tx: Tx,
  order: OrderRow,
  event: string,
  meta: { actor: string; reason?: string; data?: Record<string, unknown> },
) {
  await tx.insert(orderEvents).values({
    orderId: order.id,
    hospitalId: order.hospitalId,
    event,
    fromStatus: order.status,
    toStatus: order.status,
    actor: meta.actor,
    reason: meta.reason ?? null,
    data: meta.data ?? {},
  });
}

/** Locks the order row for the rest of the transaction (serialises notification vs query vs close). */
export async function lockOrderByNo(tx: Tx, orderNo: string): Promise<OrderRow | undefined> {
  const [row] = await tx.select().from(orders).where(eq(orders.orderNo, orderNo)).for('update');
  return row;
}

export async function lockOrderById(tx: Tx, orderId: string): Promise<OrderRow | undefined> {
  const [row] = await tx.select().from(orders).where(eq(orders.id, orderId)).for('update');
  return row;
}

export async function findOrder(tx: Tx, orderId: string): Promise<OrderRow | undefined> {
  const [row] = await tx.select().from(orders).where(eq(orders.id, orderId));
  return row;
}

export async function findPaymentByOrder(tx: Tx, orderId: string): Promise<PaymentRow | undefined> {
  const [row] = await tx.select().from(payments).where(eq(payments.orderId, orderId));
  return row;
}

export async function billIdsOfOrder(tx: Tx, orderId: string): Promise<string[]> {
  const rows = await tx
    .select({ billId: orderBills.billId })
    .from(orderBills)
    .where(eq(orderBills.orderId, orderId));
  return rows.map((r) => r.billId);
}

/** Gives the bills of a closed or failed order back to the patient. */
export async function releaseBills(tx: Tx, orderId: string): Promise<void> {
  await tx
    .update(bills)
    .set({ lockedOrderId: null, updatedAt: sql`now()` })
    .where(and(eq(bills.lockedOrderId, orderId), eq(bills.status, 'UNPAID')));
}

/** Marks the bills of a paid order as paid. */
export async function markBillsPaid(tx: Tx, orderId: string): Promise<void> {
  const ids = await billIdsOfOrder(tx, orderId);
  if (ids.length === 0) return;
  await tx
    .update(bills)
    .set({ status: 'PAID', paidOrderId: orderId, lockedOrderId: null, updatedAt: sql`now()` })
    .where(inArray(bills.id, ids));
}
