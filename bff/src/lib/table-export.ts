import { once } from 'node:events';
import { PassThrough } from 'node:stream';
import { fenToYuan } from '@hp/shared';
import ExcelJS from 'exceljs';
import type { Context } from 'koa';

/**
 * Tables as downloadable files — Excel (.xlsx, streamed) or CSV (UTF-8 with a BOM, so Excel opens Chinese
 * text correctly) — written row by row into the HTTP response as they are read: a long range never sits in
 * memory. Money columns take integer fen and come out in yuan, converted by string arithmetic
 * (`fenToYuan`); each table can end with a totals row summed in fen.
 */
export type ExportFormat = 'xlsx' | 'csv';
export const EXPORT_FORMATS = ['xlsx', 'csv'] as const;

/** One column of an exported table. */
export interface ExportColumn<T> {
  header: string;
  /** Excel column width in characters. */
  width?: number;
  /**
   * Integer fen, shown in yuan (an Excel number with two decimals; "12.34" in CSV) and summed in the totals
   * row. The value `null` prints {@link nullText}; `undefined` leaves the cell empty (not applicable).
   */
  money?: boolean;
  /** A count, summed in the totals row. */
  count?: boolean;
  /** What a `null` money value prints (e.g. 未获取, "not obtained"). */
  nullText?: string;
  value(row: T): string | number | null | undefined;
}

/** A table being written: rows go out as they are added. */
export interface TableWriter<T> {
  row(r: T): void;
  /** Yields while the client reads slower than rows are produced; throws when the client went away. */
  flush(): Promise<void>;
  /** Ends the table, with a totals row labelled `label(rows)` unless `label` is null. */
  end(label?: ((rows: number) => string) | null): Promise<void>;
}

/** An export file: one table (CSV) or several sheets (Excel). */
export interface ExportFile {
  readonly format: ExportFormat;
  table<T>(sheetName: string, columns: readonly ExportColumn<T>[]): TableWriter<T>;
  close(): Promise<void>;
}

const MONEY_FORMAT = '#,##0.00';

/** Totals of the money and count columns, in fen and units (null where every value was null). */
class Totals<T> {
  private sums: (number | null | undefined)[];
  rows = 0;
  constructor(private readonly columns: readonly ExportColumn<T>[]) {
    this.sums = columns.map(() => undefined);
  }
  add(values: readonly (string | number | null | undefined)[]) {
    this.rows++;
    this.columns.forEach((c, i) => {
      const v = values[i];
      if (!(c.money || c.count)) return;
      if (typeof v === 'number') this.sums[i] = (this.sums[i] ?? 0) + v;
      else if (v === null && this.sums[i] === undefined) this.sums[i] = null;
    });
  }
  /** The totals row's values: the label, then the sums. */
  values(label: string): (string | number | null | undefined)[] {
    return this.columns.map((c, i) => (i === 0 ? label : c.money || c.count ? this.sums[i] : undefined));
  }
}

function csvCell(c: ExportColumn<unknown>, v: string | number | null | undefined): string {
  if (v === undefined) return '';
  if (v === null) return c.nullText ?? '';
  const text = c.money && typeof v === 'number' ? fenToYuan(v) : String(v);
  // A text starting like a formula is defused so a spreadsheet shows it instead of running it (CSV injection).
  const safe = !c.money && !c.count && /^[=+\-@\t\r]/.test(text) ? `'${text}` : text;
  return /[",\r\n]/.test(safe) ? `"${safe.replaceAll('"', '""')}"` : safe;
}

async function drain(out: PassThrough): Promise<void> {
  if (out.destroyed) throw new Error('the client went away');
  if (out.writableNeedDrain) await Promise.race([once(out, 'drain'), once(out, 'close')]);
  else await new Promise((r) => setImmediate(r)); // let the zip and the socket move on
  if (out.destroyed) throw new Error('the client went away');
}

function csvFile(out: PassThrough): ExportFile {
  let used = false;
  return {
    format: 'csv',
    table<T>(_sheet: string, columns: readonly ExportColumn<T>[]): TableWriter<T> {
      if (used) throw new Error('a CSV file holds one table');
      used = true;
      const cols = columns as readonly ExportColumn<unknown>[];
      const totals = new Totals(columns);
      const line = (values: readonly (string | number | null | undefined)[]) =>
        out.write(`${values.map((v, i) => csvCell(cols[i]!, v)).join(',')}\r\n`);
      out.write('\uFEFF');
      out.write(`${columns.map((c) => csvCell({ header: '', value: () => null }, c.header)).join(',')}\r\n`);
      return {
        row(r) {
          const values = columns.map((c) => c.value(r));
          totals.add(values);
          line(values);
        },
        flush: () => drain(out),
        async end(label = () => '合计') {
          if (label) line(totals.values(label(totals.rows)));
        },
      };
    },
    async close() {
      out.end();
    },
  };
}

function xlsxFile(out: PassThrough): ExportFile {
  // Inline strings and no shared-strings table: nothing grows with the number of rows.
  const wb = new ExcelJS.stream.xlsx.WorkbookWriter({
    stream: out,
    useStyles: true,
    useSharedStrings: false,
  });
  wb.creator = '医院统一支付平台';
  wb.created = new Date();
  let open: ExcelJS.Worksheet | undefined;
  return {
    format: 'xlsx',
    table<T>(sheetName: string, columns: readonly ExportColumn<T>[]): TableWriter<T> {
      // Sheets go into the zip one after the other: the previous one must be committed first.
      if (open) throw new Error('end the previous sheet first');
      const ws = wb.addWorksheet(sheetName, { views: [{ state: 'frozen', ySplit: 1 }] });
      open = ws;
      ws.columns = columns.map((c, i) => ({
        header: c.header,
        key: String(i),
        width: c.width ?? (c.money ? 14 : 12),
        style: c.money ? { numFmt: MONEY_FORMAT } : {},
      }));
      ws.getRow(1).font = { bold: true };
      const totals = new Totals(columns);
      const cells = (values: readonly (string | number | null | undefined)[]) =>
        values.map((v, i) => {
          const c = columns[i]!;
          if (v === undefined) return null;
          if (v === null) return c.nullText ?? null;
          // Yuan from fen by string arithmetic; Excel then holds the nearest double, shown with two decimals.
          return c.money && typeof v === 'number' ? Number(fenToYuan(v)) : v;
        });
      return {
        row(r) {
          const values = columns.map((c) => c.value(r));
          totals.add(values);
          ws.addRow(cells(values)).commit();
        },
        flush: () => drain(out),
        async end(label = () => '合计') {
          if (label) {
            const row = ws.addRow(cells(totals.values(label(totals.rows))));
            row.font = { bold: true };
            row.commit();
          }
          ws.commit();
          open = undefined;
          await drain(out);
        },
      };
    },
    async close() {
      await wb.commit();
    },
  };
}

/**
 * `Content-Disposition: attachment` with an ASCII fallback name and the real (Chinese) name in RFC 5987
 * `filename*`, which every current browser prefers.
 */
export function contentDisposition(name: string, asciiFallback: string): string {
  const fallback = asciiFallback.replace(/[^A-Za-z0-9._-]/g, '_');
  const encoded = encodeURIComponent(name).replace(
    /['()*]/g,
    (ch) => `%${ch.charCodeAt(0).toString(16).toUpperCase()}`,
  );
  return `attachment; filename="${fallback}"; filename*=UTF-8''${encoded}`;
}

/**
 * Starts a download on a Koa response: sets the headers and returns the stream for `ctx.body`; `write`
 * fills the file in the background. Anything that can be refused (bad input, no permission, nothing
 * found) must be checked before calling this, while an error can still be a JSON reply; a failure after
 * the first bytes cuts the download short (a truncated file, never a file that looks complete).
 */
export function sendExportFile(
  ctx: Context,
  file: { format: ExportFormat; name: string; asciiName: string },
  write: (f: ExportFile) => Promise<void>,
): PassThrough {
  const out = new PassThrough();
  ctx.set(
    'Content-Type',
    file.format === 'xlsx'
      ? 'application/vnd.openxmlformats-officedocument.spreadsheetml.sheet'
      : 'text/csv; charset=utf-8',
  );
  ctx.set(
    'Content-Disposition',
    contentDisposition(`${file.name}.${file.format}`, `${file.asciiName}.${file.format}`),
  );
  ctx.set('Cache-Control', 'no-store');
  const f = file.format === 'xlsx' ? xlsxFile(out) : csvFile(out);
  void (async () => {
    try {
      await write(f);
      await f.close();
    } catch (e) {
      if (!out.destroyed) ctx.log.error({ err: (e as Error).message }, 'export failed while streaming');
      out.destroy(e as Error);
    }
  })();
  return out;
}

/** An instant as Beijing wall time, `YYYY-MM-DD HH:mm:ss`, for exported cells. */
export function beijingTime(at: Date | null | undefined): string | undefined {
  if (!at) return undefined;
  return new Date(at.getTime() + 8 * 3_600_000).toISOString().slice(0, 19).replace('T', ' ');
}
