import { formatYuan, sumFen, yuanLabel } from './money';

describe('money: yuan from fen by string arithmetic', () => {
  it.each([
    [0, '0.00'],
    [1, '0.01'],
    [10, '0.10'],
    [115, '1.15'],
    [435, '4.35'],
    [12850, '128.50'],
    [-5, '-0.05'],
    ['0', '0.00'],
    ['007', '0.07'],
    ['-1230', '-12.30'],
    // Past 2^53: a string still renders exactly.
    ['9007199254740993', '90071992547409.93'],
  ])('formatYuan(%j) = %s', (f, y) => expect(formatYuan(f)).toBe(y));

  it('groups thousands and labels with ¥', () => {
    expect(yuanLabel(123456789)).toBe('¥1,234,567.89');
    expect(yuanLabel(-100)).toBe('-¥1.00');
    expect(yuanLabel('100000')).toBe('¥1,000.00');
  });

  it.each([1.5, Number.NaN, Number.MAX_SAFE_INTEGER + 2, '1.5', '1e3', '', ' ', 'abc', '--1'])(
    'refuses %j',
    (v) => expect(() => formatYuan(v as never)).toThrow(RangeError),
  );

  it('adds amounts without floating point, beyond 2^53 too', () => {
    expect(sumFen([12850, 2500])).toBe('15350');
    expect(sumFen([])).toBe('0');
    expect(sumFen(['9007199254740992', 1])).toBe('9007199254740993');
    // 0.1 + 0.2 in yuan is 30 fen, not 30.000000000000004.
    expect(formatYuan(sumFen([10, 20]))).toBe('0.30');
    expect(() => sumFen([-1])).toThrow(RangeError);
  });
});
