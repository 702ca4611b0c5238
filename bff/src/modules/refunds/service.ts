import type { RefundView } from '@hp/shared';
import { and, eq, sql } from 'drizzle-orm';
import type { ResolvedAccount } from '../../channels/registry';
import type { ChannelRefund } from '../../channels/types';
import type { Tx } from '../../db/client';
import { orders, payments, refunds } from '../../db/schema';
import type { Deps } from '../../deps';
import { QUEUES } from '../../jobs/queue';
import { AppError, conflict, notFound } from '../../lib/errors';
import { newId, newOrderNo } from '../../lib/ids';
import { lockOrderById, recordEvent, transition, type OrderRow } from '../orders/repo';
import { queryDelaySeconds } from '../orders/service';
import { enqueueHisPush, raiseAlert } from '../payments/service';
import { recordMessage, yuanText } from '../messages/service';
import { onRefundEnded, onRefundSucceeded } from '../inpatient/events';
import { REPAIR_ACTOR } from '../insurance/cash';

type RefundRow = typeof refunds.$inferSelect;

export interface RefundRequest {
  hospitalId: string;
  orderNo: string;
  /** Omitted: everything not yet refunded. */
  amountFen?: number;
  reason: string;
  /** The HIS's refund number: the same number returns the same refund. */
  hisRefundNo?: string;
  /** `his:<appId>`, `admin:<userId>`, `system`. */
  requestedBy: string;
}

const IN_FLIGHT = ['PENDING', 'PROCESSING'];
const REFUNDABLE = ['PAID', 'SETTLED', 'PARTIALLY_REFUNDED'];

export function toRefundView(r: RefundRow, orderNo: string): RefundView {
  return {
    id: r.id,
    refundNo: r.refundNo,
    hisRefundNo: r.hisRefundNo,
    orderNo,
    amountFen: r.amountFen,
    status: r.status as RefundView['status'],
    method: r.method === 'CASH' ? 'CASH' : 'CHANNEL',
    reason: r.reason,
    succeededAt: r.succeededAt?.toISOString() ?? null,
    createdAt: r.createdAt.toISOString(),
  };
}

/**
 * The guard every refund passes under the order's row lock: refundable state, no refund in flight, a
 * successful payment, and an amount (default: the whole remainder) within what is still refundable.
 */
async function checkRefundable(tx: Tx, order: OrderRow, asked: number | undefined) {
  if (order.status === 'REFUNDING')
    throw new AppError('refund_in_progress', 'a refund of this order is in progress; try again when it ends');
  if (!REFUNDABLE.includes(order.status))
    throw new AppError('order_not_refundable', `order is ${order.status.toLowerCase()}`);
  const [payment] = await tx
    .select()
    .from(payments)
    .where(and(eq(payments.orderId, order.id), eq(payments.status, 'SUCCESS')));
  if (!payment) throw new AppError('order_not_refundable', 'order has no successful payment');
  // Never more than the payment itself took: the whole order, or the cash part of an insurance order.
  const [back] = await tx
    .select({ fen: sql<string>`coalesce(sum(${refunds.amountFen}), 0)` })
    .from(refunds)
    .where(and(eq(refunds.paymentId, payment.id), eq(refunds.status, 'SUCCESS')));
  const refundable = Math.min(
    order.amountFen - order.refundedFen,
    payment.amountFen - Number(back?.fen ?? 0),
  );
  const amountFen = asked ?? refundable;
  if (amountFen <= 0 || amountFen > refundable)
    throw new AppError(
      'refund_exceeds_paid',
      `refund of ${amountFen} fen exceeds the ${refundable} fen still refundable`,
    );
  return { payment, amountFen };
}

/** Records the channel's word that a refund went through. */
async function markRefundSucceeded(deps: Deps, tx: Tx, refund: RefundRow, r: ChannelRefund) {
  await tx
    .update(refunds)
    .set({
      status: 'SUCCESS',
      channelRefundId: r.channelRefundId ?? refund.channelRefundId,
      succeededAt: r.succeededAt ?? deps.clock.now(),
      updatedAt: sql`now()`,
    })
    .where(eq(refunds.id, refund.id));
  const [order] = await tx
    .select({ patientId: orders.patientId, orderNo: orders.orderNo })
    .from(orders)
    .where(eq(orders.id, refund.orderId));
  if (order)
    await recordMessage(deps, tx, {
      hospitalId: refund.hospitalId,
      patientId: order.patientId,
      kind: 'refund_done',
      title: '退款成功',
      body: `订单 ${order.orderNo} 已退款 ${yuanText(refund.amountFen)} 元，原路退回。`,
      amountFen: refund.amountFen,
      refs: { orderId: refund.orderId, refundId: refund.id },
    });
  // A refund a discharge settlement planned: counted on its deposit; the settlement ends with its last one.
  await onRefundSucceeded(deps, tx, refund);
}

/** Where a failed refund leaves its order: back where it was before the refund started. */
export function abortEvent(order: OrderRow) {
  if (order.refundedFen > 0) return 'refund_aborted_to_partial' as const;
  return order.hisSyncStatus === 'ACKED'
    ? ('refund_aborted_to_settled' as const)
    : ('refund_aborted_to_paid' as const);
}

async function endRefund(
  deps: Deps,
  tx: Tx,
  refund: RefundRow,
  status: 'FAILED' | 'ABNORMAL',
  why: { code?: string; message?: string },
  actor: string,
) {
  await tx
    .update(refunds)
    .set({
      status,
      errorCode: why.code ?? null,
      errorMessage: why.message?.slice(0, 300) ?? null,
      updatedAt: sql`now()`,
    })
    .where(eq(refunds.id, refund.id));
  const order = (await lockOrderById(tx, refund.orderId))!;
  await transition(tx, order.id, abortEvent(order), {
    actor,
    reason:
      `refund ${refund.refundNo} ${status.toLowerCase()}: ${why.code ?? ''} ${why.message ?? ''}`.trim(),
    data: { refundId: refund.id },
  });
  // A refund a discharge settlement (or its reversal) owes: its driver job tries again or raises an alert.
  await onRefundEnded(deps, tx, { ...refund, status });
}

/**
 * Starts a refund of a paid order. Under the order's row lock: the order must be refundable, no other refund
 * of its payment may be in flight, and the refunded sum can never pass the paid sum. The intent (refund
 * PENDING, order REFUNDING, first refund query job) is committed before the channel is called; the
 * channel's answer is then recorded, and an unknown answer is resolved by the query job.
 */
export async function requestRefund(deps: Deps, req: RefundRequest): Promise<RefundView> {
  const prepared = await deps.db.transaction((tx) => recordRefundIntent(deps, tx, req));
  if ('replay' in prepared) return toRefundView(prepared.replay, req.orderNo);
  return sendRefund(deps, prepared.refund, prepared.order);
}

/** What {@link recordRefundIntent} did: a new refund to send, or the one the HIS refund number already names. */
export type RefundIntent = { replay: RefundRow } | { refund: RefundRow; order: OrderRow };

/**
 * The intent half of {@link requestRefund}, inside the caller's transaction (so a refund another state change
 * owes commits with it): under the order's row lock the guard, the refund PENDING, the order REFUNDING and
 * the first refund query job. The channel is called by {@link sendRefund} once this has committed; a refund
 * never sent is found by the query job ("no such refund") and ends FAILED.
 */
export async function recordRefundIntent(deps: Deps, tx: Tx, req: RefundRequest): Promise<RefundIntent> {
  const { clock } = deps;
  const [found] = await tx
    .select()
    .from(orders)
    .where(and(eq(orders.orderNo, req.orderNo), eq(orders.hospitalId, req.hospitalId)))
    .for('update');
  if (!found) throw notFound('order');
  if (req.hisRefundNo) {
    const [existing] = await tx
      .select()
      .from(refunds)
      .where(and(eq(refunds.hospitalId, req.hospitalId), eq(refunds.hisRefundNo, req.hisRefundNo)));
    if (existing) {
      if (
        existing.orderId !== found.id ||
        (req.amountFen !== undefined && req.amountFen !== existing.amountFen)
      ) {
        throw conflict(`hisRefundNo ${req.hisRefundNo} was already used for another refund`);
      }
      return { replay: existing };
    }
  }
  const { payment, amountFen } = await checkRefundable(tx, found, req.amountFen);
  const now = clock.now();
  const [refund] = await tx
    .insert(refunds)
    .values({
      id: newId('rfd', now.getTime()),
      refundNo: newOrderNo(now, 'R'),
      hospitalId: found.hospitalId,
      orderId: found.id,
      paymentId: payment.id,
      amountFen,
      reason: req.reason,
      requestedBy: req.requestedBy,
      hisRefundNo: req.hisRefundNo ?? null,
    })
    .returning();
  const started = await transition(tx, found.id, 'refund_start', {
    actor: req.requestedBy,
    reason: req.reason,
    data: { refundId: refund!.id, amountFen },
  });
  if (!started) throw new AppError('refund_in_progress', 'the order changed meanwhile; try again');
  await deps.jobs.send(
    QUEUES.refundQuery,
    { refundId: refund!.id, attempt: 0 },
    { startAfterSeconds: queryDelaySeconds(deps, 0, new Date(0)) },
    tx,
  );
  return { refund: refund!, order: found };
}

/**
 * The channel half of {@link requestRefund}: calls the channel for a refund whose intent has committed and
 * records its answer (SUCCESS applied, FAIL ends the refund, anything else is left to the query job).
 */
export async function sendRefund(deps: Deps, refund: RefundRow, order: OrderRow): Promise<RefundView> {
  const { db } = deps;
  const account = await deps.channels.get(order.merchantAccountId);
  // The channel knows the payment's own amount: the order's, or the cash part of an insurance order.
  const [payment] = await db
    .select({ amountFen: payments.amountFen })
    .from(payments)
    .where(eq(payments.id, refund.paymentId));
  const res = await account.adapter.refund({
    orderNo: order.orderNo,
    refundNo: refund.refundNo,
    amountFen: refund.amountFen,
    totalFen: payment?.amountFen ?? order.amountFen,
    reason: refund.reason,
    notifyUrl: `${deps.urls.public}/notify/${account.channel}/${account.id}`,
  });
  if (res.result === 'SUCCESS' && res.refund) {
    await db.transaction((tx) => applyChannelRefund(deps, account, res.refund!, 'refund_call', tx));
  } else if (res.result === 'FAIL') {
    await db.transaction(async (tx) => {
      const [row] = await tx.select().from(refunds).where(eq(refunds.id, refund.id)).for('update');
      if (row && IN_FLIGHT.includes(row.status))
        await endRefund(
          deps,
          tx,
          row,
          'FAILED',
          { code: res.errorCode, message: res.errorMessage },
          'system',
        );
    });
  }
  const [latest] = await db.select().from(refunds).where(eq(refunds.id, refund.id));
  return toRefundView(latest!, order.orderNo);
}

/**
 * Applies what the channel says about a refund (call reply, notification or query), idempotently under the
 * refund's and the order's row locks. SUCCESS adds to the refunded sum and moves the order to
 * PARTIALLY_REFUNDED or REFUNDED, and pushes the refund to the HIS; FAILED or ABNORMAL puts the order back
 * (ABNORMAL also raises an alert: the money did not reach the patient).
 */
export async function applyChannelRefund(
  deps: Deps,
  account: ResolvedAccount,
  r: ChannelRefund,
  source: 'refund_call' | 'notification' | 'query',
  tx: Tx,
): Promise<'applied' | 'duplicate' | 'conflict' | 'ignored' | 'unknown_order'> {
  const [refund] = await tx.select().from(refunds).where(eq(refunds.refundNo, r.refundNo)).for('update');
  if (!refund) return 'unknown_order';
  if (!IN_FLIGHT.includes(refund.status)) {
    if (r.state === 'SUCCESS' && (refund.status === 'FAILED' || refund.status === 'ABNORMAL')) {
      return lateRefundSuccess(deps, refund, r, `channel:${account.channel}:${source}`, tx);
    }
    return 'duplicate';
  }
  if (r.orderNo) {
    const [o] = await tx
      .select({ orderNo: orders.orderNo })
      .from(orders)
      .where(eq(orders.id, refund.orderId));
    if (o && o.orderNo !== r.orderNo) {
      await raiseAlert(tx, {
        hospitalId: refund.hospitalId,
        kind: 'refund_mismatch',
        severity: 'critical',
        orderId: refund.orderId,
        message: `退款 ${refund.refundNo} 的渠道结果指向另一订单 ${r.orderNo}`,
        data: { refundId: refund.id, source },
      });
      return 'conflict';
    }
  }
  const actor = `channel:${account.channel}:${source}`;
  const order = (await lockOrderById(tx, refund.orderId))!;
  if (
    order.merchantAccountId !== account.id ||
    (r.mchId && r.mchId !== account.mchId) ||
    (r.amountFen !== undefined && r.amountFen !== refund.amountFen)
  ) {
    await raiseAlert(tx, {
      hospitalId: order.hospitalId,
      kind: 'refund_mismatch',
      severity: 'critical',
      orderId: order.id,
      message: `退款 ${refund.refundNo} 的渠道结果与记录不符（金额 ${r.amountFen} 分，记录 ${refund.amountFen} 分）`,
      data: { refundId: refund.id, channel: r, source },
    });
    await recordEvent(tx, order, 'refund_mismatch', { actor, data: { refundId: refund.id } });
    return 'conflict';
  }
  switch (r.state) {
    case 'PROCESSING':
      await tx
        .update(refunds)
        .set({
          status: 'PROCESSING',
          channelRefundId: r.channelRefundId ?? refund.channelRefundId,
          updatedAt: sql`now()`,
        })
        .where(eq(refunds.id, refund.id));
      return 'ignored';
    case 'SUCCESS': {
      await markRefundSucceeded(deps, tx, refund, r);
      if (refund.requestedBy === REPAIR_ACTOR) {
        // A repair: the cash of an order that was never paid as a whole went back; the order stays ended.
        await recordEvent(tx, order, 'repair_refund_succeeded', { actor, data: { refundId: refund.id } });
        return 'applied';
      }
      const [updated] = await tx
        .update(orders)
        .set({ refundedFen: sql`${orders.refundedFen} + ${refund.amountFen}`, updatedAt: sql`now()` })
        .where(eq(orders.id, order.id))
        .returning({ refundedFen: orders.refundedFen, amountFen: orders.amountFen });
      const full = updated!.refundedFen >= updated!.amountFen;
      await transition(tx, order.id, full ? 'refunded' : 'partially_refunded', {
        actor,
        data: { refundId: refund.id, amountFen: refund.amountFen, refundedFen: updated!.refundedFen },
      });
      await enqueueHisPush(deps, tx, order, { kind: 'refund', refundId: refund.id });
      return 'applied';
    }
    case 'FAILED':
    case 'ABNORMAL':
      await endRefund(
        deps,
        tx,
        refund,
        r.state,
        { code: r.rawState, message: 'the channel did not refund' },
        actor,
      );
      if (r.state === 'ABNORMAL' || refund.requestedBy === REPAIR_ACTOR) {
        await raiseAlert(tx, {
          hospitalId: order.hospitalId,
          kind: 'refund_abnormal',
          severity: 'critical',
          orderId: order.id,
          message: `退款 ${refund.refundNo}（${refund.amountFen} 分）异常：渠道未能退回，需人工处理`,
          data: { refundId: refund.id },
        });
      }
      return 'applied';
    case 'NOT_FOUND':
      return 'ignored';
  }
}

/**
 * The channel carried out a refund we had closed as FAILED or ABNORMAL (a late success, or an abnormal
 * refund settled by hand at the channel). The money went back to the patient: count it, move the order,
 * tell the HIS — and raise a critical alert, because someone may have refunded the patient another way.
 */
async function lateRefundSuccess(deps: Deps, refund: RefundRow, r: ChannelRefund, actor: string, tx: Tx) {
  const order = (await lockOrderById(tx, refund.orderId))!;
  await markRefundSucceeded(deps, tx, refund, r);
  if (refund.requestedBy === REPAIR_ACTOR) {
    // A repair of an order never paid as a whole: nothing to count on the order, nothing to tell the HIS.
    await recordEvent(tx, order, 'repair_refund_succeeded', {
      actor,
      data: { refundId: refund.id, late: true },
    });
    await raiseAlert(tx, {
      hospitalId: order.hospitalId,
      kind: 'refund_late_success',
      severity: 'critical',
      orderId: order.id,
      message: `自动退款 ${refund.refundNo}（${refund.amountFen} 分）曾判定为失败，渠道现报告成功：请核对是否已人工退款`,
      data: { refundId: refund.id, previous: refund.status },
    });
    return 'conflict' as const;
  }
  const fits = order.refundedFen + refund.amountFen <= order.amountFen;
  if (fits) {
    const [u] = await tx
      .update(orders)
      .set({ refundedFen: sql`${orders.refundedFen} + ${refund.amountFen}`, updatedAt: sql`now()` })
      .where(eq(orders.id, order.id))
      .returning({ refundedFen: orders.refundedFen });
    // While another refund is in flight the order stays REFUNDING; that refund's end reads refundedFen.
    if (order.status !== 'REFUNDING') {
      await transition(
        tx,
        order.id,
        u!.refundedFen >= order.amountFen ? 'late_refund_full' : 'late_refund_partial',
        {
          actor,
          reason: `refund ${refund.refundNo} succeeded after it was closed as ${refund.status.toLowerCase()}`,
          data: { refundId: refund.id },
        },
      );
    }
    await enqueueHisPush(deps, tx, order, { kind: 'refund', refundId: refund.id });
  }
  await raiseAlert(tx, {
    hospitalId: order.hospitalId,
    kind: 'refund_late_success',
    severity: 'critical',
    orderId: order.id,
    message: fits
      ? `退款 ${refund.refundNo}（${refund.amountFen} 分）曾判定为失败，渠道现报告成功：已计入退款，请核对是否重复退款`
      : `退款 ${refund.refundNo}（${refund.amountFen} 分）曾判定为失败，渠道现报告成功，且累计退款将超过实付：需人工处理`,
    data: { refundId: refund.id, previous: refund.status },
  });
  return 'conflict' as const;
}

/**
 * Asks the channel for a refund already recorded PENDING (a repair refund, recorded in the transaction that
 * found the money to give back) and records its answer; an unknown answer is left to the refund query job,
 * which this enqueues. Repeating it is safe: the channel answers the same refund number with the same refund.
 */
export async function submitRecordedRefund(deps: Deps, refundId: string): Promise<void> {
  const [refund] = await deps.db.select().from(refunds).where(eq(refunds.id, refundId));
  if (!refund || !IN_FLIGHT.includes(refund.status)) return;
  const [order] = await deps.db.select().from(orders).where(eq(orders.id, refund.orderId));
  const view = await sendRefund(deps, refund, order!);
  if (view.status === 'FAILED') {
    await raiseAlert(deps.db, {
      hospitalId: refund.hospitalId,
      kind: 'refund_abnormal',
      severity: 'critical',
      orderId: refund.orderId,
      message: `自动退款 ${refund.refundNo}（${refund.amountFen} 分）被渠道拒绝，需人工处理`,
      data: { refundId: refund.id },
    });
  } else if (view.status === 'PENDING' || view.status === 'PROCESSING') {
    await deps.jobs.send(
      QUEUES.refundQuery,
      { refundId: refund.id, attempt: 0 },
      { startAfterSeconds: queryDelaySeconds(deps, 0, new Date(0)) },
    );
  }
}

export interface RefundQueryJob {
  refundId: string;
  attempt: number;
}

/** How long after its creation a channel's "no such refund" is believed (our call may not have reached it). */
const NOT_FOUND_GRACE_MS = 60_000;

/** Compensation for a refund in flight: ask the channel until it is final (lost notifications, timeouts). */
export async function runRefundQuery(deps: Deps, job: RefundQueryJob): Promise<void> {
  const [refund] = await deps.db.select().from(refunds).where(eq(refunds.id, job.refundId));
  if (!refund || !IN_FLIGHT.includes(refund.status)) return;
  const [order] = await deps.db.select().from(orders).where(eq(orders.id, refund.orderId));
  const account = await deps.channels.get(order!.merchantAccountId);
  const q = await account.adapter.queryRefund(refund.refundNo, order!.orderNo);
  if (q.result === 'SUCCESS' && q.refund) {
    if (q.refund.state === 'NOT_FOUND') {
      if (refund.requestedBy === REPAIR_ACTOR && refund.status === 'PENDING') {
        // A repair the channel never received: ask again (same refund number), never give up on the money.
        await deps.jobs.send(
          QUEUES.insuranceCashRepair,
          { refundId: refund.id, attempt: job.attempt + 1 },
          { startAfterSeconds: queryDelaySeconds(deps, job.attempt + 1, new Date(0)) },
        );
        return;
      }
      if (
        refund.status === 'PENDING' &&
        deps.clock.now().getTime() - refund.createdAt.getTime() > NOT_FOUND_GRACE_MS
      ) {
        await deps.db.transaction(async (tx) => {
          const [row] = await tx.select().from(refunds).where(eq(refunds.id, refund.id)).for('update');
          if (row && IN_FLIGHT.includes(row.status))
            await endRefund(
              deps,
              tx,
              row,
              'FAILED',
              { code: 'NOT_FOUND', message: 'the channel has no such refund' },
              'job:refund-query',
            );
        });
        return;
      }
    } else {
      await deps.db.transaction((tx) => applyChannelRefund(deps, account, q.refund!, 'query', tx));
      const [after] = await deps.db
        .select({ status: refunds.status })
        .from(refunds)
        .where(eq(refunds.id, refund.id));
      if (!IN_FLIGHT.includes(after!.status)) return;
    }
  }
  await deps.jobs.send(
    QUEUES.refundQuery,
    { refundId: refund.id, attempt: job.attempt + 1 },
    { startAfterSeconds: queryDelaySeconds(deps, job.attempt + 1, new Date(0)) },
  );
}

/** A refund as the HIS that asked for it sees it. */
export async function getRefundForHis(
  deps: Deps,
  hospitalId: string,
  hisRefundNo: string,
): Promise<RefundView> {
  const [row] = await deps.db
    .select({ r: refunds, orderNo: orders.orderNo })
    .from(refunds)
    .innerJoin(orders, eq(orders.id, refunds.orderId))
    .where(and(eq(refunds.hospitalId, hospitalId), eq(refunds.hisRefundNo, hisRefundNo)));
  if (!row) throw notFound('refund');
  return toRefundView(row.r, row.orderNo);
}

export interface CashRefundRequest {
  hospitalId: string;
  orderId: string;
  amountFen: number;
  reason: string;
  /** The window's receipt or voucher number, kept with the refund. */
  receiptNo?: string;
  /** `admin:<userId>`. */
  requestedBy: string;
}

/**
 * Records a manual cash refund: the hospital paid the money back at the window. No channel is called. Under
 * the order's row lock the order must be refundable with no channel refund in flight, and the refunded sum
 * can never pass the paid sum; the refund is recorded as SUCCESS, the order moves to PARTIALLY_REFUNDED or
 * REFUNDED, and the HIS is told — all in one transaction.
 */
export async function recordCashRefund(deps: Deps, req: CashRefundRequest): Promise<RefundView> {
  const { clock } = deps;
  return deps.db.transaction(async (tx) => {
    const order = await lockOrderById(tx, req.orderId);
    if (!order || order.hospitalId !== req.hospitalId) throw notFound('order');
    const { payment } = await checkRefundable(tx, order, req.amountFen);
    const now = clock.now();
    const [refund] = await tx
      .insert(refunds)
      .values({
        id: newId('rfd', now.getTime()),
        refundNo: newOrderNo(now, 'C'),
        hospitalId: order.hospitalId,
        orderId: order.id,
        paymentId: payment.id,
        amountFen: req.amountFen,
        status: 'SUCCESS',
        method: 'CASH',
        reason: req.reason,
        requestedBy: req.requestedBy,
        channelRefundId: req.receiptNo ?? null,
        succeededAt: now,
      })
      .returning();
    const [u] = await tx
      .update(orders)
      .set({ refundedFen: sql`${orders.refundedFen} + ${req.amountFen}`, updatedAt: sql`now()` })
      .where(eq(orders.id, order.id))
      .returning({ refundedFen: orders.refundedFen });
    const moved = await transition(
      tx,
      order.id,
      u!.refundedFen >= order.amountFen ? 'cash_refund_full' : 'cash_refund_partial',
      {
        actor: req.requestedBy,
        reason: req.reason,
        data: { refundId: refund!.id, amountFen: req.amountFen, receiptNo: req.receiptNo ?? null },
      },
    );
    if (!moved) throw new AppError('refund_in_progress', 'the order changed meanwhile; try again');
    await enqueueHisPush(deps, tx, order, { kind: 'refund', refundId: refund!.id });
    return toRefundView(refund!, order.orderNo);
  });
}
