import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fenToYuan } from '@hp/shared';
import { and, eq, sql } from 'drizzle-orm';
import ExcelJS from 'exceljs';
import type { Browser, Page } from 'playwright-core';
import { adminAuditLogs, adminUsers, orderEvents, patients } from '../../bff/src/db/schema';
import { reconDeliveries, reconItems } from '../../bff/src/db/schema-recon';
import { createAdminUser } from '../../bff/src/modules/admin/auth-service';
import { runReconciliation } from '../../bff/src/modules/recon/engine';
import {
  adminPages,
  expectText,
  launchAdminBrowser,
  screenshot as shot,
  SHOTS,
  tableRows as rows,
  type AdminPages,
} from '../support/browser';
import { generateReconDay } from '../support/recon-day';
import { startTestStack, waitFor, type TestStack } from '../support/platform';

/**
 * The reconciliation pages (对账批次, 差异处理, 对账报表) in Debian's Chromium driven by playwright-core, on a
 * generated day: a difference opened side by side and resolved with a reason (then in the audit log), the
 * buttons following permissions, and the Excel export downloaded and read back with exceljs. Screenshots go
 * to test-results/admin-pages/.
 */
const PASSWORD = 'Passw0rd-recon-pages';
const USERS = { root: 'super_admin', fin: 'finance', aud: 'auditor' } as const;
const H = 'hosp_h001';
const DAY = '2026-10-01';
const REASON = '已与微信支付核实：渠道多记 1 分，人工调账';
/** A real-format WeChat fund-flow bill of 2026-03-14 (test/fixtures/recon/README.md). */
const FUND_FLOW = readFileSync(path.join(__dirname, '../fixtures/recon/fundflow-BASIC-2026-03-14.csv'));
const FUND_FLOW_DAY = '2026-03-14';

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
  let pages: AdminPages;
  let base: string;
  const tokens: Record<string, string> = {};
  /** An amount mismatch (to resolve) and a payment the HIS never recorded (refundable). */
  let mismatch: { id: number; keyNo: string; orderId: string };
  let hisMissing: { id: number; keyNo: string };
  const db = () => s.platform.deps.db;

  beforeAll(async () => {
    browser = await launchAdminBrowser();
    s = await startTestStack({}, { workers: false });
    base = s.platform.url;
    pages = adminPages(browser, base, { viewport: { width: 1600, height: 960 }, acceptDownloads: true });
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
    await pages?.close();
    await browser?.close().catch(() => undefined);
    await s?.stop();
  });

  const loginAs = (username: keyof typeof USERS): Promise<Page> => pages.loginAs(username, PASSWORD);

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

  /** Picks an option of the antd select in the form item labelled `label` (in the open dialog). */
  async function choose(page: Page, label: string, option: string) {
    await page.click(`.ant-modal .ant-form-item:has(label:text-is("${label}")) .ant-select`);
    await page.click(
      `.ant-select-dropdown:not(.ant-select-dropdown-hidden) .ant-select-item-option:has-text("${option}")`,
    );
  }
  /** Chooses the file of the open 上传对账单 dialog. */
  const attach = (page: Page, name: string, buffer: Buffer) =>
    page.setInputFiles('[data-testid=upload-file] input[type=file]', { name, mimeType: 'text/csv', buffer });
  /** Opens 上传对账单 on the runs page for H001's WeChat Pay fund-flow bill of FUND_FLOW_DAY, with `file`. */
  async function openFundFlowUpload(page: Page, name: string, buffer: Buffer) {
    await page.click('[data-testid=btn-upload-statement]');
    await choose(page, '医院', '示范市第一人民医院（本部）');
    await choose(page, '商户号 / 渠道', '微信支付');
    await choose(page, '账单类型', '资金账单');
    const date = page.locator('.ant-modal .ant-form-item:has(label:text-is("账单日期")) input');
    await date.click();
    await date.fill(FUND_FLOW_DAY);
    await date.press('Enter');
    await attach(page, name, buffer);
  }
  /** The statements of a day as the API lists them (GET /recon/reports/daily `statements`). */
  const statementsOf = async (date: string) =>
    (await s.api('GET', `/admin/api/recon/reports/daily?date=${date}&hospitalId=${H}`, { token: tokens.fin }))
      .body.statements;

  it('上传对账单: a corrupt file is refused with its reason and changes nothing; a good one shows 已导入', async () => {
    const before = await statementsOf(FUND_FLOW_DAY);
    const page = await loginAs('fin');
    await page.goto(`${base}/admin/recon/runs`);
    // The summary says 11 lines; the file has 10.
    const corrupt = Buffer.from(FUND_FLOW.toString('utf8').replace('`10,`5,', '`11,`5,'), 'utf8');
    await openFundFlowUpload(page, 'fundflow.csv', corrupt);
    await page.click('.ant-modal-footer .ant-btn-primary');
    await expectText(page, '[data-testid=upload-rejected]', '已拒收，未做任何更改');
    await expectText(page, '[data-testid=upload-rejected]', '汇总与明细不符');
    await expectText(page, '[data-testid=upload-rejected]', 'STATEMENT_INCONSISTENT');
    await expectText(page, '[data-testid=upload-rejected]', '资金流水总笔数 11 ≠ 10');
    await shot(page, 'recon-upload-rejected.png');
    // Nothing changed: no statement, no audit row.
    expect(await statementsOf(FUND_FLOW_DAY)).toEqual(before);
    expect(await db().select().from(adminAuditLogs).where(eq(adminAuditLogs.action, 'recon.upload'))).toEqual(
      [],
    );

    // The file as the channel published it: imported, and the day's statements show it.
    await attach(page, 'fundflow.csv', FUND_FLOW);
    await page.click('.ant-modal-footer .ant-btn-primary');
    await expectText(page, '.ant-message', '资金账单已导入：10 笔');
    await expectText(page, '[data-testid=statement-status]', '已导入');
    await expectText(page, '[data-testid=statement-status]', '资金账单');
    await expectText(page, '[data-testid=statement-status]', 'ma_h001_wechatpay');
    expect(await statementsOf(FUND_FLOW_DAY)).toEqual([
      expect.objectContaining({
        merchantAccountId: 'ma_h001_wechatpay',
        billType: 'FUNDFLOW',
        status: 'IMPORTED',
        lineCount: 10,
      }),
    ]);
    await shot(page, 'recon-statement-status.png');

    // Once imported, another upload replaces it only when asked, after a confirmation.
    await openFundFlowUpload(page, 'fundflow-again.csv', FUND_FLOW);
    await expectText(page, '[data-testid=upload-existing]', '已导入');
    await page.click('.ant-modal label:has-text("覆盖已导入的对账单")');
    await page.click('.ant-modal-footer .ant-btn-primary');
    await expectText(page, '.ant-modal-confirm', '覆盖已导入的对账单？');
    await page.click('.ant-modal-confirm .ant-btn-dangerous');
    await expectText(page, '.ant-message', '资金账单已导入：10 笔');
    const uploads = await db().select().from(adminAuditLogs).where(eq(adminAuditLogs.action, 'recon.upload'));
    expect(uploads.map((u) => (u.after as { fileName: string; replace: boolean }).fileName)).toEqual([
      'fundflow.csv',
      'fundflow-again.csv',
    ]);

    // Without recon.resolve there is no upload.
    const auditor = await loginAs('aud');
    await auditor.goto(`${base}/admin/recon/runs`);
    await expectText(auditor, '[data-testid=recon-runs] .ant-table-tbody', DAY);
    expect(await auditor.locator('[data-testid=btn-upload-statement]').count()).toBe(0);
  });

  it('对账文件推送: a target created through the API is listed without its secrets; deliveries and 立即推送', async () => {
    const SECRET = 'Sftp-Secret-Do-Not-Show-7731';
    const created = await s.api('POST', '/admin/api/recon/push-targets', {
      token: tokens.root,
      body: {
        hospitalId: H,
        name: 'HIS 对账服务器',
        protocol: 'sftp',
        host: 'his-sftp.hospital.local',
        username: 'recon',
        password: SECRET,
        remoteDir: '/recon/in',
        settings: { fileNamePattern: 'DZ_{hospital}_{yyyymmdd}.csv' },
      },
    });
    expect(created.status).toBe(201);
    const targetId: string = created.body.id;
    await db()
      .insert(reconDeliveries)
      .values([
        {
          id: 'rdl_pages_1',
          hospitalId: H,
          targetId,
          businessDate: DAY,
          status: 'DELIVERED',
          fileName: 'DZ_H001_20261001.csv',
          remotePath: '/recon/in/DZ_H001_20261001.csv',
          fileBytes: 2048,
          attempts: 1,
          triggeredBy: 'job:recon-push',
          deliveredAt: new Date('2026-10-02T01:00:00Z'),
        },
        {
          id: 'rdl_pages_2',
          hospitalId: H,
          targetId,
          businessDate: '2026-09-30',
          status: 'FAILED',
          attempts: 3,
          lastError: 'cannot reach his-sftp.hospital.local:22: connect ECONNREFUSED',
          triggeredBy: 'job:recon-push',
        },
      ]);

    const page = await loginAs('root');
    await page.goto(`${base}/admin/recon/push`);
    await expectText(page, '.ant-menu', '对账文件推送');
    await expectText(page, '[data-testid=push-targets] .ant-table-tbody', 'HIS 对账服务器');
    await expectText(page, '[data-testid=push-targets] .ant-table-tbody', 'his-sftp.hospital.local:22');
    await expectText(page, '[data-testid=push-targets] .ant-table-tbody', '已设置');
    await expectText(page, '[data-testid=recon-deliveries] .ant-table-tbody', '推送失败');
    await expectText(page, '[data-testid=recon-deliveries] .ant-table-tbody', 'connect ECONNREFUSED');
    await expectText(page, '[data-testid=recon-deliveries] .ant-table-tbody', '已送达');
    expect(await page.content()).not.toContain(SECRET);
    await shot(page, 'recon-push.png');

    // 立即推送 of a delivered day asks first; cancelled, nothing is sent.
    await page
      .locator('[data-testid=recon-deliveries] .ant-table-row', { hasText: DAY })
      .locator('[data-testid=btn-deliver-row]')
      .click();
    await expectText(page, '.ant-modal-confirm', '该日文件已送达');
    await expectText(page, '.ant-modal-confirm', '/recon/in/DZ_H001_20261001.csv');
    await page.click('.ant-modal-confirm .ant-btn:not(.ant-btn-primary)');
    await page.waitForSelector('.ant-modal-confirm', { state: 'detached' });
    const [kept] = await db().select().from(reconDeliveries).where(eq(reconDeliveries.id, 'rdl_pages_1'));
    expect(kept).toMatchObject({ status: 'DELIVERED', attempts: 1 });

    // Read-only roles see the targets and deliveries, and no button that changes them.
    const auditor = await loginAs('aud');
    await auditor.goto(`${base}/admin/recon/push`);
    await expectText(auditor, '[data-testid=push-targets] .ant-table-tbody', 'HIS 对账服务器');
    await expectText(auditor, '[data-testid=recon-deliveries] .ant-table-tbody', '推送失败');
    for (const button of ['btn-new-target', 'btn-toggle-target', 'btn-deliver', 'btn-deliver-row'])
      expect(await auditor.locator(`[data-testid=${button}]`).count()).toBe(0);
    expect(await auditor.content()).not.toContain(SECRET);
  });
});
