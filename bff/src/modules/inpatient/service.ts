import { and, desc, eq, inArray, isNull, ne, sql } from 'drizzle-orm';
import type { Tx } from '../../db/client';
import {
  bills,
  inpatientAdmissions,
  inpatientDeposits,
  inpatientSettlements,
  orders,
  patients,
} from '../../db/schema';
import type { Deps } from '../../deps';
import { AppError, conflict, notFound } from '../../lib/errors';
import { newId } from '../../lib/ids';
import { onBillStored } from '../credit/service';
import type { PatientPrincipal } from '../orders/service';
import { requestRefund } from '../refunds/service';
import {
  admissionOrders,
  enqueueInpatientNotify,
  extraBillOf,
  settlementRefunds,
  type SettlementMove,
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
    refunds: moves.map((m) => {
      const r = refundRows.find((x) => x.hisRefundNo === m.hisRefundNo);
      return {
        orderNo: m.orderNo,
        hisRefundNo: m.hisRefundNo,
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
  const prepared = await deps.db.transaction(async (tx) => {
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
    if (paying.some((o) => o.status === 'REFUNDING'))
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
    return row!;
  });
  await driveRefunds(deps, prepared);
  return settlementView(deps, (await findSettlement(deps, hospitalId, input.hisSettlementNo))!);
}

/**
 * Starts the refunds a settlement planned, outside any transaction (the plan is committed first). Each is
 * idempotent by its refund number, so a repeat of the settlement call (or of this) after a crash resumes.
 */
async function driveRefunds(deps: Deps, s: SettlementRow) {
  if (s.status !== 'SETTLING') return;
  for (const m of s.moves as SettlementMove[]) {
    try {
      await requestRefund(deps, {
        hospitalId: s.hospitalId,
        orderNo: m.orderNo,
        amountFen: m.amountFen,
        reason: `出院结算退押金 ${s.hisSettlementNo}`,
        hisRefundNo: m.hisRefundNo,
        requestedBy: 'system:inpatient',
      });
    } catch (e) {
      // Shown in the settlement's refunds (NOT_STARTED / FAILED); a repeat of the call retries it.
      deps.log.warn({ err: (e as Error).message, settlementId: s.id }, 'settlement refund not started');
    }
  }
}

/**
 * Settlement reversal (出院结算撤销): the settlement becomes REVERSED and the stay is back in hospital. Its
 * money effects are undone: an unpaid bill for the rest is cancelled, a paid one is refunded. Deposits it
 * refunded are not collected again: a corrected settlement computes against what is now held.
 */
export async function reverseSettlement(
  deps: Deps,
  hospitalId: string,
  hisSettlementNo: string,
  reason: string,
) {
  const s0 = await findSettlement(deps, hospitalId, hisSettlementNo);
  const result = await deps.db.transaction(async (tx) => {
    const [s] = await tx
      .select()
      .from(inpatientSettlements)
      .where(eq(inpatientSettlements.id, s0.id))
      .for('update');
    if (s!.status === 'REVERSED') return { s: s!, refundExtra: null };
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
    let refundExtra: string | null = null;
    if (s!.extraBillId) {
      await cancelUnpaidBills(tx, [s!.extraBillId], 'the bill for the rest');
      const b = await extraBillOf(tx, s!.extraBillId);
      if (b?.status === 'PAID') refundExtra = b.orderNo;
    }
    const [done] = await tx
      .update(inpatientSettlements)
      .set({
        status: 'REVERSED',
        reversalReason: reason,
        reversedAt: deps.clock.now(),
        updatedAt: sql`now()`,
      })
      .where(and(eq(inpatientSettlements.id, s!.id), ne(inpatientSettlements.status, 'REVERSED')))
      .returning();
    await tx
      .update(inpatientAdmissions)
      .set({ status: 'ADMITTED', updatedAt: sql`now()` })
      .where(eq(inpatientAdmissions.id, s!.admissionId));
    await enqueueInpatientNotify(deps, tx, {
      kind: 'settlement_reversed',
      admissionId: s!.admissionId,
      settlementId: s!.id,
    });
    return { s: done!, refundExtra };
  });
  if (result.refundExtra)
    // The rest it collected goes back (HIS-numbered, so a repeated reversal call does not refund twice).
    await requestRefund(deps, {
      hospitalId,
      orderNo: result.refundExtra,
      reason: `出院结算撤销 ${hisSettlementNo}`,
      hisRefundNo: `${hisSettlementNo}/R`,
      requestedBy: 'system:inpatient',
    }).catch((e: Error) =>
      deps.log.warn({ err: e.message, settlementId: result.s.id }, 'reversal refund not started'),
    );
  return settlementView(deps, (await findSettlement(deps, hospitalId, hisSettlementNo))!);
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
