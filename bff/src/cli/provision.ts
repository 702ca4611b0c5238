import { readFileSync } from 'node:fs';
import path from 'node:path';
import { ConfigError, loadConfig } from '@hp/config';
import { z } from 'zod';
import { WechatPayOptionsSchema } from '../channels/wechatpay/adapter';
import { openDatabase } from '../db/client';
import { hisApps, hospitals, merchantAccounts } from '../db/schema';
import { createSecretBox } from '../lib/secret-box';
import { firstIssue } from '../lib/validate';

/**
 * `npm run provision -- hospital.json`: creates or updates a hospital with its real WeChat Pay merchant
 * account and its HIS app. Key material is read from the files the JSON names and stored sealed under
 * SECRETS_KEY; the JSON itself holds no secret. The admin pages will offer the same later.
 */
const FileSchema = z
  .object({
    id: z.string().regex(/^hosp_[a-z0-9_]{2,40}$/, 'hosp_ followed by lower-case letters, digits or _'),
    code: z.string().regex(/^[A-Z0-9]{2,16}$/),
    name: z.string().min(2).max(100),
    wechatpay: z
      .object({
        mchId: z.string(),
        appId: z.string(),
        serialNo: z.string(),
        privateKeyFile: z.string(),
        apiV3KeyFile: z.string(),
        platformKeyId: z.string(),
        platformPublicKeyFile: z.string(),
        baseUrl: z.url().default('https://api.mch.weixin.qq.com/'),
        /** partner: mchId is the hospital's sub-merchant; the keys are the service provider's (spMchId). */
        mode: z.enum(['direct', 'partner']).default('direct'),
        spMchId: z.string().optional(),
        spAppId: z.string().optional(),
        subAppId: z.string().optional(),
        /** Direct mode only: the API v2 key file, for payment codes. */
        apiV2KeyFile: z.string().optional(),
      })
      .strict()
      .optional(),
    his: z
      .object({
        appId: z.string().regex(/^[A-Za-z0-9_-]{3,64}$/),
        secretFile: z.string(),
        callbackBaseUrl: z.url().optional(),
      })
      .strict(),
  })
  .strict();

async function main() {
  const file = process.argv[2];
  if (!file)
    throw new Error(
      'usage: npm run provision -- <hospital.json>   (format in README.md, "Real merchant accounts")',
    );
  const config = loadConfig(process.env);
  if (!config.secretsKey)
    throw new Error('SECRETS_KEY (or SECRETS_KEY_FILE) must be set: it seals the keys you provision');
  const base = path.dirname(path.resolve(file));
  const read = (f: string) => readFileSync(path.resolve(base, f), 'utf8').trim();
  const parsed = FileSchema.safeParse(JSON.parse(readFileSync(file, 'utf8')));
  if (!parsed.success) throw new Error(`${file}: ${firstIssue(parsed.error)}`);
  const h = parsed.data;
  const secrets = createSecretBox(config.secretsKey);
  const database = await openDatabase({
    databaseUrl: config.databaseUrl,
    dataDir: config.dataDir,
    poolMax: 2,
  });
  try {
    await database.migrate();
    await database.db.transaction(async (tx) => {
      await tx
        .insert(hospitals)
        .values({ id: h.id, code: h.code, name: h.name })
        .onConflictDoUpdate({ target: hospitals.id, set: { name: h.name } });
      if (h.wechatpay) {
        const w = h.wechatpay;
        const opts = {
          mchId: w.mchId,
          appId: w.appId,
          serialNo: w.serialNo,
          privateKeyPem: read(w.privateKeyFile),
          apiV3Key: read(w.apiV3KeyFile),
          platformKeyId: w.platformKeyId,
          platformPublicKeyPem: read(w.platformPublicKeyFile),
          baseUrl: w.baseUrl,
          timeoutMs: config.outboundTimeoutMs,
          mode: w.mode,
          spMchId: w.spMchId,
          spAppId: w.spAppId,
          subAppId: w.subAppId,
          apiV2Key: w.apiV2KeyFile ? read(w.apiV2KeyFile) : undefined,
        };
        if (w.mode === 'partner' && w.appId !== (w.subAppId ?? w.spAppId)) {
          // Notifications name the app as sub_appid, else sp_appid; the account must carry that one.
          throw new Error(
            'wechatpay.appId must equal subAppId (or spAppId when there is no subAppId) in partner mode',
          );
        }
        const checked = WechatPayOptionsSchema.safeParse(opts);
        if (!checked.success) throw new Error(`wechatpay: ${firstIssue(checked.error)}`);
        if (config.nodeEnv === 'production' && !w.baseUrl.startsWith('https://'))
          throw new Error('wechatpay.baseUrl must be https:// in production');
        const settings = {
          serialNo: w.serialNo,
          platformKeyId: w.platformKeyId,
          platformPublicKeyPem: opts.platformPublicKeyPem,
          baseUrl: w.baseUrl,
          mode: w.mode,
          spMchId: w.spMchId,
          spAppId: w.spAppId,
          subAppId: w.subAppId,
        };
        const secretsEnc = secrets.seal(
          JSON.stringify({
            privateKeyPem: opts.privateKeyPem,
            apiV3Key: opts.apiV3Key,
            apiV2Key: opts.apiV2Key,
          }),
        );
        await tx
          .insert(merchantAccounts)
          .values({
            id: `ma_${h.code.toLowerCase()}_wechatpay`,
            hospitalId: h.id,
            channel: 'wechatpay',
            mchId: w.mchId,
            appId: w.appId,
            settings,
            secretsEnc,
          })
          .onConflictDoUpdate({
            target: merchantAccounts.id,
            set: { mchId: w.mchId, appId: w.appId, settings, secretsEnc },
          });
      }
      const secretEnc = secrets.seal(read(h.his.secretFile));
      await tx
        .insert(hisApps)
        .values({
          appId: h.his.appId,
          hospitalId: h.id,
          name: `${h.name} HIS`,
          secretEnc,
          callbackBaseUrl: h.his.callbackBaseUrl ?? null,
        })
        .onConflictDoUpdate({
          target: hisApps.appId,
          set: { secretEnc, callbackBaseUrl: h.his.callbackBaseUrl ?? null },
        });
    });
    console.log(
      `provisioned ${h.code} ${h.name}${h.wechatpay ? ` (WeChat Pay ${h.wechatpay.mchId})` : ''}, HIS app ${h.his.appId}`,
    );
  } finally {
    await database.close();
  }
}

main().catch((e: unknown) => {
  console.error(e instanceof ConfigError ? e.message : `provision failed: ${(e as Error).message}`);
  process.exit(1);
});
