import { createHash } from 'node:crypto';
import { and, eq, sql, type SQL } from 'drizzle-orm';
import { z } from 'zod';
import type { FundFlowOutput, StatementLine, StatementOutput } from '../../channels/types';
import { FUND_FLOW_BUSINESS_TYPES } from '../../channels/wechatpay/fund-flow-bill';
import type { Db, Tx } from '../../db/client';
import { merchantAccounts } from '../../db/schema';
import {
  hisLedgerLines,
  hisLedgers,
  reconFundFlowLines,
  reconStatementLines,
  reconStatements,
} from '../../db/schema-recon';
import type { Deps } from '../../deps';
import { AppError } from '../../lib/errors';
import { newId } from '../../lib/ids';
import { raiseAlert } from '../payments/service';
import { isBusinessDate } from './dates';

/** Rows per INSERT … SELECT FROM jsonb_to_recordset: large files go in slices, in one transaction. */
const SLICE = 5000;

async function insertStatementLines(
  tx: Tx,
  s: { id: string; hospitalId: string; billDate: string; channel: string },
  lines: readonly StatementLine[],
) {
  for (let i = 0; i < lines.length; i += SLICE) {
    const slice = lines.slice(i, i + SLICE).map((l) => ({
      k: l.kind,
      o: l.orderNo,
      r: l.refundNo ?? null,
      t: l.channelTradeNo ?? null,
      ri: l.channelRefundId ?? null,
      a: l.amountFen,
      f: l.feeFen,
      at: l.occurredAt.toISOString(),
    }));
    await tx.execute(sql`
      INSERT INTO recon_statement_lines (statement_id, hospital_id, bill_date, channel, kind, order_no, refund_no,
                                         channel_trade_no, channel_refund_id, amount_fen, fee_fen, occurred_at)
      SELECT ${s.id}, ${s.hospitalId}, ${s.billDate}, ${s.channel}, x.k, x.o, x.r, x.t, x.ri, x.a, x.f, x.at
      FROM jsonb_to_recordset(${JSON.stringify(slice)}::jsonb)
        AS x(k text, o text, r text, t text, ri text, a bigint, f bigint, at timestamptz)
    `);
  }
}

export interface StatementRecord {
  id: string;
  status: string;
  lineCount: number;
  /** The statement's status before this call (undefined: it is new). */
  previousStatus?: string;
}

/** What a statement is of: one merchant account (or MISPOS acquirer merchant), one kind of file. */
interface StatementTarget {
  hospitalId: string;
  /** The merchant account's id, or `mispos:<acquirer merchant number>` for a TERMINAL statement. */
  merchantAccountId: string;
  channel: string;
  billType: 'TRADE' | 'FUNDFLOW' | 'TERMINAL';
}

/** The common part of every statement intake's input. */
export interface StatementIntake {
  billDate: string;
  source: 'DOWNLOAD' | 'UPLOAD';
  importedBy: string;
  /**
   * An upload over an IMPORTED statement is refused (conflict) unless this is true; a download replaces an
   * earlier import of the same file, which only a re-run asks for.
   */
  replace?: boolean;
  /** Runs in the transaction that stored the statement (the audit row of an upload). */
  onStored?: (tx: Tx, rec: StatementRecord) => Promise<void>;
}

/** Column totals of recon_statements: see the per-bill-type meaning there. */
interface StoredTotals {
  paymentCount: number;
  paymentFen: number;
  refundCount: number;
  refundFen: number;
  feeFen: number;
}

/**
 * Stores one statement outcome (row per target and day, replaced in place) and its lines, in one
 * transaction. A statement already imported is not replaced by a later failed or pending attempt; an upload
 * replaces an imported one only when asked to.
 */
async function storeStatement(
  deps: Pick<Deps, 'db'>,
  target: StatementTarget,
  input: StatementIntake & {
    output: Pick<StatementOutput, 'result' | 'errorCode' | 'errorMessage' | 'rawFile' | 'fileName'>;
    totals: StoredTotals | undefined;
    lineCount: number;
    writeLines: (tx: Tx, statementId: string) => Promise<void>;
    deleteLines: (tx: Tx, statementId: string) => Promise<void>;
  },
): Promise<StatementRecord> {
  const { output } = input;
  const status =
    output.result === 'SUCCESS'
      ? 'IMPORTED'
      : output.result === 'FAIL' && output.errorCode === 'NO_STATEMENT'
        ? 'NO_TRADE'
        : output.result === 'FAIL'
          ? 'FAILED'
          : 'PENDING';
  const imported = status === 'IMPORTED';
  const t = imported ? input.totals : undefined;
  const file = output.rawFile;
  return deps.db.transaction(async (tx) => {
    const [existing] = await tx
      .select()
      .from(reconStatements)
      .where(
        and(
          eq(reconStatements.merchantAccountId, target.merchantAccountId),
          eq(reconStatements.billDate, input.billDate),
          eq(reconStatements.billType, target.billType),
        ),
      )
      .for('update');
    // A statement already imported is not replaced by a later failed or pending attempt.
    if (existing?.status === 'IMPORTED' && !imported) {
      return {
        id: existing.id,
        status: existing.status,
        lineCount: existing.lineCount,
        previousStatus: existing.status,
      };
    }
    if (existing?.status === 'IMPORTED' && input.source === 'UPLOAD' && !input.replace)
      throw new AppError(
        'conflict',
        `the ${target.billType} statement of ${input.billDate} is already imported (${existing.source}); ` +
          'send replace: true to replace it',
      );
    const id = existing?.id ?? newId('stm');
    const values = {
      status,
      source: input.source,
      fileName: output.fileName ?? null,
      fileSha256: file ? createHash('sha256').update(file).digest('hex') : null,
      fileBytes: file?.length ?? null,
      lineCount: imported ? input.lineCount : 0,
      paymentCount: t?.paymentCount ?? 0,
      paymentFen: t?.paymentFen ?? 0,
      refundCount: t?.refundCount ?? 0,
      refundFen: t?.refundFen ?? 0,
      feeFen: t?.feeFen ?? 0,
      errorCode: imported ? null : (output.errorCode ?? null),
      errorMessage: imported ? null : (output.errorMessage ?? '').slice(0, 500) || null,
      importedBy: imported ? input.importedBy : null,
      importedAt: imported ? new Date() : null,
      updatedAt: new Date(),
    };
    if (existing) {
      await tx
        .update(reconStatements)
        .set({ ...values, attempts: sql`${reconStatements.attempts} + 1` })
        .where(eq(reconStatements.id, id));
      await input.deleteLines(tx, id);
    } else {
      await tx.insert(reconStatements).values({
        id,
        hospitalId: target.hospitalId,
        merchantAccountId: target.merchantAccountId,
        channel: target.channel,
        billDate: input.billDate,
        billType: target.billType,
        attempts: 1,
        ...values,
      });
    }
    if (imported && input.lineCount) await input.writeLines(tx, id);
    const rec: StatementRecord = {
      id,
      status,
      lineCount: values.lineCount,
      previousStatus: existing?.status,
    };
    await input.onStored?.(tx, rec);
    return rec;
  });
}

/** The merchant account `where` picks (its id, hospital and channel), if any. */
export async function findMerchantAccount(
  db: Db,
  where: SQL | undefined,
): Promise<{ id: string; hospitalId: string; channel: string } | undefined> {
  const [account] = await db
    .select({
      id: merchantAccounts.id,
      hospitalId: merchantAccounts.hospitalId,
      channel: merchantAccounts.channel,
    })
    .from(merchantAccounts)
    .where(where);
  return account;
}

async function accountTarget(
  deps: Pick<Deps, 'db'>,
  accountId: string,
  billType: 'TRADE' | 'FUNDFLOW',
): Promise<StatementTarget> {
  const account = await findMerchantAccount(deps.db, eq(merchantAccounts.id, accountId));
  if (!account) throw new AppError('not_found', `merchant account ${accountId} not found`);
  return {
    hospitalId: account.hospitalId,
    merchantAccountId: account.id,
    channel: account.channel,
    billType,
  };
}

/**
 * Records what a trade statement download (or a manual upload) gave for one account and day. SUCCESS: the
 * lines replace any earlier import of that statement, with the file's totals (already checked by the parser
 * against its own summary). FAIL NO_STATEMENT: the channel has no statement (no trade that day). PENDING /
 * UNKNOWN: not in yet — counted as an attempt. Any other FAIL: refused, with the reason kept.
 */
export async function recordStatement(
  deps: Pick<Deps, 'db'>,
  input: StatementIntake & { accountId: string; output: StatementOutput },
): Promise<StatementRecord> {
  const target = await accountTarget(deps, input.accountId, 'TRADE');
  return storeTradeLines(deps, target, input);
}

/**
 * Records an acquiring bank's MISPOS terminal statement (billType TERMINAL) of one acquirer merchant number:
 * its lines go to recon_statement_lines with channel `mispos`, `orderNo` = the reference number (参考号) the
 * HIS keeps beside its MISPOS record and `channelTradeNo` = the terminal id. Otherwise as {@link recordStatement}.
 */
export async function recordTerminalStatement(
  deps: Pick<Deps, 'db'>,
  input: StatementIntake & { hospitalId: string; merchantNo: string; output: StatementOutput },
): Promise<StatementRecord> {
  return storeTradeLines(
    deps,
    {
      hospitalId: input.hospitalId,
      merchantAccountId: `${MISPOS_CHANNEL}:${input.merchantNo}`,
      channel: MISPOS_CHANNEL,
      billType: 'TERMINAL',
    },
    input,
  );
}

/** The channel name of MISPOS terminal statement lines (the HIS ledger calls the channel `MISPOS`). */
export const MISPOS_CHANNEL = 'mispos';

function storeTradeLines(
  deps: Pick<Deps, 'db'>,
  target: StatementTarget,
  input: StatementIntake & { output: StatementOutput },
): Promise<StatementRecord> {
  const lines = input.output.result === 'SUCCESS' ? (input.output.lines ?? []) : [];
  return storeStatement(deps, target, {
    ...input,
    totals: input.output.totals,
    lineCount: lines.length,
    writeLines: (tx, id) =>
      insertStatementLines(
        tx,
        { id, hospitalId: target.hospitalId, billDate: input.billDate, channel: target.channel },
        lines,
      ),
    deleteLines: async (tx, id) => {
      await tx.delete(reconStatementLines).where(eq(reconStatementLines.statementId, id));
    },
  });
}

/**
 * Records a fund-flow bill (billType FUNDFLOW) of one account and day and its lines (recon_fund_flow_lines).
 * The statement row's totals mean: payment* = income (收入) count and sum, refund* = expense (支出) count and
 * sum, fee = fees charged less fees returned.
 */
export async function recordFundFlow(
  deps: Pick<Deps, 'db'>,
  input: StatementIntake & { accountId: string; output: FundFlowOutput },
): Promise<StatementRecord> {
  const target = await accountTarget(deps, input.accountId, 'FUNDFLOW');
  const lines = input.output.result === 'SUCCESS' ? (input.output.lines ?? []) : [];
  const t = input.output.totals;
  const fee = lines.reduce(
    (a, l) =>
      l.businessType === FUND_FLOW_BUSINESS_TYPES.fee
        ? a + l.amountFen
        : l.businessType === FUND_FLOW_BUSINESS_TYPES.feeReturned
          ? a - l.amountFen
          : a,
    0,
  );
  return storeStatement(deps, target, {
    ...input,
    totals: t && {
      paymentCount: t.inCount,
      paymentFen: t.inFen,
      refundCount: t.outCount,
      refundFen: t.outFen,
      feeFen: fee,
    },
    lineCount: lines.length,
    writeLines: async (tx, id) => {
      for (let i = 0; i < lines.length; i += SLICE) {
        const slice = lines.slice(i, i + SLICE).map((l) => ({
          f: l.flowNo,
          n: l.businessName,
          t: l.businessType,
          d: l.direction,
          a: l.amountFen,
          b: l.balanceFen,
          v: l.voucherNo ?? l.businessNo ?? null,
          at: l.occurredAt.toISOString(),
        }));
        await tx.execute(sql`
          INSERT INTO recon_fund_flow_lines (statement_id, hospital_id, bill_date, channel, flow_no, business_name,
                                             business_type, direction, amount_fen, balance_fen, voucher_no,
                                             occurred_at)
          SELECT ${id}, ${target.hospitalId}, ${input.billDate}, ${target.channel}, x.f, x.n, x.t, x.d, x.a, x.b,
                 x.v, x.at
          FROM jsonb_to_recordset(${JSON.stringify(slice)}::jsonb)
            AS x(f text, n text, t text, d text, a bigint, b bigint, v text, at timestamptz)
        `);
      }
    },
    deleteLines: async (tx, id) => {
      await tx.delete(reconFundFlowLines).where(eq(reconFundFlowLines.statementId, id));
    },
  });
}

// ---- the HIS ledger -------------------------------------------------------------------------------------

/** Online channels carry our numbers; offline ones are the HIS's own records. */
export const ONLINE_CHANNELS = ['wechatpay', 'alipay', 'bankpay'] as const;
export const OFFLINE_CHANNELS = ['CASH', 'MISPOS', 'KIOSK', 'PREPAID', 'OTHER'] as const;

export const HisLedgerLineSchema = z
  .object({
    kind: z.enum(['PAYMENT', 'REFUND']),
    channel: z.enum([...ONLINE_CHANNELS, ...OFFLINE_CHANNELS]),
    /** The HIS's own number for the record (receipt / settlement number). */
    hisTradeNo: z.string().trim().min(1).max(64),
    /** Online channels: our order number (as in the result push). */
    orderNo: z.string().trim().min(1).max(64).optional(),
    /** Online refunds: our refund number (as in the refund result push). */
    refundNo: z.string().trim().min(1).max(64).optional(),
    /** MISPOS: the terminal's reference number (参考号) printed on the acquiring bank's statement. */
    terminalRef: z.string().trim().min(1).max(64).optional(),
    amountFen: z.number().int().positive().max(10_000_000_000),
    occurredAt: z.iso.datetime({ offset: true }),
  })
  .strict()
  .superRefine((l, ctx) => {
    const online = (ONLINE_CHANNELS as readonly string[]).includes(l.channel);
    if (online && !l.orderNo)
      ctx.addIssue({ code: 'custom', path: ['orderNo'], message: 'online channels carry our order number' });
    if (online && l.kind === 'REFUND' && !l.refundNo)
      ctx.addIssue({ code: 'custom', path: ['refundNo'], message: 'online refunds carry our refund number' });
    // A refund the platform paid back in cash at the window (method CASH) is the one offline record that
    // carries our numbers: the HIS books the refund result we pushed.
    const platformCashRefund = l.channel === 'CASH' && l.kind === 'REFUND' && l.orderNo && l.refundNo;
    if (!online && !platformCashRefund && (l.orderNo || l.refundNo))
      ctx.addIssue({
        code: 'custom',
        path: ['orderNo'],
        message:
          'offline records carry no platform number (but a platform cash refund: orderNo and refundNo)',
      });
  });
export type HisLedgerLine = z.infer<typeof HisLedgerLineSchema>;

/** At most this many records per push; a larger day is pulled by the HIS client. */
export const MAX_LEDGER_LINES = 200_000;

export const HisLedgerPushSchema = z
  .object({ lines: z.array(HisLedgerLineSchema).max(MAX_LEDGER_LINES) })
  .strict();

export const LedgerRecordSchema = z.object({
  ledgerId: z.string(),
  date: z.string().describe('the business day, YYYY-MM-DD (Beijing)'),
  version: z
    .number()
    .int()
    .describe('1 for the first push of the day; each later push replaces it and counts up'),
  lineCount: z.number().int(),
  totals: z
    .record(
      z.string(),
      z.object({ count: z.number().int(), paymentFen: z.number().int(), refundFen: z.number().int() }),
    )
    .describe('per channel, as received'),
  withoutPlatformPayment: z
    .number()
    .int()
    .describe(
      'online payments the HIS lists that have no successful payment here: raised as one-sided entries at once',
    ),
});

export interface LedgerRecord {
  ledgerId: string;
  date: string;
  version: number;
  lineCount: number;
  totals: Record<string, { count: number; paymentFen: number; refundFen: number }>;
  /** Records the HIS holds as paid that have no successful payment here (flagged at once). */
  withoutPlatformPayment: number;
}

/**
 * Stores the HIS's ledger for a day, replacing an earlier one (version + 1), and checks at once every
 * online payment it lists against our payments: one the HIS holds as paid with no payment here is a
 * one-sided entry raised now, not only at the next reconciliation.
 */
export async function recordHisLedger(
  deps: Pick<Deps, 'db'>,
  input: { hospitalId: string; date: string; source: 'PUSH' | 'PULL'; lines: readonly HisLedgerLine[] },
): Promise<LedgerRecord> {
  if (!isBusinessDate(input.date)) throw new AppError('bad_request', 'date must be YYYY-MM-DD');
  const seen = new Set<string>();
  for (const l of input.lines) {
    const key = `${l.kind}:${l.channel}:${l.hisTradeNo}`;
    if (seen.has(key))
      throw new AppError(
        'bad_request',
        `duplicate record ${l.kind} ${l.channel} ${l.hisTradeNo} in the ledger`,
      );
    seen.add(key);
  }
  const totals: LedgerRecord['totals'] = {};
  for (const l of input.lines) {
    const t = (totals[l.channel] ??= { count: 0, paymentFen: 0, refundFen: 0 });
    t.count++;
    if (l.kind === 'PAYMENT') t.paymentFen += l.amountFen;
    else t.refundFen += l.amountFen;
  }
  return deps.db.transaction(async (tx) => {
    const [existing] = await tx
      .select()
      .from(hisLedgers)
      .where(and(eq(hisLedgers.hospitalId, input.hospitalId), eq(hisLedgers.ledgerDate, input.date)))
      .for('update');
    const id = existing?.id ?? newId('hlg');
    const version = (existing?.version ?? 0) + 1;
    if (existing) {
      await tx.delete(hisLedgerLines).where(eq(hisLedgerLines.ledgerId, id));
      await tx
        .update(hisLedgers)
        .set({ version, lineCount: input.lines.length, totals, source: input.source, receivedAt: new Date() })
        .where(eq(hisLedgers.id, id));
    } else {
      await tx.insert(hisLedgers).values({
        id,
        hospitalId: input.hospitalId,
        ledgerDate: input.date,
        source: input.source,
        version,
        lineCount: input.lines.length,
        totals,
      });
    }
    for (let i = 0; i < input.lines.length; i += SLICE) {
      const slice = input.lines.slice(i, i + SLICE).map((l) => ({
        k: l.kind,
        c: l.channel,
        n: l.hisTradeNo,
        o: l.orderNo ?? null,
        r: l.refundNo ?? null,
        tr: l.terminalRef ?? null,
        a: l.amountFen,
        at: l.occurredAt,
      }));
      await tx.execute(sql`
        INSERT INTO his_ledger_lines (ledger_id, hospital_id, ledger_date, kind, channel, his_trade_no, order_no,
                                      refund_no, terminal_ref, amount_fen, occurred_at)
        SELECT ${id}, ${input.hospitalId}, ${input.date}, x.k, x.c, x.n, x.o, x.r, x.tr, x.a, x.at
        FROM jsonb_to_recordset(${JSON.stringify(slice)}::jsonb)
          AS x(k text, c text, n text, o text, r text, tr text, a bigint, at timestamptz)
      `);
    }
    const orphans = (
      (await tx.execute(sql`
        SELECT l.order_no, l.amount_fen FROM his_ledger_lines l
        WHERE l.ledger_id = ${id} AND l.kind = 'PAYMENT' AND l.order_no IS NOT NULL
          AND NOT EXISTS (SELECT 1 FROM payments p
                          WHERE p.out_trade_no = l.order_no AND p.hospital_id = l.hospital_id
                            AND p.status = 'SUCCESS')
        ORDER BY l.order_no
      `)) as unknown as { rows: { order_no: string; amount_fen: string | number }[] }
    ).rows;
    if (orphans.length)
      await raiseAlert(tx, {
        hospitalId: input.hospitalId,
        kind: 'his_paid_without_payment',
        severity: 'critical',
        message: `单边账：HIS ${input.date} 账中 ${orphans.length} 笔已收费记录在平台没有成功支付（如 ${orphans[0]!.order_no}）`,
        data: {
          date: input.date,
          count: orphans.length,
          orders: orphans.slice(0, 50).map((o) => ({ orderNo: o.order_no, amountFen: Number(o.amount_fen) })),
        },
      });
    return {
      ledgerId: id,
      date: input.date,
      version,
      lineCount: input.lines.length,
      totals,
      withoutPlatformPayment: orphans.length,
    };
  });
}
