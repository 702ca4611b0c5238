import { createHash, createHmac, randomBytes, timingSafeEqual } from 'node:crypto';

/**
 * The signing scheme of our open API and of our calls to the HIS (documented for HIS vendors in the README):
 *
 *   X-App-Id:    the app id
 *   X-Timestamp: unix seconds
 *   X-Nonce:     16–64 characters [0-9A-Za-z_-], never reused within the window
 *   X-Signature: base64( HMAC-SHA256( secret, METHOD + "\n" + PATH_AND_QUERY + "\n" + TIMESTAMP + "\n"
 *                                              + NONCE + "\n" + hex(SHA-256(body)) + "\n" ) )
 *
 * PATH_AND_QUERY is the request target exactly as sent; an empty body hashes the empty string.
 */
export function canonicalString(
  method: string,
  pathAndQuery: string,
  timestamp: string,
  nonce: string,
  body: string,
): string {
  const bodyHash = createHash('sha256').update(body, 'utf8').digest('hex');
  return `${method.toUpperCase()}\n${pathAndQuery}\n${timestamp}\n${nonce}\n${bodyHash}\n`;
}

export function signRequest(
  secret: string,
  method: string,
  pathAndQuery: string,
  timestamp: string,
  nonce: string,
  body: string,
): string {
  return createHmac('sha256', secret)
    .update(canonicalString(method, pathAndQuery, timestamp, nonce, body))
    .digest('base64');
}

export function verifySignature(
  secret: string,
  signature: string,
  method: string,
  pathAndQuery: string,
  timestamp: string,
  nonce: string,
  body: string,
): boolean {
  const expected = Buffer.from(signRequest(secret, method, pathAndQuery, timestamp, nonce, body), 'base64');
  let given: Buffer;
  try {
    given = Buffer.from(signature, 'base64');
  } catch {
    return false;
  }
  return given.length === expected.length && timingSafeEqual(given, expected);
}

/** Headers for a signed call. */
export function signedHeaders(
  appId: string,
  secret: string,
  method: string,
  pathAndQuery: string,
  body: string,
  now = new Date(),
): Record<string, string> {
  const timestamp = String(Math.floor(now.getTime() / 1000));
  const nonce = randomBytes(16).toString('hex');
  return {
    'content-type': 'application/json',
    'x-app-id': appId,
    'x-timestamp': timestamp,
    'x-nonce': nonce,
    'x-signature': signRequest(secret, method, pathAndQuery, timestamp, nonce, body),
  };
}

export const NONCE_PATTERN = /^[0-9A-Za-z_-]{16,64}$/;
