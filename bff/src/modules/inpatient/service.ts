import { and, desc, eq, inArray, isNotNull, isNull, ne, sql } from 'drizzle-orm';
import type { Tx } from '../../db/client';
import {
  alerts,
  bills,
  inpatientAdmissions,
  inpatientDeposits,
  inpatientSettlements,
  orders,
  patients,
} from '../../db/schema';
import type { Deps } from '../../deps';
import type { JobContext } from '../../jobs/queue';
import { AppError, conflict, notFound } from '../../lib/errors';
import { newId } from '../../lib/ids';
import { onBillStored } from '../credit/service';
import type { PatientPrincipal } from '../orders/service';
import { raiseAlert } from '../payments/service';
import { recordRefundIntent, sendRefund, type RefundIntent } from '../refunds/service';
import {
  admissionOrders,
  enqueueInpatientNotify,
  enqueueSettlementRefunds,
  extraBillOf,
  finishIfRefunded,
  owedRefund,
  refundTryNo,
  SETTLEMENT_REFUND_TRIES,
  settlementRefunds,
  settlementRetryDelaySeconds,
  type SettlementMove,
  type SettlementRefundsJob,
  type SettlementRefundTry,
} from './events';
import type { AdmissionInput, DepositInput, SettlementInput } from './schema';

/**
 * Inpatient stays (住院): admission, deposits (押金) and top-ups, discharge settlement (出院结算) and its
 * reversal (撤销). A deposit, and a settlement's rest, is an internal bill (`bills` row, `hisBillNo`
 * `YJ:<deposit no>` / `JS:<settlement no>`), so the whole bill → order → payment → notification → HIS push
 * pipeline — and credit auto-pay — applies to it unchanged. Refunds of the difference go through the refund
 * service, each on the deposit order that paid the money.
 */

type AdmissionRow = typeof inpatientAdmissions.$inferSelect;
type SettlementRow = typeof inpatientSettlements.$inferSelect;

const DEPOSIT_BILL_PREFIX = 'YJ:';
const EXTRA_BILL_PREFIX = 'JS:';

async function findAdmission(tx: Tx, hospitalId: string, admissionNo: string, lock = false) {
  const q = tx
    .select()
    .from(inpatientAdmissions)
    .where(
      and(eq(inpatientAdmissions.hospitalId, hospitalId), eq(inpatientAdmissions.admissionNo, admissionNo)),
    );
  const [row] = lock ? await q.for('update') : await q;
  if (!row) throw notFound(`admission ${admissionNo}`);
  return row;
}

/** The admission notice (入院): idempotent by admission number; the ward and department may change. */
export async function admit(deps: Deps, hospitalId: string, input: AdmissionInput) {
  await deps.db.transaction(async (tx) => {
    const [patient] = await tx
      .insert(patients)
      .values({ id: newId('pat'), hospitalId, hisPatientId: input.patientId, name: input.patientName })
      .onConflictDoUpdate({
        target: [patients.hospitalId, patients.hisPatientId],
        set: { name: input.patientName, updatedAt: sql`now()` },
      })
      .returning({ id: patients.id });
    const [existing] = await tx
      .select()
      .from(inpatientAdmissions)
      .where(
        and(
          eq(inpatientAdmissions.hospitalId, hospitalId),
          eq(inpatientAdmissions.admissionNo, input.admissionNo),
        ),
      )
      .for('update');
    if (existing && existing.patientId !== patient!.id)
      throw conflict(`admission ${input.admissionNo} belongs to another patient`);
    if (existing) {
      await tx
        .update(inpatientAdmissions)
        .set({ department: input.department ?? null, ward: input.ward ?? null, updatedAt: sql`now()` })
        .where(eq(inpatientAdmissions.id, existing.id));
      return;
    }
    await tx.insert(inpatientAdmissions).values({
      id: newId('adm'),
      hospitalId,
      patientId: patient!.id,
      admissionNo: input.admissionNo,
      department: input.department ?? null,
      ward: input.ward ?? null,
      status: 'ADMITTED',
      admittedAt: new Date(input.admittedAt),
    });
  });
  return admissionView(deps, await findAdmission(deps.db, hospitalId, input.admissionNo));
}

/**
 * The HIS asks for a deposit (or a top-up): a payable bill for the patient, debited at once through credit
 * pay when the patient signed with auto-pay and the limit allows (the credit-debit job). Idempotent by the
 * HIS deposit number; the same number with another amount is a conflict.
 */
export async function requestDeposit(
  deps: Deps,
  hospitalId: string,
  admissionNo: string,
  input: DepositInput,
) {
  return deps.db.transaction(async (tx) => {
    const adm = await findAdmission(tx, hospitalId, admissionNo, true);
    const [existing] = await tx
      .select()
      .from(inpatientDeposits)
      .where(
        and(
          eq(inpatientDeposits.hospitalId, hospitalId),
          eq(inpatientDeposits.hisDepositNo, input.hisDepositNo),
        ),
      );
    if (existing) {
      if (existing.admissionId !== adm.id || existing.amountFen !== input.amountFen)
        throw conflict(`deposit ${input.hisDepositNo} was already requested with other content`);
      return depositViews(tx, [existing]).then((v) => v[0]!);
    }
    if (adm.status !== 'ADMITTED')
      throw conflict(
        `admission ${admissionNo} is settled; reverse the settlement before asking for deposits`,
      );
    const billId = newId('bill');
    const title = `住院押金（${adm.admissionNo}）`;
    await tx.insert(bills).values({
      id: billId,
      hospitalId,
      hisBillNo: `${DEPOSIT_BILL_PREFIX}${input.hisDepositNo}`,
      patientId: adm.patientId,
      visitNo: adm.admissionNo,
      department: adm.department,
      title,
      amountFen: input.amountFen,
    });
    const [deposit] = await tx
      .insert(inpatientDeposits)
      .values({
        id: newId('dep'),
        hospitalId,
        admissionId: adm.id,
        hisDepositNo: input.hisDepositNo,
        billId,
        amountFen: input.amountFen,
      })
      .returning();
    // The patient is told; a signed patient with auto-pay is debited by the credit-debit job.
    await onBillStored(deps, tx, {
      id: billId,
      hospitalId,
      patientId: adm.patientId,
      version: 1,
      title,
      amountFen: input.amountFen,
    });
    return (await depositViews(tx, [deposit!]))[0]!;
  });
}

async function depositViews(tx: Tx, rows: (typeof inpatientDeposits.$inferSelect)[]) {
  if (!rows.length) return [];
  const billRows = await tx
    .select({ id: bills.id, status: bills.status, lockedOrderId: bills.lockedOrderId })
    .from(bills)
    .where(
      inArray(
        bills.id,
        rows.map((r) => r.billId),
      ),
    );
  const paid = rows.map((r) => r.paidOrderId).filter((x): x is string => !!x);
  const orderRows = paid.length
    ? await tx
        .select({ id: orders.id, orderNo: orders.orderNo, channel: orders.channel, paidAt: orders.paidAt })
        .from(orders)
        .where(inArray(orders.id, paid))
    : [];
  return rows.map((r) => {
    const b = billRows.find((x) => x.id === r.billId);
    const o = orderRows.find((x) => x.id === r.paidOrderId);
    return {
      id: r.id,
      hisDepositNo: r.hisDepositNo,
      billId: r.billId,
      amountFen: r.amountFen,
      status: (b?.status ?? 'UNPAID') as 'UNPAID' | 'PAID' | 'CANCELLED',
      paying: !!b?.lockedOrderId,
      orderNo: o?.orderNo ?? null,
      channel: o?.channel ?? null,
      paidAt: o?.paidAt?.toISOString() ?? null,
      refundedFen: r.refundedFen,
      createdAt: r.createdAt.toISOString(),
    };
  });
}

/** A stay with its deposits, the payments into it, the balance held and its settlements (newest first). */
async function admissionView(deps: Deps, adm: AdmissionRow) {
  const db = deps.db;
  const depositRows = await db
    .select()
    .from(inpatientDeposits)
    .where(eq(inpatientDeposits.admissionId, adm.id))
    .orderBy(inpatientDeposits.createdAt);
  const paidOrders = await admissionOrders(db, adm.id);
  const settlementRows = await db
    .select()
    .from(inpatientSettlements)
    .where(eq(inpatientSettlements.admissionId, adm.id))
    .orderBy(desc(inpatientSettlements.version));
  const [patient] = await db.select().from(patients).where(eq(patients.id, adm.patientId));
  return {
    admissionNo: adm.admissionNo,
    patientId: patient?.hisPatientId ?? '',
    department: adm.department,
    ward: adm.ward,
    status: adm.status as 'ADMITTED' | 'SETTLED',
    admittedAt: adm.admittedAt.toISOString(),
    balanceFen: paidOrders.reduce((sum, o) => sum + o.amountFen - o.refundedFen, 0),
    deposits: await depositViews(db, depositRows),
    payments: paidOrders.map((o) => ({
      orderNo: o.orderNo,
      kind: (o.depositId ? 'DEPOSIT' : 'SETTLEMENT_EXTRA') as 'DEPOSIT' | 'SETTLEMENT_EXTRA',
      channel: o.channel,
      status: o.status,
      amountFen: o.amountFen,
      refundedFen: o.refundedFen,
      paidAt: o.paidAt?.toISOString() ?? null,
    })),
    settlements: await Promise.all(settlementRows.map((s) => settlementView(deps, s, adm))),
  };
}

export async function admissionForHis(deps: Deps, hospitalId: string, admissionNo: string) {
  return admissionView(deps, await findAdmission(deps.db, hospitalId, admissionNo));
}

async function settlementView(deps: Deps, s: SettlementRow, adm?: AdmissionRow) {
  const db = deps.db;
  const [a] = adm
    ? [adm]
    : await db.select().from(inpatientAdmissions).where(eq(inpatientAdmissions.id, s.admissionId));
  const moves = s.moves as SettlementMove[];
  const refundRows = await settlementRefunds(db, s);
  const extra = await extraBillOf(db, s.extraBillId);
  return {
    hisSettlementNo: s.hisSettlementNo,
    admissionNo: a!.admissionNo,
    version: s.version,
    status: s.status as 'SETTLING' | 'SETTLED' | 'REVERSED',
    totalCostFen: s.totalCostFen,
    depositsFen: s.depositsFen,
    refundFen: s.refundFen,
    extraFen: s.extraFen,
    // Each planned refund as its try that went through, else its latest try (`S1/1/2` after one failure).
    refunds: moves.map((m) => {
      const owed = owedRefund(refundRows, m.hisRefundNo);
      const r = owed.succeeded ?? owed.latest;
      return {
        orderNo: m.orderNo,
        hisRefundNo: r?.hisRefundNo ?? m.hisRefundNo,
        refundNo: r?.refundNo ?? null,
        amountFen: m.amountFen,
        status: (r?.status ?? 'NOT_STARTED') as string,
      };
    }),
    extraBill: extra
      ? {
          billId: extra.billId,
          status: extra.status as 'UNPAID' | 'PAID' | 'CANCELLED',
          orderNo: extra.orderNo,
          channel: extra.channel,
        }
      : null,
    reversalReason: s.reversalReason,
    reversedAt: s.reversedAt?.toISOString() ?? null,
    createdAt: s.createdAt.toISOString(),
  };
}

async function findSettlement(deps: Deps, hospitalId: string, hisSettlementNo: string) {
  const [s] = await deps.db
    .select()
    .from(inpatientSettlements)
    .where(
      and(
        eq(inpatientSettlements.hospitalId, hospitalId),
        eq(inpatientSettlements.hisSettlementNo, hisSettlementNo),
      ),
    );
  if (!s) throw notFound(`settlement ${hisSettlementNo}`);
  return s;
}

export async function settlementForHis(deps: Deps, hospitalId: string, hisSettlementNo: string) {
  return settlementView(deps, await findSettlement(deps, hospitalId, hisSettlementNo));
}

/** Unpaid, unheld bills of a stay are cancelled; a bill being paid right now makes the caller try again. */
async function cancelUnpaidBills(tx: Tx, billIds: string[], what: string) {
  if (!billIds.length) return;
  const held = await tx
    .select({ id: bills.id })
    .from(bills)
    .where(
      and(inArray(bills.id, billIds), eq(bills.status, 'UNPAID'), sql`${bills.lockedOrderId} IS NOT NULL`),
    );
  if (held.length)
    throw new AppError('bill_locked', `${what} is being paid right now; try again in a minute`);
  await tx
    .update(bills)
    .set({ status: 'CANCELLED', updatedAt: sql`now()` })
    .where(and(inArray(bills.id, billIds), eq(bills.status, 'UNPAID'), isNull(bills.lockedOrderId)));
}

/**
 * Discharge settlement (出院结算): the HIS's total cost against what the platform holds for the stay (paid
 * deposits, less refunds). Less → the difference is refunded across the paying orders newest first, each
 * through its own channel; more → the rest becomes a bill (debited through credit pay when signed with
 * auto-pay and within the limit, else paid by the patient with any channel); equal → settled at once.
 * Idempotent by the HIS settlement number (another total under the same number is a conflict); a second
 * settlement of a stay while one stands (not reversed) is a conflict. Unpaid deposit bills are cancelled.
 */
export async function settle(deps: Deps, hospitalId: string, admissionNo: string, input: SettlementInput) {
  const recorded = await recordSettlement(deps, hospitalId, admissionNo, input);
  // The refunds start at once; the driver job committed with the settlement finishes what this does not.
  await driveSettlement(deps, recorded.id).catch((e: Error) =>
    deps.log.warn({ err: (e as AppError).code ?? e.name }, 'settlement refunds not started; the job retries'),
  );
  return settlementView(deps, (await findSettlement(deps, hospitalId, input.hisSettlementNo))!);
}

/**
 * The recording half of {@link settle}, one transaction and no channel call: the settlement and its plan, the
 * bill for the rest, the stay SETTLED, and the driver job that starts the planned refunds (so they start even
 * when the process stops right after the commit).
 */
export async function recordSettlement(
  deps: Deps,
  hospitalId: string,
  admissionNo: string,
  input: SettlementInput,
): Promise<SettlementRow> {
  return deps.db.transaction(async (tx) => {
    const adm = await findAdmission(tx, hospitalId, admissionNo, true);
    const [same] = await tx
      .select()
      .from(inpatientSettlements)
      .where(
        and(
          eq(inpatientSettlements.hospitalId, hospitalId),
          eq(inpatientSettlements.hisSettlementNo, input.hisSettlementNo),
        ),
      );
    if (same) {
      if (same.admissionId !== adm.id || same.totalCostFen !== input.totalCostFen)
        throw conflict(`settlement ${input.hisSettlementNo} was already made with other content`);
      return same;
    }
    const [standing] = await tx
      .select()
      .from(inpatientSettlements)
      .where(and(eq(inpatientSettlements.admissionId, adm.id), ne(inpatientSettlements.status, 'REVERSED')));
    if (standing)
      throw conflict(
        `admission ${admissionNo} has settlement ${standing.hisSettlementNo} (${standing.status.toLowerCase()}); reverse it first`,
      );
    const paying = await admissionOrders(tx, adm.id);
    if (paying.some((o) => o.status === 'REFUNDING') || (await reversalRefundOwed(tx, adm.id)))
      throw new AppError('refund_in_progress', 'a refund of this stay is in flight; try again when it ends');
    const deposits = await tx
      .select({ billId: inpatientDeposits.billId })
      .from(inpatientDeposits)
      .where(eq(inpatientDeposits.admissionId, adm.id));
    await cancelUnpaidBills(
      tx,
      deposits.map((d) => d.billId),
      'a deposit',
    );
    const held = paying.reduce((sum, o) => sum + o.amountFen - o.refundedFen, 0);
    const [{ n: previous } = { n: 0 }] = await tx
      .select({ n: sql<number>`coalesce(max(${inpatientSettlements.version}), 0)::int` })
      .from(inpatientSettlements)
      .where(eq(inpatientSettlements.admissionId, adm.id));
    const id = newId('stl');
    const moves: SettlementMove[] = [];
    let left = held - input.totalCostFen;
    for (const o of paying) {
      if (left <= 0) break;
      const part = Math.min(left, o.amountFen - o.refundedFen);
      if (part <= 0) continue;
      moves.push({
        orderNo: o.orderNo,
        hisRefundNo: `${input.hisSettlementNo}/${moves.length + 1}`,
        amountFen: part,
        depositId: o.depositId,
      });
      left -= part;
    }
    const extraFen = Math.max(0, input.totalCostFen - held);
    const refundFen = Math.max(0, held - input.totalCostFen);
    let extraBillId: string | null = null;
    if (extraFen > 0) {
      extraBillId = newId('bill');
      const title = `出院结算补缴（${adm.admissionNo}）`;
      await tx.insert(bills).values({
        id: extraBillId,
        hospitalId,
        hisBillNo: `${EXTRA_BILL_PREFIX}${input.hisSettlementNo}`,
        patientId: adm.patientId,
        visitNo: adm.admissionNo,
        department: adm.department,
        title,
        amountFen: extraFen,
      });
      await onBillStored(deps, tx, {
        id: extraBillId,
        hospitalId,
        patientId: adm.patientId,
        version: 1,
        title,
        amountFen: extraFen,
      });
    }
    const status = extraFen === 0 && refundFen === 0 ? 'SETTLED' : 'SETTLING';
    const [row] = await tx
      .insert(inpatientSettlements)
      .values({
        id,
        hospitalId,
        admissionId: adm.id,
        hisSettlementNo: input.hisSettlementNo,
        version: previous + 1,
        totalCostFen: input.totalCostFen,
        depositsFen: held,
        refundFen,
        extraFen,
        extraBillId,
        status,
        moves,
      })
      .returning();
    await tx
      .update(inpatientAdmissions)
      .set({ status: 'SETTLED', updatedAt: sql`now()` })
      .where(and(eq(inpatientAdmissions.id, adm.id), eq(inpatientAdmissions.status, 'ADMITTED')));
    if (status === 'SETTLED' || extraFen > 0)
      // Settled at once, or a bill for the rest is waiting (its payment finishes the settlement).
      await enqueueInpatientNotify(deps, tx, {
        kind: 'settlement_result',
        admissionId: adm.id,
        settlementId: id,
      });
    if (moves.length) await enqueueSettlementRefunds(deps, tx, id);
    return row!;
  });
}

/**
 * Whether a reversed settlement of the stay still owes its refund of the rest (a try failed and the next is
 * due): the money is on its way back, so a new settlement must not count it as held. Once the tries are spent
 * (alerted) it is held until a person decides.
 */
async function reversalRefundOwed(tx: Tx, admissionId: string): Promise<boolean> {
  const reversed = await tx
    .select()
    .from(inpatientSettlements)
    .where(
      and(
        eq(inpatientSettlements.admissionId, admissionId),
        eq(inpatientSettlements.status, 'REVERSED'),
        isNotNull(inpatientSettlements.extraBillId),
      ),
    );
  for (const s of reversed) {
    const { latest, succeeded } = owedRefund(await settlementRefunds(tx, s), `${s.hisSettlementNo}/R`);
    if (latest && !succeeded && latest.status === 'FAILED' && latest.attempt < SETTLEMENT_REFUND_TRIES)
      return true;
  }
  return false;
}

/** One refund a settlement owes: a planned refund of a deposit (or earlier extra), or the reversal's. */
interface OwedRefund {
  base: string;
  orderNo: string;
  amountFen: number;
  reason: string;
}

/**
 * The refunds a settlement owes now: a SETTLING one its planned refunds; a REVERSED one the refund of its paid
 * rest, recorded (PENDING) by the reversal itself; nothing otherwise.
 */
function owedRefunds(s: SettlementRow, tries: SettlementRefundTry[]): OwedRefund[] {
  if (s.status === 'SETTLING')
    return (s.moves as SettlementMove[]).map((m) => ({
      base: m.hisRefundNo,
      orderNo: m.orderNo,
      amountFen: m.amountFen,
      reason: `出院结算退押金 ${s.hisSettlementNo}`,
    }));
  const first = tries.find((t) => t.base === `${s.hisSettlementNo}/R` && t.attempt === 1);
  if (s.status !== 'REVERSED' || !first) return [];
  return [
    {
      base: first.base,
      orderNo: first.orderNo,
      amountFen: first.amountFen,
      reason: `出院结算撤销 ${s.hisSettlementNo}`,
    },
  ];
}

/**
 * Drives the refunds a settlement owes, outside any transaction; safe to run twice and from several processes.
 * For each: nothing while a try is in flight (the refund query job ends it, and its end enqueues this again);
 * no try yet → the first; the latest FAILED → the next try under its next number once the retry delay has
 * passed, or, with the tries spent, a critical alert (once) and no more tries. ABNORMAL waits for a person
 * (the refund service alerted). A SETTLING settlement whose refunds all went through is finished. A throw
 * (a refund that could not be started) fails the job run, which pg-boss retries.
 */
export async function driveSettlement(deps: Deps, settlementId: string): Promise<void> {
  const [s] = await deps.db
    .select()
    .from(inpatientSettlements)
    .where(eq(inpatientSettlements.id, settlementId));
  if (!s) return;
  const tries = await settlementRefunds(deps.db, s);
  let failure: unknown;
  for (const owed of owedRefunds(s, tries)) {
    const { latest, succeeded } = owedRefund(tries, owed.base);
    if (succeeded || (latest && latest.status !== 'FAILED')) continue;
    let attempt = 1;
    if (latest) {
      if (latest.attempt >= SETTLEMENT_REFUND_TRIES) {
        await giveUp(deps, s, owed, latest);
        continue;
      }
      const wait = settlementRetryDelaySeconds(deps, latest.attempt) - latest.idleSeconds;
      if (wait > 0) {
        // Woken early (another refund's end, a repeated call): come back when the try is due.
        await enqueueSettlementRefunds(deps, undefined, s.id, Math.ceil(wait));
        continue;
      }
      attempt = latest.attempt + 1;
    }
    try {
      await startTry(deps, s, owed, attempt);
    } catch (e) {
      failure ??= e;
    }
  }
  if (s.status === 'SETTLING')
    await deps.db.transaction(async (tx) => {
      const [row] = await tx
        .select()
        .from(inpatientSettlements)
        .where(eq(inpatientSettlements.id, s.id))
        .for('update');
      if (row) await finishIfRefunded(deps, tx, row);
    });
  if (failure) throw failure;
}

/**
 * Records try `attempt` of an owed refund and calls the channel. The intent commits only while the
 * settlement is as the driver read it (not reversed meanwhile) and the previous try has FAILED with none
 * succeeded — under the order's and the settlement's row locks, taken in that order as a refund's success
 * takes them. A try already recorded under its number is not sent again (the refund query job follows it).
 */
async function startTry(deps: Deps, s: SettlementRow, owed: OwedRefund, attempt: number) {
  const intent = await deps.db.transaction(async (tx): Promise<RefundIntent | undefined> => {
    await tx
      .select({ id: orders.id })
      .from(orders)
      .where(and(eq(orders.hospitalId, s.hospitalId), eq(orders.orderNo, owed.orderNo)))
      .for('update');
    const [now] = await tx
      .select()
      .from(inpatientSettlements)
      .where(eq(inpatientSettlements.id, s.id))
      .for('update');
    if (!now || now.status !== s.status) return undefined;
    const { latest, succeeded } = owedRefund(await settlementRefunds(tx, now), owed.base);
    if (succeeded) return undefined;
    if (attempt > 1 && (latest?.attempt !== attempt - 1 || latest.status !== 'FAILED')) return undefined;
    return recordRefundIntent(deps, tx, {
      hospitalId: s.hospitalId,
      orderNo: owed.orderNo,
      amountFen: owed.amountFen,
      reason: owed.reason,
      hisRefundNo: refundTryNo(owed.base, attempt),
      requestedBy: 'system:inpatient',
    });
  });
  if (intent && 'refund' in intent) await sendRefund(deps, intent.refund, intent.order);
}

/** The tries of an owed refund are spent: one critical alert (under the settlement's lock), no more tries. */
async function giveUp(deps: Deps, s: SettlementRow, owed: OwedRefund, latest: SettlementRefundTry) {
  await deps.db.transaction(async (tx) => {
    const [now] = await tx
      .select()
      .from(inpatientSettlements)
      .where(eq(inpatientSettlements.id, s.id))
      .for('update');
    if (!now || now.status !== s.status) return;
    const [raised] = await tx
      .select({ id: alerts.id })
      .from(alerts)
      .where(
        and(
          eq(alerts.kind, 'settlement_refund_failed'),
          sql`${alerts.data}->>'hisRefundNo' = ${latest.hisRefundNo}`,
        ),
      );
    if (raised) return;
    await raiseAlert(tx, {
      hospitalId: s.hospitalId,
      kind: 'settlement_refund_failed',
      severity: 'critical',
      orderId: latest.orderId,
      message: `出院结算 ${s.hisSettlementNo} 的退款 ${owed.base}（${owed.amountFen} 分）已尝试 ${SETTLEMENT_REFUND_TRIES} 次仍未成功：钱款仍在平台，需人工退回`,
      data: {
        settlementId: s.id,
        hisRefundNo: latest.hisRefundNo,
        refundId: latest.id,
        tries: SETTLEMENT_REFUND_TRIES,
      },
    });
  });
}

/**
 * The settlement refund job: drives the settlement's refunds; when its retries are spent on a run that keeps
 * failing (a refund that cannot be started), a critical alert (once per settlement while open).
 */
export async function runSettlementRefunds(deps: Deps, job: JobContext<SettlementRefundsJob>) {
  try {
    await driveSettlement(deps, job.data.settlementId);
  } catch (e) {
    if (job.retryCount < job.retryLimit) throw e;
    const [s] = await deps.db
      .select()
      .from(inpatientSettlements)
      .where(eq(inpatientSettlements.id, job.data.settlementId));
    if (!s) return;
    await deps.db.transaction(async (tx) => {
      const [raised] = await tx
        .select({ id: alerts.id })
        .from(alerts)
        .where(
          and(
            eq(alerts.kind, 'settlement_refund_stuck'),
            eq(alerts.status, 'OPEN'),
            sql`${alerts.data}->>'settlementId' = ${s.id}`,
          ),
        );
      if (raised) return;
      await raiseAlert(tx, {
        hospitalId: s.hospitalId,
        kind: 'settlement_refund_stuck',
        severity: 'critical',
        message: `出院结算 ${s.hisSettlementNo} 的退款无法发起（${(e as AppError).code ?? 'error'}：${(e as Error).message.slice(0, 200)}）：需人工处理`,
        data: { settlementId: s.id },
      });
    });
  }
}

/**
 * Settlement reversal (出院结算撤销): the settlement becomes REVERSED and the stay is back in hospital. Its
 * money effects are undone: an unpaid bill for the rest is cancelled, a paid one is refunded — that refund
 * (`<settlement no>/R`) is recorded PENDING, with the driver job, in the reversal's own transaction, so it is
 * owed even if the process stops right after; a failed try is tried again by the job. Deposits it refunded
 * are not collected again: a corrected settlement computes against what is now held. A repeated reversal
 * returns the reversed settlement and starts nothing.
 */
export async function reverseSettlement(
  deps: Deps,
  hospitalId: string,
  hisSettlementNo: string,
  reason: string,
) {
  const s0 = await findSettlement(deps, hospitalId, hisSettlementNo);
  // The paid rest's order is locked before the settlement, in the order a payment or refund of it takes them.
  const extra0 = await extraBillOf(deps.db, s0.extraBillId);
  const owed = await deps.db.transaction(async (tx): Promise<RefundIntent | undefined> => {
    if (extra0?.orderNo)
      await tx
        .select({ id: orders.id })
        .from(orders)
        .where(and(eq(orders.hospitalId, hospitalId), eq(orders.orderNo, extra0.orderNo)))
        .for('update');
    const [s] = await tx
      .select()
      .from(inpatientSettlements)
      .where(eq(inpatientSettlements.id, s0.id))
      .for('update');
    if (s!.status === 'REVERSED') return undefined;
    const [newer] = await tx
      .select({ id: inpatientSettlements.id })
      .from(inpatientSettlements)
      .where(
        and(
          eq(inpatientSettlements.admissionId, s!.admissionId),
          sql`${inpatientSettlements.version} > ${s!.version}`,
        ),
      );
    if (newer) throw conflict('only the latest settlement of a stay can be reversed');
    const inFlight = (await settlementRefunds(tx, s!)).filter((r) =>
      ['PENDING', 'PROCESSING'].includes(r.status),
    );
    if (inFlight.length)
      throw new AppError(
        'refund_in_progress',
        'refunds of this settlement are in flight; try again when they end',
      );
    let intent: RefundIntent | undefined;
    if (s!.extraBillId) {
      await cancelUnpaidBills(tx, [s!.extraBillId], 'the bill for the rest');
      const b = await extraBillOf(tx, s!.extraBillId);
      if (b?.status === 'PAID' && b.orderNo) intent = await owedExtraRefund(deps, tx, s!, b.orderNo);
    }
    const done = await tx
      .update(inpatientSettlements)
      .set({
        status: 'REVERSED',
        reversalReason: reason,
        reversedAt: deps.clock.now(),
        updatedAt: sql`now()`,
      })
      .where(and(eq(inpatientSettlements.id, s!.id), ne(inpatientSettlements.status, 'REVERSED')))
      .returning({ id: inpatientSettlements.id });
    if (!done.length) throw conflict('the settlement changed meanwhile; try again');
    await tx
      .update(inpatientAdmissions)
      .set({ status: 'ADMITTED', updatedAt: sql`now()` })
      .where(eq(inpatientAdmissions.id, s!.admissionId));
    await enqueueInpatientNotify(deps, tx, {
      kind: 'settlement_reversed',
      admissionId: s!.admissionId,
      settlementId: s!.id,
    });
    if (intent) await enqueueSettlementRefunds(deps, tx, s!.id);
    return intent;
  });
  if (owed && 'refund' in owed)
    // The rest goes back now; when this call or the channel fails, the job tries again under `/R/2`…
    await sendRefund(deps, owed.refund, owed.order).catch((e: Error) =>
      deps.log.warn({ err: (e as AppError).code ?? e.name }, 'reversal refund not sent; the job follows it'),
    );
  return settlementView(deps, (await findSettlement(deps, hospitalId, hisSettlementNo))!);
}

/**
 * The reversal's refund of a paid rest, recorded in the reversal's transaction: whatever of the order is not
 * refunded yet, under `<settlement no>/R`. Nothing when it is all refunded already (by hand, say); a refund of
 * it in flight makes the reversal wait (refund_in_progress).
 */
async function owedExtraRefund(
  deps: Deps,
  tx: Tx,
  s: SettlementRow,
  orderNo: string,
): Promise<RefundIntent | undefined> {
  const [o] = await tx
    .select()
    .from(orders)
    .where(and(eq(orders.hospitalId, s.hospitalId), eq(orders.orderNo, orderNo)))
    .for('update');
  if (!o || o.status === 'REFUNDED' || o.amountFen - o.refundedFen <= 0) return undefined;
  return recordRefundIntent(deps, tx, {
    hospitalId: s.hospitalId,
    orderNo,
    amountFen: o.amountFen - o.refundedFen,
    reason: `出院结算撤销 ${s.hisSettlementNo}`,
    hisRefundNo: refundTryNo(`${s.hisSettlementNo}/R`, 1),
    requestedBy: 'system:inpatient',
  });
}

/** The patient's stays, newest first, with deposits and the balance held. */
export async function listAdmissionsForPatient(deps: Deps, who: PatientPrincipal) {
  const rows = await deps.db
    .select()
    .from(inpatientAdmissions)
    .where(
      and(
        eq(inpatientAdmissions.patientId, who.patientId),
        eq(inpatientAdmissions.hospitalId, who.hospitalId),
      ),
    )
    .orderBy(desc(inpatientAdmissions.admittedAt));
  return { admissions: await Promise.all(rows.map((a) => admissionView(deps, a))) };
}

/** The bill of one of the patient's deposits (to pay it through `createOrder`). */
export async function depositBillForPatient(deps: Deps, who: PatientPrincipal, depositId: string) {
  const [row] = await deps.db
    .select({ billId: inpatientDeposits.billId })
    .from(inpatientDeposits)
    .innerJoin(inpatientAdmissions, eq(inpatientAdmissions.id, inpatientDeposits.admissionId))
    .where(and(eq(inpatientDeposits.id, depositId), eq(inpatientAdmissions.patientId, who.patientId)));
  if (!row) throw notFound('deposit');
  return row.billId;
}
