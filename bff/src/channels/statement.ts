import { yuanToFen } from '@hp/shared';
import type { OutboundRecorder, StatementLine, StatementOutput, StatementTotals } from './types';

/**
 * What the statement parsers share: the error they throw, totals from lines, and the edge conversions
 * (Beijing wall-clock times, yuan strings) done without floating point.
 */

/** Why a downloaded statement was not accepted. Each is a FAIL with this errorCode, never a partial result. */
export type StatementErrorCode = 'STATEMENT_FORMAT' | 'STATEMENT_INCONSISTENT' | 'STATEMENT_HASH_MISMATCH';

export class StatementError extends Error {
  override name = 'StatementError';
  constructor(
    readonly code: StatementErrorCode,
    message: string,
  ) {
    super(message);
  }
}

/** A parsed statement: lines in our terms and totals that agree with the file's own summary. */
export interface ParsedStatement {
  lines: StatementLine[];
  totals: StatementTotals;
}

/** Totals of a set of lines; `feeFen` is net: fees charged on payments less fees returned with refunds. */
export function totalsOf(lines: readonly StatementLine[]): StatementTotals {
  const t: StatementTotals = { paymentCount: 0, paymentFen: 0, refundCount: 0, refundFen: 0, feeFen: 0 };
  for (const l of lines) {
    if (l.kind === 'PAYMENT') {
      t.paymentCount++;
      t.paymentFen += l.amountFen;
      t.feeFen += l.feeFen;
    } else {
      t.refundCount++;
      t.refundFen += l.amountFen;
      t.feeFen -= l.feeFen;
    }
  }
  return t;
}

/** The rows of a text file: a leading byte-order mark dropped, CRLF or LF, trailing empty lines dropped. */
export function textRows(text: string): string[] {
  const rows = (text.charCodeAt(0) === 0xfeff ? text.slice(1) : text).split(/\r?\n/);
  while (rows.length && rows[rows.length - 1] === '') rows.pop();
  return rows;
}

/** A row split into exactly `N` cells (its length checked by the parser), to destructure without `!`. */
export type Cells<N extends number, Acc extends string[] = []> = Acc['length'] extends N
  ? Acc
  : Cells<N, [...Acc, string]>;

/** A count cell: a whole number of at most nine digits. */
export function countCell(s: string, what: string): number {
  if (!/^\d{1,9}$/.test(s)) throw new StatementError('STATEMENT_FORMAT', `${what}: not a count: ${s}`);
  return Number(s);
}

/** One figure of a file's own summary: its name, what the file states, what its lines add up to. */
export type SummaryFigure = readonly [name: string, stated: number, counted: number];

/**
 * Refuses a file whose own summary (header, trailer, footer) disagrees with its lines: STATEMENT_INCONSISTENT,
 * `<subject>: <name> <stated> ≠ <counted>, …` for every figure that is off.
 */
export function checkSummary(subject: string, figures: readonly SummaryFigure[]): void {
  const off = figures.filter(([, stated, counted]) => stated !== counted);
  if (off.length)
    throw new StatementError(
      'STATEMENT_INCONSISTENT',
      `${subject}: ${off.map(([name, stated, counted]) => `${name} ${stated} ≠ ${counted}`).join(', ')}`,
    );
}

/** {@link checkSummary} of the stated and counted totals, key by key; `names` labels a key (default: the key). */
export function checkTotals<K extends string>(
  subject: string,
  stated: Record<K, number>,
  counted: Record<K, number>,
  names?: Record<K, string>,
): void {
  checkSummary(
    subject,
    (Object.keys(stated) as K[]).map((k) => [names?.[k] ?? k, stated[k], counted[k]] as const),
  );
}

/** `yyyy-MM-dd HH:mm:ss` in Beijing time, as both channels print it. */
export function beijingDateTime(s: string, what: string): Date {
  const m = /^(\d{4}-\d{2}-\d{2}) (\d{2}:\d{2}:\d{2})$/.exec(s);
  const d = m ? new Date(`${m[1]}T${m[2]}+08:00`) : undefined;
  if (!d || Number.isNaN(d.getTime()))
    throw new StatementError('STATEMENT_FORMAT', `${what}: not a time: ${s}`);
  return d;
}

/** A signed yuan string with at most two decimals, as fen; a format error names the cell. */
export function yuanCell(s: string, what: string): number {
  try {
    return yuanToFen(s);
  } catch {
    throw new StatementError('STATEMENT_FORMAT', `${what}: not a yuan amount: ${JSON.stringify(s)}`);
  }
}

/**
 * A fee cell: WeChat prints fees with five decimals ("0.32000", "-0.27000") although every fee is a whole
 * fen (rounded per transaction). Digits past the second decimal must be zeros; anything else is refused
 * rather than rounded here. [U] the five-decimal scale is what published bills show; any scale is accepted.
 */
export function feeCell(s: string, what: string): number {
  const m = /^(-?\d+(?:\.\d{1,2})?)(?:(?<=\.\d\d)0*)?$/.exec(s);
  if (!m) throw new StatementError('STATEMENT_FORMAT', `${what}: not a whole-fen fee: ${JSON.stringify(s)}`);
  return yuanCell(m[1]!, what);
}

/**
 * The output for a statement that failed to parse or verify, recorded in the interface log as a failed
 * `statement_parse` of the file at `url` (the download itself was logged as a success). Anything else rethrows.
 */
export function statementFailure(
  e: unknown,
  log?: { record: OutboundRecorder; party: string; url: string },
): Pick<StatementOutput, 'result' | 'errorCode' | 'errorMessage'> {
  if (!(e instanceof StatementError)) throw e;
  log?.record({
    party: log.party,
    operation: 'statement_parse',
    method: 'GET',
    url: log.url,
    latencyMs: 0,
    result: 'FAIL',
    errorCode: e.code,
    errorMessage: e.message,
  });
  return { result: 'FAIL', errorCode: e.code, errorMessage: e.message };
}

/** `YYYY-MM-DD` and a real calendar day. */
export function isBillDate(s: string): boolean {
  if (!/^\d{4}-\d{2}-\d{2}$/.test(s)) return false;
  const d = new Date(`${s}T00:00:00Z`);
  return !Number.isNaN(d.getTime()) && d.toISOString().slice(0, 10) === s;
}
