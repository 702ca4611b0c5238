import { createHash } from 'node:crypto';
import { and, eq, sql } from 'drizzle-orm';
import type { Context, Next } from 'koa';
import { idempotencyKeys } from '../db/schema';
import type { Deps } from '../deps';
import { readRawBody } from '../lib/body';
import { AppError, conflict, publicDetails, toAppError } from '../lib/errors';

const KEY_PATTERN = /^[\x21-\x7e]{8,64}$/;

/**
 * Answers that say "not now" rather than "no": not stored, so a retry with the same key runs again.
 * (`conflict` covers deadlocks and serialisation failures; a bill held by a live order may be freed.)
 */
const RETRYABLE = new Set([
  'conflict',
  'refund_in_progress',
  'bill_locked',
  'rate_limited',
  'service_unavailable',
  'internal_error',
]);

/**
 * How long a claim may stay IN_PROGRESS before it counts as abandoned: longer than any write route runs (a few
 * channel calls, each cut off after OUTBOUND_TIMEOUT_MS). A process killed mid-request leaves its claim behind;
 * without this the key could never be used again and the caller would be told "in progress" for a day.
 */
export function claimLeaseSeconds(outboundTimeoutMs: number): number {
  return Math.max(60, Math.ceil((4 * outboundTimeoutMs) / 1000));
}

/**
 * `Idempotency-Key` for a write route. The first request with a key runs and its response (success or a
 * 4xx) is stored; a repeat with the same method, path and body gets the stored response with
 * `Idempotent-Replayed: true`; a repeat with a different request is refused (409), as is one that arrives
 * while the first is still running — unless that claim is older than {@link claimLeaseSeconds}: its process
 * died, and the repeat runs in its place. A 5xx is not stored, so the caller may retry. Works across processes:
 * the record is a row in PostgreSQL.
 */
export function idempotent(deps: Deps, scopeOf: (ctx: Context) => string) {
  return async (ctx: Context, next: Next) => {
    const key = ctx.get('idempotency-key');
    if (!key) return next();
    if (!KEY_PATTERN.test(key))
      throw new AppError('bad_request', 'Idempotency-Key must be 8–64 printable ASCII characters');
    ctx.rawBody ??= await readRawBody(ctx, deps.config.bodyLimitBytes);
    const requestHash = createHash('sha256')
      .update(`${ctx.method}\n${ctx.path}\n${ctx.rawBody}`)
      .digest('hex');
    const scope = scopeOf(ctx);
    const where = and(eq(idempotencyKeys.scope, scope), eq(idempotencyKeys.key, key));

    // A claim of the same request abandoned by a dead process (older than the lease) is taken over: the
    // request runs again, and the route's own rules (one live order per bill, one refund per HIS refund
    // number) keep that from doing anything twice.
    const lease = claimLeaseSeconds(deps.config.outboundTimeoutMs);
    const claimed = await deps.db
      .insert(idempotencyKeys)
      .values({ scope, key, requestHash, status: 'IN_PROGRESS' })
      .onConflictDoUpdate({
        target: [idempotencyKeys.scope, idempotencyKeys.key],
        set: { createdAt: sql`now()` },
        setWhere: sql`${idempotencyKeys.status} = 'IN_PROGRESS' AND ${idempotencyKeys.requestHash} = ${requestHash}
          AND ${idempotencyKeys.createdAt} < now() - make_interval(secs => ${lease})`,
      })
      .returning({ key: idempotencyKeys.key });
    if (claimed.length === 0) {
      const [prior] = await deps.db.select().from(idempotencyKeys).where(where);
      if (!prior) throw conflict('a request with this Idempotency-Key just ended; retry');
      if (prior.requestHash !== requestHash)
        throw conflict('Idempotency-Key was already used for a different request');
      if (prior.status !== 'DONE') throw conflict('a request with this Idempotency-Key is still in progress');
      ctx.status = prior.responseStatus ?? 200;
      ctx.body = prior.responseBody;
      ctx.set('Idempotent-Replayed', 'true');
      return;
    }

    try {
      await next();
    } catch (e) {
      const err = toAppError(e);
      // channel_unavailable comes after the order was committed: the stored answer names it, and a retry
      // with the same key gets it again instead of a misleading bill_locked.
      if (!RETRYABLE.has(err.code) && (err.status < 500 || err.code === 'channel_unavailable')) {
        await deps.db
          .update(idempotencyKeys)
          .set({
            status: 'DONE',
            responseStatus: err.status,
            responseBody: { error: { code: err.code, message: err.message, ...publicDetails(err) } },
          })
          .where(where);
      } else {
        await deps.db.delete(idempotencyKeys).where(where);
      }
      throw e;
    }
    if (ctx.status >= 500) {
      await deps.db.delete(idempotencyKeys).where(where);
      return;
    }
    await deps.db
      .update(idempotencyKeys)
      .set({ status: 'DONE', responseStatus: ctx.status, responseBody: ctx.body as unknown })
      .where(where);
  };
}
