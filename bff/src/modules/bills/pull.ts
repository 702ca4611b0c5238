import type { BillDetail, BillStatus, PatientBillsResponse } from '@hp/shared';
import { and, eq, inArray } from 'drizzle-orm';
import { bills, patients } from '../../db/schema';
import type { Deps } from '../../deps';
import { AppError, notFound, toAppError } from '../../lib/errors';
import { hisSetupFor, requireHisEndpoint } from '../his/endpoint';
import type { PatientPrincipal } from '../orders/service';
import { listPayableBills, pushBills } from './service';

/**
 * Bills the platform made itself — an inpatient deposit (`YJ:…`) or a settlement's rest (`JS:…`) — are not
 * in the HIS's pending list: pull mode neither hides nor re-checks them. A HIS bill number cannot hold `:`.
 */
const isInternalBill = (hisBillNo: string) => hisBillNo.includes(':');

async function hisPatientIdOf(deps: Pick<Deps, 'db'>, patientId: string): Promise<string> {
  const [p] = await deps.db
    .select({ hisPatientId: patients.hisPatientId })
    .from(patients)
    .where(eq(patients.id, patientId));
  if (!p) throw notFound('patient');
  return p.hisPatientId;
}

/**
 * The patient's payable bills. Push mode: what the HIS pushed. Pull mode: first the HIS's pending bills for
 * the patient, each stored through {@link pushBills} exactly as if pushed (same validation, versioning and
 * refusals); then the list, limited to what the HIS still calls pending plus bills a live order of ours is
 * paying. If the HIS does not answer (or answers nonsense) the page still works: the bills we hold, flagged
 * `hisUnavailable`.
 */
export async function listBillsForPatient(deps: Deps, who: PatientPrincipal): Promise<PatientBillsResponse> {
  const setup = await hisSetupFor(deps, who.hospitalId);
  if (setup?.billMode !== 'pull')
    return { bills: await listPayableBills(deps.db, who.patientId), billMode: 'push', hisUnavailable: false };

  let pending: Set<string> | undefined;
  try {
    if (!setup.endpoint) throw new AppError('his_unavailable', 'no HIS endpoint configured');
    const pulled = await deps.his.pendingBills(setup.endpoint, await hisPatientIdOf(deps, who.patientId));
    pending = new Set(pulled.map((b) => b.hisBillNo));
    for (const bill of pulled) {
      // One bill at a time: a bill the push rules refuse (paid here, being paid) does not hold back the others.
      for (let attempt = 0; ; attempt++) {
        try {
          await pushBills(deps.db, who.hospitalId, [bill]);
          break;
        } catch (e) {
          const err = toAppError(e);
          // Two pulls storing the same new bill at once: the loser's insert hits the unique key; once more.
          if (err.code === 'conflict' && attempt === 0) continue;
          deps.log.warn(
            { hospitalId: who.hospitalId, hisBillNo: bill.hisBillNo, code: err.code, reason: err.message },
            'pulled bill not stored',
          );
          break;
        }
      }
    }
  } catch (e) {
    const err = toAppError(e);
    if (err.code !== 'his_unavailable' && err.code !== 'his_error' && err.code !== 'not_found') throw e;
    deps.log.warn(
      { hospitalId: who.hospitalId, code: err.code, reason: err.message },
      'HIS pull failed: listing the bills we hold',
    );
    pending = undefined;
  }
  const held = await listPayableBills(deps.db, who.patientId);
  if (!pending) return { bills: held, billMode: 'pull', hisUnavailable: true };
  const stillPending = pending;
  // A bill the HIS no longer lists (paid at the window, withdrawn) is not offered; one we are paying stays.
  return {
    bills: held.filter(
      (b) => stillPending.has(b.hisBillNo) || b.payingOrderId || isInternalBill(b.hisBillNo),
    ),
    billMode: 'pull',
    hisUnavailable: false,
  };
}

/**
 * Pull mode, before an order is made: the HIS is asked once more which of the chosen bills it still calls
 * pending (a bill paid at the window a minute ago would otherwise be paid twice), and what it says is stored
 * through {@link pushBills} first, so the order charges the HIS's current amount. A bill it no longer lists
 * is refused (`bill_not_payable`). When the HIS does not answer the order goes ahead on the bills we hold:
 * the payment's push to the HIS is then the check, and a bill the HIS refuses there is refunded (see the
 * HIS push job). Push mode: nothing to do — the HIS told us of every change.
 */
export async function recheckBillsWithHis(
  deps: Deps,
  who: PatientPrincipal,
  billIds: string[],
): Promise<void> {
  const setup = await hisSetupFor(deps, who.hospitalId);
  if (setup?.billMode !== 'pull' || billIds.length === 0) return;
  const chosen = await deps.db
    .select({ id: bills.id, hisBillNo: bills.hisBillNo, lockedOrderId: bills.lockedOrderId })
    .from(bills)
    .where(
      and(
        inArray(bills.id, billIds),
        eq(bills.patientId, who.patientId),
        eq(bills.hospitalId, who.hospitalId),
      ),
    );
  // Unknown or foreign ids, and bills already being paid, are refused by the order itself.
  const toCheck = chosen.filter((b) => !b.lockedOrderId && !isInternalBill(b.hisBillNo));
  if (toCheck.length === 0) return;
  let pulled;
  try {
    if (!setup.endpoint) throw new AppError('his_unavailable', 'no HIS endpoint configured');
    pulled = await deps.his.pendingBills(setup.endpoint, await hisPatientIdOf(deps, who.patientId));
  } catch (e) {
    const err = toAppError(e);
    if (err.code !== 'his_unavailable' && err.code !== 'his_error' && err.code !== 'not_found') throw e;
    deps.log.warn(
      { hospitalId: who.hospitalId, code: err.code, reason: err.message },
      'HIS pull failed before order creation: going ahead on the bills we hold',
    );
    return;
  }
  const byNo = new Map(pulled.map((b) => [b.hisBillNo, b]));
  const gone = toCheck.find((b) => !byNo.has(b.hisBillNo));
  if (gone)
    throw new AppError(
      'bill_not_payable',
      `bill ${gone.id} is no longer pending at the hospital (paid at a window or withdrawn); refresh the list`,
    );
  const current = toCheck.map((b) => byNo.get(b.hisBillNo)!);
  await pushBills(deps.db, who.hospitalId, current);
}

/**
 * One of the patient's bills detailed by the HIS: prescription, items with unit prices, department, doctor.
 * Another patient's bill is not found. The amount is ours (what an order charges); the items are the HIS's.
 */
export async function billDetailForPatient(
  deps: Deps,
  who: PatientPrincipal,
  billId: string,
): Promise<BillDetail> {
  const [b] = await deps.db
    .select({
      id: bills.id,
      hisBillNo: bills.hisBillNo,
      status: bills.status,
      amountFen: bills.amountFen,
      title: bills.title,
      visitNo: bills.visitNo,
      department: bills.department,
      doctor: bills.doctor,
      hisPatientId: patients.hisPatientId,
    })
    .from(bills)
    .innerJoin(patients, eq(patients.id, bills.patientId))
    .where(
      and(eq(bills.id, billId), eq(bills.patientId, who.patientId), eq(bills.hospitalId, who.hospitalId)),
    );
  if (!b) throw notFound('bill');
  const rx = await deps.his.prescription(await requireHisEndpoint(deps, who.hospitalId), b.hisBillNo);
  if (rx.hisPatientId !== b.hisPatientId)
    throw new AppError('his_error', 'the hospital system answered the detail of another patient’s bill');
  return {
    billId: b.id,
    hisBillNo: b.hisBillNo,
    status: b.status as BillStatus,
    amountFen: b.amountFen,
    title: b.title,
    visitNo: rx.visitNo ?? b.visitNo,
    department: rx.department ?? b.department,
    doctor: rx.doctor ?? b.doctor,
    diagnosis: rx.diagnosis,
    prescribedAt: rx.prescribedAt?.toISOString() ?? null,
    items: rx.items,
  };
}
