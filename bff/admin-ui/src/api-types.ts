/**
 * The admin API's replies, typed from the server functions that produce them. Type-only imports: erased
 * when the pages are built, so nothing of the server is bundled — a change on the server that the pages
 * do not follow fails the type check instead of showing blanks.
 */
import type { searchRefunds } from '../../src/modules/admin/queries';
import type { listMerchantAccounts } from '../../src/modules/admin/settings';
import type { ReconRunSummary, ReconSummaryRow } from '../../src/modules/recon/engine';
import type { listPushTargets, redeliver, searchDeliveries } from '../../src/modules/recon/push-targets';
import type { AbnormalRefundRow, dailyReportFull, periodSummary } from '../../src/modules/recon/reports';
import type { itemDetail, searchRuns } from '../../src/modules/recon/service';
import type { uploadStatement } from '../../src/modules/recon/upload';

/** A server value as its JSON reply carries it: dates become ISO strings. */
export type Json<T> = T extends Date
  ? string
  : T extends readonly (infer U)[]
    ? Json<U>[]
    : T extends object
      ? { [K in keyof T]: Json<T[K]> }
      : T;

/** What a server function answers, as JSON. */
type Reply<F extends (...args: never[]) => unknown> = Json<Awaited<ReturnType<F>>>;
/** One item of a list reply. */
type ItemOf<F extends (...args: never[]) => Promise<{ items: readonly unknown[] }>> =
  Reply<F>['items'][number];

/** GET /refunds: one refund. */
export type RefundRow = ItemOf<typeof searchRefunds>;

export type { ReconSummaryRow };
/** GET /recon/runs: one run; `summary` is empty until the run is done. */
export type RunRow = Omit<ItemOf<typeof searchRuns>, 'summary'> & { summary: Partial<ReconRunSummary> };
/** GET /recon/items/:id — the difference and its three sides. */
export type ItemDetail = Reply<typeof itemDetail>;
/** One row of recon_items (GET /recon/items, and the detail's `item`). */
export type ReconItem = ItemDetail['item'];

/** GET /recon/reports/daily. */
export type DailyReport = Reply<typeof dailyReportFull>;
/** A statement of the day (download or upload) as the daily report lists it. */
export type DailyStatement = DailyReport['statements'][number];
/** GET /recon/reports/period. */
export type PeriodReport = Reply<typeof periodSummary>;
/** GET /recon/reports/abnormal-refunds: one refund. */
export type AbnormalRefund = Json<AbnormalRefundRow>;

/** GET /settings/merchant-accounts: one account (public settings only). */
export type MerchantAccount = ItemOf<typeof listMerchantAccounts>;

/** POST /recon/statements/upload. */
export type UploadReply = Reply<typeof uploadStatement>;
/** GET /recon/push-targets: one target (secrets only as `hasPassword` / `hasPrivateKey`). */
export type PushTarget = ItemOf<typeof listPushTargets>;
/** GET /recon/deliveries: one delivery. */
export type Delivery = ItemOf<typeof searchDeliveries>;
/** POST /recon/deliveries (立即推送): delivered now, or `already_delivered` (send again with force). */
export type RedeliverReply = Reply<typeof redeliver>;
