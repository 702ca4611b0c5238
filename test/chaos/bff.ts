// One bff process of the chaos run (or any multi-process sandbox set-up): the production entry's wiring, but
// pointed at simulators already running in another process instead of starting them in-process.
//
// `tsx test/chaos/bff.ts` with the ordinary environment (DATABASE_URL, PORT, PUBLIC_BASE_URL, SECRETS_KEY,
// PATIENT_JWT_SECRET, …, SANDBOX=1) plus:
// - SIM_WECHAT_URL: the WeChat simulator (WeChat login and OAuth point there, as main.ts does for its own sandbox);
// - CHAOS_CONFIG: optional JSON of configuration overrides that have no environment variable (order lifetimes).
// Prints `{"url":…,"pid":…}` when listening; SIGTERM stops it gracefully, SIGKILL is the point of the exercise.
import { loadConfig, type ConfigInput } from '@hp/config';
import { startPlatform } from '../../bff/src/app';
import { createLogger } from '../../bff/src/lib/logger';

async function main() {
  const overrides = process.env.CHAOS_CONFIG
    ? (JSON.parse(process.env.CHAOS_CONFIG) as Partial<ConfigInput>)
    : {};
  const config = loadConfig(process.env, overrides);
  if (!config.databaseUrl) throw new Error('DATABASE_URL is required: the processes share one PostgreSQL');
  const log = createLogger(config.logLevel);
  const platform = await startPlatform(config, { log, sandboxWechatUrl: process.env.SIM_WECHAT_URL });
  process.stdout.write(`${JSON.stringify({ url: platform.url, pid: process.pid })}\n`);
  let stopping = false;
  const stop = () => {
    if (stopping) return;
    stopping = true;
    void platform.stop().finally(() => process.exit(0));
  };
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
}

main().catch((e) => {
  console.error('chaos bff:', e instanceof Error ? e.message : e);
  process.exit(1);
});
