/**
 * An Idempotency-Key for one checkout attempt (8–64 printable characters): made once when the patient presses
 * 支付 and reused if the same submission is retried (a lost answer), so the bff answers the stored order
 * instead of refusing the held bills.
 */
export function newIdempotencyKey(now: number = Date.now(), random: () => number = Math.random): string {
  let r = '';
  while (r.length < 16) r += Math.floor(random() * 36).toString(36);
  return `ck-${now.toString(36)}-${r.slice(0, 16)}`;
}
