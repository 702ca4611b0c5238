import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync } from 'node:fs';
import path from 'node:path';
import {
  chromium,
  type Browser,
  type BrowserContext,
  type BrowserContextOptions,
  type Page,
} from 'playwright-core';

/**
 * The admin pages in a real browser, for the browser tests: the bundle (bff/admin-ui/dist, built here when
 * missing or stale), Debian's Chromium driven by playwright-core, pages logged in through the login form,
 * and screenshots kept with the test output.
 */
export const ROOT = path.resolve(__dirname, '../..');
/** Screenshots and downloads of the page tests (test-results/ is not committed). */
export const SHOTS = path.join(ROOT, 'test-results', 'admin-pages');
/** Debian's Chromium (`apt-get install -y chromium`; .ci/run installs it). */
export const CHROMIUM = '/usr/bin/chromium';
const CHROMIUM_ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-background-networking',
  '--disable-component-update',
  '--no-first-run',
  '--disable-sync',
];

/** Launches Chromium for a browser test; a missing or broken one fails the test loudly, naming `who` needs it. */
export async function launchChromium(who: string): Promise<Browser> {
  if (!existsSync(CHROMIUM))
    throw new Error(
      `Chromium is not installed at ${CHROMIUM}; the ${who} need it (apt-get install -y chromium — .ci/run does this)`,
    );
  try {
    return await chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS, timeout: 60_000 });
  } catch (e) {
    throw new Error(`Chromium at ${CHROMIUM} could not be launched: ${(e as Error).message}`);
  }
}

/**
 * Builds the admin bundle when it is missing or older than its sources, then launches Chromium; a missing
 * or broken Chromium fails loudly, saying how to install it. Creates the screenshot folder.
 */
export async function launchAdminBrowser(): Promise<Browser> {
  const build = spawnSync(process.execPath, [path.join(ROOT, 'scripts', 'build-admin.mjs'), '--if-stale'], {
    cwd: ROOT,
    encoding: 'utf8',
  });
  if (build.status !== 0)
    throw new Error(`building the admin pages failed:\n${build.stdout}\n${build.stderr}`);
  const browser = await launchChromium('admin page tests');
  mkdirSync(SHOTS, { recursive: true });
  return browser;
}

/** Pages of one bff's admin UI, each in its own browser context (its own session). */
export interface AdminPages {
  /** A fresh page, not logged in. */
  newPage(): Promise<Page>;
  /** A fresh page logged in through the login form; resolves once the app has left /login. */
  loginAs(username: string, password: string): Promise<Page>;
  /** Closes every context opened here. */
  close(): Promise<void>;
}

/** Pages of the admin UI at `base` (the bff's URL), in Chinese and Beijing time unless `options` say otherwise. */
export function adminPages(browser: Browser, base: string, options: BrowserContextOptions = {}): AdminPages {
  const contexts: BrowserContext[] = [];
  const newPage = async () => {
    const ctx = await browser.newContext({
      viewport: { width: 1440, height: 900 },
      locale: 'zh-CN',
      timezoneId: 'Asia/Shanghai',
      ...options,
    });
    contexts.push(ctx);
    const page = await ctx.newPage();
    page.setDefaultTimeout(15_000);
    return page;
  };
  return {
    newPage,
    async loginAs(username, password) {
      const page = await newPage();
      await page.goto(`${base}/admin/login`);
      await page.fill('#username', username);
      await page.fill('#password', password);
      await page.click('button[type=submit]');
      await page.waitForURL((u) => !u.pathname.endsWith('/login'));
      return page;
    },
    async close() {
      for (const c of contexts.splice(0)) await c.close().catch(() => undefined);
    },
  };
}

/** The data rows of the tables on the page. */
export const tableRows = (page: Page) => page.locator('.ant-table-tbody tr.ant-table-row');

/** A screenshot into {@link SHOTS}. */
export const screenshot = (page: Page, name: string, fullPage = true) =>
  page.screenshot({ path: path.join(SHOTS, name), fullPage });

/** Waits until the element's text contains `text` (and says what it saw when it does not). */
export async function expectText(
  page: Page,
  selector: string,
  text: string,
  timeoutMs = 15_000,
): Promise<void> {
  try {
    await page.locator(selector).filter({ hasText: text }).first().waitFor({ timeout: timeoutMs });
  } catch {
    const seen = await page
      .locator(selector)
      .first()
      .innerText({ timeout: 1000 })
      .catch(() => '(element not found)');
    throw new Error(
      `expected ${selector} to contain ${JSON.stringify(text)} at ${page.url()}; it shows: ${seen.slice(0, 500)}`,
    );
  }
}
