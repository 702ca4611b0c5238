import { spawnSync } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import path from 'node:path';
import type { Browser, BrowserContext, Page } from 'playwright-core';

/**
 * Helpers of the patient H5 browser tests (test/e2e/patient-h5*.int.test.ts): the build, a phone-sized page,
 * waiting for text, and screenshots into test-results/patient-h5/patient-h5-*.png (not committed).
 */
const ROOT = path.resolve(__dirname, '../..');
/** Where the patient H5 screenshots go. */
export const PATIENT_SHOTS = path.join(ROOT, 'test-results', 'patient-h5');

/** Builds client/dist/h5 when its sources changed since the last build (hash kept beside the output). */
export function buildPatientH5(): void {
  const build = spawnSync(
    process.execPath,
    [path.join(ROOT, 'scripts', 'build-client.mjs'), 'h5', '--if-stale'],
    {
      cwd: ROOT,
      encoding: 'utf8',
      // A cold build takes about a minute; several minutes when the whole suite shares two cores.
      timeout: 420_000,
    },
  );
  if (build.status !== 0)
    throw new Error(`building the patient H5 failed:\n${build.stdout}\n${build.stderr}`);
}

/** A phone-sized page (its context is added to `contexts` for closing); text scaled up on request. */
export async function phonePage(
  browser: Browser,
  contexts: BrowserContext[],
  opts: { fontScale?: number } = {},
): Promise<Page> {
  const ctx = await browser.newContext({
    viewport: { width: 390, height: 844 },
    deviceScaleFactor: 2,
    isMobile: true,
    hasTouch: true,
    locale: 'zh-CN',
    timezoneId: 'Asia/Shanghai',
    userAgent:
      'Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Mobile/15E148 Safari/604.1',
  });
  contexts.push(ctx);
  const page = await ctx.newPage();
  page.setDefaultTimeout(20_000);
  if (opts.fontScale)
    await page.addInitScript((scale) => {
      document.addEventListener('DOMContentLoaded', () => {
        document.documentElement.style.zoom = String(scale);
      });
    }, opts.fontScale);
  return page;
}

/** Waits for an element matching `selector` with the text. */
export const waitText = (page: Page, selector: string, t: string | RegExp, timeout?: number) =>
  page.locator(selector).filter({ hasText: t }).first().waitFor({ timeout });

/** Taro slides pages in; a screenshot waits until the current page stands still. */
export async function patientShot(page: Page, name: string): Promise<void> {
  await page.waitForFunction(() => {
    const pages = [...document.querySelectorAll('.taro_page')] as HTMLElement[];
    const top = pages[pages.length - 1];
    return !top || Math.abs(top.getBoundingClientRect().left) < 1;
  });
  await page.waitForTimeout(200);
  mkdirSync(PATIENT_SHOTS, { recursive: true });
  await page.screenshot({ path: `${PATIENT_SHOTS}/patient-h5-${name}.png`, fullPage: true });
  // A full-page shot of a phone page leaves Chromium's page zoomed in (visualViewport.scale 2), so that a later
  // click lands on another element: set the scale back.
  const cdp = await page.context().newCDPSession(page);
  await cdp.send('Emulation.setPageScaleFactor', { pageScaleFactor: 1 }).finally(() => cdp.detach());
}
