import type {
  BillStatus,
  OpenBill,
  OpenBillStatus,
  OpenCancelBillResult,
  OrderStatus,
  PatientBill,
  PushBillsResult,
} from '@hp/shared';
import { and, asc, eq, isNull, sql } from 'drizzle-orm';
import type { Db } from '../../db/client';
import { bills, orders, patients } from '../../db/schema';
import { AppError } from '../../lib/errors';
import { newId } from '../../lib/ids';

type BillRow = typeof bills.$inferSelect;

/** A bill just stored by a push, as {@link pushBills} hands it to its hook. */
export interface StoredBill {
  id: string;
  hospitalId: string;
  patientId: string;
  version: number;
  title: string;
  amountFen: number;
}

/** The columns a HIS push sets; a later version replaces all of them. */
function billContent(b: OpenBill, patientId: string) {
  return {
    patientId,
    visitNo: b.visitNo ?? null,
    department: b.department ?? null,
    doctor: b.doctor ?? null,
    title: b.title,
    amountFen: b.amountFen,
    items: b.items,
  };
}

function sameContent(row: BillRow, b: OpenBill, patientId: string): boolean {
  return (
    row.patientId === patientId &&
    row.amountFen === b.amountFen &&
    row.title === b.title &&
    (row.visitNo ?? undefined) === b.visitNo &&
    (row.department ?? undefined) === b.department &&
    (row.doctor ?? undefined) === b.doctor &&
    JSON.stringify(row.items) === JSON.stringify(b.items)
  );
}

/** Finds or creates the patient the HIS names, keeping the name current. */
async function upsertPatient(
  tx: Db,
  hospitalId: string,
  hisPatientId: string,
  name: string,
): Promise<string> {
  const [row] = await tx
    .insert(patients)
    .values({ id: newId('pat'), hospitalId, hisPatientId, name })
    .onConflictDoUpdate({
      target: [patients.hospitalId, patients.hisPatientId],
      set: { name, updatedAt: sql`now()` },
    })
    .returning({ id: patients.id });
  return row!.id;
}

/**
 * Stores bills pushed by the HIS, idempotently by HIS bill number: new → created; identical → unchanged;
 * changed while unpaid and not in a live order → replaced by a new version. A change to a paid bill or to
 * one held by a live order is refused, and then nothing of the batch is stored.
 */
export async function pushBills(
  db: Db,
  hospitalId: string,
  input: OpenBill[],
  /** Runs in the same transaction for every bill created or replaced (patient message, credit auto-pay). */
  onStored?: (tx: Db, bill: StoredBill) => Promise<void>,
): Promise<PushBillsResult> {
  const seen = new Set<string>();
  for (const b of input) {
    if (seen.has(b.hisBillNo))
      throw new AppError('validation_failed', `bills: hisBillNo ${b.hisBillNo} appears twice in the batch`);
    seen.add(b.hisBillNo);
  }
  return db.transaction(async (tx) => {
    const results: PushBillsResult['results'] = [];
    for (const b of input) {
      const patientId = await upsertPatient(tx, hospitalId, b.patientId, b.patientName);
      const [existing] = await tx
        .select()
        .from(bills)
        .where(and(eq(bills.hospitalId, hospitalId), eq(bills.hisBillNo, b.hisBillNo)))
        .for('update');
      if (!existing) {
        const id = newId('bill');
        await tx
          .insert(bills)
          .values({ id, hospitalId, hisBillNo: b.hisBillNo, ...billContent(b, patientId) });
        results.push({ hisBillNo: b.hisBillNo, billId: id, version: 1, outcome: 'created' });
        await onStored?.(tx, {
          id,
          hospitalId,
          patientId,
          version: 1,
          title: b.title,
          amountFen: b.amountFen,
        });
        continue;
      }
      if (sameContent(existing, b, patientId)) {
        results.push({
          hisBillNo: b.hisBillNo,
          billId: existing.id,
          version: existing.version,
          outcome: 'unchanged',
        });
        continue;
      }
      if (existing.status !== 'UNPAID') {
        throw new AppError(
          'bill_not_payable',
          `bill ${b.hisBillNo} is ${existing.status.toLowerCase()} and cannot be changed`,
        );
      }
      if (existing.lockedOrderId) {
        throw new AppError(
          'bill_locked',
          `bill ${b.hisBillNo} is being paid (order in progress) and cannot be changed now`,
        );
      }
      const version = existing.version + 1;
      await tx
        .update(bills)
        .set({ ...billContent(b, patientId), version, updatedAt: sql`now()` })
        .where(and(eq(bills.id, existing.id), eq(bills.status, 'UNPAID'), isNull(bills.lockedOrderId)));
      results.push({ hisBillNo: b.hisBillNo, billId: existing.id, version, outcome: 'replaced' });
      await onStored?.(tx, {
        id: existing.id,
        hospitalId,
        patientId,
        version,
        title: b.title,
        amountFen: b.amountFen,
      });
    }
    return { results };
  });
}

/** The patient's unpaid bills, oldest first; those held by a live order name it. */
export async function listPayableBills(db: Db, patientId: string): Promise<PatientBill[]> {
  const rows = await db
    .select()
    .from(bills)
    .where(and(eq(bills.patientId, patientId), eq(bills.status, 'UNPAID')))
    .orderBy(asc(bills.createdAt));
  return rows.map((r) => ({
    id: r.id,
    hisBillNo: r.hisBillNo,
    visitNo: r.visitNo,
    department: r.department,
    doctor: r.doctor,
    title: r.title,
    amountFen: r.amountFen,
    status: r.status as PatientBill['status'],
    payingOrderId: r.lockedOrderId,
    items: r.items as PatientBill['items'],
    createdAt: r.createdAt.toISOString(),
  }));
}

/**
 * Cancels an unpaid bill at the HIS's request (the doctor withdrew the prescription). Idempotent: a bill
 * already cancelled stays so. A paid bill or one held by a live order is refused, and nothing changes.
 */
export async function cancelBill(
  db: Db,
  hospitalId: string,
  hisBillNo: string,
): Promise<OpenCancelBillResult> {
  return db.transaction(async (tx) => {
    const [b] = await tx
      .select()
      .from(bills)
      .where(and(eq(bills.hospitalId, hospitalId), eq(bills.hisBillNo, hisBillNo)))
      .for('update');
    if (!b) throw new AppError('not_found', `bill ${hisBillNo} not found`);
    if (b.status === 'CANCELLED') return { hisBillNo, billId: b.id, status: 'CANCELLED' as const };
    if (b.status !== 'UNPAID')
      throw new AppError(
        'bill_not_payable',
        `bill ${hisBillNo} is ${b.status.toLowerCase()} and cannot be cancelled; refund it instead`,
      );
    if (b.lockedOrderId)
      throw new AppError(
        'bill_locked',
        `bill ${hisBillNo} is being paid (order in progress) and cannot be cancelled now`,
      );
    const done = await tx
      .update(bills)
      .set({ status: 'CANCELLED', updatedAt: sql`now()` })
      .where(and(eq(bills.id, b.id), eq(bills.status, 'UNPAID'), isNull(bills.lockedOrderId)))
      .returning({ id: bills.id });
    if (!done.length) throw new AppError('bill_locked', `bill ${hisBillNo} changed meanwhile; try again`);
    return { hisBillNo, billId: b.id, status: 'CANCELLED' as const };
  });
}

/** A bill's payment status for the HIS: its state, and the order that paid it or is paying it. */
export async function billStatusForHis(
  db: Db,
  hospitalId: string,
  hisBillNo: string,
): Promise<OpenBillStatus> {
  const [b] = await db
    .select()
    .from(bills)
    .where(and(eq(bills.hospitalId, hospitalId), eq(bills.hisBillNo, hisBillNo)));
  if (!b) throw new AppError('not_found', `bill ${hisBillNo} not found`);
  const orderId = b.paidOrderId ?? b.lockedOrderId;
  let order: OpenBillStatus['order'] = null;
  if (orderId) {
    const [o] = await db
      .select({
        orderNo: orders.orderNo,
        status: orders.status,
        channel: orders.channel,
        amountFen: orders.amountFen,
        refundedFen: orders.refundedFen,
        paidAt: orders.paidAt,
      })
      .from(orders)
      .where(eq(orders.id, orderId));
    if (o) order = { ...o, status: o.status as OrderStatus, paidAt: o.paidAt?.toISOString() ?? null };
  }
  return {
    hisBillNo: b.hisBillNo,
    billId: b.id,
    status: b.status as BillStatus,
    version: b.version,
    amountFen: b.amountFen,
    /** PAID: the order that paid it; UNPAID with an order: the live order paying it now. */
    order,
  };
}
