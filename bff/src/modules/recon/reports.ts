import { and, asc, count, eq, gte, inArray, lt, sql, type SQL } from 'drizzle-orm';
import { z } from 'zod';
import type { Db } from '../../db/client';
import { adminUsers, hospitals, orders, refunds } from '../../db/schema';
import { reconItems } from '../../db/schema-recon';
import { notFound } from '../../lib/errors';
import type { AdminPrincipal } from '../admin/auth-service';
import { PageSchema, scopeHospital } from '../admin/queries';
import { addDays, beijingDayRange, isBusinessDate } from './dates';
import { RECON_OUTCOMES, type ReconSummaryRow } from './engine';
import { dailyReport, type DailyReportSchema } from './service';

/**
 * Reconciliation reports (对账报表) for finance, all amounts integer fen:
 *
 * - the **daily report** (对账日报): `dailyReport` of service.ts (from the day's latest finished run) with the
 *   day's abnormal refunds and the money the channel actually moved to the bank (from its fund-flow bill);
 * - the **period summary** (期间汇总): per day and channel, the figures of each day's latest finished run —
 *   the same figures the daily report shows and finance signed off, not a recount of live data, so a report
 *   printed twice says the same. Days without a finished run are listed as not reconciled. The only live
 *   figure is how many of a day's differences are still open (people work on them after the run);
 * - **abnormal refunds** (异常退款): refunds requested in the range that ended ABNORMAL (the channel could not
 *   pay the money back) or FAILED (refused) — both need a person;
 * - **differences** (差异明细): the `recon_items` of the range, as the 差异处理 page filters them.
 *
 * The detail lists are read in keyset pages ({@link iterateDifferences}, {@link iterateAbnormalRefunds}) so
 * an export of a long range never holds it whole.
 */

/** The longest range a period report or export covers. */
export const MAX_REPORT_DAYS = 366;
/** Rows per page when a detail list is read for an export. */
export const EXPORT_PAGE_ROWS = 1000;

/** A business day, `YYYY-MM-DD`. */
export const ReportDate = z.string().refine(isBusinessDate, 'a date as YYYY-MM-DD');
const BusinessDate = ReportDate;
const DAY_MS = 86_400_000;
const dayCount = (from: string, to: string) => (Date.parse(to) - Date.parse(from)) / DAY_MS + 1;

/** Refuses a range that runs backwards or is longer than {@link MAX_REPORT_DAYS}. */
export function checkRange(v: { from: string; to: string }, ctx: z.RefinementCtx) {
  if (v.from > v.to)
    ctx.addIssue({ code: 'custom', path: ['from'], message: `must not be after to (${v.to})` });
  else if (dayCount(v.from, v.to) > MAX_REPORT_DAYS)
    ctx.addIssue({ code: 'custom', path: ['to'], message: `the range is at most ${MAX_REPORT_DAYS} days` });
}

const RangeShape = {
  from: BusinessDate,
  to: BusinessDate,
  hospitalId: z.string().max(64).optional(),
};

export const PeriodReportSchema = z.object(RangeShape).superRefine(checkRange);
export type PeriodReportQuery = z.infer<typeof PeriodReportSchema>;

/** Differences of a range, filtered like the 差异处理 list. */
export const DifferenceFilterShape = {
  ...RangeShape,
  status: z.enum(['HOLDING', 'OPEN', 'RESOLVED']).optional(),
  outcome: z.enum(RECON_OUTCOMES).optional(),
  channel: z.string().max(32).optional(),
};
export type DifferenceFilter = z.infer<z.ZodObject<typeof DifferenceFilterShape>>;

export const AbnormalRefundSearchSchema = PageSchema.extend(RangeShape).superRefine(checkRange);
export type AbnormalRefundQuery = Pick<
  z.infer<typeof AbnormalRefundSearchSchema>,
  'from' | 'to' | 'hospitalId'
>;

/** Refund states that need a person: the channel could not pay back (ABNORMAL) or refused (FAILED). */
export const ABNORMAL_REFUND_STATUSES = ['ABNORMAL', 'FAILED'] as const;

type Rows<T> = { rows: T[] };
const rowsOf = <T>(r: unknown) => (r as Rows<T>).rows;

/** The hospital a single-hospital report is about: the admin's own, the one asked for, or the first. */
export async function reportHospital(db: Db, admin: AdminPrincipal, asked?: string) {
  const id = scopeHospital(admin, asked);
  const [h] = await db
    .select({ id: hospitals.id, code: hospitals.code, name: hospitals.name })
    .from(hospitals)
    .where(id ? eq(hospitals.id, id) : undefined)
    .orderBy(hospitals.id)
    .limit(1);
  if (!h) throw notFound('hospital');
  return h;
}

// ---------------------------------------------------------------- per channel figures

/** One channel's figures for one day, from a run's summary rows (online money only). */
export interface ChannelFigures {
  channel: string;
  paymentCount: number;
  refundCount: number;
  /** Net income the HIS recorded (payments − refunds), online records only. */
  hisIncomeFen: number;
  /** Net income the platform took (successful payments − successful refunds). */
  platformIncomeFen: number;
  /** Net income on the channel's statement. */
  channelIncomeFen: number;
  /** Refunds the platform paid back. */
  refundFen: number;
  /** The channel's fees (payments' fees − fees returned with refunds). */
  feeFen: number;
  /** HIS − platform (对账差额). */
  differenceFen: number;
  /** Expected bank arrival: channel income − fees. */
  bankArrivalFen: number;
  matched: number;
  differences: number;
}

/** The figures of each channel in a run summary; the same formulas as the daily report's. */
export function channelFigures(rows: readonly ReconSummaryRow[]): ChannelFigures[] {
  const channels = [...new Set(rows.map((r) => r.channel))].sort();
  return channels.map((channel) => {
    const pay = rows.find((r) => r.channel === channel && r.kind === 'PAYMENT');
    const ref = rows.find((r) => r.channel === channel && r.kind === 'REFUND');
    const v = (r: ReconSummaryRow | undefined, k: keyof ReconSummaryRow) => (r ? Number(r[k]) : 0);
    const hisIncomeFen = v(pay, 'hisFen') - v(ref, 'hisFen');
    const platformIncomeFen = v(pay, 'platformFen') - v(ref, 'platformFen');
    const channelIncomeFen = v(pay, 'channelFen') - v(ref, 'channelFen');
    const feeFen = v(pay, 'channelFeeFen') - v(ref, 'channelFeeFen');
    return {
      channel,
      paymentCount: v(pay, 'platformCount'),
      refundCount: v(ref, 'platformCount'),
      hisIncomeFen,
      platformIncomeFen,
      channelIncomeFen,
      refundFen: v(ref, 'platformFen'),
      feeFen,
      differenceFen: hisIncomeFen - platformIncomeFen,
      bankArrivalFen: channelIncomeFen - feeFen,
      matched: v(pay, 'matched') + v(ref, 'matched'),
      differences: v(pay, 'differences') + v(ref, 'differences'),
    };
  });
}

const FIGURE_SUMS = [
  'paymentCount',
  'refundCount',
  'hisIncomeFen',
  'platformIncomeFen',
  'channelIncomeFen',
  'refundFen',
  'feeFen',
  'differenceFen',
  'bankArrivalFen',
  'matched',
  'differences',
] as const;
type FigureTotals = Record<(typeof FIGURE_SUMS)[number], number>;

function sumFigures(rows: readonly FigureTotals[]): FigureTotals {
  const t = Object.fromEntries(FIGURE_SUMS.map((k) => [k, 0])) as FigureTotals;
  for (const r of rows) for (const k of FIGURE_SUMS) t[k] += r[k];
  return t;
}

// ---------------------------------------------------------------- period summary

/** One row of the period summary: one channel on one day. */
export interface PeriodRow extends ChannelFigures {
  date: string;
  /** Differences of that day and channel not resolved yet (live). */
  openDifferences: number;
}

/**
 * Per day and channel over a range (at most {@link MAX_REPORT_DAYS} days), from each day's latest finished
 * run, with per-day and overall totals. Days without a finished run are in `missingDays`.
 */
export async function periodSummary(db: Db, admin: AdminPrincipal, q: PeriodReportQuery) {
  const hospital = await reportHospital(db, admin, q.hospitalId);
  const [runs, open] = await Promise.all([
    db.execute(sql`
      SELECT DISTINCT ON (business_date) id, business_date, summary, finished_at
      FROM recon_runs
      WHERE hospital_id = ${hospital.id} AND status = 'DONE'
        AND business_date >= ${q.from} AND business_date <= ${q.to}
      ORDER BY business_date, started_at DESC
    `),
    db
      .select({
        date: reconItems.businessDate,
        channel: reconItems.channel,
        n: count(),
      })
      .from(reconItems)
      .where(
        and(
          eq(reconItems.hospitalId, hospital.id),
          gte(reconItems.businessDate, q.from),
          sql`${reconItems.businessDate} <= ${q.to}`,
          inArray(reconItems.status, ['HOLDING', 'OPEN']),
        ),
      )
      .groupBy(reconItems.businessDate, reconItems.channel),
  ]);
  const openOf = new Map(open.map((o) => [`${o.date}|${o.channel}`, Number(o.n)]));
  const byDate = new Map(
    rowsOf<{
      id: string;
      business_date: string;
      summary: { rows?: ReconSummaryRow[] };
      finished_at: unknown;
    }>(runs).map((r) => [r.business_date, r]),
  );
  const rows: PeriodRow[] = [];
  const days: (FigureTotals & { date: string; runId: string | null; openDifferences: number })[] = [];
  const missingDays: string[] = [];
  for (let date = q.from; date <= q.to; date = addDays(date, 1)) {
    const run = byDate.get(date);
    if (!run) missingDays.push(date);
    const dayRows = channelFigures(run?.summary?.rows ?? []).map((f): PeriodRow => ({
      date,
      ...f,
      openDifferences: openOf.get(`${date}|${f.channel}`) ?? 0,
    }));
    rows.push(...dayRows);
    days.push({
      date,
      runId: run?.id ?? null,
      ...sumFigures(dayRows),
      openDifferences: dayRows.reduce((a, r) => a + r.openDifferences, 0),
    });
  }
  return {
    hospital,
    from: q.from,
    to: q.to,
    rows,
    days,
    missingDays,
    totals: { ...sumFigures(rows), openDifferences: rows.reduce((a, r) => a + r.openDifferences, 0) },
  };
}

// ---------------------------------------------------------------- daily report

/**
 * The money the channels moved to the hospital's bank on a day, from their fund-flow bills (资金账单, today
 * WeChat Pay's): the OUT lines whose 业务类型 says withdrawal or settlement (提现, 自动提现, 结算 — the wording
 * varies; channels/wechatpay/fund-flow-bill.ts lists what is seen). A channel without an imported fund-flow
 * bill for the day is absent (the report shows 未获取). Settlement runs T+1 or later, so this is what
 * arrived that day, not the income of that day.
 */
export async function bankSettlements(db: Db, hospitalId: string, date: string) {
  const rows = rowsOf<{ channel: string; settled_fen: string | number; lines: number }>(
    await db.execute(sql`
      SELECT s.channel, coalesce(sum(abs(l.amount_fen)), 0)::bigint AS settled_fen, count(l.flow_no)::int AS lines
      FROM recon_statements s
      LEFT JOIN recon_fund_flow_lines l
        ON l.statement_id = s.id AND l.direction = 'OUT'
       AND l.business_type ~ '提现|结算'
      WHERE s.hospital_id = ${hospitalId} AND s.bill_date = ${date} AND s.bill_type = 'FUNDFLOW'
        AND s.status IN ('IMPORTED', 'NO_TRADE')
      GROUP BY s.channel ORDER BY s.channel
    `),
  );
  return new Map(rows.map((r) => [r.channel, Number(r.settled_fen)]));
}

/** Count and sum of the abnormal refunds requested in a range, per channel of their orders. */
async function abnormalRefundTotals(db: Db, hospitalId: string, from: string, to: string) {
  const rows = await db
    .select({
      channel: sql<string>`CASE WHEN ${refunds.method} = 'CASH' THEN 'cash' ELSE ${orders.channel} END`,
      n: count(),
      amountFen: sql<number>`coalesce(sum(${refunds.amountFen}), 0)`.mapWith(Number),
    })
    .from(refunds)
    .innerJoin(orders, eq(orders.id, refunds.orderId))
    .where(abnormalRefundWhere({ from, to, hospitalId }))
    .groupBy(sql`1`);
  return new Map(rows.map((r) => [r.channel, { count: Number(r.n), amountFen: r.amountFen }]));
}

/**
 * The daily report (对账日报) with everything finance signs: per channel HIS income, platform income,
 * channel income, the daily difference, fees, abnormal refunds, expected and actual bank arrival; the
 * HIS's offline income; totals. `bankSettledFen` is null where no fund-flow bill was imported (未获取).
 */
export async function dailyReportFull(db: Db, admin: AdminPrincipal, q: z.infer<typeof DailyReportSchema>) {
  const hospital = await reportHospital(db, admin, q.hospitalId);
  const base = await dailyReport(db, admin, { ...q, hospitalId: hospital.id });
  const [settled, abnormal] = await Promise.all([
    bankSettlements(db, hospital.id, q.date),
    abnormalRefundTotals(db, hospital.id, q.date, q.date),
  ]);
  const channels = base.channels.map((c) => ({
    ...c,
    abnormalRefundCount: abnormal.get(c.channel)?.count ?? 0,
    abnormalRefundFen: abnormal.get(c.channel)?.amountFen ?? 0,
    bankSettledFen: settled.has(c.channel) ? settled.get(c.channel)! : null,
  }));
  // Channels with abnormal refunds or a settlement but no reconciled money that day still get a row.
  for (const channel of new Set([...abnormal.keys(), ...settled.keys()]))
    if (!channels.some((c) => c.channel === channel))
      channels.push({
        channel,
        paymentCount: 0,
        refundCount: 0,
        hisIncomeFen: 0,
        platformIncomeFen: 0,
        channelIncomeFen: 0,
        differenceFen: 0,
        feeFen: 0,
        bankArrivalFen: 0,
        differences: 0,
        abnormalRefundCount: abnormal.get(channel)?.count ?? 0,
        abnormalRefundFen: abnormal.get(channel)?.amountFen ?? 0,
        bankSettledFen: settled.has(channel) ? settled.get(channel)! : null,
      });
  const abnormalRefunds = { count: 0, amountFen: 0 };
  for (const a of abnormal.values()) {
    abnormalRefunds.count += a.count;
    abnormalRefunds.amountFen += a.amountFen;
  }
  return {
    ...base,
    hospital,
    channels,
    abnormalRefunds,
    totals: {
      ...base.totals,
      /** null: no fund-flow bill imported for the day (未获取). */
      bankSettledFen: settled.size ? [...settled.values()].reduce((a, v) => a + v, 0) : null,
      abnormalRefundFen: abnormalRefunds.amountFen,
    },
  };
}

// ---------------------------------------------------------------- abnormal refunds

function abnormalRefundWhere(q: { from: string; to: string; hospitalId?: string }): SQL {
  const where: SQL[] = [
    inArray(refunds.status, [...ABNORMAL_REFUND_STATUSES]),
    gte(refunds.createdAt, beijingDayRange(q.from).start),
    lt(refunds.createdAt, beijingDayRange(q.to).end),
  ];
  if (q.hospitalId) where.push(eq(refunds.hospitalId, q.hospitalId));
  return and(...where)!;
}

const abnormalRefundColumns = {
  id: refunds.id,
  refundNo: refunds.refundNo,
  hospitalId: refunds.hospitalId,
  orderId: refunds.orderId,
  orderNo: orders.orderNo,
  channel: sql<string>`CASE WHEN ${refunds.method} = 'CASH' THEN 'cash' ELSE ${orders.channel} END`,
  amountFen: refunds.amountFen,
  method: refunds.method,
  status: refunds.status,
  reason: refunds.reason,
  requestedBy: refunds.requestedBy,
  errorCode: refunds.errorCode,
  errorMessage: refunds.errorMessage,
  createdAt: refunds.createdAt,
  updatedAt: refunds.updatedAt,
};
/** One abnormal refund as the report lists it. */
export interface AbnormalRefundRow {
  id: string;
  refundNo: string;
  hospitalId: string;
  orderId: string;
  orderNo: string;
  /** The order's channel (`cash` for a cash refund). */
  channel: string;
  amountFen: number;
  method: string;
  status: string;
  reason: string;
  requestedBy: string;
  errorCode: string | null;
  errorMessage: string | null;
  createdAt: Date;
  updatedAt: Date;
}

/** Abnormal refunds of a range, a page at a time, oldest first. */
export async function searchAbnormalRefunds(
  db: Db,
  admin: AdminPrincipal,
  q: z.infer<typeof AbnormalRefundSearchSchema>,
) {
  const cond = abnormalRefundWhere({ ...q, hospitalId: scopeHospital(admin, q.hospitalId) });
  const [items, [t]] = await Promise.all([
    db
      .select(abnormalRefundColumns)
      .from(refunds)
      .innerJoin(orders, eq(orders.id, refunds.orderId))
      .where(cond)
      .orderBy(asc(refunds.createdAt), asc(refunds.id))
      .limit(q.pageSize)
      .offset((q.page - 1) * q.pageSize),
    db
      .select({ n: count(), amountFen: sql<number>`coalesce(sum(${refunds.amountFen}), 0)`.mapWith(Number) })
      .from(refunds)
      .innerJoin(orders, eq(orders.id, refunds.orderId))
      .where(cond),
  ]);
  return { items, total: t?.n ?? 0, totalFen: t?.amountFen ?? 0, page: q.page, pageSize: q.pageSize };
}

/** Every abnormal refund of a range in keyset pages (created_at, id): for exports. */
export async function* iterateAbnormalRefunds(
  db: Db,
  q: AbnormalRefundQuery,
  pageRows = EXPORT_PAGE_ROWS,
): AsyncGenerator<AbnormalRefundRow[]> {
  let after: { at: string; id: string } | undefined;
  for (;;) {
    const page = await db
      .select({ ...abnormalRefundColumns, cursor: sql<string>`${refunds.createdAt}::text` })
      .from(refunds)
      .innerJoin(orders, eq(orders.id, refunds.orderId))
      .where(
        and(
          abnormalRefundWhere(q),
          // The cursor is the timestamp's own text: a JS Date would drop its microseconds.
          after
            ? sql`(${refunds.createdAt}, ${refunds.id}) > (${after.at}::timestamptz, ${after.id})`
            : undefined,
        ),
      )
      .orderBy(asc(refunds.createdAt), asc(refunds.id))
      .limit(pageRows);
    if (page.length) yield page.map(({ cursor: _c, ...r }) => r);
    if (page.length < pageRows) return;
    const last = page.at(-1)!;
    after = { at: last.cursor, id: last.id };
  }
}

// ---------------------------------------------------------------- differences

function differenceWhere(q: DifferenceFilter): SQL {
  const where: SQL[] = [gte(reconItems.businessDate, q.from), sql`${reconItems.businessDate} <= ${q.to}`];
  if (q.hospitalId) where.push(eq(reconItems.hospitalId, q.hospitalId));
  if (q.status) where.push(eq(reconItems.status, q.status));
  if (q.outcome) where.push(eq(reconItems.outcome, q.outcome));
  if (q.channel) where.push(eq(reconItems.channel, q.channel));
  return and(...where)!;
}

const differenceColumns = {
  id: reconItems.id,
  hospitalId: reconItems.hospitalId,
  businessDate: reconItems.businessDate,
  channel: reconItems.channel,
  kind: reconItems.kind,
  keyNo: reconItems.keyNo,
  orderNo: reconItems.orderNo,
  outcome: reconItems.outcome,
  channelFen: reconItems.channelFen,
  platformFen: reconItems.platformFen,
  hisFen: reconItems.hisFen,
  channelFeeFen: reconItems.channelFeeFen,
  expectedFeeFen: reconItems.expectedFeeFen,
  status: reconItems.status,
  holdUntil: reconItems.holdUntil,
  resolution: reconItems.resolution,
  resolvedBy: reconItems.resolvedBy,
  /** The admin's user name when a person resolved it. */
  resolvedByName: adminUsers.username,
  resolvedAt: reconItems.resolvedAt,
  note: reconItems.note,
};
/** One difference as the report lists it. */
export interface DifferenceRow {
  id: number;
  hospitalId: string;
  businessDate: string;
  channel: string;
  kind: string;
  keyNo: string;
  orderNo: string | null;
  outcome: string;
  channelFen: number | null;
  platformFen: number | null;
  hisFen: number | null;
  channelFeeFen: number | null;
  expectedFeeFen: number | null;
  status: string;
  holdUntil: string | null;
  resolution: string | null;
  resolvedBy: string | null;
  resolvedByName: string | null;
  resolvedAt: Date | null;
  note: string | null;
}

/** Every difference of a range (filtered) in keyset pages (business date, id): for exports. */
export async function* iterateDifferences(
  db: Db,
  q: DifferenceFilter,
  pageRows = EXPORT_PAGE_ROWS,
): AsyncGenerator<DifferenceRow[]> {
  let after: { date: string; id: number } | undefined;
  for (;;) {
    const page = await db
      .select(differenceColumns)
      .from(reconItems)
      .leftJoin(adminUsers, eq(sql`'admin:' || ${adminUsers.id}`, reconItems.resolvedBy))
      .where(
        and(
          differenceWhere(q),
          after
            ? sql`(${reconItems.businessDate}, ${reconItems.id}) > (${after.date}, ${after.id})`
            : undefined,
        ),
      )
      .orderBy(asc(reconItems.businessDate), asc(reconItems.id))
      .limit(pageRows);
    if (page.length) yield page;
    if (page.length < pageRows) return;
    const last = page.at(-1)!;
    after = { date: last.businessDate, id: last.id };
  }
}
