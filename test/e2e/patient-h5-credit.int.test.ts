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
 * 信用就医, 消息 and 住院押金 in the patient H5 (Chromium, playwright-core, the built H5 served by a real bff):
 * a sandbox patient signs up on the credit bank simulator's page and comes back signed; a bill the HIS pushes
 * is then paid with no action of the patient, and the message says so. Screenshots: test-results/patient-h5/patient-h5-c*.png.
 */
jest.setTimeout(120_000);

describe('patient H5: credit pay, messages, inpatient deposits', () => {
  let s: TestStack;
  let browser: Browser;
  let base: string;
  const contexts: BrowserContext[] = [];

  beforeAll(async () => {
    buildPatientH5();
    browser = await launchChromium('patient H5 browser tests');
    s = await startTestStack();
    base = s.platform.url;
    mkdirSync(PATIENT_SHOTS, { recursive: true });
  }, 480_000);

  afterAll(async () => {
    for (const c of contexts) await c.close().catch(() => undefined);
    await browser?.close().catch(() => undefined);
    await s?.stop();
  });

  async function loggedIn(hisPatientId: string): Promise<Page> {
    const page = await phonePage(browser, contexts);
    await page.goto(`${base}/h5/login`);
    await page.locator(`.hp-sandbox-H001-${hisPatientId}`).click();
    await page.locator('[data-testid=patient-name]').waitFor();
    return page;
  }

  it('signs up at the bank’s page, comes back 已签约; a pushed bill is paid by itself and the message shows', async () => {
    const page = await loggedIn('P0001');
    await page.locator('.hp-entry-credit').click();
    await page.waitForURL(/\/h5\/credit/);
    await text(page, '[data-testid=credit-status]', '未签约');
    await shot(page, 'c01-credit-unsigned');

    // 开通 → the bank's signing page (the simulator's) → 同意签约 → back to /h5/credit?…&result=SUCCESS.
    await page.locator('.hp-credit-sign').click();
    await page.waitForURL(/\/sim\/credit\/sign\//);
    await page.locator('button[value=agree]').waitFor();
    await shot(page, 'c02-bank-sign');
    await page.locator('button[value=agree]').click();
    await page.waitForURL(/\/h5\/credit\?.*result=SUCCESS/);
    await text(page, '[data-testid=credit-status]', '已签约');
    // The simulator's default limit: ¥3,000.00, all of it available.
    await text(page, '.hp-credit-limit', '¥3,000.00');
    await text(page, '.hp-credit-available', '¥3,000.00');
    await page.locator('.hp-credit-unsign').waitFor();
    await shot(page, 'c03-credit-signed');

    // The HIS pushes a bill: debited within the limit, paid and settled with no patient action.
    const token = await s.login('P0001');
    const bill = await s.pushBill({
      patientId: 'P0001',
      title: '挂号费',
      department: '内科',
      amountFen: 1500,
    });
    const orderId = await waitFor(
      async () => {
        const debits = (await s.api('GET', '/api/credit/debits', { token })).body.debits as {
          billId: string;
          orderId: string | null;
          status: string;
        }[];
        const d = debits.find((x) => x.billId === bill.billId);
        return d?.status === 'SUCCESS' ? d.orderId : undefined;
      },
      20_000,
      'credit debit of the pushed bill',
    );
    await waitFor(
      async () => {
        const o = (await s.api('GET', `/api/orders/${orderId}`, { token })).body;
        return ['PAID', 'SETTLED'].includes(o.status) && o.channel === 'credit';
      },
      20_000,
      'order paid through credit',
    );

    // The first screen counts the unread messages; 消息 lists the payment; tapping it opens the order.
    await page.goto(`${base}/h5/`);
    await page.locator('[data-testid=unread-count]').waitFor();
    await shot(page, 'c04-bills-entries');
    await page.locator('.hp-entry-messages').click();
    await page.waitForURL(/\/h5\/messages/);
    const paid = page.locator('[data-testid=message][data-kind=payment_succeeded]').first();
    await paid.waitFor();
    expect(await paid.locator('[data-testid=unread]').count()).toBe(1);
    await shot(page, 'c05-messages');
    await paid.click();
    await page.waitForURL(/\/h5\/order\?id=/);
    expect(new URL(page.url()).searchParams.get('id')).toBe(orderId);
    await text(page, '[data-testid=order-status]', '已支付');
    const list = (await s.api('GET', '/api/patient/messages', { token })).body;
    expect(list.messages.find((m: any) => m.kind === 'payment_succeeded').readAt).not.toBeNull();

    // Back on 信用就医: the debit is listed and the available limit is lower.
    await page.goto(`${base}/h5/credit`);
    await text(page, '[data-testid=credit-debits]', '已扣款');
    await text(page, '.hp-credit-available', '¥2,985.00');
    await shot(page, 'c06-credit-debits');

    // 解约 with a confirmation.
    await page.locator('.hp-credit-unsign').click();
    await page.locator('.taro-model__confirm').click();
    await text(page, '[data-testid=credit-status]', '未签约');
    expect((await s.api('GET', '/api/credit/status', { token })).body.status).not.toBe('SIGNED');
  });

  it('住院押金: the stay’s balance and deposits; an unpaid deposit goes to the ordinary checkout', async () => {
    const admissionNo = `A${Date.now()}`;
    expect(
      (
        await s.his('POST', '/open/v1/admissions', {
          admissionNo,
          patientId: 'P0002',
          patientName: '李四',
          department: '心内科',
          ward: '5病区',
          admittedAt: new Date().toISOString(),
        })
      ).status,
    ).toBe(200);
    const dep = await s.his('POST', `/open/v1/admissions/${admissionNo}/deposits`, {
      hisDepositNo: `D${Date.now()}`,
      amountFen: 200_000,
    });
    expect(dep.status).toBe(200);
    const page = await loggedIn('P0002');
    await page.locator('.hp-entry-inpatient').click();
    await page.waitForURL(/\/h5\/inpatient/);
    await text(page, '[data-testid=admission]', admissionNo);
    await text(page, '[data-testid=deposit]', '待缴');
    await text(page, '[data-testid=deposit]', '¥2,000.00');
    await shot(page, 'c07-inpatient');
    await page.locator('.hp-pay-deposit').click();
    await page.waitForURL(/\/h5\/checkout\?bills=/);
    await text(page, '.hp-total', '¥2,000.00');
  });
});
