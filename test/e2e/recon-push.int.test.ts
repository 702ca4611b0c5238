import { createHash } from 'node:crypto';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { and, eq, sql } from 'drizzle-orm';
import { adminAuditLogs, alerts, patients } from '../../bff/src/db/schema';
import { reconDeliveries, reconPushTargets } from '../../bff/src/db/schema-recon';
import { createAdminUser } from '../../bff/src/modules/admin/auth-service';
import { runDailyRecon } from '../../bff/src/modules/recon/daily-job';
import { addDays, beijingDate } from '../../bff/src/modules/recon/dates';
import { runReconciliation } from '../../bff/src/modules/recon/engine';
import { deadlineOf, runReconPush } from '../../bff/src/modules/recon/file-push';
import { platformReconFile } from '../../bff/src/modules/recon/platform-file';
import { targetProblem } from '../../bff/src/modules/recon/push-targets';
import { PushError, uploadFile } from '../../bff/src/modules/recon/push-transport';
import { ProvisionError, provisionHospital } from '../../bff/src/modules/system/provision';
import {
  sshKeyPair,
  startFtpServer,
  startSftpServer,
  type FtpTestServer,
  type SftpTestServer,
} from '../support/file-servers';
import { startTestStack, waitFor, type TestStack } from '../support/platform';
import { generateReconDay } from '../support/recon-day';

const tls = (f: string) => readFileSync(path.join(__dirname, '../fixtures/tls', f), 'utf8');
const SFTP_PASSWORD = 'sftp-Pass-2026';
const FTP_PASSWORD = 'ftp-Pass-2026';
const ADMIN_PASSWORD = 'Passw0rd-push';

/**
 * The daily reconciliation file pushed to the HIS's SFTP and FTP servers: real ssh2 and ftp-srv servers on
 * loopback with temporary roots, the bff's own client code, the delivery record and its retries.
 */
describe('reconciliation file push', () => {
  let s: TestStack;
  let sftp: SftpTestServer;
  let ftp: FtpTestServer;
  let ftps: FtpTestServer;
  let token: string;
  const clientKey = sshKeyPair();
  /** A reconciled day whose deadline (12:00 tomorrow) is hours away, and one whose deadline has passed. */
  const today = beijingDate(new Date());
  const oldDay = addDays(today, -3);
  const yyyymmdd = (d: string) => d.replaceAll('-', '');
  const fileName = (d: string) => `recon_H001_${yyyymmdd(d)}.csv`;

  beforeAll(async () => {
    s = await startTestStack({}, { workers: false });
    [sftp, ftp, ftps] = await Promise.all([
      startSftpServer({
        users: { his: { password: SFTP_PASSWORD }, hiskey: { publicKey: clientKey.publicSsh } },
      }),
      startFtpServer({ user: 'his', password: FTP_PASSWORD }),
      startFtpServer({
        user: 'his',
        password: FTP_PASSWORD,
        tls: { key: tls('server.key'), cert: tls('server.pem') },
      }),
    ]);
    const [{ id: patientId }] = (await s.platform.deps.db
      .select({ id: patients.id })
      .from(patients)
      .where(eq(patients.hisPatientId, 'P0001'))) as [{ id: string }];
    for (const [date, prefix] of [
      [today, 'T'],
      [oldDay, 'O'],
    ] as const) {
      await generateReconDay(s.platform.deps.db, {
        hospitalId: 'hosp_h001',
        accountId: 'ma_h001_wechatpay',
        patientId,
        date,
        n: 20,
        k: 1,
        prefix,
      });
      await runReconciliation(s.platform.deps, { hospitalId: 'hosp_h001', date, triggeredBy: 'test' });
    }
    await createAdminUser(s.platform.deps.db, {
      username: 'push_admin',
      displayName: '推送管理员',
      password: ADMIN_PASSWORD,
      roleCode: 'super_admin',
    });
    const login = await s.api('POST', '/admin/api/auth/login', {
      body: { username: 'push_admin', password: ADMIN_PASSWORD },
    });
    token = login.body.accessToken;
  });
  afterAll(async () => {
    await Promise.all([sftp?.close(), ftp?.close(), ftps?.close()]);
    await s?.stop();
  });

  const db = () => s.platform.deps.db;
  const admin = (method: string, p: string, body?: unknown) =>
    s.api(method, `/admin/api${p}`, { token, body });
  async function createTarget(body: Record<string, unknown>): Promise<{ id: string }> {
    const r = await admin('POST', '/recon/push-targets', { hospitalId: 'hosp_h001', ...body });
    expect(r.status).toBe(201);
    return r.body;
  }
  const sftpTarget = (name: string, o: Record<string, unknown> = {}) =>
    createTarget({
      name,
      protocol: 'sftp',
      host: '127.0.0.1',
      port: sftp.port,
      username: 'his',
      password: SFTP_PASSWORD,
      remoteDir: `/${name}`,
      settings: { hostKeySha256: sftp.hostKey.fingerprint },
      ...o,
    });
  /** A target on the local FTP (or FTPS) server's /in, logging in as `his`. */
  const ftpTarget = (name: string, protocol: 'ftp' | 'ftps', o: Record<string, unknown> = {}) =>
    createTarget({
      name,
      protocol,
      host: '127.0.0.1',
      port: protocol === 'ftp' ? ftp.port : ftps.port,
      username: 'his',
      password: FTP_PASSWORD,
      remoteDir: '/in',
      ...o,
    });
  const delivery = async (targetId: string, date: string) =>
    (
      await db()
        .select()
        .from(reconDeliveries)
        .where(and(eq(reconDeliveries.targetId, targetId), eq(reconDeliveries.businessDate, date)))
    )[0];
  const pushJobs = async (targetId: string) =>
    (
      (await db().execute(
        sql`SELECT state, singleton_key, start_after, data FROM pgboss.job
            WHERE name = 'recon-push' AND data->>'targetId' = ${targetId} ORDER BY created_on`,
      )) as unknown as {
        rows: { state: string; singleton_key: string; start_after: Date; data: { date: string } }[];
      }
    ).rows;
  const dir = (root: string, name: string) => {
    mkdirSync(path.join(root, name), { recursive: true });
    return path.join(root, name);
  };
  const sha256 = (b: Buffer | string) => createHash('sha256').update(b).digest('hex');

  it('the daily job enqueues the push and the worker delivers the exact file over SFTP, via a temporary name', async () => {
    const remote = dir(sftp.root, 'daily');
    const created = await admin('POST', '/recon/push-targets', {
      hospitalId: 'hosp_h001',
      name: 'daily',
      protocol: 'sftp',
      host: '127.0.0.1',
      port: sftp.port,
      username: 'his',
      password: SFTP_PASSWORD,
      remoteDir: '/daily/',
      settings: { hostKeySha256: sftp.hostKey.fingerprint },
    });
    expect(created.status).toBe(201);
    expect(created.body).toMatchObject({
      remoteDir: '/daily',
      deadline: '12:00',
      hasPassword: true,
      enabled: true,
    });
    expect(JSON.stringify(created.body)).not.toContain(SFTP_PASSWORD);
    const targetId = created.body.id as string;

    await runDailyRecon(s.platform.deps, { date: today }, async () => undefined);
    const [job] = await pushJobs(targetId);
    expect(job).toMatchObject({
      state: 'created',
      singleton_key: `${targetId}:${today}`,
      data: { date: today },
    });

    // A bff with workers picks the job up.
    const worker = await s.startAnotherPlatform({ workers: true });
    s.sandbox.his.setPlatformUrl(s.platform.url);
    try {
      await waitFor(async () => (await delivery(targetId, today))?.status === 'DELIVERED', 8000, 'DELIVERED');
    } finally {
      await worker.stop();
    }

    const expected = await platformReconFile(db(), 'hosp_h001', today);
    const open = await s.hisRaw('GET', `/open/v1/recon/${today}/file`);
    expect(open.body.toString('utf8')).toBe(expected);
    const onServer = readFileSync(path.join(remote, fileName(today)));
    expect(onServer.equals(open.body)).toBe(true);
    expect(readdirSync(remote)).toEqual([fileName(today)]);
    const d = await delivery(targetId, today);
    expect(d).toMatchObject({
      status: 'DELIVERED',
      fileName: fileName(today),
      remotePath: `/daily/${fileName(today)}`,
      fileSha256: sha256(onServer),
      fileBytes: onServer.length,
      attempts: 1,
      lastError: null,
      triggeredBy: 'job:recon-push',
    });
    expect(d!.deliveredAt).toBeInstanceOf(Date);
    // Written under a temporary name, renamed when its size was checked.
    const mine = sftp.ops.filter((o) => o.includes('/daily/'));
    const temp = /^OPEN (\/daily\/\.recon_H001_\d{8}\.csv\.[0-9a-f]{8}\.part)$/.exec(mine[0]!)?.[1];
    expect(temp).toBeDefined();
    expect(mine.slice(1)).toEqual([
      `STAT ${temp}`,
      `RENAME ${temp} -> /daily/${fileName(today)}`,
      `STAT /daily/${fileName(today)}`,
    ]);
  });

  it('a refused login is recorded and retried in RECON_PUSH_RETRY_MINUTES; fixing the password delivers', async () => {
    const remote = dir(sftp.root, 'retry');
    const { id } = await sftpTarget('retry', { password: 'wrong-password' });
    const before = Date.now();
    const r = await runReconPush(s.platform.deps, { targetId: id, date: today });
    expect(r?.outcome).toBe('failed');
    const d = await delivery(id, today);
    expect(d).toMatchObject({ status: 'PENDING', attempts: 1, fileSha256: null, deliveredAt: null });
    expect(d!.lastError).toMatch(/login refused for user his/);
    expect(d!.lastError).not.toContain('wrong-password');
    const jobs = await pushJobs(id);
    expect(jobs).toHaveLength(1);
    expect(jobs[0]!.singleton_key).toBe(`${id}:${today}`);
    const delay = new Date(jobs[0]!.start_after).getTime() - before;
    expect(delay).toBeGreaterThan(9.5 * 60_000);
    expect(delay).toBeLessThan(10.5 * 60_000);
    expect(readdirSync(remote)).toEqual([]);

    // The HIS tells us the right password; the next try (the scheduled job) delivers.
    const fixed = await admin('PATCH', `/recon/push-targets/${id}`, {
      password: SFTP_PASSWORD,
    });
    expect(fixed.status).toBe(200);
    expect(JSON.stringify(fixed.body)).not.toContain(SFTP_PASSWORD);
    const [auditRow] = await db()
      .select()
      .from(adminAuditLogs)
      .where(and(eq(adminAuditLogs.action, 'recon.push_target.update'), eq(adminAuditLogs.targetId, id)));
    expect(auditRow?.after).toMatchObject({ secretsChanged: ['password'] });
    expect(JSON.stringify(auditRow)).not.toContain(SFTP_PASSWORD);

    const again = await runReconPush(s.platform.deps, { targetId: id, date: today });
    expect(again?.outcome).toBe('delivered');
    expect(await delivery(id, today)).toMatchObject({ status: 'DELIVERED', attempts: 2, lastError: null });
    expect(readFileSync(path.join(remote, fileName(today)), 'utf8')).toBe(
      await platformReconFile(db(), 'hosp_h001', today),
    );
  });

  it('refuses a server whose host key is not the pinned one, before sending any credential', async () => {
    const remote = dir(sftp.root, 'mitm');
    const { id } = await sftpTarget('mitm', { settings: { hostKeySha256: sshKeyPair().fingerprint } });
    const refused = sftp.refusedLogins;
    const opsBefore = sftp.ops.length;
    const r = await runReconPush(s.platform.deps, { targetId: id, date: today });
    expect(r?.outcome).toBe('failed');
    const d = await delivery(id, today);
    expect(d!.status).toBe('PENDING');
    expect(d!.lastError).toContain(`host key mismatch: the server presented ${sftp.hostKey.fingerprint}`);
    expect(sftp.refusedLogins).toBe(refused);
    expect(sftp.ops.length).toBe(opsBefore);
    expect(readdirSync(remote)).toEqual([]);

    // Production refuses an SFTP server with no pinned host key at all: in the settings and at connect.
    expect(targetProblem({ protocol: 'sftp', settings: {}, password: 'x' }, true)).toMatch(
      /^settings\.hostKeySha256: required in production/,
    );
    // …and plain FTP (password and file in clear) unless a person accepted it in so many words.
    expect(targetProblem({ protocol: 'ftp', settings: {}, password: 'x' }, true)).toMatch(
      /^protocol: plain FTP/,
    );
    expect(
      targetProblem({ protocol: 'ftp', settings: { allowPlaintext: true }, password: 'x' }, true),
    ).toBeNull();
    expect(targetProblem({ protocol: 'ftp', settings: {}, password: 'x' }, false)).toBeNull();
    expect(
      targetProblem({ protocol: 'ftps', settings: { allowPlaintext: true }, password: 'x' }, true),
    ).toMatch(/^settings\.allowPlaintext: plain FTP only/);
    await expect(
      uploadFile(
        {
          protocol: 'sftp',
          host: '127.0.0.1',
          port: sftp.port,
          username: 'his',
          password: SFTP_PASSWORD,
          requireHostKey: true,
        },
        '/mitm',
        'x.csv',
        Buffer.from('x'),
        2000,
      ),
    ).rejects.toThrow(
      new PushError(
        'refused',
        'the SFTP host key fingerprint (settings.hostKeySha256) is required in production',
      ),
    );
  });

  it('logs in with a private key instead of a password', async () => {
    const remote = dir(sftp.root, 'bykey');
    const { id } = await sftpTarget('bykey', {
      username: 'hiskey',
      password: undefined,
      privateKey: clientKey.privatePem,
    });
    const r = await runReconPush(s.platform.deps, { targetId: id, date: today });
    expect(r?.outcome).toBe('delivered');
    expect(readdirSync(remote)).toEqual([fileName(today)]);
    const listed = await admin('GET', '/recon/push-targets?hospitalId=hosp_h001');
    const t = listed.body.items.find((x: { id: string }) => x.id === id);
    expect(t).toMatchObject({ hasPassword: false, hasPrivateKey: true, username: 'hiskey' });
    expect(JSON.stringify(listed.body)).not.toMatch(/PRIVATE KEY|sftp-Pass/);
  });

  it('a failed rename leaves no temporary file behind', async () => {
    const remote = dir(sftp.root, 'quota');
    const { id } = await sftpTarget('quota');
    sftp.faults.rename = true;
    try {
      const r = await runReconPush(s.platform.deps, { targetId: id, date: today });
      expect(r?.outcome).toBe('failed');
    } finally {
      sftp.faults.rename = false;
    }
    expect((await delivery(id, today))!.lastError).toMatch(/renaming .*quota exceeded/);
    expect(sftp.ops.filter((o) => o.startsWith('REMOVE /quota/.recon_H001_'))).toHaveLength(1);
    expect(readdirSync(remote)).toEqual([]);
  });

  it('past the deadline without success: FAILED and one critical alert; an admin delivers it later', async () => {
    const remote = dir(sftp.root, 'late');
    const { id } = await sftpTarget('late', { password: 'wrong-password' });
    expect(deadlineOf(oldDay, '12:00').getTime()).toBeLessThan(Date.now());
    const r = await runReconPush(s.platform.deps, { targetId: id, date: oldDay });
    expect(r).toMatchObject({ outcome: 'failed', retryAt: null });
    expect(await delivery(id, oldDay)).toMatchObject({ status: 'FAILED', attempts: 1 });
    expect(await pushJobs(id)).toEqual([]);
    const pushAlerts = () =>
      db()
        .select()
        .from(alerts)
        .where(and(eq(alerts.kind, 'recon_push_failed'), sql`${alerts.data}->>'targetId' = ${id}`));
    const [alert] = await pushAlerts();
    expect(alert).toMatchObject({ hospitalId: 'hosp_h001', severity: 'critical', status: 'OPEN' });
    expect(alert!.message).toContain(`${oldDay} 对账文件未能在 12:00 前推送到「late」`);
    expect(alert!.message).not.toContain('wrong-password');

    // Another late try fails again: recorded, but no second alert.
    await runReconPush(s.platform.deps, { targetId: id, date: oldDay });
    expect(await delivery(id, oldDay)).toMatchObject({ status: 'FAILED', attempts: 2 });
    expect(await pushAlerts()).toHaveLength(1);

    // An admin trying before the password is fixed gets the reason; the try is recorded.
    const early = await admin('POST', '/recon/deliveries', { targetId: id, date: oldDay });
    expect([early.status, early.body.error.code]).toEqual([502, 'his_error']);
    expect(early.body.error.message).toMatch(/^the file was not delivered: login refused/);
    expect(await delivery(id, oldDay)).toMatchObject({ status: 'FAILED', attempts: 3 });
    expect(await pushAlerts()).toHaveLength(1);

    // Fixed, an admin sends it now.
    expect((await admin('PATCH', `/recon/push-targets/${id}`, { password: SFTP_PASSWORD })).status).toBe(200);
    const now = await admin('POST', '/recon/deliveries', { targetId: id, date: oldDay });
    expect(now.status).toBe(200);
    expect(now.body).toMatchObject({ outcome: 'delivered', delivery: { status: 'DELIVERED', attempts: 4 } });
    expect(now.body.delivery.triggeredBy).toMatch(/^admin:/);
    expect(readFileSync(path.join(remote, fileName(oldDay)), 'utf8')).toBe(
      await platformReconFile(db(), 'hosp_h001', oldDay),
    );
  });

  it('re-delivery is idempotent unless forced; a forced one replaces the file atomically; audited', async () => {
    const remote = dir(sftp.root, 'again');
    const { id } = await sftpTarget('again');
    expect((await admin('POST', '/recon/deliveries', { targetId: id, date: today })).body.outcome).toBe(
      'delivered',
    );
    const first = (await delivery(id, today))!;
    const opens = () => sftp.ops.filter((o) => o.startsWith('OPEN /again/')).length;
    expect(opens()).toBe(1);

    // Again without force, by an admin or by the job: nothing sent, nothing changed.
    const same = await admin('POST', '/recon/deliveries', { targetId: id, date: today });
    expect(same.status).toBe(200);
    expect(same.body.outcome).toBe('already_delivered');
    expect((await runReconPush(s.platform.deps, { targetId: id, date: today }))?.outcome).toBe(
      'already_delivered',
    );
    expect(await delivery(id, today)).toEqual(first);
    expect(opens()).toBe(1);

    // Forced: sent again over the existing file (this server does not rename over a file: removed first).
    const forced = await admin('POST', '/recon/deliveries', { targetId: id, date: today, force: true });
    expect(forced.body).toMatchObject({
      outcome: 'delivered',
      delivery: { status: 'DELIVERED', attempts: 2 },
    });
    expect(opens()).toBe(2);
    expect(sftp.ops).toContain(`REMOVE /again/${fileName(today)}`);
    expect(readdirSync(remote)).toEqual([fileName(today)]);
    expect(sha256(readFileSync(path.join(remote, fileName(today))))).toBe(first.fileSha256);
    const audits = await db()
      .select()
      .from(adminAuditLogs)
      .where(eq(adminAuditLogs.action, 'recon.redeliver'));
    expect(
      audits
        .filter((a) => (a.after as { targetId: string }).targetId === id)
        .map((a) => a.after as { outcome: string; force: boolean }),
    ).toEqual([
      expect.objectContaining({ outcome: 'delivered', force: false }),
      expect.objectContaining({ outcome: 'already_delivered', force: false }),
      expect.objectContaining({ outcome: 'delivered', force: true }),
    ]);

    // A day that was never reconciled is not sent, and nothing is recorded.
    const never = addDays(today, -30);
    const refused = await admin('POST', '/recon/deliveries', { targetId: id, date: never });
    expect(refused.status).toBe(409);
    expect(refused.body.error.message).toContain('has not been reconciled');
    expect(await delivery(id, never)).toBeUndefined();
  });

  it('FTP: the exact file through a temporary name; FTPS with the HIS certificate checked', async () => {
    const plain = await ftpTarget('ftp', 'ftp', {
      settings: { fileNamePattern: 'DZ_{hospital}_{date}.csv', passive: true },
    });
    const ftpDir = dir(ftp.root, 'in');
    const expected = await platformReconFile(db(), 'hosp_h001', today);
    expect((await runReconPush(s.platform.deps, { targetId: plain.id, date: today }))?.outcome).toBe(
      'delivered',
    );
    expect(readdirSync(ftpDir)).toEqual([`DZ_H001_${today}.csv`]);
    const [stor, rnto] = ftp.ops;
    expect(stor).toMatch(new RegExp(`^STOR /in/\\.DZ_H001_${today}\\.csv\\.[0-9a-f]{8}\\.part$`));
    expect(rnto).toBe(`RNTO /in/DZ_H001_${today}.csv`);
    expect(readFileSync(path.join(ftpDir, `DZ_H001_${today}.csv`), 'utf8')).toBe(expected);
    expect(await delivery(plain.id, today)).toMatchObject({
      status: 'DELIVERED',
      remotePath: `/in/DZ_H001_${today}.csv`,
      fileSha256: sha256(expected),
      fileBytes: Buffer.byteLength(expected),
    });

    // A wrong FTP password: recorded, retried.
    const bad = await ftpTarget('ftp-bad', 'ftp', { password: 'nope' });
    expect((await runReconPush(s.platform.deps, { targetId: bad.id, date: today }))?.outcome).toBe('failed');
    expect((await delivery(bad.id, today))!.lastError).toMatch(/cannot log in to 127\.0\.0\.1:\d+ as his/);
    expect(await pushJobs(bad.id)).toHaveLength(1);

    // FTPS (explicit TLS): trusted through the hospital's CA; without it the certificate is refused.
    const ftpsDir = dir(ftps.root, 'in');
    const secure = await ftpTarget('ftps', 'ftps', { settings: { caCertPem: tls('ca.pem') } });
    expect((await runReconPush(s.platform.deps, { targetId: secure.id, date: today }))?.outcome).toBe(
      'delivered',
    );
    expect(readFileSync(path.join(ftpsDir, fileName(today)), 'utf8')).toBe(expected);
    const untrusted = await ftpTarget('ftps-untrusted', 'ftps');
    expect((await runReconPush(s.platform.deps, { targetId: untrusted.id, date: today }))?.outcome).toBe(
      'failed',
    );
    expect((await delivery(untrusted.id, today))!.lastError).toMatch(/certificate/i);
    expect(readdirSync(ftpsDir)).toEqual([fileName(today)]);
  });

  it('admin API: bad input is refused with a clear message and changes nothing; disable; list deliveries', async () => {
    const count = async () => (await db().select().from(reconPushTargets)).length;
    const before = await count();
    const base = {
      hospitalId: 'hosp_h001',
      name: 'bad',
      protocol: 'sftp',
      host: '127.0.0.1',
      username: 'his',
      password: 'x',
    };
    const cases: [Record<string, unknown>, RegExp][] = [
      [{ ...base, password: undefined }, /^password: SFTP needs a password or a privateKey$/],
      [{ ...base, host: 'bad host!' }, /^host: a host name or an IP address$/],
      [{ ...base, deadline: '25:00' }, /^deadline: HH:mm/],
      [{ ...base, port: 70000 }, /^port:/],
      [{ ...base, remoteDir: 'relative/dir' }, /^remoteDir: an absolute directory/],
      [
        { ...base, settings: { hostKeySha256: 'abc' } },
        /^settings\.hostKeySha256: a SHA-256 host key fingerprint/,
      ],
      [
        { ...base, settings: { fileNamePattern: 'recon.csv' } },
        /^settings\.fileNamePattern: must contain \{date\}/,
      ],
      [{ ...base, settings: { fileNamePattern: '{oops}_{date}.csv' } }, /unknown placeholder/],
      [{ ...base, privateKey: 'not a key' }, /^privateKey: not a private key/],
      [{ ...base, protocol: 'ftp', privateKey: clientKey.privatePem }, /^privateKey: SFTP only$/],
      [
        { ...base, protocol: 'ftp', settings: { passive: false } },
        /^settings\.passive: passive mode is the only/,
      ],
      [{ ...base, protocol: 'scp' }, /^protocol:/],
      [{ ...base, extra: 1 }, /extra/],
      [{ ...base, hospitalId: undefined }, /^hospitalId: required/],
    ];
    for (const [body, message] of cases) {
      const r = await admin('POST', '/recon/push-targets', body);
      expect([r.status, r.body.error.code]).toEqual([400, 'validation_failed']);
      expect(r.body.error.message).toMatch(message);
    }
    const dup = await admin('POST', '/recon/push-targets', { ...base, name: 'daily' });
    expect([dup.status, dup.body.error.code]).toEqual([409, 'conflict']);
    expect(await count()).toBe(before);

    // Updates are checked the same way (the merged target must hold together).
    const [daily] = await db().select().from(reconPushTargets).where(eq(reconPushTargets.name, 'daily'));
    const bad = await admin('PATCH', `/recon/push-targets/${daily!.id}`, {
      protocol: 'ftp',
      privateKey: 'x',
    });
    expect([bad.status, bad.body.error.code]).toEqual([400, 'validation_failed']);
    expect((await db().select().from(reconPushTargets).where(eq(reconPushTargets.id, daily!.id)))[0]).toEqual(
      daily,
    );
    expect((await admin('PATCH', '/recon/push-targets/rpt_nope', { enabled: false })).status).toBe(404);

    // Disabled: the job skips it and the daily run no longer enqueues it.
    const off = await admin('PATCH', `/recon/push-targets/${daily!.id}`, { enabled: false });
    expect(off.body.enabled).toBe(false);
    const [disableAudit] = await db()
      .select()
      .from(adminAuditLogs)
      .where(
        and(eq(adminAuditLogs.action, 'recon.push_target.disable'), eq(adminAuditLogs.targetId, daily!.id)),
      );
    expect(disableAudit?.before).toMatchObject({ enabled: true });
    expect(await runReconPush(s.platform.deps, { targetId: daily!.id, date: oldDay })).toBeNull();
    expect(await delivery(daily!.id, oldDay)).toBeUndefined();
    expect(
      (await admin('POST', '/recon/deliveries', { targetId: daily!.id, date: today })).body.error.code,
    ).toBe('conflict');

    const list = await admin(
      'GET',
      `/recon/deliveries?status=DELIVERED&from=${today}&to=${today}&pageSize=100`,
    );
    expect(list.status).toBe(200);
    expect(
      list.body.items.every(
        (d: { status: string; businessDate: string }) => d.status === 'DELIVERED' && d.businessDate === today,
      ),
    ).toBe(true);
    expect(list.body.items.map((d: { targetName: string }) => d.targetName)).toEqual(
      expect.arrayContaining(['daily', 'retry', 'bykey', 'again', 'ftp', 'ftps']),
    );
    const one = await admin('GET', `/recon/deliveries?targetId=${daily!.id}`);
    expect(one.body).toMatchObject({ total: 1, items: [{ targetId: daily!.id, status: 'DELIVERED' }] });
    expect((await admin('GET', '/recon/deliveries?status=LOST')).status).toBe(400);
  });

  it('a day whose latest reconciliation run failed is not sent: recorded as a failed try, refused to admins', async () => {
    const day = addDays(today, -10);
    await db().execute(sql`
      INSERT INTO recon_runs (id, hospital_id, business_date, status, triggered_by, error_message, finished_at)
      VALUES ('rcr_push_failed_run', 'hosp_h001', ${day}, 'FAILED', 'test', 'boom', now())`);
    const [retry] = await db().select().from(reconPushTargets).where(eq(reconPushTargets.name, 'retry'));
    const r = await runReconPush(s.platform.deps, { targetId: retry!.id, date: day });
    expect(r?.outcome).toBe('failed');
    expect(await delivery(retry!.id, day)).toMatchObject({
      status: 'FAILED', // the deadline of a day ten days ago is long past
      attempts: 1,
      lastError: `the latest reconciliation run of ${day} is FAILED, not DONE: the file is not sent`,
    });
    expect(readdirSync(path.join(sftp.root, 'retry'))).toEqual([fileName(today)]);
    const refused = await admin('POST', '/recon/deliveries', { targetId: retry!.id, date: day });
    expect([refused.status, refused.body.error.code]).toEqual([409, 'conflict']);
  });

  it('provisioning: a reconPush block is checked like the admin API and upserted by name', async () => {
    const files = mkdtempSync(path.join(tmpdir(), 'hp-provision-push-'));
    try {
      writeFileSync(path.join(files, 'his.secret'), 'y'.repeat(40));
      writeFileSync(path.join(files, 'sftp.password'), `${SFTP_PASSWORD}\n`);
      writeFileSync(path.join(files, 'ca.pem'), tls('ca.pem'));
      const hospital = (reconPush: unknown[]) => {
        const f = path.join(files, 'hospital.json');
        writeFileSync(
          f,
          JSON.stringify({
            id: 'hosp_push1',
            code: 'PUSH1',
            name: '推送测试医院',
            his: { appId: 'his_push1', secretFile: 'his.secret' },
            reconPush,
          }),
        );
        return f;
      };
      const provision = (f: string, production = false) =>
        provisionHospital(db(), s.platform.deps.secrets, f, { production, outboundTimeoutMs: 3000 });
      const sftpEntry = {
        name: 'his-sftp',
        protocol: 'sftp',
        host: '127.0.0.1',
        port: sftp.port,
        username: 'his',
        passwordFile: 'sftp.password',
        remoteDir: '/prov',
        deadline: '11:30',
      };
      const cases: [unknown[], RegExp, boolean?][] = [
        [[{ ...sftpEntry, passwordFile: undefined }], /^reconPush\.0\.passwordFile: SFTP needs a password/],
        [[{ ...sftpEntry, passwordFile: 'missing' }], /^reconPush\.0\.passwordFile: cannot read missing/],
        [[{ ...sftpEntry, deadline: '12' }], /^reconPush\.0\.deadline: HH:mm/],
        [[sftpEntry], /^reconPush\.0\.hostKeySha256: required in production/, true],
        [[{ ...sftpEntry, protocol: 'ftp', caCertFile: 'ca.pem' }], /^reconPush\.0\.caCertFile: FTPS only/],
        [[sftpEntry, sftpEntry], /^reconPush: two targets with the same name/],
      ];
      for (const [entries, message, production] of cases) {
        await expect(provision(hospital(entries), production)).rejects.toThrow(ProvisionError);
        await expect(provision(hospital(entries), production)).rejects.toThrow(message);
      }
      expect(
        await db().select().from(reconPushTargets).where(eq(reconPushTargets.hospitalId, 'hosp_push1')),
      ).toEqual([]);

      const entry = { ...sftpEntry, hostKeySha256: sftp.hostKey.fingerprint };
      const first = await provision(hospital([entry]), true);
      expect(first.pushTargets).toEqual([{ id: expect.stringMatching(/^rpt_/), name: 'his-sftp' }]);
      // Re-running updates in place (same id).
      const again = await provision(hospital([{ ...entry, deadline: '11:00' }]), true);
      expect(again.pushTargets).toEqual(first.pushTargets);
      const [row] = await db()
        .select()
        .from(reconPushTargets)
        .where(eq(reconPushTargets.hospitalId, 'hosp_push1'));
      expect(row).toMatchObject({ port: sftp.port, deadline: '11:00', remoteDir: '/prov', enabled: 1 });
      expect(row!.secretsEnc).not.toContain(SFTP_PASSWORD);
      expect(JSON.parse(s.platform.deps.secrets.open(row!.secretsEnc))).toEqual({ password: SFTP_PASSWORD });
    } finally {
      rmSync(files, { recursive: true, force: true });
    }
  });
});
