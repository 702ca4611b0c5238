import { readFileSync } from 'node:fs';
import path from 'node:path';
import { decodeGbk, encodeGbk } from '../../lib/gbk';
import { readZip, writeZip } from '../../lib/zip';
import { StatementError } from '../statement';
import { extractTradeBill, parseAlipayTradeBill } from './trade-bill';

const FIXTURE = path.resolve(
  __dirname,
  '../../../../test/fixtures/alipay/20880000000000010156_20260314.csv.zip',
);
const zip = readFileSync(FIXTURE);
const PID = '2088000000000001';
const at = (t: string) => new Date(`2026-03-14T${t}+08:00`);

function codeOf(fn: () => unknown): string | undefined {
  try {
    fn();
  } catch (e) {
    if (e instanceof StatementError) return e.code;
    throw e;
  }
  return undefined;
}

/** The archive with its detail CSV edited (re-encoded in GBK, names kept). */
function rezip(edit: (csv: string) => string): Buffer {
  const entries = readZip(zip).map((e) =>
    /业务明细\.csv$/.test(e.name) ? { ...e, data: encodeGbk(edit(decodeGbk(e.data))) } : e,
  );
  return writeZip(entries, { names: 'gbk' });
}
const parseZip = (z: Buffer) => parseAlipayTradeBill(extractTradeBill(z).text, { sellerId: PID });

describe('Alipay trade bill (zip of GBK CSVs)', () => {
  it('finds the 业务明细 file by its GBK name and parses every row exactly', () => {
    const { fileName, text } = extractTradeBill(zip);
    expect(fileName).toBe('20880000000000010156_20260314_业务明细.csv');
    const { lines, totals } = parseAlipayTradeBill(text, { sellerId: PID });
    expect(lines).toEqual([
      {
        kind: 'PAYMENT',
        orderNo: 'ORD20260314100001',
        channelTradeNo: '2026031422001400000000000001',
        amountFen: 12850,
        feeFen: 77,
        occurredAt: at('08:15:04'),
        mchId: PID,
        rawState: '交易',
      },
      {
        kind: 'PAYMENT',
        orderNo: 'ORD20260314100002',
        channelTradeNo: '2026031422001400000000000002',
        amountFen: 2600,
        feeFen: 16,
        occurredAt: at('09:01:12'),
        mchId: PID,
        rawState: '交易',
      },
      {
        kind: 'PAYMENT',
        orderNo: 'ORD20260314100003',
        channelTradeNo: '2026031422001400000000000003',
        amountFen: 1,
        feeFen: 0,
        occurredAt: at('12:00:01'),
        mchId: PID,
        rawState: '交易',
      },
      {
        kind: 'REFUND',
        orderNo: 'ORD20260314100001',
        channelTradeNo: '2026031422001400000000000001',
        refundNo: 'RFD20260314100001',
        amountFen: 1234,
        feeFen: 7,
        occurredAt: at('16:45:00'),
        mchId: PID,
        rawState: '退款',
      },
    ]);
    expect(totals).toEqual({
      paymentCount: 3,
      paymentFen: 15451,
      refundCount: 1,
      refundFen: 1234,
      feeFen: 86,
    });
  });

  it('refuses a bill whose footer disagrees with its rows', () => {
    expect(codeOf(() => parseZip(rezip((c) => c.replace('商家实收共154.51元', '商家实收共154.52元'))))).toBe(
      'STATEMENT_INCONSISTENT',
    );
    expect(codeOf(() => parseZip(rezip((c) => c.replace('#退款合计：1笔', '#退款合计：2笔'))))).toBe(
      'STATEMENT_INCONSISTENT',
    );
    // A row's amount edited, the footer left alone.
    expect(codeOf(() => parseZip(rezip((c) => c.replace(',0.01,0.01,', ',0.02,0.02,'))))).toBe(
      'STATEMENT_INCONSISTENT',
    );
  });

  it('refuses another seller’s bill, a damaged archive and malformed rows', () => {
    expect(
      codeOf(() => parseAlipayTradeBill(extractTradeBill(zip).text, { sellerId: '2088000000000002' })),
    ).toBe('STATEMENT_INCONSISTENT');
    const damaged = Buffer.from(zip);
    const dataAt = 30 + zip.readUInt16LE(26) + 40; // inside the first entry's deflated data
    damaged[dataAt] = damaged[dataAt]! ^ 0xff;
    expect(codeOf(() => extractTradeBill(damaged))).toBe('STATEMENT_FORMAT');
    expect(codeOf(() => extractTradeBill(Buffer.from('not a zip')))).toBe('STATEMENT_FORMAT');
    expect(codeOf(() => parseZip(rezip((c) => c.replace(',-12.34,-12.34,', ',12.34,-12.34,'))))).toBe(
      'STATEMENT_FORMAT',
    );
    expect(codeOf(() => parseZip(rezip((c) => c.replace(/#交易合计.*\r\n/, ''))))).toBe('STATEMENT_FORMAT');
  });
});
