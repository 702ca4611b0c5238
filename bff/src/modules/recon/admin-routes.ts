import type { Context } from 'koa';
import type { z } from 'zod';
import { notFound } from '../../lib/errors';
import type { AdminRoute } from '../admin/routes';
import type { Actor } from '../admin/service';
import { RECON_REPORT_ROUTES } from './report-routes';
import { RECON_PUSH_ROUTES } from './push-routes';
import { dailyReportFull } from './reports';
import {
  DailyReportSchema,
  itemDetail,
  ReconItemSearchSchema,
  ReconRunSearchSchema,
  refundItem,
  resolveItem,
  ResolveItemSchema,
  searchItems,
  searchRuns,
  triggerRun,
  TriggerRunSchema,
} from './service';
import { StatementUploadSchema, uploadStatement, UPLOAD_BODY_LIMIT_BYTES } from './upload';

const actor = (ctx: Context): Actor => ({
  admin: ctx.state.admin!,
  origin: { ip: ctx.ip, userAgent: ctx.get('user-agent') },
  requestId: ctx.requestId,
});
const itemId = (ctx: Context) => {
  const id = Number((ctx as unknown as { params: Record<string, string> }).params.id);
  if (!Number.isSafeInteger(id) || id <= 0) throw notFound('reconciliation item');
  return id;
};

/** Reconciliation in the admin API (/admin/api/recon/…): runs, differences and their workflow, the daily report. */
export const RECON_ADMIN_ROUTES: readonly AdminRoute[] = [
  {
    method: 'GET',
    path: '/recon/runs',
    permission: 'recon.view',
    input: ReconRunSearchSchema,
    handler: (deps, ctx, q: z.infer<typeof ReconRunSearchSchema>) => searchRuns(deps.db, ctx.state.admin!, q),
  },
  {
    method: 'POST',
    path: '/recon/runs',
    permission: 'recon.resolve',
    input: TriggerRunSchema,
    status: 201,
    handler: (deps, ctx, input: z.infer<typeof TriggerRunSchema>) => triggerRun(deps, actor(ctx), input),
  },
  {
    // A statement file by hand (base64 in JSON), through the download's own parser; audited.
    method: 'POST',
    path: '/recon/statements/upload',
    permission: 'recon.resolve',
    input: StatementUploadSchema,
    bodyLimit: UPLOAD_BODY_LIMIT_BYTES,
    status: 201,
    handler: (deps, ctx, input: z.infer<typeof StatementUploadSchema>) =>
      uploadStatement(deps, actor(ctx), input),
  },
  {
    method: 'GET',
    path: '/recon/items',
    permission: 'recon.view',
    input: ReconItemSearchSchema,
    handler: (deps, ctx, q: z.infer<typeof ReconItemSearchSchema>) =>
      searchItems(deps.db, ctx.state.admin!, q),
  },
  {
    method: 'GET',
    path: '/recon/items/:id',
    permission: 'recon.view',
    handler: (deps, ctx) => itemDetail(deps.db, ctx.state.admin!, itemId(ctx)),
  },
  {
    method: 'POST',
    path: '/recon/items/:id/resolve',
    permission: 'recon.resolve',
    input: ResolveItemSchema,
    handler: (deps, ctx, input: z.infer<typeof ResolveItemSchema>) =>
      resolveItem(deps, actor(ctx), itemId(ctx), input.reason),
  },
  {
    method: 'POST',
    path: '/recon/items/:id/refund',
    permission: 'orders.refund',
    input: ResolveItemSchema,
    status: 201,
    handler: (deps, ctx, input: z.infer<typeof ResolveItemSchema>) =>
      refundItem(deps, actor(ctx), itemId(ctx), input.reason),
  },
  {
    method: 'GET',
    path: '/recon/reports/daily',
    permission: 'recon.view',
    input: DailyReportSchema,
    handler: (deps, ctx, q: z.infer<typeof DailyReportSchema>) =>
      dailyReportFull(deps.db, ctx.state.admin!, q),
  },
  // Period summary, abnormal refunds, and the Excel/CSV exports (report-routes.ts).
  ...RECON_REPORT_ROUTES,
  // The daily file pushed to the HIS: targets and deliveries (push-routes.ts).
  ...RECON_PUSH_ROUTES,
];
