/**
 * Masking of secrets and personal data before anything is logged or stored in a log table.
 * Keys are matched case-insensitively, ignoring `_` and `-`.
 */
const SECRET_KEYS = new Set(
  [
    'authorization',
    'signature',
    'sign',
    'paysign',
    'secret',
    'password',
    'privatekey',
    'apikey',
    'apiv3key',
    'key',
    'token',
    'accesstoken',
    'refreshtoken',
    'cookie',
    'ciphertext',
    'authcode',
    'secretenc',
    'secretsenc',
    'wechatpaysignature',
    'xsignature',
  ].map(norm),
);
const PII_KEYS: Record<string, (v: string) => string> = {
  [norm('idNo')]: maskIdNo,
  [norm('idCard')]: maskIdNo,
  [norm('certNo')]: maskIdNo,
  [norm('user_card_no')]: maskIdNo,
  [norm('phone')]: maskPhone,
  [norm('mobile')]: maskPhone,
  [norm('cardNo')]: maskCardNo,
  [norm('bankCardNo')]: maskCardNo,
  [norm('patientName')]: maskName,
  [norm('userName')]: maskName,
  [norm('name')]: maskName,
};

function norm(k: string): string {
  return k.toLowerCase().replace(/[_-]/g, '');
}

export function maskIdNo(v: string): string {
  return v.length <= 8 ? '*'.repeat(v.length) : `${v.slice(0, 3)}${'*'.repeat(v.length - 7)}${v.slice(-4)}`;
}
export function maskPhone(v: string): string {
  return v.length < 7 ? '*'.repeat(v.length) : `${v.slice(0, 3)}****${v.slice(-4)}`;
}
export function maskCardNo(v: string): string {
  return v.length <= 4 ? '*'.repeat(v.length) : `${'*'.repeat(v.length - 4)}${v.slice(-4)}`;
}
export function maskName(v: string): string {
  const chars = [...v];
  if (chars.length <= 1) return '*';
  return chars.length === 2
    ? `${chars[0]}*`
    : `${chars[0]}${'*'.repeat(chars.length - 2)}${chars[chars.length - 1]}`;
}

/** Deep copy of `value` with secret fields replaced by `[REDACTED]` and PII masked. */
export function maskPayload(value: unknown, depth = 0): unknown {
  if (depth > 8) return '[deep]';
  if (Array.isArray(value)) return value.slice(0, 50).map((v) => maskPayload(v, depth + 1));
  if (value && typeof value === 'object') {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value as Record<string, unknown>)) {
      const n = norm(k);
      if (SECRET_KEYS.has(n)) out[k] = '[REDACTED]';
      else if (PII_KEYS[n] && typeof v === 'string') out[k] = PII_KEYS[n](v);
      else out[k] = maskPayload(v, depth + 1);
    }
    return out;
  }
  if (typeof value === 'string' && value.length > 2000) return `${value.slice(0, 2000)}…`;
  return value;
}

/** pino `redact` paths for the same secret fields, at the top level and one level down. */
export const REDACT_PATHS = [
  'req.headers.authorization',
  'req.headers.cookie',
  'req.headers["x-signature"]',
  'req.headers["wechatpay-signature"]',
  '*.password',
  '*.secret',
  '*.privateKey',
  '*.apiV3Key',
  '*.token',
  '*.idNo',
  '*.phone',
  '*.cardNo',
];
