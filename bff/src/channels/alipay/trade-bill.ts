import { decodeGbk } from '../../lib/gbk';
import { readZip, ZipFormatError } from '../../lib/zip';
import type { StatementLine } from '../types';
import {
  StatementError,
  beijingDateTime,
  checkTotals,
  totalsOf,
  yuanCell,
  type ParsedStatement,
} from '../statement';

/**
 * Alipay's trade bill (bill_type=trade), protocols.md §5: a zip of GBK CSVs — `<PID>0156_<yyyyMMdd>_业务明细.csv`
 * (one line per payment and refund) and `…_业务明细(汇总).csv` (per store). The detail file has `#` preface
 * lines (account, period), a 25-column header, rows whose ID cells end in a tab, an end marker and `#` footer
 * lines stating the payment and refund counts and sums of 商家实收. Refund rows carry negative amounts.
 */
export const ALIPAY_BILL_COLUMNS = [
  '支付宝交易号',
  '商户订单号',
  '业务类型',
  '商品名称',
  '创建时间',
  '完成时间',
  '门店编号',
  '门店名称',
  '操作员',
  '终端号',
  '对方账户',
  '订单金额（元）',
  '商家实收（元）',
  '支付宝红包（元）',
  '集分宝（元）',
  '支付宝优惠（元）',
  '商家优惠（元）',
  '券核销金额（元）',
  '券名称',
  '商家红包消费金额（元）',
  '卡消费金额（元）',
  '退款批次号/请求号',
  '服务费（元）',
  '分润（元）',
  '备注',
] as const;

const C = Object.fromEntries(ALIPAY_BILL_COLUMNS.map((name, i) => [name, i])) as Record<
  (typeof ALIPAY_BILL_COLUMNS)[number],
  number
>;

/** The detail CSV (业务明细, not its 汇总 companion) out of the downloaded zip, decoded from GBK. */
export function extractTradeBill(zip: Buffer): { fileName: string; text: string } {
  let entries;
  try {
    entries = readZip(zip);
  } catch (e) {
    if (e instanceof ZipFormatError)
      throw new StatementError('STATEMENT_FORMAT', `bill archive: ${e.message}`);
    throw e;
  }
  const detail = entries.filter((e) => /业务明细\.csv$/.test(e.name));
  if (detail.length !== 1)
    throw new StatementError(
      'STATEMENT_FORMAT',
      `bill archive holds ${detail.length} 业务明细.csv files (${entries.map((e) => e.name).join(', ')})`,
    );
  try {
    return { fileName: detail[0]!.name, text: decodeGbk(detail[0]!.data) };
  } catch {
    throw new StatementError('STATEMENT_FORMAT', `${detail[0]!.name} is not GBK text`);
  }
}

/** One CSV record: commas separate, double quotes may enclose a cell (and "" escapes a quote inside). */
function splitCsv(row: string): string[] {
  const out: string[] = [];
  let cell = '';
  let quoted = false;
  for (let i = 0; i < row.length; i++) {
    const ch = row[i]!;
    if (quoted) {
      if (ch === '"' && row[i + 1] === '"') {
        cell += '"';
        i++;
      } else if (ch === '"') quoted = false;
      else cell += ch;
    } else if (ch === '"' && cell === '') quoted = true;
    else if (ch === ',') {
      out.push(cell);
      cell = '';
    } else cell += ch;
  }
  out.push(cell);
  // ID cells end in a tab so spreadsheets keep them as text: drop it (and stray spaces).
  return out.map((c) => c.replace(/[\t ]+$/, '').replace(/^[\t ]+/, ''));
}

export interface AlipayBillOptions {
  /** Our seller id (PID, 2088…): the bill's account line must name it. */
  sellerId: string;
}

const FOOTER_TRADES = /^#交易合计：(\d+)笔，商家实收共(-?\d+(?:\.\d+)?)元/;
const FOOTER_REFUNDS = /^#退款合计：(\d+)笔，商家实收退款共(-?\d+(?:\.\d+)?)元/;

/**
 * Parses the 业务明细 CSV text. The footer's counts and 商家实收 sums (payments, refunds) are checked against
 * the rows; a disagreement is STATEMENT_INCONSISTENT. Line amounts are 订单金额 (what the patient was
 * charged, or refunded), as positive fen; fees are 服务费.
 * [U] the sign Alipay prints on 服务费 (charged on payments, returned with refunds): either is accepted.
 */
export function parseAlipayTradeBill(text: string, opts: AlipayBillOptions): ParsedStatement {
  const rows = text.replace(/^\uFEFF/, '').split(/\r?\n/);
  const account = rows.map((r) => /^#账号：\[(\d+)\]/.exec(r)).find(Boolean);
  if (!account) throw new StatementError('STATEMENT_FORMAT', 'no #账号 line in the bill');
  // The account is the PID followed by an account-type suffix (0156 for the settlement account).
  if (!account[1]!.startsWith(opts.sellerId))
    throw new StatementError(
      'STATEMENT_INCONSISTENT',
      `the bill is account ${account[1]}'s, not ${opts.sellerId}'s`,
    );
  const headerAt = rows.findIndex((r) => r.startsWith('支付宝交易号,'));
  if (headerAt < 0) throw new StatementError('STATEMENT_FORMAT', 'no detail header in the bill');
  const header = splitCsv(rows[headerAt]!);
  if (header.join(',') !== ALIPAY_BILL_COLUMNS.join(','))
    throw new StatementError('STATEMENT_FORMAT', `unexpected detail header (${header.length} columns)`);
  const endAt = rows.findIndex((r, i) => i > headerAt && r.startsWith('#') && r.includes('业务明细列表结束'));
  if (endAt < 0) throw new StatementError('STATEMENT_FORMAT', 'no end marker after the detail rows');

  const lines: StatementLine[] = [];
  const sums = { trades: 0, tradeReceived: 0, refunds: 0, refundReceived: 0 };
  for (let i = headerAt + 1; i < endAt; i++) {
    const row = rows[i]!;
    if (row.trim() === '') continue;
    const what = `line ${i + 1}`;
    const c = splitCsv(row);
    if (c.length !== ALIPAY_BILL_COLUMNS.length)
      throw new StatementError(
        'STATEMENT_FORMAT',
        `${what}: ${c.length} cells, expected ${ALIPAY_BILL_COLUMNS.length}`,
      );
    const col = (name: keyof typeof C) => c[C[name]]!;
    const money = (name: keyof typeof C) => yuanCell(col(name) || '0', `${what} ${name}`);
    const type = col('业务类型');
    const amount = money('订单金额（元）');
    const received = money('商家实收（元）');
    const base = {
      orderNo: col('商户订单号'),
      channelTradeNo: col('支付宝交易号') || undefined,
      feeFen: Math.abs(money('服务费（元）')),
      occurredAt: beijingDateTime(col('完成时间'), `${what} 完成时间`),
      mchId: opts.sellerId,
      rawState: type,
    };
    if (!base.orderNo) throw new StatementError('STATEMENT_FORMAT', `${what}: no 商户订单号`);
    if (type === '交易') {
      if (amount < 0) throw new StatementError('STATEMENT_FORMAT', `${what}: negative payment`);
      sums.trades++;
      sums.tradeReceived += received;
      lines.push({ kind: 'PAYMENT', ...base, amountFen: amount });
    } else if (type === '退款') {
      if (amount > 0) throw new StatementError('STATEMENT_FORMAT', `${what}: refund rows are negative`);
      sums.refunds++;
      sums.refundReceived += received;
      lines.push({
        kind: 'REFUND',
        ...base,
        refundNo: col('退款批次号/请求号') || undefined,
        amountFen: -amount,
      });
    } else {
      throw new StatementError('STATEMENT_FORMAT', `${what}: unknown 业务类型 ${type}`);
    }
  }

  const footer = rows.slice(endAt + 1);
  const trades = footer.map((r) => FOOTER_TRADES.exec(r)).find(Boolean);
  const refunds = footer.map((r) => FOOTER_REFUNDS.exec(r)).find(Boolean);
  if (!trades || !refunds) throw new StatementError('STATEMENT_FORMAT', 'no #交易合计 / #退款合计 footer');
  const stated = {
    trades: Number(trades[1]),
    tradeReceived: yuanCell(trades[2]!, '#交易合计 商家实收'),
    refunds: Number(refunds[1]),
    refundReceived: yuanCell(refunds[2]!, '#退款合计 商家实收退款'),
  };
  checkTotals('the footer disagrees with the rows', stated, sums);
  return { lines, totals: totalsOf(lines) };
}
