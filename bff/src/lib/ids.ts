import { randomBytes } from 'node:crypto';

const ALPHABET = '0123456789abcdefghjkmnpqrstvwxyz'; // Crockford base32, lower case

/** Time-sortable random id with a type prefix: `ord_`, `bill_`, `pay_`, `pat_`. */
export function newId(prefix: string, now = Date.now()): string {
  let t = now;
  let time = '';
  for (let i = 0; i < 10; i++) {
    time = ALPHABET[t % 32] + time;
    t = Math.floor(t / 32);
  }
  const rnd = randomBytes(10);
  let tail = '';
  for (const b of rnd) tail += ALPHABET[b % 32];
  return `${prefix}_${time}${tail}`;
}

/**
 * The order number channels see (out_trade_no): `P` + yyyyMMddHHmmss (Beijing time) + 12 random digits,
 * 27 characters of [0-9A-Z] — within WeChat's 6–32 and Alipay's 64-character limits.
 */
export function newOrderNo(now: Date, prefix = 'P'): string {
  const bj = new Date(now.getTime() + 8 * 3600 * 1000).toISOString(); // yyyy-mm-ddThh:mm:ss
  const stamp = bj.slice(0, 19).replace(/[-T:]/g, '');
  const digits = randomBytes(12);
  let tail = '';
  for (const b of digits) tail += String(b % 10);
  return `${prefix}${stamp}${tail}`;
}
