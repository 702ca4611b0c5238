import { spawn, type ChildProcess } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { signedHeaders } from '../../bff/src/modules/his/signature';
import { startTestStack, waitFor, type TestStack } from '../support/platform';

/**
 * Two bff instances on one database — one in this process, one a real process of its own (test/chaos/bff.ts,
 * the chaos run's entry) — and what must hold across them: a nonce is spent once for all, the open-API rate
 * limit and the card-binding failure limit are shared, one Idempotency-Key makes one order whichever process
 * each try reaches (and a claim left by a killed process is taken over), /readyz fails while the database
 * refuses connections and both recover when it returns, and scheduled work runs once per tick.
 */
describe('several bff processes on one database', () => {
  const root = path.resolve(__dirname, '../..');
  // Shared limits small enough to hit: 8 calls in any second, 10 in any ten seconds, per HIS app.
  const limits = { openApiRatePerSecond: 1, openApiRateBurst: 8 };
  let s: TestStack;
  let other: ChildProcess;
  let otherUrl: string;
  let dataDir: string;
  let admin: pg.Client;
  let dbName: string;
  const startedAt = Date.now();

  beforeAll(async () => {
    s = await startTestStack(limits);
    dbName = new URL(s.databaseUrl!).pathname.slice(1);
    dataDir = mkdtempSync(path.join(os.tmpdir(), 'hp-multi-'));
    other = spawn(process.execPath, ['--import', 'tsx', path.join(root, 'test/chaos/bff.ts')], {
      cwd: root,
      stdio: ['ignore', 'pipe', 'pipe'],
      env: {
        ...process.env,
        NODE_OPTIONS: '',
        NODE_ENV: 'test',
        HOST: '127.0.0.1',
        PORT: '0',
        DATABASE_URL: s.databaseUrl,
        DATABASE_POOL_MAX: '5',
        DATA_DIR: dataDir,
        LOG_LEVEL: 'silent',
        SANDBOX: '1',
        PATIENT_JWT_SECRET: s.configOverrides.patientJwtSecret,
        SECRETS_KEY: s.configOverrides.secretsKey,
        ADMIN_JWT_SECRET: randomBytes(32).toString('hex'),
        OPEN_API_RATE_PER_SECOND: String(limits.openApiRatePerSecond),
        OPEN_API_RATE_BURST: String(limits.openApiRateBurst),
        SIM_WECHAT_URL: s.sandbox.wechat.url,
      },
    });
    otherUrl = await new Promise<string>((resolve, reject) => {
      let out = '';
      other.stdout!.on('data', (c: Buffer) => {
        out += c.toString();
        const line = out.split('\n').find((l) => l.includes('"pid"'));
        if (line) resolve((JSON.parse(line) as { url: string }).url);
      });
      other.stderr!.on('data', (c: Buffer) => (out += c.toString()));
      other.once('exit', (c) => reject(new Error(`second bff exited ${c}: ${out}`)));
    });
    admin = new pg.Client({ connectionString: process.env.HP_TEST_ADMIN_URL });
    await admin.connect();
  }, 90_000);

  afterAll(async () => {
    await admin?.query(`ALTER DATABASE ${dbName} ALLOW_CONNECTIONS true`).catch(() => undefined);
    await admin?.end();
    if (other && other.exitCode === null) {
      const exited = new Promise((r) => other.once('exit', r));
      other.kill('SIGTERM');
      await exited;
    }
    await s?.stop();
    if (dataDir) rmSync(dataDir, { recursive: true, force: true });
  });

  const urlOf = (which: 'a' | 'b') => (which === 'a' ? s.platform.url : otherUrl);
  const call = async (
    which: 'a' | 'b',
    method: string,
    target: string,
    headers: Record<string, string>,
    body?: string,
  ) => {
    const res = await fetch(`${urlOf(which)}${target}`, { method, headers, body });
    return {
      status: res.status,
      headers: res.headers,
      body: (await res.json().catch(() => undefined)) as any,
    };
  };
  const signed = (hospital: string, method: string, target: string, body = '') => {
    const { appId, secret } = s.sandbox.keys.hospitals[hospital]!.his;
    return signedHeaders(appId, secret, method, target, body);
  };

  it('spends a nonce once for every process: a replay to the other is refused', async () => {
    const { hisBillNo } = await s.pushBill({ amountFen: 1100 });
    const target = `/open/v1/bills/${hisBillNo}`;
    const headers = signed('H001', 'GET', target);
    expect((await call('a', 'GET', target, headers)).status).toBe(200);
    const replay = await call('b', 'GET', target, headers);
    expect(replay.status).toBe(401);
    expect(replay.body.error.code).toBe('nonce_replayed');
  });

  it('shares the open-API rate limit: 20 calls at once over both processes, at most the 10 of ten seconds pass', async () => {
    const target = '/open/v1/bills/NO-SUCH-BILL';
    const replies = await Promise.all(
      Array.from({ length: 20 }, (_, i) =>
        call(i % 2 ? 'a' : 'b', 'GET', target, signed('H002', 'GET', target)),
      ),
    );
    const passed = replies.filter((r) => r.status === 404);
    const limited = replies.filter((r) => r.status === 429);
    // Per process, each would have let its own burst of 8 through (16).
    expect(passed.length).toBeGreaterThanOrEqual(limits.openApiRateBurst);
    expect(passed.length).toBeLessThanOrEqual(limits.openApiRatePerSecond * 10);
    expect(passed.length + limited.length).toBe(20);
    expect(limited[0]!.body.error.code).toBe('rate_limited');
    expect(limited[0]!.headers.get('retry-after')).toBe('1');
  });

  it('counts failed card bindings of an account across processes', async () => {
    s.sandbox.his.addPatient({ hospital: 'H001', patientId: 'P0020', name: '孙八', cardNo: '2026000120' });
    const token = await s.login('P0002');
    const bind = (which: 'a' | 'b', name: string) =>
      call(
        which,
        'POST',
        '/api/patient/cards',
        { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
        JSON.stringify({ name, cardNo: '2026000120' }),
      );
    const asked = s.sandbox.his.calls.length;
    for (let i = 0; i < 5; i++) expect((await bind(i % 2 ? 'a' : 'b', `猜${i}`)).status).toBe(422);
    // Per process, each would have allowed five: both now refuse, even the right name, before asking the HIS.
    for (const which of ['a', 'b'] as const) {
      const stopped = await bind(which, '孙八');
      expect(stopped.status).toBe(429);
      expect(stopped.body.error.code).toBe('rate_limited');
    }
    expect(s.sandbox.his.calls.length).toBe(asked + 5);
  });

  it('makes one order for one Idempotency-Key whichever process each try reaches; a dead claim is taken over', async () => {
    const token = await s.login('P0001');
    const { billId } = await s.pushBill({ amountFen: 2300 });
    const body = JSON.stringify({ billIds: [billId], channel: 'wechatpay', tradeType: 'NATIVE' });
    const headers = (key: string) => ({
      authorization: `Bearer ${token}`,
      'content-type': 'application/json',
      'idempotency-key': key,
    });
    const key = `multi-${randomBytes(6).toString('hex')}`;
    const tries = await Promise.all(
      Array.from({ length: 8 }, (_, i) => call(i % 2 ? 'a' : 'b', 'POST', '/api/orders', headers(key), body)),
    );
    const created = tries.filter((r) => r.status === 201);
    expect(created.length).toBeGreaterThanOrEqual(1);
    expect(new Set(created.map((r) => r.body.id)).size).toBe(1);
    expect(tries.every((r) => r.status === 201 || r.status === 409)).toBe(true);
    const replay = await call('b', 'POST', '/api/orders', headers(key), body);
    expect(replay.status).toBe(201);
    expect(replay.headers.get('idempotent-replayed')).toBe('true');
    expect(replay.body.id).toBe(created[0]!.body.id);
    const rows = (await s.platform.database.executor.executeSql(
      'SELECT count(*)::int AS n FROM order_bills WHERE bill_id = $1',
      [billId],
    )) as { rows: { n: number }[] };
    expect(rows.rows[0]!.n).toBe(1);

    // A process killed mid-request leaves its claim IN_PROGRESS. A fresh claim still means "in progress";
    // one older than the lease (60 s) is taken over and the request runs.
    const { billId: second } = await s.pushBill({ amountFen: 2400 });
    const body2 = JSON.stringify({ billIds: [second], channel: 'alipay', tradeType: 'NATIVE' });
    const hash = createHash('sha256').update(`POST\n/api/orders\n${body2}`).digest('hex');
    const [{ patientId }] = (
      (await s.platform.database.executor.executeSql(
        'SELECT patient_id AS "patientId" FROM bills WHERE id = $1',
        [second],
      )) as { rows: { patientId: string }[] }
    ).rows as [{ patientId: string }];
    const claim = (k: string, age: string) =>
      s.platform.database.executor.executeSql(
        `INSERT INTO idempotency_keys (scope, key, request_hash, status, created_at)
         VALUES ($1, $2, $3, 'IN_PROGRESS', now() - $4::interval)`,
        [`patient:${patientId}`, k, hash, age],
      );
    await claim('multi-fresh-claim', '5 seconds');
    const busy = await call('a', 'POST', '/api/orders', headers('multi-fresh-claim'), body2);
    expect(busy.status).toBe(409);
    await claim('multi-stale-claim', '5 minutes');
    const taken = await call('b', 'POST', '/api/orders', headers('multi-stale-claim'), body2);
    expect(taken.status).toBe(201);
    const again = await call('a', 'POST', '/api/orders', headers('multi-stale-claim'), body2);
    expect(again.headers.get('idempotent-replayed')).toBe('true');
    expect(again.body.id).toBe(taken.body.id);
  });

  it('/readyz fails on both while the database refuses connections, and both recover and work when it returns', async () => {
    const ready = async (which: 'a' | 'b') => {
      const r = await fetch(`${urlOf(which)}/readyz`).catch(() => undefined);
      return r
        ? { status: r.status, body: (await r.json()) as { checks: Record<string, string> } }
        : undefined;
    };
    expect((await ready('a'))?.status).toBe(200);
    expect((await ready('b'))?.status).toBe(200);
    await admin.query(`ALTER DATABASE ${dbName} ALLOW_CONNECTIONS false`);
    await admin.query(
      `SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1 AND pid <> pg_backend_pid()`,
      [dbName],
    );
    try {
      for (const which of ['a', 'b'] as const) {
        const down = await waitFor(
          async () => {
            const r = await ready(which);
            return r?.status === 503 ? r : undefined;
          },
          20_000,
          `instance ${which} not ready`,
        );
        expect(down.body.checks.database).toMatch(/^down: /);
      }
    } finally {
      await admin.query(`ALTER DATABASE ${dbName} ALLOW_CONNECTIONS true`);
    }
    for (const which of ['a', 'b'] as const)
      await waitFor(
        async () => (await ready(which))?.status === 200,
        30_000,
        `instance ${which} ready again`,
      );
    expect(other.exitCode).toBeNull();

    // Work goes on: an order made on the other process, paid with the notification lost, is found by a
    // payment-query job and written back to the HIS by a push job.
    const token = await s.login('P0001');
    const { billId } = await s.pushBill({ amountFen: 3100 });
    const o = await call(
      'b',
      'POST',
      '/api/orders',
      { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
      JSON.stringify({ billIds: [billId], channel: 'wechatpay', tradeType: 'NATIVE' }),
    );
    expect(o.status).toBe(201);
    s.sandbox.wechat.pay(o.body.orderNo, { notify: 'drop' });
    await waitFor(
      async () => {
        const r = await call('a', 'GET', `/api/orders/${o.body.id}`, { authorization: `Bearer ${token}` });
        return r.body?.status === 'SETTLED';
      },
      30_000,
      'the order settled after the outage',
    );
  }, 90_000);

  it('runs scheduled work once per tick across both processes', async () => {
    // Both processes registered the same schedules; pg-boss lets one process per tick create the job.
    const minutes = async () =>
      (
        (await s.platform.database.executor.executeSql(
          `SELECT to_char(date_trunc('minute', created_on), 'HH24:MI') AS minute, count(*)::int AS n,
                  count(*) FILTER (WHERE state = 'completed')::int AS done
           FROM pgboss.job WHERE name = 'housekeeping' AND created_on >= $1 GROUP BY 1 ORDER BY 1`,
          [new Date(startedAt)],
        )) as { rows: { minute: string; n: number; done: number }[] }
      ).rows;
    const seen = await waitFor(
      async () => {
        const m = await minutes();
        return m.filter((x) => x.done > 0).length >= 2 ? m : undefined;
      },
      170_000,
      'two housekeeping ticks',
    );
    for (const m of seen) expect(m.n).toBe(1);
    const schedules = (await s.platform.database.executor.executeSql(
      `SELECT count(*)::int AS n FROM pgboss.schedule WHERE name = 'housekeeping'`,
    )) as { rows: { n: number }[] };
    expect(schedules.rows[0]!.n).toBe(1);
  }, 200_000);
});
