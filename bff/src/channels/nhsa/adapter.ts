/**
 * The national healthcare-security mobile payment platform (国家医保移动支付) for one designated institution
 * (定点医药机构): {@link NhsaChannel} is both the hospital's insurance counterpart ({@link InsurancePlatform}) and
 * the party that settles an uploaded order itself ({@link InsuranceChannel}; the cash part is then collected by
 * the hospital's own WeChat Pay JSAPI payment).
 *
 * Every call is `POST {baseUrl}{path}` with a sealed SM4/SM2 envelope (./envelope.ts, protocols.md §4); every
 * reply is verified (SM2 with the platform key, our appId, timestamp window) and decrypted before a word of it
 * is believed. A timeout, a transport error, a non-200 or an unverifiable reply is UNKNOWN.
 *
 * | method                | code | default path (`paths` overrides)        | status | data sent → data answered                                      |
 * | --------------------- | ---- | --------------------------------------- | ------ | -------------------------------------------------------------- |
 * | `authorize`           | —    | `/org/local/api/hos/pay_auth/query`     | [U]    | `authCode, orgCodg` → `payAuthNo, authExpTime, psnNo, userName, idNo, idType, insutype, insuplcAdmdvs` |
 * | `uploadFees`          | 6201 | `/org/local/api/hos/uldFeeInfo`         | [P]    | fee details → `payOrdId, payToken, feeSumamt, fundPay, psnAcctPay, othPay, ownPayAmt, extData.preSetl` |
 * | `revokeUpload`        | 6401 | `/org/local/api/hos/revoke_order`       | [P]    | `payOrdId, payAuthNo`, person → —                               |
 * | `settle`              | 6202 | `/org/local/api/hos/pay_order`          | [P]    | `payOrdId, payToken, payAuthNo`, amounts, `notifyUrl` → order view |
 * | `querySettlement`     | 6301 | `/org/local/api/hos/query_order_info`   | [P]    | `medOrgOrd, payOrdId?` → order view (`ordStas`, amounts, `setlId`) |
 * | `refund`              | 6203 | `/org/local/api/hos/refund_Order`       | [P]    | `appRefdSn, totlRefdAmt, fundRefdAmt, psnAcctRefdAmt, othRefdAmt, cashRefdAmt, refdType` → `refStatus, refundTraceId` |
 * | `queryBalance`        | 1101 | `/org/local/api/hos/psn_info`           | [U]    | `psnNo, payAuthNo` → `baseinfo, insuinfo[].balc`                |
 * | `parseNotification`   | 6302 | (the platform POSTs to the 6202 notifyUrl) | [P] | an envelope whose data is the order view                        |
 *
 * Status: [P] the path and main fields appear in more than one hospital integration but not in an official
 * text we hold; [U] our own naming (the authorisation exchange, the 1101 path, `othPay`/`othRefdAmt` for the
 * "other funds" part, `medChrgitmType` on fee lines, `notifyUrl` on 6202, the error-code list, the
 * notification's reply). Keep them configurable; the sandbox simulator (sandbox/nhsa) speaks exactly this.
 * Amounts travel as yuan strings and are converted by string arithmetic (@hp/shared `yuanToFen`/`fenToYuan`).
 *
 * Known gap [P]: one integration's 6301/6401 also send `payToken, idNo, userName, idType`; the interface's
 * `querySettlement(orderNo, payOrdId?, payAuthNo?)` does not carry them, so they are sent only where known.
 */
import { fenToYuan, yuanToFen } from '@hp/shared';
import { postJson } from '../../lib/post-json';
import { sm2 } from 'sm-crypto-v2';
import { z } from 'zod';
import { maskIdNo, maskName } from '../../lib/mask';
import type {
  AuthorizationOutput,
  BalanceOutput,
  InsuranceChannel,
  InsurancePlatform,
  InsuranceRefundInput,
  InsuranceRefundOutput,
  InsuranceRefundState,
  InsuranceSettlement,
  InsuranceSettleState,
  InsuranceSplit,
  InsuredPerson,
  ParsedInsuranceNotification,
  RevokeUploadInput,
  SettleInput,
  SettleOutput,
  UploadFeesInput,
  UploadFeesOutput,
} from '../insurance-types';
import { checkSplit } from '../insurance-types';
import type { ChannelResult, NotificationReply, OutboundRecorder } from '../types';
import { NotificationRejected } from '../types';
import {
  NHSA_DEFAULT_USER_ID,
  NHSA_MAX_SKEW_SECONDS,
  NhsaEnvelopeError,
  deriveSm4Key,
  isSm2PublicKey,
  openEnvelope,
  sealEnvelope,
  type Sm2PublicKey,
} from './envelope';

/** Default API paths per operation; see the table above for what is confirmed. */
export const NHSA_DEFAULT_PATHS = {
  /** [U] exchange of the authorisation page's authCode for a payAuthNo: our naming. */
  authorize: '/org/local/api/hos/pay_auth/query',
  /** 6201 费用明细上传 [P]. */
  uploadFees: '/org/local/api/hos/uldFeeInfo',
  /** 6401 费用明细撤销 [P]. */
  revokeUpload: '/org/local/api/hos/revoke_order',
  /** 6202 支付下单 [P]. */
  settle: '/org/local/api/hos/pay_order',
  /** 6301 医保订单结算结果查询 [P]. */
  querySettlement: '/org/local/api/hos/query_order_info',
  /** 6203 医保退费 [P]. */
  refund: '/org/local/api/hos/refund_Order',
  /** 1101 人员信息获取 in the mobile-payment gateway [U]: our naming. */
  queryBalance: '/org/local/api/hos/psn_info',
} as const;
export type NhsaOperation = keyof typeof NHSA_DEFAULT_PATHS;

/**
 * [U] Platform codes that say nothing about the order (busy, internal error): the result is UNKNOWN (query),
 * never a definite failure. The platform's code list is not public; 5001 is the sandbox's 系统繁忙.
 */
export const NHSA_DEFAULT_RETRYABLE_CODES = ['5001'];

/** [U] The platform's "order does not exist" code (the sandbox's; the real list is not public). */
export const NHSA_ORDER_NOT_FOUND_CODE = '2003';

const pathSchema = z
  .string()
  .regex(/^\/[\w./-]*$/, 'is an absolute path such as /org/local/api/hos/uldFeeInfo');

/** Settings of one designated institution's app at the mobile payment platform. */
export const NhsaOptionsSchema = z.object({
  /** The app id (渠道 / 应用 ID) the platform issued; its first 16 characters seed the SM4 key. */
  appId: z
    .string()
    .regex(/^[0-9A-Za-z]{16,64}$/, 'is the platform-issued app id: 16–64 letters or digits (32 usually)'),
  /** The app secret: keys SM4 and closes every sign string. Never logged. */
  appSecret: z
    .string()
    .regex(/^[\x21-\x7e]{16,128}$/, 'is the platform-issued app secret: 16–128 printable ASCII characters'),
  /** 定点医药机构编码 (orgCodg), e.g. H11010500001: one letter and 11 digits. */
  orgCode: z
    .string()
    .regex(/^[A-Z]\d{11}$/, 'is the 12-character institution code (orgCodg), e.g. H11010500001'),
  /** 定点医药机构名称, as registered. */
  orgName: z.string().min(1).max(100),
  /** Our SM2 private key, 64 hex characters. Signs every request. */
  privateKeyHex: z
    .string()
    .regex(/^[0-9a-fA-F]{64}$/, 'must be the SM2 private key as 64 hex characters (32 bytes)'),
  /** The platform's SM2 public key, uncompressed (`04` + x + y, 130 hex characters). */
  platformPublicKeyHex: z
    .string()
    .regex(
      /^04[0-9a-fA-F]{128}$/,
      'must be an uncompressed SM2 public key: 04 followed by 128 hex characters',
    )
    .refine(isSm2PublicKey, 'is not a point on the SM2 curve'),
  /** SM2 signer id [U]; the demo effectively uses the GM/T 0009 default. */
  userId: z.string().min(1).max(64).default(NHSA_DEFAULT_USER_ID),
  /** API base (scheme, host, optional prefix); the sandbox points it at the simulator. */
  baseUrl: z.url(),
  /**
   * The authorisation page a patient is sent to (医保电子凭证 authorisation); it returns to our page with
   * `authCode` and `state`. In the sandbox: the simulator's `/sim/nhsa/auth`.
   */
  authPageUrl: z.url(),
  /** 就医地医保区划 (admdvs, 6 digits), also the city code (cityId) WeChat's insurance order asks for. */
  admdvs: z.string().regex(/^\d{6}$/, 'is the 6-digit insurance region code (医保区划) of the hospital'),
  timeoutMs: z.number().int().positive(),
  /** Accepted clock skew of replies and notifications, seconds. */
  maxSkewSeconds: z.number().int().positive().default(NHSA_MAX_SKEW_SECONDS),
  /** [U] envelope timestamps in epoch milliseconds (the 2.0.1 demo) or seconds. */
  timestampUnit: z.enum(['ms', 's']).default('ms'),
  /** [U] platform codes meaning "unknown, ask again" (see {@link NHSA_DEFAULT_RETRYABLE_CODES}). */
  retryableCodes: z.array(z.string()).default(NHSA_DEFAULT_RETRYABLE_CODES),
  /** Per-operation path overrides (see {@link NHSA_DEFAULT_PATHS}). */
  paths: z
    .object({
      authorize: pathSchema,
      uploadFees: pathSchema,
      revokeUpload: pathSchema,
      settle: pathSchema,
      querySettlement: pathSchema,
      refund: pathSchema,
      queryBalance: pathSchema,
    })
    .partial()
    .default({}),
});
export type NhsaOptions = z.input<typeof NhsaOptionsSchema>;

// ---- small helpers --------------------------------------------------------------------------------------

type Data = Record<string, unknown>;

const str = (v: unknown): string | undefined =>
  typeof v === 'string' && v !== '' ? v : typeof v === 'number' && Number.isFinite(v) ? String(v) : undefined;

/** A non-negative yuan amount (string, or a JSON number the platform may send) in fen; undefined if malformed. */
function amountFen(v: unknown): number | undefined {
  const s = typeof v === 'number' && Number.isFinite(v) ? String(v) : v;
  if (typeof s !== 'string') return undefined;
  try {
    const f = yuanToFen(s);
    return f >= 0 ? f : undefined;
  } catch {
    return undefined;
  }
}

const beijing = (d: Date) => new Date(d.getTime() + 8 * 3600_000).toISOString();
/** `yyyy-MM-dd HH:mm:ss`, Beijing time. */
const bjDateTime = (d: Date) => beijing(d).slice(0, 19).replace('T', ' ');
/** `yyyyMMddHHmmss`, Beijing time. */
const bjCompact = (d: Date) => beijing(d).slice(0, 19).replace(/\D/g, '');

/** The platform's local times (`yyyy-MM-dd HH:mm:ss` or `yyyyMMddHHmmss`, Beijing) or ISO 8601. */
function parseTime(v: unknown): Date | undefined {
  if (typeof v !== 'string') return undefined;
  let m = /^(\d{4})-(\d{2})-(\d{2}) (\d{2}):(\d{2}):(\d{2})$/.exec(v);
  m ??= /^(\d{4})(\d{2})(\d{2})(\d{2})(\d{2})(\d{2})$/.exec(v);
  if (m) return new Date(`${m[1]}-${m[2]}-${m[3]}T${m[4]}:${m[5]}:${m[6]}+08:00`);
  if (/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?([+-]\d{2}:\d{2}|Z)$/.test(v)) return new Date(v);
  return undefined;
}

/**
 * Unit price in yuan with 4 decimals (pric), from the line amount and a decimal quantity, half up, in integer
 * arithmetic. Undefined for a quantity that is not a positive decimal.
 */
export function unitPriceYuan(amountFenValue: number, quantity: string): string | undefined {
  const m = /^(\d{1,9})(?:\.(\d{1,4}))?$/.exec(quantity);
  if (!m) return undefined;
  const frac = m[2] ?? '';
  const q = BigInt(m[1]! + frac);
  if (q === 0n) return undefined;
  const scale = 10n ** BigInt(frac.length);
  // price in 1/10000 yuan = amountFen / 100 / (q / scale) * 10000 = amountFen * scale * 100 / q
  const num = BigInt(amountFenValue) * scale * 100n;
  const p = (num * 2n + q) / (2n * q);
  return `${p / 10000n}.${String(p % 10000n).padStart(4, '0')}`;
}

const REDACTED_KEYS = new Set(['payauthno', 'paytoken', 'authcode', 'appsecret', 'revstoken', 'ectoken']);
const ID_KEYS = new Set(['idno', 'certno', 'mdtrtcertno']);
const NAME_KEYS = new Set(['username', 'psnname', 'name', 'patientname']);

/**
 * A copy safe for the interface log: tokens and secrets redacted, ID numbers and names masked (the shared
 * recorder's list does not know the platform's field names).
 */
export function maskNhsaPayload(value: unknown, depth = 0): unknown {
  if (depth > 8) return '[deep]';
  if (Array.isArray(value)) return value.slice(0, 50).map((v) => maskNhsaPayload(v, depth + 1));
  if (value && typeof value === 'object') {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value as Record<string, unknown>)) {
      const n = k.toLowerCase().replace(/[_-]/g, '');
      if (REDACTED_KEYS.has(n)) out[k] = '[REDACTED]';
      else if (ID_KEYS.has(n) && typeof v === 'string') out[k] = maskIdNo(v);
      else if (NAME_KEYS.has(n) && typeof v === 'string') out[k] = maskName(v);
      else out[k] = maskNhsaPayload(v, depth + 1);
    }
    return out;
  }
  return value;
}

/** Amount-looking fields of a settlement-level object converted to fen (the quote's evidence). */
function fenView(o: unknown): Data | undefined {
  if (!o || typeof o !== 'object' || Array.isArray(o)) return undefined;
  const out: Data = {};
  for (const [k, v] of Object.entries(o as Data)) {
    const f = /(amt|pay|sumamt|balc)$/i.test(k) ? amountFen(v) : undefined;
    out[f === undefined ? k : `${k}Fen`] = f ?? v;
  }
  return out;
}

/**
 * The split of an order view (mobile-payment level fields). `undefined` when the view carries no amounts;
 * `null` when it carries amounts that are malformed or do not add up.
 */
function splitOf(d: Data): InsuranceSplit | null | undefined {
  if (d.feeSumamt === undefined && d.fundPay === undefined && d.ownPayAmt === undefined) return undefined;
  const parts = {
    totalFen: amountFen(d.feeSumamt),
    fundFen: amountFen(d.fundPay ?? '0'),
    psnAcctFen: amountFen(d.psnAcctPay ?? '0'),
    otherFen: amountFen(d.othPay ?? '0'),
    cashFen: amountFen(d.ownPayAmt ?? '0'),
  };
  if (Object.values(parts).some((v) => v === undefined)) return null;
  const split = parts as InsuranceSplit;
  return checkSplit(split) ? split : null;
}

// ---- state mapping: the platform's ordStas to ours, in one switch ----------------------------------------

interface MappedState {
  state: InsuranceSettleState;
  insuranceState: NonNullable<InsuranceSettlement['insuranceState']>;
  cashState: NonNullable<InsuranceSettlement['cashState']>;
}

/**
 * ordStas [P: the same 0–17 list in several integrations]: 0 已保存, 1 预结算完成, 2 结算中/待支付, 3 自费完成,
 * 4 医保支付完成, 5 院内结算完成, 6 结算完成, 7 已退款, 8 已医保全部退款, 9 仅自费全部退款, 10 仅自费部分退款,
 * 11 医保全部退自费部分退款, 12 已撤销, 13 医保已撤销, 14 异常, 15 结算失败, 16 医保结算失败自费冲正失败, 17 退款中.
 */
function mapOrdStas(ordStas: unknown): MappedState {
  switch (str(ordStas)) {
    case '0':
    case '1':
    case '2':
      return { state: 'PENDING', insuranceState: 'PENDING', cashState: 'PENDING' };
    case '3': // the cash part is done, the insurance part is not yet
      return { state: 'PENDING', insuranceState: 'PENDING', cashState: 'PAID' };
    case '4': // insurance settled; the hospital still collects the cash part
      return { state: 'SETTLED', insuranceState: 'SETTLED', cashState: 'PENDING' };
    case '5':
    case '6':
      return { state: 'SETTLED', insuranceState: 'SETTLED', cashState: 'PAID' };
    case '9':
    case '10': // only the cash part went back: the insurance settlement stands
      return { state: 'SETTLED', insuranceState: 'SETTLED', cashState: 'REFUNDED' };
    case '17': // a refund is under way: the settlement stands until it completes
      return { state: 'SETTLED', insuranceState: 'SETTLED', cashState: 'PAID' };
    case '7':
      return { state: 'REFUNDED', insuranceState: 'REFUNDED', cashState: 'REFUNDED' };
    case '8':
      return { state: 'REFUNDED', insuranceState: 'REFUNDED', cashState: 'PAID' };
    case '11':
      return { state: 'REFUNDED', insuranceState: 'REFUNDED', cashState: 'REFUNDED' };
    case '12':
    case '13':
      return { state: 'REFUNDED', insuranceState: 'REFUNDED', cashState: 'NONE' };
    case '15':
    case '16':
      return { state: 'FAILED', insuranceState: 'FAILED', cashState: 'FAILED' };
    case '14': // 异常: not known to be nothing-taken; keep asking (and let people look)
    default: // an unknown new state: keep asking rather than guess
      return { state: 'PENDING', insuranceState: 'PENDING', cashState: 'PENDING' };
  }
}

function mapRefStatus(s: unknown): { result: ChannelResult; state: InsuranceRefundState } {
  switch (s) {
    case 'SUCC':
      return { result: 'SUCCESS', state: 'SUCCESS' };
    case 'FAIL':
      return { result: 'FAIL', state: 'FAILED' };
    case 'EXP': // 异常: accepted, outcome not known yet
    default:
      return { result: 'PENDING', state: 'PROCESSING' };
  }
}

/** A verified reply, or no (verifiable) reply at all. */
type CallOutcome =
  | { answered: true; ok: boolean; code: string; message: string; data: Data }
  | { answered: false; errorCode: string; errorMessage: string };

/** The national mobile payment platform for one institution (see the file comment for the operations). */
export class NhsaChannel implements InsurancePlatform, InsuranceChannel {
  readonly name: string = 'nhsa';
  private readonly opts: z.infer<typeof NhsaOptionsSchema>;
  private readonly paths: Record<NhsaOperation, string>;
  private readonly publicKeyHex: string;
  private readonly sm4Key: Buffer;
  /** Precomputed once: verification is the hot path of every reply and notification. */
  private readonly platformKey: Sm2PublicKey;
  private readonly base: string;

  constructor(
    options: NhsaOptions,
    private readonly record: OutboundRecorder = () => undefined,
  ) {
    const parsed = NhsaOptionsSchema.safeParse(options);
    if (!parsed.success) {
      const what = parsed.error.issues.map((i) => `${i.path.join('.') || '(options)'} ${i.message}`);
      throw new Error(`national insurance platform (nhsa) settings are invalid — fix: ${what.join('; ')}`);
    }
    this.opts = parsed.data;
    this.paths = { ...NHSA_DEFAULT_PATHS, ...this.opts.paths };
    this.publicKeyHex = sm2.getPublicKeyFromPrivateKey(this.opts.privateKeyHex);
    this.sm4Key = deriveSm4Key(this.opts.appId, this.opts.appSecret);
    this.platformKey = sm2.precomputePublicKey(this.opts.platformPublicKeyHex);
    this.base = this.opts.baseUrl.replace(/\/+$/, '');
  }

  private failureResult(code: string): ChannelResult {
    return this.opts.retryableCodes.includes(code) ? 'UNKNOWN' : 'FAIL';
  }

  /** One API call: a verified, decrypted reply, or `answered: false` (timeout, transport, unverifiable). */
  private async call(
    operation: NhsaOperation,
    orderNo: string | undefined,
    data: Data,
  ): Promise<CallOutcome> {
    const started = Date.now();
    const url = `${this.base}${this.paths[operation]}`;
    const request = { path: this.paths[operation], data: maskNhsaPayload(data) };
    const done = (
      result: ChannelResult,
      extra: { httpStatus?: number; errorCode?: string; errorMessage?: string; response?: unknown },
    ) =>
      this.record({
        party: this.name,
        operation,
        orderNo,
        method: 'POST',
        url,
        latencyMs: Date.now() - started,
        result,
        request,
        ...extra,
      });
    const unanswered = (errorCode: string, errorMessage: string, httpStatus?: number): CallOutcome => {
      done('UNKNOWN', { httpStatus, errorCode, errorMessage });
      return { answered: false, errorCode, errorMessage };
    };
    const env = sealEnvelope(
      data,
      {
        appId: this.opts.appId,
        appSecret: this.opts.appSecret,
        privateKeyHex: this.opts.privateKeyHex,
        publicKeyHex: this.publicKeyHex,
        userId: this.opts.userId,
        sm4Key: this.sm4Key,
      },
      { timestampUnit: this.opts.timestampUnit },
    );
    const posted = await postJson(url, env, this.opts.timeoutMs);
    if (!posted.answered) return unanswered(posted.errorCode, posted.errorMessage);
    const { status, text } = posted;
    // Only a 200 carries a signed envelope; anything else is a gateway in front of the platform talking.
    if (status !== 200) return unanswered(`HTTP_${status}`, text.slice(0, 300), status);
    let reply: unknown;
    try {
      reply = JSON.parse(text);
    } catch {
      return unanswered('REPLY_NOT_JSON', text.slice(0, 300), status);
    }
    let opened;
    try {
      opened = openEnvelope(
        reply,
        {
          appId: this.opts.appId,
          appSecret: this.opts.appSecret,
          publicKey: this.platformKey,
          userId: this.opts.userId,
          sm4Key: this.sm4Key,
        },
        { maxSkewSeconds: this.opts.maxSkewSeconds },
      );
    } catch (e) {
      // An unsigned or forged refusal is not believed either: its code goes to the log only.
      const r = reply as { code?: unknown; message?: unknown } | null;
      const said = r && typeof r === 'object' ? ` (reply said ${String(r.code)} ${String(r.message)})` : '';
      const reason = e instanceof NhsaEnvelopeError ? e.reason : 'format';
      return unanswered(
        'REPLY_UNVERIFIED',
        `${reason}: ${(e as Error).message}${said}`.slice(0, 300),
        status,
      );
    }
    const { envelope } = opened;
    if (opened.data !== undefined && (typeof opened.data !== 'object' || Array.isArray(opened.data)))
      return unanswered('REPLY_UNVERIFIED', 'data is not an object', status);
    const replyData = (opened.data ?? {}) as Data;
    const code = str(envelope.code);
    if (code === undefined) return unanswered('REPLY_INCOMPLETE', 'the reply has no code', status);
    const ok = code === '0' && envelope.success !== false && envelope.success !== 'false';
    const message = str(envelope.message) ?? '';
    done(ok ? 'SUCCESS' : this.failureResult(code), {
      httpStatus: status,
      errorCode: ok ? undefined : code,
      errorMessage: ok ? undefined : message,
      response: { code, message, data: maskNhsaPayload(replyData) },
    });
    return { answered: true, ok, code, message, data: replyData };
  }

  private refused(res: CallOutcome & { answered: true }) {
    return { result: this.failureResult(res.code), errorCode: res.code, errorMessage: res.message };
  }

  /** The person's identification as the platform's calls carry it. */
  private personFields(p: InsuredPerson): Data {
    return { psnNo: p.psnNo, idNo: p.idNo, userName: p.name, idType: p.idType, insutype: p.insutype };
  }

  /** A settlement from an order view (6202/6301 reply, 6302 notification); `split: null`: inconsistent. */
  private settlementOf(orderNo: string, d: Data, appId?: string) {
    const mapped = mapOrdStas(d.ordStas);
    const split = splitOf(d);
    const settlement: InsuranceSettlement = {
      orderNo: str(d.medOrgOrd) ?? orderNo,
      state: mapped.state,
      payOrdId: str(d.payOrdId),
      settlementId: str(d.setlId),
      split: split ?? undefined,
      insuranceState: mapped.insuranceState,
      cashState: split && split.cashFen === 0 ? 'NONE' : mapped.cashState,
      settledAt: mapped.state === 'SETTLED' ? parseTime(d.setlTime) : undefined,
      orgCode: str(d.orgCodg),
      appId,
      rawState: str(d.ordStas),
    };
    return { settlement, inconsistent: split === null };
  }

  /** A reply about another order than the one asked for is not believed. */
  private mismatch(d: Data, expect: { payOrdId?: string; orderNo?: string }): string | undefined {
    if (expect.payOrdId && str(d.payOrdId) && d.payOrdId !== expect.payOrdId)
      return `reply for payOrdId ${String(d.payOrdId)}`;
    if (expect.orderNo && str(d.medOrgOrd) && d.medOrgOrd !== expect.orderNo)
      return `reply for medOrgOrd ${String(d.medOrgOrd)}`;
    if (str(d.orgCodg) && d.orgCodg !== this.opts.orgCode)
      return `reply for institution ${String(d.orgCodg)}`;
    return undefined;
  }

  // ---- InsurancePlatform -----------------------------------------------------------------------------------

  authorizationPageUrl(input: { state: string; returnUrl: string }): string {
    const u = new URL(this.opts.authPageUrl);
    u.searchParams.set('state', input.state);
    u.searchParams.set('returnUrl', input.returnUrl);
    return u.toString();
  }

  async authorize(authCode: string, orderHint?: string): Promise<AuthorizationOutput> {
    if (!/^[\w-]{4,128}$/.test(authCode))
      return { result: 'FAIL', errorCode: 'PARAM_ERROR', errorMessage: 'authCode is malformed' };
    const res = await this.call('authorize', orderHint, { authCode, orgCodg: this.opts.orgCode });
    if (!res.answered) return { result: 'UNKNOWN', errorCode: res.errorCode, errorMessage: res.errorMessage };
    if (!res.ok) return this.refused(res);
    const d = res.data;
    const payAuthNo = str(d.payAuthNo);
    const psnNo = str(d.psnNo);
    const idNo = str(d.idNo ?? d.certno);
    const name = str(d.userName ?? d.psnName);
    const insutype = str(d.insutype);
    if (!payAuthNo || !psnNo || !idNo || !name || !insutype)
      return {
        result: 'UNKNOWN',
        errorCode: 'REPLY_INCOMPLETE',
        errorMessage: 'payAuthNo or the person missing',
      };
    return {
      result: 'SUCCESS',
      payAuthNo,
      expiresAt: parseTime(d.authExpTime),
      person: {
        psnNo,
        name,
        idNo,
        idType: str(d.idType ?? d.psnCertType) ?? '01',
        insutype,
        insuplcAdmdvs: str(d.insuplcAdmdvs),
      },
    };
  }

  async uploadFees(input: UploadFeesInput): Promise<UploadFeesOutput> {
    const amounts = input.details.map((l) => l.amountFen);
    const sum = amounts.reduce((s, a) => s + a, 0);
    if (!amounts.length || !amounts.every((a) => Number.isSafeInteger(a) && a >= 0) || sum !== input.totalFen)
      return {
        result: 'FAIL',
        errorCode: 'PARAM_ERROR',
        errorMessage: 'the fee lines do not add up to the total',
      };
    const feedetailList: Data[] = [];
    for (const l of input.details) {
      const pric = unitPriceYuan(l.amountFen, l.quantity);
      if (!pric)
        return {
          result: 'FAIL',
          errorCode: 'PARAM_ERROR',
          errorMessage: `quantity ${l.quantity} of ${l.feedetlSn}`,
        };
      feedetailList.push({
        feedetlSn: l.feedetlSn,
        mdtrtId: input.visitNo,
        psnNo: input.person.psnNo,
        chrgBchno: input.orderNo,
        rxno: l.hisBillNo,
        feeOcurTime: bjDateTime(input.beganAt),
        medListCodg: l.itemCode,
        medinsListCodg: l.itemCode,
        medListName: l.itemName,
        /** [U] the fee line's charge-item category (med_chrgitm_type) under our own name. */
        medChrgitmType: l.category,
        detItemFeeSumamt: fenToYuan(l.amountFen),
        cnt: l.quantity,
        pric,
        medType: input.medType,
      });
    }
    const res = await this.call('uploadFees', input.orderNo, {
      orgCodg: this.opts.orgCode,
      ...this.personFields(input.person),
      insuCode: input.person.insuplcAdmdvs ?? this.opts.admdvs,
      medOrgOrd: input.orderNo,
      chrgBchno: input.orderNo,
      begntime: bjDateTime(input.beganAt),
      payAuthNo: input.payAuthNo,
      iptOtpNo: input.visitNo,
      mdtrtId: input.visitNo,
      deptCode: input.deptCode,
      deptName: input.deptName,
      caty: input.deptCode,
      medType: input.medType,
      feeType: input.feeType,
      medfeeSumamt: fenToYuan(input.totalFen),
      acctUsedFlag: input.useAccount ? '1' : '0',
      psnSetlway: '01', // 按项目结算
      pubHospRfomFlag: '0',
      feedetailList,
    });
    if (!res.answered) return { result: 'UNKNOWN', errorCode: res.errorCode, errorMessage: res.errorMessage };
    if (!res.ok) return this.refused(res);
    const d = res.data;
    const wrong = this.mismatch(d, { orderNo: input.orderNo });
    if (wrong) return { result: 'UNKNOWN', errorCode: 'REPLY_MISMATCH', errorMessage: wrong };
    const payOrdId = str(d.payOrdId);
    const payToken = str(d.payToken);
    if (!payOrdId || !payToken)
      return { result: 'UNKNOWN', errorCode: 'REPLY_INCOMPLETE', errorMessage: 'no payOrdId / payToken' };
    const split = splitOf(d);
    if (!split || split.totalFen !== input.totalFen)
      return {
        result: 'FAIL',
        errorCode: 'SPLIT_INCONSISTENT',
        errorMessage: split
          ? `the split's total ${split.totalFen} differs from the upload's ${input.totalFen}`
          : 'the split is missing, malformed or does not add up',
        payOrdId,
      };
    const ext = d.extData && typeof d.extData === 'object' ? (d.extData as Data) : {};
    return {
      result: 'SUCCESS',
      payOrdId,
      payToken,
      split,
      extra: {
        payOrdId,
        medOrgOrd: str(d.medOrgOrd) ?? input.orderNo,
        preSetl: maskNhsaPayload(fenView(ext.preSetl)),
      },
    };
  }

  async revokeUpload(
    input: RevokeUploadInput,
  ): Promise<{ result: ChannelResult; errorCode?: string; errorMessage?: string }> {
    const res = await this.call('revokeUpload', input.orderNo, {
      orgCodg: this.opts.orgCode,
      payOrdId: input.payOrdId,
      medOrgOrd: input.orderNo,
      payAuthNo: input.payAuthNo,
      ...this.personFields(input.person),
    });
    if (!res.answered) return { result: 'UNKNOWN', errorCode: res.errorCode, errorMessage: res.errorMessage };
    if (!res.ok) return this.refused(res);
    const wrong = this.mismatch(res.data, { payOrdId: input.payOrdId });
    if (wrong) return { result: 'UNKNOWN', errorCode: 'REPLY_MISMATCH', errorMessage: wrong };
    return { result: 'SUCCESS' };
  }

  async queryBalance(payAuthNo: string, person: InsuredPerson): Promise<BalanceOutput> {
    const res = await this.call('queryBalance', undefined, {
      orgCodg: this.opts.orgCode,
      payAuthNo,
      ...this.personFields(person),
    });
    if (!res.answered) return { result: 'UNKNOWN', errorCode: res.errorCode, errorMessage: res.errorMessage };
    if (!res.ok) return this.refused(res);
    const insuinfo = Array.isArray(res.data.insuinfo) ? (res.data.insuinfo as Data[]) : [];
    const row = insuinfo.find((r) => str(r?.insutype) === person.insutype) ?? insuinfo[0];
    const balanceFen = row ? amountFen(row.balc) : undefined;
    if (balanceFen === undefined)
      return { result: 'UNKNOWN', errorCode: 'REPLY_INCOMPLETE', errorMessage: 'no balance (insuinfo.balc)' };
    return { result: 'SUCCESS', balanceFen };
  }

  // ---- InsuranceChannel ------------------------------------------------------------------------------------

  async settle(input: SettleInput): Promise<SettleOutput> {
    if (!checkSplit(input.split))
      return {
        result: 'FAIL',
        errorCode: 'SPLIT_INCONSISTENT',
        errorMessage: 'the split to settle does not add up',
      };
    const res = await this.call('settle', input.orderNo, {
      orgCodg: this.opts.orgCode,
      orgBizSer: input.orderNo,
      medOrgOrd: input.orderNo,
      chrgBchno: input.orderNo,
      payAuthNo: input.payAuthNo,
      payOrdId: input.payOrdId,
      payToken: input.payToken,
      ...this.personFields(input.person),
      feeSumamt: fenToYuan(input.split.totalFen),
      fundPay: fenToYuan(input.split.fundFen),
      psnAcctPay: fenToYuan(input.split.psnAcctFen),
      othPay: fenToYuan(input.split.otherFen),
      ownPayAmt: fenToYuan(input.split.cashFen),
      /** [U] where the platform sends 6302; our naming. */
      notifyUrl: input.notifyUrl,
    });
    if (!res.answered) return { result: 'UNKNOWN', errorCode: res.errorCode, errorMessage: res.errorMessage };
    if (!res.ok) return this.refused(res);
    const wrong = this.mismatch(res.data, { payOrdId: input.payOrdId, orderNo: input.orderNo });
    if (wrong) return { result: 'UNKNOWN', errorCode: 'REPLY_MISMATCH', errorMessage: wrong };
    const { settlement, inconsistent } = this.settlementOf(input.orderNo, res.data, this.opts.appId);
    if (inconsistent)
      return {
        result: 'FAIL',
        errorCode: 'SPLIT_INCONSISTENT',
        errorMessage: 'the settled split is malformed or does not add up',
        settlement,
      };
    switch (settlement.state) {
      case 'SETTLED':
        return { result: 'SUCCESS', settlement };
      case 'PENDING':
        return { result: 'PENDING', settlement, errorCode: settlement.rawState };
      case 'FAILED':
        return { result: 'FAIL', settlement, errorCode: `ORD_STAS_${settlement.rawState}` };
      default:
        return { result: 'UNKNOWN', settlement, errorCode: `ORD_STAS_${settlement.rawState}` };
    }
  }

  async querySettlement(
    orderNo: string,
    payOrdId?: string,
    payAuthNo?: string,
  ): Promise<{
    result: ChannelResult;
    settlement?: InsuranceSettlement;
    errorCode?: string;
    errorMessage?: string;
  }> {
    const res = await this.call('querySettlement', orderNo, {
      orgCodg: this.opts.orgCode,
      medOrgOrd: orderNo,
      payOrdId,
      payAuthNo,
    });
    if (!res.answered) return { result: 'UNKNOWN', errorCode: res.errorCode, errorMessage: res.errorMessage };
    if (!res.ok) {
      // [U] 2003 订单不存在 (the sandbox's code): the order never reached the platform.
      if (res.code === NHSA_ORDER_NOT_FOUND_CODE)
        return {
          result: 'SUCCESS',
          settlement: { orderNo, payOrdId, state: 'NOT_FOUND' },
          errorCode: res.code,
        };
      return this.refused(res);
    }
    const wrong = this.mismatch(res.data, { payOrdId, orderNo });
    if (wrong) return { result: 'UNKNOWN', errorCode: 'REPLY_MISMATCH', errorMessage: wrong };
    const { settlement, inconsistent } = this.settlementOf(orderNo, res.data, this.opts.appId);
    if (inconsistent)
      return {
        result: 'FAIL',
        errorCode: 'SPLIT_INCONSISTENT',
        errorMessage: 'the split is malformed or does not add up',
        settlement,
      };
    return { result: 'SUCCESS', settlement };
  }

  async refund(input: InsuranceRefundInput): Promise<InsuranceRefundOutput> {
    const parts = [input.fundFen, input.psnAcctFen, input.otherFen, input.cashFen];
    if (!parts.every((n) => Number.isSafeInteger(n) && n >= 0))
      return { result: 'FAIL', errorCode: 'PARAM_ERROR', errorMessage: 'refund parts are non-negative fen' };
    const insurance = input.fundFen + input.psnAcctFen + input.otherFen;
    if (input.kind === 'HI' && input.cashFen !== 0)
      return { result: 'FAIL', errorCode: 'PARAM_ERROR', errorMessage: 'an HI refund returns no cash part' };
    if (input.kind === 'CASH' && insurance !== 0)
      return {
        result: 'FAIL',
        errorCode: 'PARAM_ERROR',
        errorMessage: 'a CASH refund returns no insurance part',
      };
    const total = insurance + input.cashFen;
    if (total <= 0) return { result: 'FAIL', errorCode: 'PARAM_ERROR', errorMessage: 'nothing to refund' };
    const res = await this.call('refund', input.orderNo, {
      orgCodg: this.opts.orgCode,
      medOrgOrd: input.orderNo,
      payOrdId: input.payOrdId,
      setlId: input.settlementId,
      payAuthNo: input.payAuthNo,
      appRefdSn: input.refundNo,
      appRefdTime: bjCompact(input.requestedAt),
      totlRefdAmt: fenToYuan(total),
      fundRefdAmt: fenToYuan(input.fundFen),
      psnAcctRefdAmt: fenToYuan(input.psnAcctFen),
      /** [U] the other-funds part under our own name. */
      othRefdAmt: fenToYuan(input.otherFen),
      cashRefdAmt: fenToYuan(input.cashFen),
      refdType: input.kind,
    });
    if (!res.answered) return { result: 'UNKNOWN', errorCode: res.errorCode, errorMessage: res.errorMessage };
    if (!res.ok) return this.refused(res);
    const wrong = this.mismatch(res.data, { payOrdId: input.payOrdId, orderNo: input.orderNo });
    if (wrong) return { result: 'UNKNOWN', errorCode: 'REPLY_MISMATCH', errorMessage: wrong };
    if (str(res.data.appRefdSn) && res.data.appRefdSn !== input.refundNo)
      return { result: 'UNKNOWN', errorCode: 'REPLY_MISMATCH', errorMessage: 'reply for another refund' };
    const { result, state } = mapRefStatus(res.data.refStatus);
    return {
      result,
      state,
      refundId: str(res.data.refundTraceId),
      errorCode: result === 'SUCCESS' ? undefined : str(res.data.refStatus),
      errorMessage: result === 'SUCCESS' ? undefined : str(res.data.refMsg),
    };
  }

  parseNotification(
    _headers: Record<string, string | undefined>,
    rawBody: string,
    now: Date,
  ): ParsedInsuranceNotification {
    let body: unknown;
    try {
      body = JSON.parse(rawBody);
    } catch {
      throw new NotificationRejected('format', 'body is not JSON');
    }
    let data: unknown;
    try {
      data = openEnvelope(
        body,
        {
          appId: this.opts.appId,
          appSecret: this.opts.appSecret,
          publicKey: this.platformKey,
          userId: this.opts.userId,
          sm4Key: this.sm4Key,
        },
        { now, maxSkewSeconds: this.opts.maxSkewSeconds },
      ).data;
    } catch (e) {
      if (e instanceof NhsaEnvelopeError) throw new NotificationRejected(e.reason, e.message);
      throw new NotificationRejected('format', (e as Error).message);
    }
    if (!data || typeof data !== 'object' || Array.isArray(data))
      throw new NotificationRejected('format', 'the notification carries no data');
    const d = data as Data;
    const payOrdId = str(d.payOrdId);
    const orderNo = str(d.medOrgOrd);
    const ordStas = str(d.ordStas);
    if (!payOrdId || !orderNo || !ordStas)
      throw new NotificationRejected('format', 'the notification lacks payOrdId, medOrgOrd or ordStas');
    if (str(d.orgCodg) && d.orgCodg !== this.opts.orgCode)
      throw new NotificationRejected('format', `notification for institution ${String(d.orgCodg)}`);
    const { settlement, inconsistent } = this.settlementOf(orderNo, d, this.opts.appId);
    if (inconsistent)
      throw new NotificationRejected('format', 'SPLIT_INCONSISTENT: the split does not add up');
    return {
      // [U] the platform's own notification id when it sends one; else stable per order and state.
      notifyId: str(d.notifyId) ?? `6302:${payOrdId}:${ordStas}`,
      eventType: '6302',
      settlement,
    };
  }

  notificationReply(ok: boolean, message = 'fail'): NotificationReply {
    // [U] the acknowledgement the platform expects is not confirmed: JSON `{code: 0, message: "success"}`.
    return {
      status: ok ? 200 : 500,
      contentType: 'application/json',
      body: JSON.stringify(ok ? { code: 0, message: 'success' } : { code: -1, message }),
    };
  }
}
