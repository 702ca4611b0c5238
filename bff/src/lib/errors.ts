import { ERROR_STATUS, type ErrorCode } from '@hp/shared';

export interface AppErrorOptions {
  /** HTTP status; defaults to the code's status in shared/errors.ts. */
  status?: number;
  /** Whether the message may be shown to the caller (default: true for 4xx, false for 5xx). */
  expose?: boolean;
  /** The underlying error, e.g. the vendor's code and message. Never shown to callers. */
  cause?: unknown;
  /** Extra fields for logs. */
  details?: Record<string, unknown>;
}

/** The one error type of the bff: a closed code, a message for the caller, a status. */
export class AppError extends Error {
  override name = 'AppError';
  readonly code: ErrorCode;
  readonly status: number;
  readonly expose: boolean;
  readonly details?: Record<string, unknown>;

  constructor(code: ErrorCode, message: string, opts: AppErrorOptions = {}) {
    super(message, opts.cause === undefined ? undefined : { cause: opts.cause });
    this.code = code;
    this.status = opts.status ?? ERROR_STATUS[code];
    this.expose = opts.expose ?? this.status < 500;
    this.details = opts.details;
  }
}

export const badRequest = (message: string, opts?: AppErrorOptions) =>
  new AppError('bad_request', message, opts);
export const validationFailed = (message: string) => new AppError('validation_failed', message);
export const unauthorized = (message = 'authentication required') => new AppError('unauthorized', message);
export const forbidden = (message = 'not allowed') => new AppError('forbidden', message);
export const notFound = (what: string) => new AppError('not_found', `${what} not found`);
export const conflict = (message: string, opts?: AppErrorOptions) => new AppError('conflict', message, opts);

/** The details a caller may see: the id of an order the request did create (to poll it). */
export function publicDetails(e: AppError): { orderId?: string } {
  const orderId = e.details?.orderId;
  return typeof orderId === 'string' ? { orderId } : {};
}

/** PostgreSQL error codes we translate (https://www.postgresql.org/docs/current/errcodes-appendix.html). */
const PG_CODES: Record<string, [ErrorCode, string]> = {
  '23505': ['conflict', 'the record already exists'],
  '23503': ['conflict', 'a referenced record does not exist'],
  '40001': ['conflict', 'concurrent update, please retry'],
  '40P01': ['conflict', 'concurrent update, please retry'],
  '57014': ['service_unavailable', 'the database timed out'],
  '53300': ['service_unavailable', 'the database is busy'],
};

/** Maps any thrown value to an AppError; unknown errors become `internal_error` with a generic message. */
export function toAppError(err: unknown): AppError {
  if (err instanceof AppError) return err;
  // drizzle wraps driver errors: the PostgreSQL code is on the error or on its cause.
  const codeOf = (x: unknown) =>
    x && typeof x === 'object' && typeof (x as { code?: unknown }).code === 'string'
      ? (x as { code: string }).code
      : undefined;
  const pgCode = codeOf(err) ?? codeOf((err as { cause?: unknown } | undefined)?.cause);
  if (pgCode && PG_CODES[pgCode]) {
    const [code, message] = PG_CODES[pgCode];
    return new AppError(code, message, { cause: err });
  }
  if (pgCode === 'ECONNREFUSED' || pgCode === '57P01' || pgCode === '08006') {
    return new AppError('service_unavailable', 'the database is unavailable', { cause: err });
  }
  return new AppError('internal_error', 'internal error', { cause: err });
}
