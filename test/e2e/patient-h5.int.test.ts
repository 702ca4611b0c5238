import { mkdirSync } from 'node:fs';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { launchChromium } from '../support/browser';
import {
  buildPatientH5,
  PATIENT_SHOTS as SHOTS,
  patientShot,
  phonePage,
  waitText,
} from '../support/patient-h5';
import { startTestStack, waitFor, type TestStack } from '../support/platform';

/**
 * The patient H5 in a real browser: Debian's Chromium driven by playwright-core against the Taro H5 build
 * (client/dist/h5, built here when its sources changed) served by a real bff at /h5, with the WeChat Pay
 * simulator's cashier page standing in for WeChat's H5 payment page. Screenshots go to test-results/patient-h5/patient-h5-*.png.
 */

jest.setTimeout(90_000);

describe('patient H5 in Chromium', () => {
  let s: TestStack;
  let browser: Browser;
  let base: string;
  const contexts: BrowserContext[] = [];

  beforeAll(async () => {
    // 1. The build: only when its sources changed since the last one (hash kept beside client/dist).
    buildPatientH5();
    browser = await launchChromium('patient H5 browser tests');
    s = await startTestStack();
    base = s.platform.url;
    mkdirSync(SHOTS, { recursive: true });
  }, 480_000);

  afterAll(async () => {
    for (const c of contexts) await c.close().catch(() => undefined);
    await browser?.close().catch(() => undefined);
    await s?.stop();
  });

  /** A phone-sized page; text scaled up to check the layout holds at large font sizes. */
  const phone = (opts: { fontScale?: number } = {}) => phonePage(browser, contexts, opts);
  const text = waitText;
  const shot = patientShot;
  async function sandboxLogin(page: Page, hisPatientId: string) {
    await page.locator(`.hp-sandbox-H001-${hisPatientId}`).click();
  }
  const orderIdFromUrl = (page: Page) => new URL(page.url()).searchParams.get('id')!;

  it('serves the build at /h5 with its own CSP; the slip path /h5/checkout is the app', async () => {
    const index = await fetch(`${base}/h5/checkout?t=x`);
    expect(index.status).toBe(200);
    expect(index.headers.get('content-security-policy')).toMatch(/script-src 'self'/);
    const html = await index.text();
    expect(html).toContain('/h5/js/');
    expect(html).not.toMatch(/https?:\/\//);
    const js = /src="(\/h5\/js\/[^"]+\.js)"/.exec(html)![1]!;
    const asset = await fetch(`${base}${js}`);
    expect(asset.status).toBe(200);
    expect(asset.headers.get('cache-control')).toMatch(/immutable/);
    expect((await fetch(`${base}/h5/js/missing.js`)).status).toBe(404);
  });

  it('login → bills by visit → checkout → sandbox cashier → result → history → order → invoice', async () => {
    const visitNo = `V${Date.now()}`;
    await s.pushBill({
      visitNo,
      title: '门诊西药费',
      department: '呼吸内科',
      doctor: '陈医生',
      amountFen: 12850,
      items: [
        { name: '阿莫西林胶囊', spec: '0.25g×24粒', quantity: 2, unit: '盒', amountFen: 5600 },
        { name: '复方甘草口服溶液', spec: '100ml', quantity: 1, unit: '瓶', amountFen: 7250 },
      ],
    } as never);
    await s.pushBill({
      visitNo,
      title: '血常规检查',
      department: '检验科',
      doctor: '陈医生',
      amountFen: 2500,
    });

    const page = await phone();
    await page.goto(`${base}/h5/`);
    await page.waitForURL(/\/h5\/login/);
    await text(page, '[data-testid=sandbox-patients]', '张*');
    await shot(page, '01-login');
    await sandboxLogin(page, 'P0001');
    await text(page, '[data-testid=patient-name]', '张三');
    await text(page, '.hp-visit', '¥153.50');
    await page.locator('.hp-detail-toggle').first().click();
    await text(page, '[data-testid=bill-items]', '阿莫西林胶囊');
    await shot(page, '02-bills');

    await page.locator('.hp-go-checkout').click();
    await text(page, '[data-testid=pay-options]', '微信支付');
    await text(page, '.hp-total', '¥153.50');
    await shot(page, '03-checkout');
    await page.locator('.hp-option-wechatpay').click();
    await page.locator('.hp-pay').click();

    // WeChat's H5 page (the simulator's cashier): pay, and come back to the result page.
    await page.waitForURL(/\/sim\/cashier\/wechatpay\//);
    await page.locator('#pay').waitFor();
    await shot(page, '04-cashier');
    await page.locator('#pay').click();
    await page.waitForURL(/\/h5\/result\?id=/);
    const orderId = orderIdFromUrl(page);
    await text(page, '[data-testid=result-title]', '支付成功');
    await shot(page, '05-result');

    await page.locator('.hp-view-order').click();
    await text(page, '[data-testid=order-status]', '已支付');
    await text(page, '.hp-card', '血常规检查');
    await shot(page, '06-order');
    // The HIS issues the e-invoice once it has the payment result.
    await waitFor(async () => s.sandbox.his.invoices.length > 0, 15_000, 'invoice issued');
    await page.locator('.hp-invoices').click();
    await text(page, '.hp-invoice', '票据号');
    await shot(page, '07-invoices');
    await page.locator('.hp-invoice').first().click();
    await page.locator('[data-testid=invoice-viewer] iframe').waitFor();
    const src = await page.locator('[data-testid=invoice-viewer] iframe').getAttribute('src');
    expect(src).toMatch(/^blob:/);
    await page.waitForTimeout(500);
    await shot(page, '08-invoice');

    await page.goto(`${base}/h5/orders`);
    await text(page, '.hp-order', '门诊西药费等2项');
    await text(page, '.hp-order', '已支付');
    await shot(page, '09-history');
    const detail = await s.api('GET', `/api/orders/${orderId}`, { token: await s.login('P0001') });
    expect(detail.body.status).toMatch(/PAID|SETTLED/);
  });

  it('a cancelled payment: back from the cashier unpaid, the order is asked, then resumed and paid', async () => {
    await s.pushBill({ patientId: 'P0002', title: '挂号费', department: '骨科', amountFen: 1500 });
    const page = await phone();
    await page.goto(`${base}/h5/login`);
    await sandboxLogin(page, 'P0002');
    await text(page, '.hp-visit', '挂号费');
    await page.locator('.hp-go-checkout').click();
    await page.locator('.hp-option-wechatpay').click();
    await page.locator('.hp-pay').click();
    await page.waitForURL(/\/sim\/cashier\/wechatpay\//);
    await page.locator('#cancel').click();
    await page.waitForURL(/\/h5\/result\?id=/);
    const orderId = orderIdFromUrl(page);
    // Nothing was paid: after its polls the page says so and offers to resume the same order.
    await text(page, '[data-testid=result-title]', '暂未收到支付结果', 45_000);
    await page.locator('.hp-resume-pay').waitFor();
    await shot(page, '10-cancelled');
    const token = await s.login('P0002');
    expect((await s.api('GET', `/api/orders/${orderId}`, { token })).body.status).toBe('PAYING');
    // The bill is held by that order: the list offers its result page instead of a second order.
    await page.goto(`${base}/h5/`);
    await text(page, '.hp-visit', '支付中');
    await page.locator('.hp-resume').click();
    await page.waitForURL(/\/h5\/result\?id=/);
    await page.locator('.hp-resume-pay').click();
    await page.waitForURL(/\/sim\/cashier\/wechatpay\//);
    await page.locator('#pay').click();
    await page.waitForURL(/\/h5\/result\?id=/);
    await text(page, '[data-testid=result-title]', '支付成功');
    expect(orderIdFromUrl(page)).toBe(orderId);
  });

  it('desktop browser: the order’s QR code to scan, the page updating itself once paid', async () => {
    await s.pushBill({ patientId: 'P0003', title: '检验费', department: '检验科', amountFen: 4200 });
    const ctx = await browser.newContext({ viewport: { width: 1280, height: 800 }, locale: 'zh-CN' });
    contexts.push(ctx);
    const page = await ctx.newPage();
    page.setDefaultTimeout(20_000);
    await page.goto(`${base}/h5/login`);
    await sandboxLogin(page, 'P0003');
    await text(page, '.hp-visit', '检验费');
    await page.locator('.hp-go-checkout').click();
    await text(page, '[data-testid=pay-options]', '微信扫码');
    await text(page, '[data-testid=pay-options]', '支付宝扫码');
    await page.locator('.hp-option-wechatpay').click();
    await page.locator('.hp-pay').click();
    await page.waitForURL(/\/h5\/result\?id=.*hint=qr/);
    await page.locator('.hp-qr img, img.hp-qr').first().waitFor();
    await text(page, '[data-testid=result-title]', '请扫码支付');
    await shot(page, '11-desktop-qr');
    const token = await s.login('P0003');
    const order = (await s.api('GET', `/api/orders/${orderIdFromUrl(page)}`, { token })).body;
    expect(order).toMatchObject({ tradeType: 'NATIVE', status: 'PAYING' });
    s.sandbox.wechat.pay(order.orderNo);
    await text(page, '[data-testid=result-title]', '支付成功');
  });

  it('a slip’s QR code opens the checkout of that bill after login', async () => {
    const { hisBillNo } = await s.pushBill({ title: 'CT 检查费', department: '放射科', amountFen: 32000 });
    const qr = await s.his('GET', `/open/v1/bills/${hisBillNo}/qr`);
    expect(qr.status).toBe(200);
    const page = await phone();
    await page.goto(qr.body.url);
    await page.waitForURL(/\/h5\/login/);
    await sandboxLogin(page, 'P0001');
    await page.waitForURL(/\/h5\/checkout\?/);
    await text(page, '[data-testid=checkout-bills]', 'CT 检查费');
    await text(page, '.hp-total', '¥320.00');
    await shot(page, '12-slip-checkout');
  });

  it('WeChat OAuth login (the simulator’s authorize page), a first card bound, at large font size', async () => {
    const page = await phone({ fontScale: 1.5 });
    await page.goto(`${base}/h5/login`);
    await page.locator('.hp-wechat-login').click();
    await page.waitForURL(/\/connect\/oauth2\/authorize/);
    await page.locator('#user-1').click();
    // No card yet: the binding page; a wrong name is refused by the HIS.
    await page.waitForURL(/\/h5\/.*bind/);
    await page.locator('.hp-input-name input').fill('李五');
    await page.locator('.hp-input-number input').fill('2026000102');
    await page.locator('.hp-bind-submit').click();
    await text(page, '[data-testid=bind-error]', '姓名与卡号不一致');
    await page.locator('.hp-input-name input').fill('李四');
    await page.locator('.hp-bind-submit').click();
    await text(page, '[data-testid=patient-name]', '李四');
    await shot(page, '13-wechat-login-large-font');
    // Nothing overflows sideways at 150 %.
    const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
    expect(overflow).toBeLessThanOrEqual(1);
  });
});
