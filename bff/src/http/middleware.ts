import { randomUUID } from 'node:crypto';
import type { Context, Next } from 'koa';
import type { Logger } from '../lib/logger';
import { toAppError } from '../lib/errors';
import type { Metrics } from './metrics';

declare module 'koa' {
  interface DefaultContext {
    log: Logger;
    requestId: string;
  }
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
        const cause = (e.cause ?? err) as { message?: string; code?: string; stack?: string };
        ctx.log.error(
          { code: e.code, cause: { message: cause?.message, code: cause?.code, stack: cause?.stack } },
          'request failed',
        );
      }
      ctx.status = e.status;
      ctx.body = {
        error: {
          code: e.code,
          message: e.expose ? e.message : e.code === 'internal_error' ? 'internal error' : e.message,
          requestId: ctx.requestId,
        },
      };
    }
  };
}
