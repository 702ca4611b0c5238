import { createHash } from 'node:crypto';
import { eq } from 'drizzle-orm';
import type { Db } from '../../db/client';
import { hisApps, hospitals, merchantAccounts } from '../../db/schema';
import { maskPayload } from '../../lib/mask';
import type { AdminPrincipal } from './auth-service';

/**
 * Read-only views of the configuration (医院 / HIS 应用 / 商户号) for the admin pages. Secrets never leave
 * the database: the sealed columns are not selected, and anything secret-looking in the non-secret settings
 * is redacted on top, in case a provisioning tool ever put a secret where it does not belong.
 * Public keys and certificates are shown as a fingerprint, which is what staff compare with the vendor's
 * portal.
 */

/** Hospitals an admin may see: theirs when bound to one, else every hospital. Any logged-in admin. */
export async function listHospitals(db: Db, admin: AdminPrincipal) {
  const rows = await db
    .select({ id: hospitals.id, code: hospitals.code, name: hospitals.name, createdAt: hospitals.createdAt })
    .from(hospitals)
    .where(admin.hospitalId ? eq(hospitals.id, admin.hospitalId) : undefined)
    .orderBy(hospitals.code);
  return { items: rows };
}

export async function listHisApps(db: Db, admin: AdminPrincipal) {
  const rows = await db
    .select({
      appId: hisApps.appId,
      hospitalId: hisApps.hospitalId,
      name: hisApps.name,
      callbackBaseUrl: hisApps.callbackBaseUrl,
      billMode: hisApps.billMode,
      enabled: hisApps.enabled,
      createdAt: hisApps.createdAt,
    })
    .from(hisApps)
    .where(admin.hospitalId ? eq(hisApps.hospitalId, admin.hospitalId) : undefined)
    .orderBy(hisApps.hospitalId, hisApps.appId);
  return { items: rows };
}

export async function listMerchantAccounts(db: Db, admin: AdminPrincipal) {
  const rows = await db
    .select({
      id: merchantAccounts.id,
      hospitalId: merchantAccounts.hospitalId,
      channel: merchantAccounts.channel,
      mchId: merchantAccounts.mchId,
      appId: merchantAccounts.appId,
      settings: merchantAccounts.settings,
      enabled: merchantAccounts.enabled,
      createdAt: merchantAccounts.createdAt,
    })
    .from(merchantAccounts)
    .where(admin.hospitalId ? eq(merchantAccounts.hospitalId, admin.hospitalId) : undefined)
    .orderBy(merchantAccounts.hospitalId, merchantAccounts.channel);
  return { items: rows.map((r) => ({ ...r, settings: publicSettings(r.settings) })) };
}

const PEM = /-----BEGIN ([A-Z0-9 ]+)-----[\s\S]*?-----END \1-----/;
const LONG_HEX = /^(04)?[0-9a-fA-F]{64,}$/;

/** A short, comparable stand-in for a public key or certificate: kind and SHA-256 of its text. */
function fingerprint(kind: string, text: string): string {
  const h = createHash('sha256').update(text.trim()).digest('hex');
  return `${kind} · SHA-256 ${h.slice(0, 16)}…`;
}

/** Names that must never be shown, whatever a provisioning tool stored under them. */
const SECRET_NAME = /private|secret|password|token|apiv[23]key|^key$|sign/i;

/** Non-secret settings as staff may see them: anything secret-looking redacted, key material as fingerprints. */
export function publicSettings(settings: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(settings)) {
    if (SECRET_NAME.test(k.replace(/[_-]/g, ''))) {
      out[k] = '[REDACTED]';
      continue;
    }
    if (typeof v !== 'string') {
      out[k] = maskPayload(v);
      continue;
    }
    const pem = PEM.exec(v);
    if (pem) out[k] = pem[1]!.includes('PRIVATE') ? '[REDACTED]' : fingerprint(pem[1]!, v);
    else if (LONG_HEX.test(v)) out[k] = fingerprint('HEX KEY', v);
    else out[k] = maskPayload(v);
  }
  return out;
}
