import type { PatientBill } from '@hp/shared';
import { sumFen } from './money';

/** The bills of one visit (就诊), as the bill list groups them. */
export interface VisitGroup {
  /** The visit number, or the bill id for a bill without one. */
  key: string;
  visitNo: string | null;
  department: string | null;
  doctor: string | null;
  bills: PatientBill[];
  totalFen: string;
}

/** Groups bills by visit, in the order their first bill appears; department and doctor of the first bill. */
export function groupByVisit(bills: readonly PatientBill[]): VisitGroup[] {
  const groups = new Map<string, PatientBill[]>();
  for (const b of bills) {
    const key = b.visitNo ?? `bill:${b.id}`;
    const g = groups.get(key);
    if (g) g.push(b);
    else groups.set(key, [b]);
  }
  return [...groups.entries()].map(([key, list]) => ({
    key,
    visitNo: list[0]!.visitNo,
    department: list[0]!.department,
    doctor: list[0]!.doctor,
    bills: list,
    totalFen: sumFen(list.map((b) => b.amountFen)),
  }));
}

/** A bill can be put in a new order: unpaid and not held by a live one. */
export const isPayable = (b: PatientBill) => b.status === 'UNPAID' && !b.payingOrderId;
