import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { StatementError } from '../statement';
import { parseTradeBill, verifyBillHash } from './trade-bill';

const FIXTURE = path.resolve(__dirname, '../../../../test/fixtures/wechatpay/tradebill-ALL-2026-03-14.csv');
const raw = readFileSync(FIXTURE);
const sha1 = (b: Buffer) => createHash('sha1').update(b).digest('hex');
const at = (t: string) => new Date(`2026-03-14T${t}+08:00`);
const SP = '1900009999';

/** Replaces text in the file (kept as UTF-8 bytes, BOM included). */
const tamper = (from: string, to: string) => Buffer.from(raw.toString('utf8').replace(from, to), 'utf8');

function codeOf(fn: () => unknown): string | undefined {
  try {
    fn();
  } catch (e) {
    if (e instanceof StatementError) return e.code;
    throw e;
  }
  return undefined;
}

describe('WeChat Pay ALL trade bill', () => {
  it('keeps only this sub-merchant’s lines of the provider’s file, exactly', () => {
    const { lines, totals } = parseTradeBill(raw, { mchId: SP, subMchId: '1900000001' });
    expect(lines).toEqual([
      {
        kind: 'PAYMENT',
        orderNo: 'ORD20260314000001',
        channelTradeNo: '4200002026031400000000000001',
        amountFen: 12850,
        feeFen: 77,
        occurredAt: at('08:15:02'),
        mchId: SP,
        subMchId: '1900000001',
        rawState: 'SUCCESS',
      },
      {
        kind: 'PAYMENT',
        orderNo: 'ORD20260314000003',
        channelTradeNo: '4200002026031400000000000003',
        amountFen: 2500,
        feeFen: 15,
        occurredAt: at('10:02:45'),
        mchId: SP,
        subMchId: '1900000001',
        rawState: 'SUCCESS',
      },
      {
        kind: 'PAYMENT',
        orderNo: 'ORD20260314000004',
        channelTradeNo: '4200002026031400000000000004',
        amountFen: 83,
        feeFen: 0,
        occurredAt: at('11:30:00'),
        mchId: SP,
        subMchId: '1900000001',
        rawState: 'SUCCESS',
      },
      {
        kind: 'REFUND',
        orderNo: 'ORD20260314000001',
        channelTradeNo: '4200002026031400000000000001',
        refundNo: 'RFD20260314000001',
        channelRefundId: '50300002026031400000000000001',
        amountFen: 5600,
        feeFen: 34,
        occurredAt: at('14:20:33'),
        mchId: SP,
        subMchId: '1900000001',
        rawState: 'REFUND:SUCCESS',
      },
      {
        kind: 'REFUND',
        orderNo: 'ORD20260313009999',
        channelTradeNo: '4200002026031300000000009999',
        refundNo: 'RFD20260314000002',
        channelRefundId: '50300002026031400000000000002',
        amountFen: 9900,
        feeFen: 59,
        occurredAt: at('15:00:00'),
        mchId: SP,
        subMchId: '1900000001',
        rawState: 'REFUND:SUCCESS',
      },
    ]);
    // 128.50 + 25.00 + 0.83; refunds 56.00 + 99.00; fees 0.77 + 0.15 + 0.00 − 0.34 − 0.59
    expect(totals).toEqual({
      paymentCount: 3,
      paymentFen: 15433,
      refundCount: 2,
      refundFen: 15500,
      feeFen: -1,
    });
  });

  it('totals the whole file as its summary row states it', () => {
    const { lines, totals } = parseTradeBill(raw, { mchId: SP });
    expect(lines).toHaveLength(6);
    expect(lines.map((l) => l.subMchId)).toEqual([
      '1900000001',
      '1900000002',
      '1900000001',
      '1900000001',
      '1900000001',
      '1900000001',
    ]);
    // Summary row: `6,`474.33,`155.00,`0.00,`1.91000,`474.33,`155.00
    expect(totals).toEqual({
      paymentCount: 4,
      paymentFen: 47433,
      refundCount: 2,
      refundFen: 15500,
      feeFen: 191,
    });
    expect(parseTradeBill(raw, { mchId: SP, subMchId: '1900000002' }).totals).toEqual({
      paymentCount: 1,
      paymentFen: 32000,
      refundCount: 0,
      refundFen: 0,
      feeFen: 192,
    });
  });

  it('accepts the file against its hash, refuses a tampered one', () => {
    expect(() => verifyBillHash(raw, 'SHA1', sha1(raw))).not.toThrow();
    expect(() => verifyBillHash(raw, 'SHA1', sha1(raw).toUpperCase())).not.toThrow();
    const tampered = tamper('`128.50,`0.00,`0,`0', '`1.50,`0.00,`0,`0');
    expect(codeOf(() => verifyBillHash(tampered, 'SHA1', sha1(raw)))).toBe('STATEMENT_HASH_MISMATCH');
    expect(codeOf(() => verifyBillHash(raw, 'MD5', sha1(raw)))).toBe('STATEMENT_HASH_MISMATCH');
  });

  it('refuses a file whose summary disagrees with its lines (amount, fee or count)', () => {
    expect(
      codeOf(() => parseTradeBill(tamper('`474.33,`155.00\r\n', '`474.34,`155.00\r\n'), { mchId: SP })),
    ).toBe('STATEMENT_INCONSISTENT');
    expect(codeOf(() => parseTradeBill(tamper('`1.91000,', '`1.92000,'), { mchId: SP }))).toBe(
      'STATEMENT_INCONSISTENT',
    );
    expect(codeOf(() => parseTradeBill(tamper('\r\n`6,`', '\r\n`7,`'), { mchId: SP }))).toBe(
      'STATEMENT_INCONSISTENT',
    );
    // A line changed but the summary left alone: even with only the other sub-merchant kept, nothing passes.
    const edited = tamper('`320.00,`0.00,`0,`0', '`310.00,`0.00,`0,`0');
    expect(codeOf(() => parseTradeBill(edited, { mchId: SP, subMchId: '1900000001' }))).toBe(
      'STATEMENT_INCONSISTENT',
    );
  });

  it('refuses lines of another merchant and malformed files', () => {
    expect(codeOf(() => parseTradeBill(raw, { mchId: '1900000001' }))).toBe('STATEMENT_INCONSISTENT');
    expect(codeOf(() => parseTradeBill(tamper('`0.77000,', '`0.77123,'), { mchId: SP }))).toBe(
      'STATEMENT_FORMAT',
    );
    expect(
      codeOf(() => parseTradeBill(tamper('`128.50,`0.00,`0,`0', '`128.5x,`0.00,`0,`0'), { mchId: SP })),
    ).toBe('STATEMENT_FORMAT');
    expect(codeOf(() => parseTradeBill(Buffer.from('交易时间,公众账号ID\r\n'), { mchId: SP }))).toBe(
      'STATEMENT_FORMAT',
    );
  });
});
