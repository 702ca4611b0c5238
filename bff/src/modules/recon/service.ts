import { and, desc, eq, inArray, or, sql, type SQL } from 'drizzle-orm';
import { z } from 'zod';
import type { Db } from '../../db/client';
import { hospitals } from '../../db/schema';
import {
  hisLedgerLines,
  hisLedgers,
  reconItems,
  reconRuns,
  reconStatementLines,
  reconStatements,
} from '../../db/schema-recon';
import type { Deps } from '../../deps';
import { AppError, notFound } from '../../lib/errors';
import type { AdminPrincipal } from '../admin/auth-service';
import { orderDetail, PageSchema, scopeHospital } from '../admin/queries';
import { audit, type Actor } from '../admin/service';
import { requestRefund } from '../refunds/service';
import { fetchStatements } from './daily-job';
import { isBusinessDate } from './dates';
import { RECON_OUTCOMES, runReconciliation } from './engine';

const BusinessDate = z.string().refine(isBusinessDate, 'a date as YYYY-MM-DD');

export const ReconRunSearchSchema = PageSchema.extend({
  date: BusinessDate.optional(),
  hospitalId: z.string().max(64).optional(),
});

export async function searchRuns(db: Db, admin: AdminPrincipal, q: z.infer<typeof ReconRunSearchSchema>) {
  const hospitalId = scopeHospital(admin, q.hospitalId);
  const where: SQL[] = [];
  if (hospitalId) where.push(eq(reconRuns.hospitalId, hospitalId));
  if (q.date) where.push(eq(reconRuns.businessDate, q.date));
  const cond = where.length ? and(...where) : undefined;
  const [rows, [count]] = await Promise.all([
    db
      .select()
      .from(reconRuns)
      .where(cond)
      .orderBy(desc(reconRuns.businessDate), desc(reconRuns.startedAt))
      .limit(q.pageSize)
      .offset((q.page - 1) * q.pageSize),
    db
      .select({ n: sql<number>`count(*)`.mapWith(Number) })
      .from(reconRuns)
      .where(cond),
  ]);
  return { items: rows, total: count?.n ?? 0, page: q.page, pageSize: q.pageSize };
}

export const ReconItemSearchSchema = PageSchema.extend({
  from: BusinessDate.optional(),
  to: BusinessDate.optional(),
  hospitalId: z.string().max(64).optional(),
  status: z.enum(['HOLDING', 'OPEN', 'RESOLVED']).optional(),
  outcome: z.enum(RECON_OUTCOMES).optional(),
  channel: z.string().max(32).optional(),
  /** Payment, refund or order number. */
  no: z.string().max(64).optional(),
});

export async function searchItems(db: Db, admin: AdminPrincipal, q: z.infer<typeof ReconItemSearchSchema>) {
  const hospitalId = scopeHospital(admin, q.hospitalId);
  const where: SQL[] = [];
  if (hospitalId) where.push(eq(reconItems.hospitalId, hospitalId));
  if (q.from) where.push(sql`${reconItems.businessDate} >= ${q.from}`);
  if (q.to) where.push(sql`${reconItems.businessDate} <= ${q.to}`);
  if (q.status) where.push(eq(reconItems.status, q.status));
  if (q.outcome) where.push(eq(reconItems.outcome, q.outcome));
  if (q.channel) where.push(eq(reconItems.channel, q.channel));
  if (q.no) where.push(or(eq(reconItems.keyNo, q.no), eq(reconItems.orderNo, q.no))!);
  const cond = where.length ? and(...where) : undefined;
  const [rows, [count]] = await Promise.all([
    db
      .select()
      .from(reconItems)
      .where(cond)
      .orderBy(desc(reconItems.businessDate), reconItems.id)
      .limit(q.pageSize)
      .offset((q.page - 1) * q.pageSize),
    db
      .select({ n: sql<number>`count(*)`.mapWith(Number) })
      .from(reconItems)
      .where(cond),
  ]);
  return { items: rows, total: count?.n ?? 0, page: q.page, pageSize: q.pageSize };
}

async function itemFor(db: Db, admin: AdminPrincipal, id: number) {
  const [item] = await db.select().from(reconItems).where(eq(reconItems.id, id));
  if (!item || (admin.hospitalId && item.hospitalId !== admin.hospitalId))
    throw notFound('reconciliation item');
  return item;
}

/**
 * One difference side by side: the channel's statement lines, our order (with its events, payments, refunds
 * and HIS pushes) and the HIS ledger's records for the same number, on any day.
 */
export async function itemDetail(db: Db, admin: AdminPrincipal, id: number) {
  const item = await itemFor(db, admin, id);
  const pay = item.kind === 'PAYMENT';
  const [channelLines, hisLines] = await Promise.all([
    db
      .select()
      .from(reconStatementLines)
      .where(
        and(
          eq(reconStatementLines.hospitalId, item.hospitalId),
          eq(reconStatementLines.kind, item.kind),
          pay ? eq(reconStatementLines.orderNo, item.keyNo) : eq(reconStatementLines.refundNo, item.keyNo),
        ),
      ),
    db
      .select()
      .from(hisLedgerLines)
      .where(
        and(
          eq(hisLedgerLines.hospitalId, item.hospitalId),
          eq(hisLedgerLines.kind, item.kind),
          pay ? eq(hisLedgerLines.orderNo, item.keyNo) : eq(hisLedgerLines.refundNo, item.keyNo),
        ),
      ),
  ]);
  const order = item.orderId ? await orderDetail(db, admin, item.orderId).catch(() => null) : null;
  return { item, channel: channelLines, platform: order, his: hisLines };
}

export const ResolveItemSchema = z.object({ reason: z.string().trim().min(2).max(500) }).strict();

/** Closes a difference with a reason (账务已核实、人工调账…). Audited. */
export async function resolveItem(deps: Deps, actor: Actor, id: number, reason: string) {
  const item = await itemFor(deps.db, actor.admin, id);
  return deps.db.transaction(async (tx) => {
    const [done] = await tx
      .update(reconItems)
      .set({
        status: 'RESOLVED',
        resolution: 'manual',
        resolvedBy: `admin:${actor.admin.id}`,
        resolvedAt: new Date(),
        note: reason,
        updatedAt: new Date(),
      })
      .where(and(eq(reconItems.id, item.id), inArray(reconItems.status, ['HOLDING', 'OPEN'])))
      .returning();
    if (!done) throw new AppError('conflict', 'this difference is already resolved');
    await audit(tx, actor, {
      action: 'recon.resolve',
      targetType: 'recon_item',
      targetId: String(item.id),
      before: { status: item.status },
      after: { status: 'RESOLVED', resolution: 'manual', reason },
    });
    return done;
  });
}

/** Payments the channel took that the HIS never recorded: the money goes back to the patient. */
const REFUNDABLE_OUTCOMES = ['his_missing', 'platform_only', 'status_mismatch'];

/**
 * Refunds the payment behind a difference (everything still refundable) and closes the difference as
 * refunded; the refund itself follows the usual path (channel, notification, HIS push). Audited.
 */
export async function refundItem(deps: Deps, actor: Actor, id: number, reason: string) {
  const item = await itemFor(deps.db, actor.admin, id);
  if (item.kind !== 'PAYMENT' || !REFUNDABLE_OUTCOMES.includes(item.outcome) || !item.orderNo)
    throw new AppError('bad_request', 'only a payment the HIS never recorded can be refunded from here');
  if (item.status === 'RESOLVED') throw new AppError('conflict', 'this difference is already resolved');
  const refund = await requestRefund(deps, {
    hospitalId: item.hospitalId,
    orderNo: item.orderNo,
    reason: `对账差异退款：${reason}`,
    requestedBy: `admin:${actor.admin.id}`,
  });
  await deps.db.transaction(async (tx) => {
    await tx
      .update(reconItems)
      .set({
        status: 'RESOLVED',
        resolution: 'refunded',
        resolvedBy: `admin:${actor.admin.id}`,
        resolvedAt: new Date(),
        note: `${reason}（退款单 ${refund.refundNo}）`,
        updatedAt: new Date(),
      })
      .where(eq(reconItems.id, item.id));
    await audit(tx, actor, {
      action: 'recon.refund',
      targetType: 'recon_item',
      targetId: String(item.id),
      before: { status: item.status },
      after: { status: 'RESOLVED', resolution: 'refunded', refundNo: refund.refundNo, reason },
    });
  });
  return refund;
}

export const TriggerRunSchema = z
  .object({ date: BusinessDate, hospitalId: z.string().max(64).optional() })
  .strict();

/** Runs the engine now for one day (a hospital admin: their hospital; a super admin: one or every hospital). */
export async function triggerRun(deps: Deps, actor: Actor, input: z.infer<typeof TriggerRunSchema>) {
  const scoped = scopeHospital(actor.admin, input.hospitalId);
  const ids = scoped
    ? [scoped]
    : (await deps.db.select({ id: hospitals.id }).from(hospitals)).map((h) => h.id);
  const results = [];
  for (const hospitalId of ids) {
    // Statements not in yet are fetched first, as the daily job would.
    await fetchStatements(deps, hospitalId, input.date, `admin:${actor.admin.id}`);
    results.push(
      await runReconciliation(deps, { hospitalId, date: input.date, triggeredBy: `admin:${actor.admin.id}` }),
    );
  }
  await audit(deps.db, actor, {
    action: 'recon.run',
    targetType: 'recon_run',
    targetId: results.map((r) => r.runId).join(','),
    after: { date: input.date, hospitals: ids },
  });
  return { runs: results };
}

export const DailyReportSchema = z.object({
  date: BusinessDate,
  hospitalId: z.string().max(64).optional(),
});

/**
 * The daily report finance signs off (对账日报), from the day's latest finished run: per channel, what the
 * HIS recorded, what the platform took and what the channel settled, with the difference, fees and the
 * expected bank arrival (channel payments − refunds − fees), plus the HIS's offline income and the state
 * of the day's statements, ledger and differences.
 */
export async function dailyReport(db: Db, admin: AdminPrincipal, q: z.infer<typeof DailyReportSchema>) {
  const hospitalId = scopeHospital(admin, q.hospitalId) ?? (await firstHospital(db));
  const [run] = await db
    .select()
    .from(reconRuns)
    .where(
      and(
        eq(reconRuns.hospitalId, hospitalId),
        eq(reconRuns.businessDate, q.date),
        eq(reconRuns.status, 'DONE'),
      ),
    )
    .orderBy(desc(reconRuns.startedAt))
    .limit(1);
  const [statements, [ledger], openItems] = await Promise.all([
    db
      .select({
        merchantAccountId: reconStatements.merchantAccountId,
        channel: reconStatements.channel,
        billType: reconStatements.billType,
        status: reconStatements.status,
        lineCount: reconStatements.lineCount,
        errorMessage: reconStatements.errorMessage,
      })
      .from(reconStatements)
      .where(and(eq(reconStatements.hospitalId, hospitalId), eq(reconStatements.billDate, q.date))),
    db
      .select({
        version: hisLedgers.version,
        lineCount: hisLedgers.lineCount,
        receivedAt: hisLedgers.receivedAt,
      })
      .from(hisLedgers)
      .where(and(eq(hisLedgers.hospitalId, hospitalId), eq(hisLedgers.ledgerDate, q.date))),
    db
      .select({
        outcome: reconItems.outcome,
        status: reconItems.status,
        n: sql<number>`count(*)`.mapWith(Number),
        platformFen: sql<number>`coalesce(sum(${reconItems.platformFen}), 0)`.mapWith(Number),
        channelFen: sql<number>`coalesce(sum(${reconItems.channelFen}), 0)`.mapWith(Number),
      })
      .from(reconItems)
      .where(and(eq(reconItems.hospitalId, hospitalId), eq(reconItems.businessDate, q.date)))
      .groupBy(reconItems.outcome, reconItems.status),
  ]);
  type Row = {
    channel: string;
    kind: 'PAYMENT' | 'REFUND';
    channelFen: number;
    channelFeeFen: number;
    platformFen: number;
    hisFen: number;
    channelCount: number;
    platformCount: number;
    hisCount: number;
    differences: number;
  };
  const rows = ((run?.summary as { rows?: Row[] } | undefined)?.rows ?? []) as Row[];
  const channels = [...new Set(rows.map((r) => r.channel))].map((channel) => {
    const pay = rows.find((r) => r.channel === channel && r.kind === 'PAYMENT');
    const ref = rows.find((r) => r.channel === channel && r.kind === 'REFUND');
    const v = (r: Row | undefined, k: keyof Row) => (r ? Number(r[k]) : 0);
    const hisIncome = v(pay, 'hisFen') - v(ref, 'hisFen');
    const platformIncome = v(pay, 'platformFen') - v(ref, 'platformFen');
    const channelIncome = v(pay, 'channelFen') - v(ref, 'channelFen');
    const feeFen = v(pay, 'channelFeeFen') - v(ref, 'channelFeeFen');
    return {
      channel,
      paymentCount: v(pay, 'platformCount'),
      refundCount: v(ref, 'platformCount'),
      hisIncomeFen: hisIncome,
      platformIncomeFen: platformIncome,
      channelIncomeFen: channelIncome,
      differenceFen: hisIncome - platformIncome,
      feeFen,
      bankArrivalFen: channelIncome - feeFen,
      differences: v(pay, 'differences') + v(ref, 'differences'),
    };
  });
  const offline = ((run?.summary as { offline?: unknown[] } | undefined)?.offline ?? []) as {
    channel: string;
    paymentFen: number;
    refundFen: number;
    paymentCount: number;
    refundCount: number;
  }[];
  const sum = (k: 'hisIncomeFen' | 'platformIncomeFen' | 'channelIncomeFen' | 'feeFen' | 'bankArrivalFen') =>
    channels.reduce((a, c) => a + c[k], 0);
  return {
    hospitalId,
    date: q.date,
    run: run ? { id: run.id, finishedAt: run.finishedAt, triggeredBy: run.triggeredBy } : null,
    statements,
    hisLedger: ledger ?? null,
    channels,
    offline,
    totals: {
      hisIncomeFen: sum('hisIncomeFen') + offline.reduce((a, o) => a + o.paymentFen - o.refundFen, 0),
      onlineHisIncomeFen: sum('hisIncomeFen'),
      platformIncomeFen: sum('platformIncomeFen'),
      channelIncomeFen: sum('channelIncomeFen'),
      dailyDifferenceFen: sum('hisIncomeFen') - sum('platformIncomeFen'),
      feeFen: sum('feeFen'),
      bankArrivalFen: sum('bankArrivalFen'),
    },
    differences: openItems,
  };
}

async function firstHospital(db: Db): Promise<string> {
  const [h] = await db.select({ id: hospitals.id }).from(hospitals).orderBy(hospitals.id).limit(1);
  if (!h) throw notFound('hospital');
  return h.id;
}
