import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fenToYuan } from '@hp/shared';
import { and, eq, sql } from 'drizzle-orm';
import ExcelJS from 'exceljs';
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core';
import { adminUsers, orderEvents, patients } from '../../bff/src/db/schema';
import { reconItems } from '../../bff/src/db/schema-recon';
import { createAdminUser } from '../../bff/src/modules/admin/auth-service';
import { runReconciliation } from '../../bff/src/modules/recon/engine';
import { generateReconDay } from '../support/recon-day';
import { startTestStack, waitFor, type TestStack } from '../support/platform';

/**
 * The reconciliation pages (对账批次, 差异处理, 对账报表) in Debian's Chromium driven by playwright-core, on a
 * generated day: a difference opened side by side and resolved with a reason (then in the audit log), the
 * buttons following permissions, and the Excel export downloaded and read back with exceljs. Screenshots go
 * to test-results/admin-pages/.
 */
const ROOT = path.resolve(__dirname, '../..');
const SHOTS = path.join(ROOT, 'test-results', 'admin-pages');
const CHROMIUM = '/usr/bin/chromium';
const CHROMIUM_ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-background-networking',
  '--disable-component-update',
  '--no-first-run',
  '--disable-sync',
];
const PASSWORD = 'Passw0rd-recon-pages';
const USERS = { root: 'super_admin', fin: 'finance', aud: 'auditor' } as const;
const H = 'hosp_h001';
const DAY = '2026-10-01';
const REASON = '已与微信支付核实：渠道多记 1 分，人工调账';

jest.setTimeout(60_000);

/** ¥ and yuan with thousands separators, as the pages show fen. */
function yuanText(fen: number): string {
  const [whole, cents] = fenToYuan(fen).split('.') as [string, string];
  const sign = whole.startsWith('-') ? '-' : '';
  return `${sign}¥${whole.replace('-', '').replace(/\B(?=(\d{3})+(?!\d))/g, ',')}.${cents}`;
}

describe('reconciliation pages in Chromium', () => {
  let s: TestStack;
  let browser: Browser;
  let base: string;
  const contexts: BrowserContext[] = [];
  const tokens: Record<string, string> = {};
  /** An amount mismatch (to resolve) and a payment the HIS never recorded (refundable). */
  let mismatch: { id: number; keyNo: string; orderId: string };
  let hisMissing: { id: number; keyNo: string };
  const db = () => s.platform.deps.db;

  beforeAll(async () => {
    const build = spawnSync(process.execPath, [path.join(ROOT, 'scripts', 'build-admin.mjs'), '--if-stale'], {
      cwd: ROOT,
      encoding: 'utf8',
    });
    if (build.status !== 0)
      throw new Error(`building the admin pages failed:\n${build.stdout}\n${build.stderr}`);
    if (!existsSync(CHROMIUM))
      throw new Error(
        `Chromium is not installed at ${CHROMIUM}; the admin page tests need it (apt-get install -y chromium — .ci/run does this)`,
      );
    browser = await chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS, timeout: 60_000 });
    mkdirSync(SHOTS, { recursive: true });

    s = await startTestStack({}, { workers: false });
    base = s.platform.url;
    for (const [username, roleCode] of Object.entries(USERS)) {
      await createAdminUser(db(), { username, displayName: `测试${roleCode}`, password: PASSWORD, roleCode });
      const r = await s.api('POST', '/admin/api/auth/login', { body: { username, password: PASSWORD } });
      tokens[username] = r.body.accessToken;
    }
    const [{ id: patientId }] = (await db()
      .select({ id: patients.id })
      .from(patients)
      .where(eq(patients.hisPatientId, 'P0001'))) as [{ id: string }];
    const day = await generateReconDay(db(), {
      hospitalId: H,
      accountId: 'ma_h001_wechatpay',
      patientId,
      date: DAY,
      n: 120,
      k: 2,
    });
    // The generated orders carry no history: give the one to investigate its events.
    const keyNo = day.injected.amount_mismatch[0]!;
    await db()
      .insert(orderEvents)
      .values([
        { orderId: `ord_${keyNo}`, hospitalId: H, event: 'created', toStatus: 'CREATED', actor: 'patient' },
        {
          orderId: `ord_${keyNo}`,
          hospitalId: H,
          event: 'paid',
          fromStatus: 'PAYING',
          toStatus: 'PAID',
          actor: 'channel:wechatpay:notification',
        },
        {
          orderId: `ord_${keyNo}`,
          hospitalId: H,
          event: 'settled',
          fromStatus: 'PAID',
          toStatus: 'SETTLED',
          actor: 'his',
        },
      ]);
    await db().execute(sql`
      INSERT INTO refunds (id, refund_no, hospital_id, order_id, payment_id, amount_fen, status, reason, requested_by,
                           method, error_code, error_message, created_at, updated_at)
      VALUES ('ref_PAGES1', 'RPAGES1', ${H}, ${`ord_${keyNo}`}, ${`pay_${keyNo}`}, 321, 'ABNORMAL', '患者申请退费',
              'his:app', 'CHANNEL', 'ABNORMAL', '用户银行卡已注销', '2026-10-01T15:00:00+08:00', now())`);
    await runReconciliation(s.platform.deps, { hospitalId: H, date: DAY, triggeredBy: 'job:recon-daily' });
    const item = async (no: string, outcome: string) =>
      (
        await db()
          .select()
          .from(reconItems)
          .where(and(eq(reconItems.keyNo, no), eq(reconItems.outcome, outcome)))
      )[0]!;
    const m = await item(keyNo, 'amount_mismatch');
    mismatch = { id: m.id, keyNo, orderId: m.orderId! };
    const hm = await item(day.injected.his_missing[0]!, 'his_missing');
    hisMissing = { id: hm.id, keyNo: hm.keyNo };
  }, 240_000);

  afterAll(async () => {
    for (const c of contexts) await c.close().catch(() => undefined);
    await browser?.close().catch(() => undefined);
    await s?.stop();
  });

  async function loginAs(username: keyof typeof USERS): Promise<Page> {
    const ctx = await browser.newContext({
      viewport: { width: 1600, height: 960 },
      locale: 'zh-CN',
      timezoneId: 'Asia/Shanghai',
      acceptDownloads: true,
    });
    contexts.push(ctx);
    const page = await ctx.newPage();
    page.setDefaultTimeout(15_000);
    await page.goto(`${base}/admin/login`);
    await page.fill('#username', username);
    await page.fill('#password', PASSWORD);
    await page.click('button[type=submit]');
    await page.waitForURL((u) => !u.pathname.endsWith('/login'));
    return page;
  }
  const rows = (page: Page) => page.locator('.ant-table-tbody tr.ant-table-row');
  const shot = (page: Page, name: string) =>
    page.screenshot({ path: path.join(SHOTS, name), fullPage: true });

  it('对账批次: the run with its per-channel summary; 重新对账 only for roles that resolve', async () => {
    const page = await loginAs('fin');
    await expectText(page, '.ant-menu', '对账');
    await page.goto(`${base}/admin/recon/runs`);
    await expectText(page, '[data-testid=recon-runs] .ant-table-tbody', DAY);
    await expectText(page, '[data-testid=recon-runs] .ant-table-tbody', '定时任务');
    await page.locator('[data-testid=recon-runs] .ant-table-row-expand-icon').first().click();
    await expectText(page, '[data-testid=run-summary]', '微信支付');
    await expectText(page, '[data-testid=run-summary]', '金额不符 2');
    expect(await page.locator('[data-testid=btn-rerun]').count()).toBe(1);
    await shot(page, 'recon-runs.png');

    const auditor = await loginAs('aud');
    await auditor.goto(`${base}/admin/recon/runs`);
    await expectText(auditor, '[data-testid=recon-runs] .ant-table-tbody', DAY);
    expect(await auditor.locator('[data-testid=btn-rerun]').count()).toBe(0);
  });

  it('差异处理: a difference side by side, resolved with a reason, and the audit log has who and why', async () => {
    const page = await loginAs('fin');
    await page.goto(`${base}/admin/recon/items`);
    await waitFor(async () => (await rows(page).count()) > 5, 10_000, 'differences listed');
    await shot(page, 'recon-differences.png');
    await page.goto(`${base}/admin/recon/items?no=${mismatch.keyNo}`);
    await waitFor(async () => (await rows(page).count()) === 1, 10_000, 'one difference');
    await expectText(page, '.ant-table-tbody', '金额不符');
    await page.click('[data-testid=recon-item-no]');

    // The three sides: the channel's line (one fen more), our order with its events, the HIS record.
    const [m] = await db().select().from(reconItems).where(eq(reconItems.id, mismatch.id));
    await expectText(page, '[data-testid=recon-channel]', yuanText(m!.channelFen!));
    await expectText(page, '[data-testid=recon-platform]', mismatch.keyNo);
    await expectText(page, '[data-testid=recon-order-events]', '支付成功');
    await expectText(page, '[data-testid=recon-order-events]', 'HIS 已入账');
    await expectText(page, '[data-testid=recon-his]', `H${mismatch.keyNo}`);
    await expectText(page, '[data-testid=recon-his]', yuanText(m!.hisFen!));
    expect(await page.locator('[data-testid=btn-recon-refund]').count()).toBe(0); // not refundable from here
    await page.waitForTimeout(500); // the drawer's slide-in
    await shot(page, 'recon-difference-detail.png');

    await page.click('[data-testid=btn-recon-resolve]');
    await page.click('.ant-modal-footer .ant-btn-primary'); // no reason: refused by the form
    await expectText(page, '.ant-modal', '请填写原因');
    await page.fill('[data-testid=recon-reason]', REASON);
    await page.click('.ant-modal-footer .ant-btn-primary');
    await expectText(page, '.ant-message', '差异已标记为已处理');
    await expectText(page, '[data-testid=recon-status]', '已处理');
    await expectText(page, '[data-testid=recon-note]', REASON);
    expect(await page.locator('[data-testid=btn-recon-resolve]').count()).toBe(0);
    const [fin] = await db().select().from(adminUsers).where(eq(adminUsers.username, 'fin'));
    const [done] = await db().select().from(reconItems).where(eq(reconItems.id, mismatch.id));
    expect(done).toMatchObject({
      status: 'RESOLVED',
      resolution: 'manual',
      note: REASON,
      resolvedBy: `admin:${fin!.id}`,
    });

    // The audit log, as the API answers and as the page shows it.
    const log = await s.api('GET', '/admin/api/logs/audit?action=recon.resolve', { token: tokens.root });
    expect(log.body.items[0]).toMatchObject({
      username: 'fin',
      action: 'recon.resolve',
      targetType: 'recon_item',
      targetId: String(mismatch.id),
      before: { status: 'OPEN' },
      after: { status: 'RESOLVED', reason: REASON },
    });
    const root = await loginAs('root');
    await root.goto(`${base}/admin/logs/audit?action=recon.resolve`);
    await expectText(root, '[data-testid=log-audit] .ant-table-tbody', '处理对账差异');
    await expectText(root, '[data-testid=log-audit] .ant-table-tbody', '对账差异');
    expect(await root.locator('[data-testid=log-audit] .ant-table-tbody').innerText()).toContain('fin');
    await root.locator('[data-testid=log-audit] .ant-table-row-expand-icon').first().click();
    await expectText(root, '[data-testid=log-audit]', REASON);
    await shot(root, 'recon-audit-log.png');
  });

  it('without recon.resolve there is no resolve, refund or export button, and the API refuses', async () => {
    const fin = await loginAs('fin');
    await fin.goto(`${base}/admin/recon/items?no=${hisMissing.keyNo}`);
    await waitFor(async () => (await rows(fin).count()) === 1, 10_000, 'one difference');
    await fin.click('[data-testid=recon-item-no]');
    await fin.waitForSelector('[data-testid=recon-detail]');
    expect(await fin.locator('[data-testid=btn-recon-resolve]').count()).toBe(1);
    expect(await fin.locator('[data-testid=btn-recon-refund]').count()).toBe(1); // the HIS never recorded it

    const auditor = await loginAs('aud');
    await auditor.goto(`${base}/admin/recon/items?no=${hisMissing.keyNo}`);
    await waitFor(async () => (await rows(auditor).count()) === 1, 10_000, 'one difference');
    expect(await auditor.locator('[data-testid=btn-export-differences]').count()).toBe(0);
    await auditor.click('[data-testid=recon-item-no]');
    await expectText(auditor, '[data-testid=recon-his]', 'HIS 账无此记录');
    expect(await auditor.locator('[data-testid=btn-recon-resolve]').count()).toBe(0);
    expect(await auditor.locator('[data-testid=btn-recon-refund]').count()).toBe(0);
    const refused = await s.api('POST', `/admin/api/recon/items/${hisMissing.id}/resolve`, {
      token: tokens.aud,
      body: { reason: '审计不应能处理' },
    });
    expect(refused.status).toBe(403);
    expect(refused.body.error.code).toBe('forbidden');
    const [still] = await db().select().from(reconItems).where(eq(reconItems.id, hisMissing.id));
    expect(still!.status).not.toBe('RESOLVED');
  });

  it('对账报表: daily figures, chart, and 导出 Excel downloads a workbook exceljs reads with the right totals', async () => {
    const report = await s.api('GET', `/admin/api/recon/reports/daily?date=${DAY}`, { token: tokens.fin });
    const period = await s.api('GET', `/admin/api/recon/reports/period?from=${DAY}&to=2026-10-02`, {
      token: tokens.fin,
    });
    const page = await loginAs('fin');
    await page.goto(`${base}/admin/recon/reports?from=${DAY}&to=2026-10-02&date=${DAY}`);
    await expectText(
      page,
      '[data-testid=daily-platform-income]',
      yuanText(report.body.totals.platformIncomeFen),
    );
    await expectText(page, '[data-testid=daily-his-income]', yuanText(report.body.totals.hisIncomeFen));
    await expectText(page, '[data-testid=daily-difference]', yuanText(report.body.totals.dailyDifferenceFen));
    await expectText(page, '[data-testid=daily-abnormal-refunds]', '1 笔');
    await expectText(page, '[data-testid=daily-abnormal-refunds]', '¥3.21');
    await expectText(page, '[data-testid=daily-bank-arrival]', '未获取');
    await expectText(page, '[data-testid=period-report]', '未对账的日期：2026-10-02');
    await expectText(page, '[data-testid=abnormal-refunds]', 'RPAGES1');
    await page.waitForSelector('[data-testid=period-report] .hp-chart canvas');
    await page.waitForTimeout(600); // chart animation
    await shot(page, 'recon-reports.png');

    const [xlsx] = await Promise.all([
      page.waitForEvent('download'),
      page.click('[data-testid=btn-export-period-xlsx]'),
    ]);
    expect(xlsx.suggestedFilename()).toMatch(new RegExp(`^对账报表_.+_${DAY}_2026-10-02\\.xlsx$`));
    const file = path.join(SHOTS, 'recon-period.xlsx');
    await xlsx.saveAs(file);
    const wb = new ExcelJS.Workbook();
    await wb.xlsx.load(readFileSync(file) as unknown as ArrayBuffer);
    expect(wb.worksheets.map((w) => w.name)).toEqual(['每日汇总', '差异明细', '异常退款']);
    const ws = wb.getWorksheet('每日汇总')!;
    const headers = (ws.getRow(1).values as unknown[]).slice(1) as string[];
    const last = ws.getRow(ws.rowCount);
    const cell = (h: string) => last.getCell(headers.indexOf(h) + 1).value;
    expect(cell('日期')).toBe('合计');
    expect(Math.round(Number(cell('平台收入')) * 100)).toBe(period.body.totals.platformIncomeFen);
    expect(Math.round(Number(cell('HIS 收入（线上）')) * 100)).toBe(period.body.totals.hisIncomeFen);
    expect(cell('差异笔数')).toBe(period.body.totals.differences);
    expect(wb.getWorksheet('异常退款')!.getRow(2).getCell(2).value).toBe('RPAGES1');

    const [csv] = await Promise.all([
      page.waitForEvent('download'),
      page.click('[data-testid=btn-export-daily-csv]'),
    ]);
    expect(csv.suggestedFilename()).toMatch(new RegExp(`^对账日报_.+_${DAY}\\.csv$`));
    const csvFile = path.join(SHOTS, 'recon-daily.csv');
    await csv.saveAs(csvFile);
    const text = readFileSync(csvFile, 'utf8');
    expect(text.startsWith('\uFEFF渠道,')).toBe(true);
    expect(text).toContain(`合计,`);

    const auditor = await loginAs('aud');
    await auditor.goto(`${base}/admin/recon/reports?from=${DAY}&to=${DAY}&date=${DAY}`);
    await expectText(
      auditor,
      '[data-testid=daily-platform-income]',
      yuanText(report.body.totals.platformIncomeFen),
    );
    expect(await auditor.locator('[data-testid^=btn-export]').count()).toBe(0);
  });
});

/** Waits until the element's text contains `text` (and says what it saw when it does not). */
async function expectText(page: Page, selector: string, text: string, timeoutMs = 15_000): Promise<void> {
  try {
    await page.locator(selector).filter({ hasText: text }).first().waitFor({ timeout: timeoutMs });
  } catch {
    const seen = await page
      .locator(selector)
      .first()
      .innerText({ timeout: 1000 })
      .catch(() => '(element not found)');
    throw new Error(
      `expected ${selector} to contain ${JSON.stringify(text)}; it shows: ${seen.slice(0, 500)}`,
    );
  }
}
