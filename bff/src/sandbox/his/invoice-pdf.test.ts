import { invoicePdf, type InvoicePdfInput } from './invoice-pdf';

const base: InvoicePdfInput = {
  hospitalName: '示范市第一人民医院（本部）',
  invoiceCode: '33010126',
  invoiceNo: '1234560001',
  amountFen: 12850,
  issuedAt: new Date('2026-11-23T02:15:00Z'),
  orderNo: 'P20261123101500123456789012',
  payerName: '张*',
  items: [
    { name: '门诊西药费', amountFen: 10350 },
    { name: '血常规检查', amountFen: 2500 },
  ],
};

/** The structure a PDF reader relies on, checked byte by byte. */
function checkStructure(pdf: Buffer): { objects: number; content: string } {
  const text = pdf.toString('latin1');
  expect(text.startsWith('%PDF-1.4\n')).toBe(true);
  expect(text.endsWith('%%EOF\n')).toBe(true);

  const startxref = /startxref\n(\d+)\n%%EOF\n$/.exec(text);
  expect(startxref).not.toBeNull();
  const xrefAt = Number(startxref![1]);
  expect(text.slice(xrefAt, xrefAt + 5)).toBe('xref\n');

  const header = /^xref\n0 (\d+)\n/.exec(text.slice(xrefAt))!;
  const count = Number(header[1]);
  const tableAt = xrefAt + header[0].length;
  const entries = text.slice(tableAt, tableAt + count * 20);
  expect(entries).toHaveLength(count * 20);
  expect(entries.slice(0, 20)).toBe('0000000000 65535 f\r\n');
  for (let i = 1; i < count; i++) {
    const entry = entries.slice(i * 20, i * 20 + 20);
    expect(entry).toMatch(/^\d{10} 00000 n\r\n$/);
    const offset = Number(entry.slice(0, 10));
    expect(text.slice(offset, offset + `${i} 0 obj\n`.length)).toBe(`${i} 0 obj\n`);
  }
  const trailer = text.slice(tableAt + count * 20);
  expect(trailer).toMatch(new RegExp(`^trailer\\n<< /Size ${count} /Root 1 0 R /Info \\d+ 0 R >>\\n`));

  // The content stream's /Length is its exact byte length.
  const stream = /<< \/Length (\d+) >>\nstream\n/.exec(text)!;
  const from = stream.index + stream[0].length;
  const length = Number(stream[1]);
  expect(text.slice(from + length, from + length + 9)).toBe('endstream');
  return { objects: count - 1, content: text.slice(from, from + length) };
}

const ucs2 = (s: string) =>
  [...s].map((c) => c.codePointAt(0)!.toString(16).padStart(4, '0').toUpperCase()).join('');

describe('invoicePdf (the HIS simulator’s e-invoice)', () => {
  it('is a one-page PDF with a valid cross-reference table', () => {
    const pdf = invoicePdf(base);
    const { objects } = checkStructure(pdf);
    expect(objects).toBe(9);
    const text = pdf.toString('latin1');
    expect(text.match(/\/Type \/Page /g)).toHaveLength(1);
    expect(text).toContain('/Count 1');
  });

  it('prints the invoice number, the amount in yuan and the hospital name', () => {
    const { content } = checkStructure(invoicePdf(base));
    expect(content).toContain('1234560001');
    expect(content).toContain('33010126');
    expect(content).toContain('( Total: CNY 128.50)');
    expect(content).toContain('(103.50)');
    expect(content).toContain(`<${ucs2('示范市第一人民医院（本部）')}>`);
    expect(content).toContain(`<${ucs2('医疗收费电子票据')}>`);
    // Issued at 02:15 UTC is 10:15 in Beijing.
    expect(content).toContain('2026-11-23 10:15:00');
  });

  it('converts fen to yuan by string arithmetic, at the edges too', () => {
    for (const [fen, yuan] of [
      [1, '0.01'],
      [10, '0.10'],
      [100, '1.00'],
      [1_000_000_001, '10000000.01'],
      [0, '0.00'],
    ] as const) {
      const { content } = checkStructure(invoicePdf({ ...base, amountFen: fen, items: [] }));
      expect(content).toContain(`( Total: CNY ${yuan})`);
    }
    expect(() => invoicePdf({ ...base, amountFen: 12.5 })).toThrow(RangeError);
  });

  it('escapes PDF string delimiters and keeps characters beyond the BMP out', () => {
    const { content } = checkStructure(
      invoicePdf({ ...base, orderNo: 'P(1)\\2', hospitalName: '医院𠀀', items: [] }),
    );
    expect(content).toContain('P\\(1\\)\\\\2');
    expect(content).toContain(`<${ucs2('医院')}FF1F>`);
  });
});
