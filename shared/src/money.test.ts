import { fen, fenToYuan, sumFen, yuanToFen } from './money';

describe('money: yuan ↔ fen without floating point', () => {
  it.each([
    ['0.01', 1],
    ['0.1', 10],
    ['1', 100],
    ['12.34', 1234],
    ['12.3', 1230],
    ['0.29', 29],
    ['1.15', 115],
    ['4.35', 435],
    ['999999999999.99', 99999999999999],
    ['-0.01', -1],
    ['-12.30', -1230],
    ['0', 0],
    ['-0', 0],
  ])('yuanToFen(%s) = %d', (y, f) => expect(yuanToFen(y)).toBe(f));

  it('gets the classic float traps right', () => {
    // parseFloat('1.15') * 100 === 114.99999999999999, and 4.35 * 100 === 434.99999999999994
    expect(yuanToFen('1.15')).toBe(115);
    expect(yuanToFen('4.35')).toBe(435);
    expect(fenToYuan(yuanToFen('0.07'))).toBe('0.07');
  });

  it.each(['', ' 1', '1.', '.5', '1.234', '1e3', '1,000.00', 'abc', '+1', '--1', '1 '])('rejects %j', (y) => {
    expect(() => yuanToFen(y)).toThrow(RangeError);
  });

  it.each([
    [1, '0.01'],
    [10, '0.10'],
    [100, '1.00'],
    [1234, '12.34'],
    [-1, '-0.01'],
    [-1230, '-12.30'],
    [0, '0.00'],
  ])('fenToYuan(%d) = %s', (f, y) => expect(fenToYuan(f)).toBe(y));

  it('round-trips every amount up to 10 yuan', () => {
    for (let f = -1000; f <= 1000; f++) expect(yuanToFen(fenToYuan(f))).toBe(f);
  });

  it('refuses non-integer, negative or unsafe fen', () => {
    expect(() => fen(1.5)).toThrow();
    expect(() => fen(-1)).toThrow();
    expect(() => fen(Number.MAX_SAFE_INTEGER)).toThrow();
    expect(() => fenToYuan(0.5)).toThrow();
    expect(sumFen([1, 2, 3])).toBe(6);
    expect(() => sumFen([1, 0.5])).toThrow();
  });
});
