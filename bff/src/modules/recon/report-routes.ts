import type { z } from 'zod';
import type { AdminRoute } from '../admin/routes';
import {
  AbnormalRefundExportSchema,
  DailyExportSchema,
  DifferenceExportSchema,
  exportAbnormalRefunds,
  exportDailyReport,
  exportDifferences,
  exportPeriodReport,
  PeriodExportSchema,
} from './report-export';
import {
  AbnormalRefundSearchSchema,
  periodSummary,
  PeriodReportSchema,
  searchAbnormalRefunds,
} from './reports';

/**
 * Reports and their files in the admin API (/admin/api/recon/…): reading a report needs `recon.view`,
 * downloading it as Excel or CSV `recon.export`. (`/recon/reports/daily` is in admin-routes.ts.)
 */
export const RECON_REPORT_ROUTES: readonly AdminRoute[] = [
  {
    method: 'GET',
    path: '/recon/reports/period',
    permission: 'recon.view',
    input: PeriodReportSchema,
    handler: (deps, ctx, q: z.infer<typeof PeriodReportSchema>) =>
      periodSummary(deps.db, ctx.state.admin!, q),
  },
  {
    method: 'GET',
    path: '/recon/reports/abnormal-refunds',
    permission: 'recon.view',
    input: AbnormalRefundSearchSchema,
    handler: (deps, ctx, q: z.infer<typeof AbnormalRefundSearchSchema>) =>
      searchAbnormalRefunds(deps.db, ctx.state.admin!, q),
  },
  {
    method: 'GET',
    path: '/recon/exports/daily',
    permission: 'recon.export',
    input: DailyExportSchema,
    handler: (deps, ctx, q: z.infer<typeof DailyExportSchema>) =>
      exportDailyReport(deps.db, ctx.state.admin!, ctx, q),
  },
  {
    method: 'GET',
    path: '/recon/exports/period',
    permission: 'recon.export',
    input: PeriodExportSchema,
    handler: (deps, ctx, q: z.infer<typeof PeriodExportSchema>) =>
      exportPeriodReport(deps.db, ctx.state.admin!, ctx, q),
  },
  {
    method: 'GET',
    path: '/recon/exports/differences',
    permission: 'recon.export',
    input: DifferenceExportSchema,
    handler: (deps, ctx, q: z.infer<typeof DifferenceExportSchema>) =>
      exportDifferences(deps.db, ctx.state.admin!, ctx, q),
  },
  {
    method: 'GET',
    path: '/recon/exports/abnormal-refunds',
    permission: 'recon.export',
    input: AbnormalRefundExportSchema,
    handler: (deps, ctx, q: z.infer<typeof AbnormalRefundExportSchema>) =>
      exportAbnormalRefunds(deps.db, ctx.state.admin!, ctx, q),
  },
];
