import type { BillDetail, BillStatus, PatientBillsResponse } from '@hp/shared';
import { and, eq } from 'drizzle-orm';
import { bills, patients } from '../../db/schema';
import type { Deps } from '../../deps';
import { AppError, notFound, toAppError } from '../../lib/errors';
import { hisSetupFor, requireHisEndpoint } from '../his/endpoint';
import type { PatientPrincipal } from '../orders/service';
import { listPayableBills, pushBills } from './service';

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
    bills: held.filter((b) => stillPending.has(b.hisBillNo) || b.payingOrderId),
    billMode: 'pull',
    hisUnavailable: false,
  };
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
