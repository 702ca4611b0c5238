import { createHmac, type KeyObject, createSecretKey } from 'node:crypto';
import type { SlipQr, SlipView } from '@hp/shared';
import { and, eq } from 'drizzle-orm';
import jwt from 'jsonwebtoken';
import QRCode from 'qrcode';
import { bills, hospitals, patients } from '../../db/schema';
import type { Deps } from '../../deps';
import { AppError, notFound } from '../../lib/errors';
import { maskName } from '../../lib/mask';
import { listPayableBills } from './service';

/**
 * QR codes printed on registration and prescription slips. The code holds a URL of the H5 checkout with a
 * short-lived signed token naming the hospital, the patient and the bill (or the visit) — never an amount:
 * the checkout reads the bills, and the server computes what to pay when the order is made.
 */
export interface SlipClaims {
  hospitalId: string;
  patientId: string;
  /** One bill, or every unpaid bill of a visit. */
  kind: 'bill' | 'visit';
  ref: string;
}

const AUDIENCE = 'slip';

/** The slip key is derived from the patient-session secret, so one secret rotation covers both. */
export function slipKey(patientJwtSecret: string): KeyObject {
  return createSecretKey(createHmac('sha256', patientJwtSecret).update('hospital-pay/slip-token').digest());
}

export function issueSlipToken(key: KeyObject, c: SlipClaims, ttlSeconds: number): string {
  return jwt.sign({ h: c.hospitalId, p: c.patientId, k: c.kind === 'bill' ? 'b' : 'v', r: c.ref }, key, {
    algorithm: 'HS256',
    audience: AUDIENCE,
    expiresIn: ttlSeconds,
  });
}

export function verifySlipToken(key: KeyObject, token: string): SlipClaims {
  try {
    const c = jwt.verify(token, key, { algorithms: ['HS256'], audience: AUDIENCE }) as jwt.JwtPayload;
    if (typeof c.h !== 'string' || typeof c.p !== 'string' || typeof c.r !== 'string')
      throw new Error('claims');
    return { hospitalId: c.h, patientId: c.p, kind: c.k === 'v' ? 'visit' : 'bill', ref: c.r };
  } catch (e) {
    throw new AppError(
      'unauthorized',
      (e as Error).name === 'TokenExpiredError'
        ? 'this QR code has expired; ask the hospital for a new slip'
        : 'invalid QR code',
    );
  }
}

/** A QR for one bill (by HIS bill number) or for a visit; refuses bills that cannot be paid any more. */
export async function slipQr(
  deps: Deps,
  key: KeyObject,
  hospitalId: string,
  target: { hisBillNo: string } | { visitNo: string },
): Promise<SlipQr> {
  const ttl = deps.config.slipTokenSeconds;
  let claims: SlipClaims;
  if ('hisBillNo' in target) {
    const [b] = await deps.db
      .select()
      .from(bills)
      .where(and(eq(bills.hospitalId, hospitalId), eq(bills.hisBillNo, target.hisBillNo)));
    if (!b) throw notFound('bill');
    if (b.status !== 'UNPAID')
      throw new AppError('bill_not_payable', `bill ${b.hisBillNo} is ${b.status.toLowerCase()}`);
    claims = { hospitalId, patientId: b.patientId, kind: 'bill', ref: b.id };
  } else {
    const rows = await deps.db
      .select({ patientId: bills.patientId })
      .from(bills)
      .where(
        and(eq(bills.hospitalId, hospitalId), eq(bills.visitNo, target.visitNo), eq(bills.status, 'UNPAID')),
      );
    if (!rows.length) throw notFound('unpaid bill of this visit');
    const patientsOf = new Set(rows.map((r) => r.patientId));
    if (patientsOf.size > 1)
      throw new AppError('conflict', `visit ${target.visitNo} has bills of more than one patient`);
    claims = { hospitalId, patientId: rows[0]!.patientId, kind: 'visit', ref: target.visitNo };
  }
  const token = issueSlipToken(key, claims, ttl);
  return {
    url: `${deps.urls.public}/h5/checkout?t=${encodeURIComponent(token)}`,
    expiresAt: new Date(deps.clock.now().getTime() + ttl * 1000).toISOString(),
    ...target,
  };
}

/** The QR as a PNG (error correction M, 8 px modules, quiet zone 4) for printing. */
export function qrPng(url: string): Promise<Buffer> {
  return QRCode.toBuffer(url, { type: 'png', errorCorrectionLevel: 'M', scale: 8, margin: 4 });
}

/** What the checkout shows after a scan: the hospital, the patient (masked) and the payable bills. */
export async function slipView(deps: Deps, key: KeyObject, token: string): Promise<SlipView> {
  const c = verifySlipToken(key, token);
  const [row] = await deps.db
    .select({ hospital: hospitals.name, patient: patients.name })
    .from(patients)
    .innerJoin(hospitals, eq(hospitals.id, patients.hospitalId))
    .where(and(eq(patients.id, c.patientId), eq(patients.hospitalId, c.hospitalId)));
  if (!row) throw notFound('patient');
  const payable = await listPayableBills(deps.db, c.patientId);
  const chosen =
    c.kind === 'bill' ? payable.filter((b) => b.id === c.ref) : payable.filter((b) => b.visitNo === c.ref);
  return { hospital: row.hospital, patient: maskName(row.patient), bills: chosen };
}
