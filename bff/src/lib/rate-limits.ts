import { randomBytes } from 'node:crypto';
import { sql } from 'drizzle-orm';
import type { Db } from '../db/client';

/**
 * Rate limits that hold across every bff process: the state lives in PostgreSQL, and each check-and-count runs
 * in one short transaction under a transaction-level advisory lock on the limited key, so two processes
 * cannot both take the last slot. No table of their own (yet): each limit counts rows of a table that already
 * records the events it limits — see docs/operations.md ("Rate limits") for the dedicated table to move to.
 */

/** Advisory-lock namespaces (the two-int form; the migration lock uses the single-bigint form). */
const LOCK_OPEN_API = 7263101;
const LOCK_CARD_BIND = 7263102;

type Rows<T> = { rows: T[] };

/** What spending an open-API call's nonce gave. */
export type OpenApiSpend = 'ok' | 'replayed' | 'rate_limited';

/**
 * An accepted signed open-API call spends its nonce and one unit of its app's budget, in one step. Every
 * accepted call stores exactly one nonce (`open_api_nonces`, kept twice the signature window), so the app's
 * recent nonces are the log of its recent calls: at most `burst` in any second and `ratePerSecond × 10` in any
 * ten seconds, across all processes. A limited call does not spend its nonce; a replayed nonce spends nothing.
 */
export async function spendOpenApiCall(
  db: Db,
  appId: string,
  nonce: string,
  limits: { ratePerSecond: number; burst: number },
): Promise<OpenApiSpend> {
  return db.transaction(async (tx) => {
    await tx.execute(sql`SELECT pg_advisory_xact_lock(${LOCK_OPEN_API}, hashtext(${appId}))`);
    // A new statement, so a new snapshot: it sees every call committed by whoever held the lock before us.
    const res = (await tx.execute(sql`
      WITH recent AS (
        SELECT count(*) FILTER (WHERE created_at > clock_timestamp() - interval '1 second')::int AS last1,
               count(*)::int AS last10
        FROM open_api_nonces
        WHERE created_at > clock_timestamp() - interval '10 seconds' AND app_id = ${appId}
      ), spent AS (
        INSERT INTO open_api_nonces (app_id, nonce)
        SELECT ${appId}, ${nonce} FROM recent
        WHERE recent.last1 < ${limits.burst} AND recent.last10 < ${limits.ratePerSecond * 10}
        ON CONFLICT DO NOTHING
        RETURNING 1
      )
      SELECT (SELECT last1 FROM recent) AS last1, (SELECT last10 FROM recent) AS last10,
             (SELECT count(*)::int FROM spent) AS spent`)) as unknown as Rows<{
      last1: number;
      last10: number;
      spent: number;
    }>;
    const r = res.rows[0]!;
    if (r.spent === 1) return 'ok';
    if (r.last1 >= limits.burst || r.last10 >= limits.ratePerSecond * 10) return 'rate_limited';
    return 'replayed';
  });
}

/**
 * Failed attempts of an account in a sliding window (card binding: a wrong name or an unknown card number),
 * shared by every process. An attempt reserves its slot before the outside call is made and keeps it only if
 * the attempt fails in a way that counts ({@link AttemptSlot.release} otherwise), so concurrent attempts
 * cannot overrun the limit and a process killed mid-attempt errs on the side of counting it.
 *
 * Stored as rows of `idempotency_keys` under the scope `limit:card-bind:<accountId>` (the table is keyed by
 * scope and purged after a day; the Idempotency-Key middleware never reads these scopes).
 */
export interface AttemptSlot {
  /** The attempt did not count (it succeeded, or failed for a reason that is not the caller's). */
  release(): Promise<void>;
}

export async function reserveCardBindAttempt(
  db: Db,
  accountId: string,
  limit: number,
  windowMs: number,
): Promise<{ retryAfterSeconds: number } | AttemptSlot> {
  const scope = `limit:card-bind:${accountId}`;
  const key = randomBytes(12).toString('base64url');
  const windowSecs = windowMs / 1000;
  const reserved = await db.transaction(async (tx) => {
    await tx.execute(sql`SELECT pg_advisory_xact_lock(${LOCK_CARD_BIND}, hashtext(${accountId}))`);
    const recent = (await tx.execute(sql`
      SELECT extract(epoch FROM created_at + make_interval(secs => ${windowSecs}) - clock_timestamp()) AS left_s
      FROM idempotency_keys
      WHERE scope = ${scope} AND created_at > clock_timestamp() - make_interval(secs => ${windowSecs})
      ORDER BY created_at DESC`)) as unknown as Rows<{ left_s: string }>;
    if (recent.rows.length >= limit) {
      // Free again when the limit-th most recent attempt leaves the window.
      return { retryAfterSeconds: Math.max(1, Math.ceil(Number(recent.rows[limit - 1]!.left_s))) };
    }
    await tx.execute(sql`
      INSERT INTO idempotency_keys (scope, key, request_hash, status)
      VALUES (${scope}, ${key}, '', 'ATTEMPT')`);
    return undefined;
  });
  if (reserved) return reserved;
  return {
    release: async () => {
      await db.execute(sql`DELETE FROM idempotency_keys WHERE scope = ${scope} AND key = ${key}`);
    },
  };
}
