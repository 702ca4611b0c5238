/**
 * Money is integer fen everywhere in code and database. Yuan strings exist only at the edges (Alipay,
 * the insurance platform, statement files) and are converted here by string arithmetic, never through
 * floating point.
 */
export type Fen = number & { readonly __brand: 'Fen' };

/** Largest amount we accept for one bill or order: 100 million yuan, far below 2^53 fen. */
export const MAX_FEN = 10_000_000_000;

/** Brands a value as fen after checking it is a safe, non-negative integer within {@link MAX_FEN}. */
export function fen(value: number): Fen {
  if (!Number.isSafeInteger(value) || value < 0 || value > MAX_FEN) {
    throw new RangeError(`not a valid fen amount: ${value}`);
  }
  return value as Fen;
}

/** Adds fen amounts; the sum is checked like any other amount. */
export function sumFen(values: readonly number[]): Fen {
  let total = 0;
  for (const v of values) total += fen(v);
  return fen(total);
}

const YUAN_PATTERN = /^(-)?(\d{1,12})(?:\.(\d{1,2}))?$/;

/**
 * Parses a yuan string ("12", "12.5", "12.34", "-0.01") into signed integer fen without floating point.
 * Rejects more than two decimals, exponents, spaces and thousands separators.
 */
export function yuanToFen(yuan: string): number {
  const m = YUAN_PATTERN.exec(yuan.trim() === yuan ? yuan : '');
  if (!m) throw new RangeError(`not a yuan amount: ${JSON.stringify(yuan)}`);
  const [, sign, whole, frac = ''] = m;
  const value = Number(whole) * 100 + Number(frac.padEnd(2, '0'));
  if (!Number.isSafeInteger(value)) throw new RangeError(`yuan amount out of range: ${yuan}`);
  return sign && value !== 0 ? -value : value;
}

/** Formats signed integer fen as a yuan string with exactly two decimals ("0.01", "-12.30"). */
export function fenToYuan(amount: number): string {
  if (!Number.isSafeInteger(amount)) throw new RangeError(`not an integer fen amount: ${amount}`);
  const sign = amount < 0 ? '-' : '';
  const abs = Math.abs(amount);
  const whole = Math.floor(abs / 100);
  const cents = abs % 100;
  return `${sign}${whole}.${cents < 10 ? '0' : ''}${cents}`;
}
