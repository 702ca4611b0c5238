import type { HisInpatientResult } from '@hp/shared';
import { and, eq, inArray, isNotNull, sql } from 'drizzle-orm';
import type { Tx } from '../../db/client';
import {
  alerts,
  bills,
  inpatientAdmissions,
  inpatientDeposits,
  inpatientSettlements,
  orderBills,
  orders,
  patients,
  refunds,
} from '../../db/schema';
import type { Deps } from '../../deps';
import { QUEUES, type JobContext } from '../../jobs/queue';
import { newId } from '../../lib/ids';
import { hisSetupFor } from '../his/endpoint';
import { recordMessage, yuanText } from '../messages/service';

/**
 * The inpatient side effects of the ordinary payment pipeline: called inside the transaction that applies a
 * payment or a refund, so a deposit paid, a settlement finished and their HIS pushes commit with it. This
 * file imports nothing from payments/ or refunds/ (they call it).
 */

type SettlementRow = typeof inpatientSettlements.$inferSelect;

/** One refund a settlement planned: which order, how much, under which refund number. */
export interface SettlementMove {
  orderNo: string;
  hisRefundNo: string;
  amountFen: number;
  /** The deposit the order paid, if it paid one (else an extra of a reversed settlement). */
  depositId: string | null;
}

/** Order states whose payment went through (the money is, or was, held). */
export const PAID_ORDER_STATES = ['PAID', 'SETTLED', 'REFUNDING', 'PARTIALLY_REFUNDED', 'REFUNDED'];

/** The orders that paid money into a stay (deposits and settlement extras), newest payment first. */
export async function admissionOrders(tx: Tx, admissionId: string) {
  const deps = await tx
    .select({ billId: inpatientDeposits.billId, depositId: inpatientDeposits.id })
    .from(inpatientDeposits)
    .where(eq(inpatientDeposits.admissionId, admissionId));
  const extras = await tx
    .select({ billId: inpatientSettlements.extraBillId })
    .from(inpatientSettlements)
    .where(
      and(eq(inpatientSettlements.admissionId, admissionId), isNotNull(inpatientSettlements.extraBillId)),
    );
  const depositOf = new Map(deps.map((d) => [d.billId, d.depositId]));
  const billIds = [...deps.map((d) => d.billId), ...extras.map((e) => e.billId!)];
  if (!billIds.length) return [];
  const rows = await tx
    .select({ o: orders, billId: orderBills.billId })
    .from(orderBills)
    .innerJoin(orders, eq(orders.id, orderBills.orderId))
    .where(and(inArray(orderBills.billId, billIds), inArray(orders.status, PAID_ORDER_STATES)));
  return rows
    .map((r) => ({ ...r.o, depositId: depositOf.get(r.billId) ?? null }))
    .sort(
      // Channels stamp payments to the second: within one second the later order is the newer payment.
      (a, b) =>
        (b.paidAt?.getTime() ?? 0) - (a.paidAt?.getTime() ?? 0) ||
        b.createdAt.getTime() - a.createdAt.getTime(),
    );
}

/** What the platform holds for a stay: paid deposits and extras less what was refunded of them. */
export async function admissionBalance(tx: Tx, admissionId: string): Promise<number> {
  const rows = await admissionOrders(tx, admissionId);
  return rows.reduce((sum, o) => sum + o.amountFen - o.refundedFen, 0);
}

/** A settlement's bill for the rest: its state, and the order (and channel) that paid it. */
export async function extraBillOf(tx: Tx, billId: string | null) {
  if (!billId) return undefined;
  const [row] = await tx
    .select({ billId: bills.id, status: bills.status, orderNo: orders.orderNo, channel: orders.channel })
    .from(bills)
    .leftJoin(orders, eq(orders.id, bills.paidOrderId))
    .where(eq(bills.id, billId));
  return row;
}

/** Tries of one refund a settlement (or its reversal) owes; after the last fails a person is alerted. */
export const SETTLEMENT_REFUND_TRIES = 3;

/**
 * The refund numbers of the refunds a settlement owes, as the HIS sees them: `<settlement no>/<n>` for its
 * n-th planned refund, `<settlement no>/R` for the refund of a reversed settlement's paid rest; a try after a
 * failed one appends `/<try>` (`S1/1/2`, `S1/R/3`). Settlement numbers hold no `/` (schema.ts), so a number
 * parses back unambiguously, and a try has the same number however often it is started (idempotent).
 */
export function refundTryNo(base: string, attempt: number): string {
  return attempt === 1 ? base : `${base}/${attempt}`;
}

/** What a refund number says about the settlement refund it is, if it is one. */
export interface SettlementRefundRef {
  hisSettlementNo: string;
  /** The number of the first try (`S1/2`, `S1/R`). */
  base: string;
  attempt: number;
  /** The refund of a reversed settlement's paid rest. */
  reversal: boolean;
}

export function parseSettlementRefundNo(hisRefundNo: string | null): SettlementRefundRef | undefined {
  const m = /^([^/]+)\/(\d+|R)(?:\/([2-9]|[1-9]\d+))?$/.exec(hisRefundNo ?? '');
  if (!m) return undefined;
  return {
    hisSettlementNo: m[1]!,
    base: `${m[1]}/${m[2]}`,
    attempt: m[3] ? Number(m[3]) : 1,
    reversal: m[2] === 'R',
  };
}

/** The bases of the refunds a settlement owes: its planned refunds, and the reversal's refund of the rest. */
function owedBases(s: SettlementRow): string[] {
  const bases = (s.moves as SettlementMove[]).map((m) => m.hisRefundNo);
  if (s.extraBillId) bases.push(`${s.hisSettlementNo}/R`);
  return bases;
}

/**
 * Every try of the refunds a settlement owes (planned refunds and the reversal's), as the refund service holds
 * them, each with its base number, its try and the seconds since it last changed (database time).
 */
export async function settlementRefunds(tx: Tx, s: SettlementRow) {
  const numbers = owedBases(s).flatMap((base) =>
    Array.from({ length: SETTLEMENT_REFUND_TRIES }, (_, i) => refundTryNo(base, i + 1)),
  );
  if (!numbers.length) return [];
  const rows = await tx
    .select({
      id: refunds.id,
      hisRefundNo: refunds.hisRefundNo,
      status: refunds.status,
      refundNo: refunds.refundNo,
      amountFen: refunds.amountFen,
      orderId: refunds.orderId,
      orderNo: orders.orderNo,
      idleSeconds: sql<number>`extract(epoch from now() - ${refunds.updatedAt})::float8`,
    })
    .from(refunds)
    .innerJoin(orders, eq(orders.id, refunds.orderId))
    .where(and(eq(refunds.hospitalId, s.hospitalId), inArray(refunds.hisRefundNo, numbers)));
  return rows.map((r) => {
    const ref = parseSettlementRefundNo(r.hisRefundNo)!;
    return { ...r, hisRefundNo: r.hisRefundNo!, base: ref.base, attempt: ref.attempt };
  });
}
export type SettlementRefundTry = Awaited<ReturnType<typeof settlementRefunds>>[number];

/** Where one owed refund stands across its tries: the latest try, and the one that went through, if any. */
export function owedRefund(rows: SettlementRefundTry[], base: string) {
  const tries = rows.filter((r) => r.base === base).sort((a, b) => a.attempt - b.attempt);
  return { latest: tries.at(-1), succeeded: tries.find((r) => r.status === 'SUCCESS') };
}

export interface SettlementRefundsJob {
  settlementId: string;
}

/**
 * Enqueues the settlement refund driver (inside `tx` when given): it starts the refunds a settlement owes,
 * tries a failed one again under its next number, and alerts once the tries are spent. On the inpatient
 * push's retry curve when a run fails.
 */
export async function enqueueSettlementRefunds(
  deps: Deps,
  tx: Tx | undefined,
  settlementId: string,
  startAfterSeconds?: number,
) {
  await deps.jobs.send(
    QUEUES.settlementRefunds,
    { settlementId } satisfies SettlementRefundsJob,
    {
      startAfterSeconds,
      retryLimit: deps.config.hisPushRetryLimit,
      retryDelaySeconds: deps.config.hisPushRetryDelaySeconds,
      retryBackoff: true,
    },
    tx,
  );
}

/** How long after a failed try the next one starts: the inpatient push's first retry delay, doubled per try. */
export function settlementRetryDelaySeconds(deps: Deps, failedAttempt: number): number {
  return deps.config.hisPushRetryDelaySeconds * 2 ** (failedAttempt - 1);
}

export interface InpatientNotifyJob {
  eventId: string;
  kind: HisInpatientResult['kind'];
  admissionId: string;
  depositId?: string;
  settlementId?: string;
}

/** Enqueues an inpatient result push to the HIS in the transaction of the change it reports. */
export async function enqueueInpatientNotify(deps: Deps, tx: Tx, job: Omit<InpatientNotifyJob, 'eventId'>) {
  await deps.jobs.send(
    QUEUES.inpatientNotify,
    { eventId: newId('evt'), ...job } satisfies InpatientNotifyJob,
    {
      retryLimit: deps.config.hisPushRetryLimit,
      retryDelaySeconds: deps.config.hisPushRetryDelaySeconds,
      retryBackoff: true,
    },
    tx,
  );
}

/** Marks a settlement SETTLED (from SETTLING), tells the HIS; false when it was not SETTLING. */
async function finishSettlement(deps: Deps, tx: Tx, s: SettlementRow): Promise<boolean> {
  const done = await tx
    .update(inpatientSettlements)
    .set({ status: 'SETTLED', updatedAt: sql`now()` })
    .where(and(eq(inpatientSettlements.id, s.id), eq(inpatientSettlements.status, 'SETTLING')))
    .returning({ id: inpatientSettlements.id });
  if (!done.length) return false;
  await enqueueInpatientNotify(deps, tx, {
    kind: 'settlement_result',
    admissionId: s.admissionId,
    settlementId: s.id,
  });
  return true;
}

/**
 * After an order was paid (same transaction): a deposit it paid is recorded and announced; a settlement
 * whose rest it paid is finished.
 */
export async function onOrderPaid(
  deps: Deps,
  tx: Tx,
  order: { id: string; orderNo: string; channel: string; patientId: string; hospitalId: string },
) {
  const billIds = (
    await tx.select({ billId: orderBills.billId }).from(orderBills).where(eq(orderBills.orderId, order.id))
  ).map((b) => b.billId);
  if (!billIds.length) return;
  const paidDeposits = await tx
    .update(inpatientDeposits)
    .set({ paidOrderId: order.id, updatedAt: sql`now()` })
    .where(and(inArray(inpatientDeposits.billId, billIds), sql`${inpatientDeposits.paidOrderId} IS NULL`))
    .returning();
  for (const d of paidDeposits) {
    await recordMessage(deps, tx, {
      hospitalId: d.hospitalId,
      patientId: order.patientId,
      kind: 'deposit_paid',
      title: '住院押金已缴',
      body: `住院押金 ${yuanText(d.amountFen)} 元已缴纳（订单 ${order.orderNo}）。`,
      amountFen: d.amountFen,
      refs: { billId: d.billId, orderId: order.id },
    });
    await enqueueInpatientNotify(deps, tx, {
      kind: 'deposit_paid',
      admissionId: d.admissionId,
      depositId: d.id,
    });
  }
  const settled = await tx
    .select()
    .from(inpatientSettlements)
    .where(
      and(inArray(inpatientSettlements.extraBillId, billIds), eq(inpatientSettlements.status, 'SETTLING')),
    )
    .for('update');
  for (const s of settled) {
    if (!(await finishSettlement(deps, tx, s))) continue;
    await recordMessage(deps, tx, {
      hospitalId: s.hospitalId,
      patientId: order.patientId,
      kind: 'settlement_debited',
      title: order.channel === 'credit' ? '出院结算补缴已扣款' : '出院结算补缴已支付',
      body:
        order.channel === 'credit'
          ? `出院结算补缴 ${yuanText(s.extraFen)} 元已通过信用就医扣款。`
          : `出院结算补缴 ${yuanText(s.extraFen)} 元已支付。`,
      amountFen: s.extraFen,
      refs: { billId: s.extraBillId!, orderId: order.id },
    });
  }
}

/**
 * After a refund succeeded (same transaction): when it was one a settlement planned, the deposit's refunded
 * sum grows, and the settlement is finished once every one of its refunds succeeded.
 */
export async function onRefundSucceeded(
  deps: Deps,
  tx: Tx,
  refund: { hisRefundNo: string | null; amountFen: number; hospitalId: string },
) {
  const ref = parseSettlementRefundNo(refund.hisRefundNo);
  // The reversal's refund of the rest changes nothing here: the settlement is reversed already.
  if (!ref || ref.reversal) return;
  const [s] = await tx
    .select()
    .from(inpatientSettlements)
    .where(
      and(
        eq(inpatientSettlements.hospitalId, refund.hospitalId),
        eq(inpatientSettlements.hisSettlementNo, ref.hisSettlementNo),
      ),
    )
    .for('update');
  const move = (s?.moves as SettlementMove[] | undefined)?.find((m) => m.hisRefundNo === ref.base);
  if (!s || !move) return;
  if (move.depositId)
    await tx
      .update(inpatientDeposits)
      .set({
        refundedFen: sql`${inpatientDeposits.refundedFen} + ${refund.amountFen}`,
        updatedAt: sql`now()`,
      })
      .where(eq(inpatientDeposits.id, move.depositId));
  await finishIfRefunded(deps, tx, s);
}

/**
 * After a refund of a settlement (or of its reversal) ended FAILED or ABNORMAL (same transaction): the
 * settlement's driver job is enqueued to try it again after the retry delay, or to alert once the tries are
 * spent. An ABNORMAL refund is not tried again (the channel holds the money; the refund service alerted).
 */
export async function onRefundEnded(
  deps: Deps,
  tx: Tx,
  refund: { hisRefundNo: string | null; hospitalId: string; status: string },
) {
  const ref = parseSettlementRefundNo(refund.hisRefundNo);
  if (!ref || refund.status === 'ABNORMAL') return;
  const [s] = await tx
    .select()
    .from(inpatientSettlements)
    .where(
      and(
        eq(inpatientSettlements.hospitalId, refund.hospitalId),
        eq(inpatientSettlements.hisSettlementNo, ref.hisSettlementNo),
      ),
    );
  if (!s || !owedBases(s).includes(ref.base)) return;
  if (s.status !== (ref.reversal ? 'REVERSED' : 'SETTLING')) return;
  await enqueueSettlementRefunds(deps, tx, s.id, settlementRetryDelaySeconds(deps, ref.attempt));
}

/**
 * Finishes a SETTLING settlement whose planned refunds all went through (one try of each), with the patient's
 * message; the caller holds the settlement's row lock. False when it was not finished now.
 */
export async function finishIfRefunded(deps: Deps, tx: Tx, s: SettlementRow): Promise<boolean> {
  if (s.status !== 'SETTLING' || s.extraFen > 0) return false;
  const moves = s.moves as SettlementMove[];
  const tries = await settlementRefunds(tx, s);
  if (!moves.every((m) => owedRefund(tries, m.hisRefundNo).succeeded)) return false;
  if (!(await finishSettlement(deps, tx, s))) return false;
  const [adm] = await tx.select().from(inpatientAdmissions).where(eq(inpatientAdmissions.id, s.admissionId));
  await recordMessage(deps, tx, {
    hospitalId: s.hospitalId,
    patientId: adm!.patientId,
    kind: 'settlement_refunded',
    title: '出院结算退款成功',
    body: `出院结算费用 ${yuanText(s.totalCostFen)} 元，押金余额 ${yuanText(s.refundFen)} 元已原路退回。`,
    amountFen: s.refundFen,
    refs: {},
  });
  return true;
}

/** The push job: builds the inpatient result from what we hold now and sends it to the HIS. */
export async function runInpatientNotify(deps: Deps, job: JobContext<InpatientNotifyJob>): Promise<void> {
  const { db } = deps;
  const d = job.data;
  const [adm] = await db.select().from(inpatientAdmissions).where(eq(inpatientAdmissions.id, d.admissionId));
  if (!adm) return;
  const [patient] = await db.select().from(patients).where(eq(patients.id, adm.patientId));
  const [deposit] = d.depositId
    ? await db.select().from(inpatientDeposits).where(eq(inpatientDeposits.id, d.depositId))
    : [];
  const [s] = d.settlementId
    ? await db.select().from(inpatientSettlements).where(eq(inpatientSettlements.id, d.settlementId))
    : [];
  const [paidBy] = deposit?.paidOrderId
    ? await db.select({ orderNo: orders.orderNo }).from(orders).where(eq(orders.id, deposit.paidOrderId))
    : [];
  let extraBy: HisInpatientResult['extraBy'] = null;
  if (s) {
    const extra = await extraBillOf(db, s.extraBillId);
    extraBy = !extra
      ? 'NONE'
      : extra.status !== 'PAID'
        ? 'PENDING'
        : extra.channel === 'credit'
          ? 'CREDIT'
          : 'BILL';
  }
  const result: HisInpatientResult = {
    eventId: d.eventId,
    kind: d.kind,
    orderNo: paidBy?.orderNo ?? null,
    admissionNo: adm.admissionNo,
    patientId: patient?.hisPatientId ?? '',
    hisDepositNo: deposit?.hisDepositNo ?? null,
    depositFen: deposit?.amountFen ?? null,
    hisSettlementNo: s?.hisSettlementNo ?? null,
    settlementVersion: s?.version ?? null,
    settlementStatus: s?.status ?? null,
    totalCostFen: s?.totalCostFen ?? null,
    refundFen: s?.refundFen ?? null,
    extraFen: s?.extraFen ?? null,
    extraBy,
    balanceFen: await admissionBalance(db, adm.id),
    occurredAt: deps.clock.now().toISOString(),
  };
  try {
    const endpoint = (await hisSetupFor(deps, adm.hospitalId))?.endpoint;
    if (!endpoint) throw new Error('the hospital has no HIS endpoint configured for result pushes');
    await deps.his.pushResult(endpoint, result);
  } catch (e) {
    if (job.retryCount < job.retryLimit) throw e; // pg-boss retries with backoff
    await db.insert(alerts).values({
      hospitalId: adm.hospitalId,
      kind: 'his_inpatient_push_failed',
      severity: 'critical',
      message: `住院结果未能送达 HIS：住院号 ${adm.admissionNo}（${d.kind}，${(e as Error).message.slice(0, 200)}）`,
      data: { eventId: d.eventId, kind: d.kind, settlementId: d.settlementId, depositId: d.depositId },
    });
  }
}
