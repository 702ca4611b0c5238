import { and, eq, inArray, sql, notInArray } from 'drizzle-orm';
import { merchantAccounts } from '../../db/schema';
import { hisLedgers, reconRuns, reconStatements } from '../../db/schema-recon';
import { INSURANCE_CHANNELS } from '../../channels/registry';
import type { Deps } from '../../deps';
import type { Tx } from '../../db/client';
import { newId } from '../../lib/ids';
import { raiseAlert } from '../payments/service';
import { addDays, beijingDayRange } from './dates';

/**
 * The matching engine (三方对账). For one hospital and business day it lines up three sets by payment or
 * refund number — the channels' statement lines, our successful payments and refunds, and the HIS ledger's
 * online records — in set-based SQL (one temporary table, hash joins; no row goes through JavaScript), and
 * classifies every record:
 *
 * | outcome           | meaning                                                       | first status |
 * | ----------------- | ------------------------------------------------------------- | ------------ |
 * | matched           | every side that is known agrees                               | (not stored) |
 * | channel_only      | on the statement, not paid here that day                      | HOLDING      |
 * | platform_only     | paid here, not on the statement                               | HOLDING      |
 * | his_only          | in the HIS ledger, neither paid here nor on the statement     | HOLDING      |
 * | his_missing       | paid here (and at the channel), not in the HIS ledger (单边账) | HOLDING      |
 * | amount_mismatch   | two sides disagree on the amount                              | OPEN         |
 * | status_mismatch   | the channel took money for an order we hold as not paid, or a |              |
 * |                   | conflicted payment (a success after a local close)            | OPEN         |
 * | fee_difference    | the statement's fee differs from the account's agreed rate    | OPEN         |
 *
 * A side is only compared when it is known: a channel whose statements for the day are all in (IMPORTED or
 * NO_TRADE), the HIS when its ledger for the day arrived.
 *
 * Offline MISPOS card payments (bank terminals the HIS drives) are matched too, in the same pass: the
 * acquirer's terminal statement lines (channel `mispos`, keyed by the reference number 参考号) against the HIS
 * ledger's MISPOS records (keyed by their `terminalRef`), with the outcomes channel_only (the bank has it,
 * the HIS does not), his_only and amount_mismatch — compared only when the day's terminal statement is
 * IMPORTED and the HIS ledger is in. HOLDING differences are the ones a midnight
 * cut-off can cause; each run first looks for their counterpart on any day (resolving them as
 * matched_cross_day) and turns the ones past their holding period into OPEN, with an alert.
 */

export const RECON_OUTCOMES = [
  'channel_only',
  'platform_only',
  'his_only',
  'his_missing',
  'amount_mismatch',
  'status_mismatch',
  'fee_difference',
] as const;
export type ReconOutcome = (typeof RECON_OUTCOMES)[number];
const HOLDING_OUTCOMES: readonly ReconOutcome[] = [
  'channel_only',
  'platform_only',
  'his_only',
  'his_missing',
];

/** Per channel and kind: what each side holds, how much matched, how many differences. */
export interface ReconSummaryRow {
  channel: string;
  kind: 'PAYMENT' | 'REFUND';
  channelCount: number;
  channelFen: number;
  channelFeeFen: number;
  platformCount: number;
  platformFen: number;
  hisCount: number;
  hisFen: number;
  matched: number;
  differences: number;
  /** Records no known side could check (no statement and no ledger yet). */
  unverified: number;
}

export interface ReconRunResult {
  runId: string;
  hospitalId: string;
  date: string;
  channelsCompared: string[];
  channelsMissing: string[];
  hisLedger: boolean;
  rows: ReconSummaryRow[];
  /** HIS offline income (cash window, MISPOS, kiosks, prepaid cards) per channel, from the ledger. */
  offline: {
    channel: string;
    paymentCount: number;
    paymentFen: number;
    refundCount: number;
    refundFen: number;
  }[];
  /**
   * MISPOS terminals: the acquirer's terminal statement against the HIS ledger's MISPOS records, per kind
   * (`channel*` = the statement, `his*` = the ledger; no platform side). Empty when not compared.
   */
  terminal: { compared: boolean; rows: ReconSummaryRow[] };
  newDifferences: Record<string, number>;
  resolvedCrossDay: number;
  expired: number;
  seconds: number;
}

/** What a finished run keeps in `recon_runs.summary`: its result less what the run's row itself holds. */
export type ReconRunSummary = Omit<ReconRunResult, 'runId' | 'hospitalId' | 'date' | 'seconds'>;

/** The channel of MISPOS terminal statement lines and of their differences. */
const MISPOS = 'mispos';

type Rows<T> = { rows: T[] };
const rowsOf = <T>(r: unknown) => (r as Rows<T>).rows;

const summaryRow = (r: Record<string, string | number | null>): ReconSummaryRow => ({
  channel: String(r.channel),
  kind: r.kind as 'PAYMENT' | 'REFUND',
  channelCount: Number(r.channel_count),
  channelFen: Number(r.channel_fen),
  channelFeeFen: Number(r.channel_fee_fen),
  platformCount: Number(r.platform_count),
  platformFen: Number(r.platform_fen),
  hisCount: Number(r.his_count),
  hisFen: Number(r.his_fen),
  matched: Number(r.matched),
  differences: Number(r.differences),
  unverified: Number(r.unverified),
});

/** Which channels' statements are complete for the day (every enabled account IMPORTED or NO_TRADE). */
async function statementCoverage(tx: Tx, hospitalId: string, date: string) {
  const accounts = await tx
    .select({ id: merchantAccounts.id, channel: merchantAccounts.channel })
    .from(merchantAccounts)
    .where(
      and(
        eq(merchantAccounts.hospitalId, hospitalId),
        eq(merchantAccounts.enabled, true),
        // Insurance accounts have no channel statement of this kind (their money is settled by the platform).
        notInArray(merchantAccounts.channel, [...INSURANCE_CHANNELS]),
      ),
    );
  const stmts = accounts.length
    ? await tx
        .select({ accountId: reconStatements.merchantAccountId, status: reconStatements.status })
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
    : [];
  const done = new Set(
    stmts.filter((s) => s.status === 'IMPORTED' || s.status === 'NO_TRADE').map((s) => s.accountId),
  );
  const channels = [...new Set(accounts.map((a) => a.channel))];
  const compared = channels.filter((c) =>
    accounts.filter((a) => a.channel === c).every((a) => done.has(a.id)),
  );
  return { compared, missing: channels.filter((c) => !compared.includes(c)) };
}

export async function runReconciliation(
  deps: Pick<Deps, 'db' | 'config'>,
  input: { hospitalId: string; date: string; triggeredBy: string },
): Promise<ReconRunResult> {
  const started = Date.now();
  const { hospitalId, date } = input;
  const { start, end } = beijingDayRange(date);
  const holdDays = deps.config.reconHoldDays;
  const holdUntil = addDays(date, holdDays);
  const runId = newId('rcr');
  await deps.db.insert(reconRuns).values({
    id: runId,
    hospitalId,
    businessDate: date,
    status: 'RUNNING',
    triggeredBy: input.triggeredBy,
  });
  try {
    const result = await deps.db.transaction(async (tx) => {
      // Hash joins and aggregates of a million-row day stay in memory instead of spilling to disk.
      await tx.execute(sql`SET LOCAL work_mem = '128MB'`);
      const { compared, missing } = await statementCoverage(tx, hospitalId, date);
      const [ledger] = await tx
        .select({ id: hisLedgers.id })
        .from(hisLedgers)
        .where(and(eq(hisLedgers.hospitalId, hospitalId), eq(hisLedgers.ledgerDate, date)));
      const hisKnown = Boolean(ledger);
      // MISPOS: compared when every terminal statement of the day is imported, and the HIS ledger is in.
      const terminalStatements = await tx
        .select({ status: reconStatements.status })
        .from(reconStatements)
        .where(
          and(
            eq(reconStatements.hospitalId, hospitalId),
            eq(reconStatements.billDate, date),
            eq(reconStatements.billType, 'TERMINAL'),
          ),
        );
      const terminalCompared =
        hisKnown && terminalStatements.length > 0 && terminalStatements.every((t) => t.status === 'IMPORTED');
      const comparedArr = sql`ARRAY[${sql.join(
        compared.length ? compared.map((c) => sql`${c}`) : [sql`''`],
        sql`, `,
      )}]::text[]`;

      // 1–3. The three sides lined up by kind and number (full outer hash joins), the agreed fee where the
      // account states a rate (parts per million, rounded half up), and the classification — the first rule
      // that applies wins — in one pass into one temporary table.
      await tx.execute(sql`
        CREATE TEMP TABLE rc ON COMMIT DROP AS
        WITH c AS (
          SELECT kind, CASE WHEN kind = 'PAYMENT' THEN order_no ELSE refund_no END AS key_no,
                 min(order_no) AS c_order_no, min(channel) AS c_channel,
                 sum(amount_fen)::bigint AS c_fen, sum(fee_fen)::bigint AS c_fee, count(*)::int AS c_n
          FROM recon_statement_lines
          WHERE hospital_id = ${hospitalId} AND bill_date = ${date} AND channel <> ${MISPOS}
          GROUP BY 1, 2
        ), p AS (
          SELECT 'PAYMENT'::text AS kind, p.out_trade_no AS key_no, o.order_no AS p_order_no,
                 p.channel AS p_channel, p.amount_fen AS p_fen, p.status AS pstatus, o.id AS order_id,
                 o.merchant_account_id AS account_id
          FROM payments p JOIN orders o ON o.id = p.order_id
          WHERE p.hospital_id = ${hospitalId} AND p.paid_at >= ${start} AND p.paid_at < ${end}
            AND p.status IN ('SUCCESS', 'CONFLICTED')
          UNION ALL
          SELECT 'REFUND', r.refund_no, o.order_no,
                 CASE WHEN r.method = 'CASH' THEN 'cash' ELSE o.channel END, r.amount_fen,
                 'SUCCESS', o.id, o.merchant_account_id
          FROM refunds r JOIN orders o ON o.id = r.order_id
          WHERE r.hospital_id = ${hospitalId} AND r.status = 'SUCCESS'
            AND r.succeeded_at >= ${start} AND r.succeeded_at < ${end}
        ), h AS (
          SELECT kind, CASE WHEN kind = 'PAYMENT' THEN order_no ELSE refund_no END AS key_no,
                 min(order_no) AS h_order_no, min(channel) AS h_channel,
                 sum(amount_fen)::bigint AS h_fen, count(*)::int AS h_n
          FROM his_ledger_lines
          WHERE hospital_id = ${hospitalId} AND ledger_date = ${date} AND order_no IS NOT NULL
          GROUP BY 1, 2
        ), j AS (
          SELECT kind, key_no,
                 coalesce(p_order_no, c_order_no, h_order_no) AS order_no,
                 coalesce(p_channel, c_channel, h_channel) AS channel,
                 c_fen, c_fee, c_n, p_fen, pstatus, order_id, account_id, h_fen, h_n,
                 CASE WHEN kind = 'PAYMENT' AND p_fen IS NOT NULL AND fee.ppm IS NOT NULL
                      THEN (p_fen * fee.ppm + 500000) / 1000000 END AS expected_fee
          FROM c FULL JOIN p USING (kind, key_no) FULL JOIN h USING (kind, key_no)
          LEFT JOIN (
            SELECT id, (settings->>'feeRatePpm')::bigint AS ppm FROM merchant_accounts
            WHERE hospital_id = ${hospitalId} AND settings->>'feeRatePpm' ~ '^[0-9]{1,6}$'
          ) fee ON fee.id = account_id
        ), mt AS (
          -- MISPOS: the acquirer's terminal statement, by reference number…
          SELECT kind, order_no AS key_no, sum(amount_fen)::bigint AS c_fen, sum(fee_fen)::bigint AS c_fee,
                 count(*)::int AS c_n
          FROM recon_statement_lines
          WHERE ${terminalCompared} AND hospital_id = ${hospitalId} AND bill_date = ${date} AND channel = ${MISPOS}
          GROUP BY 1, 2
        ), mh AS (
          -- …and the HIS's MISPOS records by the reference number they keep (their own number without one).
          SELECT kind, coalesce(terminal_ref, his_trade_no) AS key_no, sum(amount_fen)::bigint AS h_fen,
                 count(*)::int AS h_n
          FROM his_ledger_lines
          WHERE ${terminalCompared} AND hospital_id = ${hospitalId} AND ledger_date = ${date} AND channel = 'MISPOS'
          GROUP BY 1, 2
        )
        SELECT j.*, CASE
          WHEN pstatus = 'CONFLICTED' THEN 'status_mismatch'
          WHEN channel = ANY(${comparedArr}) AND c_fen IS NOT NULL AND p_fen IS NULL THEN 'channel_only'
          WHEN channel = ANY(${comparedArr}) AND p_fen IS NOT NULL AND c_fen IS NULL THEN 'platform_only'
          WHEN channel = ANY(${comparedArr}) AND c_fen <> p_fen THEN 'amount_mismatch'
          WHEN ${hisKnown} AND h_fen IS NOT NULL AND p_fen IS NULL AND c_fen IS NULL THEN 'his_only'
          WHEN ${hisKnown} AND h_fen IS NOT NULL AND h_fen <> coalesce(p_fen, c_fen) THEN 'amount_mismatch'
          WHEN ${hisKnown} AND p_fen IS NOT NULL AND h_fen IS NULL THEN 'his_missing'
          WHEN channel = ANY(${comparedArr}) AND expected_fee IS NOT NULL AND c_fee <> expected_fee
            THEN 'fee_difference'
          WHEN channel = ANY(${comparedArr}) OR ${hisKnown} THEN 'matched'
          ELSE 'unverified'
        END AS outcome
        FROM j
        UNION ALL
        SELECT kind, key_no, NULL::text, ${MISPOS}::text, c_fen, c_fee, c_n, NULL::bigint, NULL::text, NULL::text,
               NULL::text, h_fen, h_n, NULL::bigint,
               CASE WHEN h_fen IS NULL THEN 'channel_only'
                    WHEN c_fen IS NULL THEN 'his_only'
                    WHEN c_fen <> h_fen THEN 'amount_mismatch'
                    ELSE 'matched' END
        FROM mt FULL JOIN mh USING (kind, key_no)
      `);
      // On the statement, not paid here that day: an order we hold as not paid (at all) is a status
      // mismatch to look at now — the channel took money we never recorded — not a cut-off to wait for.
      await tx.execute(sql`
        UPDATE rc SET outcome = 'status_mismatch', order_id = o.id
        FROM orders o
        WHERE rc.outcome = 'channel_only' AND rc.kind = 'PAYMENT' AND rc.channel <> ${MISPOS}
          AND o.order_no = rc.key_no
          AND NOT EXISTS (SELECT 1 FROM payments p WHERE p.out_trade_no = rc.key_no AND p.status = 'SUCCESS')
      `);

      // 4. Differences into the workflow table; a re-run keeps what people did with them.
      const holding = sql`ARRAY[${sql.join(
        HOLDING_OUTCOMES.map((o) => sql`${o}`),
        sql`, `,
      )}]::text[]`;
      const inserted = rowsOf<{ outcome: string; n: number }>(
        await tx.execute(sql`
          WITH ins AS (
            INSERT INTO recon_items (hospital_id, business_date, channel, kind, key_no, order_no, outcome,
                                     channel_fen, platform_fen, his_fen, channel_fee_fen, expected_fee_fen,
                                     order_id, status, hold_until, first_run_id, last_run_id)
            SELECT ${hospitalId}, ${date}, channel, kind, key_no, order_no, outcome,
                   c_fen, p_fen, h_fen, c_fee, expected_fee, order_id,
                   CASE WHEN outcome = ANY(${holding}) THEN 'HOLDING' ELSE 'OPEN' END,
                   CASE WHEN outcome = ANY(${holding}) THEN ${holdUntil} END,
                   ${runId}, ${runId}
            FROM rc WHERE outcome NOT IN ('matched', 'unverified')
            ON CONFLICT (hospital_id, business_date, kind, key_no, outcome) DO UPDATE SET
              channel_fen = excluded.channel_fen, platform_fen = excluded.platform_fen,
              his_fen = excluded.his_fen, channel_fee_fen = excluded.channel_fee_fen,
              expected_fee_fen = excluded.expected_fee_fen, last_run_id = excluded.last_run_id,
              updated_at = now(),
              -- seen again after a re-run had cleared it: back into the workflow
              status = CASE WHEN recon_items.resolution = 'cleared_by_rerun' THEN excluded.status
                            ELSE recon_items.status END,
              hold_until = CASE WHEN recon_items.resolution = 'cleared_by_rerun' THEN excluded.hold_until
                                ELSE recon_items.hold_until END,
              resolution = CASE WHEN recon_items.resolution = 'cleared_by_rerun' THEN NULL
                                ELSE recon_items.resolution END
            RETURNING outcome, (xmax = 0) AS fresh
          )
          SELECT outcome, count(*)::int AS n FROM ins WHERE fresh GROUP BY outcome
        `),
      );
      // Differences of an earlier run of this day that this run no longer sees (a corrected statement or
      // ledger) are closed as such.
      await tx.execute(sql`
        UPDATE recon_items SET status = 'RESOLVED', resolution = 'cleared_by_rerun', resolved_by = 'system',
               resolved_at = now(), updated_at = now()
        WHERE hospital_id = ${hospitalId} AND business_date = ${date} AND status <> 'RESOLVED'
          AND last_run_id <> ${runId}
      `);

      // 5. Holding pool: a counterpart on any day resolves the difference (the midnight cut-off).
      const crossDay = rowsOf<{ n: number }>(
        await tx.execute(sql`
          WITH done AS (
            UPDATE recon_items i SET status = 'RESOLVED', resolution = 'matched_cross_day',
                   resolved_by = 'system', resolved_at = now(), updated_at = now()
            WHERE i.hospital_id = ${hospitalId} AND i.status = 'HOLDING' AND (
              -- (one EXISTS per kind, so each is an index lookup by number)
              (i.outcome = 'platform_only' AND i.kind = 'PAYMENT' AND EXISTS (
                 SELECT 1 FROM recon_statement_lines l
                 WHERE l.order_no = i.key_no AND l.kind = 'PAYMENT' AND l.amount_fen = i.platform_fen))
              OR (i.outcome = 'platform_only' AND i.kind = 'REFUND' AND EXISTS (
                 SELECT 1 FROM recon_statement_lines l
                 WHERE l.refund_no = i.key_no AND l.kind = 'REFUND' AND l.amount_fen = i.platform_fen))
              OR (i.outcome IN ('channel_only', 'his_only') AND i.kind = 'PAYMENT' AND EXISTS (
                 SELECT 1 FROM payments p WHERE p.out_trade_no = i.key_no AND p.status = 'SUCCESS'
                   AND p.amount_fen = coalesce(i.channel_fen, i.his_fen)))
              OR (i.outcome IN ('channel_only', 'his_only') AND i.kind = 'REFUND' AND EXISTS (
                 SELECT 1 FROM refunds r WHERE r.refund_no = i.key_no AND r.status = 'SUCCESS'
                   AND r.amount_fen = coalesce(i.channel_fen, i.his_fen)))
              OR (i.outcome = 'his_missing' AND i.kind = 'PAYMENT' AND EXISTS (
                 SELECT 1 FROM his_ledger_lines l
                 WHERE l.order_no = i.key_no AND l.kind = 'PAYMENT' AND l.hospital_id = i.hospital_id
                   AND l.amount_fen = i.platform_fen))
              OR (i.outcome = 'his_missing' AND i.kind = 'REFUND' AND EXISTS (
                 SELECT 1 FROM his_ledger_lines l
                 WHERE l.refund_no = i.key_no AND l.kind = 'REFUND' AND l.hospital_id = i.hospital_id
                   AND l.amount_fen = i.platform_fen))
              -- MISPOS: the other side within the holding period around the day (the HIS ledger has no
              -- index on the reference number: its day index bounds the look-up).
              OR (i.channel = ${MISPOS} AND i.outcome = 'channel_only' AND EXISTS (
                 SELECT 1 FROM his_ledger_lines l
                 WHERE l.hospital_id = i.hospital_id
                   AND l.ledger_date BETWEEN to_char(i.business_date::date - ${holdDays}::int, 'YYYY-MM-DD')
                                         AND to_char(i.business_date::date + ${holdDays}::int, 'YYYY-MM-DD')
                   AND l.channel = 'MISPOS' AND l.kind = i.kind
                   AND coalesce(l.terminal_ref, l.his_trade_no) = i.key_no AND l.amount_fen = i.channel_fen))
              OR (i.channel = ${MISPOS} AND i.outcome = 'his_only' AND EXISTS (
                 SELECT 1 FROM recon_statement_lines l
                 WHERE l.order_no = i.key_no AND l.channel = ${MISPOS} AND l.kind = i.kind
                   AND l.hospital_id = i.hospital_id AND l.amount_fen = i.his_fen))
            )
            RETURNING 1
          )
          SELECT count(*)::int AS n FROM done
        `),
      )[0]!.n;

      // 6. Past the holding period: a person has to look.
      const expired = rowsOf<{ outcome: string; key_no: string; business_date: string }>(
        await tx.execute(sql`
          UPDATE recon_items SET status = 'OPEN', updated_at = now()
          WHERE hospital_id = ${hospitalId} AND status = 'HOLDING' AND hold_until <= ${date}
          RETURNING outcome, key_no, business_date
        `),
      );

      // 7. The day's figures per channel and kind, and the HIS's offline income.
      const rows = rowsOf<Record<string, string | number | null>>(
        await tx.execute(sql`
          SELECT channel, kind,
                 count(c_fen)::int AS channel_count, coalesce(sum(c_fen), 0)::bigint AS channel_fen,
                 coalesce(sum(c_fee), 0)::bigint AS channel_fee_fen,
                 count(p_fen)::int AS platform_count, coalesce(sum(p_fen), 0)::bigint AS platform_fen,
                 count(h_fen)::int AS his_count, coalesce(sum(h_fen), 0)::bigint AS his_fen,
                 count(*) FILTER (WHERE outcome = 'matched')::int AS matched,
                 count(*) FILTER (WHERE outcome NOT IN ('matched', 'unverified'))::int AS differences,
                 count(*) FILTER (WHERE outcome = 'unverified')::int AS unverified
          FROM rc WHERE channel <> ${MISPOS} GROUP BY channel, kind ORDER BY channel, kind
        `),
      ).map(summaryRow);
      const terminalRows = (
        terminalCompared
          ? rowsOf<Record<string, string | number | null>>(
              await tx.execute(sql`
                SELECT channel, kind,
                       count(c_fen)::int AS channel_count, coalesce(sum(c_fen), 0)::bigint AS channel_fen,
                       coalesce(sum(c_fee), 0)::bigint AS channel_fee_fen,
                       0 AS platform_count, 0 AS platform_fen,
                       count(h_fen)::int AS his_count, coalesce(sum(h_fen), 0)::bigint AS his_fen,
                       count(*) FILTER (WHERE outcome = 'matched')::int AS matched,
                       count(*) FILTER (WHERE outcome <> 'matched')::int AS differences,
                       0 AS unverified
                FROM rc WHERE channel = ${MISPOS} GROUP BY channel, kind ORDER BY kind
              `),
            )
          : []
      ).map(summaryRow);
      const offline = rowsOf<Record<string, string | number>>(
        await tx.execute(sql`
          SELECT channel,
                 count(*) FILTER (WHERE kind = 'PAYMENT')::int AS payment_count,
                 coalesce(sum(amount_fen) FILTER (WHERE kind = 'PAYMENT'), 0)::bigint AS payment_fen,
                 count(*) FILTER (WHERE kind = 'REFUND')::int AS refund_count,
                 coalesce(sum(amount_fen) FILTER (WHERE kind = 'REFUND'), 0)::bigint AS refund_fen
          FROM his_ledger_lines
          WHERE hospital_id = ${hospitalId} AND ledger_date = ${date} AND order_no IS NULL
          GROUP BY channel ORDER BY channel
        `),
      ).map((r) => ({
        channel: String(r.channel),
        paymentCount: Number(r.payment_count),
        paymentFen: Number(r.payment_fen),
        refundCount: Number(r.refund_count),
        refundFen: Number(r.refund_fen),
      }));

      const newDifferences = Object.fromEntries(inserted.map((r) => [r.outcome, Number(r.n)]));
      const urgent = inserted
        .filter((r) => !HOLDING_OUTCOMES.includes(r.outcome as ReconOutcome))
        .reduce((a, r) => a + Number(r.n), 0);
      if (urgent > 0)
        await raiseAlert(tx, {
          hospitalId,
          kind: 'recon_difference',
          severity: 'critical',
          message: `${date} 对账发现 ${urgent} 笔金额或状态差异，请在对账差异中处理`,
          data: { date, runId, newDifferences },
        });
      if (expired.length > 0)
        await raiseAlert(tx, {
          hospitalId,
          kind: 'recon_hold_expired',
          severity: 'critical',
          message: `${expired.length} 笔差异超过挂账期限仍未匹配（单边账），请在对账差异中处理`,
          data: { date, runId, items: expired.slice(0, 20) },
        });
      return {
        compared,
        missing,
        hisKnown,
        rows,
        terminal: { compared: terminalCompared, rows: terminalRows },
        offline,
        newDifferences,
        crossDay,
        expired: expired.length,
      };
    });
    const out: ReconRunResult = {
      runId,
      hospitalId,
      date,
      channelsCompared: result.compared,
      channelsMissing: result.missing,
      hisLedger: result.hisKnown,
      rows: result.rows,
      terminal: result.terminal,
      offline: result.offline,
      newDifferences: result.newDifferences,
      resolvedCrossDay: result.crossDay,
      expired: result.expired,
      seconds: (Date.now() - started) / 1000,
    };
    await deps.db
      .update(reconRuns)
      .set({
        status: 'DONE',
        finishedAt: new Date(),
        summary: {
          channelsCompared: out.channelsCompared,
          channelsMissing: out.channelsMissing,
          hisLedger: out.hisLedger,
          rows: out.rows,
          terminal: out.terminal,
          offline: out.offline,
          newDifferences: out.newDifferences,
          resolvedCrossDay: out.resolvedCrossDay,
          expired: out.expired,
        } satisfies ReconRunSummary,
      })
      .where(eq(reconRuns.id, runId));
    return out;
  } catch (e) {
    await deps.db
      .update(reconRuns)
      .set({ status: 'FAILED', finishedAt: new Date(), errorMessage: (e as Error).message.slice(0, 500) })
      .where(eq(reconRuns.id, runId));
    throw e;
  }
}
