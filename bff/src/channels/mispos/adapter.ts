import { z } from 'zod';
import { isBillDate, statementFailure } from '../statement';
import type { OutboundRecorder, StatementOutput } from '../types';
import { parseTerminalStatement } from './terminal-statement';

/**
 * Where a hospital's MISPOS acquirer delivers its terminal statement (hospitals.settings.mispos). The HIS
 * drives the bank terminals at the windows and kiosks; the acquiring bank settles them and publishes one
 * statement per merchant number and day (format: terminal-statement.ts).
 */
export const MisposSettingsSchema = z
  .object({
    /** The acquiring bank, for people (收单机构: 中国工商银行…). */
    acquirer: z.string().trim().min(1).max(64),
    /** The acquirer merchant number (商户号) the terminals settle under; the statement must name it. */
    merchantNo: z.string().regex(/^[0-9A-Za-z]{6,32}$/, '6–32 letters or digits'),
    /** The merchant name the acquirer prints, for people. */
    merchantName: z.string().max(100).optional(),
    statement: z
      .object({
        /**
         * The statement file's URL on the acquirer's (or the hospital's file-exchange) server, with
         * `{merchantNo}` and `{date}` (YYYY-MM-DD) or `{yyyymmdd}` filled in per day. https in production.
         */
        url: z
          .url()
          .refine(
            (u) => u.includes('{date}') || u.includes('{yyyymmdd}'),
            'must contain {date} or {yyyymmdd}',
          ),
        /** Beijing hour of the day after the settlement day from which the file is due (default 9). */
        publishHour: z.number().int().min(0).max(23).default(9),
      })
      .strict(),
  })
  .strict();
export type MisposSettings = z.infer<typeof MisposSettingsSchema>;

/** Largest terminal statement we accept. */
const MAX_FILE_BYTES = 50 * 1024 * 1024;

/**
 * The acquirer's terminal statement source: one GET of the day's file (no redirects, bounded in time and
 * size), then the parser's checks (header and trailer totals, merchant, day). A file not there yet is
 * PENDING (the daily job asks again); a transport failure is UNKNOWN; a file that does not add up is FAIL.
 * Every download is in the interface log (party `mispos`).
 */
export class MisposStatementSource {
  readonly name = 'mispos';

  constructor(
    private readonly settings: MisposSettings,
    private readonly opts: { timeoutMs: number; production: boolean; record?: OutboundRecorder },
  ) {
    if (opts.production && !settings.statement.url.startsWith('https://'))
      throw new Error('MISPOS statement url must be https:// in production');
  }

  /** The statement's URL for a day. */
  urlFor(billDate: string): string {
    return this.settings.statement.url
      .replaceAll('{merchantNo}', encodeURIComponent(this.settings.merchantNo))
      .replaceAll('{date}', billDate)
      .replaceAll('{yyyymmdd}', billDate.replaceAll('-', ''));
  }

  async downloadStatement(billDate: string): Promise<StatementOutput> {
    if (!isBillDate(billDate))
      return {
        result: 'FAIL',
        errorCode: 'PARAM_ERROR',
        errorMessage: `bill date ${billDate} is not YYYY-MM-DD`,
      };
    const url = this.urlFor(billDate);
    const logged = url.replace(/\?.*$/, '');
    const started = Date.now();
    const record = (r: {
      httpStatus?: number;
      result: StatementOutput['result'];
      errorCode?: string;
      errorMessage?: string;
      bytes?: number;
    }) =>
      this.opts.record?.({
        party: this.name,
        operation: 'statement_download',
        method: 'GET',
        url: logged,
        httpStatus: r.httpStatus,
        latencyMs: Date.now() - started,
        result: r.result,
        errorCode: r.errorCode,
        errorMessage: r.errorMessage,
        request: { billDate, merchantNo: this.settings.merchantNo },
        response: r.bytes === undefined ? undefined : { bytes: r.bytes },
      });
    let file: Buffer;
    try {
      const res = await fetch(url, {
        signal: AbortSignal.timeout(this.opts.timeoutMs * 6),
        redirect: 'error',
      });
      if (res.status === 404) {
        await res.arrayBuffer().catch(() => undefined);
        const out: StatementOutput = {
          result: 'PENDING',
          errorCode: 'STATEMENT_NOT_READY',
          errorMessage: `the ${this.settings.acquirer} terminal statement of ${billDate} is not published yet`,
        };
        record({ httpStatus: 404, ...out });
        return out;
      }
      if (res.status !== 200) {
        await res.arrayBuffer().catch(() => undefined);
        const out: StatementOutput = {
          result: 'UNKNOWN',
          errorCode: `HTTP_${res.status}`,
          errorMessage: `the statement server answered ${res.status}`,
        };
        record({ httpStatus: res.status, ...out });
        return out;
      }
      if (Number(res.headers.get('content-length') ?? 0) > MAX_FILE_BYTES)
        throw Object.assign(new Error('statement file too large'), { code: 'TOO_LARGE' });
      file = Buffer.from(await res.arrayBuffer());
      if (file.length > MAX_FILE_BYTES)
        throw Object.assign(new Error('statement file too large'), { code: 'TOO_LARGE' });
      record({ httpStatus: 200, result: 'SUCCESS', bytes: file.length });
    } catch (e) {
      const err = e as { code?: string; name?: string; message?: string };
      const errorCode = err.code ?? (err.name === 'TimeoutError' ? 'TIMEOUT' : 'NETWORK_ERROR');
      const out: StatementOutput = { result: 'UNKNOWN', errorCode, errorMessage: err.message ?? String(e) };
      record(out);
      return out;
    }
    const parsed = this.parse(file, billDate);
    if (parsed.result !== 'SUCCESS')
      this.opts.record?.({
        party: this.name,
        operation: 'statement_parse',
        method: 'GET',
        url: logged,
        latencyMs: 0,
        result: 'FAIL',
        errorCode: parsed.errorCode,
        errorMessage: parsed.errorMessage,
      });
    return parsed;
  }

  /** A terminal statement file (downloaded or uploaded) through the parser's checks; never throws for a bad file. */
  parseStatementFile(file: Buffer, billDate: string): StatementOutput {
    return this.parse(file, billDate);
  }

  private parse(file: Buffer, billDate: string): StatementOutput {
    try {
      const parsed = parseTerminalStatement(file, { merchantNo: this.settings.merchantNo, billDate });
      return {
        result: 'SUCCESS',
        ...parsed,
        rawFile: file,
        fileName: `MISPOS_${this.settings.merchantNo}_${billDate.replaceAll('-', '')}.txt`,
      };
    } catch (e) {
      return statementFailure(e);
    }
  }
}
