import Router from '@koa/router';
import type { Context } from 'koa';
import {
  OpenRefundRequestSchema,
  OpenCodePaymentRequestSchema,
  type OpenCodePaymentRequest,
  type OpenRefundRequest,
  CreateOrderRequestSchema,
  PushBillsRequestSchema,
  type CreateOrderRequest,
  type PushBillsRequest,
  BindCardRequestSchema,
  type BindCardRequest,
  SlipSessionRequestSchema,
  type SlipSessionRequest,
  WechatLoginRequestSchema,
  type WechatLoginRequest,
} from '@hp/shared';
import { and, eq } from 'drizzle-orm';
import { z } from 'zod';
import { hospitals, patients } from '../db/schema';
import type { Deps } from '../deps';
import { readRawBody } from '../lib/body';
import { AppError, notFound } from '../lib/errors';
import { isBusinessDate } from '../modules/recon/dates';
import { HisLedgerPushSchema, recordHisLedger } from '../modules/recon/intake';
import { platformReconFile } from '../modules/recon/platform-file';
import { validate } from '../lib/validate';
import { billStatusForHis, cancelBill, pushBills } from '../modules/bills/service';
import { billDetailForPatient, listBillsForPatient } from '../modules/bills/pull';
import { invoiceFileForPatient, listInvoicesForPatient } from '../modules/invoices/service';
import { bindCard, ensureAccount, listCards, unbindCard } from '../modules/patients/service';
import { issueSession, loginOptions, slipSession, switchCard, wechatLogin } from '../modules/patients/login';
import { qrPng, slipKey, slipQr, slipView } from '../modules/bills/slip';
import {
  createCodePayment,
  channelsForPatient,
  createOrder,
  getOrderForHis,
  getOrderForPatient,
  listOrdersForPatient,
  qrContentForPatient,
} from '../modules/orders/service';
import { handleNotification } from '../modules/payments/notify';
import { onBillStored } from '../modules/credit/service';
import { creditPatientRoutes } from '../modules/credit/routes';
import { handleInsuranceNotification, insurancePatientRoutes } from '../modules/insurance/routes';
import { findInsuranceRefundForHis, requestInsuranceRefund } from '../modules/insurance/refunds';
import { orderHasInsurancePart } from '../modules/insurance/service';
import { inpatientOpenRoutes, inpatientPatientRoutes } from '../modules/inpatient/routes';
import { getRefundForHis, requestRefund } from '../modules/refunds/service';
import { requireOpenApiSignature } from './auth-open-api';
import { idempotent } from './idempotency';
import { requirePatient, requireSession } from './auth-patient';

/** Health, readiness and metrics. */
export function systemRoutes(
  deps: Deps,
  pingDatabase: () => Promise<void>,
  isShuttingDown: () => boolean,
): Router {
  const r = new Router();
  r.get('/healthz', (ctx) => {
    ctx.body = { status: 'ok' };
  });
  r.get('/readyz', async (ctx) => {
    const checks: Record<string, string> = {};
    const timeout = <T>(p: Promise<T>) =>
      Promise.race([p, new Promise<T>((_, rej) => setTimeout(() => rej(new Error('timeout')), 2000))]);
    await timeout(pingDatabase()).then(
      () => (checks.database = 'ok'),
      (e: Error) => (checks.database = `down: ${e.message}`),
    );
    await timeout(deps.jobs.ping()).then(
      () => (checks.jobs = 'ok'),
      (e: Error) => (checks.jobs = `down: ${e.message}`),
    );
    if (isShuttingDown()) checks.process = 'shutting down';
    const ready = Object.values(checks).every((v) => v === 'ok');
    ctx.status = ready ? 200 : 503;
    ctx.body = { status: ready ? 'ready' : 'not_ready', checks };
  });
  r.get('/metrics', async (ctx) => {
    await Promise.all(
      ['payment-query', 'refund-query', 'his-push'].map(async (q) => {
        const n = await deps.jobs.queueSize(q as never).catch(() => -1);
        deps.metrics.jobsQueued.set({ queue: q }, n);
      }),
    );
    ctx.type = deps.metrics.registry.contentType;
    ctx.body = await deps.metrics.registry.metrics();
  });
  return r;
}

/** `POST /open/v1/bills/:hisBillNo/cancel` (also read by the OpenAPI document, http/openapi.ts). */
export const CancelBillSchema = z.object({ reason: z.string().trim().min(1).max(200) }).strict();

/** The open API the HIS calls (signed). */
export function openApiRoutes(deps: Deps, patientJwtSecret: string): Router {
  const slip = slipKey(patientJwtSecret);
  const r = new Router({ prefix: '/open/v1' });
  r.use(requireOpenApiSignature(deps));
  r.post('/bills', validate(PushBillsRequestSchema), async (ctx) => {
    ctx.body = await pushBills(
      deps.db,
      ctx.state.hisApp!.hospitalId,
      (ctx.input as PushBillsRequest).bills,
      (tx, bill) => onBillStored(deps, tx, bill),
    );
  });
  r.get('/bills/:hisBillNo', async (ctx) => {
    ctx.body = await billStatusForHis(deps.db, ctx.state.hisApp!.hospitalId, ctx.params.hisBillNo!);
  });
  r.post('/bills/:hisBillNo/cancel', validate(CancelBillSchema), async (ctx) => {
    ctx.body = await cancelBill(deps.db, ctx.state.hisApp!.hospitalId, ctx.params.hisBillNo!);
  });
  const qr = async (ctx: Context, target: { hisBillNo: string } | { visitNo: string }) => {
    const out = await slipQr(deps, slip, ctx.state.hisApp!.hospitalId, target);
    if (ctx.query.format === 'png') {
      ctx.type = 'image/png';
      ctx.set('Cache-Control', 'no-store');
      ctx.body = await qrPng(out.url);
    } else {
      ctx.body = out;
    }
  };
  r.get('/bills/:hisBillNo/qr', (ctx) => qr(ctx, { hisBillNo: ctx.params.hisBillNo! }));
  r.get('/visits/:visitNo/qr', (ctx) => qr(ctx, { visitNo: ctx.params.visitNo! }));
  r.post(
    '/code-payments',
    idempotent(deps, (ctx) => `his:${ctx.state.hisApp!.appId}`),
    validate(OpenCodePaymentRequestSchema),
    async (ctx) => {
      ctx.status = 201;
      ctx.body = await createCodePayment(
        deps,
        ctx.state.hisApp!.hospitalId,
        ctx.input as OpenCodePaymentRequest,
      );
    },
  );
  r.get('/orders/:orderNo', async (ctx) => {
    ctx.body = await getOrderForHis(deps, ctx.state.hisApp!.hospitalId, ctx.params.orderNo!);
  });
  r.post(
    '/refunds',
    idempotent(deps, (ctx) => `his:${ctx.state.hisApp!.appId}`),
    validate(OpenRefundRequestSchema),
    async (ctx) => {
      const { part, ...input } = ctx.input as OpenRefundRequest;
      const app = ctx.state.hisApp!;
      const req = { ...input, hospitalId: app.hospitalId, requestedBy: `his:${app.appId}` };
      // An order with an insurance part is refunded by part (ALL by default); any other order as before.
      ctx.body = (await orderHasInsurancePart(deps, app.hospitalId, input.orderNo))
        ? await requestInsuranceRefund(deps, { ...req, part: part ?? 'ALL' })
        : await requestRefund(deps, req);
    },
  );
  r.get('/refunds/:hisRefundNo', async (ctx) => {
    const hospitalId = ctx.state.hisApp!.hospitalId;
    ctx.body =
      (await findInsuranceRefundForHis(deps, hospitalId, ctx.params.hisRefundNo!)) ??
      (await getRefundForHis(deps, hospitalId, ctx.params.hisRefundNo!));
  });
  r.put('/ledgers/:date', validate(HisLedgerPushSchema), async (ctx) => {
    const date = ctx.params.date!;
    if (!isBusinessDate(date)) throw new AppError('bad_request', 'the date in the path must be YYYY-MM-DD');
    ctx.body = await recordHisLedger(deps, {
      hospitalId: ctx.state.hisApp!.hospitalId,
      date,
      source: 'PUSH',
      lines: (ctx.input as z.infer<typeof HisLedgerPushSchema>).lines,
    });
  });
  // Inpatient stays: admission, deposits, discharge settlement and its reversal.
  inpatientOpenRoutes(r, deps);
  r.get('/recon/:date/file', async (ctx) => {
    ctx.type = 'text/csv; charset=utf-8';
    ctx.set('Content-Disposition', `attachment; filename="recon-${ctx.params.date}.csv"`);
    ctx.body = await platformReconFile(deps.db, ctx.state.hisApp!.hospitalId, ctx.params.date!);
  });
  return r;
}

/** `POST /api/patient/sandbox-login` (also read by the OpenAPI document, http/openapi.ts). */
export const SandboxLoginSchema = z
  .object({ hospitalCode: z.string().min(1).max(32), hisPatientId: z.string().min(1).max(64) })
  .strict();

/** `GET /api/patient/orders` (also read by the OpenAPI document, http/openapi.ts). */
export const OrderHistoryQuerySchema = z.object({
  cursor: z.string().max(200).optional().describe('`nextCursor` of the previous page'),
  limit: z.coerce.number().int().min(1).max(50).optional().describe('orders per page, 20 by default'),
});

/** The patient API (the Taro client's backend). */
export function patientRoutes(deps: Deps, jwtSecret: string): Router {
  const r = new Router({ prefix: '/api' });
  const auth = requirePatient(jwtSecret);
  const session = requireSession(jwtSecret);
  if (deps.config.sandbox) {
    // Demo and tests only: log in as a seeded patient.
    r.post('/patient/sandbox-login', validate(SandboxLoginSchema), async (ctx) => {
      const input = ctx.input as z.infer<typeof SandboxLoginSchema>;
      const [row] = await deps.db
        .select({ id: patients.id, hospitalId: patients.hospitalId, name: patients.name })
        .from(patients)
        .innerJoin(hospitals, eq(hospitals.id, patients.hospitalId))
        .where(and(eq(hospitals.code, input.hospitalCode), eq(patients.hisPatientId, input.hisPatientId)));
      if (!row) throw notFound('patient');
      // One account per sandbox patient; it can bind family members' cards (POST /api/patient/cards).
      const accountId = await ensureAccount(deps.db, 'sandbox', `${row.hospitalId}:${input.hisPatientId}`);
      ctx.body = await issueSession(deps, jwtSecret, {
        patientId: row.id,
        hospitalId: row.hospitalId,
        accountId,
      });
    });
  }
  r.get('/patient/login-options', async (ctx) => {
    ctx.body = await loginOptions(deps);
  });
  r.post('/patient/wx-login', validate(WechatLoginRequestSchema), async (ctx) => {
    ctx.body = await wechatLogin(deps, jwtSecret, 'miniprogram', ctx.input as WechatLoginRequest);
  });
  r.post('/patient/wx-oauth-login', validate(WechatLoginRequestSchema), async (ctx) => {
    ctx.body = await wechatLogin(deps, jwtSecret, 'official_account', ctx.input as WechatLoginRequest);
  });
  const slip = slipKey(jwtSecret);
  // The checkout opened from a slip's QR code: the bills it names (no amount travels in the code).
  r.get('/slips/:token', async (ctx) => {
    ctx.body = await slipView(deps, slip, ctx.params.token!);
  });
  r.post('/patient/slip-session', session, validate(SlipSessionRequestSchema), async (ctx) => {
    const input = ctx.input as SlipSessionRequest;
    ctx.body = await slipSession(deps, jwtSecret, ctx.state.session!, input.token);
  });
  r.get('/patient/bills', auth, async (ctx) => {
    ctx.body = await listBillsForPatient(deps, ctx.state.patient!);
  });
  r.get('/patient/cards', session, async (ctx) => {
    ctx.body = { cards: await listCards(deps, ctx.state.session!) };
  });
  r.post('/patient/cards', session, validate(BindCardRequestSchema), async (ctx) => {
    ctx.status = 201;
    ctx.body = await bindCard(deps, ctx.state.session!, ctx.input as BindCardRequest);
  });
  r.delete('/patient/cards/:id', session, async (ctx) => {
    await unbindCard(deps, ctx.state.session!, ctx.params.id!);
    ctx.status = 204;
  });
  r.post('/patient/cards/:id/switch', session, async (ctx) => {
    ctx.body = await switchCard(deps, jwtSecret, ctx.state.session!, ctx.params.id!);
  });
  r.get('/patient/channels', auth, async (ctx) => {
    ctx.body = await channelsForPatient(deps, ctx.state.patient!);
  });
  r.get('/patient/orders', auth, validate(OrderHistoryQuerySchema), async (ctx) => {
    const q = ctx.input as z.infer<typeof OrderHistoryQuerySchema>;
    ctx.body = await listOrdersForPatient(deps, ctx.state.patient!, q);
  });
  r.get('/bills/:billId/detail', auth, async (ctx) => {
    ctx.body = await billDetailForPatient(deps, ctx.state.patient!, ctx.params.billId!);
  });
  r.post(
    '/orders',
    auth,
    idempotent(deps, (ctx) => `patient:${ctx.state.patient!.patientId}`),
    validate(CreateOrderRequestSchema),
    async (ctx) => {
      ctx.status = 201;
      ctx.body = await createOrder(deps, ctx.state.patient!, ctx.input as CreateOrderRequest);
    },
  );
  // Credit pay after treatment (信用就医) and the patient's messages.
  creditPatientRoutes(r, deps, auth);
  // Medical insurance (医保): authorisation, quote with the split, settlement, balance.
  insurancePatientRoutes(r, deps, auth);
  // Inpatient stays: admissions with the deposit balance, paying a deposit.
  inpatientPatientRoutes(r, deps, auth);
  r.get('/orders/:id', auth, async (ctx) => {
    ctx.body = await getOrderForPatient(deps, ctx.state.patient!, ctx.params.id!);
  });
  // A desktop browser shows the QR of a NATIVE order (a phone cannot scan its own screen; it uses H5 or JSAPI).
  r.get('/orders/:id/qr', auth, async (ctx) => {
    const png = await qrPng(await qrContentForPatient(deps, ctx.state.patient!, ctx.params.id!));
    ctx.type = 'image/png';
    ctx.set('Cache-Control', 'private, no-store');
    ctx.body = png;
  });
  r.get('/orders/:id/invoices', auth, async (ctx) => {
    ctx.body = await listInvoicesForPatient(deps, ctx.state.patient!, ctx.params.id!);
  });
  r.get('/orders/:id/invoices/:invoiceNo/file', auth, async (ctx) => {
    const f = await invoiceFileForPatient(deps, ctx.state.patient!, ctx.params.id!, ctx.params.invoiceNo!);
    ctx.type = f.contentType;
    ctx.set('Content-Disposition', `inline; filename="${f.fileName}"`);
    ctx.set('Cache-Control', 'private, no-store');
    ctx.set('X-Content-Type-Options', 'nosniff');
    ctx.body = f.file;
  });
  return r;
}

/** Channel notifications: one route per channel and merchant account; raw body, channel's reply format. */
export function notifyRoutes(deps: Deps): Router {
  const r = new Router({ prefix: '/notify' });
  r.post('/insurance/:accountId', async (ctx) => {
    const raw = await readRawBody(ctx, 64 * 1024);
    const headers: Record<string, string | undefined> = {};
    for (const [k, v] of Object.entries(ctx.headers)) headers[k] = Array.isArray(v) ? v[0] : v;
    const reply = await handleInsuranceNotification(deps, ctx.params.accountId!, headers, raw);
    ctx.status = reply.status;
    if (reply.contentType) ctx.type = reply.contentType;
    if (reply.body !== undefined) ctx.body = reply.body;
  });
  r.post('/:channel/:accountId', async (ctx) => {
    const raw = await readRawBody(ctx, 64 * 1024);
    const headers: Record<string, string | undefined> = {};
    for (const [k, v] of Object.entries(ctx.headers)) headers[k] = Array.isArray(v) ? v[0] : v;
    const reply = await handleNotification(deps, ctx.params.channel!, ctx.params.accountId!, headers, raw);
    ctx.status = reply.status;
    if (reply.contentType) ctx.type = reply.contentType;
    if (reply.body !== undefined) ctx.body = reply.body;
  });
  return r;
}
