import { and, eq, inArray } from 'drizzle-orm';
import { hospitals, merchantAccounts } from '../../db/schema';
import { reconStatements } from '../../db/schema-recon';
import type { Deps } from '../../deps';
import { raiseAlert } from '../payments/service';
import { addDays, beijingDate } from './dates';
import { runReconciliation, type ReconRunResult } from './engine';
import { recordStatement } from './intake';

export interface DailyReconJob {
  /** The business day; default: yesterday in Beijing. */
  date?: string;
  /** Which try of the day this is (retries while statements are not published yet). */
  attempt?: number;
}

/** Minutes between tries while a channel has not published its statement; tries stop at 20:00 Beijing. */
export const STATEMENT_RETRY_MINUTES = 30;
const LAST_TRY_HOUR = 20;

/**
 * The daily reconciliation: for every hospital, downloads each enabled account's statement for the day
 * (unless it is already in — a manual upload counts), then runs the matching engine with whatever is in.
 * A statement not published yet makes the job try again later the same day; one still missing at the
 * last try raises an alert, and the day can be re-run after a manual upload.
 */
export async function runDailyRecon(
  deps: Deps,
  job: DailyReconJob,
  schedule: (data: DailyReconJob, afterSeconds: number) => Promise<unknown>,
): Promise<{ date: string; runs: ReconRunResult[]; pending: string[] }> {
  const now = deps.clock.now();
  const date = job.date ?? addDays(beijingDate(now), -1);
  const attempt = job.attempt ?? 0;
  const hospitalRows = await deps.db.select({ id: hospitals.id }).from(hospitals);
  const pending: string[] = [];
  const runs: ReconRunResult[] = [];
  for (const h of hospitalRows) {
    pending.push(...(await fetchStatements(deps, h.id, date, 'job:recon-daily')));
    runs.push(await runReconciliation(deps, { hospitalId: h.id, date, triggeredBy: 'job:recon-daily' }));
  }
  if (pending.length) {
    const beijingHour = new Date(now.getTime() + 8 * 3_600_000).getUTCHours();
    if (beijingHour < LAST_TRY_HOUR) {
      await schedule({ date, attempt: attempt + 1 }, STATEMENT_RETRY_MINUTES * 60);
    } else {
      await raiseAlert(deps.db, {
        hospitalId: null,
        kind: 'statement_missing',
        severity: 'critical',
        message: `${date} 仍有 ${pending.length} 个商户号的对账单未能获取，可在对账页面手工上传后重新对账`,
        data: { date, accounts: pending },
      });
    }
  }
  return { date, runs, pending };
}

/**
 * Downloads the day's statement of every enabled account of a hospital that is not in yet (a manual upload
 * counts) and records it; returns the accounts whose statement is not published yet. A refused statement
 * raises an alert.
 */
export async function fetchStatements(
  deps: Deps,
  hospitalId: string,
  date: string,
  importedBy: string,
): Promise<string[]> {
  const pending: string[] = [];
  const accounts = await deps.db
    .select({ id: merchantAccounts.id })
    .from(merchantAccounts)
    .where(and(eq(merchantAccounts.hospitalId, hospitalId), eq(merchantAccounts.enabled, true)));
  const done = new Set(
    accounts.length
      ? (
          await deps.db
            .select({ id: reconStatements.merchantAccountId, status: reconStatements.status })
            .from(reconStatements)
            .where(
              and(
                eq(reconStatements.billDate, date),
                eq(reconStatements.billType, 'TRADE'),
                inArray(
                  reconStatements.merchantAccountId,
                  accounts.map((a) => a.id),
                ),
              ),
            )
        )
          .filter((s) => s.status === 'IMPORTED' || s.status === 'NO_TRADE')
          .map((s) => s.id)
      : [],
  );
  for (const a of accounts) {
    if (done.has(a.id)) continue;
    const { adapter } = await deps.channels.get(a.id);
    if (!adapter.capabilities.statement) continue;
    const output = await adapter.downloadStatement(date);
    const rec = await recordStatement(deps, {
      accountId: a.id,
      billDate: date,
      source: 'DOWNLOAD',
      output,
      importedBy,
    });
    if (rec.status === 'PENDING') pending.push(a.id);
    else if (rec.status === 'FAILED')
      await raiseAlert(deps.db, {
        hospitalId,
        kind: 'statement_failed',
        severity: 'critical',
        message:
          `${date} 对账单获取失败（${a.id}）：${output.errorCode ?? ''} ${output.errorMessage ?? ''}`.trim(),
        data: { date, accountId: a.id, errorCode: output.errorCode },
      });
  }
  return pending;
}
