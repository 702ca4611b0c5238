import { fenToYuan } from '@hp/shared';

/** What the HIS simulator prints on an e-invoice (医疗收费电子票据). Sandbox data only. */
export interface InvoicePdfInput {
  hospitalName: string;
  invoiceCode: string;
  invoiceNo: string;
  amountFen: number;
  issuedAt: Date;
  orderNo: string;
  /** The payer's name, already masked. */
  payerName?: string;
  /** Lines to list (name and amount in fen); informational. */
  items?: { name: string; amountFen: number }[];
}

/** A run of text in one font: F1 Helvetica (ASCII), F2 STSong-Light (Chinese, UCS-2). */
type Run = { font: 'F1' | 'F2'; text: string };

/** Splits text into runs: printable ASCII in Helvetica, everything else in STSong-Light. */
function runs(text: string): Run[] {
  const out: Run[] = [];
  for (const ch of text) {
    const font = /^[\x20-\x7e]$/.test(ch) ? 'F1' : 'F2';
    const last = out[out.length - 1];
    if (last?.font === font) last.text += ch;
    else out.push({ font, text: ch });
  }
  return out;
}

/** A PDF literal string: backslash, parentheses escaped; only printable ASCII reaches here. */
function literal(text: string): string {
  return `(${text.replace(/[\\()]/g, (c) => `\\${c}`)})`;
}

/** UCS-2 big-endian hex for the UniGB-UCS2-H CMap; characters outside the BMP become a full-width '?'. */
function ucs2Hex(text: string): string {
  let hex = '';
  for (const ch of text) {
    const cp = ch.codePointAt(0)!;
    hex += (cp > 0xffff ? 0xff1f : cp).toString(16).padStart(4, '0').toUpperCase();
  }
  return `<${hex}>`;
}

/** One line of text at (x, y) in `size` points. */
function line(x: number, y: number, size: number, text: string): string {
  const shown = runs(text)
    .map((r) => `/${r.font} ${size} Tf ${r.font === 'F1' ? literal(r.text) : ucs2Hex(r.text)} Tj`)
    .join(' ');
  return `BT ${x} ${y} Td ${shown} ET`;
}

/** Beijing time as `YYYY-MM-DD HH:mm:ss`. */
function beijing(at: Date): string {
  return new Date(at.getTime() + 8 * 3600_000).toISOString().slice(0, 19).replace('T', ' ');
}

/**
 * A one-page PDF 1.4 e-invoice, written by hand: no dependency, uncompressed content, a classic cross-reference
 * table with exact byte offsets. Chinese text uses the predefined CJK font STSong-Light with the UniGB-UCS2-H
 * CMap (PDF 1.4 §5.6.4, Adobe-GB1), which readers supply, so nothing is embedded. Amounts are yuan strings
 * converted from fen by string arithmetic (`fenToYuan`), never floating point.
 */
export function invoicePdf(input: InvoicePdfInput): Buffer {
  const yuan = fenToYuan(input.amountFen);
  const content: string[] = [
    '0.6 w 40 40 515 340 re S',
    line(170, 350, 18, '医疗收费电子票据'),
    line(60, 318, 12, input.hospitalName),
    line(60, 292, 10, `票据代码 Invoice code: ${input.invoiceCode}`),
    line(320, 292, 10, `票据号码 Invoice No: ${input.invoiceNo}`),
    line(60, 274, 10, `开票日期 Issued: ${beijing(input.issuedAt)}`),
    line(320, 274, 10, `订单号 Order: ${input.orderNo}`),
  ];
  if (input.payerName) content.push(line(60, 256, 10, `交款人 Payer: ${input.payerName}`));
  let y = 226;
  for (const item of (input.items ?? []).slice(0, 8)) {
    content.push(
      line(60, y, 10, [...item.name].slice(0, 30).join('')),
      line(420, y, 10, fenToYuan(item.amountFen)),
    );
    y -= 16;
  }
  content.push(
    '60 84 m 535 84 l S',
    line(60, 64, 12, `合计 Total: CNY ${yuan}`),
    line(60, 48, 8, 'Sandbox invoice issued by the HIS simulator - not a real document'),
  );
  const stream = Buffer.from(content.join('\n') + '\n', 'latin1');

  const objects: (string | Buffer)[] = [
    '<< /Type /Catalog /Pages 2 0 R >>',
    '<< /Type /Pages /Kids [3 0 R] /Count 1 >>',
    '<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 420] ' +
      '/Resources << /Font << /F1 4 0 R /F2 5 0 R >> >> /Contents 8 0 R >>',
    '<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica /Encoding /WinAnsiEncoding >>',
    '<< /Type /Font /Subtype /Type0 /BaseFont /STSong-Light /Encoding /UniGB-UCS2-H /DescendantFonts [6 0 R] >>',
    '<< /Type /Font /Subtype /CIDFontType0 /BaseFont /STSong-Light ' +
      '/CIDSystemInfo << /Registry (Adobe) /Ordering (GB1) /Supplement 2 >> /FontDescriptor 7 0 R /DW 1000 >>',
    '<< /Type /FontDescriptor /FontName /STSong-Light /Flags 6 /FontBBox [-25 -254 1000 880] ' +
      '/ItalicAngle 0 /Ascent 880 /Descent -120 /CapHeight 880 /StemV 93 >>',
    Buffer.concat([
      Buffer.from(`<< /Length ${stream.length} >>\nstream\n`, 'latin1'),
      stream,
      Buffer.from('endstream', 'latin1'),
    ]),
    `<< /Title ${literal(`Invoice ${input.invoiceNo}`)} /Producer (hospital-pay HIS simulator) >>`,
  ];

  const parts: Buffer[] = [];
  let offset = 0;
  const push = (b: Buffer) => {
    parts.push(b);
    offset += b.length;
  };
  // The second line's bytes above 127 tell transfer tools the file is binary (PDF 1.4 §3.4.1).
  push(Buffer.concat([Buffer.from('%PDF-1.4\n%', 'latin1'), Buffer.from([0xe2, 0xe3, 0xcf, 0xd3, 0x0a])]));
  const offsets: number[] = [];
  objects.forEach((body, i) => {
    offsets.push(offset);
    push(Buffer.from(`${i + 1} 0 obj\n`, 'latin1'));
    push(typeof body === 'string' ? Buffer.from(body, 'latin1') : body);
    push(Buffer.from('\nendobj\n', 'latin1'));
  });
  const xrefAt = offset;
  // Each entry is exactly 20 bytes: 10-digit offset, 5-digit generation, type, two-byte end of line.
  const entries = [
    '0000000000 65535 f\r\n',
    ...offsets.map((o) => `${String(o).padStart(10, '0')} 00000 n\r\n`),
  ];
  push(
    Buffer.from(
      `xref\n0 ${objects.length + 1}\n${entries.join('')}` +
        `trailer\n<< /Size ${objects.length + 1} /Root 1 0 R /Info ${objects.length} 0 R >>\n` +
        `startxref\n${xrefAt}\n%%EOF\n`,
      'latin1',
    ),
  );
  return Buffer.concat(parts);
}
