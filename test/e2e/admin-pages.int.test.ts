import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { fenToYuan } from '@hp/shared';
import { and, eq } from 'drizzle-orm';
import Koa from 'koa';
import type { Browser, Page } from 'playwright-core';
import { adminUsers, alerts, orderComments, orders, refunds } from '../../bff/src/db/schema';
import { adminUi } from '../../bff/src/http/admin-ui';
import { createAdminUser } from '../../bff/src/modules/admin/auth-service';
import {
  adminPages,
  expectText,
  launchAdminBrowser,
  ROOT,
  screenshot,
  tableRows as rows,
  type AdminPages,
} from '../support/browser';
import { startTestStack, waitFor, type TestStack } from '../support/platform';

/**
 * The admin pages in a real browser: Debian's Chromium driven by playwright-core against the built bundle
 * (bff/admin-ui/dist, built here when missing or stale) served by a real bff on a fresh database.
 * Screenshots go to test-results/admin-pages/.
 */
const PASSWORD = 'Passw0rd-pages';
const USERS = {
  root: 'super_admin',
  fin: 'finance',
  cash: 'cashier',
  ops: 'it_ops',
  aud: 'auditor',
} as const;

jest.setTimeout(60_000);

describe('admin pages in Chromium', () => {
  let s: TestStack;
  let browser: Browser;
  let pages: AdminPages;
  let base: string;
  let order: { id: string; orderNo: string };

  beforeAll(async () => {
    // 1. The bundle (built once, only when stale) and the browser: a missing Chromium fails every test here.
    browser = await launchAdminBrowser();
    // 2. The stack, staff of every role, and one paid order.
    s = await startTestStack({ adminLockoutThreshold: 5, adminLockoutMinutes: 15 });
    base = s.platform.url;
    pages = adminPages(browser, base);
    for (const [username, roleCode] of Object.entries(USERS))
      await createAdminUser(s.platform.deps.db, {
        username,
        displayName: `测试${roleCode}`,
        password: PASSWORD,
        roleCode,
      });
    const patient = await s.login('P0001');
    const { billId } = await s.pushBill({ amountFen: 5000, patientId: 'P0001' });
    const r = await s.api('POST', '/api/orders', {
      token: patient,
      body: { billIds: [billId], channel: 'wechatpay', tradeType: 'NATIVE' },
    });
    expect(r.status).toBe(201);
    order = { id: r.body.id, orderNo: r.body.orderNo };
    s.sandbox.wechat.pay(order.orderNo);
    await waitFor(
      async () =>
        (await s.platform.deps.db.select().from(orders).where(eq(orders.id, order.id)))[0]?.status ===
        'SETTLED',
      15_000,
      'order SETTLED',
    );
    // An abnormal request for the logs: an unsigned open-API call.
    expect((await s.api('POST', '/open/v1/bills', { body: { bills: [] } })).status).toBe(401);
  }, 240_000);

  afterAll(async () => {
    await pages?.close();
    await browser?.close().catch(() => undefined);
    await s?.stop();
  });

  const newPage = () => pages.newPage();
  const loginAs = (username: keyof typeof USERS | string, password = PASSWORD): Promise<Page> =>
    pages.loginAs(username, password);

  it('serves the bundle at /admin with SPA fallback, leaves /admin/api alone, and explains a missing build', async () => {
    const index = await fetch(`${base}/admin/orders/whatever`);
    expect(index.status).toBe(200);
    expect(index.headers.get('content-type')).toMatch(/text\/html/);
    expect(index.headers.get('content-security-policy')).toMatch(/script-src 'self'/);
    const html = await index.text();
    expect(html).toContain('/admin/assets/');
    expect(html).not.toMatch(/https?:\/\//); // no CDN: everything is bundled
    const asset = /src="(\/admin\/assets\/[^"]+\.js)"/.exec(html)![1]!;
    const js = await fetch(`${base}${asset}`);
    expect(js.status).toBe(200);
    expect(js.headers.get('cache-control')).toMatch(/immutable/);
    expect((await fetch(`${base}/admin/assets/missing-abc.js`)).status).toBe(404);
    expect((await fetch(`${base}/admin/..%2f..%2fpackage.json`)).status).toBe(404);
    const api = await fetch(`${base}/admin/api/auth/me`);
    expect(api.status).toBe(401);
    expect((await api.json()).error.code).toBe('unauthorized');

    // Without a build the bff runs on and says how to build.
    const app = new Koa().use(adminUi(path.join(ROOT, 'no-such-dist')));
    const server = app.listen(0, '127.0.0.1');
    await new Promise((r) => server.once('listening', r));
    try {
      const res = await fetch(`http://127.0.0.1:${(server.address() as AddressInfo).port}/admin/`);
      expect(res.status).toBe(503);
      expect(await res.text()).toContain('npm run build:admin');
    } finally {
      server.close();
    }
  });

  it('login: wrong passwords, then the lockout message after five; even the right password is refused', async () => {
    await createAdminUser(s.platform.deps.db, {
      username: 'locky',
      displayName: '锁定测试',
      password: PASSWORD,
      roleCode: 'cashier',
    });
    const page = await newPage();
    await page.goto(`${base}/admin/`);
    await page.waitForURL(/\/admin\/login$/);
    await expectText(page, 'body', '医院统一支付平台');
    const attempt = async (password: string) => {
      await page.fill('#username', 'locky');
      await page.fill('#password', password);
      await Promise.all([
        page.waitForResponse((r) => r.url().endsWith('/admin/api/auth/login')),
        page.click('button[type=submit]'),
      ]);
    };
    for (let i = 1; i <= 4; i++) {
      await attempt(`wrong-${i}`);
      await expectText(page, '[data-testid=login-error]', '用户名或密码错误');
    }
    await attempt('wrong-5');
    await expectText(page, '[data-testid=login-error]', '账户已锁定');
    await attempt(PASSWORD);
    await expectText(page, '[data-testid=login-error]', '账户已锁定');
    await screenshot(page, 'login-locked.png', false);
    expect(page.url()).toMatch(/\/admin\/login$/);
  });

  it('dashboard: numbers and echarts canvases', async () => {
    const page = await loginAs('root');
    await page.waitForURL(/\/admin\/dashboard$/);
    await expectText(page, '[data-testid=stat-income]', '¥50.00');
    await expectText(page, '[data-testid=stat-orders]', '100.0%');
    await page.waitForSelector('.hp-chart canvas');
    expect(await page.locator('.hp-chart canvas').count()).toBeGreaterThanOrEqual(3);
    await page.waitForTimeout(600); // chart animations
    await screenshot(page, 'dashboard.png');
  });

  it('orders: search by number and by patient, detail with timeline, payments and HIS push', async () => {
    const page = await loginAs('fin');
    await page.goto(`${base}/admin/orders`);
    await page.fill('#no', order.orderNo);
    await page.click('button[type=submit]');
    await waitFor(async () => (await rows(page).count()) === 1, 10_000, 'one row');
    await expectText(page, '.ant-table-tbody', order.orderNo);
    await expectText(page, '.ant-table-tbody', '已入账');
    await screenshot(page, 'orders.png');

    await page.fill('#no', '');
    await page.fill('#patient', 'P0001');
    await page.click('button[type=submit]');
    await expectText(page, '.ant-table-tbody', order.orderNo);

    await page.click(`[data-testid=order-no]:has-text("${order.orderNo}")`);
    const timeline = page.locator('[data-testid=order-timeline]');
    await expectText(page, '[data-testid=order-timeline]', '支付成功');
    await expectText(page, '[data-testid=order-timeline]', 'HIS 已入账');
    expect(await timeline.locator('.ant-timeline-item').count()).toBeGreaterThanOrEqual(3);
    await expectText(page, '[data-testid=order-detail]', '支付记录');
    await expectText(page, '[data-testid=order-detail]', '已确认'); // the HIS push, acknowledged
    await page.waitForTimeout(500); // the drawer's slide-in
    await screenshot(page, 'order-detail.png');
  });

  it('a partial refund through the page succeeds and shows in the refunds list', async () => {
    const page = await loginAs('fin');
    await page.goto(`${base}/admin/orders/${order.id}`);
    await page.click('[data-testid=btn-refund]');
    await page.fill('[data-testid=refund-amount]', '12.34');
    await page.fill('[data-testid=refund-reason]', '部分退费（页面测试）');
    await page.click('.ant-modal-footer button.ant-btn-dangerous');
    await expectText(page, '.ant-message', '退款已提交');
    await waitFor(
      async () => {
        const [r] = await s.platform.deps.db.select().from(refunds).where(eq(refunds.orderId, order.id));
        return r?.status === 'SUCCESS' && r.amountFen === 1234;
      },
      15_000,
      'refund SUCCESS',
    );
    await page.click('button:has-text("刷新")');
    await expectText(page, '[data-testid=order-refundable]', '¥37.66');
    await expectText(page, '[data-testid=order-refunds]', '退款成功');

    await page.goto(`${base}/admin/refunds`);
    await expectText(page, '.ant-table-tbody', '¥12.34');
    await expectText(page, '.ant-table-tbody', order.orderNo);
    await expectText(page, '.ant-table-tbody', '部分退费（页面测试）');
  });

  it('refund buttons follow permissions: cashier has cash refund only, auditor neither', async () => {
    const cashier = await loginAs('cash');
    await cashier.goto(`${base}/admin/orders/${order.id}`);
    await cashier.waitForSelector('[data-testid=order-timeline]');
    expect(await cashier.locator('[data-testid=btn-cash-refund]').count()).toBe(1);
    expect(await cashier.locator('[data-testid=btn-refund]').count()).toBe(0);
    expect(await cashier.locator('.ant-menu').innerText()).not.toContain('用户管理');

    const auditor = await loginAs('aud');
    await auditor.goto(`${base}/admin/orders/${order.id}`);
    await auditor.waitForSelector('[data-testid=order-timeline]');
    expect(await auditor.locator('[data-testid=btn-refund]').count()).toBe(0);
    expect(await auditor.locator('[data-testid=btn-cash-refund]').count()).toBe(0);
  });

  it('patient names: unmasked with pii.view (finance), masked without (auditor)', async () => {
    const nameIn = async (username: string) => {
      const page = await loginAs(username);
      await page.goto(`${base}/admin/orders?no=${order.orderNo}`);
      await waitFor(async () => (await rows(page).count()) === 1, 10_000, 'row');
      return page.locator('[data-testid=patient-name]').first().innerText();
    };
    expect(await nameIn('fin')).toBe('张三');
    expect(await nameIn('aud')).toBe('张*');
  });

  it('patient messages: what the patient was told about the order, name masked without pii.view', async () => {
    const shown = async (username: string) => {
      const page = await loginAs(username);
      await page.goto(`${base}/admin/patient-messages`);
      const row = page.locator('[data-testid=patient-messages] .ant-table-tbody tr.ant-table-row', {
        hasText: '缴费成功',
      });
      await row.first().waitFor({ timeout: 15_000 });
      return { page, text: await row.first().innerText() };
    };
    const fin = await shown('fin');
    expect(fin.text).toContain('张三');
    await screenshot(fin.page, 'patient-messages.png');
    expect((await shown('aud')).text).toContain('张*');
  });

  it('users page creates a user who can then log in', async () => {
    const page = await loginAs('root');
    await page.goto(`${base}/admin/users`);
    await expectText(page, '.ant-table-tbody', 'fin');
    await page.click('[data-testid=btn-new-user]');
    await page.fill('#new-username', 'window7');
    await page.fill('#new-display-name', '七号窗口');
    await page.click('.ant-modal .ant-select');
    await page.click('.ant-select-item-option:has-text("收费窗口")');
    await page.fill('#new-password', 'Window-pass-77');
    await page.click('.ant-modal-footer .ant-btn-primary');
    await page.waitForSelector('.ant-modal', { state: 'detached' }).catch(async () => {
      throw new Error(`the new-user dialog stayed open: ${await page.locator('.ant-modal').innerText()}`);
    });
    await expectText(page, '.ant-table-tbody', 'window7');
    await screenshot(page, 'users.png', false);
    const [u] = await s.platform.deps.db.select().from(adminUsers).where(eq(adminUsers.username, 'window7'));
    expect(u?.displayName).toBe('七号窗口');
    const again = await loginAs('window7', 'Window-pass-77');
    await again.waitForURL(/\/admin\/dashboard$/);
  });

  it('log pages show rows; alerts can be resolved; comments are listed; settings show no secrets', async () => {
    await s.platform.deps.db.insert(alerts).values({
      hospitalId: 'hosp_h001',
      kind: 'one_sided_entry',
      severity: 'critical',
      orderId: order.id,
      message: '页面测试告警：HIS 未确认',
    });
    await s.platform.deps.db.insert(orderComments).values({
      hospitalId: 'hosp_h001',
      merchantAccountId: 'ma_h001_wechatpay',
      channel: 'wechatpay',
      channelTradeNo: 'T-PAGES-1',
      orderId: order.id,
      stars: 4,
      content: '缴费很方便（页面测试）',
      commentedAt: new Date(),
    });
    const page = await loginAs('root');
    for (const [path, testId, text] of [
      ['/logs/outbound', 'log-outbound', order.orderNo],
      ['/logs/open-api', 'log-open-api', '/open/v1/bills'],
      ['/logs/abnormal', 'log-abnormal', '开放接口拒绝'],
      ['/logs/logins?username=locky', 'log-logins', '账户锁定'],
      ['/logs/audit', 'log-audit', '原路退款'],
      ['/comments', 'comments', '缴费很方便（页面测试）'],
    ] as const) {
      await page.goto(`${base}/admin${path}`);
      await expectText(page, `[data-testid=${testId}] .ant-table-tbody`, text);
      expect(await rows(page).count()).toBeGreaterThan(0);
    }

    await page.goto(`${base}/admin/alerts`);
    await expectText(page, '.ant-table-tbody', '页面测试告警');
    await page.click('[data-testid=btn-resolve]');
    await page.fill('[data-testid=resolution]', '已与 HIS 核对补录');
    await page.click('.ant-modal-footer .ant-btn-primary');
    await expectText(page, '.ant-table-tbody', '已与 HIS 核对补录');
    const [a] = await s.platform.deps.db
      .select()
      .from(alerts)
      .where(and(eq(alerts.orderId, order.id), eq(alerts.kind, 'one_sided_entry')));
    expect(a?.status).toBe('RESOLVED');

    await page.goto(`${base}/admin/settings`);
    await page.click('.ant-tabs-tab:has-text("商户号")');
    await expectText(page, '[data-testid=settings]', 'ma_h001_wechatpay');
    await page.locator('.ant-tabs-tabpane-active .ant-table-row-expand-icon').first().click();
    await expectText(page, '[data-testid=settings]', 'SHA-256');
    const content = await page.content();
    expect(content).not.toMatch(/PRIVATE KEY|BEGIN PUBLIC KEY/);
  });

  it('monitoring mode renders big numbers and refreshes itself', async () => {
    const page = await loginAs('root');
    let calls = 0;
    page.on('request', (r) => {
      if (r.url().includes('/admin/api/dashboard')) calls++;
    });
    const first = page.waitForResponse((r) => r.url().includes('/admin/api/dashboard'));
    await page.goto(`${base}/admin/monitor?interval=2`);
    // Today's income is the China day's: the order paid in beforeAll counts unless midnight (Beijing) has
    // passed since (a run across midnight).
    const { totalIncomeFen } = (await (await first).json()) as { totalIncomeFen: number };
    const chinaDay = (d: Date) => new Date(d.getTime() + 8 * 3600_000).toISOString().slice(0, 10);
    const [paid] = await s.platform.deps.db.select().from(orders).where(eq(orders.id, order.id));
    expect(totalIncomeFen).toBe(chinaDay(paid!.paidAt!) === chinaDay(new Date()) ? 5000 : 0);
    await expectText(page, '[data-testid=monitor-income]', `¥${fenToYuan(totalIncomeFen)}`);
    await page.waitForSelector('[data-testid=monitor] .hp-chart canvas');
    await waitFor(async () => calls >= 3, 15_000, 'three dashboard loads');
    await expectText(page, '[data-testid=monitor-updated]', '次刷新');
    expect(await page.locator('[data-testid=monitor-updated]').innerText()).not.toContain('第 1 次');
    await screenshot(page, 'monitor.png', false);
  });

  it('refreshes an invalid access token once with the refresh token; logout ends the session', async () => {
    const page = await loginAs('fin');
    // The first page's requests must be done before the token is broken: a refresh that one of them starts and
    // the navigation below cuts off mid-flight has already rotated the refresh token at the server, so the next
    // page would present a used one, and reuse ends every session of the user (by design). Under a loaded CI
    // run that race was real.
    await page.waitForLoadState('networkidle');
    const before = await page.evaluate(() => JSON.parse(localStorage.getItem('hp.admin.session')!));
    await page.evaluate(() => {
      const s = JSON.parse(localStorage.getItem('hp.admin.session')!);
      localStorage.setItem('hp.admin.session', JSON.stringify({ ...s, accessToken: 'broken.token.value' }));
    });
    await page.goto(`${base}/admin/orders`);
    // The 401, the refresh and the retried list: three round trips, slow on a loaded CI machine.
    await expectText(page, '.ant-table-tbody', order.orderNo, 40_000);
    const after = await page.evaluate(() => JSON.parse(localStorage.getItem('hp.admin.session')!));
    expect(after.accessToken).not.toBe('broken.token.value');
    expect(after.refreshToken).not.toBe(before.refreshToken);

    await page.click('button:has-text("退出")');
    await page.waitForURL(/\/admin\/login$/);
    expect(await page.evaluate(() => localStorage.getItem('hp.admin.session'))).toBeNull();
    const reuse = await s.api('POST', '/admin/api/auth/refresh', {
      body: { refreshToken: after.refreshToken },
    });
    expect(reuse.status).toBe(401);
  });
});
