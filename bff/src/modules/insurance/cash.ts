import { and, eq, inArray, sql } from 'drizzle-orm';
import type { ChannelPayment } from '../../channels/types';
import type { Tx } from '../../db/client';
import { insuranceRefunds, insuranceSettlements, payments, refunds } from '../../db/schema';
import type { Deps } from '../../deps';
import { QUEUES } from '../../jobs/queue';
import { newId, newOrderNo } from '../../lib/ids';
import { recordEvent, type OrderRow } from '../orders/repo';
import { completePaidOrder, raiseAlert, type ApplyOutcome } from '../payments/service';
import { insuranceFen, lockSettlement, moveSettlement, type SettlementRow } from './repo';

/**
 * How the cash part of an insurance order meets the rest of the payment code: the hooks the payment and
 * close paths call, and the repairs that give money back when only one part of an order went through.
 */

/** Who asks for a repair refund: such refunds return money of an order that was never paid as a whole. */
export const REPAIR_ACTOR = 'system:insurance-repair';

export async function hasInsurancePart(tx: Tx, orderId: string): Promise<boolean> {
  const rows = await tx
    .select({ id: insuranceSettlements.id })
    .from(insuranceSettlements)
    .where(eq(insuranceSettlements.orderId, orderId))
    .limit(1);
  return rows.length > 0;
}

/** Enqueues the sync job of an order's insurance part (soon, or after `delaySeconds`). */
export async function enqueueSync(
  deps: Deps,
  tx: Tx | undefined,
  orderId: string,
  delaySeconds = 2,
  attempt = 0,
) {
  await deps.jobs.send(QUEUES.insuranceSync, { orderId, attempt }, { startAfterSeconds: delaySeconds }, tx);
}

/**
 * The channel took the cash part of an insurance order (called under the order's lock by applyChannelPayment,
 * after its merchant and amount checks). Insurance settled → the order is PAID. Insurance still settling →
 * recorded; the order completes when the insurance part does. The order already ended (insurance failed,
 * abandoned, expired) → the cash goes back by a repair refund, and staff are told.
 */
export async function onCashPartPaid(
  deps: Deps,
  tx: Tx,
  order: OrderRow,
  p: ChannelPayment,
  meta: { actor: string; data: Record<string, unknown> },
): Promise<ApplyOutcome> {
  const s = (await lockSettlement(tx, order.id))!;
  const [payment] = await tx.select().from(payments).where(eq(payments.orderId, order.id)).for('update');
  if (!payment || payment.status === 'SUCCESS') return 'duplicate';
  const paidAt = p.paidAt ?? deps.clock.now();
  await tx
    .update(payments)
    .set({ status: 'SUCCESS', channelTradeNo: p.channelTradeNo ?? null, paidAt, updatedAt: sql`now()` })
    .where(eq(payments.id, payment.id));
  if (order.status === 'PAYING' || order.status === 'CREATED') {
    if (s.status === 'SETTLED') {
      const paid = await completePaidOrder(deps, tx, order, { ...meta, paidAt });
      return paid ? 'applied' : 'duplicate';
    }
    if (s.status === 'SETTLING' || s.status === 'QUOTED') {
      await recordEvent(tx, order, 'cash_part_paid', {
        actor: meta.actor,
        reason: 'the cash part is paid; waiting for the insurance part',
        data: meta.data,
      });
      await enqueueSync(deps, tx, order.id);
      return 'applied';
    }
  }
  // The order ended without its insurance part: the patient's cash must go back.
  await recordEvent(tx, order, 'cash_part_paid_after_end', {
    actor: meta.actor,
    reason: `cash part paid while the order is ${order.status.toLowerCase()} and insurance ${s.status.toLowerCase()}`,
    data: meta.data,
  });
  await startCashRepair(deps, tx, order, payment.id, payment.amountFen, 'insurance part not settled');
  return 'conflict';
}

/**
 * Records a repair refund of the cash part (a `refunds` row asked by {@link REPAIR_ACTOR}, so reconciliation
 * sees it like any refund) and the job that asks the channel. Idempotent: one live repair per payment.
 */
export async function startCashRepair(
  deps: Deps,
  tx: Tx,
  order: OrderRow,
  paymentId: string,
  amountFen: number,
  why: string,
) {
  const existing = await tx
    .select({ id: refunds.id })
    .from(refunds)
    .where(
      and(
        eq(refunds.paymentId, paymentId),
        eq(refunds.requestedBy, REPAIR_ACTOR),
        // One automatic repair per payment, ever: a failed or abnormal one is a person's (alerted), since a
        // second try could pay back twice if the first later succeeds.
        inArray(refunds.status, ['PENDING', 'PROCESSING', 'SUCCESS', 'FAILED', 'ABNORMAL']),
      ),
    );
  if (existing.length) return;
  const now = deps.clock.now();
  const [refund] = await tx
    .insert(refunds)
    .values({
      id: newId('rfd', now.getTime()),
      refundNo: newOrderNo(now, 'R'),
      hospitalId: order.hospitalId,
      orderId: order.id,
      paymentId,
      amountFen,
      reason: `医保部分未结算，现金部分原路退回（${why}）`,
      requestedBy: REPAIR_ACTOR,
    })
    .returning();
  await deps.jobs.send(QUEUES.insuranceCashRepair, { refundId: refund!.id, attempt: 0 }, {}, tx);
  await raiseAlert(tx, {
    hospitalId: order.hospitalId,
    kind: 'insurance_partial_repair',
    severity: 'warning',
    orderId: order.id,
    message: `医保订单 ${order.orderNo} 现金部分已付但医保未结算：现金 ${amountFen} 分自动原路退回`,
    data: { refundId: refund!.id, why },
  });
}

/**
 * Records a repair of the insurance part: insurance settled but the order will never be paid as a whole (the
 * cash part expired, failed or was closed). The settlement goes REVERSING; the insurance-refund job returns
 * the insurance part (6203) and ends it REVERSED — or alerts when it cannot.
 */
export async function startInsuranceRepair(
  deps: Deps,
  tx: Tx,
  order: OrderRow,
  s: SettlementRow,
  why: string,
): Promise<boolean> {
  const { left } = insuranceFen(s);
  if (!(await moveSettlement(tx, s, ['SETTLED', 'CLOSING', 'SETTLING'], 'REVERSING'))) return false;
  if (left === 0) {
    await tx
      .update(insuranceSettlements)
      .set({ status: 'REVERSED', updatedAt: sql`now()` })
      .where(eq(insuranceSettlements.id, s.id));
    return true;
  }
  const now = deps.clock.now();
  const [row] = await tx
    .insert(insuranceRefunds)
    .values({
      id: newId('irf', now.getTime()),
      refundNo: newOrderNo(now, 'I'),
      hospitalId: order.hospitalId,
      orderId: order.id,
      settlementId: s.id,
      kind: 'HI',
      fundFen: s.fundFen - s.refundedFundFen,
      psnAcctFen: s.psnAcctFen - s.refundedPsnAcctFen,
      otherFen: s.otherFen - s.refundedOtherFen,
      repair: why,
      reason: `订单未完成，医保部分撤销退回（${why}）`,
      requestedBy: REPAIR_ACTOR,
    })
    .returning();
  await recordEvent(tx, order, 'insurance_reversal_requested', {
    actor: REPAIR_ACTOR,
    reason: why,
    data: { insuranceRefundId: row!.id, fen: left },
  });
  await deps.jobs.send(QUEUES.insuranceRefund, { refundId: row!.id, attempt: 0 }, {}, tx);
  return true;
}

/**
 * An insurance order was closed or failed locally (the cash part expired, was closed at the channel, or the
 * channel refused it): an insurance part already settled is reversed; one still quoted or settling is
 * followed by the sync job until it is known, then revoked or reversed.
 */
export async function onInsuranceOrderEnded(deps: Deps, tx: Tx, order: OrderRow, why: string): Promise<void> {
  const s = await lockSettlement(tx, order.id);
  if (!s) return;
  if (s.status === 'SETTLED') {
    await startInsuranceRepair(deps, tx, order, s, why);
    return;
  }
  if (['QUOTING', 'QUOTED', 'SETTLING'].includes(s.status)) {
    if (await moveSettlement(tx, s, ['QUOTING', 'QUOTED', 'SETTLING'], 'CLOSING'))
      await enqueueSync(deps, tx, order.id);
  }
}
