import { ConfigError, loadConfig } from '@hp/config';
import { startPlatform, type Platform } from './app';
import { DataDirLockedError, openDatabase } from './db/client';
import { createLogger } from './lib/logger';
import { DEMO_ADMIN_PASSWORD, DEMO_ADMINS, seedDemoAdmins } from './modules/admin/auth-service';
import { DEMO_HOSPITALS, DEMO_PATIENTS, seedDemo, startSandbox, type Sandbox } from './sandbox';
import { loadOrCreateSandboxKeys } from './sandbox/keys';

/** Process entry: `npm start` (sandbox demo on PGlite) or production (`NODE_ENV=production`, `DATABASE_URL`). */
async function main(): Promise<void> {
  const config = loadConfig(process.env);
  const log = createLogger(config.logLevel, {}, config.logFile);
  // The database first: a second process on the same data directory must stop here, before binding any port.
  const database = await openDatabase({
    databaseUrl: config.databaseUrl,
    dataDir: config.dataDir,
    poolMax: config.databasePoolMax,
  });
  let sandbox: Sandbox | undefined;
  let platform: Platform | undefined;
  try {
    if (config.sandbox) {
      const keys = loadOrCreateSandboxKeys(
        config.dataDir,
        DEMO_HOSPITALS.map((h) => h.code),
      );
      sandbox = await startSandbox(config, keys, {
        notifyRetryDelaysMs: [15_000, 15_000, 30_000, 180_000, 600_000],
      });
    }
    platform = await startPlatform(config, { database, log, sandboxWechatUrl: sandbox?.wechat.url });
    if (sandbox) {
      sandbox.his.setPlatformUrl(platform.url);
      if (config.seedDemo) {
        const { pushedBills } = await seedDemo(
          platform.deps.db,
          platform.deps.secrets,
          sandbox,
          platform.url,
        );
        await seedDemoAdmins(platform.deps.db);
        log.info({ pushedBills }, 'demo data ready');
      }
    }
  } catch (e) {
    await sandbox?.close().catch(() => undefined);
    if (platform) await platform.stop().catch(() => undefined);
    else await database.close().catch(() => undefined);
    throw e;
  }

  const lines = [
    '',
    '  Hospital unified payment platform is running' + (sandbox ? ' (sandbox demo)' : ''),
    `  bff           ${platform.url}   (/healthz /readyz /metrics)`,
    `  database      ${database.kind === 'pglite' ? `embedded PGlite in ${config.dataDir}/pglite` : 'PostgreSQL (DATABASE_URL)'}`,
  ];
  if (sandbox) {
    lines.push(
      `  WeChat Pay    ${sandbox.wechat.url}   (simulator; cashier page /sim/cashier/wechatpay/<orderNo>)`,
      `  Alipay        ${sandbox.alipay.url}   (simulator; pay with POST /sim/alipay/orders/<orderNo>/pay)`,
      `  Bank (聚合)   ${sandbox.bankpay.url}   (simulator; cashier page /sim/cashier/bankpay/<orderNo>)`,
      `  HIS           ${sandbox.his.url}   (simulator; control API /sim/his/...)`,
      `  patient H5    ${platform.url}/h5/   (sandbox login; build: npm run build:h5)`,
      `  MISPOS 收单   ${sandbox.mispos.url}   (simulator; terminal statements /mispos/v1/statements/…)`,
      `  信用就医银行  ${sandbox.credit.url}   (simulator; signing page, controls /sim/credit/...)`,
      `  国家医保平台  ${sandbox.nhsa.url}   (simulator; authorisation page /sim/nhsa/auth, controls /sim/nhsa/...)`,
      `  admin pages   ${platform.url}/admin/   (监控大屏 ${platform.url}/admin/monitor)`,
      `  admin API     ${platform.url}/admin/api   staff ${DEMO_ADMINS.map((a) => a.username).join(', ')} / password ${DEMO_ADMIN_PASSWORD}`,
      `  demo patients ${DEMO_PATIENTS.map((p) => `${p.hospital}/${p.patientId}`).join(', ')}  — walk-through in README.md`,
    );
  }
  console.log(lines.join('\n') + '\n');

  let stopping = false;
  const shutdown = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    log.info({ signal }, 'shutting down');
    await platform!.stop().catch((e: Error) => log.error({ err: { message: e.message } }, 'shutdown error'));
    await sandbox?.close().catch(() => undefined);
    process.exit(0);
  };
  process.on('SIGTERM', () => void shutdown('SIGTERM'));
  process.on('SIGINT', () => void shutdown('SIGINT'));
}

main().catch((e: unknown) => {
  if (e instanceof ConfigError) {
    console.error(`${e.message}\nFix the settings above (see .env.example) and start again.`);
    process.exit(78);
  }
  if (e instanceof DataDirLockedError) {
    console.error(`Cannot start: ${e.message}`);
    process.exit(75);
  }
  console.error('Cannot start:', e instanceof Error ? e.message : e);
  process.exit(1);
});
