import { newId, newOrderNo } from './ids';

describe('ids', () => {
  it('makes prefixed, time-sortable, unique ids', () => {
    const a = newId('ord', 1_700_000_000_000);
    const b = newId('ord', 1_700_000_000_001);
    expect(a).toMatch(/^ord_[0-9a-z]{20}$/);
    expect(a < b).toBe(true);
    expect(new Set(Array.from({ length: 10_000 }, () => newId('x'))).size).toBe(10_000);
  });

  it('makes order numbers WeChat and Alipay accept, stamped in Beijing time', () => {
    const no = newOrderNo(new Date('2026-11-23T16:30:00Z'));
    expect(no).toMatch(/^P20261124003000\d{12}$/);
    expect(no.length).toBeLessThanOrEqual(32);
  });
});
