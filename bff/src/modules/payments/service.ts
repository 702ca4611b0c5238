import { and, eq, sql } from 'drizzle-orm';
import type { ChannelPayment } from '../../channels/types';
import type { ResolvedAccount } from '../../channels/registry';
import type { Tx } from '../../db/client';
import { alerts, hisPushes, orderEvents, payments } from '../../db/schema';
import type { Deps } from '../../deps';
import { QUEUES } from '../../jobs/queue';
import { newId } from '../../lib/ids';
import { recordMessage, yuanText } from '../messages/service';
import { onOrderPaid } from '../inpatient/events';
import { lockOrderByNo, markBillsPaid, recordEvent, transition, type OrderRow } from '../orders/repo';
import { hasInsurancePart, onCashPartPaid } from '../insurance/cash';

/** What applying a channel's word about a payment did. */
export type ApplyOutcome = 'applied' | 'duplicate' | 'conflict' | 'ignored' | 'unknown_order';

/** Orders whose payment already went through: another success is a duplicate, or a second payment. */
const ALREADY_PAID = ['PAID', 'SETTLED', 'CONFLICTED', 'REFUNDING', 'PARTIALLY_REFUNDED', 'REFUNDED'];

/** Whether a payment-code order has had a reverse requested (the intent is an order event). */
export async function reverseRequested(tx: Tx, orderId: string): Promise<boolean> {
  const rows = await tx
    .select({ id: orderEvents.id })
    .from(orderEvents)
    .where(and(eq(orderEvents.orderId, orderId), eq(orderEvents.event, 'reverse_requested')))
    .limit(1);
  return rows.length > 0;
}

/** Raises a staff alert in the same transaction as the state change that caused it. */
export async function raiseAlert(
  tx: Tx,
  a: {
    hospitalId: string | null;
    kind: string;
    severity: 'critical' | 'warning';
    orderId?: string;
    message: string;
    data?: Record<string, unknown>;
  },
) {
  await tx.insert(alerts).values({
    hospitalId: a.hospitalId,
    kind: a.kind,
    severity: a.severity,
    orderId: a.orderId ?? null,
    message: a.message,
    data: a.data ?? {},
  });
}

/**
 * Enqueues a result push to the HIS — a payment, or a refund — as an outbox job in the same transaction
 * as the state change it reports.
 */
export async function enqueueHisPush(
  deps: Deps,
  tx: Tx,
  order: OrderRow,
  what: { kind: 'payment' } | { kind: 'refund' | 'insurance_refund'; refundId: string } = { kind: 'payment' },
) {
  const eventId = newId('evt');
  await tx.insert(hisPushes).values({
    eventId,
    hospitalId: order.hospitalId,
    orderId: order.id,
    kind: what.kind,
    refundId: what.kind === 'payment' ? null : what.refundId,
  });
  await deps.jobs.send(
    QUEUES.hisPush,
    { eventId },
    {
      retryLimit: deps.config.hisPushRetryLimit,
      retryDelaySeconds: deps.config.hisPushRetryDelaySeconds,
      retryBackoff: true,
    },
    tx,
  );
}

/**
 * Applies what a channel says about a payment (from a notification or a query), idempotently and under
 * the order's row lock, so concurrent notifications and queries produce exactly one PAID transition.
 * Cross-checks merchant, app and amount; a mismatch or a success after a local close becomes CONFLICTED
 * with an alert, never PAID.
 */
export async function applyChannelPayment(
  deps: Deps,
  account: ResolvedAccount,
  p: ChannelPayment,
  source: 'notification' | 'query' | 'pay_call',
  tx: Tx,
): Promise<ApplyOutcome> {
  const metric = (outcome: ApplyOutcome) => {
    deps.metrics.paymentResults.inc({ channel: account.channel, source, outcome });
    return outcome;
  };
  // Only success (and a success already refunded outside) is applied here; closes are the query job's.
  if (p.state !== 'PAID' && p.state !== 'REFUNDED') return metric('ignored');
  const order = await lockOrderByNo(tx, p.orderNo);
  if (!order) return metric('unknown_order');
  const actor = `channel:${account.channel}:${source}`;
  const facts = {
    channelTradeNo: p.channelTradeNo,
    amountFen: p.amountFen,
    mchId: p.mchId,
    appId: p.appId,
    source,
  };

  if (
    order.merchantAccountId !== account.id ||
    (p.mchId && p.mchId !== account.mchId) ||
    (p.appId && p.appId !== account.appId)
  ) {
    await raiseAlert(tx, {
      hospitalId: order.hospitalId,
      kind: 'merchant_mismatch',
      severity: 'critical',
      orderId: order.id,
      message: `支付结果的商户与订单不符：订单 ${order.orderNo}`,
      data: facts,
    });
    await recordEvent(tx, order, 'merchant_mismatch', { actor, data: facts });
    return metric('conflict');
  }

  const [payment] = await tx.select().from(payments).where(eq(payments.orderId, order.id)).for('update');

  // Flags the order CONFLICTED (from CREATED, PAYING, CLOSED or FAILED) with a critical alert.
  const flag = async (kind: string, reason: string, message: string) => {
    const moved = await transition(tx, order.id, 'conflict', { actor, reason, data: facts });
    if (moved) {
      await tx
        .update(payments)
        .set({
          status: 'CONFLICTED',
          channelTradeNo: p.channelTradeNo ?? null,
          paidAt: p.paidAt ?? null,
          updatedAt: sql`now()`,
        })
        .where(eq(payments.orderId, order.id));
    }
    await raiseAlert(tx, {
      hospitalId: order.hospitalId,
      kind,
      severity: 'critical',
      orderId: order.id,
      message,
      data: facts,
    });
    return metric('conflict');
  };

  // The cash part of an order with an insurance part: its own rules (cash.ts) whatever the order's state —
  // completes the order with the insurance part, waits for it, or is refunded when the order ended without it.
  if (p.state === 'PAID' && payment && (await hasInsurancePart(tx, order.id))) {
    if (payment.status === 'SUCCESS') {
      if (payment.channelTradeNo && p.channelTradeNo && payment.channelTradeNo !== p.channelTradeNo) {
        await raiseAlert(tx, {
          hospitalId: order.hospitalId,
          kind: 'double_payment',
          severity: 'critical',
          orderId: order.id,
          message: `订单 ${order.orderNo} 收到第二笔不同的渠道支付 ${p.channelTradeNo}`,
          data: facts,
        });
        return metric('conflict');
      }
      return metric('duplicate');
    }
    if (p.amountFen !== payment.amountFen)
      return flag(
        'amount_mismatch',
        `amount mismatch: channel ${p.amountFen} fen, cash part ${payment.amountFen} fen`,
        `医保订单 ${order.orderNo} 现金部分金额不符：渠道 ${p.amountFen} 分，订单 ${payment.amountFen} 分`,
      );
    return metric(await onCashPartPaid(deps, tx, order, p, { actor, data: facts }));
  }

  if (ALREADY_PAID.includes(order.status)) {
    if (payment?.channelTradeNo && p.channelTradeNo && payment.channelTradeNo !== p.channelTradeNo) {
      await raiseAlert(tx, {
        hospitalId: order.hospitalId,
        kind: 'double_payment',
        severity: 'critical',
        orderId: order.id,
        message: `订单 ${order.orderNo} 收到第二笔不同的渠道支付 ${p.channelTradeNo}`,
        data: facts,
      });
      return metric('conflict');
    }
    return metric('duplicate');
  }

  // What the channel was asked to collect: the order's amount, or the cash part of an insurance order.
  const expectedFen = payment?.amountFen ?? order.amountFen;
  if (p.amountFen !== expectedFen) {
    return flag(
      'amount_mismatch',
      `amount mismatch: channel ${p.amountFen} fen, order ${expectedFen} fen`,
      `订单 ${order.orderNo} 金额不符：渠道 ${p.amountFen} 分，订单 ${expectedFen} 分`,
    );
  }
  if (p.state === 'REFUNDED') {
    // Paid and already refunded outside this platform: neither a payment to apply nor one to ignore.
    return flag(
      'refunded_outside',
      'the channel reports the payment refunded outside the platform',
      `订单 ${order.orderNo} 在渠道侧已支付并已退款，未经本平台`,
    );
  }
  if (order.tradeType === 'MICROPAY' && (await reverseRequested(tx, order.id))) {
    return flag(
      'paid_during_reverse',
      'paid while a reverse was under way',
      `付款码订单 ${order.orderNo} 在撤销过程中支付成功，请核对是否已被撤销退回`,
    );
  }

  if (order.status === 'CLOSED' || order.status === 'FAILED') {
    // The patient paid after we closed the order: the money is real; flag it for refund or manual settlement.
    return flag(
      'paid_after_close',
      `success after local ${order.status.toLowerCase()}`,
      `订单 ${order.orderNo} 已关闭后收到支付成功，需退款或人工处理`,
    );
  }
  const paidAt = p.paidAt ?? deps.clock.now();
  await tx
    .update(payments)
    .set({ status: 'SUCCESS', channelTradeNo: p.channelTradeNo ?? null, paidAt, updatedAt: sql`now()` })
    .where(eq(payments.orderId, order.id));
  const paid = await completePaidOrder(deps, tx, order, { actor, data: facts, paidAt });
  return metric(paid ? 'applied' : 'duplicate');
}

/**
 * The order is paid in full (its channel payment, or its insurance settlement and its cash part): PAID, bills
 * paid, deposits and settlements told, the patient's message and the HIS push — in the caller's transaction.
 * Null when the order had already moved.
 */
export async function completePaidOrder(
  deps: Deps,
  tx: Tx,
  order: OrderRow,
  meta: { actor: string; data: Record<string, unknown>; paidAt: Date },
): Promise<OrderRow | null> {
  const paid = await transition(tx, order.id, 'paid', {
    actor: meta.actor,
    data: meta.data,
    patch: { paidAt: meta.paidAt, hisSyncStatus: 'PENDING' },
  });
  if (!paid) return null;
  await markBillsPaid(tx, order.id);
  // A deposit (押金) or a settlement's rest among the bills: recorded and announced with the payment.
  await onOrderPaid(deps, tx, paid);
  await recordMessage(deps, tx, {
    hospitalId: order.hospitalId,
    patientId: order.patientId,
    kind: 'payment_succeeded',
    title: '缴费成功',
    body: `订单 ${order.orderNo} 已支付 ${yuanText(order.amountFen)} 元。`,
    amountFen: order.amountFen,
    refs: { orderId: order.id },
  });
  await enqueueHisPush(deps, tx, paid);
  return paid;
}
