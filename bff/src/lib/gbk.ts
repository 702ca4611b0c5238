/**
 * GBK text without a dependency: decoding through the WHATWG decoder Node ships with full ICU, encoding
 * through a table built once from that same decoder (so the two always agree). Alipay's statement files and
 * the names in their zip archives are GBK.
 */
export function decodeGbk(buf: Uint8Array): string {
  return new TextDecoder('gbk', { fatal: true }).decode(buf);
}

let table: Map<string, number> | undefined;

/** Every two-byte GBK code (lead 0x81–0xFE, trail 0x40–0xFE but 0x7F) by the character it decodes to. */
function encodeTable(): Map<string, number> {
  if (table) return table;
  const t = new Map<string, number>();
  const decoder = new TextDecoder('gbk', { fatal: true });
  const pair = new Uint8Array(2);
  for (let lead = 0x81; lead <= 0xfe; lead++) {
    for (let trail = 0x40; trail <= 0xfe; trail++) {
      if (trail === 0x7f) continue;
      pair[0] = lead;
      pair[1] = trail;
      let ch: string;
      try {
        ch = decoder.decode(pair);
      } catch {
        continue; // unassigned code
      }
      if (ch.length === 1 && !t.has(ch)) t.set(ch, (lead << 8) | trail);
    }
  }
  table = t;
  return t;
}

/** Encodes text as GBK; throws on a character GBK cannot represent. */
export function encodeGbk(text: string): Buffer {
  const out: number[] = [];
  const t = encodeTable();
  for (const ch of text) {
    const c = ch.codePointAt(0)!;
    if (c < 0x80) {
      out.push(c);
      continue;
    }
    const code = t.get(ch);
    if (code === undefined) throw new RangeError(`character U+${c.toString(16).toUpperCase()} is not in GBK`);
    out.push(code >> 8, code & 0xff);
  }
  return Buffer.from(out);
}
