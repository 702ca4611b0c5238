import type { Context, Next } from 'koa';
import { createSecretKey, type KeyObject } from 'node:crypto';
import jwt from 'jsonwebtoken';
import { AppError, unauthorized } from '../lib/errors';
import type { PatientPrincipal, SessionPrincipal } from '../modules/orders/service';

declare module 'koa' {
  interface DefaultState {
    patient?: PatientPrincipal;
    /** Any session, with or without a patient (card binding, switching, slip sessions). */
    session?: SessionPrincipal;
  }
}

/** The issuer of every token we sign. */
export const ISSUER = 'hospital-pay';
const AUDIENCE = 'patient';

/**
 * The HMAC key as a KeyObject: given a string, jsonwebtoken first tries to parse it as a PEM public key and
 * falls back on the exception — about a millisecond of CPU on every request.
 */
const keys = new Map<string, KeyObject>();
function hmacKey(secret: string): KeyObject {
  let k = keys.get(secret);
  if (!k) {
    k = createSecretKey(Buffer.from(secret, 'utf8'));
    keys.set(secret, k);
  }
  return k;
}

/** Issues a patient session token (HS256, short-lived); without a patient, `sub` is left out. */
export function issuePatientToken(secret: string, p: SessionPrincipal, ttlSeconds: number): string {
  return jwt.sign({ hid: p.hospitalId, oid: p.openId, acc: p.accountId }, hmacKey(secret), {
    algorithm: 'HS256',
    ...(p.patientId ? { subject: p.patientId } : {}),
    issuer: ISSUER,
    audience: AUDIENCE,
    expiresIn: ttlSeconds,
  });
}

/**
 * Reads `Authorization: Bearer <jwt>` and verifies it (HS256, our issuer, the given audience). Shared by the
 * patient and the admin sessions; `messages` say what to do in each.
 */
export function verifyBearer(
  ctx: Context,
  key: KeyObject,
  audience: string,
  messages: { missing: string; expired: string; invalid: string },
): jwt.JwtPayload {
  const m = /^Bearer\s+(\S+)$/i.exec(ctx.get('authorization'));
  if (!m) throw unauthorized(messages.missing);
  try {
    return jwt.verify(m[1]!, key, { algorithms: ['HS256'], issuer: ISSUER, audience }) as jwt.JwtPayload;
  } catch (e) {
    throw unauthorized((e as Error).name === 'TokenExpiredError' ? messages.expired : messages.invalid);
  }
}

function sessionOf(ctx: Context, key: KeyObject): SessionPrincipal {
  const claims = verifyBearer(ctx, key, AUDIENCE, {
    missing: 'patient session required (Authorization: Bearer …)',
    expired: 'session expired, please log in again',
    invalid: 'invalid session token',
  });
  if (typeof claims.hid !== 'string') throw unauthorized('invalid session token');
  return {
    patientId: typeof claims.sub === 'string' && claims.sub ? claims.sub : undefined,
    hospitalId: claims.hid,
    openId: typeof claims.oid === 'string' ? claims.oid : undefined,
    accountId: typeof claims.acc === 'string' ? claims.acc : undefined,
  };
}

/**
 * Requires `Authorization: Bearer <patient token>` naming a patient and puts the principal in
 * `ctx.state.patient`. A session without a patient (a WeChat login with no card yet) is `card_required`.
 */
export function requirePatient(secret: string) {
  const key = hmacKey(secret);
  return async (ctx: Context, next: Next) => {
    const s = sessionOf(ctx, key);
    if (!s.patientId)
      throw new AppError(
        'card_required',
        'this session has no patient yet: bind a card (POST /api/patient/cards) and switch to it',
      );
    ctx.state.patient = { ...s, patientId: s.patientId };
    await next();
  };
}

/** Requires any patient session (with or without a patient) and puts it in `ctx.state.session`. */
export function requireSession(secret: string) {
  const key = hmacKey(secret);
  return async (ctx: Context, next: Next) => {
    ctx.state.session = sessionOf(ctx, key);
    await next();
  };
}
