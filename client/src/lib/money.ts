/**
 * Amounts arrive as integer fen (JSON numbers, or digit strings where a value may pass 2^53) and are shown
 * as yuan by string arithmetic only: the last two digits are the fen, never a division or a float.
 */
export type FenLike = number | string;

/** The fen amount as a string of digits with its sign; refuses fractions, exponents and unsafe numbers. */
function digitsOf(amount: FenLike): { negative: boolean; digits: string } {
  let text: string;
  if (typeof amount === 'number') {
    if (!Number.isSafeInteger(amount)) throw new RangeError(`not an integer fen amount: ${amount}`);
    text = String(amount);
  } else {
    text = amount.trim();
  }
  const m = /^(-)?(\d+)$/.exec(text);
  if (!m) throw new RangeError(`not an integer fen amount: ${JSON.stringify(amount)}`);
  const digits = m[2]!.replace(/^0+(?=\d)/, '');
  return { negative: Boolean(m[1]) && /[1-9]/.test(digits), digits };
}

/** `12345` → `"123.45"`, `"-5"` → `"-0.05"`; with `grouping`, thousands separated: `"1,234.50"`. */
export function formatYuan(amount: FenLike, opts: { grouping?: boolean } = {}): string {
  const { negative, digits } = digitsOf(amount);
  const padded = digits.padStart(3, '0');
  let whole = padded.slice(0, -2);
  const cents = padded.slice(-2);
  if (opts.grouping) whole = whole.replace(/\B(?=(\d{3})+(?!\d))/g, ',');
  return `${negative ? '-' : ''}${whole}.${cents}`;
}

/** `¥1,234.50`: how amounts are shown. */
export function yuanLabel(amount: FenLike): string {
  const s = formatYuan(amount, { grouping: true });
  return s.startsWith('-') ? `-¥${s.slice(1)}` : `¥${s}`;
}

/** Adds integer fen amounts as digit strings (no precision limit); used for the checkout total. */
export function sumFen(amounts: readonly FenLike[]): string {
  let total = '0';
  for (const a of amounts) {
    const { negative, digits } = digitsOf(a);
    if (negative) throw new RangeError('a bill amount cannot be negative');
    total = addDigits(total, digits);
  }
  return total;
}

function addDigits(a: string, b: string): string {
  let out = '';
  let carry = 0;
  for (let i = a.length - 1, j = b.length - 1; i >= 0 || j >= 0 || carry; i--, j--) {
    const d = (i >= 0 ? a.charCodeAt(i) - 48 : 0) + (j >= 0 ? b.charCodeAt(j) - 48 : 0) + carry;
    out = String(d % 10) + out;
    carry = d >= 10 ? 1 : 0;
  }
  return out.replace(/^0+(?=\d)/, '');
}
