import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { isValidIdNo } from '../../shared/src/id-number';
import type { SandboxKeys } from '../../bff/src/sandbox/keys';

/**
 * The log scan of the security suite (issue 10): finds secrets and personal data in log lines and in the
 * interface log. A secret is any key the stack was given (APIv3 and v2 keys, private keys, app and HIS secrets,
 * the JWT and sealing secrets) or a bearer token (`eyJ…` JWT); personal data is a full 18-digit ID number (with a
 * valid check character), a full bank-card number (16–19 digits passing Luhn) or a mobile number. Masked forms
 * (`110***********0011`, `******1234`, `138****0000`) are what should be there instead.
 */

export interface Leak {
  where: string;
  kind: string;
  /** The match, itself masked so the report does not leak again. */
  sample: string;
}

/** Every secret string of a stack's sandbox keys (long enough to be unmistakable), plus `extra`. */
export function secretsOf(keys: SandboxKeys, extra: string[] = []): string[] {
  const out = new Set<string>(extra);
  const pem = (p: string) => {
    // The body of a PEM, in lines: any one of them in a log is a leaked key.
    for (const line of p.split('\n')) if (/^[A-Za-z0-9+/=]{40,}$/.test(line)) out.add(line);
  };
  const visit = (k: string, v: unknown) => {
    if (typeof v === 'string') {
      if (/private/i.test(k) && /PRIVATE KEY/.test(v)) pem(v);
      else if (/private|secret|apiv3key|apiv2key/i.test(k) && v.length >= 16) out.add(v);
    } else if (v && typeof v === 'object') for (const [kk, vv] of Object.entries(v)) visit(kk, vv);
  };
  visit('', keys);
  return [...out].filter((s) => s.length >= 16);
}

const JWT = /eyJ[\w-]{8,}\.eyJ[\w-]{8,}\.[\w-]+/g;
// Word boundaries so a longer number (a 28-digit transaction id) is not an ID number in disguise.
const ID_NO = /(?<![\dA-Za-z])[1-9]\d{16}[\dXx](?![\dA-Za-z])/g;
const CARD = /(?<![\dA-Za-z])\d{16,19}(?![\dA-Za-z])/g;
const PHONE = /(?<![\dA-Za-z])1[3-9]\d{9}(?![\dA-Za-z])/g;

function luhn(digits: string): boolean {
  let sum = 0;
  for (let i = 0; i < digits.length; i++) {
    let d = Number(digits[digits.length - 1 - i]);
    if (i % 2 === 1) {
      d *= 2;
      if (d > 9) d -= 9;
    }
    sum += d;
  }
  return sum % 10 === 0;
}

const mask = (s: string) => (s.length <= 8 ? '*'.repeat(s.length) : `${s.slice(0, 4)}…${s.slice(-2)}`);

/**
 * Leaks in a text. `known` are the secrets to look for; `allowNumbers` are numbers that look like card
 * numbers but are not personal (the sandbox's own merchant and app ids).
 */
export function findLeaks(where: string, text: string, known: string[], allowNumbers: string[] = []): Leak[] {
  const leaks: Leak[] = [];
  for (const s of known) if (text.includes(s)) leaks.push({ where, kind: 'secret', sample: mask(s) });
  for (const m of text.match(JWT) ?? []) leaks.push({ where, kind: 'jwt', sample: mask(m) });
  for (const m of text.match(ID_NO) ?? [])
    if (isValidIdNo(m.toUpperCase())) leaks.push({ where, kind: 'id_number', sample: mask(m) });
  for (const m of text.match(CARD) ?? [])
    if (luhn(m) && !allowNumbers.includes(m) && !isValidIdNo(m))
      leaks.push({ where, kind: 'card_number', sample: mask(m) });
  for (const m of text.match(PHONE) ?? []) leaks.push({ where, kind: 'phone', sample: mask(m) });
  return leaks;
}

/** Leaks in every log line of the `*.log` files of `dir`, with the secrets listed in its `secrets-*.json`. */
export function scanLogDir(dir: string): { lines: number; leaks: Leak[] } {
  const files = readdirSync(dir);
  const known = new Set<string>();
  const allow = new Set<string>();
  for (const f of files.filter((x) => /^secrets-.*\.json$/.test(x))) {
    const s = JSON.parse(readFileSync(path.join(dir, f), 'utf8')) as { secrets: string[]; allow: string[] };
    s.secrets.forEach((x) => known.add(x));
    s.allow.forEach((x) => allow.add(x));
  }
  let lines = 0;
  const leaks: Leak[] = [];
  for (const f of files.filter((x) => x.endsWith('.log'))) {
    const text = readFileSync(path.join(dir, f), 'utf8');
    text.split('\n').forEach((line, i) => {
      if (!line) return;
      lines++;
      leaks.push(...findLeaks(`${f}:${i + 1}`, line, [...known], [...allow]));
    });
  }
  return { lines, leaks };
}
