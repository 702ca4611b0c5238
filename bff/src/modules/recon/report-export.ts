import type { Context } from 'koa';
import { z } from 'zod';
import type { Db } from '../../db/client';
import { hospitals } from '../../db/schema';
import {
  beijingTime,
  EXPORT_FORMATS,
  sendExportFile,
  type ExportColumn,
  type ExportFile,
  type ExportFormat,
} from '../../lib/table-export';
import type { AdminPrincipal } from '../admin/auth-service';
import { scopeHospital } from '../admin/queries';
import {
  checkRange,
  dailyReportFull,
  DifferenceFilterShape,
  iterateAbnormalRefunds,
  iterateDifferences,
  periodSummary,
  ReportDate,
  type AbnormalRefundQuery,
  type AbnormalRefundRow,
  type DifferenceFilter,
  type DifferenceRow,
  type PeriodRow,
} from './reports';

/**
 * The reconciliation reports as files (导出 Excel / CSV). Excel: the report's table on its first sheet with a
 * totals row, and for the daily report and the period the differences and abnormal refunds of the same
 * days on further sheets. CSV: the first table only. Amounts in yuan, computed from fen.
 */

const Format = { format: z.enum(EXPORT_FORMATS).default('xlsx') };
const BusinessDate = ReportDate;

export const DailyExportSchema = z.object({
  date: BusinessDate,
  hospitalId: z.string().max(64).optional(),
  ...Format,
});
export const PeriodExportSchema = z
  .object({ from: BusinessDate, to: BusinessDate, hospitalId: z.string().max(64).optional(), ...Format })
  .superRefine(checkRange);
export const DifferenceExportSchema = z
  .object({ ...DifferenceFilterShape, ...Format })
  .superRefine(checkRange);
export const AbnormalRefundExportSchema = z
  .object({ from: BusinessDate, to: BusinessDate, hospitalId: z.string().max(64).optional(), ...Format })
  .superRefine(checkRange);

// ---------------------------------------------------------------- labels

const CHANNEL: Record<string, string> = {
  wechatpay: '微信支付',
  alipay: '支付宝',
  bankpay: '聚合支付',
  cash: '现金退款',
  CASH: '现金（窗口）',
  MISPOS: '银行卡 POS',
  mispos: '银行卡 POS（收单行）',
  KIOSK: '自助机',
  PREPAID: '预交金/就诊卡',
};
const OUTCOME: Record<string, string> = {
  channel_only: '渠道单边（平台无）',
  platform_only: '平台单边（渠道无）',
  his_only: 'HIS 单边',
  his_missing: 'HIS 未入账',
  amount_mismatch: '金额不符',
  status_mismatch: '状态不符',
  fee_difference: '手续费差异',
};
const ITEM_STATUS: Record<string, string> = { HOLDING: '挂账中', OPEN: '待处理', RESOLVED: '已处理' };
const RESOLUTION: Record<string, string> = {
  manual: '人工处理',
  refunded: '已退款',
  matched_cross_day: '跨日匹配',
  cleared_by_rerun: '重新对账后消除',
};
const REFUND_STATUS: Record<string, string> = { ABNORMAL: '退款异常', FAILED: '退款失败' };
const REFUND_METHOD: Record<string, string> = { CHANNEL: '原路退回', CASH: '现金退款' };
const KIND: Record<string, string> = { PAYMENT: '支付', REFUND: '退款' };
const name = (labels: Record<string, string>, code: string | null | undefined) =>
  code ? (labels[code] ?? code) : undefined;

const count = <T>(header: string, value: (r: T) => number | undefined): ExportColumn<T> => ({
  header,
  count: true,
  width: 10,
  value,
});
const money = <T>(header: string, value: (r: T) => number | null | undefined, nullText?: string) =>
  ({ header, money: true, nullText, value }) as ExportColumn<T>;
const text = <T>(
  header: string,
  value: (r: T) => string | null | undefined,
  width = 12,
): ExportColumn<T> => ({
  header,
  width,
  value: (r) => value(r) ?? undefined,
});

// ---------------------------------------------------------------- daily report

type DailyReport = Awaited<ReturnType<typeof dailyReportFull>>;
type DailyLine = Partial<DailyReport['channels'][number]> & { channel: string; offline?: boolean };

const DAILY_COLUMNS: readonly ExportColumn<DailyLine>[] = [
  text('渠道', (r) => `${name(CHANNEL, r.channel)}${r.offline ? '（HIS 线下）' : ''}`, 18),
  count('支付笔数', (r) => r.paymentCount),
  count('退款笔数', (r) => r.refundCount),
  money('HIS 收入', (r) => r.hisIncomeFen),
  money('平台收入', (r) => r.platformIncomeFen),
  money('渠道收入', (r) => r.channelIncomeFen),
  money('当日差额（HIS−平台）', (r) => r.differenceFen),
  money('手续费', (r) => r.feeFen),
  count('异常退款笔数', (r) => r.abnormalRefundCount),
  money('异常退款', (r) => r.abnormalRefundFen),
  money('预计到账', (r) => r.bankArrivalFen),
  // null: no fund-flow bill for the day (未获取); undefined (offline rows): not applicable.
  money('银行到账', (r) => r.bankSettledFen, '未获取'),
  count('差异笔数', (r) => r.differences),
];

function dailyLines(report: DailyReport): DailyLine[] {
  return [
    ...report.channels,
    ...report.offline.map((o) => ({
      channel: o.channel,
      offline: true,
      paymentCount: o.paymentCount,
      refundCount: o.refundCount,
      hisIncomeFen: o.paymentFen - o.refundFen,
    })),
  ];
}

// ---------------------------------------------------------------- period summary

type PeriodLine = Partial<PeriodRow> & { date: string; missing?: boolean };

const PERIOD_COLUMNS: readonly ExportColumn<PeriodLine>[] = [
  text('日期', (r) => r.date),
  text('渠道', (r) => (r.missing ? '（未对账）' : name(CHANNEL, r.channel))),
  count('支付笔数', (r) => r.paymentCount),
  count('退款笔数', (r) => r.refundCount),
  money('HIS 收入（线上）', (r) => r.hisIncomeFen),
  money('平台收入', (r) => r.platformIncomeFen),
  money('渠道收入', (r) => r.channelIncomeFen),
  money('退款金额', (r) => r.refundFen),
  money('手续费', (r) => r.feeFen),
  money('差额（HIS−平台）', (r) => r.differenceFen),
  money('预计到账', (r) => r.bankArrivalFen),
  count('平账笔数', (r) => r.matched),
  count('差异笔数', (r) => r.differences),
  count('未处理差异', (r) => r.openDifferences),
];

// ---------------------------------------------------------------- details

const differenceColumns = (hospitalName: (id: string) => string): readonly ExportColumn<DifferenceRow>[] => [
  text('业务日期', (r) => r.businessDate),
  text('医院', (r) => hospitalName(r.hospitalId), 16),
  text('渠道', (r) => name(CHANNEL, r.channel)),
  text('类型', (r) => name(KIND, r.kind), 8),
  text('支付/退款单号', (r) => r.keyNo, 26),
  text('订单号', (r) => r.orderNo, 26),
  text('差异类型', (r) => name(OUTCOME, r.outcome), 18),
  money('渠道金额', (r) => r.channelFen ?? undefined),
  money('平台金额', (r) => r.platformFen ?? undefined),
  money('HIS 金额', (r) => r.hisFen ?? undefined),
  money('渠道手续费', (r) => r.channelFeeFen ?? undefined),
  money('约定手续费', (r) => r.expectedFeeFen ?? undefined),
  text('状态', (r) => name(ITEM_STATUS, r.status), 8),
  text('处理方式', (r) => name(RESOLUTION, r.resolution)),
  text('处理人', (r) => r.resolvedByName ?? (r.resolvedBy === 'system' ? '系统' : r.resolvedBy)),
  text('处理时间', (r) => beijingTime(r.resolvedAt), 20),
  text('说明', (r) => r.note, 30),
];

const ABNORMAL_COLUMNS: readonly ExportColumn<AbnormalRefundRow>[] = [
  text('申请时间', (r) => beijingTime(r.createdAt), 20),
  text('退款单号', (r) => r.refundNo, 26),
  text('订单号', (r) => r.orderNo, 26),
  text('渠道', (r) => name(CHANNEL, r.channel)),
  text('方式', (r) => name(REFUND_METHOD, r.method)),
  money('退款金额', (r) => r.amountFen),
  text('状态', (r) => name(REFUND_STATUS, r.status), 10),
  text('原因', (r) => r.reason, 24),
  text('错误码', (r) => r.errorCode, 16),
  text('错误信息', (r) => r.errorMessage, 30),
  text('发起方', (r) => r.requestedBy, 16),
  text('最后更新', (r) => beijingTime(r.updatedAt), 20),
];

async function hospitalNames(db: Db): Promise<(id: string) => string> {
  const all = await db.select({ id: hospitals.id, name: hospitals.name }).from(hospitals);
  const m = new Map(all.map((h) => [h.id, h.name]));
  return (id) => m.get(id) ?? id;
}

/** A detail sheet written page by page as the rows are read, with a count row at the end. */
async function writeDetailRows<T>(
  f: ExportFile,
  sheet: string,
  columns: readonly ExportColumn<T>[],
  pages: AsyncIterable<T[]>,
) {
  const t = f.table(sheet, columns);
  for await (const page of pages) {
    for (const r of page) t.row(r);
    await t.flush();
  }
  await t.end((n) => `合计（${n} 笔）`);
}

async function writeDifferences(f: ExportFile, db: Db, q: DifferenceFilter) {
  await writeDetailRows(f, '差异明细', differenceColumns(await hospitalNames(db)), iterateDifferences(db, q));
}

async function writeAbnormalRefunds(f: ExportFile, db: Db, q: AbnormalRefundQuery) {
  await writeDetailRows(f, '异常退款', ABNORMAL_COLUMNS, iterateAbnormalRefunds(db, q));
}

/** Excel only: the differences and abnormal refunds of the report's days, on further sheets. */
async function writeDetailSheets(
  f: ExportFile,
  db: Db,
  range: { from: string; to: string; hospitalId: string },
) {
  if (f.format === 'csv') return;
  await writeDifferences(f, db, range);
  await writeAbnormalRefunds(f, db, range);
}

// ---------------------------------------------------------------- the downloads

/** The rows of the period's first sheet: each day's channels, a marker row for a day not reconciled. */
function* periodLines(report: Awaited<ReturnType<typeof periodSummary>>): Generator<PeriodLine> {
  const missing = new Set(report.missingDays);
  for (const day of report.days) {
    if (missing.has(day.date)) yield { date: day.date, missing: true };
    yield* report.rows.filter((r) => r.date === day.date);
  }
}

/**
 * One hospital's report over `from`..`to` as a file named `<title>_<hospital>_<days>`: its table (with the
 * totals row) on the first sheet; Excel adds the differences and abnormal refunds of the same days.
 */
function sendReportFile<T>(
  ctx: Context,
  db: Db,
  file: {
    format: ExportFormat;
    hospital: { id: string; code: string; name: string };
    title: string;
    kind: string;
    from: string;
    to: string;
  },
  sheet: { name: string; columns: readonly ExportColumn<T>[]; lines: Iterable<T> },
) {
  const { hospital: h, from, to } = file;
  const span = from === to ? from : `${from}_${to}`;
  return sendExportFile(
    ctx,
    {
      format: file.format,
      name: `${file.title}_${h.name}_${span}`,
      asciiName: `recon-${file.kind}-${h.code}-${span}`,
    },
    async (f) => {
      const t = f.table(sheet.name, sheet.columns);
      for (const line of sheet.lines) t.row(line);
      await t.end();
      await writeDetailSheets(f, db, { from, to, hospitalId: h.id });
    },
  );
}

/** A list over `from`..`to` (every hospital the admin sees unless narrowed) as a file `<title>_<from>_<to>`. */
function sendRangeFile(
  ctx: Context,
  file: { format: ExportFormat; title: string; kind: string; from: string; to: string },
  write: (f: ExportFile) => Promise<void>,
) {
  const range = `${file.from}_${file.to}`;
  return sendExportFile(
    ctx,
    { format: file.format, name: `${file.title}_${range}`, asciiName: `recon-${file.kind}-${range}` },
    write,
  );
}

/** The daily report of one hospital and day; Excel adds the day's differences and abnormal refunds. */
export async function exportDailyReport(
  db: Db,
  admin: AdminPrincipal,
  ctx: Context,
  q: z.infer<typeof DailyExportSchema>,
) {
  const report = await dailyReportFull(db, admin, q);
  return sendReportFile(
    ctx,
    db,
    {
      format: q.format,
      hospital: report.hospital,
      title: '对账日报',
      kind: 'daily',
      from: q.date,
      to: q.date,
    },
    { name: '对账日报', columns: DAILY_COLUMNS, lines: dailyLines(report) },
  );
}

/** The period summary (per day and channel) of one hospital; Excel adds the range's details. */
export async function exportPeriodReport(
  db: Db,
  admin: AdminPrincipal,
  ctx: Context,
  q: z.infer<typeof PeriodExportSchema>,
) {
  const report = await periodSummary(db, admin, q);
  return sendReportFile(
    ctx,
    db,
    {
      format: q.format,
      hospital: report.hospital,
      title: '对账报表',
      kind: 'period',
      from: q.from,
      to: q.to,
    },
    { name: '每日汇总', columns: PERIOD_COLUMNS, lines: periodLines(report) },
  );
}

/** The differences of a range, filtered like the 差异处理 list (every hospital the admin sees unless narrowed). */
export async function exportDifferences(
  db: Db,
  admin: AdminPrincipal,
  ctx: Context,
  q: z.infer<typeof DifferenceExportSchema>,
) {
  const filter = { ...q, hospitalId: scopeHospital(admin, q.hospitalId) };
  return sendRangeFile(ctx, { ...q, title: '对账差异明细', kind: 'differences' }, (f) =>
    writeDifferences(f, db, filter),
  );
}

/** The abnormal refunds of a range (every hospital the admin sees unless narrowed). */
export async function exportAbnormalRefunds(
  db: Db,
  admin: AdminPrincipal,
  ctx: Context,
  q: z.infer<typeof AbnormalRefundExportSchema>,
) {
  const filter = { from: q.from, to: q.to, hospitalId: scopeHospital(admin, q.hospitalId) };
  return sendRangeFile(ctx, { ...q, title: '异常退款', kind: 'abnormal-refunds' }, (f) =>
    writeAbnormalRefunds(f, db, filter),
  );
}
