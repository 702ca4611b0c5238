import { and, eq, sql } from 'drizzle-orm';
import type { ResolvedAccount } from '../../channels/registry';
import type { QueryPaymentOutput } from '../../channels/types';
import { payments } from '../../db/schema';
import type { Deps } from '../../deps';
import { QUEUES } from '../../jobs/queue';
import {
  findOrder,
  lockOrderById,
  recordEvent,
  releaseBills,
  transition,
  type OrderRow,
} from '../orders/repo';
import { queryDelaySeconds } from '../orders/service';
import { applyChannelPayment, reverseRequested } from './service';
import { hasInsurancePart, onInsuranceOrderEnded } from '../insurance/cash';

export interface PaymentQueryJob {
  orderId: string;
  attempt: number;
}

/** How long after creation a channel's "no such order" is believed (the create call may still be in flight). */
const NOT_FOUND_GRACE_MS = 60_000;

async function closeLocally(deps: Deps, order: OrderRow, event: 'close' | 'fail', reason: string) {
  await deps.db.transaction(async (tx) => {
    const done = await transition(tx, order.id, event, {
      actor: 'job:payment-query',
      reason,
      patch: { closedAt: deps.clock.now() },
    });
    if (!done) return;
    await releaseBills(tx, order.id);
    // An order with an insurance part: a settled insurance part is reversed, an unknown one followed.
    await onInsuranceOrderEnded(deps, tx, done, reason);
    await tx
      .update(payments)
      .set({ status: event === 'close' ? 'CLOSED' : 'FAILED', updatedAt: sql`now()` })
      .where(and(eq(payments.orderId, order.id), eq(payments.status, 'PENDING')));
  });
}

async function reschedule(deps: Deps, order: OrderRow, attempt: number) {
  await deps.jobs.send(
    QUEUES.paymentQuery,
    { orderId: order.id, attempt },
    { startAfterSeconds: queryDelaySeconds(deps, attempt, order.expiresAt, order.tradeType) },
  );
}

/** How many times one job run calls reverse while the channel answers recall=Y. */
// Each call may take the outbound timeout (10 s): three fit well inside the job's 60 s lease.
const REVERSE_TRIES = 3;

/**
 * A payment-code order: apply it when paid; while the patient has not confirmed, poll; once the wait is
 * over, reverse it at the channel (repeating while it answers recall=Y) and only then close it locally.
 * Reverse cancels whatever state the payment reached, so nothing taken is kept without an order.
 */
async function micropayStep(
  deps: Deps,
  order: OrderRow,
  account: ResolvedAccount,
  q: QueryPaymentOutput,
  job: PaymentQueryJob,
) {
  const state = q.result === 'SUCCESS' ? q.payment?.state : undefined;
  if (state === 'PAID' || state === 'REFUNDED') {
    await deps.db.transaction((tx) => applyChannelPayment(deps, account, q.payment!, 'query', tx));
    return;
  }
  if (state === 'CLOSED')
    return closeLocally(deps, order, 'close', `channel reports ${q.payment!.rawState ?? 'CLOSED'}`);
  if (state === 'FAILED')
    return closeLocally(deps, order, 'fail', `channel reports ${q.payment!.rawState ?? 'PAYERROR'}`);
  const waited = (deps.clock.now().getTime() - order.createdAt.getTime()) / 1000;
  if (waited < deps.config.micropayTimeoutSeconds) return reschedule(deps, order, job.attempt + 1);
  // The intent first, under the order's lock: a success that lands from now on is flagged, not applied.
  const stillPaying = await deps.db.transaction(async (tx) => {
    const locked = await lockOrderById(tx, order.id);
    if (locked?.status !== 'PAYING') return false;
    if (!(await reverseRequested(tx, order.id))) {
      await recordEvent(tx, locked, 'reverse_requested', {
        actor: 'job:payment-query',
        reason: `no confirmation within ${deps.config.micropayTimeoutSeconds} s`,
      });
    }
    return true;
  });
  if (!stillPaying) return;
  for (let i = 0; i < REVERSE_TRIES; i++) {
    const r = await account.adapter.reversePayment(order.orderNo);
    if (r.result === 'SUCCESS' && !r.recall) {
      return closeLocally(
        deps,
        order,
        'close',
        `reversed: the patient did not confirm within ${deps.config.micropayTimeoutSeconds} s`,
      );
    }
    if (!r.recall) break; // failed or unknown: try again on the next run
    await new Promise((resolve) =>
      setTimeout(resolve, Math.min(1000, deps.config.micropayPollSeconds * 1000)),
    );
  }
  return reschedule(deps, order, job.attempt + 1);
}

/**
 * Compensation for a PAYING order: ask the channel until the order is final. Repairs lost notifications
 * and crashes between "channel paid" and "notification applied"; closes expired orders at the channel
 * before closing them locally (if the channel says paid, the payment is applied instead).
 */
export async function runPaymentQuery(deps: Deps, job: PaymentQueryJob): Promise<void> {
  const order = await findOrder(deps.db, job.orderId);
  if (!order) return;
  const [payment] = await deps.db
    .select({ id: payments.id, status: payments.status, createdAt: payments.createdAt })
    .from(payments)
    .where(eq(payments.orderId, order.id));
  // An insurance order before its cash part exists belongs to the insurance sync job.
  if (!payment) return;
  if (order.status !== 'PAYING' && order.status !== 'CREATED') {
    // An insurance order that ended while its cash part was still open at the channel: followed until the
    // channel closed it, or — if the patient paid after all — until that payment is applied (and refunded).
    if (payment.status === 'PENDING' && (await hasInsurancePart(deps.db, order.id)))
      await endedCashStep(deps, order, job);
    return;
  }
  const account = await deps.channels.get(order.merchantAccountId);
  const q = await account.adapter.queryPayment(order.orderNo);
  const expired = deps.clock.now() >= order.expiresAt;
  if (order.tradeType === 'MICROPAY') return micropayStep(deps, order, account, q, job);

  if (q.result !== 'SUCCESS' || !q.payment) return reschedule(deps, order, job.attempt + 1);
  switch (q.payment.state) {
    case 'PAID':
    case 'REFUNDED':
      await deps.db.transaction((tx) => applyChannelPayment(deps, account, q.payment!, 'query', tx));
      return;
    case 'CLOSED':
      return closeLocally(deps, order, 'close', `channel reports ${q.payment.rawState ?? 'CLOSED'}`);
    case 'FAILED':
      return closeLocally(deps, order, 'fail', `channel reports ${q.payment.rawState ?? 'FAILED'}`);
    case 'NOT_FOUND':
      // Counted from the payment (an insurance order's cash part is asked for long after the order was made).
      if (deps.clock.now().getTime() - payment.createdAt.getTime() > NOT_FOUND_GRACE_MS) {
        return closeLocally(deps, order, 'fail', 'the channel has no such order');
      }
      return reschedule(deps, order, job.attempt + 1);
    case 'NOTPAY': {
      if (!expired) return reschedule(deps, order, job.attempt + 1);
      const c = await account.adapter.closePayment(order.orderNo);
      if (c.result === 'SUCCESS') return closeLocally(deps, order, 'close', 'expired');
      // Not closed (paid meanwhile, or the channel is down): look again soon.
      return reschedule(deps, order, job.attempt + 1);
    }
    case 'PAYING':
      return reschedule(deps, order, job.attempt + 1);
  }
}

/** The cash part of an ended insurance order, still open at the channel: close it there, or apply its payment. */
async function endedCashStep(deps: Deps, order: OrderRow, job: PaymentQueryJob) {
  const account = await deps.channels.get(order.merchantAccountId);
  const q = await account.adapter.queryPayment(order.orderNo);
  const state = q.result === 'SUCCESS' ? q.payment?.state : undefined;
  const markClosed = () =>
    deps.db
      .update(payments)
      .set({ status: 'CLOSED', updatedAt: sql`now()` })
      .where(and(eq(payments.orderId, order.id), eq(payments.status, 'PENDING')));
  if (state === 'PAID' || state === 'REFUNDED') {
    await deps.db.transaction((tx) => applyChannelPayment(deps, account, q.payment!, 'query', tx));
    return;
  }
  if (state === 'CLOSED' || state === 'FAILED' || state === 'NOT_FOUND') {
    await markClosed();
    return;
  }
  if (state === 'NOTPAY' && (await account.adapter.closePayment(order.orderNo)).result === 'SUCCESS') {
    await markClosed();
    return;
  }
  await reschedule(deps, order, job.attempt + 1);
}
