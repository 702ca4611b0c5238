import type { FundFlowLine, FundFlowTotals } from '../types';
import { StatementError, beijingDateTime, checkTotals, countCell, textRows, yuanCell } from '../statement';
import { billCells } from './trade-bill';

/**
 * The WeChat Pay fund-flow bill (资金账单, `GET /v3/bill/fundflowbill?account_type=BASIC`), protocols.md §1:
 * every movement of the merchant's basic account — trade income, refunds out, fees, and the settlement
 * withdrawal (提现) to the hospital's bank account. Same layout as the trade bill: UTF-8 with a BOM, CRLF, a
 * plain header of 11 columns, data cells each prefixed with a backtick, then a summary header and one summary
 * row (counts and sums of income and expense). Amounts are positive yuan strings; 收支类型 gives the direction.
 */
export const FUND_FLOW_COLUMNS = [
  '记账时间',
  '微信支付业务单号',
  '资金流水单号',
  '业务名称',
  '业务类型',
  '收支类型',
  '收支金额(元)',
  '账户结余(元)',
  '资金变更提交申请人',
  '备注',
  '业务凭证号',
] as const;

export const FUND_FLOW_SUMMARY_COLUMNS = [
  '资金流水总笔数',
  '收入笔数',
  '收入金额',
  '支出笔数',
  '支出金额',
] as const;

/**
 * The 业务类型 values the platform reads (as the sandbox writes them). [P] 交易, 退款 and 扣除交易手续费 are seen in
 * published bills; [U] the wording of a returned fee and of the settlement withdrawal varies (退回交易手续费 /
 * 退还手续费, 提现 / 自动提现), so the report's bank arrival counts every type in {@link SETTLEMENT_BUSINESS_TYPES}.
 */
export const FUND_FLOW_BUSINESS_TYPES = {
  /** A patient's payment credited (收入). */
  trade: '交易',
  /** A refund paid out (支出). */
  refund: '退款',
  /** The fee of a payment charged (支出). */
  fee: '扣除交易手续费',
  /** The fee of a refunded amount given back (收入). */
  feeReturned: '退回交易手续费',
  /** The balance sent to the hospital's settlement bank account (支出): the bank arrival. */
  withdrawal: '提现',
} as const;

/** 业务类型 values that move money from the merchant's balance to its bank account. */
export const SETTLEMENT_BUSINESS_TYPES: readonly string[] = ['提现', '自动提现', '结算'];

/** A parsed fund-flow bill: lines in our terms and totals that agree with the file's own summary. */
export interface ParsedFundFlow {
  lines: FundFlowLine[];
  totals: FundFlowTotals;
}

/**
 * Parses a BASIC fund-flow bill. Refused (never partly read): a header, summary or cell out of the layout
 * (STATEMENT_FORMAT); a summary whose counts or sums disagree with the lines, a flow number listed twice, or
 * a balance that does not follow from the one before (STATEMENT_INCONSISTENT — a line lost or altered).
 * [P] the balance column is the account balance after each movement, lines in booking order.
 */
export function parseFundFlowBill(raw: Buffer): ParsedFundFlow {
  const rows = textRows(raw.toString('utf8'));
  if (rows[0] !== FUND_FLOW_COLUMNS.join(','))
    throw new StatementError('STATEMENT_FORMAT', 'not a fund-flow bill: unexpected header');
  const summaryAt = rows.indexOf(FUND_FLOW_SUMMARY_COLUMNS.join(','));
  if (summaryAt < 0 || summaryAt !== rows.length - 2)
    throw new StatementError(
      'STATEMENT_FORMAT',
      'the summary header and one summary row must end the file (truncated?)',
    );

  const lines: FundFlowLine[] = [];
  const sum: FundFlowTotals = { count: 0, inCount: 0, inFen: 0, outCount: 0, outFen: 0 };
  const flowNos = new Set<string>();
  for (let i = 1; i < summaryAt; i++) {
    const what = `line ${i + 1}`;
    const [
      at,
      businessNo,
      flowNo,
      businessName,
      businessType,
      dir,
      amount,
      balance,
      applicant,
      remark,
      voucher,
    ] = billCells(rows[i]!, FUND_FLOW_COLUMNS.length, what);
    const direction = dir === '收入' ? 'IN' : dir === '支出' ? 'OUT' : undefined;
    if (!direction) throw new StatementError('STATEMENT_FORMAT', `${what}: unknown 收支类型 ${dir}`);
    const amountFen = yuanCell(amount, `${what} 收支金额(元)`);
    if (amountFen < 0)
      throw new StatementError('STATEMENT_FORMAT', `${what}: 收支金额 is negative (收支类型 gives the sign)`);
    if (!flowNo) throw new StatementError('STATEMENT_FORMAT', `${what}: no 资金流水单号`);
    if (!businessType) throw new StatementError('STATEMENT_FORMAT', `${what}: no 业务类型`);
    if (flowNos.has(flowNo))
      throw new StatementError('STATEMENT_INCONSISTENT', `${what}: 资金流水单号 ${flowNo} listed twice`);
    flowNos.add(flowNo);
    const line: FundFlowLine = {
      occurredAt: beijingDateTime(at, `${what} 记账时间`),
      businessNo: businessNo || undefined,
      flowNo,
      businessName,
      businessType,
      direction,
      amountFen,
      balanceFen: yuanCell(balance, `${what} 账户结余(元)`),
      applicant: applicant || undefined,
      remark: remark || undefined,
      voucherNo: voucher || undefined,
    };
    const prev = lines.at(-1);
    if (prev) {
      const expected = prev.balanceFen + (direction === 'IN' ? amountFen : -amountFen);
      if (line.balanceFen !== expected)
        throw new StatementError(
          'STATEMENT_INCONSISTENT',
          `${what}: 账户结余 ${line.balanceFen} does not follow from the line before (${expected}): a line is missing or altered`,
        );
    }
    lines.push(line);
    sum.count++;
    if (direction === 'IN') {
      sum.inCount++;
      sum.inFen += amountFen;
    } else {
      sum.outCount++;
      sum.outFen += amountFen;
    }
  }

  const [count, inCount, inFen, outCount, outFen] = billCells(
    rows[summaryAt + 1]!,
    FUND_FLOW_SUMMARY_COLUMNS.length,
    'summary',
  );
  const stated: FundFlowTotals = {
    count: countCell(count, '资金流水总笔数'),
    inCount: countCell(inCount, '收入笔数'),
    inFen: yuanCell(inFen, '收入金额'),
    outCount: countCell(outCount, '支出笔数'),
    outFen: yuanCell(outFen, '支出金额'),
  };
  checkTotals('the summary disagrees with the lines', stated, sum, {
    count: '资金流水总笔数',
    inCount: '收入笔数',
    inFen: '收入金额(分)',
    outCount: '支出笔数',
    outFen: '支出金额(分)',
  });
  return { lines, totals: stated };
}
