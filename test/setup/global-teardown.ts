import { rmSync } from 'node:fs';
import pg from 'pg';
import { scanLogDir } from '../support/leak-scan';

export default async function globalTeardown(): Promise<void> {
  const adminUrl = process.env.HP_TEST_ADMIN_URL;
  const template = process.env.HP_TEST_TEMPLATE_DB;
  const stop = (globalThis as { __hpStopPostgres?: () => void }).__hpStopPostgres;
  if (stop) {
    stop(); // our throwaway cluster: everything goes with it
  } else if (adminUrl && template) {
    const admin = new pg.Client({ connectionString: adminUrl });
    await admin.connect();
    const left = await admin.query(`SELECT datname FROM pg_database WHERE datname = $1 OR datname LIKE $2`, [
      template,
      `${template}_f%`,
    ]);
    for (const r of left.rows)
      await admin.query(`DROP DATABASE IF EXISTS ${r.datname} WITH (FORCE)`).catch(() => undefined);
    await admin.end();
  }
  scanLogs(); // last: a leak fails the run, after the database is cleaned up
}

/**
 * The log scan over the whole run (security suite, issue 10): every line every test stack logged must be free of
 * secrets and personal data. A leak fails the run and keeps the files for a look.
 */
function scanLogs(): void {
  const dir = process.env.HP_TEST_LOG_DIR;
  if (!dir) return;
  const { lines, leaks } = scanLogDir(dir);
  if (leaks.length === 0) {
    rmSync(dir, { recursive: true, force: true });
    return;
  }
  const shown = leaks.slice(0, 20).map((l) => `  ${l.kind} in ${l.where}: ${l.sample}`);
  throw new Error(
    `log scan: ${leaks.length} leak(s) in ${lines} log lines (files kept in ${dir}):\n${shown.join('\n')}`,
  );
}
