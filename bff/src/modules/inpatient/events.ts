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
    .sort((a, b) => (b.paidAt?.getTime() ?? 0) - (a.paidAt?.getTime() ?? 0));
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

/** The refunds a settlement planned, as the refund service holds them (by their refund numbers). */
export async function settlementRefunds(tx: Tx, s: SettlementRow) {
  const planned = (s.moves as SettlementMove[]).map((m) => m.hisRefundNo);
  if (!planned.length) return [];
  return tx
    .select({ hisRefundNo: refunds.hisRefundNo, status: refunds.status, refundNo: refunds.refundNo })
    .from(refunds)
    .where(and(eq(refunds.hospitalId, s.hospitalId), inArray(refunds.hisRefundNo, planned)));
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
  if (!refund.hisRefundNo) return;
  const [s] = await tx
    .select()
    .from(inpatientSettlements)
    .where(
      and(
        eq(inpatientSettlements.hospitalId, refund.hospitalId),
        sql`${inpatientSettlements.moves} @> ${JSON.stringify([{ hisRefundNo: refund.hisRefundNo }])}::jsonb`,
      ),
    )
    .for('update');
  if (!s) return;
  const moves = s.moves as SettlementMove[];
  const move = moves.find((m) => m.hisRefundNo === refund.hisRefundNo)!;
  if (move.depositId)
    await tx
      .update(inpatientDeposits)
      .set({
        refundedFen: sql`${inpatientDeposits.refundedFen} + ${refund.amountFen}`,
        updatedAt: sql`now()`,
      })
      .where(eq(inpatientDeposits.id, move.depositId));
  if (s.status !== 'SETTLING') return;
  const ended = await settlementRefunds(tx, s);
  if (ended.filter((r) => r.status === 'SUCCESS').length < moves.length) return;
  if (!(await finishSettlement(deps, tx, s))) return;
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
