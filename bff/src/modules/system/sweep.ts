import { sql } from 'drizzle-orm';
import type { Deps } from '../../deps';
import { QUEUES } from '../../jobs/queue';
import { raiseAlert } from '../payments/service';
import { enqueueSettlementRefunds } from '../inpatient/events';
import { purgeExpiredAuthorizations } from '../insurance/repo';

/** What one sweep did. */
export interface SweepResult {
  paymentQueries: number;
  refundQueries: number;
  hisPushes: number;
  alerts: number;
}

const LIVE = `('created', 'retry', 'active')`;

/**
 * The safety net under every job chain, run on a schedule (once per tick across all processes). It asks the
 * job table itself: each payment still PAYING, each refund in flight and each HIS push not yet final must
 * have a live job; where the chain died (a worker killed on its last try, retries spent during a database
 * outage) a new job is started. A chain that is alive is left alone, so chains never multiply. Payments
 * still unresolved long after their expiry raise an alert once, so a channel that keeps failing (a rotated
 * platform key, say) is seen by a person.
 */
export async function sweep(deps: Deps): Promise<SweepResult> {
  const { db, jobs, config } = deps;
  const rows = async <T>(q: ReturnType<typeof sql>) =>
    ((await db.execute(q)) as unknown as { rows: T[] }).rows;

  const orphanOrders = await rows<{ id: string }>(sql`
    SELECT o.id FROM orders o
    WHERE o.created_at < now() - interval '2 minutes'
      AND EXISTS (SELECT 1 FROM payments p WHERE p.order_id = o.id AND p.status = 'PENDING')
      AND (o.status IN ('CREATED', 'PAYING')
        -- an ended insurance order whose cash part is still open at the channel
        OR EXISTS (SELECT 1 FROM insurance_settlements s WHERE s.order_id = o.id))
      AND NOT EXISTS (SELECT 1 FROM pgboss.job j WHERE j.name = ${QUEUES.paymentQuery} AND j.state IN ${sql.raw(LIVE)} AND j.data->>'orderId' = o.id)
    LIMIT 500`);
  for (const o of orphanOrders) await jobs.send(QUEUES.paymentQuery, { orderId: o.id, attempt: 100 });

  const orphanRefunds = await rows<{ id: string }>(sql`
    SELECT r.id FROM refunds r
    WHERE r.status IN ('PENDING', 'PROCESSING') AND r.created_at < now() - interval '2 minutes'
      AND NOT EXISTS (SELECT 1 FROM pgboss.job j WHERE j.name = ${QUEUES.refundQuery} AND j.state IN ${sql.raw(LIVE)} AND j.data->>'refundId' = r.id)
    LIMIT 500`);
  for (const r of orphanRefunds) await jobs.send(QUEUES.refundQuery, { refundId: r.id, attempt: 100 });

  // Insurance: settlements not yet final, insurance refunds not carried out, repair refunds not yet asked for.
  const orphanSettlements = await rows<{ order_id: string }>(sql`
    SELECT s.order_id FROM insurance_settlements s
    WHERE s.status IN ('QUOTING', 'QUOTED', 'SETTLING', 'CLOSING') AND s.created_at < now() - interval '2 minutes'
      AND NOT EXISTS (SELECT 1 FROM pgboss.job j WHERE j.name = ${QUEUES.insuranceSync} AND j.state IN ${sql.raw(LIVE)} AND j.data->>'orderId' = s.order_id)
    LIMIT 500`);
  for (const o of orphanSettlements)
    await jobs.send(QUEUES.insuranceSync, { orderId: o.order_id, attempt: 7 });
  const orphanInsuranceRefunds = await rows<{ id: string }>(sql`
    SELECT r.id FROM insurance_refunds r
    WHERE (r.status = 'PENDING' OR (r.status = 'SUCCESS' AND r.kind = 'ALL' AND r.cash_fen > 0 AND r.cash_refund_id IS NULL))
      AND r.created_at < now() - interval '2 minutes'
      AND NOT EXISTS (SELECT 1 FROM pgboss.job j WHERE j.name = ${QUEUES.insuranceRefund} AND j.state IN ${sql.raw(LIVE)} AND j.data->>'refundId' = r.id)
    LIMIT 500`);
  for (const r of orphanInsuranceRefunds)
    await jobs.send(QUEUES.insuranceRefund, { refundId: r.id, attempt: 6 });

  // Inpatient settlements still owing refunds whose driver chain died (not those a person was already asked
  // to finish: the driver stops at its cap and alerts).
  const stalledStays = await rows<{ id: string }>(sql`
    SELECT s.id FROM inpatient_settlements s
    WHERE s.status = 'SETTLING' AND s.refund_fen > 0 AND s.updated_at < now() - interval '2 minutes'
      AND NOT EXISTS (SELECT 1 FROM pgboss.job j WHERE j.name = ${QUEUES.settlementRefunds} AND j.state IN ${sql.raw(LIVE)} AND j.data->>'settlementId' = s.id)
      AND NOT EXISTS (SELECT 1 FROM alerts a WHERE a.kind IN ('settlement_refund_failed', 'settlement_refund_stuck') AND a.data->>'settlementId' = s.id)
    LIMIT 200`);
  for (const st of stalledStays) await enqueueSettlementRefunds(deps, undefined, st.id);

  await purgeExpiredAuthorizations(deps);

  const orphanPushes = await rows<{ event_id: string; attempts: number }>(sql`
    SELECT p.event_id, p.attempts FROM his_pushes p
    WHERE p.status IN ('PENDING', 'RETRYING') AND p.created_at < now() - interval '2 minutes'
      AND NOT EXISTS (SELECT 1 FROM pgboss.job j WHERE j.name = ${QUEUES.hisPush} AND j.state IN ${sql.raw(LIVE)} AND j.data->>'eventId' = p.event_id)
    LIMIT 500`);
  for (const p of orphanPushes) {
    // The retries left: the push still ends flagged (one-sided entry) if the HIS never answers.
    await jobs.send(
      QUEUES.hisPush,
      { eventId: p.event_id },
      {
        retryLimit: Math.max(0, config.hisPushRetryLimit - p.attempts),
        retryDelaySeconds: config.hisPushRetryDelaySeconds,
        retryBackoff: true,
      },
    );
  }

  const unresolved = await rows<{ id: string; hospital_id: string; order_no: string }>(sql`
    SELECT o.id, o.hospital_id, o.order_no FROM orders o
    WHERE o.status IN ('CREATED', 'PAYING') AND o.expires_at < now() - interval '30 minutes'
      AND NOT EXISTS (SELECT 1 FROM alerts a WHERE a.order_id = o.id AND a.kind = 'payment_unresolved')
    LIMIT 100`);
  for (const o of unresolved) {
    await db.transaction((tx) =>
      raiseAlert(tx, {
        hospitalId: o.hospital_id,
        kind: 'payment_unresolved',
        severity: 'critical',
        orderId: o.id,
        message: `订单 ${o.order_no} 过期 30 分钟后仍无法确认支付结果（渠道查询或关单持续失败）`,
      }),
    );
  }
  // Real-time one-sided entries: paid here, the HIS has not acknowledged within the configured minutes.
  const unacked = await rows<{ id: string; hospital_id: string; order_no: string; amount_fen: string }>(sql`
    SELECT o.id, o.hospital_id, o.order_no, o.amount_fen FROM orders o
    WHERE o.status = 'PAID' AND o.his_sync_status <> 'ACKED'
      AND o.paid_at < now() - make_interval(mins => ${config.hisAckAlertMinutes})
      AND NOT EXISTS (SELECT 1 FROM alerts a WHERE a.order_id = o.id AND a.kind = 'his_ack_overdue')
    LIMIT 100`);
  for (const o of unacked) {
    await db.transaction((tx) =>
      raiseAlert(tx, {
        hospitalId: o.hospital_id,
        kind: 'his_ack_overdue',
        severity: 'warning',
        orderId: o.id,
        message: `订单 ${o.order_no} 已支付 ${Number(o.amount_fen)} 分，HIS ${config.hisAckAlertMinutes} 分钟内未确认（疑似单边账，推送仍在重试）`,
      }),
    );
  }
  return {
    paymentQueries: orphanOrders.length,
    refundQueries: orphanRefunds.length,
    hisPushes: orphanPushes.length,
    alerts: unresolved.length + unacked.length,
  };
}
