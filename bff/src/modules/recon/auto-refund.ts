import { and, eq, isNull, sql } from 'drizzle-orm';
import { adminAuditLogs } from '../../db/schema';
import { reconItems } from '../../db/schema-recon';
import type { Deps } from '../../deps';
import type { Tx } from '../../db/client';
import { raiseAlert } from '../payments/service';
import { requestRefund } from '../refunds/service';
import { reconSettingsOf } from './settings';

/** Who the automatic policy acts as, in refunds (`requestedBy`), items (`resolvedBy`) and the audit log. */
export const SYSTEM_ACTOR = 'system';

/** The resolution of a difference the policy refunded. */
export const AUTO_REFUNDED = 'auto_refunded';
/** Claimed by a run of the policy, refund under way (left behind only if that run died). */
const AUTO_REFUND_CLAIMED = 'auto_refund_pending';
/** A refund the policy tried that did not succeed: the difference stays OPEN for a person and is never tried again. */
export const AUTO_REFUND_FAILED = 'auto_refund_failed';

/** Most differences refunded by one run (the rest wait for the next). */
const BATCH = 200;

export interface AutoRefundOutcome {
  /** Items refunded: id, order number, refund number. */
  refunded: { itemId: number; orderNo: string; refundNo: string }[];
  /** Items whose refund was refused or failed (an alert says why); they stay OPEN for a person. */
  failed: { itemId: number; orderNo: string; reason: string }[];
}

/**
 * The optional policy `reconAutoRefund` (hospitals.settings, off by default): a payment we and the channel
 * hold that never reached the HIS is given back to the patient. Candidates are differences that are
 *
 * - `his_missing` payments past the holding period (status OPEN, nobody has acted on them),
 * - confirmed by the channel (the statement's amount equals ours),
 * - whose result push the HIS never acknowledged (order `his_sync_status` is not ACKED) and that no HIS
 *   ledger lists on any day, and whose order is still refundable.
 *
 * Each is refunded in full through the ordinary refund service (channel call, notification, HIS push of the
 * refund), then resolved as `auto_refunded` by `system`, audited. A refund the channel refuses leaves the
 * difference OPEN with an alert.
 */
export async function applyAutoRefundPolicy(deps: Deps, hospitalId: string): Promise<AutoRefundOutcome> {
  const out: AutoRefundOutcome = { refunded: [], failed: [] };
  const settings = await reconSettingsOf(deps.db, hospitalId);
  if (!settings.autoRefund) return out;
  const candidates = (
    (await deps.db.execute(sql`
      SELECT i.id, i.order_no, i.business_date, i.platform_fen
      FROM recon_items i JOIN orders o ON o.id = i.order_id
      WHERE i.hospital_id = ${hospitalId} AND i.status = 'OPEN' AND i.resolution IS NULL
        AND i.outcome = 'his_missing' AND i.kind = 'PAYMENT'
        AND i.channel_fen IS NOT NULL AND i.channel_fen = i.platform_fen
        AND o.his_sync_status <> 'ACKED' AND o.status IN ('PAID', 'SETTLED', 'PARTIALLY_REFUNDED')
        AND NOT EXISTS (SELECT 1 FROM his_ledger_lines l
                        WHERE l.order_no = i.key_no AND l.kind = 'PAYMENT' AND l.hospital_id = i.hospital_id)
      ORDER BY i.id
      LIMIT ${BATCH}
    `)) as unknown as {
      rows: { id: number | string; order_no: string; business_date: string; platform_fen: number | string }[];
    }
  ).rows;
  for (const c of candidates) {
    const itemId = Number(c.id);
    // Claim it, so that two runs never refund the same difference.
    const [claimed] = await deps.db
      .update(reconItems)
      .set({ resolution: AUTO_REFUND_CLAIMED, updatedAt: new Date() })
      .where(and(eq(reconItems.id, itemId), eq(reconItems.status, 'OPEN'), isNull(reconItems.resolution)))
      .returning({ id: reconItems.id });
    if (!claimed) continue;
    const reason = `对账自动退款：HIS 未收到该笔支付（${c.business_date} 差异 #${itemId}）`;
    let failure: string | undefined;
    try {
      const refund = await requestRefund(deps, {
        hospitalId,
        orderNo: c.order_no,
        reason,
        requestedBy: SYSTEM_ACTOR,
      });
      if (refund.status === 'FAILED' || refund.status === 'ABNORMAL') {
        failure = `refund ${refund.refundNo} ${refund.status.toLowerCase()}`;
      } else {
        try {
          await deps.db.transaction(async (tx) => {
            const [resolved] = await tx
              .update(reconItems)
              .set({
                status: 'RESOLVED',
                resolution: AUTO_REFUNDED,
                resolvedBy: SYSTEM_ACTOR,
                resolvedAt: new Date(),
                note: `${reason}（退款单 ${refund.refundNo}）`,
                updatedAt: new Date(),
              })
              .where(and(eq(reconItems.id, itemId), eq(reconItems.resolution, AUTO_REFUND_CLAIMED)))
              .returning({ id: reconItems.id });
            if (!resolved) throw new Error(`difference #${itemId} changed while it was being refunded`);
            await auditSystem(tx, {
              action: 'recon.auto_refund',
              targetId: String(itemId),
              before: { status: 'OPEN', outcome: 'his_missing' },
              after: {
                status: 'RESOLVED',
                resolution: AUTO_REFUNDED,
                orderNo: c.order_no,
                refundNo: refund.refundNo,
                amountFen: refund.amountFen,
              },
            });
          });
        } catch (e) {
          // The money went back; only the bookkeeping failed. The claim stays, so no run refunds it again.
          await raiseAlert(deps.db, {
            hospitalId,
            kind: 'recon_auto_refund_failed',
            severity: 'critical',
            message: `对账自动退款已发起（退款单 ${refund.refundNo}），但差异 #${itemId} 未能标记为已处理：${(e as Error).message}`,
            data: { itemId, orderNo: c.order_no, refundNo: refund.refundNo },
          });
        }
        out.refunded.push({ itemId, orderNo: c.order_no, refundNo: refund.refundNo });
        continue;
      }
    } catch (e) {
      failure = (e as Error).message;
    }
    // Refused or failed: never tried again by the policy (a refund may still land, or be settled by hand at
    // the channel — a second automatic refund could pay the patient twice). A person takes it from here.
    await deps.db
      .update(reconItems)
      .set({
        resolution: AUTO_REFUND_FAILED,
        note: `自动退款失败：${failure ?? 'unknown'}`,
        updatedAt: new Date(),
      })
      .where(and(eq(reconItems.id, itemId), eq(reconItems.resolution, AUTO_REFUND_CLAIMED)));
    out.failed.push({ itemId, orderNo: c.order_no, reason: failure ?? 'unknown' });
    await raiseAlert(deps.db, {
      hospitalId,
      kind: 'recon_auto_refund_failed',
      severity: 'critical',
      message: `对账自动退款失败：订单 ${c.order_no}（${failure}），请在对账差异中处理`,
      data: { itemId, orderNo: c.order_no },
    });
  }
  return out;
}

/** An audit row written by the platform itself (no admin user behind it). */
async function auditSystem(
  tx: Tx,
  e: { action: string; targetId: string; before?: unknown; after?: unknown },
): Promise<void> {
  await tx.insert(adminAuditLogs).values({
    userId: SYSTEM_ACTOR,
    username: SYSTEM_ACTOR,
    action: e.action,
    targetType: 'recon_item',
    targetId: e.targetId,
    before: e.before ?? null,
    after: e.after ?? null,
  });
}
