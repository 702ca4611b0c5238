import { readFileSync } from 'node:fs';
import path from 'node:path';
import { BILL_MODES } from '@hp/shared';
import { z } from 'zod';
import { AlipayOptionsSchema } from '../../channels/alipay/adapter';
import { BankPayOptionsSchema } from '../../channels/bankpay/adapter';
import { WechatPayOptionsSchema } from '../../channels/wechatpay/adapter';
import type { Db } from '../../db/client';
import { hisApps, hospitals, merchantAccounts } from '../../db/schema';
import type { SecretBox } from '../../lib/secret-box';
import { firstIssue } from '../../lib/validate';
import { parsePushTarget, upsertPushTarget, type PushTargetInput } from '../recon/push-targets';

/**
 * A hospital described for `npm run provision -- hospital.json`: its real merchant accounts and its HIS app.
 * The JSON names key files and holds no secret itself; keys are read from those files and sealed.
 */
export const HospitalFileSchema = z
  .object({
    id: z.string().regex(/^hosp_[a-z0-9_]{2,40}$/, 'hosp_ followed by lower-case letters, digits or _'),
    code: z.string().regex(/^[A-Z0-9]{2,16}$/, '2–16 upper-case letters or digits'),
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
        /** The API v2 key file: payment codes and order comments. */
        apiV2KeyFile: z.string().optional(),
        /** `apiclient_cert.pem`: presented on secapi calls (reverse) and the comments download. */
        apiClientCertFile: z.string().optional(),
        /** `apiclient_key.pem` (usually the same key as privateKeyFile). */
        apiClientKeyFile: z.string().optional(),
      })
      .strict()
      .optional(),
    alipay: z
      .object({
        appId: z.string(),
        /** The merchant's PID (2088…). */
        sellerId: z.string(),
        privateKeyFile: z.string(),
        alipayPublicKeyFile: z.string(),
        baseUrl: z.url().default('https://openapi.alipay.com/'),
      })
      .strict()
      .optional(),
    bankpay: z
      .object({
        appId: z.string(),
        merchantNo: z.string(),
        keyId: z.string(),
        /** Our SM2 private key, 64 hex characters. */
        privateKeyFile: z.string(),
        bankKeyId: z.string(),
        /** The bank's SM2 public key, 04 + 128 hex characters. */
        bankPublicKeyFile: z.string(),
        userId: z.string().optional(),
        baseUrl: z.url(),
      })
      .strict()
      .optional(),
    his: z
      .object({
        appId: z.string().regex(/^[A-Za-z0-9_-]{3,64}$/),
        secretFile: z.string(),
        callbackBaseUrl: z.url().optional(),
        /** push (default): the HIS pushes bills; pull: we ask it for a patient's pending bills. */
        billMode: z.enum(BILL_MODES).optional(),
      })
      .strict(),
    /**
     * Where the daily reconciliation file is delivered (the HIS's SFTP/FTP servers), checked like the
     * admin API's push targets; secrets come from the files named here.
     */
    reconPush: z
      .array(
        z
          .object({
            name: z.string(),
            protocol: z.string(),
            host: z.string(),
            port: z.number().optional(),
            username: z.string(),
            remoteDir: z.string().optional(),
            /** Beijing `HH:mm` on the day after the business day; default 12:00. */
            deadline: z.string().optional(),
            enabled: z.boolean().optional(),
            /** SFTP: `SHA256:<base64>` of the server's host key (required in production). */
            hostKeySha256: z.string().optional(),
            fileNamePattern: z.string().optional(),
            passive: z.boolean().optional(),
            passwordFile: z.string().optional(),
            privateKeyFile: z.string().optional(),
            passphraseFile: z.string().optional(),
            /** FTPS: the server's certificate or CA to trust, PEM. */
            caCertFile: z.string().optional(),
          })
          .strict(),
      )
      .max(20)
      .optional(),
  })
  .strict();
export type HospitalFile = z.infer<typeof HospitalFileSchema>;

export class ProvisionError extends Error {}

/** `settings.caCertPem: …` → `caCertFile: …`, `password: …` → `passwordFile: …` (a reconPush entry's names). */
function fileField(message: string): string {
  return message
    .replace(/^settings\.caCertPem\b/, 'caCertFile')
    .replace(/^settings\./, '')
    .replace(/^(password|privateKey|passphrase)\b/, '$1File');
}

interface AccountRow {
  id: string;
  channel: 'wechatpay' | 'alipay' | 'bankpay';
  mchId: string;
  appId: string;
  settings: Record<string, unknown>;
  secrets: Record<string, unknown>;
}

export interface ProvisionResult {
  hospitalId: string;
  accounts: { id: string; channel: string; mchId: string }[];
  hisAppId: string;
  /** Reconciliation file push targets created or updated (by name). */
  pushTargets: { id: string; name: string }[];
  warnings: string[];
}

/**
 * Checks everything first — the file's shape, every key file, every key through the adapter's own option
 * schema, https in production — and only then writes the hospital, its accounts and its HIS app in one
 * transaction. A bad file changes nothing. Re-running updates in place.
 */
export async function provisionHospital(
  db: Db,
  secrets: SecretBox,
  file: string,
  opts: { production: boolean; outboundTimeoutMs: number },
): Promise<ProvisionResult> {
  let json: unknown;
  try {
    json = JSON.parse(readFileSync(file, 'utf8'));
  } catch (e) {
    throw new ProvisionError(`${file}: ${(e as Error).message}`);
  }
  const parsed = HospitalFileSchema.safeParse(json);
  if (!parsed.success) throw new ProvisionError(`${file}: ${firstIssue(parsed.error)}`);
  const h = parsed.data;
  const base = path.dirname(path.resolve(file));
  const read = (section: string, field: string, f: string) => {
    try {
      return readFileSync(path.resolve(base, f), 'utf8').trim();
    } catch {
      throw new ProvisionError(`${section}.${field}: cannot read ${f}`);
    }
  };
  const check = <S extends z.ZodType>(section: string, schema: S, value: unknown): z.infer<S> => {
    const r = schema.safeParse(value);
    if (!r.success) throw new ProvisionError(`${section}: ${firstIssue(r.error)}`);
    return r.data;
  };
  const requireHttps = (section: string, url: string) => {
    if (opts.production && !url.startsWith('https://'))
      throw new ProvisionError(`${section}.baseUrl must be https:// in production`);
  };
  const accountId = (channel: string) => `ma_${h.code.toLowerCase()}_${channel}`;
  const warnings: string[] = [];
  const rows: AccountRow[] = [];

  if (h.wechatpay) {
    const w = h.wechatpay;
    requireHttps('wechatpay', w.baseUrl);
    if (w.mode === 'partner' && w.appId !== (w.subAppId ?? w.spAppId)) {
      // Notifications name the app as sub_appid, else sp_appid; the account must carry that one.
      throw new ProvisionError(
        'wechatpay.appId must equal subAppId (or spAppId when there is no subAppId) in partner mode',
      );
    }
    if (Boolean(w.apiClientCertFile) !== Boolean(w.apiClientKeyFile))
      throw new ProvisionError('wechatpay: apiClientCertFile and apiClientKeyFile come together');
    const o = check('wechatpay', WechatPayOptionsSchema, {
      mchId: w.mchId,
      appId: w.appId,
      serialNo: w.serialNo,
      privateKeyPem: read('wechatpay', 'privateKeyFile', w.privateKeyFile),
      apiV3Key: read('wechatpay', 'apiV3KeyFile', w.apiV3KeyFile),
      platformKeyId: w.platformKeyId,
      platformPublicKeyPem: read('wechatpay', 'platformPublicKeyFile', w.platformPublicKeyFile),
      baseUrl: w.baseUrl,
      timeoutMs: opts.outboundTimeoutMs,
      mode: w.mode,
      spMchId: w.spMchId,
      spAppId: w.spAppId,
      subAppId: w.subAppId,
      apiV2Key: w.apiV2KeyFile ? read('wechatpay', 'apiV2KeyFile', w.apiV2KeyFile) : undefined,
      apiClientCertPem: w.apiClientCertFile
        ? read('wechatpay', 'apiClientCertFile', w.apiClientCertFile)
        : undefined,
      apiClientKeyPem: w.apiClientKeyFile
        ? read('wechatpay', 'apiClientKeyFile', w.apiClientKeyFile)
        : undefined,
    });
    if (o.mode === 'partner' && (!o.spMchId || !o.spAppId))
      throw new ProvisionError('wechatpay: partner mode needs spMchId and spAppId');
    if (o.apiV2Key && !o.apiClientCertPem && o.baseUrl.startsWith('https://'))
      warnings.push(
        'wechatpay: an API v2 key without apiClientCertFile/apiClientKeyFile — payment codes and order comments stay off (reverse needs the merchant API certificate)',
      );
    rows.push({
      id: accountId('wechatpay'),
      channel: 'wechatpay',
      mchId: o.mchId,
      appId: o.appId,
      settings: {
        serialNo: o.serialNo,
        platformKeyId: o.platformKeyId,
        platformPublicKeyPem: o.platformPublicKeyPem,
        baseUrl: o.baseUrl,
        mode: o.mode,
        spMchId: o.spMchId,
        spAppId: o.spAppId,
        subAppId: o.subAppId,
        apiClientCertPem: o.apiClientCertPem,
      },
      secrets: {
        privateKeyPem: o.privateKeyPem,
        apiV3Key: o.apiV3Key,
        apiV2Key: o.apiV2Key,
        apiClientKeyPem: o.apiClientKeyPem,
      },
    });
  }

  if (h.alipay) {
    const a = h.alipay;
    requireHttps('alipay', a.baseUrl);
    const o = check('alipay', AlipayOptionsSchema, {
      appId: a.appId,
      sellerId: a.sellerId,
      privateKeyPem: read('alipay', 'privateKeyFile', a.privateKeyFile),
      alipayPublicKeyPem: read('alipay', 'alipayPublicKeyFile', a.alipayPublicKeyFile),
      baseUrl: a.baseUrl,
      timeoutMs: opts.outboundTimeoutMs,
    });
    rows.push({
      id: accountId('alipay'),
      channel: 'alipay',
      mchId: o.sellerId,
      appId: o.appId,
      settings: { alipayPublicKeyPem: o.alipayPublicKeyPem, baseUrl: o.baseUrl },
      secrets: { privateKeyPem: o.privateKeyPem },
    });
  }

  if (h.bankpay) {
    const b = h.bankpay;
    requireHttps('bankpay', b.baseUrl);
    const o = check('bankpay', BankPayOptionsSchema, {
      appId: b.appId,
      merchantNo: b.merchantNo,
      keyId: b.keyId,
      privateKeyHex: read('bankpay', 'privateKeyFile', b.privateKeyFile),
      bankKeyId: b.bankKeyId,
      bankPublicKeyHex: read('bankpay', 'bankPublicKeyFile', b.bankPublicKeyFile),
      userId: b.userId,
      baseUrl: b.baseUrl,
      timeoutMs: opts.outboundTimeoutMs,
    });
    rows.push({
      id: accountId('bankpay'),
      channel: 'bankpay',
      mchId: o.merchantNo,
      appId: o.appId,
      settings: {
        keyId: o.keyId,
        bankKeyId: o.bankKeyId,
        bankPublicKeyHex: o.bankPublicKeyHex,
        userId: b.userId,
        baseUrl: o.baseUrl,
      },
      secrets: { privateKeyHex: o.privateKeyHex },
    });
  }

  if (h.his.callbackBaseUrl) requireHttps('his', h.his.callbackBaseUrl);
  if (h.his.billMode === 'pull' && !h.his.callbackBaseUrl)
    throw new ProvisionError(
      'his.billMode: pull mode needs his.callbackBaseUrl (where we ask the HIS for bills)',
    );
  const hisSecret = read('his', 'secretFile', h.his.secretFile);
  if (hisSecret.length < 32)
    throw new ProvisionError('his.secretFile: the secret must be at least 32 characters');

  const pushTargets: PushTargetInput[] = (h.reconPush ?? []).map((t, i) => {
    const at = `reconPush.${i}`;
    const file = (field: string, f: string | undefined) => (f ? read(at, field, f) : undefined);
    const r = parsePushTarget(
      {
        name: t.name,
        protocol: t.protocol,
        host: t.host,
        port: t.port,
        username: t.username,
        remoteDir: t.remoteDir,
        deadline: t.deadline,
        enabled: t.enabled,
        settings: JSON.parse(
          JSON.stringify({
            hostKeySha256: t.hostKeySha256,
            fileNamePattern: t.fileNamePattern,
            passive: t.passive,
            caCertPem: file('caCertFile', t.caCertFile),
          }),
        ),
        password: file('passwordFile', t.passwordFile),
        privateKey: file('privateKeyFile', t.privateKeyFile),
        passphrase: file('passphraseFile', t.passphraseFile),
      },
      opts.production,
    );
    // The checks name the admin API's fields; say the file's instead.
    if (!r.ok) throw new ProvisionError(`${at}.${fileField(r.message)}`);
    return r.target;
  });
  if (new Set(pushTargets.map((t) => t.name)).size !== pushTargets.length)
    throw new ProvisionError('reconPush: two targets with the same name');

  // JSON drops undefined fields: settings hold only what was given.
  const clean = (o: Record<string, unknown>) => JSON.parse(JSON.stringify(o)) as Record<string, unknown>;
  const pushTargetIds = await db.transaction(async (tx) => {
    await tx
      .insert(hospitals)
      .values({ id: h.id, code: h.code, name: h.name })
      .onConflictDoUpdate({ target: hospitals.id, set: { name: h.name } });
    for (const r of rows) {
      const settings = clean(r.settings);
      const secretsEnc = secrets.seal(JSON.stringify(clean(r.secrets)));
      await tx
        .insert(merchantAccounts)
        .values({
          id: r.id,
          hospitalId: h.id,
          channel: r.channel,
          mchId: r.mchId,
          appId: r.appId,
          settings,
          secretsEnc,
        })
        .onConflictDoUpdate({
          target: merchantAccounts.id,
          set: { mchId: r.mchId, appId: r.appId, settings, secretsEnc },
        });
    }
    const secretEnc = secrets.seal(hisSecret);
    await tx
      .insert(hisApps)
      .values({
        appId: h.his.appId,
        hospitalId: h.id,
        name: `${h.name} HIS`,
        secretEnc,
        callbackBaseUrl: h.his.callbackBaseUrl ?? null,
        billMode: h.his.billMode ?? 'push',
      })
      .onConflictDoUpdate({
        target: hisApps.appId,
        set: {
          secretEnc,
          callbackBaseUrl: h.his.callbackBaseUrl ?? null,
          billMode: h.his.billMode ?? 'push',
        },
      });
    const ids: { id: string; name: string }[] = [];
    for (const t of pushTargets) ids.push({ id: await upsertPushTarget(tx, secrets, h.id, t), name: t.name });
    return ids;
  });
  return {
    hospitalId: h.id,
    accounts: rows.map((r) => ({ id: r.id, channel: r.channel, mchId: r.mchId })),
    hisAppId: h.his.appId,
    pushTargets: pushTargetIds,
    warnings,
  };
}
