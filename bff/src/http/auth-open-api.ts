import type { Context, Next } from 'koa';
import { eq } from 'drizzle-orm';
import { hisApps, openApiCalls } from '../db/schema';
import type { Deps } from '../deps';
import { readRawBody } from '../lib/body';
import { AppError, toAppError } from '../lib/errors';
import { spendOpenApiCall } from '../lib/rate-limits';
import { NONCE_PATTERN, verifySignature } from '../modules/his/signature';

/** The HIS app a signed call came from. */
export interface OpenApiCaller {
  appId: string;
  hospitalId: string;
}

declare module 'koa' {
  interface DefaultState {
    hisApp?: OpenApiCaller;
  }
}

interface CachedApp {
  hospitalId: string;
  secret: string;
  enabled: boolean;
  at: number;
}

const APP_CACHE_MS = 30_000;

/** Body limit of `PUT /open/v1/ledgers/:date`. */
export const LEDGER_BODY_LIMIT_BYTES = 64 * 1024 * 1024;

/**
 * Authenticates a signed open-API call (scheme in modules/his/signature.ts): known and enabled app,
 * timestamp within the window, HMAC over method, target, timestamp, nonce and body hash, a nonce never
 * seen before and the app's rate limit (both in PostgreSQL, so the checks hold across every bff process).
 * Also writes the open-API log line for every call, accepted or refused.
 */
export function requireOpenApiSignature(deps: Deps) {
  const cache = new Map<string, CachedApp>();
  async function loadApp(appId: string): Promise<CachedApp | undefined> {
    const hit = cache.get(appId);
    if (hit && Date.now() - hit.at < APP_CACHE_MS) return hit;
    const [row] = await deps.db.select().from(hisApps).where(eq(hisApps.appId, appId));
    if (!row) return undefined;
    const app = {
      hospitalId: row.hospitalId,
      secret: deps.secrets.open(row.secretEnc),
      enabled: row.enabled,
      at: Date.now(),
    };
    cache.set(appId, app);
    return app;
  }

  return async (ctx: Context, next: Next) => {
    const started = Date.now();
    const appId = ctx.get('x-app-id');
    let hospitalId: string | null = null;
    let status = 500;
    let errorCode: string | null = null;
    try {
      const timestamp = ctx.get('x-timestamp');
      const nonce = ctx.get('x-nonce');
      const signature = ctx.get('x-signature');
      if (!appId || !timestamp || !nonce || !signature) {
        throw new AppError(
          'unauthorized',
          'X-App-Id, X-Timestamp, X-Nonce and X-Signature headers are required',
        );
      }
      if (!NONCE_PATTERN.test(nonce))
        throw new AppError('unauthorized', 'X-Nonce must be 16–64 characters of [0-9A-Za-z_-]');
      const app = await loadApp(appId);
      if (!app || !app.enabled) throw new AppError('unauthorized', 'unknown or disabled app id');
      hospitalId = app.hospitalId;
      const ts = Number(timestamp);
      const skew = Math.abs(deps.clock.now().getTime() / 1000 - ts);
      if (!/^\d{9,11}$/.test(timestamp) || skew > deps.config.openApiWindowSeconds) {
        throw new AppError(
          'timestamp_out_of_window',
          `X-Timestamp must be unix seconds within ${deps.config.openApiWindowSeconds} s of our clock`,
        );
      }
      // A day's HIS ledger (up to MAX_LEDGER_LINES records) is the one large body the HIS sends.
      const limit =
        ctx.method === 'PUT' && /^\/open\/v1\/ledgers\/[^/]+$/.test(ctx.path)
          ? LEDGER_BODY_LIMIT_BYTES
          : deps.config.bodyLimitBytes;
      ctx.rawBody = await readRawBody(ctx, limit);
      if (
        !verifySignature(app.secret, signature, ctx.method, ctx.originalUrl, timestamp, nonce, ctx.rawBody)
      ) {
        throw new AppError(
          'invalid_signature',
          'signature does not match (see the signing scheme in the open API document)',
        );
      }
      // Only a correctly signed call may spend a nonce and the app's budget (shared by every bff process),
      // so nobody else can drain it.
      const spent = await spendOpenApiCall(deps.db, appId, nonce, {
        ratePerSecond: deps.config.openApiRatePerSecond,
        burst: deps.config.openApiRateBurst,
      });
      if (spent === 'rate_limited') {
        ctx.set('Retry-After', '1');
        throw new AppError(
          'rate_limited',
          `more than ${deps.config.openApiRatePerSecond} requests per second from this app; slow down`,
        );
      }
      if (spent === 'replayed') throw new AppError('nonce_replayed', 'this nonce was already used');
      ctx.state.hisApp = { appId, hospitalId: app.hospitalId };
      await next();
      status = ctx.status;
      errorCode = (ctx.body as { error?: { code?: string } } | undefined)?.error?.code ?? null;
    } catch (e) {
      const ae = toAppError(e);
      status = ae.status;
      errorCode = ae.code;
      throw e;
    } finally {
      void deps.db
        .insert(openApiCalls)
        .values({
          appId: appId || null,
          hospitalId,
          method: ctx.method,
          path: ctx.path.slice(0, 300),
          httpStatus: status,
          errorCode,
          latencyMs: Date.now() - started,
          ip: ctx.ip,
          requestId: ctx.requestId,
        })
        .catch((e: Error) => ctx.log.warn({ err: { message: e.message } }, 'open-api log write failed'));
    }
  };
}
