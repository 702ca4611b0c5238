import { ConfigError, loadConfig } from '@hp/config';
import { openDatabase } from '../db/client';
import { createSecretBox } from '../lib/secret-box';
import { ProvisionError, provisionHospital } from '../modules/system/provision';

/**
 * `npm run provision -- hospital.json`: creates or updates a hospital with its real merchant accounts
 * (WeChat Pay, Alipay, the bank aggregator) and its HIS app. Key material is read from the files the JSON
 * names and stored sealed under SECRETS_KEY; the JSON itself holds no secret. Format: README.md,
 * "Real merchant accounts"; checks: bff/src/modules/system/provision.ts.
 */
async function main() {
  const file = process.argv[2];
  if (!file)
    throw new ProvisionError(
      'usage: npm run provision -- <hospital.json>   (format in README.md, "Real merchant accounts")',
    );
  const config = loadConfig(process.env);
  if (!config.secretsKey)
    throw new ProvisionError(
      'SECRETS_KEY (or SECRETS_KEY_FILE) must be set: it seals the keys you provision',
    );
  const database = await openDatabase({
    databaseUrl: config.databaseUrl,
    dataDir: config.dataDir,
    poolMax: 2,
  });
  try {
    await database.migrate();
    const r = await provisionHospital(database.db, createSecretBox(config.secretsKey), file, {
      production: config.nodeEnv === 'production',
      outboundTimeoutMs: config.outboundTimeoutMs,
    });
    for (const w of r.warnings) console.warn(`warning: ${w}`);
    console.log(
      `provisioned ${r.hospitalId}: ${r.accounts.map((a) => `${a.channel} ${a.mchId} (${a.id})`).join(', ') || 'no merchant account'}; HIS app ${r.hisAppId}` +
        (r.pushTargets.length
          ? `; recon file push to ${r.pushTargets.map((t) => `${t.name} (${t.id})`).join(', ')}`
          : ''),
    );
  } finally {
    await database.close();
  }
}

main().catch((e: unknown) => {
  console.error(
    e instanceof ConfigError || e instanceof ProvisionError
      ? e.message
      : `provision failed: ${(e as Error).message}`,
  );
  process.exit(1);
});
