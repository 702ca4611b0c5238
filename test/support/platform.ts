import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { loadConfig, type ConfigInput } from '@hp/config';
import { startPlatform, type Platform } from '../../bff/src/app';
import { generateSandboxKeys, type SandboxKeys } from '../../bff/src/sandbox/keys';
import {
  DEMO_HOSPITALS,
  DEMO_PATIENTS,
  provisionSandboxHospital,
  startSandbox,
  type Sandbox,
} from '../../bff/src/sandbox';
import type { HisClient } from '../../bff/src/modules/his/client';
import type { Clock } from '../../bff/src/lib/clock';
import { createTestDatabase } from '../setup/db';
import { patients } from '../../bff/src/db/schema';
import { newId } from '../../bff/src/lib/ids';
import { signedHeaders } from '../../bff/src/modules/his/signature';
import { buildBill } from './factories';
import { secretsOf } from './leak-scan';
import type { SimBillInput } from '../../bff/src/sandbox/his/simulator';

let cachedKeys: SandboxKeys | undefined;
let stacksStarted = 0;
/** Throwaway sandbox keys, generated once per test worker (RSA generation is the slow part). */
export function testKeys(): SandboxKeys {
  cachedKeys ??= generateSandboxKeys(DEMO_HOSPITALS.map((h) => h.code));
  return cachedKeys;
}

export interface TestStack {
  platform: Platform;
  sandbox: Sandbox;
  databaseUrl: string | undefined;
  configOverrides: Partial<ConfigInput>;
  /** Starts another bff on the same database (a restart after a crash, or a second instance). */
  startAnotherPlatform(opts?: { workers?: boolean; his?: HisClient }): Promise<Platform>;
  /** Calls the bff's HTTP API. */
  api(
    method: string,
    path: string,
    opts?: { token?: string; body?: unknown; headers?: Record<string, string>; platform?: Platform },
  ): Promise<{ status: number; body: any; headers: Headers }>;
  /** Pushes a bill through the HIS simulator and the signed open API; returns our bill id. */
  pushBill(
    overrides?: Partial<SimBillInput>,
  ): Promise<{ billId: string; hisBillNo: string; amountFen: number }>;
  /** Calls the open API as a hospital's HIS would: signed with its app secret. */
  his(
    method: string,
    target: string,
    body?: unknown,
    hospital?: string,
  ): Promise<{ status: number; body: any }>;
  /** Like {@link his}, but returns the raw reply (binary body, headers). */
  hisRaw(
    method: string,
    target: string,
    body?: unknown,
    hospital?: string,
  ): Promise<{ status: number; body: Buffer; headers: Headers }>;
  /** Sandbox login for a HIS patient; returns the bearer token. */
  login(hisPatientId?: string, hospitalCode?: string): Promise<string>;
  stop(): Promise<void>;
}

/**
 * A whole stack for an integration test: a fresh PostgreSQL database, the simulators on random ports with
 * throwaway keys, both demo hospitals provisioned, and the bff — all real, nothing mocked.
 */
export async function startTestStack(
  overrides: Partial<ConfigInput> = {},
  opts: { clock?: Clock; pglite?: boolean; workers?: boolean } = {},
): Promise<TestStack> {
  // PGlite (the demo's embedded database) in a temp directory, or a fresh PostgreSQL database.
  const pgliteDir = opts.pglite ? mkdtempSync(path.join(os.tmpdir(), 'hp-pglite-')) : undefined;
  const database = pgliteDir
    ? { url: undefined, drop: async () => rmSync(pgliteDir, { recursive: true, force: true }) }
    : await createTestDatabase();
  const keys = testKeys();
  const sandbox = await startSandbox(
    { nodeEnv: 'test', sandboxPorts: { wechatpay: 0, his: 0, alipay: 0, bankpay: 0 } },
    keys,
  );
  // Every log line of every stack goes to a file the run's global teardown scans for secrets and personal
  // data (test/setup/global-teardown.ts); TEST_LOG_LEVEL prints them instead, as before.
  const logDir = process.env.TEST_LOG_LEVEL ? undefined : process.env.HP_TEST_LOG_DIR;
  const logging: Partial<ConfigInput> = logDir
    ? {
        logLevel: 'trace',
        logFile: path.join(logDir, `worker-${process.env.JEST_WORKER_ID ?? 0}-${process.pid}.log`),
      }
    : { logLevel: (process.env.TEST_LOG_LEVEL as ConfigInput['logLevel']) ?? 'silent' };
  const configOverrides: Partial<ConfigInput> = {
    nodeEnv: 'test',
    databaseUrl: database.url,
    databasePoolMax: 10,
    sandbox: true,
    patientJwtSecret: randomBytes(32).toString('hex'),
    secretsKey: randomBytes(32).toString('hex'),
    dataDir: pgliteDir ?? '/tmp/hp-test-unused',
    ...logging,
    ...overrides,
  };
  const config = loadConfig({}, configOverrides);
  if (logDir) {
    // What the scan looks for: this stack's keys and secrets; and the sandbox's own long ids, which are no one's card.
    const allow = JSON.stringify(keys).match(/(?<!\d)\d{16,19}(?!\d)/g) ?? [];
    writeFileSync(
      path.join(logDir, `secrets-${process.pid}-${++stacksStarted}.json`),
      JSON.stringify({
        secrets: secretsOf(keys, [config.patientJwtSecret!, config.secretsKey!]),
        allow: [...new Set(allow)],
      }),
      { mode: 0o600 },
    );
  }
  const platforms: Platform[] = [];
  const start = async (o: { workers?: boolean; his?: HisClient } = {}) => {
    const p = await startPlatform(config, { ...o, clock: opts.clock, sandboxWechatUrl: sandbox.wechat.url });
    platforms.push(p);
    sandbox.his.setPlatformUrl(p.url);
    return p;
  };
  // workers: false — no job runs by itself; the test drives the job functions (with a movable clock).
  const platform = await start({ workers: opts.workers });
  for (const h of DEMO_HOSPITALS)
    await provisionSandboxHospital(platform.deps.db, platform.deps.secrets, sandbox, h);
  for (const p of DEMO_PATIENTS) {
    sandbox.his.addPatient(p);
    const hospitalId = DEMO_HOSPITALS.find((h) => h.code === p.hospital)!.id;
    await platform.deps.db
      .insert(patients)
      .values({ id: newId('pat'), hospitalId, hisPatientId: p.patientId, name: p.name })
      .onConflictDoNothing();
  }

  const stack: TestStack = {
    platform,
    sandbox,
    databaseUrl: database.url,
    configOverrides,
    startAnotherPlatform: start,
    async api(method, path, opts = {}) {
      const target = opts.platform ?? platform;
      const headers: Record<string, string> = { ...opts.headers };
      if (opts.token) headers.authorization = `Bearer ${opts.token}`;
      let body: string | undefined;
      if (opts.body !== undefined) {
        body = typeof opts.body === 'string' ? opts.body : JSON.stringify(opts.body);
        headers['content-type'] ??= 'application/json';
      }
      const res = await fetch(`${target.url}${path}`, { method, headers, body });
      const text = await res.text();
      let parsed: unknown = text;
      try {
        parsed = text ? JSON.parse(text) : undefined;
      } catch {
        /* not JSON */
      }
      return { status: res.status, body: parsed as any, headers: res.headers };
    },
    async pushBill(o = {}) {
      const bill = buildBill(o);
      const r = await sandbox.his.pushBill(bill);
      if (r.status !== 200) throw new Error(`pushBill failed: ${r.status} ${JSON.stringify(r.body)}`);
      return { billId: r.body.results[0].billId, hisBillNo: bill.hisBillNo!, amountFen: bill.amountFen };
    },
    async his(method, target, body, hospital = 'H001') {
      const { appId, secret } = keys.hospitals[hospital]!.his;
      const text = body === undefined ? '' : JSON.stringify(body);
      const res = await fetch(`${platform.url}${target}`, {
        method,
        body: body === undefined ? undefined : text,
        headers: signedHeaders(appId, secret, method, target, text),
      });
      return { status: res.status, body: (await res.json().catch(() => undefined)) as any };
    },
    async hisRaw(method, target, body, hospital = 'H001') {
      const { appId, secret } = keys.hospitals[hospital]!.his;
      const text = body === undefined ? '' : JSON.stringify(body);
      const res = await fetch(`${platform.url}${target}`, {
        method,
        body: body === undefined ? undefined : text,
        headers: signedHeaders(appId, secret, method, target, text),
      });
      return { status: res.status, body: Buffer.from(await res.arrayBuffer()), headers: res.headers };
    },
    async login(hisPatientId = 'P0001', hospitalCode = 'H001') {
      const r = await stack.api('POST', '/api/patient/sandbox-login', {
        body: { hospitalCode, hisPatientId },
      });
      if (r.status !== 200) throw new Error(`login failed: ${r.status} ${JSON.stringify(r.body)}`);
      return r.body.token as string;
    },
    async stop() {
      for (const p of platforms) await p.stop().catch(() => undefined);
      await sandbox.close();
      await database.drop();
    },
  };
  return stack;
}

/** Polls `fn` until it returns a truthy value or `timeoutMs` passes. */
export async function waitFor<T>(
  fn: () => Promise<T | undefined | null | false>,
  timeoutMs = 15_000,
  label = 'condition',
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  while (Date.now() < deadline) {
    try {
      const v = await fn();
      if (v) return v;
    } catch (e) {
      last = e;
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`timed out waiting for ${label}${last ? `: ${(last as Error).message}` : ''}`);
}

/** A clock tests can move forward. */
export function movableClock(): Clock & { advance(ms: number): void } {
  let offset = 0;
  return { now: () => new Date(Date.now() + offset), advance: (ms) => void (offset += ms) };
}
