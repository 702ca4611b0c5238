import { createHash } from 'node:crypto';
import { and, eq, sql } from 'drizzle-orm';
import { z } from 'zod';
import type { StatementLine, StatementOutput } from '../../channels/types';
import type { Tx } from '../../db/client';
import { merchantAccounts } from '../../db/schema';
import { hisLedgerLines, hisLedgers, reconStatementLines, reconStatements } from '../../db/schema-recon';
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
}

/**
 * Records what a statement download (or a manual upload) gave for one account and day. SUCCESS: the lines
 * replace any earlier import of that statement, with the file's totals (already checked by the parser
 * against its own summary). FAIL NO_STATEMENT: the channel has no statement (no trade that day). PENDING /
 * UNKNOWN: not in yet — counted as an attempt. Any other FAIL: refused, with the reason kept.
 */
export async function recordStatement(
  deps: Pick<Deps, 'db'>,
  input: {
    accountId: string;
    billDate: string;
    source: 'DOWNLOAD' | 'UPLOAD';
    output: StatementOutput;
    importedBy: string;
  },
): Promise<StatementRecord> {
  const [account] = await deps.db
    .select({
      id: merchantAccounts.id,
      hospitalId: merchantAccounts.hospitalId,
      channel: merchantAccounts.channel,
    })
    .from(merchantAccounts)
    .where(eq(merchantAccounts.id, input.accountId));
  if (!account) throw new AppError('not_found', `merchant account ${input.accountId} not found`);
  const { output } = input;
  const status =
    output.result === 'SUCCESS'
      ? 'IMPORTED'
      : output.result === 'FAIL' && output.errorCode === 'NO_STATEMENT'
        ? 'NO_TRADE'
        : output.result === 'FAIL'
          ? 'FAILED'
          : 'PENDING';
  const lines = status === 'IMPORTED' ? (output.lines ?? []) : [];
  const t = output.totals;
  const file = output.rawFile;
  return deps.db.transaction(async (tx) => {
    const [existing] = await tx
      .select()
      .from(reconStatements)
      .where(
        and(
          eq(reconStatements.merchantAccountId, account.id),
          eq(reconStatements.billDate, input.billDate),
          eq(reconStatements.billType, 'TRADE'),
        ),
      )
      .for('update');
    // A statement already imported is not replaced by a later failed or pending attempt.
    if (existing?.status === 'IMPORTED' && status !== 'IMPORTED') {
      return { id: existing.id, status: existing.status, lineCount: existing.lineCount };
    }
    const id = existing?.id ?? newId('stm');
    const values = {
      status,
      source: input.source,
      fileName: output.fileName ?? null,
      fileSha256: file ? createHash('sha256').update(file).digest('hex') : null,
      fileBytes: file?.length ?? null,
      lineCount: lines.length,
      paymentCount: t?.paymentCount ?? 0,
      paymentFen: t?.paymentFen ?? 0,
      refundCount: t?.refundCount ?? 0,
      refundFen: t?.refundFen ?? 0,
      feeFen: t?.feeFen ?? 0,
      errorCode: status === 'IMPORTED' ? null : (output.errorCode ?? null),
      errorMessage: status === 'IMPORTED' ? null : (output.errorMessage ?? '').slice(0, 500) || null,
      importedBy: status === 'IMPORTED' ? input.importedBy : null,
      importedAt: status === 'IMPORTED' ? new Date() : null,
      updatedAt: new Date(),
    };
    if (existing) {
      await tx
        .update(reconStatements)
        .set({ ...values, attempts: sql`${reconStatements.attempts} + 1` })
        .where(eq(reconStatements.id, id));
      await tx.delete(reconStatementLines).where(eq(reconStatementLines.statementId, id));
    } else {
      await tx.insert(reconStatements).values({
        id,
        hospitalId: account.hospitalId,
        merchantAccountId: account.id,
        channel: account.channel,
        billDate: input.billDate,
        attempts: 1,
        ...values,
      });
    }
    if (lines.length)
      await insertStatementLines(
        tx,
        { id, hospitalId: account.hospitalId, billDate: input.billDate, channel: account.channel },
        lines,
      );
    return { id, status, lineCount: lines.length };
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
    if (!online && (l.orderNo || l.refundNo))
      ctx.addIssue({
        code: 'custom',
        path: ['orderNo'],
        message: 'offline records carry no platform number',
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
