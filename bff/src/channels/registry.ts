import { eq } from 'drizzle-orm';
import type { Db } from '../db/client';
import { merchantAccounts } from '../db/schema';
import { AppError } from '../lib/errors';
import type { SecretBox } from '../lib/secret-box';
import type { OutboundRecorder, PaymentChannel } from './types';
import { AlipayChannel } from './alipay/adapter';
import { BankPayChannel } from './bankpay/adapter';
import { BankCreditChannel } from './credit/adapter';
import { WechatPayV3Channel } from './wechatpay/adapter';
import type { InsuranceChannel, InsurancePlatform } from './insurance-types';
import { NhsaChannel, NhsaOptionsSchema } from './nhsa/adapter';
import { WechatMedInsChannel, WechatMedInsOptionsSchema } from './wechat-medins/adapter';

/** A merchant account row with the adapter built for it. */
export interface ResolvedAccount {
  id: string;
  hospitalId: string;
  channel: string;
  mchId: string;
  appId: string;
  adapter: PaymentChannel;
}

/** An insurance account (channel `nhsa`: the national platform; `wxmedins`: WeChat insurance pay) with its adapters. */
export interface ResolvedInsurance {
  id: string;
  hospitalId: string;
  channel: 'nhsa' | 'wxmedins';
  mchId: string;
  appId: string;
  /** The national platform's face (authorisation, 6201/6401, balance); only on `nhsa` accounts. */
  platform?: InsurancePlatform;
  /** Who settles an uploaded order. */
  settler: InsuranceChannel;
}

/** The channels whose accounts are insurance accounts, not payment channels. */
export const INSURANCE_CHANNELS = ['nhsa', 'wxmedins'] as const;

/** Builds and caches one adapter per merchant account, from its stored settings and decrypted secrets. */
export class ChannelRegistry {
  private readonly cache = new Map<string, Promise<ResolvedAccount>>();
  private readonly insuranceCache = new Map<string, Promise<ResolvedInsurance>>();
  /** hospital + channel → account id, for the hot path of order creation. */
  private readonly byHospital = new Map<string, string>();

  constructor(
    private readonly deps: {
      db: Db;
      secrets: SecretBox;
      production: boolean;
      timeoutMs: number;
      recorderFor: (hospitalId: string) => OutboundRecorder;
    },
  ) {}

  /** The account and adapter; throws not_found for an unknown account. */
  get(accountId: string): Promise<ResolvedAccount> {
    let p = this.cache.get(accountId);
    if (!p) {
      p = this.load(accountId);
      this.cache.set(accountId, p);
      p.catch(() => this.cache.delete(accountId));
    }
    return p;
  }

  /** An insurance account and its adapters; throws not_found for an unknown account or a payment account. */
  insurance(accountId: string): Promise<ResolvedInsurance> {
    let p = this.insuranceCache.get(accountId);
    if (!p) {
      p = this.loadInsurance(accountId);
      this.insuranceCache.set(accountId, p);
      p.catch(() => this.insuranceCache.delete(accountId));
    }
    return p;
  }

  /** The hospital's enabled insurance account of a channel, or undefined when it has none. */
  async insuranceForHospital(
    hospitalId: string,
    channel: ResolvedInsurance['channel'],
  ): Promise<ResolvedInsurance | undefined> {
    const rows = await this.deps.db
      .select({
        id: merchantAccounts.id,
        enabled: merchantAccounts.enabled,
        channel: merchantAccounts.channel,
      })
      .from(merchantAccounts)
      .where(eq(merchantAccounts.hospitalId, hospitalId));
    const row = rows.find((r) => r.channel === channel && r.enabled);
    return row ? this.insurance(row.id) : undefined;
  }

  /** The hospital's enabled account for a channel. */
  async forHospital(hospitalId: string, channel: string): Promise<ResolvedAccount> {
    const cached = this.byHospital.get(`${hospitalId}:${channel}`);
    if (cached) return this.get(cached);
    const rows = await this.deps.db
      .select({
        id: merchantAccounts.id,
        enabled: merchantAccounts.enabled,
        channel: merchantAccounts.channel,
      })
      .from(merchantAccounts)
      .where(eq(merchantAccounts.hospitalId, hospitalId));
    const row = rows.find((r) => r.channel === channel && r.enabled);
    if (!row) throw new AppError('bad_request', `the hospital does not accept ${channel}`);
    this.byHospital.set(`${hospitalId}:${channel}`, row.id);
    return this.get(row.id);
  }

  /** Forgets a cached adapter after its settings changed. */
  invalidate(accountId: string): void {
    this.cache.delete(accountId);
    this.insuranceCache.delete(accountId);
    this.byHospital.clear();
  }

  private async load(accountId: string): Promise<ResolvedAccount> {
    const [row] = await this.deps.db
      .select()
      .from(merchantAccounts)
      .where(eq(merchantAccounts.id, accountId));
    if (!row) throw new AppError('not_found', `merchant account ${accountId} not found`);
    const secrets = JSON.parse(this.deps.secrets.open(row.secretsEnc)) as Record<string, string>;
    const settings = row.settings as Record<string, string>;
    if (this.deps.production && !String(settings.baseUrl ?? '').startsWith('https://')) {
      throw new AppError(
        'internal_error',
        `merchant account ${accountId}: production requires an https:// channel URL`,
      );
    }
    let adapter: PaymentChannel;
    switch (row.channel) {
      case 'wechatpay':
        adapter = new WechatPayV3Channel(
          {
            mchId: row.mchId,
            appId: row.appId,
            serialNo: settings.serialNo ?? '',
            platformKeyId: settings.platformKeyId ?? '',
            platformPublicKeyPem: settings.platformPublicKeyPem ?? '',
            baseUrl: settings.baseUrl ?? '',
            privateKeyPem: secrets.privateKeyPem ?? '',
            apiV3Key: secrets.apiV3Key ?? '',
            apiV2Key: secrets.apiV2Key || undefined,
            apiClientCertPem: settings.apiClientCertPem || undefined,
            apiClientKeyPem: secrets.apiClientKeyPem || undefined,
            tlsCaPem: settings.tlsCaPem || undefined,
            mode: settings.mode === 'partner' ? 'partner' : 'direct',
            spMchId: settings.spMchId || undefined,
            spAppId: settings.spAppId || undefined,
            subAppId: settings.subAppId || undefined,
            timeoutMs: this.deps.timeoutMs,
          },
          this.deps.recorderFor(row.hospitalId),
        );
        break;
      case 'alipay':
        adapter = new AlipayChannel(
          {
            appId: row.appId,
            sellerId: row.mchId,
            privateKeyPem: secrets.privateKeyPem ?? '',
            alipayPublicKeyPem: settings.alipayPublicKeyPem ?? '',
            baseUrl: settings.baseUrl ?? '',
            timeoutMs: this.deps.timeoutMs,
          },
          this.deps.recorderFor(row.hospitalId),
        );
        break;
      case 'bankpay':
      case 'credit': {
        // Our own bank-aggregator contract (docs/bank-aggregator-contract.md): SM2 keys as hex. Credit pay after
        // treatment is the bank's credit product on the same signed gateway (channels/credit/adapter.ts).
        const Adapter = row.channel === 'credit' ? BankCreditChannel : BankPayChannel;
        adapter = new Adapter(
          {
            appId: row.appId,
            merchantNo: row.mchId,
            keyId: settings.keyId ?? '',
            privateKeyHex: secrets.privateKeyHex ?? '',
            bankKeyId: settings.bankKeyId ?? '',
            bankPublicKeyHex: settings.bankPublicKeyHex ?? '',
            userId: settings.userId || undefined,
            baseUrl: settings.baseUrl ?? '',
            timeoutMs: this.deps.timeoutMs,
          },
          this.deps.recorderFor(row.hospitalId),
        );
        break;
      }
      default:
        throw new AppError('internal_error', `no adapter for channel ${row.channel}`);
    }
    return {
      id: row.id,
      hospitalId: row.hospitalId,
      channel: row.channel,
      mchId: row.mchId,
      appId: row.appId,
      adapter,
    };
  }

  private async loadInsurance(accountId: string): Promise<ResolvedInsurance> {
    const [row] = await this.deps.db
      .select()
      .from(merchantAccounts)
      .where(eq(merchantAccounts.id, accountId));
    if (!row || !(INSURANCE_CHANNELS as readonly string[]).includes(row.channel))
      throw new AppError('not_found', `insurance account ${accountId} not found`);
    const secrets = JSON.parse(this.deps.secrets.open(row.secretsEnc)) as Record<string, string>;
    const settings = row.settings as Record<string, string>;
    if (this.deps.production && !String(settings.baseUrl ?? '').startsWith('https://')) {
      throw new AppError(
        'internal_error',
        `insurance account ${accountId}: production requires an https:// URL`,
      );
    }
    const recorder = this.deps.recorderFor(row.hospitalId);
    const base = { id: row.id, hospitalId: row.hospitalId, mchId: row.mchId, appId: row.appId };
    if (row.channel === 'nhsa') {
      const nhsa = new NhsaChannel(
        NhsaOptionsSchema.parse({
          ...settings,
          appId: row.appId,
          orgCode: row.mchId,
          appSecret: secrets.appSecret,
          privateKeyHex: secrets.privateKeyHex,
          timeoutMs: this.deps.timeoutMs,
        }),
        recorder,
      );
      return { ...base, channel: 'nhsa', platform: nhsa, settler: nhsa };
    }
    const medins = new WechatMedInsChannel(
      WechatMedInsOptionsSchema.parse({
        ...settings,
        mchId: row.mchId,
        appId: row.appId,
        privateKeyPem: secrets.privateKeyPem,
        apiV3Key: secrets.apiV3Key,
        timeoutMs: this.deps.timeoutMs,
      }),
      recorder,
    );
    return { ...base, channel: 'wxmedins', settler: medins };
  }
}
