import { existsSync } from 'node:fs';
import { chromium, type Browser } from 'playwright-core';

/** Debian's Chromium (`apt-get install -y chromium`; .ci/run installs it). */
export const CHROMIUM = '/usr/bin/chromium';

const ARGS = [
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
    return await chromium.launch({ executablePath: CHROMIUM, args: ARGS, timeout: 60_000 });
  } catch (e) {
    throw new Error(`Chromium at ${CHROMIUM} could not be launched: ${(e as Error).message}`);
  }
}
