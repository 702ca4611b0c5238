import { and, count, eq, gt, sql } from 'drizzle-orm';
import { NotificationRejected, type NotificationReply } from '../../channels/types';
import { alerts, notificationInbox } from '../../db/schema';
import type { Deps } from '../../deps';
import { newId } from '../../lib/ids';
import { storableBody } from '../../lib/body';
import { applyChannelRefund } from '../refunds/service';
import { applyChannelPayment, raiseAlert, type ApplyOutcome } from './service';

/** Rejections of one account's notifications within 10 minutes that make a person look. */
const REJECTIONS_BEFORE_ALERT = 3;

/**
 * Several rejected notifications in a row usually mean keys out of step (a rotated platform key, a changed
 * APIv3 key) — every payment of the account then waits on queries. Raise one alert an hour per account.
 */
async function alertOnRepeatedRejections(deps: Deps, merchantAccountId: string, hospitalId: string) {
  const [recent] = await deps.db
    .select({ n: count() })
    .from(notificationInbox)
    .where(
      and(
        eq(notificationInbox.merchantAccountId, merchantAccountId),
        eq(notificationInbox.outcome, 'rejected'),
        gt(notificationInbox.receivedAt, sql`now() - interval '10 minutes'`),
      ),
    );
  if ((recent?.n ?? 0) < REJECTIONS_BEFORE_ALERT) return;
  const open = await deps.db
    .select({ id: alerts.id })
    .from(alerts)
    .where(
      and(
        eq(alerts.kind, 'notifications_rejected'),
        sql`${alerts.data}->>'merchantAccountId' = ${merchantAccountId}`,
        gt(alerts.createdAt, sql`now() - interval '1 hour'`),
      ),
    )
    .limit(1);
  if (open.length) return;
  await raiseAlert(deps.db, {
    hospitalId,
    kind: 'notifications_rejected',
    severity: 'critical',
    message: `商户账户 ${merchantAccountId} 10 分钟内有 ${recent!.n} 条渠道通知验签失败，请检查平台公钥与 APIv3 密钥`,
    data: { merchantAccountId },
  });
}

const KEPT_HEADERS = /^(wechatpay-|content-type|user-agent|x-forwarded-for)/i;

/**
 * Handles one inbound channel notification: keep the raw body, verify, cross-check, apply idempotently,
 * answer in the channel's own format. A rejected notification is stored (outcome `rejected`) and
 * answered with an error so the channel retries; a duplicate is acknowledged and changes nothing.
 */
export async function handleNotification(
  deps: Deps,
  channel: string,
  accountId: string,
  headers: Record<string, string | undefined>,
  rawBody: string,
): Promise<NotificationReply & { outcome: ApplyOutcome | 'rejected' }> {
  const account = await deps.channels.get(accountId).catch(() => undefined);
  if (!account || account.channel !== channel) {
    // Kept all the same: a notification for an account we do not have is worth a look.
    await deps.db.insert(notificationInbox).values({
      channel: storableBody(channel),
      notifyId: newId('rejected'),
      rawBody: storableBody(rawBody),
      headers: {},
      verified: false,
      outcome: 'rejected',
      error: storableBody(`unknown merchant account ${accountId.slice(0, 64)}`),
    });
    return {
      status: 404,
      contentType: 'application/json',
      body: JSON.stringify({ code: 'FAIL', message: 'unknown account' }),
      outcome: 'rejected',
    };
  }
  const kept: Record<string, string> = {};
  for (const [k, v] of Object.entries(headers)) if (v !== undefined && KEPT_HEADERS.test(k)) kept[k] = v;

  let parsed;
  try {
    parsed = account.adapter.parseNotification(headers, rawBody, deps.clock.now());
  } catch (e) {
    if (!(e instanceof NotificationRejected)) throw e;
    await deps.db.insert(notificationInbox).values({
      channel,
      notifyId: newId('rejected'),
      hospitalId: account.hospitalId,
      merchantAccountId: account.id,
      headers: kept,
      rawBody: storableBody(rawBody),
      verified: false,
      outcome: 'rejected',
      error: storableBody(`${e.reason}: ${e.message}`),
    });
    deps.metrics.notifications.inc({ channel, outcome: 'rejected' });
    await alertOnRepeatedRejections(deps, account.id, account.hospitalId);
    deps.log.warn({ channel, accountId, reason: e.reason }, 'notification rejected');
    return { ...account.adapter.notificationReply(false, e.message), status: 401, outcome: 'rejected' };
  }

  const outcome = await deps.db.transaction(async (tx) => {
    const inserted = await tx
      .insert(notificationInbox)
      .values({
        channel,
        notifyId: parsed.notifyId,
        hospitalId: account.hospitalId,
        merchantAccountId: account.id,
        eventType: parsed.eventType,
        outTradeNo: parsed.payment?.orderNo ?? parsed.refund?.orderNo ?? null,
        headers: kept,
        rawBody: storableBody(rawBody),
        verified: true,
        outcome: 'received',
      })
      .onConflictDoNothing()
      .returning({ id: notificationInbox.id });
    if (inserted.length === 0) return 'duplicate' as const;
    const result: ApplyOutcome = parsed.payment
      ? await applyChannelPayment(deps, account, parsed.payment, 'notification', tx)
      : parsed.refund
        ? await applyChannelRefund(deps, account, parsed.refund, 'notification', tx)
        : 'ignored';
    if (result === 'unknown_order' && (parsed.payment?.state === 'PAID' || parsed.refund)) {
      // Verified money movement for an order or refund we do not know: never just acknowledged.
      await raiseAlert(tx, {
        hospitalId: account.hospitalId,
        kind: 'unknown_order_notified',
        severity: 'critical',
        message: `渠道通知了本平台没有的${parsed.payment ? `订单 ${parsed.payment.orderNo} 的支付` : `退款 ${parsed.refund!.refundNo}`}`,
        data: { notifyId: parsed.notifyId, eventType: parsed.eventType },
      });
    }
    await tx
      .update(notificationInbox)
      .set({ outcome: result })
      .where(eq(notificationInbox.id, inserted[0]!.id));
    return result;
  });
  deps.metrics.notifications.inc({ channel, outcome });
  // Recorded and acknowledged, conflicts included: sending it again would not change the decision.
  return { ...account.adapter.notificationReply(true), outcome };
}
