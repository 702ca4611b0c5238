import { createCipheriv, createDecipheriv } from 'node:crypto';
import { sm2 } from 'sm-crypto-v2';

/*
 * The national healthcare-security mobile payment platform's message envelope (国家医保移动支付, protocols.md §4):
 *
 *   { appId, encType: "SM4", signType: "SM2", timestamp, version: "2.0.1", encData, signData }
 *
 * - encData: upper-case hex of SM4-ECB-PKCS7 over the compact JSON of the business data. The SM4 key is derived
 *   from the app: k = upperhex(SM4-ECB-PKCS7(key = utf8(appId[0:16]), utf8(appSecret)))[0:16], used as ASCII
 *   bytes [C from the platform's demo code].
 * - signData: SM3withSM2 over the sign string, raw r‖s (64 bytes), base64. The sign string takes every envelope
 *   field but signData, encData and extra, with `data` (the plaintext business data) in place of encData;
 *   null and empty values are dropped (recursively inside data), keys sorted (ASCII), `k=v` joined by `&`, then
 *   `&key=<appSecret>`. Objects are written as compact JSON with sorted keys.
 * - Replies add `code`, `message`, `success` at the top level, which the sign string then covers too [P: a
 *   third-party rendition of the demo]. Verifying a reply: decrypt encData, put it back as `data`, rebuild.
 *
 * Unconfirmed details, configurable here or tolerated when verifying, are marked [U]:
 * - [U] SM2 signer id: the demo effectively uses the GM/T 0009 default; configurable (`userId`).
 * - [U] timestamp unit: the 2.0.1 demo sends epoch milliseconds; `timestampUnit` switches to seconds. When
 *   opening, both are accepted (told apart by magnitude).
 * - [U] numbers and booleans inside `data` are written as strings in the sign string (the platform's web
 *   front-end does so one level deep; here at every level). Our requests only carry strings, so this matters
 *   only for a reply that carries numbers.
 * - [U] the web front-end of the same family escapes non-ASCII characters as \uXXXX before encrypting;
 *   `asciiJson` does the same. The sign string always keeps the characters as they are.
 * - [U] a signature in DER (ASN.1) instead of raw r‖s is accepted when verifying (some SDK ports emit DER);
 *   we always send raw r‖s.
 *
 * sm-crypto-v2 (protocols.md §8): `doSignature` returns r‖s as 128 hex characters (each half left-padded) unless
 * `der: true`; it must be called with `{ hash: true, userId }`, its default `hash: false` signs the bare message
 * (not SM2's Z-prefixed digest). SM4 is node:crypto's `sm4-ecb` (PKCS#7 padding by default).
 */

/** The envelope version this file speaks. */
export const NHSA_ENVELOPE_VERSION = '2.0.1';
/** GM/T 0009 default SM2 signer id; sm-crypto-v2 needs it spelled out together with `hash: true`. */
export const NHSA_DEFAULT_USER_ID = '1234567812345678';
/** Accepted clock skew of a signed envelope (reply or notification), seconds. */
export const NHSA_MAX_SKEW_SECONDS = 300;

/** Fields of an envelope that never enter the sign string. */
const UNSIGNED_FIELDS = new Set(['signData', 'encData', 'extra']);
/** Order of the SM2 curve: r and s must lie in [1, n-1]. */
const SM2_N = BigInt('0xFFFFFFFEFFFFFFFFFFFFFFFFFFFFFFFF7203DF6B21C6052B53BBF40939D54123');

/** A sealed envelope as it travels (replies carry `code`, `message`, `success` beside these). */
export interface NhsaEnvelope {
  appId: string;
  encType: 'SM4';
  signType: 'SM2';
  /** Epoch milliseconds (or seconds, see `timestampUnit`) as a string. */
  timestamp: string;
  version: string;
  encData?: string;
  signData: string;
  [field: string]: unknown;
}

/** Why an envelope was refused. */
export type NhsaEnvelopeFailure = 'format' | 'signature' | 'decrypt' | 'timestamp';

/** Thrown by {@link openEnvelope} (and {@link sm4DecryptHex}) for anything that must not be believed. */
export class NhsaEnvelopeError extends Error {
  override name = 'NhsaEnvelopeError';
  constructor(
    readonly reason: NhsaEnvelopeFailure,
    message: string,
  ) {
    super(message);
  }
}

// ---- SM4 ----------------------------------------------------------------------------------------------------

function sm4Ecb(key: Buffer, input: Buffer): Buffer {
  const c = createCipheriv('sm4-ecb', key, null);
  return Buffer.concat([c.update(input), c.final()]);
}

/**
 * The app's SM4 key: the first 16 characters of upperhex(SM4-ECB(key = appId[0:16], appSecret)), as ASCII
 * bytes. The appId must have at least 16 ASCII characters.
 */
export function deriveSm4Key(appId: string, appSecret: string): Buffer {
  const idKey = Buffer.from(appId.slice(0, 16), 'utf8');
  if (idKey.length !== 16)
    throw new Error('the appId must start with 16 ASCII characters (the SM4 key seed)');
  const hex = sm4Ecb(idKey, Buffer.from(appSecret, 'utf8')).toString('hex').toUpperCase();
  return Buffer.from(hex.slice(0, 16), 'ascii');
}

/** SM4-ECB-PKCS7 of a UTF-8 string, upper-case hex. */
export function sm4EncryptHex(key: Buffer, plaintext: string): string {
  return sm4Ecb(key, Buffer.from(plaintext, 'utf8')).toString('hex').toUpperCase();
}

/** Inverse of {@link sm4EncryptHex}; throws {@link NhsaEnvelopeError} `decrypt` for anything malformed. */
export function sm4DecryptHex(key: Buffer, hex: string): string {
  if (!/^(?:[0-9A-Fa-f]{32})+$/.test(hex))
    throw new NhsaEnvelopeError('decrypt', 'encData is not hex whole SM4 blocks');
  try {
    const d = createDecipheriv('sm4-ecb', key, null);
    const out = Buffer.concat([d.update(Buffer.from(hex, 'hex')), d.final()]);
    return new TextDecoder('utf-8', { fatal: true }).decode(out);
  } catch {
    throw new NhsaEnvelopeError('decrypt', 'encData does not decrypt with this app key');
  }
}

// ---- sign string --------------------------------------------------------------------------------------------

const isEmpty = (v: unknown) => v === null || v === undefined || v === '';

/**
 * A copy of `value` without null, undefined, empty strings and empty arrays, at every depth (an array that only
 * held such values is dropped as well). Returns undefined when nothing is left of `value` itself.
 */
export function pruneEmpty(value: unknown): unknown {
  if (isEmpty(value)) return undefined;
  if (Array.isArray(value)) {
    const items = value.map(pruneEmpty).filter((v) => v !== undefined);
    return items.length ? items : undefined;
  }
  if (typeof value === 'object') {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value as Record<string, unknown>)) {
      const p = pruneEmpty(v);
      if (p !== undefined) out[k] = p;
    }
    return out;
  }
  return value;
}

/** The sign string's form of data: pruned, keys sorted at every depth, numbers and booleans as strings [U]. */
function canonicalData(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(canonicalData);
  if (value && typeof value === 'object') {
    const out: Record<string, unknown> = {};
    for (const k of Object.keys(value).sort()) out[k] = canonicalData((value as Record<string, unknown>)[k]);
    return out;
  }
  return typeof value === 'number' || typeof value === 'boolean' ? String(value) : value;
}

/**
 * The string a signature covers: every field but signData, encData and extra, `data` as the plaintext
 * business data, empty values dropped, sorted, `k=v` joined by `&`, then `&key=<appSecret>`.
 */
export function signString(fields: Record<string, unknown>, appSecret: string): string {
  const parts: string[] = [];
  for (const k of Object.keys(fields).sort()) {
    if (UNSIGNED_FIELDS.has(k)) continue;
    const v = pruneEmpty(fields[k]);
    if (v === undefined) continue;
    parts.push(`${k}=${typeof v === 'object' ? JSON.stringify(canonicalData(v)) : String(v)}`);
  }
  parts.push(`key=${appSecret}`);
  return parts.join('&');
}

// ---- SM2 ----------------------------------------------------------------------------------------------------

const utf8 = (s: string) => new TextEncoder().encode(s);

/** A precomputed SM2 public key (verification is on the hot path of every reply). */
export type Sm2PublicKey = ReturnType<typeof sm2.precomputePublicKey>;

/** SM3withSM2 of a string, raw r‖s (64 bytes), base64. */
export function sm2SignBase64(
  message: string,
  privateKeyHex: string,
  opts: { publicKeyHex?: string; userId?: string } = {},
): string {
  const hex = sm2.doSignature(utf8(message), privateKeyHex, {
    hash: true,
    userId: opts.userId ?? NHSA_DEFAULT_USER_ID,
    // Else derived from the private key on every call.
    publicKey: opts.publicKeyHex ?? sm2.getPublicKeyFromPrivateKey(privateKeyHex),
  });
  return Buffer.from(hex, 'hex').toString('base64');
}

/** Verifies a base64 SM2 signature (raw r‖s, or DER [U]); false for anything malformed. */
export function sm2VerifyBase64(
  message: string,
  signature: string,
  publicKey: string | Sm2PublicKey,
  userId = NHSA_DEFAULT_USER_ID,
): boolean {
  if (typeof signature !== 'string' || !/^[A-Za-z0-9+/]+={0,2}$/.test(signature)) return false;
  const raw = Buffer.from(signature, 'base64');
  if (raw.toString('base64') !== signature) return false;
  try {
    if (raw.length === 64) {
      const r = BigInt(`0x${raw.subarray(0, 32).toString('hex')}`);
      const s = BigInt(`0x${raw.subarray(32).toString('hex')}`);
      if (r === 0n || s === 0n || r >= SM2_N || s >= SM2_N) return false;
      return sm2.doVerifySignature(utf8(message), raw.toString('hex'), publicKey, { hash: true, userId });
    }
    if (raw[0] === 0x30 && raw.length >= 8 && raw.length <= 72)
      return sm2.doVerifySignature(utf8(message), raw.toString('hex'), publicKey, {
        hash: true,
        der: true,
        userId,
      });
  } catch {
    return false;
  }
  return false;
}

/** Whether `hex` is an uncompressed public key on the SM2 curve. */
export function isSm2PublicKey(hex: string): boolean {
  try {
    return /^04[0-9a-fA-F]{128}$/.test(hex) && sm2.verifyPublicKey(hex);
  } catch {
    return false;
  }
}

// ---- seal and open ------------------------------------------------------------------------------------------

/** What sealing needs: the app and our SM2 key. */
export interface NhsaSealKeys {
  appId: string;
  appSecret: string;
  privateKeyHex: string;
  /** Our public key (derived from the private key when absent). */
  publicKeyHex?: string;
  /** SM2 signer id [U]; default {@link NHSA_DEFAULT_USER_ID}. */
  userId?: string;
  /** The derived SM4 key, when the caller keeps it (else derived per call). */
  sm4Key?: Buffer;
}

export interface NhsaSealOptions {
  now?: Date;
  /** [U] epoch milliseconds (the 2.0.1 demo) or seconds. Default 'ms'. */
  timestampUnit?: 'ms' | 's';
  /** Extra top-level fields, signed too: a reply's `code`, `message`, `success`. */
  fields?: Record<string, string | number | boolean>;
  /** [U] escape non-ASCII characters as \uXXXX in the encrypted JSON (as the web front-end does). */
  asciiJson?: boolean;
}

const toAsciiJson = (json: string) =>
  json.replace(/[\u0080-\uffff]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);

/**
 * Encrypts and signs business data into an envelope. Null and empty values are dropped from `data` before
 * both, so what is encrypted is exactly what is signed. `data` undefined: no encData (a bare reply).
 */
export function sealEnvelope(data: unknown, keys: NhsaSealKeys, opts: NhsaSealOptions = {}): NhsaEnvelope {
  const now = opts.now ?? new Date();
  const env: NhsaEnvelope = {
    appId: keys.appId,
    encType: 'SM4',
    signType: 'SM2',
    timestamp: String(opts.timestampUnit === 's' ? Math.floor(now.getTime() / 1000) : now.getTime()),
    version: NHSA_ENVELOPE_VERSION,
    ...opts.fields,
    signData: '',
  };
  const pruned = data === undefined ? undefined : (pruneEmpty(data) ?? {});
  if (pruned !== undefined) {
    const json = JSON.stringify(pruned);
    env.encData = sm4EncryptHex(
      keys.sm4Key ?? deriveSm4Key(keys.appId, keys.appSecret),
      opts.asciiJson ? toAsciiJson(json) : json,
    );
  }
  const { signData: _omit, ...signed } = env;
  env.signData = sm2SignBase64(signString({ ...signed, data: pruned }, keys.appSecret), keys.privateKeyHex, {
    publicKeyHex: keys.publicKeyHex,
    userId: keys.userId,
  });
  return env;
}

/** What opening needs: the app (whose secret keys the SM4 key and the sign string) and the peer's key. */
export interface NhsaOpenKeys {
  /** Expected appId: an envelope for another app is refused (`format`). */
  appId: string;
  appSecret: string;
  /** The signer's SM2 public key (hex, or precomputed). */
  publicKey: string | Sm2PublicKey;
  userId?: string;
  sm4Key?: Buffer;
}

export interface NhsaOpenOptions {
  now?: Date;
  /** Accepted skew of the envelope's timestamp; default {@link NHSA_MAX_SKEW_SECONDS}. */
  maxSkewSeconds?: number;
}

/** An opened envelope: its top-level fields (without encData) and the decrypted business data. */
export interface OpenedEnvelope {
  envelope: Record<string, unknown>;
  /** Undefined when the envelope carried no encData. */
  data: unknown;
}

/**
 * Checks and opens an envelope: format, app, decryption, signature (over the decrypted data), then the
 * timestamp window. Throws {@link NhsaEnvelopeError} with the reason.
 */
export function openEnvelope(raw: unknown, keys: NhsaOpenKeys, opts: NhsaOpenOptions = {}): OpenedEnvelope {
  if (!raw || typeof raw !== 'object' || Array.isArray(raw))
    throw new NhsaEnvelopeError('format', 'not a JSON object');
  const env = raw as Record<string, unknown>;
  for (const k of ['appId', 'signType', 'version', 'signData'])
    if (typeof env[k] !== 'string' || env[k] === '') throw new NhsaEnvelopeError('format', `missing ${k}`);
  if (typeof env.timestamp !== 'string' && typeof env.timestamp !== 'number')
    throw new NhsaEnvelopeError('format', 'missing timestamp');
  if (env.appId !== keys.appId)
    throw new NhsaEnvelopeError('format', `envelope for another app ${env.appId}`);
  if (env.signType !== 'SM2') throw new NhsaEnvelopeError('format', `signType ${env.signType}`);
  for (const [k, v] of Object.entries(env))
    if (k !== 'extra' && v !== null && typeof v === 'object')
      throw new NhsaEnvelopeError('format', `${k} is not a plain value`);

  let data: unknown;
  if (env.encData !== undefined && env.encData !== null && env.encData !== '') {
    if (typeof env.encData !== 'string') throw new NhsaEnvelopeError('format', 'encData is not a string');
    if (env.encType !== 'SM4') throw new NhsaEnvelopeError('format', `encType ${String(env.encType)}`);
    const json = sm4DecryptHex(keys.sm4Key ?? deriveSm4Key(keys.appId, keys.appSecret), env.encData);
    try {
      data = JSON.parse(json) as unknown;
    } catch {
      throw new NhsaEnvelopeError('decrypt', 'encData decrypts to something that is not JSON');
    }
  }

  const message = signString({ ...env, data }, keys.appSecret);
  if (!sm2VerifyBase64(message, env.signData as string, keys.publicKey, keys.userId))
    throw new NhsaEnvelopeError('signature', 'signData does not verify');

  const ts = String(env.timestamp);
  if (!/^\d{9,13}$/.test(ts)) throw new NhsaEnvelopeError('timestamp', `timestamp ${ts} is not epoch time`);
  const n = Number(ts);
  const tsMs = n >= 1e11 ? n : n * 1000; // [U] milliseconds or seconds, told apart by magnitude
  const skew = opts.maxSkewSeconds ?? NHSA_MAX_SKEW_SECONDS;
  if (Math.abs((opts.now ?? new Date()).getTime() - tsMs) > skew * 1000)
    throw new NhsaEnvelopeError('timestamp', `timestamp outside the ${skew} s window`);

  const { encData: _enc, ...rest } = env;
  return { envelope: rest, data };
}
