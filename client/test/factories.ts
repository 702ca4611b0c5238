import type { PatientBill } from '@hp/shared';

let seq = 0;

/** A bill as `GET /api/patient/bills` lists it; override any field. */
export function buildPatientBill(overrides: Partial<PatientBill> = {}): PatientBill {
  seq++;
  return {
    id: `bill_${seq}`,
    hisBillNo: `HB${seq}`,
    visitNo: 'V1',
    department: '呼吸内科',
    doctor: '陈医生',
    title: `费用${seq}`,
    amountFen: 100 * seq,
    status: 'UNPAID',
    payingOrderId: null,
    items: [],
    createdAt: '2026-11-23T00:00:00Z',
    ...overrides,
  };
}
