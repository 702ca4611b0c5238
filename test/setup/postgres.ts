import { execFileSync, spawnSync } from 'node:child_process';
import { chmodSync, existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import pg from 'pg';

/** A PostgreSQL server for the tests, and how to stop it if we started it. */
export interface TestServer {
  adminUrl: string;
  stop?: () => void;
}

async function answers(url: string): Promise<boolean> {
  const c = new pg.Client({ connectionString: url, connectionTimeoutMillis: 2000 });
  try {
    await c.connect();
    await c.query('SELECT 1');
    return true;
  } catch {
    return false;
  } finally {
    await c.end().catch(() => undefined);
  }
}

/** A TCP port free on 127.0.0.1 right now. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
    s.on('error', reject);
  });
}

/** Finds `initdb` of the newest PostgreSQL installed from Debian's packages. */
function findPgBin(): string | undefined {
  const root = '/usr/lib/postgresql';
  if (!existsSync(root)) return undefined;
  const versions = readdirSync(root)
    .filter((v) => existsSync(path.join(root, v, 'bin', 'initdb')))
    .sort((a, b) => Number(b) - Number(a));
  return versions[0] ? path.join(root, versions[0], 'bin') : undefined;
}

/**
 * DATABASE_URL if set; else a server on 127.0.0.1:5432; else a throwaway cluster started from
 * /usr/lib/postgresql/<v>/bin in a temp directory (as the postgres user when we are root).
 */
export async function findOrStartPostgres(): Promise<TestServer> {
  if (process.env.DATABASE_URL) {
    if (!(await answers(process.env.DATABASE_URL)))
      throw new Error(`DATABASE_URL is set but no PostgreSQL answers at it`);
    return { adminUrl: process.env.DATABASE_URL };
  }
  for (const url of [
    'postgres://postgres@127.0.0.1:5432/postgres',
    `postgres://${os.userInfo().username}@127.0.0.1:5432/postgres`,
  ]) {
    if (await answers(url)) return { adminUrl: url };
  }
  const bin = findPgBin();
  if (!bin) {
    throw new Error(
      'No PostgreSQL for the tests: set DATABASE_URL, run one on 127.0.0.1:5432, or install the postgresql package.',
    );
  }
  const dir = mkdtempSync(path.join(os.tmpdir(), 'hp-pg-'));
  chmodSync(dir, 0o777);
  const asRoot = process.getuid?.() === 0;
  const run = (cmd: string, args: string[]) =>
    asRoot
      ? execFileSync('runuser', ['-u', 'postgres', '--', path.join(bin, cmd), ...args], { stdio: 'pipe' })
      : execFileSync(path.join(bin, cmd), args, { stdio: 'pipe' });
  const port = await freePort();
  const data = path.join(dir, 'data');
  run('initdb', ['-D', data, '-U', 'postgres', '--auth=trust', '-E', 'UTF8', '--no-sync']);
  run('pg_ctl', [
    '-D',
    data,
    '-l',
    path.join(dir, 'log'),
    '-w',
    '-o',
    `-p ${port} -k ${dir} -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=300`,
    'start',
  ]);
  const adminUrl = `postgres://postgres@127.0.0.1:${port}/postgres`;
  return {
    adminUrl,
    stop: () => {
      const args = ['-D', data, '-m', 'fast', '-w', 'stop'];
      if (asRoot) spawnSync('runuser', ['-u', 'postgres', '--', path.join(bin, 'pg_ctl'), ...args]);
      else spawnSync(path.join(bin, 'pg_ctl'), args);
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

export function withDatabase(url: string, database: string): string {
  const u = new URL(url);
  u.pathname = `/${database}`;
  return u.toString();
}
