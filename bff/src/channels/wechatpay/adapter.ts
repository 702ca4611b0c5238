import { Agent as HttpsAgent } from 'node:https';
import { createPrivateKey, createPublicKey, randomBytes, type KeyObject } from 'node:crypto';
import { Aes, Decorator, Formatter, Rsa } from 'wechatpay-axios-plugin';
import { z } from 'zod';
import type {
  ChannelCapabilities,
  ChannelPayment,
  ChannelRefund,
  ChannelRefundState,
  RefundInput,
  RefundOutput,
  ChannelPaymentState,
  ChannelResult,
  CloseOutput,
  CreatePaymentInput,
  CreatePaymentOutput,
  NotificationReply,
  OutboundCall,
  OutboundRecorder,
  ParsedNotification,
  StatementOutput,
  FundFlowOutput,
  PaymentChannel,
  QueryPaymentOutput,
} from '../types';
import { NotificationRejected } from '../types';
import { isBillDate, statementFailure } from '../statement';
import { parseTradeBill, verifyBillHash } from './trade-bill';
import { parseFundFlowBill } from './fund-flow-bill';

/**
 * Settings of one WeChat Pay v3 merchant account. Direct-merchant mode here; the service-provider
 * (partner) mode with a sub-merchant per hospital comes with the payments-core issue.
 */
export const WechatPayOptionsSchema = z.object({
  /** The hospital's merchant id: its own (direct) or its sub-merchant id under a service provider (partner). */
  mchId: z.string().regex(/^\d{6,12}$/, 'mchid is 6–12 digits'),
  /** The appid the payments are made under (official account or mini-program); in partner mode the sp_appid, or the sub_appid when set. */
  appId: z.string().min(1),
  /**
   * direct: the hospital is the merchant. partner: a service provider's merchant (spMchId, whose keys these
   * are) acts for the hospital's sub-merchant (mchId) — the usual set-up when one operator runs many hospitals.
   */
  mode: z.enum(['direct', 'partner']).default('direct'),
  /** Partner mode: the service provider's merchant id (signs every request). */
  spMchId: z
    .string()
    .regex(/^\d{6,12}$/)
    .optional(),
  /** Partner mode: the service provider's appid. */
  spAppId: z.string().min(1).optional(),
  /** Partner mode: the sub-merchant's own appid, when payments are made under it. */
  subAppId: z.string().min(1).optional(),
  /** Serial number of the merchant API certificate. */
  serialNo: z.string().min(1),
  /** Merchant API private key, PEM. */
  privateKeyPem: z.string().includes('PRIVATE KEY', { message: 'must be a PEM private key' }),
  /** APIv3 key: exactly 32 ASCII characters; decrypts notifications. */
  apiV3Key: z.string().length(32, 'the APIv3 key is exactly 32 characters'),
  /**
   * API v2 key (exactly 32 characters): signs the v2 XML APIs used for payment codes (micropay, reverse) and
   * order comments. Without it the account cannot take payment codes.
   */
  apiV2Key: z.string().length(32, 'the API v2 key is exactly 32 characters').optional(),
  /**
   * Merchant API certificate (`apiclient_cert.pem`) and its key (`apiclient_key.pem`): WeChat's `secapi`
   * calls (reverse) and the comments download demand them as a TLS client certificate. Over https an
   * account with a v2 key but without them declares no payment codes: a payment code that cannot be
   * reversed after a timeout is not safe to take. The plain-http sandbox needs neither.
   */
  apiClientCertPem: z.string().includes('CERTIFICATE', { message: 'must be a PEM certificate' }).optional(),
  apiClientKeyPem: z.string().includes('PRIVATE KEY', { message: 'must be a PEM private key' }).optional(),
  /** Extra CA (PEM) the channel's server certificate is checked against: tests and private gateways only. */
  tlsCaPem: z.string().includes('CERTIFICATE', { message: 'must be a PEM certificate' }).optional(),
  /** WeChat Pay public key id (`PUB_KEY_ID_…`) or platform certificate serial. */
  platformKeyId: z.string().min(1),
  /** WeChat Pay public key (or platform certificate's public key), PEM. */
  platformPublicKeyPem: z.string().includes('PUBLIC KEY', { message: 'must be a PEM public key' }),
  /** API host; the sandbox points it at the simulator. */
  baseUrl: z.url(),
  timeoutMs: z.number().int().positive(),
});
export type WechatPayOptions = z.input<typeof WechatPayOptionsSchema>;

/** Transaction as the v3 query and TRANSACTION.SUCCESS notification describe it. */
interface V3Transaction {
  appid?: string;
  mchid?: string;
  sp_appid?: string;
  sp_mchid?: string;
  sub_appid?: string;
  sub_mchid?: string;
  out_trade_no: string;
  transaction_id?: string;
  trade_type?: string;
  trade_state: string;
  trade_state_desc?: string;
  success_time?: string;
  amount?: { total?: number; payer_total?: number; currency?: string };
}

/** Refund as the v3 refund APIs and REFUND.* notifications describe it. */
interface V3Refund {
  mchid?: string;
  sub_mchid?: string;
  out_trade_no?: string;
  out_refund_no: string;
  refund_id?: string;
  status?: string;
  /** Notifications call it refund_status. */
  refund_status?: string;
  success_time?: string;
  amount?: { total?: number; refund?: number };
}

function mapRefundState(state: string | undefined): ChannelRefundState {
  switch (state) {
    case 'SUCCESS':
      return 'SUCCESS';
    case 'PROCESSING':
      return 'PROCESSING';
    case 'CLOSED':
      return 'FAILED';
    case 'ABNORMAL':
      return 'ABNORMAL';
    default:
      return 'PROCESSING'; // unknown: keep asking
  }
}

function toRefund(r: V3Refund): ChannelRefund {
  const raw = r.status ?? r.refund_status;
  return {
    refundNo: r.out_refund_no,
    orderNo: r.out_trade_no,
    state: mapRefundState(raw),
    rawState: raw,
    channelRefundId: r.refund_id,
    amountFen: r.amount?.refund,
    succeededAt: r.success_time ? new Date(r.success_time) : undefined,
    mchId: r.sub_mchid ?? r.mchid,
  };
}

interface V3Error {
  code?: string;
  message?: string;
}

/** Deliberate signature probes from WeChat Pay start with this and must fail (protocols.md §1). */
const SIGNTEST_PREFIX = 'WECHATPAY/SIGNTEST/';
const MAX_SKEW_SECONDS = 300;
/** Largest bill file we accept (a busy hospital's daily ALL bill is a few MB). */
const MAX_BILL_BYTES = 200 * 1024 * 1024;

function mapTradeState(state: string): ChannelPaymentState {
  switch (state) {
    case 'SUCCESS':
      return 'PAID';
    case 'REFUND':
      return 'REFUNDED';
    case 'NOTPAY':
      return 'NOTPAY';
    case 'USERPAYING':
      return 'PAYING';
    case 'CLOSED':
    case 'REVOKED':
      return 'CLOSED';
    case 'PAYERROR':
      return 'FAILED';
    default:
      return 'PAYING'; // unknown new state: keep querying rather than guess
  }
}

function toPayment(t: V3Transaction): ChannelPayment {
  return {
    orderNo: t.out_trade_no,
    state: mapTradeState(t.trade_state),
    rawState: t.trade_state,
    channelTradeNo: t.transaction_id,
    amountFen: t.amount?.total,
    paidAt: t.success_time ? new Date(t.success_time) : undefined,
    // Partner-mode resources name the hospital as sub_mchid, the app as sub_appid or sp_appid.
    mchId: t.sub_mchid ?? t.mchid,
    appId: t.sub_appid ?? t.sp_appid ?? t.appid,
  };
}

/** v2 `time_end` (yyyyMMddHHmmss, Beijing time) as a Date. */
function parseTimeEnd(t: string): Date | undefined {
  const m = /^(\d{4})(\d{2})(\d{2})(\d{2})(\d{2})(\d{2})$/.exec(t);
  return m ? new Date(`${m[1]}-${m[2]}-${m[3]}T${m[4]}:${m[5]}:${m[6]}+08:00`) : undefined;
}

/** RFC 3339 in Beijing time, as WeChat expects `time_expire`. */
export function rfc3339Beijing(d: Date): string {
  return `${new Date(d.getTime() + 8 * 3600_000).toISOString().slice(0, 19)}+08:00`;
}

export interface CallError {
  result: ChannelResult;
  httpStatus?: number;
  errorCode: string;
  errorMessage: string;
}

/**
 * A failed query: "no such order/refund" is a definite answer (SUCCESS with a NOT_FOUND state); anything
 * else is FAIL or UNKNOWN, to be asked again.
 */
function queryFailure<T extends object>(
  res: CallError,
  notFound: T,
): { result: ChannelResult; errorCode?: string; errorMessage?: string } & Partial<T> {
  if (res.errorCode === 'ORDER_NOT_EXIST' || res.errorCode === 'RESOURCE_NOT_EXISTS') {
    return { result: 'SUCCESS', errorCode: res.errorCode, ...notFound };
  }
  const failed: { result: ChannelResult; errorCode?: string; errorMessage?: string } = {
    result: res.result === 'FAIL' ? 'FAIL' : 'UNKNOWN',
    errorCode: res.errorCode,
    errorMessage: res.errorMessage,
  };
  return failed as typeof failed & Partial<T>; // no payment/refund field on this branch
}

/** Classifies a failed call without ever keeping the AxiosError (it carries the request config, keys included). */
export function classify(err: unknown): CallError {
  const e = err as { code?: string; message?: string; response?: { status?: number; data?: V3Error } };
  if (e.response?.status) {
    const status = e.response.status;
    const code = e.response.data?.code ?? `HTTP_${status}`;
    // 5xx and rate limits say nothing about the order: unknown, resolve by query.
    const result: ChannelResult =
      status >= 500 || code === 'SYSTEM_ERROR' || code === 'FREQUENCY_LIMITED' ? 'UNKNOWN' : 'FAIL';
    return { result, httpStatus: status, errorCode: code, errorMessage: e.response.data?.message ?? '' };
  }
  // No reply (timeout, connection refused) or a reply that failed verification.
  const verify = typeof e.code === 'string' && e.code.startsWith('EV3_');
  return {
    result: 'UNKNOWN',
    errorCode: verify ? e.code! : (e.code ?? 'NETWORK_ERROR'),
    errorMessage: (e.message ?? 'no reply').slice(0, 300),
  };
}

/** The v2 comments API (订单评价) and its largest page. */
const COMMENTS_PATH = 'billcommentsp/batchquerycomment';
const COMMENTS_MAX_LIMIT = 200;

/** A window of comments to pull, and the page within it. */
export interface CommentWindow {
  from: Date;
  to: Date;
  /** Where to start: 0, then the `nextOffset` of the previous page. */
  offset?: number;
  /** Page size, at most 200. */
  limit?: number;
}

/** One comment a patient left on a payment. */
export interface ChannelComment {
  commentedAt: Date;
  /** WeChat's transaction_id of the payment commented on. */
  channelTradeNo: string;
  /** 1–5. */
  stars: number;
  content: string;
}

export interface CommentPage {
  result: ChannelResult;
  comments?: ChannelComment[];
  /** The offset to ask for the next page with. */
  nextOffset?: number;
  errorCode?: string;
  errorMessage?: string;
}

/** `yyyyMMddHHmmss` in Beijing time. */
function beijingCompact(d: Date): string {
  return new Date(d.getTime() + 8 * 3600_000).toISOString().slice(0, 19).replace(/[-T:]/g, '');
}

/** A flat `<xml>` reply (v2) as fields; CDATA or plain values. Exported for the parser fuzz tests. */
export function flatXml(xml: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const m of xml.matchAll(/<(\w+)>(?:<!\[CDATA\[([\s\S]*?)\]\]>|([^<]*))<\/\1>/g))
    if (m[1] !== 'xml') out[m[1]!] = m[2] ?? m[3] ?? '';
  return out;
}

/** The comments API's text reply: next offset, then `` `time,`transaction_id,`stars,`content `` lines. */
export function parseCommentsText(text: string): { nextOffset: number; comments: ChannelComment[] } {
  const lines = text.replace(/^\uFEFF/, '').split(/\r?\n/);
  while (lines.length && lines[lines.length - 1]!.trim() === '') lines.pop();
  const first = (lines.shift() ?? '').trim().replace(/^`/, '');
  if (!/^\d+$/.test(first)) throw new Error('comments reply: the first line is not an offset');
  const comments: ChannelComment[] = [];
  for (const [i, line] of lines.entries()) {
    if (line.trim() === '') continue;
    const m = /^`([^,]*),`([^,]*),`([^,]*),`([\s\S]*)$/.exec(line);
    if (!m) throw new Error(`comments reply: line ${i + 2} is not \`time,\`transaction_id,\`stars,\`comment`);
    const [, time, tradeNo, stars, content] = m;
    const t = /^(\d{4})-?(\d{2})-?(\d{2})[ T]?(\d{2}):?(\d{2}):?(\d{2})$/.exec(time!.trim());
    const commentedAt = t ? new Date(`${t[1]}-${t[2]}-${t[3]}T${t[4]}:${t[5]}:${t[6]}+08:00`) : undefined;
    if (!commentedAt || Number.isNaN(commentedAt.getTime()))
      throw new Error(`comments reply: line ${i + 2} has no valid time`);
    if (!/^[\w-]{1,64}$/.test(tradeNo!.trim()))
      throw new Error(`comments reply: line ${i + 2} has no transaction_id`);
    if (!/^[1-5]$/.test(stars!.trim())) throw new Error(`comments reply: line ${i + 2} stars is not 1–5`);
    comments.push({ commentedAt, channelTradeNo: tradeNo!.trim(), stars: Number(stars), content: content! });
  }
  return { nextOffset: Number(first), comments };
}

/**
 * Opens a WeChat Pay v3 notification (payments, refunds, insurance): the `Wechatpay-*` headers, the 300 s
 * window, the RSA signature of `timestamp\nnonce\nbody\n` with the WeChat Pay key, the envelope's shape
 * (signed, yet typed: a wrong shape is a refusal, never a TypeError) and the AES-256-GCM resource under the
 * APIv3 key. Throws {@link NotificationRejected}; the caller checks the event and the resource's fields.
 */
export function openV3Notification(
  headers: Record<string, string | undefined>,
  rawBody: string,
  now: Date,
  keys: { platformKeyId: string; platformPublicKey: KeyObject; apiV3Key: string },
): { envelope: { id: string; event_type: string }; resource: Record<string, unknown> } {
  const h = (k: string) => headers[k] ?? headers[k.toLowerCase()];
  const timestamp = h('wechatpay-timestamp');
  const nonce = h('wechatpay-nonce');
  const serial = h('wechatpay-serial');
  const signature = h('wechatpay-signature');
  if (!timestamp || !nonce || !serial || !signature)
    throw new NotificationRejected('signature', 'missing Wechatpay-* headers');
  if (signature.startsWith(SIGNTEST_PREFIX)) throw new NotificationRejected('signature', 'signature probe');
  if (serial !== keys.platformKeyId)
    throw new NotificationRejected('signature', `unknown key serial ${serial}`);
  if (!/^\d{1,12}$/.test(timestamp) || Math.abs(now.getTime() / 1000 - Number(timestamp)) > MAX_SKEW_SECONDS)
    throw new NotificationRejected('timestamp', 'timestamp outside the 300 s window');
  let valid = false;
  try {
    valid = Rsa.verify(
      Formatter.response(timestamp, nonce, rawBody),
      signature,
      keys.platformPublicKey as unknown as string, // Rsa.verify accepts a KeyObject; its typings say string
    );
  } catch {
    valid = false;
  }
  if (!valid) throw new NotificationRejected('signature', 'signature does not verify');

  let envelope: {
    id?: string;
    event_type?: string;
    resource?: { algorithm?: string; ciphertext?: string; nonce?: string; associated_data?: string };
  };
  try {
    envelope = JSON.parse(rawBody);
  } catch {
    throw new NotificationRejected('format', 'body is not JSON');
  }
  const r = envelope?.resource;
  if (
    typeof envelope?.id !== 'string' ||
    !envelope.id ||
    typeof envelope.event_type !== 'string' ||
    !envelope.event_type ||
    typeof r?.ciphertext !== 'string' ||
    !r.ciphertext ||
    typeof r.nonce !== 'string' ||
    !r.nonce ||
    r.algorithm !== 'AEAD_AES_256_GCM'
  ) {
    throw new NotificationRejected('format', 'not a v3 notification envelope');
  }
  let plain: string;
  try {
    plain = Aes.AesGcm.decrypt(r.ciphertext, keys.apiV3Key, r.nonce, r.associated_data ?? '');
  } catch {
    throw new NotificationRejected('decrypt', 'resource does not decrypt with the APIv3 key');
  }
  let resource: unknown;
  try {
    resource = JSON.parse(plain);
  } catch {
    throw new NotificationRejected('format', 'decrypted resource is not JSON');
  }
  if (!resource || typeof resource !== 'object')
    throw new NotificationRejected('format', 'decrypted resource is not an object');
  return {
    envelope: { id: envelope.id, event_type: envelope.event_type },
    resource: resource as Record<string, unknown>,
  };
}

/** The answer to a v3 notification: 204 acknowledges; any 4xx/5xx asks WeChat to send it again. */
export function v3NotificationReply(ok: boolean, message = 'FAIL'): NotificationReply {
  return ok
    ? { status: 204 }
    : { status: 500, contentType: 'application/json', body: JSON.stringify({ code: 'FAIL', message }) };
}

/** WeChat Pay API v3 through wechatpay-axios-plugin: requests signed, replies verified by the SDK. */
export class WechatPayV3Channel implements PaymentChannel {
  readonly name = 'wechatpay';
  readonly capabilities: ChannelCapabilities;
  private readonly client: Decorator;
  private readonly opts: z.infer<typeof WechatPayOptionsSchema>;
  /** Parsed once: parsing a PEM costs as much as the signature itself. */
  private readonly privateKey: KeyObject;
  private readonly platformPublicKey: KeyObject;
  /** The v2 key is present and, over https, so is the client certificate secapi calls present. */
  private readonly v2Secure: boolean;

  constructor(
    options: WechatPayOptions,
    private readonly record: OutboundRecorder = () => undefined,
  ) {
    this.opts = WechatPayOptionsSchema.parse(options);
    if (this.opts.mode === 'partner' && (!this.opts.spMchId || !this.opts.spAppId)) {
      throw new Error('WeChat Pay partner mode needs spMchId and spAppId');
    }
    if (Boolean(this.opts.apiClientCertPem) !== Boolean(this.opts.apiClientKeyPem)) {
      throw new Error('WeChat Pay: the merchant API certificate and its key come together');
    }
    const https = this.opts.baseUrl.startsWith('https://');
    // Payment codes need the v2 key (the service provider's in partner mode, with sub_mch_id on each call)
    // and, over https, the client certificate that reverse presents; without them MICROPAY is declared
    // absent, not faked.
    const v2Secure = Boolean(this.opts.apiV2Key) && (!https || Boolean(this.opts.apiClientCertPem));
    this.v2Secure = v2Secure;
    this.capabilities = {
      tradeTypes: v2Secure ? ['NATIVE', 'JSAPI', 'H5', 'MICROPAY'] : ['NATIVE', 'JSAPI', 'H5'],
      close: true,
      refund: true,
      reverse: v2Secure,
      notifications: true,
      statement: true,
      fundFlow: this.opts.mode !== 'partner',
    };
    this.privateKey = createPrivateKey(this.opts.privateKeyPem);
    this.platformPublicKey = createPublicKey(this.opts.platformPublicKeyPem);
    this.client = new Decorator({
      // The merchant whose key signs: the service provider in partner mode.
      mchid: this.partner ? this.opts.spMchId! : this.opts.mchId,
      serial: this.opts.serialNo,
      // The SDK parses these PEMs into key objects once, at construction.
      privateKey: this.opts.privateKeyPem,
      certs: { [this.opts.platformKeyId]: this.opts.platformPublicKeyPem },
      secret: this.opts.apiV2Key,
      // Presented only on calls made with `security: true` over https (the SDK builds the agent then).
      ...(this.opts.apiClientCertPem
        ? {
            merchant: {
              cert: this.opts.apiClientCertPem,
              key: this.opts.apiClientKeyPem,
              ...(this.opts.tlsCaPem ? { ca: this.opts.tlsCaPem } : {}),
            },
          }
        : {}),
      ...(this.opts.tlsCaPem
        ? { httpsAgent: new HttpsAgent({ ca: this.opts.tlsCaPem, keepAlive: true }) }
        : {}),
      baseURL: this.opts.baseUrl.endsWith('/') ? this.opts.baseUrl : `${this.opts.baseUrl}/`,
      timeout: this.opts.timeoutMs,
    } as ConstructorParameters<typeof Decorator>[0]);
  }

  private async call<T>(
    operation: string,
    orderNo: string | undefined,
    method: 'GET' | 'POST',
    path: string,
    data: object | undefined,
    config: Record<string, unknown> = {},
  ): Promise<{ ok: true; status: number; data: T } | ({ ok: false } & CallError)> {
    const started = Date.now();
    const url = path.replace(/\{([^}]+)\}/g, (_, k: string) => String(config[k] ?? ''));
    try {
      const res = (await this.client.request(path, method, data, config)) as { status: number; data: T };
      this.record({
        party: this.name,
        operation,
        orderNo,
        method,
        url,
        httpStatus: res.status,
        latencyMs: Date.now() - started,
        result: 'SUCCESS',
        request: data,
        response: res.data,
      });
      return { ok: true, status: res.status, data: res.data };
    } catch (err) {
      const c = classify(err);
      this.record({
        party: this.name,
        operation,
        orderNo,
        method,
        url,
        httpStatus: c.httpStatus,
        latencyMs: Date.now() - started,
        result: c.result,
        errorCode: c.errorCode,
        errorMessage: c.errorMessage,
        request: data,
      });
      return { ok: false, ...c };
    }
  }

  private get partner(): boolean {
    return this.opts.mode === 'partner';
  }

  /** The ids that name the merchant in a request body: mchid/appid, or sp_/sub_ in partner mode. */
  private merchantFields(): Record<string, string> {
    if (!this.partner) return { appid: this.opts.appId, mchid: this.opts.mchId };
    const f: Record<string, string> = {
      sp_appid: this.opts.spAppId!,
      sp_mchid: this.opts.spMchId!,
      sub_mchid: this.opts.mchId,
    };
    if (this.opts.subAppId) f.sub_appid = this.opts.subAppId;
    return f;
  }

  /**
   * The ids that name the merchant in a v2 XML body: `appid`/`mch_id`, or in partner mode the service provider's
   * (whose v2 key signs) with `sub_mch_id` and, when configured, `sub_appid`.
   */
  private v2MerchantFields(): Record<string, string> {
    if (!this.partner) return { appid: this.opts.appId, mch_id: this.opts.mchId };
    const f: Record<string, string> = {
      appid: this.opts.spAppId!,
      mch_id: this.opts.spMchId!,
      sub_mch_id: this.opts.mchId,
    };
    if (this.opts.subAppId) f.sub_appid = this.opts.subAppId;
    return f;
  }

  /** `v3/pay/transactions/…` or `v3/pay/partner/transactions/…`. */
  private payPath(rest: string): string {
    return `v3/pay/${this.partner ? 'partner/' : ''}transactions/${rest}`;
  }

  async createPayment(input: CreatePaymentInput): Promise<CreatePaymentOutput> {
    const body: Record<string, unknown> = {
      ...this.merchantFields(),
      description: input.description.slice(0, 127),
      out_trade_no: input.orderNo,
      time_expire: rfc3339Beijing(input.expiresAt),
      notify_url: input.notifyUrl,
      amount: { total: input.amountFen, currency: 'CNY' },
    };
    let path: string;
    switch (input.tradeType) {
      case 'NATIVE':
        path = this.payPath('native');
        break;
      case 'JSAPI':
        if (!input.payerOpenId)
          return { result: 'FAIL', errorCode: 'PARAM_ERROR', errorMessage: 'JSAPI needs the payer openid' };
        // Partner mode: the openid is under the sub_appid when one is set, else under the sp_appid.
        body.payer = this.partner
          ? { [this.opts.subAppId ? 'sub_openid' : 'sp_openid']: input.payerOpenId }
          : { openid: input.payerOpenId };
        path = this.payPath('jsapi');
        break;
      case 'H5':
        body.scene_info = { payer_client_ip: input.clientIp ?? '127.0.0.1', h5_info: { type: 'Wap' } };
        path = this.payPath('h5');
        break;
      case 'MICROPAY':
        return this.micropay(input);
      default:
        return {
          result: 'FAIL',
          errorCode: 'UNSUPPORTED',
          errorMessage: `trade type ${input.tradeType} is not a v3 order`,
        };
    }
    const res = await this.call<{ code_url?: string; h5_url?: string; prepay_id?: string }>(
      'create',
      input.orderNo,
      'POST',
      path,
      body,
    );
    if (!res.ok) return { result: res.result, errorCode: res.errorCode, errorMessage: res.errorMessage };
    if (input.tradeType === 'NATIVE') return { result: 'SUCCESS', prepay: { codeUrl: res.data.code_url } };
    if (input.tradeType === 'H5') return { result: 'SUCCESS', prepay: { h5Url: res.data.h5_url } };
    return { result: 'SUCCESS', prepay: { jsapi: this.jsapiParams(res.data.prepay_id ?? '') } };
  }

  /** Parameters for `wx.requestPayment` / `WeixinJSBridge.invoke('getBrandWCPayRequest')` (v3, RSA). */
  jsapiParams(prepayId: string): Record<string, string> {
    const timeStamp = String(Formatter.timestamp());
    const nonceStr = randomBytes(16).toString('hex');
    const pkg = `prepay_id=${prepayId}`;
    const paySign = Rsa.sign(
      Formatter.joinedByLineFeed(this.opts.appId, timeStamp, nonceStr, pkg),
      this.privateKey,
    );
    return { appId: this.opts.appId, timeStamp, nonceStr, package: pkg, signType: 'RSA', paySign };
  }

  async queryPayment(orderNo: string): Promise<QueryPaymentOutput> {
    const res = await this.call<V3Transaction>(
      'query',
      orderNo,
      'GET',
      this.payPath('out-trade-no/{out_trade_no}'),
      undefined,
      {
        out_trade_no: orderNo,
        params: this.partner
          ? { sp_mchid: this.opts.spMchId, sub_mchid: this.opts.mchId }
          : { mchid: this.opts.mchId },
      },
    );
    if (!res.ok) return queryFailure(res, { payment: { orderNo, state: 'NOT_FOUND' } });
    return { result: 'SUCCESS', payment: toPayment(res.data) };
  }

  async closePayment(orderNo: string): Promise<CloseOutput> {
    const res = await this.call<unknown>(
      'close',
      orderNo,
      'POST',
      this.payPath('out-trade-no/{out_trade_no}/close'),
      this.partner ? { sp_mchid: this.opts.spMchId, sub_mchid: this.opts.mchId } : { mchid: this.opts.mchId },
      { out_trade_no: orderNo },
    );
    if (res.ok) return { result: 'SUCCESS' };
    if (res.errorCode === 'ORDER_CLOSED') return { result: 'SUCCESS', errorCode: res.errorCode };
    return { result: res.result, errorCode: res.errorCode, errorMessage: res.errorMessage };
  }

  /**
   * A v2 XML call. The SDK signs the request and verifies the reply — but only a reply whose return_code and
   * result_code are SUCCESS; a business failure (USERPAYING, SYSTEMERROR, NOTENOUGH…) is rejected before
   * its signature is checked, so a failure is never trusted on its own: callers confirm it by a query.
   */
  private async callV2(
    operation: string,
    orderNo: string,
    path: string,
    data: Record<string, string | number>,
    /** A `secapi` call: presents the merchant API certificate (mutual TLS) over https. */
    secure = false,
  ) {
    const started = Date.now();
    const url = `${this.opts.baseUrl.replace(/\/$/, '')}/${path.replace(/^v2\//, '')}`;
    const body = { ...this.v2MerchantFields(), ...data };
    try {
      const res = (await this.client.request(path, 'POST', body, secure ? { security: true } : {})) as {
        status: number;
        data: Record<string, string>;
      };
      this.record({
        party: this.name,
        operation,
        orderNo,
        method: 'POST',
        url,
        httpStatus: res.status,
        latencyMs: Date.now() - started,
        result: 'SUCCESS',
        request: body,
        response: res.data,
      });
      return { ok: true as const, data: res.data };
    } catch (err) {
      const e = err as {
        code?: string;
        message?: string;
        response?: { status?: number; data?: Record<string, string> };
      };
      const reply = e.code === 'EV2_RES_STATUS_CODE_NOT_SUCESS' ? e.response?.data : undefined;
      const errorCode =
        reply?.err_code ?? (reply?.return_code === 'FAIL' ? 'RETURN_FAIL' : (e.code ?? 'NETWORK_ERROR'));
      const errorMessage = (reply?.err_code_des ?? reply?.return_msg ?? e.message ?? '').slice(0, 300);
      this.record({
        party: this.name,
        operation,
        orderNo,
        method: 'POST',
        url,
        httpStatus: e.response?.status,
        latencyMs: Date.now() - started,
        result: reply ? 'FAIL' : 'UNKNOWN',
        errorCode,
        errorMessage,
        request: body,
        response: reply,
      });
      return { ok: false as const, reply, errorCode, errorMessage };
    }
  }

  private async micropay(input: CreatePaymentInput): Promise<CreatePaymentOutput> {
    if (!this.v2Secure)
      return {
        result: 'FAIL',
        errorCode: 'UNSUPPORTED',
        errorMessage:
          'this merchant account has no API v2 key (or no merchant API certificate) for payment codes',
      };
    if (!input.authCode)
      return { result: 'FAIL', errorCode: 'PARAM_ERROR', errorMessage: 'a payment code is required' };
    const res = await this.callV2('create', input.orderNo, 'v2/pay/micropay', {
      body: input.description.slice(0, 127),
      out_trade_no: input.orderNo,
      total_fee: input.amountFen,
      spbill_create_ip: input.clientIp ?? '127.0.0.1',
      auth_code: input.authCode,
    });
    if (res.ok) {
      const d = res.data;
      return {
        result: 'SUCCESS',
        payment: {
          orderNo: input.orderNo,
          state: 'PAID',
          rawState: 'SUCCESS',
          channelTradeNo: d.transaction_id,
          amountFen: Number(d.total_fee),
          paidAt: d.time_end ? parseTimeEnd(d.time_end) : undefined,
          // Partner-mode replies name the hospital as sub_mch_id; the app is the provider's unless sub_appid is set.
          mchId: d.sub_mch_id ?? d.mch_id,
          appId: d.sub_appid ?? d.appid,
        },
      };
    }
    switch (res.errorCode) {
      case 'USERPAYING':
        return { result: 'PENDING', errorCode: res.errorCode, errorMessage: res.errorMessage };
      case 'SYSTEMERROR':
      case 'BANKERROR':
        return { result: 'UNKNOWN', errorCode: res.errorCode, errorMessage: res.errorMessage };
      default:
        // AUTH_CODE_INVALID, NOTENOUGH, … or no answer at all: unverified, so the caller confirms by query.
        return {
          result: res.reply ? 'FAIL' : 'UNKNOWN',
          errorCode: res.errorCode,
          errorMessage: res.errorMessage,
        };
    }
  }

  async reversePayment(
    orderNo: string,
  ): Promise<{ result: ChannelResult; recall?: boolean; errorCode?: string; errorMessage?: string }> {
    if (!this.v2Secure)
      return {
        result: 'FAIL',
        errorCode: 'UNSUPPORTED',
        errorMessage: 'no API v2 key or no merchant API certificate',
      };
    const res = await this.callV2(
      'reverse',
      orderNo,
      'v2/secapi/pay/reverse',
      { out_trade_no: orderNo },
      true,
    );
    if (res.ok) return { result: 'SUCCESS', recall: res.data.recall === 'Y' };
    if (res.reply?.recall === 'Y')
      return { result: 'PENDING', recall: true, errorCode: res.errorCode, errorMessage: res.errorMessage };
    if (res.errorCode === 'ORDERNOTEXIST')
      return { result: 'SUCCESS', recall: false, errorCode: res.errorCode }; // nothing to cancel
    return {
      result: res.reply ? 'FAIL' : 'UNKNOWN',
      errorCode: res.errorCode,
      errorMessage: res.errorMessage,
    };
  }

  async refund(input: RefundInput): Promise<RefundOutput> {
    const res = await this.call<V3Refund>('refund', input.orderNo, 'POST', 'v3/refund/domestic/refunds', {
      ...(this.partner ? { sub_mchid: this.opts.mchId } : {}),
      out_trade_no: input.orderNo,
      out_refund_no: input.refundNo,
      reason: input.reason.slice(0, 80),
      notify_url: input.notifyUrl,
      amount: { refund: input.amountFen, total: input.totalFen, currency: 'CNY' },
    });
    if (!res.ok) return { result: res.result, errorCode: res.errorCode, errorMessage: res.errorMessage };
    return { result: 'SUCCESS', refund: toRefund(res.data) };
  }

  async queryRefund(refundNo: string): Promise<RefundOutput> {
    const res = await this.call<V3Refund>(
      'refund_query',
      refundNo,
      'GET',
      'v3/refund/domestic/refunds/{out_refund_no}',
      undefined,
      {
        out_refund_no: refundNo,
        ...(this.partner ? { params: { sub_mchid: this.opts.mchId } } : {}),
      },
    );
    if (!res.ok) return queryFailure(res, { refund: { refundNo, state: 'NOT_FOUND' } });
    return { result: 'SUCCESS', refund: toRefund(res.data) };
  }

  parseNotification(
    headers: Record<string, string | undefined>,
    rawBody: string,
    now: Date,
  ): ParsedNotification {
    const { envelope, resource: opened } = openV3Notification(headers, rawBody, now, {
      platformKeyId: this.opts.platformKeyId,
      platformPublicKey: this.platformPublicKey,
      apiV3Key: this.opts.apiV3Key,
    });
    const resource = opened as unknown as V3Transaction;
    const parsed: ParsedNotification = { notifyId: envelope.id, eventType: envelope.event_type };
    if (envelope.event_type.startsWith('TRANSACTION.')) {
      if (typeof resource.out_trade_no !== 'string' || typeof resource.trade_state !== 'string') {
        throw new NotificationRejected('format', 'transaction resource lacks out_trade_no or trade_state');
      }
      parsed.payment = toPayment(resource);
    } else if (envelope.event_type.startsWith('REFUND.')) {
      const r = resource as unknown as V3Refund;
      if (typeof r.out_refund_no !== 'string')
        throw new NotificationRejected('format', 'refund resource lacks out_refund_no');
      parsed.refund = toRefund(r);
    }
    return parsed;
  }

  /**
   * The day's trade bill (ALL): `GET /v3/bill/tradebill` (signed, reply verified by the SDK) announces a
   * download URL and the file's SHA1; the file itself comes unsigned from `/v3/billdownload/file` (the
   * request is signed), so its bytes are checked against that hash before they are parsed. The signed
   * request only ever goes to our configured API host: a download URL elsewhere is refused.
   * In partner mode the provider's bill lists every sub-merchant (特约商户号): it is checked whole and only
   * this hospital's lines are kept. [P] WeChat also takes `sub_mchid=` here for a sub-merchant's own bill;
   * filtering the provider's file works without that permission.
   */
  async downloadStatement(billDate: string): Promise<StatementOutput> {
    const got = await this.fetchBill('statement', 'v3/bill/tradebill', billDate, { bill_type: 'ALL' });
    if (!got.ok) return got.output;
    try {
      verifyBillHash(got.file, got.hashType, got.hashValue);
      return this.tradeBillOutput(got.file, billDate);
    } catch (e) {
      return statementFailure(e, { record: this.record, party: this.name, url: 'v3/billdownload/file' });
    }
  }

  parseStatementFile(file: Buffer, billDate: string): StatementOutput {
    try {
      return this.tradeBillOutput(file, billDate);
    } catch (e) {
      return statementFailure(e);
    }
  }

  private tradeBillOutput(file: Buffer, billDate: string): StatementOutput {
    const mchId = this.partner ? this.opts.spMchId! : this.opts.mchId;
    const parsed = parseTradeBill(file, { mchId, subMchId: this.partner ? this.opts.mchId : undefined });
    return {
      result: 'SUCCESS',
      ...parsed,
      rawFile: file,
      fileName: `wechatpay_${mchId}_${billDate}_ALL.csv`,
    };
  }

  /**
   * The day's fund-flow bill of the basic account (资金账单, `GET /v3/bill/fundflowbill?account_type=BASIC`):
   * fetched and hash-checked exactly like the trade bill, then checked against its own summary. Direct
   * merchants only: in partner mode the hospital's money sits in the sub-merchant's account, whose bill the
   * provider gets encrypted from another API ([C] `/v3/bill/sub-merchant-fundflowbill`) — not declared here.
   */
  async downloadFundFlow(billDate: string): Promise<FundFlowOutput> {
    if (this.partner)
      return {
        result: 'FAIL',
        errorCode: 'UNSUPPORTED',
        errorMessage: 'the fund-flow bill of a sub-merchant is not available in partner mode',
      };
    const got = await this.fetchBill('fundflow_statement', 'v3/bill/fundflowbill', billDate, {
      account_type: 'BASIC',
    });
    if (!got.ok) return got.output;
    try {
      verifyBillHash(got.file, got.hashType, got.hashValue);
      return this.fundFlowOutput(got.file, billDate);
    } catch (e) {
      return statementFailure(e, { record: this.record, party: this.name, url: 'v3/billdownload/file' });
    }
  }

  parseFundFlowFile(file: Buffer, billDate: string): FundFlowOutput {
    try {
      return this.fundFlowOutput(file, billDate);
    } catch (e) {
      return statementFailure(e);
    }
  }

  private fundFlowOutput(file: Buffer, billDate: string): FundFlowOutput {
    const parsed = parseFundFlowBill(file);
    return {
      result: 'SUCCESS',
      ...parsed,
      rawFile: file,
      fileName: `wechatpay_${this.opts.mchId}_${billDate}_FUNDFLOW_BASIC.csv`,
    };
  }

  /**
   * Asks for a bill (signed GET, reply verified by the SDK) and fetches the file it announces from our own
   * API host. The file is returned with the announced hash, unchecked: the caller checks it before parsing.
   */
  private async fetchBill(
    operation: string,
    path: string,
    billDate: string,
    params: Record<string, string>,
  ): Promise<
    | { ok: true; file: Buffer; hashType?: string; hashValue?: string }
    | { ok: false; output: { result: ChannelResult; errorCode?: string; errorMessage?: string } }
  > {
    if (!isBillDate(billDate))
      return {
        ok: false,
        output: {
          result: 'FAIL',
          errorCode: 'PARAM_ERROR',
          errorMessage: `bill date ${billDate} is not YYYY-MM-DD`,
        },
      };
    const res = await this.call<{ hash_type?: string; hash_value?: string; download_url?: string }>(
      operation,
      undefined,
      'GET',
      path,
      undefined,
      { params: { bill_date: billDate, ...params } },
    );
    if (!res.ok) {
      // [C] no trade that day: 400 NO_STATEMENT_EXIST; the file is still being generated: 400 STATEMENT_CREATING.
      if (res.errorCode === 'NO_STATEMENT_EXIST')
        return {
          ok: false,
          output: { result: 'FAIL', errorCode: 'NO_STATEMENT', errorMessage: res.errorMessage },
        };
      if (res.errorCode === 'STATEMENT_CREATING')
        return {
          ok: false,
          output: { result: 'PENDING', errorCode: res.errorCode, errorMessage: res.errorMessage },
        };
      return {
        ok: false,
        output: { result: res.result, errorCode: res.errorCode, errorMessage: res.errorMessage },
      };
    }
    const base = this.opts.baseUrl.endsWith('/') ? this.opts.baseUrl : `${this.opts.baseUrl}/`;
    let target: URL;
    try {
      target = new URL(res.data.download_url ?? '');
    } catch {
      return {
        ok: false,
        output: {
          result: 'FAIL',
          errorCode: 'STATEMENT_FORMAT',
          errorMessage: `${path} reply has no download_url`,
        },
      };
    }
    const basePath = new URL(base);
    if (target.origin !== basePath.origin || !target.pathname.startsWith(basePath.pathname))
      return {
        ok: false,
        output: {
          result: 'FAIL',
          errorCode: 'STATEMENT_URL_UNTRUSTED',
          errorMessage: `download_url is not on ${basePath.origin}`,
        },
      };
    const file = await this.download(
      target.pathname.slice(basePath.pathname.length),
      Object.fromEntries(target.searchParams),
      billDate,
    );
    if (!file.ok)
      return {
        ok: false,
        output: { result: file.result, errorCode: file.errorCode, errorMessage: file.errorMessage },
      };
    return { ok: true, file: file.data, hashType: res.data.hash_type, hashValue: res.data.hash_value };
  }

  /** Fetches a bill file: a signed GET whose reply is raw bytes (not signed, so not verified by the SDK). */
  private async download(
    path: string,
    params: Record<string, string>,
    billDate: string,
  ): Promise<{ ok: true; data: Buffer } | ({ ok: false } & CallError)> {
    const started = Date.now();
    try {
      const res = (await this.client.request(path, 'GET', undefined, {
        params,
        responseType: 'arraybuffer',
        maxContentLength: MAX_BILL_BYTES,
      })) as { status: number; data: ArrayBuffer | Buffer };
      const data = Buffer.isBuffer(res.data) ? res.data : Buffer.from(res.data);
      this.record({
        party: this.name,
        operation: 'statement_download',
        method: 'GET',
        url: path, // the token stays out of the log
        httpStatus: res.status,
        latencyMs: Date.now() - started,
        result: 'SUCCESS',
        request: { billDate },
        response: { bytes: data.length },
      });
      return { ok: true, data };
    } catch (err) {
      const c = classify(err);
      this.record({
        party: this.name,
        operation: 'statement_download',
        method: 'GET',
        url: path,
        httpStatus: c.httpStatus,
        latencyMs: Date.now() - started,
        // A failed download is asked again: the link is short-lived, a new tradebill call makes another.
        result: 'UNKNOWN',
        errorCode: c.errorCode,
        errorMessage: c.errorMessage,
        request: { billDate },
      });
      return { ok: false, ...c, result: 'UNKNOWN' };
    }
  }

  /** Whether this account can pull order comments (a v2 API: the v2 key, and over https the client certificate). */
  get canPullComments(): boolean {
    return this.v2Secure;
  }

  /**
   * One page of patients' comments on payments (订单评价), v2 `POST /billcommentsp/batchquerycomment`: XML
   * signed with HMAC-SHA256 under the v2 key (this API takes no MD5). Success is not XML but plain text — the
   * next offset on the first line, then one `` `time,`transaction_id,`stars,`content `` line per comment — so
   * the call bypasses the SDK's XML reply handling (its request signing is kept). That text carries no
   * signature; a failure is XML with return_code/return_msg.
   * Over https it presents the merchant API certificate (mutual TLS), like reverse; the sandbox is plain HTTP.
   * [U] comment_time is printed `yyyy-MM-dd HH:mm:ss` (Beijing); `yyyyMMddHHmmss` is accepted too.
   * [U] partner mode passes sub_mch_id (and sub_appid when set); the window is Beijing time, end exclusive.
   */
  async pullComments(window: CommentWindow): Promise<CommentPage> {
    if (!this.v2Secure)
      return {
        result: 'FAIL',
        errorCode: 'UNSUPPORTED',
        errorMessage: 'this merchant account has no API v2 key (or no merchant API certificate)',
      };
    const limit = Math.min(COMMENTS_MAX_LIMIT, Math.max(1, Math.floor(window.limit ?? COMMENTS_MAX_LIMIT)));
    const offset = Math.max(0, Math.floor(window.offset ?? 0));
    const body: Record<string, string> = {
      ...this.v2MerchantFields(),
      sign_type: 'HMAC-SHA256',
      begin_time: beijingCompact(window.from),
      end_time: beijingCompact(window.to),
      offset: String(offset),
      limit: String(limit),
    };
    const url = `${this.opts.baseUrl.replace(/\/$/, '')}/${COMMENTS_PATH}`;
    const started = Date.now();
    const record = (r: Partial<OutboundCall> & Pick<OutboundCall, 'result'>) =>
      this.record({
        party: this.name,
        operation: 'comments',
        method: 'POST',
        url,
        latencyMs: Date.now() - started,
        request: body,
        ...r,
      });
    let status: number;
    let text: string;
    try {
      const res = await this.client.v2.request({
        url: COMMENTS_PATH,
        method: 'POST',
        data: body,
        responseType: 'text',
        transformResponse: [(d: unknown) => d], // plain text on success: keep it raw
        security: true, // mutual TLS over https
      } as Parameters<typeof this.client.v2.request>[0]);
      status = res.status;
      text = Buffer.isBuffer(res.data) ? res.data.toString('utf8') : String(res.data ?? '');
    } catch (err) {
      const c = classify(err);
      record({
        httpStatus: c.httpStatus,
        result: 'UNKNOWN',
        errorCode: c.errorCode,
        errorMessage: c.errorMessage,
      });
      return { result: 'UNKNOWN', errorCode: c.errorCode, errorMessage: c.errorMessage };
    }
    if (/^\s*</.test(text)) {
      const x = flatXml(text);
      const errorCode = x.err_code || (x.return_code === 'SUCCESS' ? 'UNEXPECTED_REPLY' : 'RETURN_FAIL');
      const errorMessage = (x.err_code_des || x.return_msg || '').slice(0, 300);
      // [U] SYSTEMERROR / FREQUENCY_LIMITED say nothing final: ask again later.
      const result: ChannelResult = /SYSTEMERROR|FREQUENCY_LIMITED/.test(errorCode) ? 'UNKNOWN' : 'FAIL';
      record({ httpStatus: status, result, errorCode, errorMessage, response: x });
      return { result, errorCode, errorMessage };
    }
    let page: { nextOffset: number; comments: ChannelComment[] };
    try {
      page = parseCommentsText(text);
    } catch (e) {
      const errorMessage = (e as Error).message;
      record({ httpStatus: status, result: 'FAIL', errorCode: 'FORMAT_ERROR', errorMessage });
      return { result: 'FAIL', errorCode: 'FORMAT_ERROR', errorMessage };
    }
    // Counts only: comment texts are the patients' words and stay out of the interface log.
    record({
      httpStatus: status,
      result: 'SUCCESS',
      response: { nextOffset: page.nextOffset, comments: page.comments.length },
    });
    return { result: 'SUCCESS', ...page };
  }

  notificationReply(ok: boolean, message = 'FAIL'): NotificationReply {
    return v3NotificationReply(ok, message);
  }
}
