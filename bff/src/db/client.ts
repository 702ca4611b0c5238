import { closeSync, mkdirSync, openSync, readFileSync, rmSync, writeSync } from 'node:fs';
import path from 'node:path';
import { PGlite } from '@electric-sql/pglite';
import { sql, type SQL } from 'drizzle-orm';
import { drizzle as drizzlePg } from 'drizzle-orm/node-postgres';
import { migrate as migratePg } from 'drizzle-orm/node-postgres/migrator';
import type { PgDatabase, PgQueryResultHKT } from 'drizzle-orm/pg-core';
import { drizzle as drizzlePglite } from 'drizzle-orm/pglite';
import { migrate as migratePglite } from 'drizzle-orm/pglite/migrator';
import pg from 'pg';
import * as schema from './schema';

/** Drizzle database or transaction over either driver. */
export type Db = PgDatabase<PgQueryResultHKT, typeof schema>;
/** What a repository accepts: the database or an open transaction. */
export type Tx = Db;

/** The pg-boss `Db` contract: run a SQL text with `$n` parameters. */
export interface SqlExecutor {
  // eslint-disable-next-line @typescript-eslint/no-explicit-any -- mirrors pg-boss's Db contract
  executeSql(text: string, values?: unknown[]): Promise<{ rows: any[] }>;
}

/** An open database: drizzle, a raw executor for pg-boss, and lifecycle. */
export interface Database {
  kind: 'postgres' | 'pglite';
  db: Db;
  /** Raw executor outside any transaction (pg-boss's own connection). */
  executor: SqlExecutor;
  ping(): Promise<void>;
  /** Applies the SQL migrations in bff/migrations (idempotent; one process at a time). */
  migrate(): Promise<void>;
  close(): Promise<void>;
}

export const MIGRATIONS_DIR = path.resolve(__dirname, '../../migrations');

/**
 * What the job queue's executor answers once the database is closed. A job handler that outlived the
 * shutdown timeout may still report its result; pg-boss takes "no result" as nothing affected (an empty
 * `rows` would crash its bookkeeping) and re-runs the job when its lease expires. Handlers are idempotent,
 * so nothing is lost.
 */
// eslint-disable-next-line @typescript-eslint/no-explicit-any -- pg-boss's Db contract, deliberately empty
const AFTER_CLOSE = Promise.resolve(undefined as unknown as { rows: any[] });

/** Thrown when another process holds the PGlite data directory. */
export class DataDirLockedError extends Error {
  override name = 'DataDirLockedError';
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * Takes `<dir>/LOCK` for this process. PGlite is a single-process database: a second process on the same
 * directory would corrupt it, so it must refuse to start. A lock left by a dead process is taken over.
 */
export function lockDataDir(dir: string): () => void {
  mkdirSync(dir, { recursive: true });
  const lockPath = path.join(dir, 'LOCK');
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      const fd = openSync(lockPath, 'wx');
      writeSync(fd, String(process.pid));
      closeSync(fd);
      return () => {
        try {
          if (readFileSync(lockPath, 'utf8') === String(process.pid)) rmSync(lockPath);
        } catch {
          /* already gone */
        }
      };
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
      const pid = Number(readFileSync(lockPath, 'utf8').trim());
      if (Number.isInteger(pid) && pid > 0 && pid !== process.pid && isAlive(pid)) {
        throw new DataDirLockedError(
          `The data directory ${dir} is in use by another process (pid ${pid}). ` +
            `Stop that process, or start this one with another DATA_DIR, or use a PostgreSQL server (DATABASE_URL).`,
        );
      }
      rmSync(lockPath, { force: true }); // stale lock of a dead process
    }
  }
  throw new DataDirLockedError(`Could not lock the data directory ${dir}`);
}

/** Opens the database the configuration names: a PostgreSQL server, or embedded PGlite in `<dataDir>/pglite`. */
export async function openDatabase(opts: {
  databaseUrl?: string;
  dataDir: string;
  poolMax: number;
}): Promise<Database> {
  if (opts.databaseUrl) {
    const pool = new pg.Pool({
      connectionString: opts.databaseUrl,
      max: opts.poolMax,
      connectionTimeoutMillis: 5000,
    });
    pool.on('error', () => {
      /* an idle client died (server restart): the pool replaces it; readiness reports the outage */
    });
    let closed = false;
    const db = drizzlePg(pool, { schema }) as unknown as Db;
    return {
      kind: 'postgres',
      db,
      executor: {
        executeSql: (text, values) => (closed ? AFTER_CLOSE : pool.query(text, values)),
      },
      ping: async () => {
        await pool.query('SELECT 1');
      },
      migrate: async () => {
        // Several bff processes may boot at once: one migrates while the others wait on the lock.
        const conn = await pool.connect();
        try {
          await conn.query('SELECT pg_advisory_lock(7263001)');
          await migratePg(drizzlePg(conn, { schema }), { migrationsFolder: MIGRATIONS_DIR });
        } finally {
          await conn.query('SELECT pg_advisory_unlock(7263001)').catch(() => undefined);
          conn.release();
        }
      },
      close: async () => {
        closed = true;
        await pool.end();
      },
    };
  }
  const dir = path.resolve(opts.dataDir, 'pglite');
  const unlock = lockDataDir(path.resolve(opts.dataDir));
  try {
    const client = await PGlite.create(dir);
    let pgliteClosed = false;
    const db = drizzlePglite(client, { schema }) as unknown as Db;
    return {
      kind: 'pglite',
      db,
      executor: {
        // pg-boss sends multi-statement scripts without parameters: those need the simple protocol.
        async executeSql(text, values) {
          if (pgliteClosed) return AFTER_CLOSE;
          if (values && values.length > 0) return client.query(text, values);
          const results = await client.exec(text);
          return results[results.length - 1] ?? { rows: [] };
        },
      },
      ping: async () => {
        await client.query('SELECT 1');
      },
      migrate: () => migratePglite(drizzlePglite(client, { schema }), { migrationsFolder: MIGRATIONS_DIR }),
      close: async () => {
        pgliteClosed = true;
        await client.close();
        unlock();
      },
    };
  } catch (e) {
    unlock();
    throw e;
  }
}

/** Drizzle renders `undefined` as nothing (shifting every later placeholder): send NULL instead. */
function toParam(v: unknown): unknown {
  if (v === undefined) return null;
  if (v !== null && typeof v === 'object' && !(v instanceof Date) && !Array.isArray(v) && !Buffer.isBuffer(v))
    return JSON.stringify(v);
  return v;
}

/** Turns a `$n`-parameterised text into a drizzle SQL, so pg-boss can run inside a drizzle transaction. */
export function toDrizzleSql(text: string, values: unknown[] = []): SQL {
  const parts = text.split(/\$(\d+)/);
  const chunks: SQL[] = [];
  for (let i = 0; i < parts.length; i++) {
    if (i % 2 === 0) {
      if (parts[i]) chunks.push(sql.raw(parts[i]!));
    } else {
      chunks.push(sql`${toParam(values[Number(parts[i]) - 1])}`);
    }
  }
  return sql.join(chunks);
}

/** An executor bound to a drizzle transaction: what pg-boss runs runs inside that transaction. */
export function txExecutor(tx: Tx): SqlExecutor {
  return {
    async executeSql(text, values) {
      const res = (await tx.execute(toDrizzleSql(text, values))) as unknown as {
        rows: Record<string, unknown>[];
      };
      return { rows: res.rows };
    },
  };
}
