import { createHash, timingSafeEqual } from 'node:crypto';
import type { StatementLine } from '../types';
import {
  StatementError,
  beijingDateTime,
  checkTotals,
  feeCell,
  textRows,
  totalsOf,
  yuanCell,
  type Cells,
  type ParsedStatement,
} from '../statement';

/**
 * The WeChat Pay trade bill (交易账单, bill_type=ALL), protocols.md §1: UTF-8 with a BOM, CRLF, a plain header
 * of 27 columns, data cells each prefixed with a backtick, then a summary header and one summary row.
 * Amounts are yuan strings (fees with five decimals), converted here by string arithmetic.
 */
export const TRADE_BILL_COLUMNS = [
  '交易时间',
  '公众账号ID',
  '商户号',
  '特约商户号',
  '设备号',
  '微信订单号',
  '商户订单号',
  '用户标识',
  '交易类型',
  '交易状态',
  '付款银行',
  '货币种类',
  '应结订单金额',
  '代金券金额',
  '微信退款单号',
  '商户退款单号',
  '退款金额',
  '充值券退款金额',
  '退款类型',
  '退款状态',
  '商品名称',
  '商户数据包',
  '手续费',
  '费率',
  '订单金额',
  '申请退款金额',
  '费率备注',
] as const;

export const TRADE_BILL_SUMMARY_COLUMNS = [
  '总交易单数',
  '应结订单总金额',
  '退款总金额',
  '充值券退款总金额',
  '手续费总金额',
  '订单总金额',
  '申请退款总金额',
] as const;

const C = Object.fromEntries(TRADE_BILL_COLUMNS.map((name, i) => [name, i])) as Record<
  (typeof TRADE_BILL_COLUMNS)[number],
  number
>;

/**
 * Checks the downloaded bytes against the hash the (signed) tradebill reply announced. Only SHA1 is defined
 * for trade bills; another hash type is refused rather than skipped.
 */
export function verifyBillHash(
  raw: Buffer,
  hashType: string | undefined,
  hashValue: string | undefined,
): void {
  if ((hashType ?? '').toUpperCase() !== 'SHA1' || !/^[0-9a-fA-F]{40}$/.test(hashValue ?? ''))
    throw new StatementError('STATEMENT_HASH_MISMATCH', `unsupported bill hash ${hashType}`);
  const actual = createHash('sha1').update(raw).digest();
  if (!timingSafeEqual(actual, Buffer.from(hashValue!, 'hex')))
    throw new StatementError('STATEMENT_HASH_MISMATCH', 'the bill file does not match its SHA1 hash_value');
}

/**
 * Splits a backtick-prefixed data row of a WeChat bill (trade or fund-flow): "`a,`b,`c" → [a, b, c],
 * exactly `expected` cells.
 */
export function billCells<N extends number>(row: string, expected: N, what: string): Cells<N> {
  if (!row.startsWith('`')) throw new StatementError('STATEMENT_FORMAT', `${what}: cells lack the backtick`);
  const out = row.slice(1).split(',`');
  if (out.length !== expected)
    throw new StatementError('STATEMENT_FORMAT', `${what}: ${out.length} cells, expected ${expected}`);
  return out as Cells<N>;
}

export interface TradeBillOptions {
  /** The merchant whose file this is: the direct merchant, or the service provider in partner mode. */
  mchId: string;
  /** Partner mode: keep only this sub-merchant's lines (特约商户号). */
  subMchId?: string;
}

/**
 * Parses an ALL trade bill. The summary row is checked against every line of the file (count and each
 * amount column); a disagreement is STATEMENT_INCONSISTENT. In partner mode the provider's file covers all
 * its sub-merchants: it is checked whole, then only `subMchId`'s lines are kept and totalled.
 */
export function parseTradeBill(raw: Buffer, opts: TradeBillOptions): ParsedStatement {
  const rows = textRows(raw.toString('utf8'));
  if (rows[0] !== TRADE_BILL_COLUMNS.join(','))
    throw new StatementError('STATEMENT_FORMAT', 'not an ALL trade bill: unexpected header');
  const summaryAt = rows.indexOf(TRADE_BILL_SUMMARY_COLUMNS.join(','));
  if (summaryAt < 0 || summaryAt !== rows.length - 2)
    throw new StatementError('STATEMENT_FORMAT', 'the summary header and one summary row must end the file');

  const sum = { count: 0, settle: 0, refund: 0, voucherRefund: 0, fee: 0, order: 0, applied: 0 };
  const all: StatementLine[] = [];
  for (let i = 1; i < summaryAt; i++) {
    const what = `line ${i + 1}`;
    const c: string[] = billCells(rows[i]!, TRADE_BILL_COLUMNS.length, what);
    const col = (name: keyof typeof C) => c[C[name]]!;
    const money = (name: keyof typeof C) => yuanCell(col(name), `${what} ${name}`);
    const fee = feeCell(col('手续费'), `${what} 手续费`);
    sum.count++;
    sum.settle += money('应结订单金额');
    sum.refund += money('退款金额');
    sum.voucherRefund += money('充值券退款金额');
    sum.fee += fee;
    sum.order += money('订单金额');
    sum.applied += money('申请退款金额');

    const state = col('交易状态');
    const subMch = col('特约商户号');
    const base = {
      orderNo: col('商户订单号'),
      channelTradeNo: col('微信订单号') || undefined,
      feeFen: Math.abs(fee),
      occurredAt: beijingDateTime(col('交易时间'), `${what} 交易时间`),
      mchId: col('商户号'),
      subMchId: subMch && subMch !== '0' ? subMch : undefined,
    };
    if (!base.orderNo) throw new StatementError('STATEMENT_FORMAT', `${what}: no 商户订单号`);
    if (state === 'SUCCESS') {
      all.push({ kind: 'PAYMENT', ...base, amountFen: money('订单金额'), rawState: state });
    } else if (state === 'REFUND' || state === 'REVOKED') {
      // [U] A reversed (REVOKED) payment-code payment is listed like a refund of the whole amount.
      all.push({
        kind: 'REFUND',
        ...base,
        refundNo: col('商户退款单号') || undefined,
        channelRefundId: col('微信退款单号') || undefined,
        amountFen: money('申请退款金额') || money('退款金额'),
        rawState: col('退款状态') ? `${state}:${col('退款状态')}` : state,
      });
    } else {
      throw new StatementError('STATEMENT_FORMAT', `${what}: unknown 交易状态 ${state}`);
    }
  }

  const [count, settle, refund, voucherRefund, fee, order, applied] = billCells(
    rows[summaryAt + 1]!,
    TRADE_BILL_SUMMARY_COLUMNS.length,
    'summary',
  );
  const stated = {
    count: /^\d+$/.test(count) ? Number(count) : NaN,
    settle: yuanCell(settle, '应结订单总金额'),
    refund: yuanCell(refund, '退款总金额'),
    voucherRefund: yuanCell(voucherRefund, '充值券退款总金额'),
    fee: feeCell(fee, '手续费总金额'),
    order: yuanCell(order, '订单总金额'),
    applied: yuanCell(applied, '申请退款总金额'),
  };
  checkTotals('the summary disagrees with the lines', stated, sum);

  for (const l of all) {
    if (l.mchId !== opts.mchId)
      throw new StatementError(
        'STATEMENT_INCONSISTENT',
        `a line of merchant ${l.mchId} in ${opts.mchId}'s bill`,
      );
  }
  const lines = opts.subMchId ? all.filter((l) => l.subMchId === opts.subMchId) : all;
  return { lines, totals: totalsOf(lines) };
}
