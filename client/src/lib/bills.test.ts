import { buildPatientBill } from '../../test/factories';
import { groupByVisit, isPayable } from './bills';

const bill = buildPatientBill;

describe('bills grouped by visit', () => {
  it('keeps the order of first appearance; a bill without a visit stands alone', () => {
    const a = bill({ visitNo: 'V1' });
    const b = bill({ visitNo: 'V2', department: '检验科' });
    const c = bill({ visitNo: 'V1' });
    const d = bill({ visitNo: null });
    const groups = groupByVisit([a, b, c, d]);
    expect(groups.map((g) => [g.key, g.bills.map((x) => x.id), g.totalFen])).toEqual([
      ['V1', [a.id, c.id], String(a.amountFen + c.amountFen)],
      ['V2', [b.id], String(b.amountFen)],
      [`bill:${d.id}`, [d.id], String(d.amountFen)],
    ]);
    expect(groups[1]!.department).toBe('检验科');
  });

  it('a bill held by a live order is not payable again', () => {
    expect(isPayable(bill())).toBe(true);
    expect(isPayable(bill({ payingOrderId: 'ord_1' }))).toBe(false);
    expect(isPayable(bill({ status: 'PAID' }))).toBe(false);
  });
});
