import { fenToYuan } from '@hp/shared';
import { decodeGbk } from '../../lib/gbk';
import type { StatementLine } from '../types';
import {
  StatementError,
  beijingDateTime,
  checkSummary,
  countCell,
  textRows,
  totalsOf,
  yuanCell,
  type Cells,
  type ParsedStatement,
} from '../statement';

/**
 * The acquiring bank's MISPOS terminal statement (POS 终端交易明细对账文件): the card payments and returns
 * taken on the hospital's bank terminals (MISPOS — the terminal driven by the HIS at the window or kiosk)
 * for one settlement day, as the acquirer delivers it T+1. No public standard exists (protocols.md §7): this
 * is our contract with the acquirer, in the shape such files have — GBK text, CRLF, comma-separated:
 *
 * ```
 * H,<商户号>,<商户名称>,<清算日期 yyyyMMdd>,<明细笔数>,<净额 = 消费 − 退货, 元>
 * 记录类型,终端号,参考号,卡号,交易类型,交易金额,手续费,交易时间,批次号,凭证号,授权码
 * D,<终端号>,<参考号>,<卡号, masked>,消费|退货|撤销,<元>,<元, signed>,<yyyy-MM-dd HH:mm:ss>,<批次号>,<凭证号>,<授权码>
 * …
 * T,<消费笔数>,<消费金额>,<退货笔数>,<退货金额>,<手续费合计>
 * ```
 *
 * - 参考号 (retrieval reference number, ISO 8583 field 37) is what the terminal prints on the slip and what
 *   the HIS keeps beside its record: the key the reconciliation matches on.
 * - 卡号 is masked (first 6 and last 4 digits at most): a file carrying a full card number is refused and
 *   never stored. 退货 (return) and 撤销 (same-day void) take money back: both are refunds here.
 * - 手续费 is the acquirer's fee of the line, negative when a return gives it back.
 * - The header's count and net and the trailer's counts and sums must agree with the lines, and the header
 *   must name the expected merchant and day; anything else refuses the whole file.
 */
export const MISPOS_COLUMNS = [
  '记录类型',
  '终端号',
  '参考号',
  '卡号',
  '交易类型',
  '交易金额',
  '手续费',
  '交易时间',
  '批次号',
  '凭证号',
  '授权码',
] as const;

/** One terminal transaction as the acquirer records it (what the simulator writes, what the parser reads). */
export interface TerminalTransaction {
  terminalId: string;
  referenceNo: string;
  /** Masked: `622848******1234`. */
  maskedCardNo: string;
  type: '消费' | '退货' | '撤销';
  amountFen: number;
  /** The acquirer's fee: negative on a return that gives it back. */
  feeFen: number;
  at: Date;
  batchNo: string;
  voucherNo: string;
  authCode?: string;
}

/** `yyyy-MM-dd HH:mm:ss` in Beijing time. */
const beijing = (at: Date) =>
  new Date(at.getTime() + 8 * 3600_000).toISOString().slice(0, 19).replace('T', ' ');

/** Writes a terminal statement (the sandbox acquirer, and test fixtures). GBK bytes. */
export function writeTerminalStatement(
  header: { merchantNo: string; merchantName: string; billDate: string },
  txs: readonly TerminalTransaction[],
  encode: (text: string) => Buffer,
): Buffer {
  const pay = txs.filter((t) => t.type === '消费');
  const ret = txs.filter((t) => t.type !== '消费');
  const sum = (ts: readonly TerminalTransaction[]) => ts.reduce((a, t) => a + t.amountFen, 0);
  const rows = [
    [
      'H',
      header.merchantNo,
      header.merchantName,
      header.billDate.replaceAll('-', ''),
      String(txs.length),
      fenToYuan(sum(pay) - sum(ret)),
    ],
    [...MISPOS_COLUMNS],
    ...txs.map((t) => [
      'D',
      t.terminalId,
      t.referenceNo,
      t.maskedCardNo,
      t.type,
      fenToYuan(t.amountFen),
      fenToYuan(t.feeFen),
      beijing(t.at),
      t.batchNo,
      t.voucherNo,
      t.authCode ?? '',
    ]),
    [
      'T',
      String(pay.length),
      fenToYuan(sum(pay)),
      String(ret.length),
      fenToYuan(sum(ret)),
      fenToYuan(txs.reduce((a, t) => a + t.feeFen, 0)),
    ],
  ];
  return encode(`${rows.map((r) => r.join(',')).join('\r\n')}\r\n`);
}

export interface TerminalStatementOptions {
  /** The acquirer merchant number (商户号) the file must be for. */
  merchantNo: string;
  /** The settlement day (YYYY-MM-DD) the file must be for. */
  billDate: string;
}

const MASKED_CARD = /^\d{0,6}\*{2,}\d{0,4}$/;

/** GBK (what acquirers send), or UTF-8 when the file starts with a byte-order mark. */
function decode(raw: Buffer): string {
  if (raw.subarray(0, 3).equals(Buffer.from([0xef, 0xbb, 0xbf]))) return raw.subarray(3).toString('utf8');
  try {
    return decodeGbk(raw);
  } catch {
    throw new StatementError('STATEMENT_FORMAT', 'the terminal statement is not GBK text');
  }
}

/**
 * Parses and checks a MISPOS terminal statement (format above). Lines come out as statement lines of
 * channel `mispos`: `orderNo` = 参考号, `channelTradeNo` = 终端号, `rawState` = 交易类型; amounts positive fen.
 */
export function parseTerminalStatement(raw: Buffer, opts: TerminalStatementOptions): ParsedStatement {
  const rows = textRows(decode(raw));
  const head = (rows[0] ?? '').split(',');
  if (head[0] !== 'H' || head.length !== 6)
    throw new StatementError('STATEMENT_FORMAT', 'not a terminal statement: no H header line');
  if (rows[1] !== MISPOS_COLUMNS.join(','))
    throw new StatementError('STATEMENT_FORMAT', 'unexpected column line after the header');
  const trailer = (rows.at(-1) ?? '').split(',');
  if (rows.length < 3 || trailer[0] !== 'T' || trailer.length !== 6)
    throw new StatementError(
      'STATEMENT_FORMAT',
      'the file does not end with its T trailer line (truncated?)',
    );
  const [, merchantNo, , day, headCount, headNet] = head as Cells<6>;
  if (merchantNo !== opts.merchantNo)
    throw new StatementError(
      'STATEMENT_INCONSISTENT',
      `the statement is merchant ${merchantNo}'s, not ${opts.merchantNo}'s`,
    );
  if (day !== opts.billDate.replaceAll('-', ''))
    throw new StatementError('STATEMENT_INCONSISTENT', `the statement is of ${day}, not of ${opts.billDate}`);

  const lines: StatementLine[] = [];
  const seen = new Set<string>();
  const sum = { payCount: 0, payFen: 0, retCount: 0, retFen: 0, feeFen: 0 };
  for (let i = 2; i < rows.length - 1; i++) {
    const what = `line ${i + 1}`;
    const c = rows[i]!.split(',');
    if (c[0] !== 'D' || c.length !== MISPOS_COLUMNS.length)
      throw new StatementError(
        'STATEMENT_FORMAT',
        `${what}: not a D line of ${MISPOS_COLUMNS.length} cells (${c.length})`,
      );
    const [, terminalId, ref, card, type, amount, fee, at, batchNo, voucherNo] = c as Cells<
      typeof MISPOS_COLUMNS.length
    >;
    if (!/^[0-9A-Za-z]{1,16}$/.test(terminalId))
      throw new StatementError('STATEMENT_FORMAT', `${what}: 终端号 ${JSON.stringify(terminalId)}`);
    if (!/^[0-9A-Za-z]{6,32}$/.test(ref))
      throw new StatementError('STATEMENT_FORMAT', `${what}: 参考号 ${JSON.stringify(ref)}`);
    if (/\d{12,}/.test(card) || !MASKED_CARD.test(card))
      throw new StatementError(
        'STATEMENT_FORMAT',
        `${what}: 卡号 is not masked (a full card number is never accepted)`,
      );
    const kind = type === '消费' ? 'PAYMENT' : type === '退货' || type === '撤销' ? 'REFUND' : undefined;
    if (!kind) throw new StatementError('STATEMENT_FORMAT', `${what}: unknown 交易类型 ${type}`);
    const amountFen = yuanCell(amount, `${what} 交易金额`);
    if (amountFen <= 0) throw new StatementError('STATEMENT_FORMAT', `${what}: 交易金额 must be positive`);
    const feeFen = yuanCell(fee, `${what} 手续费`);
    if (seen.has(`${kind}:${ref}`))
      throw new StatementError('STATEMENT_INCONSISTENT', `${what}: 参考号 ${ref} listed twice`);
    seen.add(`${kind}:${ref}`);
    if (kind === 'PAYMENT') {
      sum.payCount++;
      sum.payFen += amountFen;
    } else {
      sum.retCount++;
      sum.retFen += amountFen;
    }
    sum.feeFen += feeFen;
    lines.push({
      kind,
      orderNo: ref,
      channelTradeNo: terminalId,
      amountFen,
      feeFen: Math.abs(feeFen),
      occurredAt: beijingDateTime(at, `${what} 交易时间`),
      mchId: merchantNo,
      rawState: batchNo || voucherNo ? `${type}/${batchNo}/${voucherNo}` : type,
    });
  }

  const [, payCount, payFen, retCount, retFen, feeFen] = trailer as Cells<6>;
  checkSummary('the header or trailer disagrees with the lines', [
    ['header 明细笔数', countCell(headCount, 'header 明细笔数'), lines.length],
    ['header 净额(分)', yuanCell(headNet, 'header 净额'), sum.payFen - sum.retFen],
    ['trailer 消费笔数', countCell(payCount, 'trailer 消费笔数'), sum.payCount],
    ['trailer 消费金额(分)', yuanCell(payFen, 'trailer 消费金额'), sum.payFen],
    ['trailer 退货笔数', countCell(retCount, 'trailer 退货笔数'), sum.retCount],
    ['trailer 退货金额(分)', yuanCell(retFen, 'trailer 退货金额'), sum.retFen],
    ['trailer 手续费合计(分)', yuanCell(feeFen, 'trailer 手续费合计'), sum.feeFen],
  ]);
  const totals = totalsOf(lines);
  // The file's own fee sum is signed (returns give fees back): keep it as stated.
  return { lines, totals: { ...totals, feeFen: sum.feeFen } };
}
