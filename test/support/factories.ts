import { randomBytes } from 'node:crypto';
import type { SimBillInput } from '../../bff/src/sandbox/his/simulator';

let seq = 0;

/** A bill as the HIS simulator pushes it; override any field. */
export function buildBill(overrides: Partial<SimBillInput> = {}): SimBillInput {
  seq++;
  return {
    hospital: 'H001',
    patientId: 'P0001',
    title: `测试费用 ${seq}`,
    department: '内科',
    doctor: '测试医生',
    visitNo: `V${Date.now()}${seq}`,
    hisBillNo: `HB${Date.now()}${seq}${randomBytes(3).toString('hex')}`,
    amountFen: 1000 + seq,
    ...overrides,
  };
}
