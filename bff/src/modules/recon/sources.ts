import { and, eq } from 'drizzle-orm';
import { MisposStatementSource } from '../../channels/mispos/adapter';
import { createOutboundRecorder } from '../../channels/recorder';
import { hisLedgers, reconStatements } from '../../db/schema-recon';
import type { Deps } from '../../deps';
import { AppError } from '../../lib/errors';
import { hisSetupFor } from '../his/endpoint';
import { raiseAlert } from '../payments/service';
import { MISPOS_CHANNEL, recordHisLedger, recordTerminalStatement } from './intake';
import { reconSettingsOf } from './settings';

/**
 * The day's inputs that do not come from a merchant account: the MISPOS acquirer's terminal statement and,
 * for a HIS configured to be pulled, the HIS ledger. Each returns what is not in yet (the daily job tries
 * again later) and raises an alert for what was refused.
 */

/** The `pending` entry of a HIS ledger that could not be pulled yet. */
export const PENDING_HIS_LEDGER = 'his-ledger';

/**
 * Downloads the day's terminal statement of the hospital's MISPOS acquirer (hospitals.settings.mispos)
 * unless it is already imported, and records it (billType TERMINAL). Returns `mispos:<merchantNo>` when it
 * is not published yet (or could not be fetched).
 */
export async function fetchTerminalStatement(
  deps: Deps,
  hospitalId: string,
  date: string,
  importedBy: string,
): Promise<string[]> {
  const settings = await reconSettingsOf(deps.db, hospitalId);
  const broken = settings.problems.filter((p) => p.startsWith('mispos'));
  if (broken.length) {
    await raiseAlert(deps.db, {
      hospitalId,
      kind: 'mispos_settings_invalid',
      severity: 'warning',
      message: `MISPOS 收单机构对账配置有误，终端对账单未获取：${broken.join('; ')}`,
      data: { date, problems: broken },
    });
    return [];
  }
  const mispos = settings.mispos;
  if (!mispos) return [];
  const accountKey = `${MISPOS_CHANNEL}:${mispos.merchantNo}`;
  const [existing] = await deps.db
    .select({ status: reconStatements.status })
    .from(reconStatements)
    .where(
      and(
        eq(reconStatements.merchantAccountId, accountKey),
        eq(reconStatements.billDate, date),
        eq(reconStatements.billType, 'TERMINAL'),
      ),
    );
  if (existing?.status === 'IMPORTED') return [];
  const recorder = createOutboundRecorder(deps.db, deps.log);
  const source = new MisposStatementSource(mispos, {
    timeoutMs: deps.config.outboundTimeoutMs,
    production: deps.config.nodeEnv === 'production',
    record: recorder.recorderFor(hospitalId),
  });
  const output = await source.downloadStatement(date);
  await recorder.flush();
  const rec = await recordTerminalStatement(deps, {
    hospitalId,
    merchantNo: mispos.merchantNo,
    billDate: date,
    source: 'DOWNLOAD',
    output,
    importedBy,
  });
  if (rec.status === 'FAILED')
    await raiseAlert(deps.db, {
      hospitalId,
      kind: 'statement_failed',
      severity: 'critical',
      message:
        `${date} POS 终端对账单（${mispos.acquirer} ${mispos.merchantNo}）被拒绝：${output.errorCode ?? ''} ${output.errorMessage ?? ''}`.trim(),
      data: { date, accountId: accountKey, errorCode: output.errorCode },
    });
  return rec.status === 'PENDING' ? [accountKey] : [];
}

/**
 * Pull mode (hospitals.settings.hisLedgerMode = "pull"): when the HIS has not pushed the day's ledger, asks
 * it (HisClient.ledger) and records what it answers as source PULL — replacing an earlier pull, never a
 * push. Returns {@link PENDING_HIS_LEDGER} when the HIS could not give it (asked again at the next try).
 */
export async function pullHisLedger(deps: Deps, hospitalId: string, date: string): Promise<string[]> {
  const settings = await reconSettingsOf(deps.db, hospitalId);
  if (settings.hisLedgerMode !== 'pull') return [];
  const [pushed] = await deps.db
    .select({ source: hisLedgers.source })
    .from(hisLedgers)
    .where(and(eq(hisLedgers.hospitalId, hospitalId), eq(hisLedgers.ledgerDate, date)));
  if (pushed?.source === 'PUSH') return [];
  const setup = await hisSetupFor(deps, hospitalId);
  if (!setup?.endpoint) {
    await raiseAlert(deps.db, {
      hospitalId,
      kind: 'his_ledger_pull_failed',
      severity: 'critical',
      message: `${date} HIS 日结账无法拉取：医院未配置 HIS 接口地址（hisLedgerMode 为 pull）`,
      data: { date },
    });
    return [PENDING_HIS_LEDGER];
  }
  try {
    const lines = await deps.his.ledger(setup.endpoint, date);
    await recordHisLedger(deps, { hospitalId, date, source: 'PULL', lines });
    return [];
  } catch (e) {
    const err = e instanceof AppError ? e : undefined;
    // Not answering is retried quietly; an answer we cannot use is someone's job now.
    if (err?.code !== 'his_unavailable')
      await raiseAlert(deps.db, {
        hospitalId,
        kind: 'his_ledger_pull_failed',
        severity: 'critical',
        message: `${date} HIS 日结账拉取失败：${err?.message ?? 'internal error'}`,
        data: { date, code: err?.code ?? 'internal_error' },
      });
    if (!err)
      deps.log.error({ err: { message: (e as Error).message }, hospitalId, date }, 'ledger pull failed');
    return [PENDING_HIS_LEDGER];
  }
}
