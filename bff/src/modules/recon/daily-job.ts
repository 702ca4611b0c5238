import { and, eq, inArray, notInArray } from 'drizzle-orm';
import { hospitals, merchantAccounts } from '../../db/schema';
import { reconStatements } from '../../db/schema-recon';
import { INSURANCE_CHANNELS } from '../../channels/registry';
import type { Deps } from '../../deps';
import { raiseAlert } from '../payments/service';
import { addDays, beijingDate } from './dates';
import { runReconciliation, type ReconRunResult } from './engine';
import { enqueueReconPush } from './file-push';
import { applyAutoRefundPolicy } from './auto-refund';
import { recordFundFlow, recordStatement, type StatementIntake, type StatementRecord } from './intake';
import { fetchTerminalStatement, pullHisLedger } from './sources';

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
 * (unless it is already in — a manual upload counts), then runs the matching engine with whatever is in and
 * enqueues the day's file for the hospital's push targets (file-push.ts).
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
    // The optional policy (off by default): payments the HIS never got, past the holding period, refunded.
    await applyAutoRefundPolicy(deps, h.id);
    // The run is recorded (a failed run throws above): the file goes to the HIS's push targets.
    await enqueueReconPush(deps, h.id, date);
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
        message: `${date} 仍有 ${pending.length} 份对账数据（对账单、资金账单、POS 终端对账单或 HIS 日结账）未能获取，可在对账页面手工上传后重新对账`,
        data: { date, accounts: pending },
      });
    }
  }
  return { date, runs, pending };
}

/**
 * Fetches what the day's reconciliation reads and is not in yet (a manual upload counts): each enabled
 * account's trade statement and then, where the channel has one (WeChat Pay), its fund-flow bill; the MISPOS
 * acquirer's terminal statement; and, for a HIS configured to be pulled, the HIS ledger. Returns what is not
 * published (or reachable) yet — account ids, `<account>:FUNDFLOW`, `mispos:<merchantNo>`, `his-ledger`.
 * A refused file raises an alert.
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
    .where(
      and(
        eq(merchantAccounts.hospitalId, hospitalId),
        eq(merchantAccounts.enabled, true),
        // Insurance accounts have no channel statement of this kind (their money is settled by the platform).
        notInArray(merchantAccounts.channel, [...INSURANCE_CHANNELS]),
      ),
    );
  const done = new Set(
    accounts.length
      ? (
          await deps.db
            .select({
              id: reconStatements.merchantAccountId,
              billType: reconStatements.billType,
              status: reconStatements.status,
            })
            .from(reconStatements)
            .where(
              and(
                eq(reconStatements.billDate, date),
                inArray(reconStatements.billType, ['TRADE', 'FUNDFLOW']),
                inArray(
                  reconStatements.merchantAccountId,
                  accounts.map((a) => a.id),
                ),
              ),
            )
        )
          .filter((s) => s.status === 'IMPORTED' || s.status === 'NO_TRADE')
          .map((s) => `${s.id}:${s.billType}`)
      : [],
  );
  const refused = (accountId: string, what: string, output: { errorCode?: string; errorMessage?: string }) =>
    raiseAlert(deps.db, {
      hospitalId,
      kind: 'statement_failed',
      severity: 'critical',
      message:
        `${date} ${what}获取失败（${accountId}）：${output.errorCode ?? ''} ${output.errorMessage ?? ''}`.trim(),
      data: { date, accountId, errorCode: output.errorCode },
    });
  /** Downloads one file of an account unless it is in, records it, and notes it pending or refused. */
  const fetchOne = async <O extends { errorCode?: string; errorMessage?: string }>(
    accountId: string,
    file: { billType: 'TRADE' | 'FUNDFLOW'; what: string; pendingAs: string },
    download: () => Promise<O>,
    record: (
      deps: Deps,
      input: StatementIntake & { accountId: string; output: O },
    ) => Promise<StatementRecord>,
  ) => {
    if (done.has(`${accountId}:${file.billType}`)) return;
    const output = await download();
    const rec = await record(deps, { accountId, billDate: date, source: 'DOWNLOAD', output, importedBy });
    if (rec.status === 'PENDING') pending.push(file.pendingAs);
    else if (rec.status === 'FAILED') await refused(accountId, file.what, output);
  };
  for (const a of accounts) {
    const { adapter } = await deps.channels.get(a.id);
    if (adapter.capabilities.statement)
      await fetchOne(
        a.id,
        { billType: 'TRADE', what: '对账单', pendingAs: a.id },
        () => adapter.downloadStatement(date),
        recordStatement,
      );
    // The fund-flow bill (settlements to the bank, fees) after the trade bill, where the channel has one.
    if (adapter.capabilities.fundFlow && adapter.downloadFundFlow)
      await fetchOne(
        a.id,
        { billType: 'FUNDFLOW', what: '资金账单', pendingAs: `${a.id}:FUNDFLOW` },
        () => adapter.downloadFundFlow!(date),
        recordFundFlow,
      );
  }
  pending.push(...(await fetchTerminalStatement(deps, hospitalId, date, importedBy)));
  pending.push(...(await pullHisLedger(deps, hospitalId, date)));
  return pending;
}
