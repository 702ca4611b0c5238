import { randomUUID } from 'node:crypto';
import type { Context, Next } from 'koa';
import type { Logger } from '../lib/logger';
import { publicDetails, toAppError } from '../lib/errors';
import type { Metrics } from './metrics';

declare module 'koa' {
  interface DefaultContext {
    log: Logger;
    requestId: string;
  }
}

/**
 * What of an unexpected error may be logged. drizzle wraps database errors in an error whose message holds
 * the SQL and every bound parameter (names, patient ids…): log the driver's code and message instead, and a
 * stack only for errors that are not database errors.
 */
function describeCause(err: unknown): Record<string, unknown> {
  const e = err as {
    name?: string;
    message?: string;
    code?: string;
    stack?: string;
    cause?: { code?: string; message?: string };
  };
  if (e?.name === 'DrizzleQueryError' || /^Failed query:/.test(e?.message ?? '')) {
    return { kind: 'database', code: e.cause?.code, message: e.cause?.message?.slice(0, 200) };
  }
  if (typeof e?.code === 'string' && /^[0-9A-Z]{5}$/.test(e.code))
    return { kind: 'database', code: e.code, message: e.message?.slice(0, 200) };
  return {
    name: e?.name,
    message: e?.message?.slice(0, 300),
    stack: e?.stack?.split('\n').slice(0, 6).join('\n'),
  };
}

const REQUEST_ID = /^[0-9A-Za-z._-]{8,64}$/;

/** Request id (taken from X-Request-Id when sane), a child logger, an access log line and the latency metric. */
export function requestContext(log: Logger, metrics: Metrics) {
  return async (ctx: Context, next: Next) => {
    const started = process.hrtime.bigint();
    const given = ctx.get('x-request-id');
    ctx.requestId = REQUEST_ID.test(given) ? given : randomUUID();
    ctx.set('X-Request-Id', ctx.requestId);
    ctx.log = log.child({ reqId: ctx.requestId });
    try {
      await next();
    } finally {
      const seconds = Number(process.hrtime.bigint() - started) / 1e9;
      const route = (ctx as unknown as { _matchedRoute?: string })._matchedRoute ?? 'unmatched';
      metrics.httpDuration.observe(
        { method: ctx.method, route: String(route), status: String(ctx.status) },
        seconds,
      );
      const level = ctx.status >= 500 ? 'error' : ctx.status >= 400 ? 'info' : 'debug';
      ctx.log[level](
        { method: ctx.method, route, status: ctx.status, ms: Math.round(seconds * 1000) },
        'request',
      );
    }
  };
}

/**
 * Maps anything thrown to `{ error: { code, message, requestId } }`. PostgreSQL errors become conflicts or
 * unavailability; anything unknown is logged and hidden as `internal_error`.
 */
export function errorHandler() {
  return async (ctx: Context, next: Next) => {
    try {
      await next();
      if (ctx.status === 404 && ctx.body === undefined) {
        ctx.status = 404;
        ctx.body = {
          error: {
            code: 'not_found',
            message: `no route for ${ctx.method} ${ctx.path}`,
            requestId: ctx.requestId,
          },
        };
      }
    } catch (err) {
      const e = toAppError(err);
      if (e.status >= 500) {
        ctx.log.error({ code: e.code, cause: describeCause(e.cause ?? err) }, 'request failed');
      }
      ctx.status = e.status;
      ctx.body = {
        error: {
          code: e.code,
          ...publicDetails(e),
          message: e.expose ? e.message : e.code === 'internal_error' ? 'internal error' : e.message,
          requestId: ctx.requestId,
        },
      };
    }
  };
}
