// Benchmarks: `npm run bench:pay` / `npm run bench:query` (-- --connections N --duration S for other sizes).
// Runs the demo stack (bff + simulators) on a real PostgreSQL, drives it from a second process with
// autocannon, and prints one line of figures. Speed goals live here, not in unit tests.
import { spawn } from 'node:child_process';
import { createSign, generateKeyPairSync, randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { loadConfig } from '@hp/config';
import { sql } from 'drizzle-orm';
import pg from 'pg';
import { startPlatform } from '../../bff/src/app';
import { issuePatientToken } from '../../bff/src/http/auth-patient';
import { DEMO_HOSPITALS, provisionSandboxHospital } from '../../bff/src/sandbox';
import { generateSandboxKeys } from '../../bff/src/sandbox/keys';
import { findOrStartPostgres, withDatabase } from '../setup/postgres';

function arg(name: string, fallback: number): number {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? Number(process.argv[i + 1]) : fallback;
}

/** RSA-2048 SHA256 signatures per second on this machine (what bounds WeChat v3 throughput). */
function rsaSignsPerSecond(): number {
  const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const msg = randomBytes(200);
  let n = 0;
  const end = Date.now() + 1500;
  while (Date.now() < end) {
    createSign('RSA-SHA256').update(msg).sign(privateKey);
    n++;
  }
  return Math.round(n / 1.5);
}

async function main() {
  const mode = process.argv.includes('query') ? 'query' : 'pay';
  const connections = arg('connections', 250);
  const duration = arg('duration', 30);
  const server = await findOrStartPostgres();
  const dbName = `hp_bench_${process.pid}`;
  const admin = new pg.Client({ connectionString: server.adminUrl });
  await admin.connect();
  await admin.query(`CREATE DATABASE ${dbName}`);
  const tmp = mkdtempSync(path.join(os.tmpdir(), 'hp-bench-'));
  const keys = generateSandboxKeys(DEMO_HOSPITALS.map((h) => h.code));
  // The simulated channel runs in its own process: its RSA work is WeChat's, not ours.
  const keysFile = path.join(tmp, 'keys.json');
  writeFileSync(keysFile, JSON.stringify(keys));
  const simProc = spawn(
    process.execPath,
    ['--import', 'tsx', path.join(__dirname, '../../bff/src/sandbox/serve.ts'), keysFile],
    {
      stdio: ['ignore', 'pipe', 'inherit'],
    },
  );
  const urls: { wechat: string; his: string; alipay: string; bankpay: string } = await new Promise(
    (resolve, reject) => {
      simProc.stdout.once('data', (c: Buffer) => resolve(JSON.parse(c.toString())));
      simProc.once('exit', (c) => reject(new Error(`sandbox process exited ${c}`)));
    },
  );
  const sandbox = {
    keys,
    wechat: { url: urls.wechat },
    his: { url: urls.his },
    alipay: { url: urls.alipay },
    bankpay: { url: urls.bankpay },
  };
  const jwt = randomBytes(32).toString('hex');
  const config = loadConfig(
    {},
    {
      nodeEnv: 'test',
      // BENCH_SOCKET_DIR=/var/run/postgresql measures over the Unix socket instead of TCP.
      databaseUrl: process.env.BENCH_SOCKET_DIR
        ? `${withDatabase(server.adminUrl, dbName)}?host=${encodeURIComponent(process.env.BENCH_SOCKET_DIR)}`
        : withDatabase(server.adminUrl, dbName),
      databasePoolMax: 30,
      sandbox: true,
      patientJwtSecret: jwt,
      secretsKey: randomBytes(32).toString('hex'),
      dataDir: tmp,
      logLevel: 'warn',
      paymentQueryBackoffSeconds: [600],
    },
  );
  const platform = await startPlatform(config);
  try {
    const db = platform.deps.db;
    for (const h of DEMO_HOSPITALS) await provisionSandboxHospital(db, platform.deps.secrets, sandbox, h);
    const hospitalId = DEMO_HOSPITALS[0].id;
    await db.execute(
      sql`INSERT INTO patients (id, hospital_id, his_patient_id, name) VALUES ('pat_bench_pay', ${hospitalId}, 'BENCH1', '压测'), ('pat_bench_q', ${hospitalId}, 'BENCH2', '压测')`,
    );
    const bills = mode === 'pay' ? Math.max(2000, connections * duration * 40) : 10;
    const patientId = mode === 'pay' ? 'pat_bench_pay' : 'pat_bench_q';
    await db.execute(sql`
      INSERT INTO bills (id, hospital_id, his_bill_no, patient_id, title, amount_fen)
      SELECT 'bill_bench_' || g, ${hospitalId}, 'HB_BENCH_' || g, ${patientId}, '压测费用 ' || g, 100 + g % 900
      FROM generate_series(1, ${bills}) g`);
    const token = issuePatientToken(jwt, { patientId, hospitalId }, 3600);
    const billIdsFile = path.join(tmp, 'bills.txt');
    writeFileSync(billIdsFile, Array.from({ length: bills }, (_, i) => `bill_bench_${i + 1}`).join('\n'));
    const orderIds: string[] = [];
    if (mode === 'query') {
      // A few real orders to read back.
      for (let i = 1; i <= 5; i++) {
        const r = await fetch(`${platform.url}/api/orders`, {
          method: 'POST',
          headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
          body: JSON.stringify({ billIds: [`bill_bench_${i}`], channel: 'wechatpay', tradeType: 'NATIVE' }),
        });
        orderIds.push(((await r.json()) as { id: string }).id);
      }
    }
    const rsa = rsaSignsPerSecond();
    const load = spawn(
      process.execPath,
      [
        path.join(__dirname, 'load.cjs'),
        JSON.stringify({ url: platform.url, connections, duration, token, mode, billIdsFile, orderIds }),
      ],
      {
        stdio: ['ignore', 'pipe', 'inherit'],
      },
    );
    let out = '';
    load.stdout.on('data', (c: Buffer) => (out += c.toString()));
    const code: number = await new Promise((r) => load.on('exit', (c) => r(c ?? 1)));
    if (code !== 0) throw new Error(`load generator exited ${code}`);
    const res = JSON.parse(out) as { rps: number; p50: number; p99: number; errors: number };
    const line = `bench:${mode} connections=${connections} rps=${Math.round(res.rps)} p50_ms=${res.p50} p99_ms=${res.p99} errors=${res.errors} rsa_sign_per_s=${rsa}`;
    console.log(line);
  } finally {
    await platform.stop();
    simProc.kill('SIGTERM');
    await admin.query(`DROP DATABASE IF EXISTS ${dbName} WITH (FORCE)`).catch(() => undefined);
    await admin.end();
    server.stop?.();
    rmSync(tmp, { recursive: true, force: true });
  }
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
