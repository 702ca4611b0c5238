import type { HisPaymentResult, HisRefundResult } from '@hp/shared';
import { and, eq, sql } from 'drizzle-orm';
import {
  bills,
  hisApps,
  hisPushes,
  insuranceRefunds,
  insuranceSettlements,
  orderBills,
  orders,
  patients,
  payments,
  refunds,
} from '../../db/schema';
import type { Deps } from '../../deps';
import type { JobContext } from '../../jobs/queue';
import { raiseAlert } from '../payments/service';
import { recordEvent, transition } from '../orders/repo';

export interface HisPushJob {
  eventId: string;
}

/**
 * Outbox worker: pushes a payment result to the hospital's HIS. Success → the order is SETTLED. Failure →
 * pg-boss retries on a doubling curve; after the last retry the order is flagged as a one-sided entry
 * (单边账) with a critical alert, so finance can settle it by hand or refund it.
 */
/**
 * When the retries of a result push fall due. pg-boss (retryBackoff) waits `d·2^n·(1 + random)` seconds
 * after the n-th failure (n from 0), d = HIS_PUSH_RETRY_DELAY_SECONDS: each wait lies in [d·2^n, d·2^(n+1)].
 * With the defaults (30 s, 11 retries) the last retry falls 17–34 h after the first attempt (about a day),
 * and the push is flagged as a one-sided entry only after it.
 */
export function hisPushRetrySchedule(config: {
  hisPushRetryDelaySeconds: number;
  hisPushRetryLimit: number;
}) {
  const waits = Array.from({ length: config.hisPushRetryLimit }, (_, n) => ({
    minSeconds: config.hisPushRetryDelaySeconds * 2 ** Math.min(16, n),
    maxSeconds: config.hisPushRetryDelaySeconds * 2 ** Math.min(16, n + 1),
  }));
  return {
    waits,
    /** Earliest and latest time of the last retry, counted from the first attempt. */
    giveUpAfterSeconds: {
      min: waits.reduce((a, w) => a + w.minSeconds, 0),
      max: waits.reduce((a, w) => a + w.maxSeconds, 0),
    },
  };
}

export async function runHisPush(deps: Deps, job: JobContext<HisPushJob>): Promise<void> {
  const { db } = deps;
  const [push] = await db.select().from(hisPushes).where(eq(hisPushes.eventId, job.data.eventId));
  if (!push || push.status === 'ACKED') return;
  const [order] = await db.select().from(orders).where(eq(orders.id, push.orderId));
  if (!order) return;
  const [app] = await db
    .select()
    .from(hisApps)
    .where(and(eq(hisApps.hospitalId, order.hospitalId), eq(hisApps.enabled, true)));
  const [payment] = await db.select().from(payments).where(eq(payments.orderId, order.id));
  const [patient] = await db.select().from(patients).where(eq(patients.id, order.patientId));
  const billRows = await db
    .select({ hisBillNo: bills.hisBillNo })
    .from(orderBills)
    .innerJoin(bills, eq(bills.id, orderBills.billId))
    .where(eq(orderBills.orderId, order.id));

  const [ins] = await db
    .select()
    .from(insuranceSettlements)
    .where(eq(insuranceSettlements.orderId, order.id));
  let result: HisPaymentResult | HisRefundResult;
  if (push.kind === 'insurance_refund') {
    const [r] = await db
      .select()
      .from(insuranceRefunds)
      .where(eq(insuranceRefunds.id, push.refundId ?? ''));
    if (!r) return;
    result = {
      eventId: push.eventId,
      kind: 'refund',
      orderNo: order.orderNo,
      refundNo: r.refundNo,
      hisRefundNo: r.hisRefundNo,
      hisBillNos: billRows.map((b) => b.hisBillNo),
      patientId: patient?.hisPatientId ?? '',
      amountFen: r.fundFen + r.psnAcctFen + r.otherFen,
      refundedTotalFen: order.refundedFen,
      channel: ins?.settleChannel ?? 'nhsa',
      method: 'CHANNEL',
      channelRefundId: r.platformRefundId ?? '',
      refundedAt: (r.succeededAt ?? r.updatedAt).toISOString(),
      insurance: { fundFen: r.fundFen, psnAcctFen: r.psnAcctFen, otherFen: r.otherFen, cashFen: 0 },
    };
  } else if (push.kind === 'refund') {
    const [refund] = await db
      .select()
      .from(refunds)
      .where(eq(refunds.id, push.refundId ?? ''));
    if (!refund) return;
    result = {
      eventId: push.eventId,
      kind: 'refund',
      orderNo: order.orderNo,
      refundNo: refund.refundNo,
      hisRefundNo: refund.hisRefundNo,
      hisBillNos: billRows.map((b) => b.hisBillNo),
      patientId: patient?.hisPatientId ?? '',
      amountFen: refund.amountFen,
      refundedTotalFen: order.refundedFen,
      channel: order.channel,
      method: refund.method === 'CASH' ? 'CASH' : 'CHANNEL',
      channelRefundId: refund.channelRefundId ?? '',
      refundedAt: (refund.succeededAt ?? refund.updatedAt).toISOString(),
    };
  } else {
    result = {
      eventId: push.eventId,
      kind: 'payment',
      orderNo: order.orderNo,
      hisBillNos: billRows.map((b) => b.hisBillNo),
      patientId: patient?.hisPatientId ?? '',
      amountFen: order.amountFen,
      channel: order.channel,
      channelTradeNo: payment?.channelTradeNo ?? '',
      paidAt: (order.paidAt ?? order.updatedAt).toISOString(),
      ...(ins
        ? {
            insurance: {
              totalFen: ins.totalFen,
              fundFen: ins.fundFen,
              psnAcctFen: ins.psnAcctFen,
              otherFen: ins.otherFen,
              cashFen: ins.cashFen,
              payOrdId: ins.payOrdId ?? '',
              settlementId: ins.settlementId ?? '',
              settleChannel: ins.settleChannel,
            },
          }
        : {}),
    };
  }

  try {
    if (!app?.callbackBaseUrl)
      throw new Error('the hospital has no HIS endpoint configured for result pushes');
    await deps.his.pushResult(
      {
        hospitalId: order.hospitalId,
        appId: app.appId,
        secret: deps.secrets.open(app.secretEnc),
        baseUrl: app.callbackBaseUrl,
      },
      result,
    );
  } catch (e) {
    const message = (e as Error).message.slice(0, 500);
    const final = job.retryCount >= job.retryLimit;
    await db.transaction(async (tx) => {
      await tx
        .update(hisPushes)
        .set({
          attempts: sql`${hisPushes.attempts} + 1`,
          lastError: message,
          status: final ? 'FAILED' : 'RETRYING',
          updatedAt: sql`now()`,
        })
        .where(eq(hisPushes.eventId, push.eventId));
      if (!final) return;
      if (push.kind === 'refund' || push.kind === 'insurance_refund') {
        // The refund itself is done at the channel; only the HIS does not know. Not a one-sided payment.
        await raiseAlert(tx, {
          hospitalId: order.hospitalId,
          kind: 'his_refund_push_failed',
          severity: 'critical',
          orderId: order.id,
          message: `退款结果未能送达 HIS：订单 ${order.orderNo}（${message}）`,
          data: { eventId: push.eventId, refundId: push.refundId },
        });
        return;
      }
      const [flagged] = await tx
        .update(orders)
        .set({ oneSided: true, hisSyncStatus: 'FAILED', updatedAt: sql`now()` })
        .where(eq(orders.id, order.id))
        .returning();
      await recordEvent(tx, flagged!, 'his_push_failed', {
        actor: 'job:his-push',
        reason: message,
        data: { eventId: push.eventId, attempts: push.attempts + 1 },
      });
      await raiseAlert(tx, {
        hospitalId: order.hospitalId,
        kind: 'one_sided_entry',
        severity: 'critical',
        orderId: order.id,
        message: `单边账：订单 ${order.orderNo} 已支付 ${order.amountFen} 分，HIS 未确认（${message}）`,
        data: { eventId: push.eventId },
      });
    });
    deps.metrics.hisPushes.inc({ outcome: final ? 'failed' : 'retry' });
    if (!final) throw e; // pg-boss retries with backoff
    return;
  }

  await db.transaction(async (tx) => {
    await tx
      .update(hisPushes)
      .set({
        status: 'ACKED',
        attempts: sql`${hisPushes.attempts} + 1`,
        lastError: null,
        ackedAt: deps.clock.now(),
        updatedAt: sql`now()`,
      })
      .where(eq(hisPushes.eventId, push.eventId));
    if (push.kind !== 'payment') return;
    // The HIS has the payment. The order may already have moved on (a refund started): the sync flag is
    // recorded either way, the SETTLED transition only from PAID.
    await tx
      .update(orders)
      .set({ hisSyncStatus: 'ACKED', oneSided: false, settledAt: deps.clock.now(), updatedAt: sql`now()` })
      .where(eq(orders.id, order.id));
    await transition(tx, order.id, 'settled', { actor: 'job:his-push', data: { eventId: push.eventId } });
  });
  deps.metrics.hisPushes.inc({ outcome: 'acked' });
}
