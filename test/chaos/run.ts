// The chaos run: `npm run chaos -- --payments N [--bffs 2] [--kills 5] [--concurrency 48] [--seed 1] [--keep]`.
//
// A fresh PostgreSQL database; the simulators in one process (test/chaos/sims.ts); two or more bff processes
// (test/chaos/bff.ts) on that database behind a load balancer (test/chaos/balancer.ts). N payments are driven
// through the public APIs like patients and the HIS would (signed bill pushes, sandbox and WeChat logins, QR,
// JSAPI and payment-code orders, payment at the simulators' control APIs, refunds through the HIS open API),
// while notifications are dropped (30 %) and duplicated (10 %), some payments come after the order expired
// (and a few are forced through after the close, as a channel that lost the race would), the HIS is down for
// a fifth of the run, channels time out now and then, and bff processes are SIGKILLed and restarted.
// Then it waits for compensation, reconciles the day, judges the outcome against the simulators' own records
// (the channels' and the HIS's truth) and ends with one line:
//
//   chaos payments=<n> lost=<n> double_charged=<n> double_refunded=<n> stuck=<n> totals_match=<bool> seconds=<n>
//
// Definitions are in judge() below and in docs/operations.md.
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { createWriteStream, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { loadConfig, type ConfigInput } from '@hp/config';
import { sql } from 'drizzle-orm';
import pg from 'pg';
import { startPlatform, type Platform } from '../../bff/src/app';
import { hospitals } from '../../bff/src/db/schema';
import { createLogger } from '../../bff/src/lib/logger';
import { signedHeaders } from '../../bff/src/modules/his/signature';
import { runDailyRecon } from '../../bff/src/modules/recon/daily-job';
import { DEMO_HOSPITALS, provisionSandboxHospital } from '../../bff/src/sandbox';
import { generateSandboxKeys, type SandboxKeys } from '../../bff/src/sandbox/keys';
import { SANDBOX_WECHAT_APPS } from '../../bff/src/sandbox/wechatpay/login';
import { findOrStartPostgres, freePort, withDatabase, type TestServer } from '../setup/postgres';
import { startBalancer, type Balancer } from './balancer';
import type { Truth } from './sims';

// ---- arguments ------------------------------------------------------------------------------------------

function arg(name: string, fallback: number): number {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? Number(process.argv[i + 1]) : fallback;
}
const N = arg('payments', 1000);
const BFFS = Math.max(2, arg('bffs', 2));
const KILLS = arg('kills', 5);
const CONCURRENCY = arg('concurrency', 48);
const SEED = arg('seed', Date.now() % 1_000_000);
/** Minutes to wait for compensation after the last payment before judging. */
const WAIT_MINUTES = arg('wait-minutes', 10);
const KEEP = process.argv.includes('--keep');
/** Share of QR payments forced through after our close (a channel that lost the race). */
const FORCED_SHARE = arg('forced-share', 0.01);
const RUN = randomBytes(3).toString('hex').toUpperCase();

/** Deterministic randomness for the run's choices (the processes' own timing is not). */
let seedState = SEED >>> 0 || 1;
function rand(): number {
  seedState = (seedState + 0x6d2b79f5) >>> 0;
  let t = seedState;
  t = Math.imul(t ^ (t >>> 15), t | 1);
  t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
  return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
}
const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rand() * xs.length)]!;
const digits = (n: number) => Array.from({ length: n }, () => Math.floor(rand() * 10)).join('');
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const log = (msg: string) => process.stderr.write(`chaos: ${msg}\n`);

// ---- HTTP with the retries a real client makes --------------------------------------------------------

interface Reply {
  status: number;
  body: any;
}

/** Counters of what went wrong on the wire (expected under chaos; reported, not judged). */
const wire = { retries: 0, gaveUp: 0 };

/**
 * One call, retried while the answer says "not now": the balancer found no backend or lost it mid-request
 * (502/504 from the balancer itself), a connection error, 429, or an Idempotency-Key still in progress.
 * `headers` is a function so a signed call is signed afresh (new nonce) on every try.
 */
async function call(
  method: string,
  url: string,
  opts: { body?: unknown; headers?: () => Record<string, string>; tries?: number } = {},
): Promise<Reply> {
  const tries = opts.tries ?? 12;
  const text = opts.body === undefined ? undefined : JSON.stringify(opts.body);
  let last: Reply = { status: 0, body: null };
  // A claim left IN_PROGRESS by a killed process is taken over after its lease (60 s): keep asking that long.
  const inProgressUntil = Date.now() + 150_000;
  let inProgress = false;
  for (let i = 0; i < tries || (inProgress && Date.now() < inProgressUntil); i++) {
    if (i > 0) {
      wire.retries++;
      await sleep(Math.min(5000, 250 * 2 ** Math.min(i, 5)) * (0.5 + rand()));
    }
    try {
      const headers: Record<string, string> = { ...(opts.headers?.() ?? {}) };
      if (text !== undefined) headers['content-type'] ??= 'application/json';
      const res = await fetch(url, { method, headers, body: text, signal: AbortSignal.timeout(40_000) });
      const raw = await res.text();
      let body: any = raw;
      try {
        body = raw ? JSON.parse(raw) : null;
      } catch {
        /* not JSON */
      }
      last = { status: res.status, body };
      const code = body?.error?.code;
      inProgress = res.status === 409 && /still in progress/.test(String(body?.error?.message ?? ''));
      const retry =
        (res.status === 502 && code === 'bad_gateway') ||
        (res.status === 504 && code === 'gateway_timeout') ||
        res.status === 429 ||
        (res.status === 409 && /still in progress|just ended/.test(String(body?.error?.message ?? ''))) ||
        (res.status === 500 && code === 'internal_error') ||
        (res.status === 503 && code === 'service_unavailable');
      if (!retry) return last;
    } catch (e) {
      last = { status: 0, body: { error: { code: 'network', message: (e as Error).message } } };
    }
  }
  wire.gaveUp++;
  return last;
}

// ---- the stack ------------------------------------------------------------------------------------------

interface BffProc {
  index: number;
  port: number;
  proc?: ChildProcess;
  kills: number;
}

interface Stack {
  lb: Balancer;
  sims: { wechat: string; his: string; alipay: string; bankpay: string; truth: string };
  keys: SandboxKeys;
  control: Platform;
  pool: pg.Pool;
  bffs: BffProc[];
  startBff(b: BffProc): Promise<void>;
  stop(): Promise<void>;
}

async function startStack(): Promise<Stack> {
  const cleanups: (() => Promise<unknown> | unknown)[] = [];
  const stop = async () => {
    for (const c of cleanups.reverse()) await Promise.resolve(c()).catch(() => undefined);
  };
  try {
    // 1. A fresh database: cloned from the tests' migrated template inside jest, else created empty (the first
    //    bff migrates it).
    let server: TestServer;
    const template = process.env.HP_TEST_TEMPLATE_DB;
    if (process.env.HP_TEST_ADMIN_URL && template) server = { adminUrl: process.env.HP_TEST_ADMIN_URL };
    else server = await findOrStartPostgres();
    cleanups.push(() => server.stop?.());
    const dbName = `hp_chaos_${process.pid}_${RUN.toLowerCase()}`;
    const admin = new pg.Client({ connectionString: server.adminUrl });
    admin.on('error', (e) => log(`admin connection: ${e.message}`));
    await admin.connect();
    for (let attempt = 0; ; attempt++) {
      try {
        await admin.query(`CREATE DATABASE ${dbName}${template ? ` TEMPLATE ${template}` : ''}`);
        break;
      } catch (e) {
        if (attempt >= 30 || !/being accessed by other users/.test((e as Error).message)) throw e;
        await sleep(200 + rand() * 300);
      }
    }
    cleanups.push(async () => {
      if (!KEEP) await admin.query(`DROP DATABASE IF EXISTS ${dbName} WITH (FORCE)`).catch(() => undefined);
      else log(`database kept: ${withDatabase(server.adminUrl, dbName)}`);
      await admin.end();
    });
    // The run never crashes PostgreSQL itself, so commits need not wait for the disk (the machine is shared).
    await admin.query(`ALTER DATABASE ${dbName} SET synchronous_commit = off`);
    const databaseUrl = withDatabase(server.adminUrl, dbName);

    const tmp = mkdtempSync(path.join(os.tmpdir(), 'hp-chaos-'));
    cleanups.push(() => (KEEP ? undefined : rmSync(tmp, { recursive: true, force: true })));
    log(`logs and keys in ${tmp}`);
    const keys = generateSandboxKeys(DEMO_HOSPITALS.map((h) => h.code));
    const keysFile = path.join(tmp, 'keys.json');
    writeFileSync(keysFile, JSON.stringify(keys));

    // 2. The load balancer first (its URL is where channels notify and the HIS pushes), then the simulators.
    const bffs: BffProc[] = [];
    for (let i = 0; i < BFFS; i++) bffs.push({ index: i, port: await freePort(), kills: 0 });
    const lb = await startBalancer(
      bffs.map((b) => `http://127.0.0.1:${b.port}`),
      { downMs: 1500 },
    );
    cleanups.push(() => lb.close());
    const simLog = createWriteStream(path.join(tmp, 'sims.log'));
    const simProc = spawn(
      process.execPath,
      ['--import', 'tsx', path.join(__dirname, 'sims.ts'), keysFile, lb.url],
      {
        stdio: ['ignore', 'pipe', 'pipe'],
        env: { ...process.env, NODE_OPTIONS: '' },
      },
    );
    simProc.stderr!.pipe(simLog);
    simProc.stdout!.pipe(simLog);
    cleanups.push(() => {
      simProc.kill('SIGTERM');
    });
    const sims: Stack['sims'] = await new Promise((resolve, reject) => {
      simProc.stdout!.once('data', (c: Buffer) => resolve(JSON.parse(c.toString())));
      simProc.once('exit', (c) => reject(new Error(`simulator process exited ${c}`)));
    });

    // 3. One configuration for every process. Compensation is shortened so the run can wait for it:
    //    queries every few seconds, HIS pushes retried from 1 s doubling, orders living one minute.
    const secrets = {
      PATIENT_JWT_SECRET: randomBytes(32).toString('hex'),
      ADMIN_JWT_SECRET: randomBytes(32).toString('hex'),
      SECRETS_KEY: randomBytes(32).toString('hex'),
    };
    const env: Record<string, string> = {
      NODE_ENV: 'development',
      HOST: '127.0.0.1',
      PUBLIC_BASE_URL: lb.url,
      DATABASE_URL: databaseUrl,
      DATABASE_POOL_MAX: '8',
      DATA_DIR: tmp,
      LOG_LEVEL: process.env.CHAOS_LOG_LEVEL ?? 'warn',
      SANDBOX: '1',
      SEED_DEMO: '0',
      ...secrets,
      PAYMENT_QUERY_BACKOFF_SECONDS: '2,3,5,5,10',
      HIS_PUSH_RETRY_DELAY_SECONDS: '1',
      HIS_PUSH_RETRY_LIMIT: '12',
      JOB_POLLING_INTERVAL_SECONDS: '1',
      OUTBOUND_TIMEOUT_MS: '3000',
      MICROPAY_POLL_SECONDS: '1',
      MICROPAY_TIMEOUT_SECONDS: '15',
      SHUTDOWN_TIMEOUT_MS: '3000',
      SIM_WECHAT_URL: sims.wechat,
      CHAOS_CONFIG: JSON.stringify({
        orderExpiryMinutes: { NATIVE: 1, JSAPI: 1, H5: 1, MICROPAY: 1 },
      } satisfies Partial<ConfigInput>),
    };

    // 4. A control platform in this process (no workers, not behind the balancer): provisioning and the
    //    day's reconciliation run through it. It migrates the database before any bff starts.
    const controlConfig = loadConfig(
      { ...env, PORT: '0' },
      { orderExpiryMinutes: { NATIVE: 1, JSAPI: 1, H5: 1, MICROPAY: 1 } },
    );
    const control = await startPlatform(controlConfig, {
      workers: false,
      log: createLogger('warn'),
      sandboxWechatUrl: sims.wechat,
    });
    cleanups.push(() => control.stop());
    const endpoints = {
      keys,
      wechat: { url: sims.wechat },
      his: { url: sims.his },
      alipay: { url: sims.alipay },
      bankpay: { url: sims.bankpay },
    };
    for (const h of DEMO_HOSPITALS)
      await provisionSandboxHospital(control.deps.db, control.deps.secrets, endpoints, h);
    // The HIS ledger is pulled for reconciliation (as the demo does).
    await control.deps.db
      .update(hospitals)
      .set({ settings: sql`${hospitals.settings} || '{"hisLedgerMode":"pull"}'::jsonb` });
    const pool = new pg.Pool({ connectionString: databaseUrl, max: 3 });
    // An idle client's connection may end under it (the database dropped at cleanup, a restart): never a crash.
    pool.on('error', (e) => log(`judge pool: ${e.message}`));
    cleanups.push(() => pool.end());

    // 5. The bff processes, behind the balancer.
    const startBff = async (b: BffProc) => {
      const out = createWriteStream(path.join(tmp, `bff-${b.index}.log`), { flags: 'a' });
      const proc = spawn(process.execPath, ['--import', 'tsx', path.join(__dirname, 'bff.ts')], {
        stdio: ['ignore', 'pipe', 'pipe'],
        env: { ...process.env, NODE_OPTIONS: '', ...env, PORT: String(b.port) },
      });
      // Both streams to the log (pino writes to stdout; an unread pipe would stall the process).
      proc.stderr!.pipe(out);
      proc.stdout!.pipe(out);
      b.proc = proc;
      await new Promise<void>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`bff ${b.index} did not start in 90 s`)), 90_000);
        proc.stdout!.on('data', (c: Buffer) => {
          if (!c.toString().includes('"pid"')) return;
          clearTimeout(timer);
          resolve();
        });
        proc.once('exit', (c) => {
          clearTimeout(timer);
          reject(new Error(`bff ${b.index} exited ${c} while starting (see bff-${b.index}.log)`));
        });
      });
    };
    cleanups.push(async () => {
      await Promise.all(
        bffs.map(
          (b) =>
            new Promise<void>((resolve) => {
              if (!b.proc || b.proc.exitCode !== null || b.proc.signalCode) return resolve();
              b.proc.once('exit', () => resolve());
              b.proc.kill('SIGTERM');
              setTimeout(() => {
                b.proc?.kill('SIGKILL');
                resolve();
              }, 8000).unref();
            }),
        ),
      );
    });
    await Promise.all(bffs.map((b) => startBff(b)));
    return { lb, sims, keys, control, pool, bffs, startBff, stop };
  } catch (e) {
    await stop();
    throw e;
  }
}

// ---- the patients and the HIS, as clients -------------------------------------------------------------

const HOSPITAL_WEIGHTS: [string, number][] = [
  ['H001', 0.7],
  ['H002', 0.3],
];
const PATIENTS_PER_HOSPITAL = Math.max(20, Math.min(500, Math.ceil(N / 20)));
/** H001 patients who log in with WeChat (openid) and pay with JSAPI. */
const JSAPI_PATIENTS = Math.min(10, PATIENTS_PER_HOSPITAL);

const patientId = (h: string, k: number) => `C${RUN}${h}${String(k).padStart(4, '0')}`;
const cardNo = (h: string, k: number) => `88${h.slice(1)}${RUN}${String(k).padStart(4, '0')}`;

/** What the run did, for the report and the judge. */
const stats = {
  started: 0,
  done: 0,
  ordersCreated: 0,
  createFailed: 0,
  paidAtChannel: 0,
  payRefused: 0,
  late: 0,
  forced: 0,
  forcedPaid: 0,
  abandoned: 0,
  codePayments: 0,
  jsapi: 0,
  dropped: 0,
  duplicated: 0,
  refundsAsked: 0,
  refundsRefused: 0,
  scenarioErrors: 0,
  hisDownSeconds: 0,
  channelFaults: 0,
  kills: 0,
  driveSeconds: 0,
};
const errorSamples: string[] = [];
const noteError = (what: string) => {
  stats.scenarioErrors++;
  if (errorSamples.length < 20) errorSamples.push(what.slice(0, 300));
};

class Clients {
  private readonly tokens = new Map<string, string>();
  private readonly wxTokens = new Map<string, string>();
  constructor(private readonly s: Stack) {}

  his(hospital: string, method: string, target: string, body?: unknown, extra: Record<string, string> = {}) {
    const { appId, secret } = this.s.keys.hospitals[hospital]!.his;
    const text = body === undefined ? '' : JSON.stringify(body);
    return call(method, `${this.s.lb.url}${target}`, {
      body,
      headers: () => ({ ...signedHeaders(appId, secret, method, target, text), ...extra }),
    });
  }

  /** The HIS creates a bill and pushes it through the signed open API (retried with the same bill number). */
  async pushBill(hospital: string, pid: string, hisBillNo: string, amountFen: number): Promise<string> {
    for (let i = 0; i < 15; i++) {
      const r = await call('POST', `${this.s.sims.his}/sim/his/bills`, {
        body: { hospital, patientId: pid, hisBillNo, title: `检查费 ${hisBillNo.slice(-5)}`, amountFen },
      });
      const billId = r.body?.body?.results?.[0]?.billId;
      if (r.status === 200 && billId) return billId as string;
      await sleep(300 * (i + 1));
    }
    throw new Error(`bill ${hisBillNo} could not be pushed`);
  }

  async token(hospital: string, pid: string): Promise<string> {
    const key = `${hospital}:${pid}`;
    const hit = this.tokens.get(key);
    if (hit) return hit;
    const r = await call('POST', `${this.s.lb.url}/api/patient/sandbox-login`, {
      body: { hospitalCode: hospital, hisPatientId: pid },
    });
    if (r.status !== 200) throw new Error(`login ${pid}: ${r.status} ${JSON.stringify(r.body)}`);
    this.tokens.set(key, r.body.token);
    return r.body.token as string;
  }

  /** A WeChat mini-program login bound to the patient's card, so JSAPI can be paid (openid in the session). */
  async wechatToken(k: number): Promise<string> {
    const hit = this.wxTokens.get(String(k));
    if (hit) return hit;
    const login = async () => {
      const c = await call('POST', `${this.s.sims.wechat}/sim/wechat/login`, {
        body: { appId: SANDBOX_WECHAT_APPS.miniProgram.appId, user: `chaos-${RUN}-${k}` },
      });
      const r = await call('POST', `${this.s.lb.url}/api/patient/wx-login`, {
        body: { code: c.body.code, hospitalCode: 'H001' },
      });
      if (r.status !== 200) throw new Error(`wx-login: ${r.status} ${JSON.stringify(r.body)}`);
      return r.body as { token: string; patient: unknown };
    };
    let s = await login();
    if (!s.patient) {
      const bound = await call('POST', `${this.s.lb.url}/api/patient/cards`, {
        body: { name: `混沌${k}`, cardNo: cardNo('H001', k) },
        headers: () => ({ authorization: `Bearer ${s.token}` }),
      });
      if (bound.status !== 201 && bound.body?.error?.code !== 'card_already_bound')
        throw new Error(`bind card: ${bound.status} ${JSON.stringify(bound.body)}`);
      s = await login();
    }
    this.wxTokens.set(String(k), s.token);
    return s.token;
  }
}

// ---- one payment, as a patient (or the window) makes it --------------------------------------------------

type Channel = 'wechatpay' | 'alipay' | 'bankpay';

async function payAtChannel(
  s: Stack,
  channel: Channel,
  orderNo: string,
  notify: 'deliver' | 'drop' | 'duplicate',
  force = false,
): Promise<boolean> {
  const base =
    channel === 'wechatpay' ? s.sims.wechat : channel === 'alipay' ? s.sims.alipay : s.sims.bankpay;
  const body: Record<string, unknown> = { notify };
  if (force) body.force = true;
  if (channel === 'bankpay') body.payMethod = pick(['WECHAT', 'ALIPAY', 'UNIONPAY']);
  const r = await call('POST', `${base}/sim/${channel}/orders/${encodeURIComponent(orderNo)}/pay`, { body });
  if (r.status === 200) {
    stats.paidAtChannel++;
    return true;
  }
  stats.payRefused++;
  return false;
}

async function waitOrder(
  c: Clients,
  hospital: string,
  orderNo: string,
  until: (status: string) => boolean,
  timeoutMs: number,
): Promise<string | undefined> {
  const end = Date.now() + timeoutMs;
  let status: string | undefined;
  while (Date.now() < end) {
    const r = await c.his(hospital, 'GET', `/open/v1/orders/${orderNo}`);
    status = r.body?.status;
    if (status && until(status)) return status;
    await sleep(1000 + rand() * 1000);
  }
  return status;
}

/** Refunds through the HIS open API: full, partial then the rest, or a duplicate pair plus an over-refund. */
async function refundScenario(c: Clients, hospital: string, orderNo: string, amountFen: number, i: number) {
  const paid = await waitOrder(c, hospital, orderNo, (st) => st === 'PAID' || st === 'SETTLED', 120_000);
  if (paid !== 'PAID' && paid !== 'SETTLED') return;
  const ask = async (
    hisRefundNo: string,
    amount?: number,
    key = `rk-${hisRefundNo}-${randomBytes(3).toString('hex')}`,
  ) => {
    stats.refundsAsked++;
    for (let t = 0; t < 20; t++) {
      const r = await c.his(
        hospital,
        'POST',
        '/open/v1/refunds',
        { orderNo, hisRefundNo, reason: '混沌退款', ...(amount ? { amountFen: amount } : {}) },
        { 'idempotency-key': key },
      );
      if (r.body?.error?.code === 'refund_in_progress') {
        await sleep(1500);
        continue;
      }
      if (r.status >= 400) stats.refundsRefused++;
      return r;
    }
    return undefined;
  };
  const waitRefund = async (hisRefundNo: string) => {
    for (let t = 0; t < 60; t++) {
      const r = await c.his(hospital, 'GET', `/open/v1/refunds/${hisRefundNo}`);
      if (['SUCCESS', 'FAILED', 'ABNORMAL'].includes(r.body?.status)) return r.body.status as string;
      await sleep(1000);
    }
    return undefined;
  };
  const kind = rand();
  const base = `HR${RUN}${i}`;
  if (kind < 0.5) {
    await ask(`${base}A`);
  } else if (kind < 0.8) {
    const first = Math.max(1, Math.floor(amountFen / 3));
    await ask(`${base}A`, first);
    await waitRefund(`${base}A`);
    await ask(`${base}B`);
  } else {
    // The same refund asked twice at once (through different processes), then more than was paid.
    await Promise.all([
      ask(`${base}A`, undefined, `rk-${base}-1`),
      ask(`${base}A`, undefined, `rk-${base}-2`),
    ]);
    await waitRefund(`${base}A`);
    await ask(`${base}C`, amountFen + 1);
  }
}

async function scenario(s: Stack, c: Clients, i: number) {
  let r = rand();
  let hospital = 'H001';
  for (const [h, w] of HOSPITAL_WEIGHTS) {
    if (r < w) {
      hospital = h;
      break;
    }
    r -= w;
  }
  const k = Math.floor(rand() * PATIENTS_PER_HOSPITAL);
  const amountFen = 100 + Math.floor(rand() * 50_000);
  const hisBillNo = `CH${RUN}${String(i).padStart(6, '0')}`;
  const kind = rand();
  const billId = await c.pushBill(hospital, patientId(hospital, k), hisBillNo, amountFen);

  // Payment codes at the window (the HIS calls the open API): instant, confirmed later, never confirmed,
  // declined, and "SYSTEMERROR although paid".
  if (kind < 0.12) {
    stats.codePayments++;
    const channel = pick<Channel>(['wechatpay', 'alipay', 'bankpay']);
    const code =
      channel === 'wechatpay'
        ? pick(['1340', '1340', '1341', '1342', '1343', '1344']) + digits(14)
        : channel === 'alipay'
          ? pick(['2810', '2810', '2811', '2812']) + digits(14)
          : pick(['6250', '6250', '6251', '6252', '6253', '6254']) + digits(15);
    const res = await c.his(
      hospital,
      'POST',
      '/open/v1/code-payments',
      { hisBillNos: [hisBillNo], authCode: code, channel },
      { 'idempotency-key': `cp-${hisBillNo}` },
    );
    if (res.status === 201) {
      stats.ordersCreated++;
      if (rand() < 0.15) {
        const end = await waitOrder(c, hospital, res.body.orderNo, (st) => st !== 'PAYING', 60_000);
        if (end === 'PAID' || end === 'SETTLED')
          await refundScenario(c, hospital, res.body.orderNo, amountFen, i);
      }
    } else stats.createFailed++;
    return;
  }

  // JSAPI (WeChat login) for a few H001 patients; QR codes otherwise.
  const jsapi = hospital === 'H001' && k < JSAPI_PATIENTS && kind < 0.2;
  const channel: Channel = jsapi
    ? 'wechatpay'
    : pick<Channel>(['wechatpay', 'wechatpay', 'alipay', 'bankpay']);
  const token = jsapi ? await c.wechatToken(k) : await c.token(hospital, patientId(hospital, k));
  if (jsapi) stats.jsapi++;
  const auth = () => ({ authorization: `Bearer ${token}`, 'idempotency-key': `ord-${hisBillNo}` });
  let order = await call('POST', `${s.lb.url}/api/orders`, {
    body: { billIds: [billId], channel, tradeType: jsapi ? 'JSAPI' : 'NATIVE' },
    headers: auth,
  });
  for (let t = 0; t < 3 && order.status === 409 && order.body?.error?.code === 'bill_locked'; t++) {
    // The first try created the order but its answer was lost with a killed process: resume that order,
    // as the patient does from the order history.
    const bill = await c.his(hospital, 'GET', `/open/v1/bills/${hisBillNo}`);
    const orderNo = bill.body?.order?.orderNo;
    const o = orderNo ? await c.his(hospital, 'GET', `/open/v1/orders/${orderNo}`) : undefined;
    if (o?.status === 200) order = { status: 201, body: o.body };
    else {
      order.body.error.message += ` (resume: bill ${bill.status} ${JSON.stringify(bill.body?.order)}, order ${o?.status})`;
      await sleep(1000);
    }
  }
  if (order.status !== 201) {
    if (order.body?.error?.code === 'channel_unavailable' || order.body?.error?.code === 'channel_error') {
      stats.createFailed++; // the patient gives up; the order is closed after it expires
      return;
    }
    throw new Error(`create order: ${order.status} ${JSON.stringify(order.body)}`);
  }
  stats.ordersCreated++;
  const { orderNo, expiresAt, id } = order.body as { orderNo: string; expiresAt: string; id: string };

  const fate = rand();
  if (fate < 0.05) {
    stats.abandoned++; // scanned and never paid: closed after it expires
    return;
  }
  const notify = rand() < 0.3 ? 'drop' : rand() < 1 / 7 ? 'duplicate' : 'deliver';
  if (notify === 'drop') stats.dropped++;
  if (notify === 'duplicate') stats.duplicated++;
  if (fate < 0.1) {
    // Paid after the order expired: either our close got there first (refused: no money) or the payment
    // wins and must be applied.
    stats.late++;
    await sleep(Math.max(0, Date.parse(expiresAt) - Date.now()) + rand() * 4000);
    await payAtChannel(s, channel, orderNo, notify);
    return;
  }
  if (fate < 0.1 + FORCED_SHARE && channel !== 'alipay') {
    // A channel that lost the race with our close: the success arrives for an order we closed. It must end
    // CONFLICTED with an alert. (The notification is delivered: with none, only reconciliation could see it.)
    stats.forced++;
    const st = await waitOrder(c, hospital, orderNo, (x) => x === 'CLOSED' || x === 'PAID', 150_000);
    if (st === 'CLOSED' && (await payAtChannel(s, channel, orderNo, 'deliver', true))) stats.forcedPaid++;
    else noteError(`#${i}: forced payment not made (order ${orderNo} ${st})`);
    return;
  }
  await sleep(rand() * 1500);
  const ok = await payAtChannel(s, channel, orderNo, notify);
  void id;
  if (ok && rand() < 0.08) await refundScenario(c, hospital, orderNo, amountFen, i);
}

// ---- the chaos itself ------------------------------------------------------------------------------------

/** The HIS outage cycle: down this many seconds out of every five times as many (20 % of the run). */
const HIS_DOWN_SECONDS = 12;

async function chaosMonkey(s: Stack, done: () => boolean) {
  // The HIS is down 12 s of every 60 s (20 % of the run), from 10 s in; it also fails 2 % of its calls.
  // Kills and channel faults are spread over the payments finished.
  const t0 = Date.now();
  // Kills in the first three quarters, so the work they interrupt is recovered while payments still flow.
  const killAt = Array.from({ length: KILLS }, (_, k) => ((k + 0.5) / KILLS) * 0.75);
  let killed = 0;
  let hisDown = false;
  let downSince = 0;
  let nextFault = 0;
  const setHis = async (faults: Record<string, unknown>) =>
    call('POST', `${s.sims.his}/sim/his/faults`, { body: faults });
  await setHis({ failureRate: 0.02 });
  const faultEvery = Math.max(5, Math.floor(N / 40));
  while (!done()) {
    const p = stats.done / N;
    const cycle = (Date.now() - t0) / 1000 - 10;
    const inOutage = cycle >= 0 && cycle % (5 * HIS_DOWN_SECONDS) < HIS_DOWN_SECONDS;
    if (inOutage !== hisDown) {
      hisDown = inOutage;
      await setHis({ down: hisDown });
      if (hisDown) downSince = Date.now();
      else stats.hisDownSeconds += (Date.now() - downSince) / 1000;
      log(`HIS ${hisDown ? 'down' : 'up'} at ${stats.done}/${N}`);
    }
    if (stats.done >= nextFault) {
      nextFault = stats.done + faultEvery;
      const sim = pick(['wechatpay', 'bankpay'] as const);
      const op = pick(['create', 'query', 'close', 'refund', 'query']);
      const fault = pick(['timeout', 'late_reply', 'system_error', 'drop']);
      const base = sim === 'wechatpay' ? s.sims.wechat : s.sims.bankpay;
      await call('POST', `${base}/sim/${sim}/faults`, {
        body: { op, fault, count: 1 + Math.floor(rand() * 2) },
      });
      stats.channelFaults++;
    }
    if (killed < KILLS && p >= killAt[killed]!) {
      const b = s.bffs[killed % s.bffs.length]!;
      killed++;
      stats.kills++;
      log(`SIGKILL bff ${b.index} (pid ${b.proc?.pid}) at ${stats.done}/${N}`);
      const exited = new Promise((r) => b.proc!.once('exit', r));
      b.proc!.kill('SIGKILL');
      await exited;
      b.kills++;
      void (async () => {
        await sleep(500 + rand() * 2500);
        await s.startBff(b).catch((e) => noteError(`restart bff ${b.index}: ${(e as Error).message}`));
        log(`bff ${b.index} restarted`);
      })();
    }
    await sleep(200);
  }
  if (hisDown) {
    stats.hisDownSeconds += (Date.now() - downSince) / 1000;
    await setHis({ down: false });
  }
  await setHis({ failureRate: 0 });
}

// ---- waiting for compensation, reconciling, judging ---------------------------------------------------

async function rows<T>(pool: pg.Pool, text: string, values: unknown[] = []): Promise<T[]> {
  return (await pool.query(text, values)).rows as T[];
}

async function waitForCompensation(s: Stack): Promise<{ seconds: number; settled: boolean }> {
  const started = Date.now();
  const deadline = started + WAIT_MINUTES * 60_000;
  let lastLog = 0;
  for (;;) {
    const [w] = await rows<{ orders: number; pushes: number; refunds: number }>(
      s.pool,
      `SELECT (SELECT count(*)::int FROM orders WHERE status IN ('CREATED','PAYING','REFUNDING')) AS orders,
              (SELECT count(*)::int FROM his_pushes WHERE status IN ('PENDING','RETRYING')) AS pushes,
              (SELECT count(*)::int FROM refunds WHERE status IN ('PENDING','PROCESSING')) AS refunds`,
    );
    const settled = w!.orders === 0 && w!.pushes === 0 && w!.refunds === 0;
    if (settled || Date.now() > deadline) return { seconds: (Date.now() - started) / 1000, settled };
    if (Date.now() - lastLog > 15_000) {
      lastLog = Date.now();
      log(
        `waiting for compensation: ${w!.orders} orders not final, ${w!.pushes} HIS pushes, ${w!.refunds} refunds in flight`,
      );
    }
    await sleep(2000);
  }
}

interface Judgement {
  lost: number;
  doubleCharged: number;
  doubleRefunded: number;
  stuck: number;
  totalsMatch: boolean;
  detail: string[];
}

const FLAG_ALERTS = [
  'amount_mismatch',
  'paid_after_close',
  'paid_during_reverse',
  'double_payment',
  'refunded_outside',
  'merchant_mismatch',
  'one_sided_entry',
];

/**
 * The judge, from the database and the simulators' own records (the channels' and the HIS's truth):
 * - lost: the channel kept money (paid, not reversed, not refunded in full) for an order that the HIS never
 *   got (no accepted payment result) and that is not flagged (CONFLICTED or one-sided, with an alert);
 * - double_charged: a bill for which the channels kept money of more than one order, none of them flagged;
 * - double_refunded: an order refunded more than it took, at the channel or in our books;
 * - stuck: orders still CREATED, PAYING or REFUNDING after the wait;
 * - totals_match: per channel, the channel's net (payments − refunds), ours (successful payments − successful
 *   channel refunds) and the HIS ledger's equal one another, flagged orders left out of all three.
 */
function judge(
  truth: Truth,
  db: {
    orders: {
      id: string;
      order_no: string;
      status: string;
      amount_fen: string;
      refunded_fen: string;
      channel: string;
      one_sided: boolean;
    }[];
    payments: { order_id: string; status: string; amount_fen: string }[];
    refunds: { order_id: string; refund_no: string; amount_fen: string; status: string; method: string }[];
    alerts: { order_id: string; kind: string }[];
    orderBills: { order_id: string; bill_id: string }[];
  },
): Judgement {
  const detail: string[] = [];
  const ourByNo = new Map(db.orders.map((o) => [o.order_no, o]));
  const ourById = new Map(db.orders.map((o) => [o.id, o]));
  const alertsByOrder = new Map<string, Set<string>>();
  for (const a of db.alerts) {
    if (!a.order_id) continue;
    const set = alertsByOrder.get(a.order_id) ?? new Set();
    set.add(a.kind);
    alertsByOrder.set(a.order_id, set);
  }
  const flagged = (orderNo: string) => {
    const o = ourByNo.get(orderNo);
    if (!o) return false;
    const kinds = alertsByOrder.get(o.id) ?? new Set();
    return (o.status === 'CONFLICTED' || o.one_sided) && FLAG_ALERTS.some((k) => kinds.has(k));
  };
  const channelRefunded = new Map<string, number>();
  for (const r of truth.refunds)
    if (r.succeeded) channelRefunded.set(r.orderNo, (channelRefunded.get(r.orderNo) ?? 0) + r.amountFen);
  const hisPaid = new Set(
    truth.his.results.filter((r) => r.body.kind === 'payment').map((r) => String(r.body.orderNo)),
  );

  let lost = 0;
  let doubleRefunded = 0;
  const lostSamples: string[] = [];
  const keptByBill = new Map<string, string[]>();
  const billsOf = new Map<string, string[]>();
  for (const ob of db.orderBills) billsOf.set(ob.order_id, [...(billsOf.get(ob.order_id) ?? []), ob.bill_id]);
  for (const o of truth.orders) {
    if (!o.paid) continue;
    const refunded = channelRefunded.get(o.orderNo) ?? 0;
    if (refunded > o.amountFen) doubleRefunded++;
    const kept = o.returned ? 0 : o.amountFen - refunded;
    if (kept <= 0) continue;
    const ours = ourByNo.get(o.orderNo);
    if (!hisPaid.has(o.orderNo) && !flagged(o.orderNo)) {
      lost++;
      if (lostSamples.length < 10)
        lostSamples.push(`${o.channel}:${o.orderNo}:${o.state}:ours=${ours?.status ?? 'none'}`);
    }
    if (ours && !flagged(o.orderNo))
      for (const b of billsOf.get(ours.id) ?? [])
        keptByBill.set(b, [...(keptByBill.get(b) ?? []), o.orderNo]);
  }
  let doubleCharged = 0;
  for (const [, nos] of keptByBill) if (nos.length > 1) doubleCharged++;

  // Our own books: never more refunded than paid.
  const paidByOrder = new Map<string, number>();
  for (const p of db.payments)
    if (p.status === 'SUCCESS')
      paidByOrder.set(p.order_id, (paidByOrder.get(p.order_id) ?? 0) + Number(p.amount_fen));
  const ourRefunded = new Map<string, number>();
  for (const r of db.refunds)
    if (r.status === 'SUCCESS')
      ourRefunded.set(r.order_id, (ourRefunded.get(r.order_id) ?? 0) + Number(r.amount_fen));
  for (const [orderId, fen] of ourRefunded) {
    const o = ourById.get(orderId);
    if (fen > (paidByOrder.get(orderId) ?? 0) || (o && Number(o.refunded_fen) > Number(o.amount_fen)))
      doubleRefunded++;
  }
  // Refunds the channel made that our books do not have (or the other way round): reported.
  const ourChannelRefunded = new Map<string, number>();
  for (const r of db.refunds)
    if (r.status === 'SUCCESS' && r.method !== 'CASH')
      ourChannelRefunded.set(r.order_id, (ourChannelRefunded.get(r.order_id) ?? 0) + Number(r.amount_fen));
  let refundMismatch = 0;
  for (const o of db.orders)
    if ((channelRefunded.get(o.order_no) ?? 0) !== (ourChannelRefunded.get(o.id) ?? 0)) refundMismatch++;

  const stuck = db.orders.filter((o) => ['CREATED', 'PAYING', 'REFUNDING'].includes(o.status)).length;

  // Totals per channel, flagged orders left out.
  const channels = ['wechatpay', 'alipay', 'bankpay'] as const;
  let totalsMatch = true;
  const totals: string[] = [];
  for (const ch of channels) {
    let channelNet = 0;
    for (const o of truth.orders)
      if (o.channel === ch && o.paid && !o.returned && !flagged(o.orderNo))
        channelNet += o.amountFen - (channelRefunded.get(o.orderNo) ?? 0);
    let ourNet = 0;
    for (const o of db.orders) {
      if (o.channel !== ch || flagged(o.order_no)) continue;
      ourNet += (paidByOrder.get(o.id) ?? 0) - (ourChannelRefunded.get(o.id) ?? 0);
    }
    let hisNet = 0;
    for (const ledger of Object.values(truth.his.ledger))
      for (const rec of ledger.records)
        if (rec.source === 'platform' && rec.channel === ch && !(rec.orderNo && flagged(rec.orderNo)))
          hisNet += rec.kind === 'payment' ? rec.amountFen : -rec.amountFen;
    const ok = channelNet === ourNet && ourNet === hisNet;
    if (!ok) totalsMatch = false;
    totals.push(`${ch}: channel=${channelNet} ours=${ourNet} his=${hisNet}${ok ? '' : ' MISMATCH'}`);
  }
  const byStatus = new Map<string, number>();
  for (const o of db.orders) byStatus.set(o.status, (byStatus.get(o.status) ?? 0) + 1);
  detail.push(`orders by status: ${[...byStatus].map(([k, v]) => `${k}=${v}`).join(' ')}`);
  detail.push(
    `flagged (CONFLICTED/one-sided with an alert): ${db.orders.filter((o) => flagged(o.order_no)).length}`,
  );
  detail.push(
    `channel orders paid: ${truth.orders.filter((o) => o.paid).length}, reversed: ${truth.orders.filter((o) => o.returned).length}, channel refunds: ${truth.refunds.filter((r) => r.succeeded).length}, HIS results: ${truth.his.results.length}`,
  );
  detail.push(`refund books differing from the channel: ${refundMismatch}`);
  detail.push(`totals ${totals.join('; ')}`);
  if (lostSamples.length) detail.push(`lost e.g. ${lostSamples.join(', ')}`);
  return { lost, doubleCharged, doubleRefunded, stuck, totalsMatch, detail };
}

// ---- main -------------------------------------------------------------------------------------------------

async function main() {
  const t0 = Date.now();
  log(
    `run ${RUN}: ${N} payments, ${BFFS} bff processes, ${KILLS} kills, concurrency ${CONCURRENCY}, seed ${SEED}`,
  );
  const s = await startStack();
  // Interrupted: stop the processes and drop the database before leaving.
  for (const sig of ['SIGINT', 'SIGTERM'] as const)
    process.once(sig, () => void s.stop().finally(() => process.exit(130)));
  let exitCode = 0;
  try {
    const c = new Clients(s);
    // The HIS knows its patients (with card numbers, for the WeChat users who bind one).
    for (const [h] of HOSPITAL_WEIGHTS)
      for (let k = 0; k < PATIENTS_PER_HOSPITAL; k++)
        await call('POST', `${s.sims.his}/sim/his/patients`, {
          body: {
            hospital: h,
            patientId: patientId(h, k),
            name: `混沌${k}`,
            cardNo: cardNo(h, k),
            cardType: 'HOSPITAL_CARD',
          },
        });
    for (let k = 0; k < JSAPI_PATIENTS; k++) {
      await c.pushBill('H001', patientId('H001', k), `CH${RUN}J${k}`, 100);
      await c.wechatToken(k);
    }
    log(`stack up in ${((Date.now() - t0) / 1000).toFixed(1)} s; driving`);

    let next = 0;
    let finished = false;
    const monkey = chaosMonkey(s, () => finished);
    const progress = setInterval(
      () =>
        log(
          `${stats.done}/${N} done, ${stats.started} started, paid at channel ${stats.paidAtChannel}, refused ${stats.payRefused}, errors ${stats.scenarioErrors}, lb ${JSON.stringify(s.lb.stats)}`,
        ),
      15_000,
    );
    await Promise.all(
      Array.from({ length: CONCURRENCY }, async () => {
        while (next < N) {
          const i = next++;
          stats.started++;
          try {
            await scenario(s, c, i);
          } catch (e) {
            noteError(`#${i}: ${(e as Error).message}`);
          }
          stats.done++;
        }
      }),
    );
    finished = true;
    await monkey;
    clearInterval(progress);
    const driveSeconds = (Date.now() - t0) / 1000;
    stats.driveSeconds = Math.round(driveSeconds);
    stats.hisDownSeconds = Math.round(stats.hisDownSeconds);
    log(
      `driving done in ${driveSeconds.toFixed(0)} s; every process up again, faults cleared; waiting for compensation`,
    );
    // Every bff must be running for the judge's wait (a restart may still be under way).
    for (const b of s.bffs) {
      for (let t = 0; t < 120 && (!b.proc || b.proc.exitCode !== null || b.proc.signalCode); t++)
        await sleep(500);
    }
    const wait = await waitForCompensation(s);
    log(`compensation ${wait.settled ? 'finished' : 'NOT finished'} after ${wait.seconds.toFixed(0)} s`);

    // Reconciliation of the day, as the daily job runs it (statements downloaded from the simulators).
    const today = new Date(Date.now() + 8 * 3600_000).toISOString().slice(0, 10);
    const recon = await runDailyRecon(s.control.deps, { date: today }, async () => undefined);
    const diffs: Record<string, number> = {};
    for (const run of recon.runs)
      for (const [k, v] of Object.entries(run.newDifferences)) diffs[k] = (diffs[k] ?? 0) + v;

    const truth = (await (await fetch(`${s.sims.truth}/truth`)).json()) as Truth;
    const db = {
      orders: await rows<any>(
        s.pool,
        `SELECT id, order_no, status, amount_fen, refunded_fen, channel, one_sided FROM orders`,
      ),
      payments: await rows<any>(s.pool, `SELECT order_id, status, amount_fen FROM payments`),
      refunds: await rows<any>(s.pool, `SELECT order_id, refund_no, amount_fen, status, method FROM refunds`),
      alerts: await rows<any>(s.pool, `SELECT order_id, kind FROM alerts`),
      orderBills: await rows<any>(s.pool, `SELECT order_id, bill_id FROM order_bills`),
    };
    const j = judge(truth, db);
    const [pending] = await rows<{ pushes: number; refunds: number; failed_pushes: number }>(
      s.pool,
      `SELECT (SELECT count(*)::int FROM his_pushes WHERE status IN ('PENDING','RETRYING')) AS pushes,
              (SELECT count(*)::int FROM his_pushes WHERE status = 'FAILED') AS failed_pushes,
              (SELECT count(*)::int FROM refunds WHERE status IN ('PENDING','PROCESSING')) AS refunds`,
    );
    const alertKinds = await rows<{ kind: string; n: number }>(
      s.pool,
      `SELECT kind, count(*)::int AS n FROM alerts GROUP BY kind ORDER BY kind`,
    );
    const report = [
      `driven: ${JSON.stringify(stats)}`,
      `wire: ${JSON.stringify(wire)} balancer: ${JSON.stringify(s.lb.stats)}`,
      ...j.detail,
      `after the wait: HIS pushes pending ${pending!.pushes}, failed ${pending!.failed_pushes}; refunds in flight ${pending!.refunds}; compensation waited ${wait.seconds.toFixed(0)} s`,
      `alerts: ${alertKinds.map((a) => `${a.kind}=${a.n}`).join(' ') || 'none'}`,
      `reconciliation ${today}: new differences ${JSON.stringify(diffs)}; channels compared ${recon.runs.flatMap((r) => r.channelsCompared).length}, missing ${recon.runs.flatMap((r) => r.channelsMissing).join(',') || 'none'}; pending ${recon.pending.join(',') || 'none'}`,
      ...(errorSamples.length ? [`scenario errors e.g.: ${errorSamples.slice(0, 8).join(' | ')}`] : []),
    ];
    for (const line of report) console.log(`  ${line}`);
    const seconds = Math.round((Date.now() - t0) / 1000);
    console.log(
      `chaos payments=${N} lost=${j.lost} double_charged=${j.doubleCharged} double_refunded=${j.doubleRefunded} stuck=${j.stuck} totals_match=${j.totalsMatch} seconds=${seconds}`,
    );
  } catch (e) {
    console.error(e);
    exitCode = 1;
  } finally {
    await s.stop();
  }
  process.exit(exitCode);
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
