import type Router from '@koa/router';
import { InsuranceQuoteRequestSchema, type InsuranceQuoteRequest } from '@hp/shared';
import { and, eq } from 'drizzle-orm';
import type { Middleware } from 'koa';
import { z } from 'zod';
import type { ResolvedInsurance } from '../../channels/registry';
import { NotificationRejected, type NotificationReply } from '../../channels/types';
import { notificationInbox } from '../../db/schema';
import type { Deps } from '../../deps';
import { newId } from '../../lib/ids';
import { storableBody } from '../../lib/body';
import { validate } from '../../lib/validate';
import {
  applySettlement,
  cancelQuote,
  completeAuthorization,
  createQuote,
  insuranceBalance,
  insuranceOrderView,
  insuranceStatus,
  payQuote,
  returnFromSheet,
  startAuthorization,
} from './service';

export const InsuranceAuthorizeRequestSchema = z
  .object({
    returnUrl: z.url().max(500).describe('the H5 page the platform returns to, with ?authCode=…&state=…'),
  })
  .strict();

export const InsuranceAuthorizeCompleteSchema = z
  .object({
    authCode: z.string().min(1).max(128).describe('what the authorisation page returned'),
  })
  .strict();

/** The patient API of medical insurance (医保), mounted on the patient router (`/api`). */
export function insurancePatientRoutes(r: Router, deps: Deps, auth: Middleware): void {
  r.get('/insurance/status', auth, async (ctx) => {
    ctx.body = await insuranceStatus(deps, ctx.state.patient!);
  });
  r.post('/insurance/authorize', auth, validate(InsuranceAuthorizeRequestSchema), async (ctx) => {
    ctx.body = await startAuthorization(deps, ctx.state.patient!, ctx.input as { returnUrl: string });
  });
  r.post('/insurance/authorize/complete', auth, validate(InsuranceAuthorizeCompleteSchema), async (ctx) => {
    ctx.body = await completeAuthorization(deps, ctx.state.patient!, ctx.input as { authCode: string });
  });
  r.get('/insurance/balance', auth, async (ctx) => {
    ctx.body = await insuranceBalance(deps, ctx.state.patient!);
  });
  r.post('/insurance/quotes', auth, validate(InsuranceQuoteRequestSchema), async (ctx) => {
    ctx.status = 201;
    ctx.body = await createQuote(deps, ctx.state.patient!, ctx.input as InsuranceQuoteRequest);
  });
  r.get('/insurance/orders/:id', auth, async (ctx) => {
    ctx.body = await insuranceOrderView(deps, ctx.state.patient!, ctx.params.id!);
  });
  r.post('/insurance/orders/:id/pay', auth, async (ctx) => {
    ctx.body = await payQuote(deps, ctx.state.patient!, ctx.params.id!);
  });
  r.post('/insurance/orders/:id/return', auth, async (ctx) => {
    ctx.body = await returnFromSheet(deps, ctx.state.patient!, ctx.params.id!);
  });
  r.post('/insurance/orders/:id/cancel', auth, async (ctx) => {
    ctx.body = await cancelQuote(deps, ctx.state.patient!, ctx.params.id!);
  });
}

/**
 * An insurance notification (6302 from the national platform, MEDICAL_INSURANCE.SUCCESS from WeChat): raw body
 * kept, verified, stored by the party's notification id, applied idempotently, answered in the party's format.
 * A notification whose application failed is applied again when it is repeated.
 */
export async function handleInsuranceNotification(
  deps: Deps,
  accountId: string,
  headers: Record<string, string | undefined>,
  rawBody: string,
): Promise<NotificationReply & { outcome: string }> {
  let account: ResolvedInsurance;
  try {
    account = await deps.channels.insurance(accountId);
  } catch {
    await deps.db.insert(notificationInbox).values({
      channel: 'insurance',
      notifyId: newId('rejected'),
      rawBody: storableBody(rawBody),
      outcome: 'rejected',
      error: storableBody(`unknown insurance account ${accountId.slice(0, 64)}`),
    });
    return {
      status: 404,
      contentType: 'application/json',
      body: '{"code":-1,"message":"unknown account"}',
      outcome: 'rejected',
    };
  }
  let parsed;
  try {
    parsed = account.settler.parseNotification(headers, rawBody, deps.clock.now());
  } catch (e) {
    if (!(e instanceof NotificationRejected)) throw e;
    await deps.db.insert(notificationInbox).values({
      channel: account.channel,
      notifyId: newId('rejected'),
      hospitalId: account.hospitalId,
      merchantAccountId: account.id,
      rawBody: storableBody(rawBody),
      outcome: 'rejected',
      error: storableBody(`${e.reason}: ${e.message}`),
    });
    deps.log.warn(
      { channel: account.channel, accountId, reason: e.reason },
      'insurance notification rejected',
    );
    return { ...account.settler.notificationReply(false, e.message), status: 401, outcome: 'rejected' };
  }
  const inserted = await deps.db
    .insert(notificationInbox)
    .values({
      channel: account.channel,
      notifyId: parsed.notifyId,
      hospitalId: account.hospitalId,
      merchantAccountId: account.id,
      eventType: parsed.eventType,
      outTradeNo: parsed.settlement.orderNo,
      rawBody: storableBody(rawBody),
      verified: true,
      outcome: 'received',
    })
    .onConflictDoNothing()
    .returning({ id: notificationInbox.id });
  let inboxId = inserted[0]?.id;
  if (!inboxId) {
    const [seen] = await deps.db
      .select({ id: notificationInbox.id, outcome: notificationInbox.outcome })
      .from(notificationInbox)
      .where(
        and(eq(notificationInbox.channel, account.channel), eq(notificationInbox.notifyId, parsed.notifyId)),
      );
    if (seen && seen.outcome !== 'received' && seen.outcome !== 'error')
      return { ...account.settler.notificationReply(true), outcome: 'duplicate' };
    inboxId = seen?.id;
  }
  let outcome: string;
  try {
    outcome = await applySettlement(deps, account, parsed.settlement, 'notification');
  } catch (e) {
    if (inboxId)
      await deps.db
        .update(notificationInbox)
        .set({ outcome: 'error' })
        .where(eq(notificationInbox.id, inboxId));
    throw e;
  }
  if (inboxId)
    await deps.db.update(notificationInbox).set({ outcome }).where(eq(notificationInbox.id, inboxId));
  return { ...account.settler.notificationReply(true), outcome };
}
