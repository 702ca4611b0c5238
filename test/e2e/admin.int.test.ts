import { and, eq } from 'drizzle-orm';
import {
  adminAuditLogs,
  adminLoginLogs,
  adminUsers,
  orders,
  outboundCalls,
  refunds,
} from '../../bff/src/db/schema';
import { createAdminUser } from '../../bff/src/modules/admin/auth-service';
import { BUILTIN_ROLES } from '../../bff/src/modules/admin/permissions';
import { ADMIN_ROUTES } from '../../bff/src/modules/admin/routes';
import { startTestStack, waitFor, type TestStack } from '../support/platform';

const PASSWORD = 'Passw0rd-test';

describe('admin back office API', () => {
  let s: TestStack;
  let patientToken: string;
  /** role code → access token of a user holding that role. */
  const tokens: Record<string, string> = {};

  const adminLogin = (username: string, password = PASSWORD) =>
    s.api('POST', '/admin/api/auth/login', {
      body: { username, password },
      headers: { 'user-agent': 'jest-admin' },
    });

  beforeAll(async () => {
    s = await startTestStack({
      adminLockoutThreshold: 3,
      adminLockoutMinutes: 10,
      adminInitialUsername: 'root',
      adminInitialPassword: 'Init1al-pass',
    });
    patientToken = await s.login();
    for (const r of BUILTIN_ROLES) {
      await createAdminUser(s.platform.deps.db, {
        username: `u_${r.code}`,
        displayName: r.name,
        password: PASSWORD,
        roleCode: r.code,
      });
      const res = await adminLogin(`u_${r.code}`);
      expect(res.status).toBe(200);
      tokens[r.code] = res.body.accessToken;
    }
  });
  afterAll(async () => {
    await s?.stop();
  });

  const orderRow = async (id: string) =>
    (await s.platform.deps.db.select().from(orders).where(eq(orders.id, id)))[0]!;

  async function settledOrder(amountFen: number) {
    const { billId } = await s.pushBill({ amountFen });
    const r = await s.api('POST', '/api/orders', {
      token: patientToken,
      body: { billIds: [billId], channel: 'wechatpay', tradeType: 'NATIVE' },
    });
    expect(r.status).toBe(201);
    s.sandbox.wechat.pay(r.body.orderNo);
    await waitFor(async () => (await orderRow(r.body.id)).status === 'SETTLED', 15_000, 'SETTLED');
    return r.body as { id: string; orderNo: string };
  }

  it('creates the first administrator from the environment at first boot, once', async () => {
    const res = await adminLogin('root', 'Init1al-pass');
    expect(res.status).toBe(200);
    expect(res.body.user.role.code).toBe('super_admin');
    // A second process booting on the same database does not create it again nor fail.
    const again = await s.startAnotherPlatform({ workers: false });
    await again.stop();
    s.sandbox.his.setPlatformUrl(s.platform.url);
    const roots = await s.platform.deps.db.select().from(adminUsers).where(eq(adminUsers.username, 'root'));
    expect(roots).toHaveLength(1);
  });

  it('stores passwords as argon2id and logs logins with IP and user agent', async () => {
    const [u] = await s.platform.deps.db
      .select()
      .from(adminUsers)
      .where(eq(adminUsers.username, 'u_finance'));
    expect(u!.passwordHash).toMatch(/^\$argon2id\$v=19\$m=19456,t=2,p=1\$/);
    const logs = await s.platform.deps.db
      .select()
      .from(adminLoginLogs)
      .where(and(eq(adminLoginLogs.username, 'u_finance'), eq(adminLoginLogs.event, 'login')));
    expect(logs.length).toBeGreaterThanOrEqual(1);
    expect(logs[0]!.userAgent).toBe('jest-admin');
    expect(logs[0]!.ip).toMatch(/127\.0\.0\.1/);
    const me = await s.api('GET', '/admin/api/auth/me', { token: tokens.finance });
    expect(me.body).toMatchObject({ username: 'u_finance', role: { code: 'finance' } });
    expect(me.body.permissions).toContain('orders.refund');
    expect(me.body.permissions).not.toContain('users.manage');
  });

  it('locks an account after repeated failures, refuses even the right password, and unlocks', async () => {
    await createAdminUser(s.platform.deps.db, {
      username: 'lockme',
      displayName: '锁定测试',
      password: PASSWORD,
      roleCode: 'cashier',
    });
    expect((await adminLogin('lockme', 'wrong-1')).body.error.code).toBe('invalid_credentials');
    expect((await adminLogin('lockme', 'wrong-2')).body.error.code).toBe('invalid_credentials');
    const third = await adminLogin('lockme', 'wrong-3');
    expect(third.status).toBe(423);
    expect(third.body.error.code).toBe('account_locked');
    const right = await adminLogin('lockme');
    expect(right.status).toBe(423);
    // An unknown user gets the same answer as a wrong password.
    const unknown = await adminLogin('nobody-here', 'whatever');
    expect(unknown.status).toBe(401);
    expect(unknown.body.error.message).toBe('wrong username or password');

    const events = (
      await s.platform.deps.db
        .select({ event: adminLoginLogs.event, reason: adminLoginLogs.reason })
        .from(adminLoginLogs)
        .where(eq(adminLoginLogs.username, 'lockme'))
        .orderBy(adminLoginLogs.id)
    ).map((e) => `${e.event}:${e.reason}`);
    expect(events).toEqual([
      'failed:bad_password',
      'failed:bad_password',
      'locked:too_many_failures',
      'failed:locked',
    ]);

    const [u] = await s.platform.deps.db.select().from(adminUsers).where(eq(adminUsers.username, 'lockme'));
    // it_ops manages users; unlocking is audited.
    const unlock = await s.api('POST', `/admin/api/users/${u!.id}/unlock`, { token: tokens.it_ops });
    expect(unlock.status).toBe(200);
    expect((await adminLogin('lockme')).status).toBe(200);
    const audit = await s.platform.deps.db
      .select()
      .from(adminAuditLogs)
      .where(and(eq(adminAuditLogs.action, 'user.unlock'), eq(adminAuditLogs.targetId, u!.id)));
    expect(audit).toHaveLength(1);
    expect(audit[0]!.username).toBe('u_it_ops');
  });

  it('rotates refresh tokens; a reused one revokes the whole session family', async () => {
    const first = await adminLogin('u_auditor');
    const r1 = await s.api('POST', '/admin/api/auth/refresh', {
      body: { refreshToken: first.body.refreshToken },
    });
    expect(r1.status).toBe(200);
    expect(r1.body.refreshToken).not.toBe(first.body.refreshToken);
    // The old token again: refused, and the new one dies with it.
    const reuse = await s.api('POST', '/admin/api/auth/refresh', {
      body: { refreshToken: first.body.refreshToken },
    });
    expect(reuse.status).toBe(401);
    const after = await s.api('POST', '/admin/api/auth/refresh', {
      body: { refreshToken: r1.body.refreshToken },
    });
    expect(after.status).toBe(401);
    const [log] = await s.platform.deps.db
      .select()
      .from(adminLoginLogs)
      .where(and(eq(adminLoginLogs.username, 'u_auditor'), eq(adminLoginLogs.event, 'refresh_reuse')));
    expect(log).toBeDefined();

    // Logout revokes the refresh token it is given.
    const second = await adminLogin('u_auditor');
    const out = await s.api('POST', '/admin/api/auth/logout', {
      token: second.body.accessToken,
      body: { refreshToken: second.body.refreshToken },
    });
    expect(out.status).toBe(200);
    const dead = await s.api('POST', '/admin/api/auth/refresh', {
      body: { refreshToken: second.body.refreshToken },
    });
    expect(dead.status).toBe(401);
  });

  it('a password change or disabling ends existing access tokens at once', async () => {
    const id = await createAdminUser(s.platform.deps.db, {
      username: 'changer',
      displayName: '改密测试',
      password: PASSWORD,
      roleCode: 'auditor',
    });
    const t = (await adminLogin('changer')).body.accessToken as string;
    const weak = await s.api('POST', '/admin/api/auth/password', {
      token: t,
      body: { currentPassword: PASSWORD, newPassword: 'short' },
    });
    expect(weak.status).toBe(400);
    const ok = await s.api('POST', '/admin/api/auth/password', {
      token: t,
      body: { currentPassword: PASSWORD, newPassword: 'N3w-passw0rd!' },
    });
    expect(ok.status).toBe(200);
    expect((await s.api('GET', '/admin/api/auth/me', { token: t })).status).toBe(401);
    const t2 = (await adminLogin('changer', 'N3w-passw0rd!')).body.accessToken as string;
    expect((await s.api('GET', '/admin/api/auth/me', { token: t2 })).status).toBe(200);
    const disable = await s.api('PATCH', `/admin/api/users/${id}`, {
      token: tokens.super_admin,
      body: { status: 'DISABLED' },
    });
    expect(disable.status).toBe(200);
    expect((await s.api('GET', '/admin/api/auth/me', { token: t2 })).status).toBe(401);
    expect((await adminLogin('changer', 'N3w-passw0rd!')).body.error.code).toBe('account_disabled');
  });

  it('route × role matrix: every admin route allows exactly the roles holding its permission', async () => {
    const fill = (p: string) => p.replace(/:[a-zA-Z]+/g, 'no-such-id');
    const mismatches: string[] = [];
    let checked = 0;
    for (const route of ADMIN_ROUTES) {
      const anon = await s.api(route.method, `/admin/api${fill(route.path)}`, {
        body: route.method === 'GET' || route.method === 'DELETE' ? undefined : {},
      });
      if (anon.status !== 401) mismatches.push(`${route.method} ${route.path} anonymous → ${anon.status}`);
      for (const role of BUILTIN_ROLES) {
        const res = await s.api(route.method, `/admin/api${fill(route.path)}`, {
          token: tokens[role.code],
          body: route.method === 'GET' || route.method === 'DELETE' ? undefined : {},
        });
        const allowed = route.permission === null || role.permissions.includes(route.permission);
        const denied = res.status === 403 && res.body?.error?.code === 'forbidden';
        if (allowed === denied || res.status === 401 || res.status >= 500)
          mismatches.push(`${route.method} ${route.path} as ${role.code} → ${res.status}`);
        checked++;
      }
    }
    expect(mismatches).toEqual([]);
    expect(checked).toBe(ADMIN_ROUTES.length * BUILTIN_ROLES.length);
  });

  it('cash refund at the window: recorded with operator and reason, pushed to the HIS, never above the paid sum', async () => {
    const o = await settledOrder(5000);
    const denied = await s.api('POST', `/admin/api/orders/${o.id}/cash-refunds`, {
      token: tokens.auditor,
      body: { amountFen: 1000, reason: '现金退费' },
    });
    expect(denied.status).toBe(403);

    const tooMuch = await s.api('POST', `/admin/api/orders/${o.id}/cash-refunds`, {
      token: tokens.cashier,
      body: { amountFen: 5001, reason: '现金退费' },
    });
    expect(tooMuch.status).toBe(409);
    expect(tooMuch.body.error.code).toBe('refund_exceeds_paid');
    expect((await orderRow(o.id)).refundedFen).toBe(0);

    const bad = await s.api('POST', `/admin/api/orders/${o.id}/cash-refunds`, {
      token: tokens.cashier,
      body: { amountFen: 10.5, reason: '现金退费' },
    });
    expect(bad.status).toBe(400);

    const cash = await s.api('POST', `/admin/api/orders/${o.id}/cash-refunds`, {
      token: tokens.cashier,
      body: { amountFen: 2000, reason: '患者窗口退现金', receiptNo: 'SJ-0001' },
    });
    expect(cash.status).toBe(201);
    expect(cash.body).toMatchObject({ amountFen: 2000, status: 'SUCCESS', method: 'CASH' });
    const order = await orderRow(o.id);
    expect(order.status).toBe('PARTIALLY_REFUNDED');
    expect(order.refundedFen).toBe(2000);
    const [row] = await s.platform.deps.db.select().from(refunds).where(eq(refunds.id, cash.body.id));
    expect(row!.requestedBy).toMatch(/^admin:adm_/);
    expect(row!.reason).toBe('患者窗口退现金');
    await waitFor(
      async () =>
        [...s.sandbox.his.results.values()].some(
          (r) => (r.body as { refundNo?: string }).refundNo === cash.body.refundNo,
        ),
      10_000,
      'HIS heard of the cash refund',
    );
    const pushed = [...s.sandbox.his.results.values()].find(
      (r) => (r.body as { refundNo?: string }).refundNo === cash.body.refundNo,
    )!.body as Record<string, unknown>;
    expect(pushed).toMatchObject({ kind: 'refund', method: 'CASH', amountFen: 2000, refundedTotalFen: 2000 });

    // Finance refunds the rest through the channel; the order ends REFUNDED at exactly the paid sum.
    const rest = await s.api('POST', `/admin/api/orders/${o.id}/refunds`, {
      token: tokens.finance,
      body: { reason: '退余额' },
    });
    expect(rest.status).toBe(201);
    expect(rest.body.amountFen).toBe(3000);
    await waitFor(async () => (await orderRow(o.id)).status === 'REFUNDED', 10_000, 'REFUNDED');
    expect((await orderRow(o.id)).refundedFen).toBe(5000);

    const detail = await s.api('GET', `/admin/api/orders/${o.id}`, { token: tokens.finance });
    expect(detail.body.refunds.map((r: { method: string }) => r.method).sort()).toEqual(['CASH', 'CHANNEL']);
    expect(detail.body.events.map((e: { event: string }) => e.event)).toEqual(
      expect.arrayContaining(['cash_refund_partial', 'refund_start', 'refunded']),
    );
    const audits = await s.platform.deps.db
      .select()
      .from(adminAuditLogs)
      .where(eq(adminAuditLogs.targetId, o.id));
    expect(audits.map((a) => a.action).sort()).toEqual(['order.cash_refund', 'order.refund']);
  });

  it('50 concurrent cash refunds never refund more than was paid', async () => {
    const o = await settledOrder(1000);
    const results = await Promise.all(
      Array.from({ length: 50 }, () =>
        s.api('POST', `/admin/api/orders/${o.id}/cash-refunds`, {
          token: tokens.cashier,
          body: { amountFen: 300, reason: '并发现金退费' },
        }),
      ),
    );
    const ok = results.filter((r) => r.status === 201).length;
    expect(ok).toBe(3);
    expect(results.filter((r) => r.status !== 201).every((r) => r.status === 409)).toBe(true);
    expect((await orderRow(o.id)).refundedFen).toBe(900);
  });

  it('order search masks names without pii.view; interface log and abnormal requests are queryable', async () => {
    const o = await settledOrder(1234);
    const asAuditor = await s.api('GET', `/admin/api/orders?no=${o.orderNo}`, { token: tokens.auditor });
    expect(asAuditor.body.total).toBe(1);
    const asFinance = await s.api('GET', `/admin/api/orders?no=${o.orderNo}`, { token: tokens.finance });
    const full = asFinance.body.items[0].patientName as string;
    expect(asAuditor.body.items[0].patientName).not.toBe(full);
    expect(asAuditor.body.items[0].patientName).toContain('*');

    const bad = await s.api('GET', '/admin/api/orders?from=yesterday', { token: tokens.finance });
    expect(bad.status).toBe(400);
    expect(bad.body.error.message).toMatch(/^from: /);

    const log = await s.api('GET', `/admin/api/logs/outbound?orderNo=${o.orderNo}`, { token: tokens.it_ops });
    expect(log.status).toBe(200);
    expect(log.body.items.map((c: { operation: string }) => c.operation)).toContain('create');
    const stored = await s.platform.deps.db
      .select()
      .from(outboundCalls)
      .where(eq(outboundCalls.orderNo, o.orderNo));
    expect(JSON.stringify(stored)).not.toMatch(/BEGIN (RSA )?PRIVATE KEY/);

    // A forged notification and a badly signed HIS call show up as abnormal requests.
    const forged = await s.api('POST', `/notify/wechatpay/${order0Account(o)}`, {
      body: JSON.stringify({ id: 'forged-1', resource: {} }),
      headers: {
        'wechatpay-timestamp': String(Math.floor(Date.now() / 1000)),
        'wechatpay-nonce': 'n',
        'wechatpay-serial': 'x',
        'wechatpay-signature': 'bad',
      },
    });
    expect(forged.status).toBeGreaterThanOrEqual(400);
    const unsigned = await s.api('POST', '/open/v1/bills', { body: { bills: [] } });
    expect(unsigned.status).toBe(401);
    // The open-API log is written after the answer (off the request's path): wait for it.
    const sources = await waitFor(
      async () => {
        const abnormal = await s.api('GET', '/admin/api/logs/abnormal?pageSize=100', {
          token: tokens.it_ops,
        });
        expect(abnormal.status).toBe(200);
        const seen = new Set(abnormal.body.items.map((i: { source: string }) => i.source));
        return seen.has('open_api') ? seen : undefined;
      },
      5_000,
      'open-API call in the abnormal log',
    );
    expect(sources).toContain('notification');
    expect(sources).toContain('open_api');
    const openApi = await s.api('GET', '/admin/api/logs/open-api?failed=true', { token: tokens.auditor });
    expect(openApi.body.items[0]).toMatchObject({ path: '/open/v1/bills', httpStatus: 401 });
    const logins = await s.api('GET', '/admin/api/logs/logins?event=locked', { token: tokens.it_ops });
    expect(logins.body.items.map((l: { username: string }) => l.username)).toContain('lockme');
  });

  it('a hospital-bound admin sees only their hospital', async () => {
    const o = await settledOrder(777);
    const h2 = 'hosp_h002';
    await createAdminUser(s.platform.deps.db, {
      username: 'h2finance',
      displayName: '二院财务',
      password: PASSWORD,
      roleCode: 'finance',
      hospitalId: h2,
    });
    const t = (await adminLogin('h2finance')).body.accessToken as string;
    const search = await s.api('GET', `/admin/api/orders?no=${o.orderNo}`, { token: t });
    expect(search.body.total).toBe(0);
    expect((await s.api('GET', `/admin/api/orders/${o.id}`, { token: t })).status).toBe(404);
    const refund = await s.api('POST', `/admin/api/orders/${o.id}/cash-refunds`, {
      token: t,
      body: { amountFen: 1, reason: '越权尝试' },
    });
    expect(refund.status).toBe(404);
    expect((await orderRow(o.id)).refundedFen).toBe(0);
  });

  it('settings: hospitals, HIS apps and merchant accounts without any secret; dashboard series', async () => {
    const h = await s.api('GET', '/admin/api/hospitals', { token: tokens.cashier });
    expect(h.status).toBe(200);
    expect(h.body.items.map((x: { code: string }) => x.code)).toEqual(['H001', 'H002']);
    const apps = await s.api('GET', '/admin/api/settings/his-apps', { token: tokens.it_ops });
    expect(apps.status).toBe(200);
    expect(apps.body.items.length).toBeGreaterThanOrEqual(2);
    expect(apps.body.items[0]).not.toHaveProperty('secretEnc');
    const accounts = await s.api('GET', '/admin/api/settings/merchant-accounts', { token: tokens.auditor });
    expect(accounts.status).toBe(200);
    const wechat = accounts.body.items.find((a: { id: string }) => a.id === 'ma_h001_wechatpay');
    expect(wechat).toMatchObject({ channel: 'wechatpay', hospitalId: 'hosp_h001' });
    expect(wechat.settings.platformPublicKeyPem).toMatch(/^PUBLIC KEY · SHA-256 [0-9a-f]{16}…$/);
    const text = JSON.stringify([apps.body, accounts.body]);
    expect(text).not.toMatch(/secret|PRIVATE|BEGIN |apiV3Key|privateKey/i);
    expect(
      (await s.api('GET', '/admin/api/settings/merchant-accounts', { token: tokens.cashier })).status,
    ).toBe(403);

    const d = await s.api('GET', '/admin/api/dashboard', { token: tokens.finance });
    expect(d.status).toBe(200);
    expect(d.body.daily).toHaveLength(14);
    const today = d.body.daily[13];
    expect(today.amountFen).toBe(d.body.totalIncomeFen);
    expect(d.body.hourly.reduce((a: number, r: { amountFen: number }) => a + r.amountFen, 0)).toBe(
      d.body.totalIncomeFen,
    );
    expect(d.body.refundsToday.count).toBeGreaterThan(0);
  });

  function order0Account(_o: { id: string }) {
    return 'ma_h001_wechatpay';
  }
});
