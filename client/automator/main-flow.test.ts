/**
 * @jest-environment node
 *
 * The mini-program's main flow in WeChat DevTools, through miniprogram-automator: sandbox login → bills →
 * checkout → the sandbox payment sheet → result polled to 支付成功 → order. It needs what CI machines do not
 * have — the WeChat DevTools IDE, logged in, with its service port open — and `npm start` running (the demo
 * bff the build calls, HP_API_BASE). Run it on a developer's machine:
 *
 *   npm run build:weapp && WECHAT_DEVTOOLS_CLI=/path/to/wechatwebdevtools/cli npm test -- client/automator
 *
 * Without WECHAT_DEVTOOLS_CLI jest reports them as skipped.
 */
import path from 'node:path';
import automator from 'miniprogram-automator';
import type MiniProgram from 'miniprogram-automator/out/MiniProgram';
import type Page from 'miniprogram-automator/out/Page';

const CLI = process.env.WECHAT_DEVTOOLS_CLI;
const ROOT = path.resolve(__dirname, '../..');
const run = CLI ? describe : describe.skip;

jest.setTimeout(120_000);

run('mini-program main flow in WeChat DevTools (miniprogram-automator)', () => {
  let mp: MiniProgram;
  beforeAll(async () => {
    // The project is the repository root: project.config.json points DevTools at client/dist/weapp.
    mp = await automator.launch({ cliPath: CLI, projectPath: ROOT });
  });
  afterAll(async () => {
    await mp?.close();
  });

  async function until(page: Page, selector: string, text?: string): Promise<void> {
    for (let i = 0; i < 60; i++) {
      const el = await page.$(selector);
      if (el && (!text || (await el.text()).includes(text))) return;
      await page.waitFor(500);
    }
    throw new Error(`timed out waiting for ${selector}${text ? ` with ${text}` : ''}`);
  }

  it('logs in as a sandbox patient, pays the pending bills and sees the result polled to success', async () => {
    await mp.callWxMethod('clearStorageSync');
    let page = (await mp.reLaunch('/pages/login/index'))!;
    await until(page, '.hp-sandbox-H001-P0001');
    await (await page.$('.hp-sandbox-H001-P0001'))!.tap();
    page = (await mp.currentPage())!;
    await until(page, '.hp-go-checkout');
    await (await page.$('.hp-go-checkout'))!.tap();
    page = (await mp.currentPage())!;
    expect(page.path).toBe('packages/pay/checkout/index');
    await until(page, '.hp-pay');
    // The sandbox's payment sheet is a modal: confirm it.
    await mp.mockWxMethod('showModal', { confirm: true, cancel: false });
    await (await page.$('.hp-pay'))!.tap();
    page = (await mp.currentPage())!;
    expect(page.path).toBe('packages/pay/result/index');
    await until(page, '.hp-status', '支付成功');
    await (await page.$('.hp-view-order'))!.tap();
    page = (await mp.currentPage())!;
    await until(page, '.hp-title', '已支付');
  });

  it('a cancelled payment sheet leaves the order unpaid and offers to resume it', async () => {
    let page = (await mp.reLaunch('/pages/bills/index'))!;
    await until(page, '.hp-link-orders');
    await mp.mockWxMethod('showModal', { confirm: false, cancel: true });
    const checkout = await page.$('.hp-go-checkout');
    if (!checkout) return; // nothing left to pay in this demo database
    await checkout.tap();
    page = (await mp.currentPage())!;
    await until(page, '.hp-pay');
    await (await page.$('.hp-pay'))!.tap();
    page = (await mp.currentPage())!;
    await until(page, '.hp-status', '支付已取消');
  });
});
