import { crc32, deflateRawSync, inflateRawSync } from 'node:zlib';
import { decodeGbk, encodeGbk } from './gbk';

/**
 * The little of the zip format channels use for statement files (Alipay's daily bill is a zip of GBK CSVs):
 * stored or deflated entries, read through the central directory, CRC-checked. No zip64, no encryption, no
 * multi-disk archives — a file that needs them is refused rather than half read.
 */
export interface ZipEntry {
  name: string;
  data: Buffer;
}

const EOCD = 0x06054b50;
const CENTRAL = 0x02014b50;
const LOCAL = 0x04034b50;
/** Bit 11 of the general-purpose flags: the name is UTF-8. Without it Chinese tools write GBK names. */
const UTF8_FLAG = 0x0800;

export class ZipFormatError extends Error {
  override name = 'ZipFormatError';
}

/**
 * Reads every file entry of a zip archive. `maxEntryBytes` bounds each inflated entry (a zip bomb stops
 * there). Names without the UTF-8 flag are decoded as GBK, as Alipay and Windows tools write them.
 */
export function readZip(buf: Buffer, maxEntryBytes = 256 * 1024 * 1024): ZipEntry[] {
  const minEocd = Math.max(0, buf.length - 22 - 0xffff);
  let eocd = -1;
  for (let i = buf.length - 22; i >= minEocd; i--) {
    if (buf.readUInt32LE(i) === EOCD) {
      eocd = i;
      break;
    }
  }
  if (eocd < 0) throw new ZipFormatError('not a zip archive (no end of central directory)');
  const count = buf.readUInt16LE(eocd + 10);
  const cdSize = buf.readUInt32LE(eocd + 12);
  let p = buf.readUInt32LE(eocd + 16);
  if (count === 0xffff || cdSize === 0xffffffff || p === 0xffffffff)
    throw new ZipFormatError('zip64 archives are not supported');
  if (p + cdSize > eocd) throw new ZipFormatError('central directory out of bounds');
  const entries: ZipEntry[] = [];
  for (let n = 0; n < count; n++) {
    if (p + 46 > buf.length || buf.readUInt32LE(p) !== CENTRAL)
      throw new ZipFormatError('bad central directory entry');
    const flags = buf.readUInt16LE(p + 8);
    const method = buf.readUInt16LE(p + 10);
    const crc = buf.readUInt32LE(p + 16);
    const compressed = buf.readUInt32LE(p + 20);
    const size = buf.readUInt32LE(p + 24);
    const nameLen = buf.readUInt16LE(p + 28);
    const extraLen = buf.readUInt16LE(p + 30);
    const commentLen = buf.readUInt16LE(p + 32);
    const local = buf.readUInt32LE(p + 42);
    const rawName = buf.subarray(p + 46, p + 46 + nameLen);
    let name: string;
    try {
      name = flags & UTF8_FLAG ? rawName.toString('utf8') : decodeGbk(rawName);
    } catch {
      throw new ZipFormatError('an entry name is not GBK text');
    }
    p += 46 + nameLen + extraLen + commentLen;
    if (flags & 0x0001) throw new ZipFormatError(`${name}: encrypted entries are not supported`);
    if (name.endsWith('/')) continue; // a directory
    if (local + 30 > buf.length || buf.readUInt32LE(local) !== LOCAL)
      throw new ZipFormatError(`${name}: bad local header`);
    const start = local + 30 + buf.readUInt16LE(local + 26) + buf.readUInt16LE(local + 28);
    if (start + compressed > buf.length) throw new ZipFormatError(`${name}: data out of bounds`);
    if (size > maxEntryBytes) throw new ZipFormatError(`${name}: larger than ${maxEntryBytes} bytes`);
    const body = buf.subarray(start, start + compressed);
    let data: Buffer;
    if (method === 0) data = Buffer.from(body);
    else if (method === 8) {
      try {
        data = inflateRawSync(body, { maxOutputLength: Math.max(size, 1) });
      } catch (e) {
        throw new ZipFormatError(`${name}: does not inflate (${(e as Error).message})`);
      }
    } else throw new ZipFormatError(`${name}: compression method ${method} is not supported`);
    if (data.length !== size || crc32(data) >>> 0 !== crc)
      throw new ZipFormatError(`${name}: size or CRC does not match`);
    entries.push({ name, data });
  }
  return entries;
}

/** DOS date and time fields of a Date (local wall clock, as zip tools write it). */
function dosTime(d: Date): { time: number; date: number } {
  return {
    time: (d.getHours() << 11) | (d.getMinutes() << 5) | Math.floor(d.getSeconds() / 2),
    date: ((d.getFullYear() - 1980) << 9) | ((d.getMonth() + 1) << 5) | d.getDate(),
  };
}

/**
 * Writes a deflated zip archive. `names: 'gbk'` writes names in GBK without the UTF-8 flag, as Alipay's
 * bill archives do; `'utf8'` sets the flag. Used by the sandbox to serve statement files.
 */
export function writeZip(entries: ZipEntry[], opts: { names?: 'gbk' | 'utf8'; at?: Date } = {}): Buffer {
  const { time, date } = dosTime(opts.at ?? new Date());
  const locals: Buffer[] = [];
  const centrals: Buffer[] = [];
  let offset = 0;
  for (const e of entries) {
    const name = opts.names === 'utf8' ? Buffer.from(e.name, 'utf8') : encodeGbk(e.name);
    const flags = opts.names === 'utf8' ? UTF8_FLAG : 0;
    const body = deflateRawSync(e.data);
    const crc = crc32(e.data) >>> 0;
    const local = Buffer.alloc(30);
    local.writeUInt32LE(LOCAL, 0);
    local.writeUInt16LE(20, 4);
    local.writeUInt16LE(flags, 6);
    local.writeUInt16LE(8, 8);
    local.writeUInt16LE(time, 10);
    local.writeUInt16LE(date, 12);
    local.writeUInt32LE(crc, 14);
    local.writeUInt32LE(body.length, 18);
    local.writeUInt32LE(e.data.length, 22);
    local.writeUInt16LE(name.length, 26);
    const central = Buffer.alloc(46);
    central.writeUInt32LE(CENTRAL, 0);
    central.writeUInt16LE(20, 4);
    central.writeUInt16LE(20, 6);
    central.writeUInt16LE(flags, 8);
    central.writeUInt16LE(8, 10);
    central.writeUInt16LE(time, 12);
    central.writeUInt16LE(date, 14);
    central.writeUInt32LE(crc, 16);
    central.writeUInt32LE(body.length, 20);
    central.writeUInt32LE(e.data.length, 24);
    central.writeUInt16LE(name.length, 28);
    central.writeUInt32LE(offset, 42);
    locals.push(local, name, body);
    centrals.push(central, name);
    offset += local.length + name.length + body.length;
  }
  const cd = Buffer.concat(centrals);
  const end = Buffer.alloc(22);
  end.writeUInt32LE(EOCD, 0);
  end.writeUInt16LE(entries.length, 8);
  end.writeUInt16LE(entries.length, 10);
  end.writeUInt32LE(cd.length, 12);
  end.writeUInt32LE(offset, 16);
  return Buffer.concat([...locals, cd, end]);
}
