import { and, count, desc, eq, gte, inArray, lt, ne, or, sql, type SQL } from 'drizzle-orm';
import { z } from 'zod';
import {
  adminAuditLogs,
  adminLoginLogs,
  alerts,
  bills,
  hisPushes,
  openApiCalls,
  orderBills,
  orderEvents,
  orders,
  outboundCalls,
  patientMessages,
  patients,
  payments,
  refunds,
  insuranceRefunds,
  insuranceSettlements,
} from '../../db/schema';
import type { Db } from '../../db/client';
import { AppError, notFound } from '../../lib/errors';
import { maskName } from '../../lib/mask';
import type { AdminPrincipal } from './auth-service';

/** Paging shared by every admin list: 1-based page, at most 100 rows. */
export const PageSchema = z.object({
  page: z.coerce.number().int().min(1).max(100000).default(1),
  pageSize: z.coerce.number().int().min(1).max(100).default(20),
});

/** A date (`YYYY-MM-DD`, China time, whole day) or an ISO date-time. */
const DateBound = z
  .string()
  .regex(/^\d{4}-\d{2}-\d{2}(T.*)?$/, 'must be YYYY-MM-DD or an ISO date-time')
  .refine((s) => !Number.isNaN(Date.parse(s.length === 10 ? `${s}T00:00:00+08:00` : s)), 'not a date');

export const RangeSchema = z.object({
  from: DateBound.optional(),
  to: DateBound.optional(),
  /** Super admins may narrow to one hospital; a hospital-bound admin always sees only theirs. */
  hospitalId: z.string().max(64).optional(),
});

/** `from` is inclusive; a date `to` includes that whole day. */
export function rangeBounds(r: { from?: string; to?: string }): { from?: Date; to?: Date } {
  const at = (s: string, endOfDay: boolean) => {
    if (s.length !== 10) return new Date(s);
    const d = new Date(`${s}T00:00:00+08:00`);
    return endOfDay ? new Date(d.getTime() + 86400_000) : d;
  };
  return { from: r.from ? at(r.from, false) : undefined, to: r.to ? at(r.to, true) : undefined };
}

export interface Page<T> {
  items: T[];
  total: number;
  page: number;
  pageSize: number;
}

/** The hospital an admin may look at: their own if bound to one, else the one asked for (or all). */
export function scopeHospital(admin: AdminPrincipal, asked?: string): string | undefined {
  if (admin.hospitalId) {
    if (asked && asked !== admin.hospitalId) throw notFound('hospital');
    return admin.hospitalId;
  }
  return asked;
}

const showName = (admin: AdminPrincipal, name: string | null) =>
  name === null ? null : admin.permissions.has('pii.view') ? name : maskName(name);

function timeWhere(col: Parameters<typeof gte>[0], r: { from?: string; to?: string }): SQL[] {
  const b = rangeBounds(r);
  const out: SQL[] = [];
  if (b.from) out.push(gte(col, b.from));
  if (b.to) out.push(lt(col, b.to));
  return out;
}

async function paged<T>(
  rows: Promise<T[]>,
  total: Promise<{ n: number }[]>,
  p: { page: number; pageSize: number },
): Promise<Page<T>> {
  const [items, [t]] = await Promise.all([rows, total]);
  return { items, total: t?.n ?? 0, page: p.page, pageSize: p.pageSize };
}

// ---------------------------------------------------------------- orders

export const OrderSearchSchema = PageSchema.extend(RangeSchema.shape).extend({
  status: z.string().max(32).optional(),
  channel: z.string().max(32).optional(),
  /** Our order number, the channel's transaction number or a HIS bill number. */
  no: z.string().max(64).optional(),
  /** Patient name or HIS patient id. */
  patient: z.string().max(64).optional(),
  oneSided: z.enum(['true', 'false']).optional(),
});

export async function searchOrders(db: Db, admin: AdminPrincipal, q: z.infer<typeof OrderSearchSchema>) {
  const hospitalId = scopeHospital(admin, q.hospitalId);
  const where: SQL[] = timeWhere(orders.createdAt, q);
  if (hospitalId) where.push(eq(orders.hospitalId, hospitalId));
  if (q.status) where.push(eq(orders.status, q.status));
  if (q.channel) where.push(eq(orders.channel, q.channel));
  if (q.oneSided) where.push(eq(orders.oneSided, q.oneSided === 'true'));
  if (q.no) {
    where.push(
      or(
        eq(orders.orderNo, q.no),
        sql`${orders.id} IN (SELECT ${payments.orderId} FROM ${payments} WHERE ${payments.channelTradeNo} = ${q.no})`,
        sql`${orders.id} IN (SELECT ${orderBills.orderId} FROM ${orderBills} JOIN ${bills} ON ${bills.id} = ${orderBills.billId} WHERE ${bills.hisBillNo} = ${q.no})`,
      )!,
    );
  }
  if (q.patient) where.push(or(eq(patients.hisPatientId, q.patient), eq(patients.name, q.patient))!);
  const cond = where.length ? and(...where) : undefined;
  const res = await paged(
    db
      .select({
        id: orders.id,
        orderNo: orders.orderNo,
        hospitalId: orders.hospitalId,
        status: orders.status,
        amountFen: orders.amountFen,
        refundedFen: orders.refundedFen,
        channel: orders.channel,
        tradeType: orders.tradeType,
        hisSyncStatus: orders.hisSyncStatus,
        oneSided: orders.oneSided,
        paidAt: orders.paidAt,
        createdAt: orders.createdAt,
        patientName: patients.name,
        hisPatientId: patients.hisPatientId,
      })
      .from(orders)
      .innerJoin(patients, eq(patients.id, orders.patientId))
      .where(cond)
      .orderBy(desc(orders.createdAt), desc(orders.id))
      .limit(q.pageSize)
      .offset((q.page - 1) * q.pageSize),
    db.select({ n: count() }).from(orders).innerJoin(patients, eq(patients.id, orders.patientId)).where(cond),
    q,
  );
  return { ...res, items: res.items.map((o) => ({ ...o, patientName: showName(admin, o.patientName) })) };
}

/** One order with everything finance needs to judge it: bills, timeline, payments, refunds, HIS pushes, alerts. */
export async function orderDetail(db: Db, admin: AdminPrincipal, orderId: string) {
  const [row] = await db
    .select({ o: orders, patientName: patients.name, hisPatientId: patients.hisPatientId })
    .from(orders)
    .innerJoin(patients, eq(patients.id, orders.patientId))
    .where(eq(orders.id, orderId));
  if (!row || (admin.hospitalId && row.o.hospitalId !== admin.hospitalId)) throw notFound('order');
  const [billRows, events, paymentRows, refundRows, pushes, alertRows] = await Promise.all([
    db
      .select({
        id: bills.id,
        hisBillNo: bills.hisBillNo,
        title: bills.title,
        department: bills.department,
        amountFen: orderBills.amountFen,
        status: bills.status,
      })
      .from(orderBills)
      .innerJoin(bills, eq(bills.id, orderBills.billId))
      .where(eq(orderBills.orderId, orderId)),
    db.select().from(orderEvents).where(eq(orderEvents.orderId, orderId)).orderBy(orderEvents.id),
    db
      .select({
        id: payments.id,
        channel: payments.channel,
        tradeType: payments.tradeType,
        outTradeNo: payments.outTradeNo,
        channelTradeNo: payments.channelTradeNo,
        amountFen: payments.amountFen,
        status: payments.status,
        paidAt: payments.paidAt,
        createdAt: payments.createdAt,
      })
      .from(payments)
      .where(eq(payments.orderId, orderId))
      .orderBy(payments.createdAt),
    db.select().from(refunds).where(eq(refunds.orderId, orderId)).orderBy(refunds.createdAt),
    db.select().from(hisPushes).where(eq(hisPushes.orderId, orderId)).orderBy(hisPushes.createdAt),
    db.select().from(alerts).where(eq(alerts.orderId, orderId)).orderBy(alerts.createdAt),
  ]);
  // The insurance part (医保) of an order that has one: the split as quoted and settled, and its refunds.
  const [ins] = await db.select().from(insuranceSettlements).where(eq(insuranceSettlements.orderId, orderId));
  const insRefunds = ins
    ? await db
        .select()
        .from(insuranceRefunds)
        .where(eq(insuranceRefunds.orderId, orderId))
        .orderBy(insuranceRefunds.createdAt)
    : [];
  return {
    order: {
      ...row.o,
      patientName: showName(admin, row.patientName),
      hisPatientId: row.hisPatientId,
      refundableFen: row.o.amountFen - row.o.refundedFen,
    },
    bills: billRows,
    events,
    payments: paymentRows,
    refunds: refundRows,
    hisPushes: pushes,
    alerts: alertRows,
    insurance: ins
      ? {
          status: ins.status,
          settleChannel: ins.settleChannel,
          payOrdId: ins.payOrdId,
          settlementId: ins.settlementId,
          mixTradeNo: ins.mixTradeNo,
          split: {
            totalFen: ins.totalFen,
            fundFen: ins.fundFen,
            psnAcctFen: ins.psnAcctFen,
            otherFen: ins.otherFen,
            cashFen: ins.cashFen,
          },
          refunded: {
            fundFen: ins.refundedFundFen,
            psnAcctFen: ins.refundedPsnAcctFen,
            otherFen: ins.refundedOtherFen,
          },
          settledAt: ins.settledAt,
          error: ins.errorMessage,
          refunds: insRefunds.map((r) => ({
            id: r.id,
            refundNo: r.refundNo,
            hisRefundNo: r.hisRefundNo,
            kind: r.kind,
            status: r.status,
            repair: r.repair,
            fundFen: r.fundFen,
            psnAcctFen: r.psnAcctFen,
            otherFen: r.otherFen,
            cashFen: r.cashFen,
            reason: r.reason,
            requestedBy: r.requestedBy,
            succeededAt: r.succeededAt,
            createdAt: r.createdAt,
          })),
        }
      : null,
  };
}

// ---------------------------------------------------------------- refunds

export const RefundSearchSchema = PageSchema.extend(RangeSchema.shape).extend({
  status: z.string().max(32).optional(),
  method: z.enum(['CHANNEL', 'CASH']).optional(),
  no: z.string().max(64).optional(),
});

export async function searchRefunds(db: Db, admin: AdminPrincipal, q: z.infer<typeof RefundSearchSchema>) {
  const hospitalId = scopeHospital(admin, q.hospitalId);
  const where: SQL[] = timeWhere(refunds.createdAt, q);
  if (hospitalId) where.push(eq(refunds.hospitalId, hospitalId));
  if (q.status) where.push(eq(refunds.status, q.status));
  if (q.method) where.push(eq(refunds.method, q.method));
  if (q.no)
    where.push(or(eq(refunds.refundNo, q.no), eq(refunds.hisRefundNo, q.no), eq(orders.orderNo, q.no))!);
  const cond = where.length ? and(...where) : undefined;
  return paged(
    db
      .select({
        id: refunds.id,
        refundNo: refunds.refundNo,
        hisRefundNo: refunds.hisRefundNo,
        orderId: refunds.orderId,
        orderNo: orders.orderNo,
        channel: orders.channel,
        amountFen: refunds.amountFen,
        method: refunds.method,
        status: refunds.status,
        reason: refunds.reason,
        requestedBy: refunds.requestedBy,
        errorCode: refunds.errorCode,
        errorMessage: refunds.errorMessage,
        succeededAt: refunds.succeededAt,
        createdAt: refunds.createdAt,
      })
      .from(refunds)
      .innerJoin(orders, eq(orders.id, refunds.orderId))
      .where(cond)
      .orderBy(desc(refunds.createdAt))
      .limit(q.pageSize)
      .offset((q.page - 1) * q.pageSize),
    db.select({ n: count() }).from(refunds).innerJoin(orders, eq(orders.id, refunds.orderId)).where(cond),
    q,
  );
}

// ---------------------------------------------------------------- logs

export const OutboundLogSchema = PageSchema.extend(RangeSchema.shape).extend({
  party: z.string().max(32).optional(),
  operation: z.string().max(64).optional(),
  orderNo: z.string().max(64).optional(),
  result: z.enum(['SUCCESS', 'FAIL', 'PENDING', 'UNKNOWN']).optional(),
  /** Only failed calls (result other than SUCCESS). */
  failed: z.enum(['true', 'false']).optional(),
});

/** The interface log (接口日志): every call to a channel or the HIS. Payloads were masked when recorded. */
export async function searchOutboundCalls(
  db: Db,
  admin: AdminPrincipal,
  q: z.infer<typeof OutboundLogSchema>,
) {
  const hospitalId = scopeHospital(admin, q.hospitalId);
  const where: SQL[] = timeWhere(outboundCalls.createdAt, q);
  if (hospitalId) where.push(eq(outboundCalls.hospitalId, hospitalId));
  if (q.party) where.push(eq(outboundCalls.party, q.party));
  if (q.operation) where.push(eq(outboundCalls.operation, q.operation));
  if (q.orderNo) where.push(eq(outboundCalls.orderNo, q.orderNo));
  if (q.result) where.push(eq(outboundCalls.result, q.result));
  if (q.failed === 'true') where.push(ne(outboundCalls.result, 'SUCCESS'));
  const cond = where.length ? and(...where) : undefined;
  return paged(
    db
      .select()
      .from(outboundCalls)
      .where(cond)
      .orderBy(desc(outboundCalls.createdAt), desc(outboundCalls.id))
      .limit(q.pageSize)
      .offset((q.page - 1) * q.pageSize),
    db.select({ n: count() }).from(outboundCalls).where(cond),
    q,
  );
}

export const AbnormalSchema = PageSchema.extend(RangeSchema.shape).extend({
  source: z.enum(['outbound', 'open_api', 'notification']).optional(),
});

/**
 * Abnormal requests (异常请求), derived from three logs: our calls that failed or got no answer, HIS calls
 * to us that we refused (HTTP ≥ 400), and channel notifications we rejected or flagged as conflicts.
 */
export async function searchAbnormal(db: Db, admin: AdminPrincipal, q: z.infer<typeof AbnormalSchema>) {
  const hospitalId = scopeHospital(admin, q.hospitalId);
  const b = rangeBounds(q);
  const common = (col: SQL) => {
    const parts: SQL[] = [];
    if (b.from) parts.push(sql`${col} >= ${b.from}`);
    if (b.to) parts.push(sql`${col} < ${b.to}`);
    return parts;
  };
  const hosp = (col: SQL) => (hospitalId ? [sql`${col} = ${hospitalId}`] : []);
  const w = (parts: SQL[]) => (parts.length ? sql`AND ${sql.join(parts, sql` AND `)}` : sql``);
  const selects: SQL[] = [];
  if (!q.source || q.source === 'outbound')
    selects.push(sql`SELECT 'outbound' AS source, id::text AS id, hospital_id, created_at AS at, party AS subject,
      operation AS action, order_no AS ref, result AS status, error_code, error_message AS message, latency_ms
      FROM outbound_calls WHERE result <> 'SUCCESS' ${w([...common(sql`created_at`), ...hosp(sql`hospital_id`)])}`);
  if (!q.source || q.source === 'open_api')
    selects.push(sql`SELECT 'open_api', id::text, hospital_id, created_at, coalesce(app_id, '-'), method || ' ' || path,
      request_id, http_status::text, error_code, NULL, latency_ms
      FROM open_api_calls WHERE http_status >= 400 ${w([...common(sql`created_at`), ...hosp(sql`hospital_id`)])}`);
  if (!q.source || q.source === 'notification')
    selects.push(sql`SELECT 'notification', id::text, hospital_id, received_at, channel, coalesce(event_type, '-'),
      out_trade_no, outcome, NULL, error, NULL
      FROM notification_inbox WHERE outcome IN ('rejected', 'conflict') ${w([...common(sql`received_at`), ...hosp(sql`hospital_id`)])}`);
  const union = sql.join(selects, sql` UNION ALL `);
  const exec = async <T>(query: SQL) => ((await db.execute(query)) as unknown as { rows: T[] }).rows;
  const rows = await exec<Record<string, unknown>>(
    sql`SELECT * FROM (${union}) a ORDER BY at DESC, id DESC LIMIT ${q.pageSize} OFFSET ${(q.page - 1) * q.pageSize}`,
  );
  const [tot] = await exec<{ n: number }>(sql`SELECT count(*)::int AS n FROM (${union}) a`);
  return {
    items: rows.map((r) => ({
      source: r.source as string,
      id: r.id as string,
      hospitalId: r.hospital_id as string | null,
      at: new Date(r.at as string).toISOString(),
      subject: r.subject as string,
      action: r.action as string,
      ref: r.ref as string | null,
      status: r.status as string,
      errorCode: r.error_code as string | null,
      message: r.message as string | null,
      latencyMs: r.latency_ms as number | null,
    })),
    total: tot?.n ?? 0,
    page: q.page,
    pageSize: q.pageSize,
  };
}

export const OpenApiLogSchema = PageSchema.extend(RangeSchema.shape).extend({
  appId: z.string().max(64).optional(),
  path: z.string().max(200).optional(),
  failed: z.enum(['true', 'false']).optional(),
});

/** The open-API log: every call the HIS made to us. */
export async function searchOpenApiCalls(db: Db, admin: AdminPrincipal, q: z.infer<typeof OpenApiLogSchema>) {
  const hospitalId = scopeHospital(admin, q.hospitalId);
  const where: SQL[] = timeWhere(openApiCalls.createdAt, q);
  if (hospitalId) where.push(eq(openApiCalls.hospitalId, hospitalId));
  if (q.appId) where.push(eq(openApiCalls.appId, q.appId));
  if (q.path) where.push(sql`${openApiCalls.path} LIKE ${`${q.path.replace(/[%_\\]/g, '\\$&')}%`}`);
  if (q.failed === 'true') where.push(gte(openApiCalls.httpStatus, 400));
  const cond = where.length ? and(...where) : undefined;
  return paged(
    db
      .select()
      .from(openApiCalls)
      .where(cond)
      .orderBy(desc(openApiCalls.createdAt), desc(openApiCalls.id))
      .limit(q.pageSize)
      .offset((q.page - 1) * q.pageSize),
    db.select({ n: count() }).from(openApiCalls).where(cond),
    q,
  );
}

export const LoginLogSchema = PageSchema.extend(RangeSchema.shape).extend({
  username: z.string().max(64).optional(),
  event: z.enum(['login', 'logout', 'failed', 'locked', 'refresh_reuse']).optional(),
});

export async function searchLoginLogs(db: Db, q: z.infer<typeof LoginLogSchema>) {
  const where: SQL[] = timeWhere(adminLoginLogs.createdAt, q);
  if (q.username) where.push(eq(adminLoginLogs.username, q.username));
  if (q.event) where.push(eq(adminLoginLogs.event, q.event));
  const cond = where.length ? and(...where) : undefined;
  return paged(
    db
      .select()
      .from(adminLoginLogs)
      .where(cond)
      .orderBy(desc(adminLoginLogs.createdAt), desc(adminLoginLogs.id))
      .limit(q.pageSize)
      .offset((q.page - 1) * q.pageSize),
    db.select({ n: count() }).from(adminLoginLogs).where(cond),
    q,
  );
}

export const AuditLogSchema = PageSchema.extend(RangeSchema.shape).extend({
  username: z.string().max(64).optional(),
  action: z.string().max(64).optional(),
  targetType: z.string().max(64).optional(),
  targetId: z.string().max(64).optional(),
});

export async function searchAuditLogs(db: Db, q: z.infer<typeof AuditLogSchema>) {
  const where: SQL[] = timeWhere(adminAuditLogs.createdAt, q);
  if (q.username) where.push(eq(adminAuditLogs.username, q.username));
  if (q.action) where.push(eq(adminAuditLogs.action, q.action));
  if (q.targetType) where.push(eq(adminAuditLogs.targetType, q.targetType));
  if (q.targetId) where.push(eq(adminAuditLogs.targetId, q.targetId));
  const cond = where.length ? and(...where) : undefined;
  return paged(
    db
      .select()
      .from(adminAuditLogs)
      .where(cond)
      .orderBy(desc(adminAuditLogs.createdAt), desc(adminAuditLogs.id))
      .limit(q.pageSize)
      .offset((q.page - 1) * q.pageSize),
    db.select({ n: count() }).from(adminAuditLogs).where(cond),
    q,
  );
}

// ---------------------------------------------------------------- alerts

export const AlertSearchSchema = PageSchema.extend(RangeSchema.shape).extend({
  status: z.enum(['OPEN', 'RESOLVED']).optional(),
  severity: z.string().max(16).optional(),
  kind: z.string().max(64).optional(),
});

export async function searchAlerts(db: Db, admin: AdminPrincipal, q: z.infer<typeof AlertSearchSchema>) {
  const hospitalId = scopeHospital(admin, q.hospitalId);
  const where: SQL[] = timeWhere(alerts.createdAt, q);
  if (hospitalId) where.push(eq(alerts.hospitalId, hospitalId));
  if (q.status) where.push(eq(alerts.status, q.status));
  if (q.severity) where.push(eq(alerts.severity, q.severity));
  if (q.kind) where.push(eq(alerts.kind, q.kind));
  const cond = where.length ? and(...where) : undefined;
  return paged(
    db
      .select()
      .from(alerts)
      .where(cond)
      .orderBy(desc(alerts.createdAt), desc(alerts.id))
      .limit(q.pageSize)
      .offset((q.page - 1) * q.pageSize),
    db.select({ n: count() }).from(alerts).where(cond),
    q,
  );
}

// ---------------------------------------------------------------- messages to patients

export const PatientMessageSearchSchema = PageSchema.extend(RangeSchema.shape).extend({
  patientId: z.string().max(64).optional(),
  kind: z.string().max(40).optional(),
  unread: z.enum(['true', 'false']).optional(),
});

/** What the platform told patients (payment, refund, credit debit failed, bill waiting), newest first. */
export async function searchPatientMessages(
  db: Db,
  admin: AdminPrincipal,
  q: z.infer<typeof PatientMessageSearchSchema>,
) {
  const hospitalId = scopeHospital(admin, q.hospitalId);
  const where: SQL[] = timeWhere(patientMessages.createdAt, q);
  if (hospitalId) where.push(eq(patientMessages.hospitalId, hospitalId));
  if (q.patientId) where.push(eq(patientMessages.patientId, q.patientId));
  if (q.kind) where.push(eq(patientMessages.kind, q.kind));
  if (q.unread)
    where.push(sql`${patientMessages.readAt} IS ${sql.raw(q.unread === 'true' ? 'NULL' : 'NOT NULL')}`);
  const cond = where.length ? and(...where) : undefined;
  const page = await paged(
    db
      .select({ m: patientMessages, patientName: patients.name })
      .from(patientMessages)
      .leftJoin(patients, eq(patients.id, patientMessages.patientId))
      .where(cond)
      .orderBy(desc(patientMessages.createdAt), desc(patientMessages.id))
      .limit(q.pageSize)
      .offset((q.page - 1) * q.pageSize),
    db.select({ n: count() }).from(patientMessages).where(cond),
    q,
  );
  return {
    ...page,
    items: page.items.map(({ m, patientName }) => ({
      id: m.id,
      hospitalId: m.hospitalId,
      patientId: m.patientId,
      patientName: showName(admin, patientName),
      kind: m.kind,
      title: m.title,
      body: m.body,
      refs: m.refs as Record<string, string>,
      readAt: m.readAt?.toISOString() ?? null,
      createdAt: m.createdAt.toISOString(),
    })),
  };
}

// ---------------------------------------------------------------- dashboard

/**
 * Today's figures (China day): income per channel, success rate, orders needing attention, refunds; and two
 * series for the charts: today by hour and the last 14 days.
 */
export async function dashboard(db: Db, admin: AdminPrincipal, now: Date, askedHospital?: string) {
  const hospitalId = scopeHospital(admin, askedHospital);
  const dayStart = new Date(
    `${new Date(now.getTime() + 8 * 3600_000).toISOString().slice(0, 10)}T00:00:00+08:00`,
  );
  const h = hospitalId ? eq(orders.hospitalId, hospitalId) : undefined;
  const paidStates = ['PAID', 'SETTLED', 'REFUNDING', 'PARTIALLY_REFUNDED', 'REFUNDED'];
  const seriesDays = 14;
  const seriesStart = new Date(dayStart.getTime() - (seriesDays - 1) * 86400_000);
  // China time as text keys (hour of today, day of the series); orders live at most a day before they are
  // paid, so the indexed created_at bound only narrows the scan.
  const chinaHour = sql<number>`extract(hour from (${orders.paidAt} AT TIME ZONE 'UTC') + interval '8 hours')::int`;
  const chinaDay = sql<string>`to_char((${orders.paidAt} AT TIME ZONE 'UTC') + interval '8 hours', 'YYYY-MM-DD')`;
  const paidSince = (from: Date) =>
    and(
      h,
      gte(orders.createdAt, new Date(from.getTime() - 86400_000)),
      gte(orders.paidAt, from),
      inArray(orders.status, paidStates),
    );
  const [income, byStatus, attention, openAlerts, hourlyRows, dailyRows, refundRows] = await Promise.all([
    db
      .select({
        channel: orders.channel,
        orders: count(),
        amountFen: sql<number>`coalesce(sum(${orders.amountFen}), 0)::bigint`.mapWith(Number),
        refundedFen: sql<number>`coalesce(sum(${orders.refundedFen}), 0)::bigint`.mapWith(Number),
      })
      .from(orders)
      .where(and(h, gte(orders.paidAt, dayStart), inArray(orders.status, paidStates)))
      .groupBy(orders.channel),
    db
      .select({ status: orders.status, n: count() })
      .from(orders)
      .where(and(h, gte(orders.createdAt, dayStart)))
      .groupBy(orders.status),
    db
      .select({
        paying: sql<number>`count(*) FILTER (WHERE ${orders.status} = 'PAYING')`.mapWith(Number),
        conflicted: sql<number>`count(*) FILTER (WHERE ${orders.status} = 'CONFLICTED')`.mapWith(Number),
        oneSided: sql<number>`count(*) FILTER (WHERE ${orders.oneSided})`.mapWith(Number),
        refunding: sql<number>`count(*) FILTER (WHERE ${orders.status} = 'REFUNDING')`.mapWith(Number),
      })
      .from(orders)
      .where(and(h, inArray(orders.status, ['PAYING', 'CONFLICTED', 'REFUNDING', 'PAID', 'SETTLED']))),
    db
      .select({ n: count() })
      .from(alerts)
      .where(and(eq(alerts.status, 'OPEN'), hospitalId ? eq(alerts.hospitalId, hospitalId) : undefined)),
    db
      .select({
        hour: chinaHour.mapWith(Number),
        channel: orders.channel,
        orders: count(),
        amountFen: sql<number>`coalesce(sum(${orders.amountFen}), 0)::bigint`.mapWith(Number),
      })
      .from(orders)
      .where(paidSince(dayStart))
      .groupBy(chinaHour, orders.channel),
    db
      .select({
        day: chinaDay,
        orders: count(),
        amountFen: sql<number>`coalesce(sum(${orders.amountFen}), 0)::bigint`.mapWith(Number),
        refundedFen: sql<number>`coalesce(sum(${orders.refundedFen}), 0)::bigint`.mapWith(Number),
      })
      .from(orders)
      .where(paidSince(seriesStart))
      .groupBy(chinaDay),
    db
      .select({
        n: count(),
        amountFen: sql<number>`coalesce(sum(${refunds.amountFen}), 0)::bigint`.mapWith(Number),
      })
      .from(refunds)
      .where(
        and(
          hospitalId ? eq(refunds.hospitalId, hospitalId) : undefined,
          eq(refunds.status, 'SUCCESS'),
          gte(refunds.succeededAt, dayStart),
        ),
      ),
  ]);
  const created = byStatus.reduce((a, r) => a + r.n, 0);
  const succeeded = byStatus.filter((r) => paidStates.includes(r.status)).reduce((a, r) => a + r.n, 0);
  const finished = byStatus
    .filter((r) => !['CREATED', 'PAYING'].includes(r.status))
    .reduce((a, r) => a + r.n, 0);
  return {
    day: dayStart.toISOString(),
    income: income.map((r) => ({ ...r, netFen: r.amountFen - r.refundedFen })),
    totalIncomeFen: income.reduce((a, r) => a + r.amountFen, 0),
    ordersToday: created,
    successRate: finished ? succeeded / finished : null,
    byStatus,
    attention: { ...attention[0]!, openAlerts: openAlerts[0]?.n ?? 0 },
    refundsToday: { count: refundRows[0]?.n ?? 0, amountFen: refundRows[0]?.amountFen ?? 0 },
    /** Today by China hour (0–23, only hours with income) and channel: paid orders and their amount. */
    hourly: hourlyRows.sort((a, b) => a.hour - b.hour || a.channel.localeCompare(b.channel)),
    /** The last 14 China days, oldest first, every day present: paid orders, amount, refunded since. */
    daily: Array.from({ length: seriesDays }, (_, i) => {
      const day = new Date(seriesStart.getTime() + i * 86400_000 + 8 * 3600_000).toISOString().slice(0, 10);
      const r = dailyRows.find((d) => d.day === day);
      return { day, orders: r?.orders ?? 0, amountFen: r?.amountFen ?? 0, refundedFen: r?.refundedFen ?? 0 };
    }),
  };
}

export function assertSameHospital(admin: AdminPrincipal, hospitalId: string | null) {
  if (admin.hospitalId && hospitalId !== admin.hospitalId) throw new AppError('not_found', 'not found');
}
