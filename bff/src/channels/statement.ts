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
