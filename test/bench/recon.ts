// `npm run bench:recon -- --transactions 1000000 [--inject 100]`: generates one business day on a real
// PostgreSQL — our payments and refunds, the channel's imported statement and the HIS ledger — with a known
// number of discrepancies of every kind, runs the real matching engine and prints
// `bench:recon transactions=<n> seconds=<n> peak_rss_mb=<n> injected=<n> found=<n> extra=<n>`.
// `seconds` is the engine's run (matching, classification, holding pool, summary); generation is reported
// separately on a progress line. The goal: 1,000,000 transactions in ≤ 30 s with ≤ 1 GiB RSS.
import { loadConfig } from '@hp/config';
import { and, eq, sql } from 'drizzle-orm';
import pg from 'pg';
import { openDatabase } from '../../bff/src/db/client';
import { reconItems } from '../../bff/src/db/schema-recon';
import { runReconciliation } from '../../bff/src/modules/recon/engine';
import { findOrStartPostgres, withDatabase } from '../setup/postgres';
import { generateReconDay } from '../support/recon-day';

function arg(name: string, fallback: number): number {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? Number(process.argv[i + 1]) : fallback;
}
const progress = (msg: string) => console.log(`bench:recon progress ${msg}`);

async function main() {
  const transactions = arg('transactions', 1_000_000);
  // Every tenth payment is also partly refunded: payments + refunds ≈ the transactions asked for.
  const n = Math.round((transactions * 10) / 11);
  const k = arg('inject', Math.max(3, Math.min(100, Math.floor(n / 1000))));
  const server = await findOrStartPostgres();
  const dbName = `hp_bench_recon_${process.pid}`;
  const admin = new pg.Client({ connectionString: server.adminUrl });
  await admin.connect();
  await admin.query(`CREATE DATABASE ${dbName}`);
  const database = await openDatabase({
    databaseUrl: withDatabase(server.adminUrl, dbName),
    dataDir: '/tmp/hp-bench-unused',
    poolMax: 4,
  });
  try {
    await database.migrate();
    const db = database.db;
    const config = loadConfig({}, { nodeEnv: 'test' });
    await db.execute(sql`INSERT INTO hospitals (id, code, name) VALUES ('hosp_bench', 'BENCH', '压测医院')`);
    await db.execute(sql`
      INSERT INTO merchant_accounts (id, hospital_id, channel, mch_id, app_id, settings, secrets_enc)
      VALUES ('ma_bench_wechatpay', 'hosp_bench', 'wechatpay', '1900009999', 'wxbench', '{}', 'unused')`);
    await db.execute(
      sql`INSERT INTO patients (id, hospital_id, his_patient_id, name) VALUES ('pat_bench', 'hosp_bench', 'B1', '压测')`,
    );
    const date = '2026-11-01';
    progress(`generating ${n} payments with ${k} discrepancies of each of 7 kinds`);
    const g0 = Date.now();
    const day = await generateReconDay(db, {
      hospitalId: 'hosp_bench',
      accountId: 'ma_bench_wechatpay',
      patientId: 'pat_bench',
      date,
      n,
      k,
    });
    await db.execute(sql`ANALYZE`);
    progress(
      `generated ${day.payments} payments and ${day.refunds} refunds in ${((Date.now() - g0) / 1000).toFixed(1)} s`,
    );

    const rssBefore = process.memoryUsage().rss;
    let peak = rssBefore;
    const timer = setInterval(() => {
      peak = Math.max(peak, process.memoryUsage().rss);
    }, 100);
    const t0 = Date.now();
    const result = await runReconciliation(
      { db, config },
      { hospitalId: 'hosp_bench', date, triggeredBy: 'bench' },
    );
    const seconds = (Date.now() - t0) / 1000;
    clearInterval(timer);
    peak = Math.max(peak, process.memoryUsage().rss);
    // PostgreSQL does the joining; its backend's memory counts too (work_mem bounds it; reported below).
    const workMem = ((await db.execute(sql`SHOW work_mem`)) as unknown as { rows: { work_mem: string }[] })
      .rows[0]!.work_mem;

    const found = await db
      .select({ outcome: reconItems.outcome, keyNo: reconItems.keyNo })
      .from(reconItems)
      .where(and(eq(reconItems.hospitalId, 'hosp_bench'), eq(reconItems.businessDate, date)));
    const injected = new Set(
      Object.entries(day.injected).flatMap(([o, keys]) => keys.map((key) => `${o}:${key}`)),
    );
    const hit = found.filter((f) => injected.has(`${f.outcome}:${f.keyNo}`)).length;
    progress(
      `engine ${seconds.toFixed(2)} s; rows ${JSON.stringify(result.rows.map((r) => [r.kind, r.platformCount, r.differences]))}; postgres work_mem=${workMem}`,
    );
    console.log(
      `bench:recon transactions=${n + day.refunds} seconds=${seconds.toFixed(2)} peak_rss_mb=${Math.round(peak / 1048576)} injected=${injected.size} found=${hit} extra=${found.length - hit}`,
    );
  } finally {
    await database.close();
    await admin.query(`DROP DATABASE IF EXISTS ${dbName} WITH (FORCE)`).catch(() => undefined);
    await admin.end();
    server.stop?.();
  }
}

main().catch((e) => {
  console.error('bench:recon failed:', e);
  process.exit(1);
});
