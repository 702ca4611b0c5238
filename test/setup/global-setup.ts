import { mkdtempSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { openDatabase } from '../../bff/src/db/client';
import { startJobQueue } from '../../bff/src/jobs/queue';
import { createLogger } from '../../bff/src/lib/logger';
import { findOrStartPostgres, withDatabase } from './postgres';

/**
 * Finds or starts PostgreSQL and builds a template database with every migration and the job-queue schema
 * applied; each test file clones it (test/setup/db.ts), which takes a fraction of a second.
 */
export default async function globalSetup(): Promise<void> {
  const server = await findOrStartPostgres();
  const template = `hp_template_${process.pid}`;
  const admin = new pg.Client({ connectionString: server.adminUrl });
  await admin.connect();
  await admin.query(`DROP DATABASE IF EXISTS ${template}`);
  await admin.query(`CREATE DATABASE ${template}`);
  await admin.end();

  const url = withDatabase(server.adminUrl, template);
  const database = await openDatabase({ databaseUrl: url, dataDir: os.tmpdir(), poolMax: 2 });
  await database.migrate();
  const jobs = await startJobQueue({
    executor: database.executor,
    log: createLogger('silent'),
    pollingIntervalSeconds: 1,
    supervise: false,
  });
  await jobs.stop(0);
  await database.close();

  process.env.HP_TEST_ADMIN_URL = server.adminUrl;
  // Every test stack logs here; the teardown scans it for secrets and personal data (test/support/leak-scan.ts).
  process.env.HP_TEST_LOG_DIR = mkdtempSync(path.join(os.tmpdir(), 'hp-test-logs-'));
  process.env.HP_TEST_TEMPLATE_DB = template;
  (globalThis as { __hpStopPostgres?: () => void }).__hpStopPostgres = server.stop;
}
