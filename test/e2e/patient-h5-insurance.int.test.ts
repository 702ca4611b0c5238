import { mkdirSync } from 'node:fs';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { launchChromium } from '../support/browser';
import {
  buildPatientH5,
  PATIENT_SHOTS,
  patientShot as shot,
  phonePage,
  waitText as text,
} from '../support/patient-h5';
import { startTestStack, waitFor, type TestStack } from '../support/platform';

/**
 * 医保支付 in the patient H5 (Chromium, playwright-core, the built H5 served by a real bff): a sandbox patient
 * chooses 医保支付 at checkout, authorises on the national-platform simulator's page, sees the quote's split
 * (the same amounts the API holds), confirms, pays the cash part at the WeChat Pay simulator's cashier, and the
 * HIS receives the payment with the split. A refused quote falls back to self-pay. Screenshots:
 * test-results/patient-h5/patient-h5-i*.png.
 */
jest.setTimeout(150_000);

/** 张三 (P0001 at H001) at the national platform. */
const ZHANG = {
  psnNo: '11000000000000000001',
  name: '张三',
  idNo: '110101198503120017',
  insutype: '310',
  insuplcAdmdvs: '110100',
};
/** 西药 70 % and 化验 60 % from the fund, 挂号 0 %; the personal account pays the rest up to its balance. */
const ITEMS = [
  { name: '阿莫西林胶囊', quantity: 2, amountFen: 3000, category: '09' },
  { name: '血常规', quantity: 1, amountFen: 2500, category: '04' },
  { name: '挂号费', quantity: 1, amountFen: 500, category: '13' },
];

const yuan = (fen: number) =>
  `¥${String(Math.trunc(fen / 100)).replace(/\B(?=(\d{3})+(?!\d))/g, ',')}.${String(fen % 100).padStart(2, '0')}`;

describe('patient H5: medical insurance at checkout', () => {
  let s: TestStack;
  let browser: Browser;
  let base: string;
  const contexts: BrowserContext[] = [];

  const nhsa = async (path: string, body: unknown) => {
    const r = await fetch(`${s.sandbox.nhsa.url}${path}`, { method: 'POST', body: JSON.stringify(body) });
    expect(r.status).toBe(200);
  };

  beforeAll(async () => {
    buildPatientH5();
    browser = await launchChromium('patient H5 browser tests');
    s = await startTestStack();
    base = s.platform.url;
    mkdirSync(PATIENT_SHOTS, { recursive: true });
    // A personal account of ¥10.00: the split then has all of fund, account and cash.
    await nhsa('/sim/nhsa/persons', { ...ZHANG, balanceFen: 1000 });
  }, 480_000);

  afterAll(async () => {
    for (const c of contexts) await c.close().catch(() => undefined);
    await browser?.close().catch(() => undefined);
    await s?.stop();
  });

  /** 张三's authorisation without the page (the first test goes through the page). */
  async function authorized(token: string): Promise<void> {
    if ((await s.api('GET', '/api/insurance/status', { token })).body.authorized) return;
    const r = await fetch(`${s.sandbox.nhsa.url}/sim/nhsa/authorize`, {
      method: 'POST',
      body: JSON.stringify({ psnNo: ZHANG.psnNo }),
    });
    const { authCode } = (await r.json()) as { authCode: string };
    const done = await s.api('POST', '/api/insurance/authorize/complete', { token, body: { authCode } });
    expect(done.status).toBe(200);
  }

  async function loggedIn(hisPatientId: string): Promise<Page> {
    const page = await phonePage(browser, contexts);
    await page.goto(`${base}/h5/login`);
    await page.locator(`.hp-sandbox-H001-${hisPatientId}`).click();
    await page.locator('[data-testid=patient-name]').waitFor();
    return page;
  }

  it('authorise → quote with the split → confirm → cash part at the cashier → paid; the HIS gets the split', async () => {
    const bill = await s.pushBill({
      patientId: 'P0001',
      amountFen: 6000,
      title: '门诊费用',
      items: ITEMS,
    } as never);
    const token = await s.login('P0001');
    const page = await loggedIn('P0001');
    await text(page, '.hp-visit', '门诊费用');
    await page.locator('.hp-go-checkout').click();
    await page.waitForURL(/\/h5\/checkout\?bills=/);
    await text(page, '.hp-total', '¥60.00');

    // 医保支付, not authorised yet: the prompt, with self-pay offered.
    await page.locator('.hp-mode-insurance').click();
    await text(page, '[data-testid=insurance]', '授权本院使用您的医保电子凭证');
    await page.locator('.hp-ins-selfpay').waitFor();
    await shot(page, 'i01-insurance-not-authorized');

    // The national platform's page (the simulator's) lists the insured persons; 张三 taps 授权.
    await page.locator('.hp-ins-authorize').click();
    await page.waitForURL(/\/sim\/nhsa\/auth\?/);
    const row = page.locator(`form:has(input[name=psnNo][value="${ZHANG.psnNo}"])`);
    await row.filter({ hasText: '张*' }).waitFor();
    await shot(page, 'i02-nhsa-authorize');
    await row.locator('button[value=authorize]').click();

    // Back through /h5/insurance/return to the checkout, 医保支付 chosen and authorised, with the balance.
    await page.waitForURL(/\/h5\/checkout\?.*ins=1/);
    expect(new URL(page.url()).searchParams.get('bills')).toBe(bill.billId);
    await text(page, '.hp-ins-name', '张*');
    await text(page, '.hp-ins-balance', '¥10.00');
    const st = (await s.api('GET', '/api/insurance/status', { token })).body;
    expect(st).toMatchObject({ authorized: true, nameMasked: '张*', insutype: '310' });
    await shot(page, 'i03-insurance-authorized');

    // 获取医保报销金额: the quote's split on screen is the API's, to the fen.
    await page.locator('.hp-ins-quote').click();
    const card = page.locator('[data-testid=insurance-split]');
    await card.waitFor();
    const orderId = (await card.getAttribute('data-order-id'))!;
    expect(orderId).toMatch(/^ord_/);
    const quoted = (await s.api('GET', `/api/insurance/orders/${orderId}`, { token })).body;
    expect(quoted).toMatchObject({ status: 'CREATED', settlementStatus: 'QUOTED', settleChannel: 'nhsa' });
    const split = quoted.split as Record<
      'totalFen' | 'fundFen' | 'psnAcctFen' | 'otherFen' | 'cashFen',
      number
    >;
    // The simulator's rules: fund 2100 + 1500; the account its whole ¥10.00; the rest in cash.
    expect(split).toEqual({ totalFen: 6000, fundFen: 3600, psnAcctFen: 1000, otherFen: 0, cashFen: 1400 });
    for (const [cls, fen] of [
      ['fund', split.fundFen],
      ['psnAcct', split.psnAcctFen],
      ['other', split.otherFen],
      ['cash', split.cashFen],
    ] as const) {
      const line = card.locator(`.hp-ins-${cls}`);
      expect(await line.getAttribute('data-fen')).toBe(String(fen));
      expect(await line.innerText()).toContain(yuan(fen));
    }
    expect(await card.locator('.hp-ins-total').innerText()).toBe(yuan(split.totalFen));
    await text(page, '.hp-ins-cash-total', yuan(split.cashFen));
    await shot(page, 'i04-insurance-quote');

    // 确认支付: the insurance part settles, the cash part goes to WeChat's H5 page (the simulator's cashier).
    await page.locator('.hp-ins-pay').click();
    await page.waitForURL(/\/sim\/cashier\/wechatpay\//);
    await page.locator('#pay').waitFor();
    await shot(page, 'i05-cashier-cash-part');
    await page.locator('#pay').click();
    await page.waitForURL(/\/h5\/result\?id=/);
    expect(new URL(page.url()).searchParams.get('id')).toBe(orderId);
    await text(page, '[data-testid=result-title]', '支付成功');
    await text(page, '[data-testid=insurance-split]', yuan(split.fundFen));
    await shot(page, 'i06-result');

    const order = (await s.api('GET', `/api/orders/${orderId}`, { token })).body;
    expect(order.status).toMatch(/^(PAID|SETTLED)$/);
    const settled = (await s.api('GET', `/api/insurance/orders/${orderId}`, { token })).body;
    expect(settled.settlementStatus).toBe('SETTLED');
    expect(settled.split).toEqual(split);

    // The HIS got the payment with the split as settled.
    const push = await waitFor(
      async () =>
        [...s.sandbox.his.results.values()].find(
          (r) => r.body.orderNo === quoted.orderNo && r.body.kind === 'payment',
        ),
      20_000,
      'HIS payment push with the insurance split',
    );
    expect(push.body.amountFen).toBe(6000);
    expect(push.body.insurance).toMatchObject({
      ...split,
      settleChannel: 'nhsa',
      payOrdId: expect.any(String),
    });

    // The order's page shows the split too.
    await page.locator('.hp-view-order').click();
    await page.waitForURL(/\/h5\/order\?id=/);
    await text(page, '[data-testid=order-status]', '已支付');
    await text(page, '[data-testid=insurance-split]', yuan(split.psnAcctFen));
    await shot(page, 'i07-order-with-split');
  });

  it('取消 withdraws a quote; a refused quote shows the platform’s message and self-pay pays the bill', async () => {
    const bill = await s.pushBill({
      patientId: 'P0001',
      amountFen: 6000,
      title: '检验费用',
      items: ITEMS,
    } as never);
    const token = await s.login('P0001');
    await authorized(token);
    const held = async () =>
      (
        (await s.api('GET', '/api/patient/bills', { token })).body.bills as {
          id: string;
          payingOrderId: string | null;
        }[]
      ).find((b) => b.id === bill.billId)?.payingOrderId ?? null;
    const page = await loggedIn('P0001');
    await page.goto(`${base}/h5/checkout?bills=${bill.billId}&ins=1`);
    await text(page, '.hp-ins-name', '张*');

    // A quote holds the bill; 取消 withdraws it and lets the bill go.
    await page.locator('.hp-ins-quote').click();
    const card = page.locator('[data-testid=insurance-split]');
    await card.waitFor();
    const quoteId = (await card.getAttribute('data-order-id'))!;
    expect(await held()).toBe(quoteId);
    await page.locator('.hp-ins-cancel').click();
    await card.waitFor({ state: 'detached' });
    await page.locator('.hp-ins-quote').waitFor();
    expect((await s.api('GET', `/api/insurance/orders/${quoteId}`, { token })).body.settlementStatus).toBe(
      'REVOKED',
    );
    expect(await held()).toBeNull();

    await nhsa('/sim/nhsa/faults', { op: 'upload', fault: 'fail', message: '参保人医保待遇暂停（沙箱）' });
    await page.locator('.hp-ins-quote').click();
    await text(page, '[data-testid=insurance-error]', '参保人医保待遇暂停');
    await shot(page, 'i08-insurance-refused');
    // Nothing is held: the failed quote let go of the bill.
    expect(await held()).toBeNull();

    await page.locator('[data-testid=insurance-error] .hp-ins-selfpay').click();
    await text(page, '[data-testid=pay-options]', '微信支付');
    await page.locator('.hp-option-wechatpay').click();
    await page.locator('.hp-pay').click();
    await page.waitForURL(/\/sim\/cashier\/wechatpay\//);
    await page.locator('#pay').click();
    await page.waitForURL(/\/h5\/result\?id=/);
    await text(page, '[data-testid=result-title]', '支付成功');
    const orderId = new URL(page.url()).searchParams.get('id')!;
    // A self-pay order: the whole amount by WeChat Pay, no insurance part.
    expect((await s.api('GET', `/api/orders/${orderId}`, { token })).body).toMatchObject({
      amountFen: 6000,
      channel: 'wechatpay',
    });
    expect((await s.api('GET', `/api/insurance/orders/${orderId}`, { token })).status).toBe(404);

    // 医保授权 shows the standing: authorised, for 张*.
    await page.goto(`${base}/h5/insurance`);
    await text(page, '[data-testid=insurance-status]', '已授权');
    await text(page, '[data-testid=insurance-status]', '张*');
    await page.locator('.hp-ins-authorize').waitFor();
    await shot(page, 'i09-insurance-page');
  });

  it('a quote left at checkout holds the bill; the result page confirms it and the cash part is paid', async () => {
    await s.pushBill({ patientId: 'P0001', amountFen: 6000, title: '复诊费用', items: ITEMS } as never);
    const token = await s.login('P0001');
    await authorized(token);
    const page = await loggedIn('P0001');
    await text(page, '.hp-visit', '复诊费用');
    await page.locator('.hp-go-checkout').click();
    await page.waitForURL(/\/h5\/checkout\?bills=/);
    await page.locator('.hp-mode-insurance').click();
    await page.locator('.hp-ins-quote').click();
    const card = page.locator('[data-testid=insurance-split]');
    await card.waitFor();
    const orderId = (await card.getAttribute('data-order-id'))!;

    // The patient leaves; the bill list shows the bill held, and its result page offers to go on.
    await page.goto(`${base}/h5/`);
    await text(page, '.hp-visit', '支付中');
    await page.locator('.hp-resume').click();
    await page.waitForURL(/\/h5\/result\?id=/);
    expect(new URL(page.url()).searchParams.get('id')).toBe(orderId);
    await text(page, '[data-testid=result-title]', '医保报销金额待确认');
    await page.locator('[data-testid=insurance-split]').waitFor();
    await page.locator('.hp-ins-cancel').waitFor();
    await shot(page, 'i11-result-quoted');
    await page.locator('.hp-resume-pay').click();
    await page.waitForURL(/\/sim\/cashier\/wechatpay\//);
    await page.locator('#pay').click();
    await page.waitForURL(/\/h5\/result\?id=/);
    await text(page, '[data-testid=result-title]', '支付成功');
    const v = (await s.api('GET', `/api/insurance/orders/${orderId}`, { token })).body;
    expect(v.settlementStatus).toBe('SETTLED');
    expect((await s.api('GET', `/api/orders/${orderId}`, { token })).body.status).toMatch(/^(PAID|SETTLED)$/);
  });

  it('login options carry the subscription templates the mini-program asks consent for before paying', async () => {
    const opts = (await s.api('GET', '/api/patient/login-options')).body;
    expect(opts.miniProgramAppId).toEqual(expect.any(String));
    // The sandbox's demo templates (no WECHAT_SUBSCRIBE_TEMPLATES configured).
    expect(opts.subscribeTemplates).toMatchObject({
      payment_succeeded: 'sandbox-tpl-payment-succeeded',
      refund_done: 'sandbox-tpl-refund-done',
    });
  });

  it('住院押金 lists the stay’s discharge settlement: cost, deposits, the rest to pay through the checkout', async () => {
    const admissionNo = `A${Date.now()}`;
    const admitted = await s.his('POST', '/open/v1/admissions', {
      admissionNo,
      patientId: 'P0003',
      patientName: '王五',
      department: '骨科',
      ward: '3病区',
      admittedAt: new Date().toISOString(),
    });
    expect(admitted.status).toBe(200);
    const settled = await s.his('POST', `/open/v1/admissions/${admissionNo}/settlements`, {
      hisSettlementNo: `S${Date.now()}`,
      totalCostFen: 30_000,
    });
    expect(settled.status).toBe(200);
    const page = await loggedIn('P0003');
    await page.locator('.hp-entry-inpatient').click();
    await page.waitForURL(/\/h5\/inpatient/);
    const row = page.locator('[data-testid=settlement]');
    await text(page, '[data-testid=settlement]', '出院结算');
    await text(page, '.hp-settlement-cost', '¥300.00');
    await text(page, '.hp-settlement-deposits', '¥0.00');
    await text(page, '.hp-settlement-extra', '待补缴');
    await shot(page, 'i10-inpatient-settlement');
    await row.locator('.hp-pay-settlement').click();
    await page.waitForURL(/\/h5\/checkout\?bills=/);
    await text(page, '.hp-total', '¥300.00');
  });
});
