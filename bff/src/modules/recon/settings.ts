import { eq } from 'drizzle-orm';
import { MisposSettingsSchema, type MisposSettings } from '../../channels/mispos/adapter';
import { firstIssue } from '../../lib/validate';
import type { Db } from '../../db/client';
import { hospitals } from '../../db/schema';

/**
 * A hospital's reconciliation settings, read from `hospitals.settings` (jsonb; other modules keep other keys
 * there):
 *
 * ```json
 * {
 *   "reconAutoRefund": false,
 *   "hisLedgerMode": "pull",
 *   "mispos": {
 *     "acquirer": "中国工商银行",
 *     "merchantNo": "898330160120001",
 *     "merchantName": "示范市第一人民医院",
 *     "statement": { "url": "https://files.bank.example/mispos/{merchantNo}/{yyyymmdd}.txt", "publishHour": 9 }
 *   }
 * }
 * ```
 */
export interface HospitalReconSettings {
  /**
   * `reconAutoRefund` (default false): after each daily run, payments we and the channel hold that the HIS
   * never acknowledged nor listed, still unmatched after the holding period, are refunded automatically.
   */
  autoRefund: boolean;
  /**
   * `hisLedgerMode` (default `push`): `pull` — when the daily job finds no ledger the HIS pushed for the day,
   * it asks the HIS for it (`GET /his/v1/ledger`, the HIS client) and records it as source PULL.
   */
  hisLedgerMode: 'push' | 'pull';
  /** `mispos`: the acquirer whose terminal statement covers the hospital's MISPOS terminals; null: none. */
  mispos: MisposSettings | null;
  /** What is wrong in the settings (a broken block is ignored, and said so). */
  problems: string[];
}

/** Reads and checks a hospital's reconciliation settings. */
export async function reconSettingsOf(db: Db, hospitalId: string): Promise<HospitalReconSettings> {
  const [row] = await db
    .select({ settings: hospitals.settings })
    .from(hospitals)
    .where(eq(hospitals.id, hospitalId));
  return parseReconSettings(row?.settings ?? {});
}

export function parseReconSettings(settings: Record<string, unknown>): HospitalReconSettings {
  const problems: string[] = [];
  const auto = settings.reconAutoRefund;
  if (auto !== undefined && typeof auto !== 'boolean')
    problems.push('reconAutoRefund: must be true or false');
  const mode = settings.hisLedgerMode;
  if (mode !== undefined && mode !== 'push' && mode !== 'pull')
    problems.push('hisLedgerMode: must be "push" or "pull"');
  let mispos: MisposSettings | null = null;
  if (settings.mispos !== undefined && settings.mispos !== null) {
    const parsed = MisposSettingsSchema.safeParse(settings.mispos);
    if (parsed.success) mispos = parsed.data;
    else problems.push(`mispos.${firstIssue(parsed.error)}`);
  }
  return { autoRefund: auto === true, hisLedgerMode: mode === 'pull' ? 'pull' : 'push', mispos, problems };
}
