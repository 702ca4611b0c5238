import { createHash, createPrivateKey, createPublicKey, randomBytes, type KeyObject } from 'node:crypto';
import { Decorator, Formatter, Rsa } from 'wechatpay-axios-plugin';
import { z } from 'zod';
import type {
  InsuranceChannel,
  InsuranceRefundInput,
  InsuranceRefundOutput,
  InsuranceSettlement,
  InsuranceSplit,
  ParsedInsuranceNotification,
  SettleInput,
  SettleOutput,
} from '../insurance-types';
import { checkSplit } from '../insurance-types';
import type { ChannelResult, NotificationReply, OutboundRecorder } from '../types';
import { NotificationRejected } from '../types';
import {
  classify,
  openV3Notification,
  rfc3339Beijing,
  v3NotificationReply,
  WechatPayOptionsSchema,
  type CallError,
} from '../wechatpay/adapter';

/*
 * WeChat medical-insurance payment (微信医保支付, mobile medical insurance 2.0): the v3 `med-ins` mixed order
 * that takes the insurance part (settled by the national platform through WeChat) and the cash part (a JSAPI
 * payment made beforehand with the WeChat Pay channel, referenced by its prepay_id) in one payment sheet.
 * protocols.md §3a. Sources: TheNorthMemory/wechatpay-openapi `docs/v3/med-ins/**.yaml` (the 从业机构 /
 * partner variant) [C]; WeChat's own per-language samples of the direct-merchant variant (openid instead of
 * sub_openid, pay_auth_no in the body, no query parameter on the query) [P].
 *
 * Flow: 6201 upload (national platform) → JSAPI prepay of the cash part (WeChat Pay channel) → settle() here →
 * the client calls `wx.requestMedicalInsurancePay` with {@link SettleOutput.client} → MEDICAL_INSURANCE.SUCCESS
 * (sent only when the whole order reaches MIX_PAY_SUCCESS, and retried only for ~30 s [P]) or a query. The cash
 * part also produces the WeChat Pay channel's own TRANSACTION.SUCCESS for the JSAPI order.
 *
 * Refunds: each part is refunded where it was paid (cash: `/v3/refund/domestic/refunds` through the WeChat Pay
 * channel; insurance: at the national platform, 6203), then {@link WechatMedInsChannel.refund} tells WeChat
 * about the insurance part with the refund notice. [P] WeChat's sample says: refund the cash first, then send
 * the notice with the same out_refund_no.
 */

/** Order types (order_type) [C]. */
export const MED_INS_ORDER_TYPES = [
  'REG_PAY',
  'DIAG_PAY',
  'COVID_EXAM_PAY',
  'IN_HOSP_PAY',
  'PHARMACY_PAY',
  'INSURANCE_PAY',
  'INT_REG_PAY',
  'INT_RE_DIAG_PAY',
  'INT_RX_PAY',
  'COVID_ANTIGEN_PAY',
  'MED_PAY',
] as const;

/** Payer card types (payer.card_type) [C]. */
export const MED_INS_CARD_TYPES = [
  'ID_CARD',
  'HOUSEHOLD_REGISTRATION',
  'FOREIGNER_PASSPORT',
  'MAINLAND_TRAVEL_PERMIT_FOR_TW',
  'MAINLAND_TRAVEL_PERMIT_FOR_MO',
  'MAINLAND_TRAVEL_PERMIT_FOR_HK',
  'FOREIGN_PERMANENT_RESIDENT',
] as const;

/** Settings of one hospital's WeChat medical-insurance payment, validated at boot. */
export const WechatMedInsOptionsSchema = WechatPayOptionsSchema.pick({
  // The merchant (direct) or sub-merchant (partner), its keys and the WeChat Pay public key: exactly the
  // WeChat Pay account's; the mixed order's client parameters are signed with the same private key, and the
  // payer's name and id digest are encrypted with the same public key.
  mchId: true,
  appId: true,
  mode: true,
  spMchId: true,
  spAppId: true,
  serialNo: true,
  privateKeyPem: true,
  apiV3Key: true,
  platformKeyId: true,
  platformPublicKeyPem: true,
  baseUrl: true,
}).extend({
  /** city_id: the insured city's code (e.g. `440100`); a settle call may override it. */
  cityId: z.string().min(1).optional(),
  /** med_inst_name: the hospital's name as registered with the insurance. */
  medInstName: z.string().min(1),
  /** med_inst_no: the hospital's institution code (定点医药机构编码). */
  medInstNo: z.string().min(1),
  /** callback_url used when a settle call brings no notifyUrl. */
  callbackUrl: z.url().optional(),
  /** order_type when a settle call brings none. */
  defaultOrderType: z.enum(MED_INS_ORDER_TYPES).default('DIAG_PAY'),
  /**
   * [U] Our certificate types (the national platform's psn_cert_type, `01` resident ID card…) to WeChat's
   * card_type. Only `01` → ID_CARD is certain; extend per province.
   */
  cardTypes: z.record(z.string(), z.enum(MED_INS_CARD_TYPES)).default({ '01': 'ID_CARD' }),
  /**
   * [U] Spelling of the refund notice's part fields: `single` (med_refund_gov_fee…, WeChat's own samples and
   * SDKs) or `double` (med_refund__gov_fee…, as the openapi yaml prints them).
   */
  refundFieldNames: z.enum(['single', 'double']).default('single'),
  /** med_ins_test_env: order against the insurance bureau's test environment (joint testing only). */
  medInsTestEnv: z.boolean().optional(),
  timeoutMs: z.number().int().positive(),
});
export type WechatMedInsOptions = z.input<typeof WechatMedInsOptionsSchema>;

/** The mixed order as the create reply, the query and MEDICAL_INSURANCE.SUCCESS describe it. */
interface MixOrder {
  mix_trade_no?: string;
  mix_pay_status?: string;
  self_pay_status?: string;
  med_ins_pay_status?: string;
  paid_time?: string;
  passthrough_response_content?: string;
  mix_pay_type?: string;
  appid?: string;
  sub_appid?: string;
  sub_mchid?: string;
  out_trade_no?: string;
  pay_order_id?: string;
  med_inst_no?: string;
  total_fee?: number;
  med_ins_gov_fee?: number;
  med_ins_self_fee?: number;
  med_ins_other_fee?: number;
  med_ins_cash_fee?: number;
  wechat_pay_cash_fee?: number;
  cash_add_detail?: { cash_add_fee?: number }[];
  cash_reduce_detail?: { cash_reduce_fee?: number }[];
  med_ins_fail_reason?: string;
}

/** The fee fields of a mixed order (fen), with the optional add/reduce details. */
export interface MedInsFees {
  total_fee: number;
  med_ins_gov_fee: number;
  med_ins_self_fee: number;
  med_ins_other_fee: number;
  med_ins_cash_fee: number;
  wechat_pay_cash_fee: number;
  cash_add_detail?: { cash_add_fee: number }[];
  cash_reduce_detail?: { cash_reduce_fee: number }[];
}

/**
 * The amount identities of protocols.md §3a, every amount a non-negative integer:
 * `total = gov + self + other + wechat_pay_cash + Σreduce = gov + self + other + med_ins_cash + Σadd`.
 */
export function checkMedInsFees(f: MedInsFees): boolean {
  const adds = (f.cash_add_detail ?? []).map((d) => d.cash_add_fee);
  const reduces = (f.cash_reduce_detail ?? []).map((d) => d.cash_reduce_fee);
  const all = [
    f.total_fee,
    f.med_ins_gov_fee,
    f.med_ins_self_fee,
    f.med_ins_other_fee,
    f.med_ins_cash_fee,
    f.wechat_pay_cash_fee,
    ...adds,
    ...reduces,
  ];
  if (!all.every((n) => Number.isSafeInteger(n) && n >= 0)) return false;
  const sum = (xs: number[]) => xs.reduce((a, b) => a + b, 0);
  const insurance = f.med_ins_gov_fee + f.med_ins_self_fee + f.med_ins_other_fee;
  return (
    f.total_fee === insurance + f.wechat_pay_cash_fee + sum(reduces) &&
    f.total_fee === insurance + f.med_ins_cash_fee + sum(adds)
  );
}

/** `id_digest`: lowercase hex MD5 of the upper-cased ID number (protocols.md §3a) — before RSA encryption. */
export function idDigest(idNo: string): string {
  return createHash('md5').update(idNo.trim().toUpperCase(), 'utf8').digest('hex');
}

/**
 * The paySign message of `wx.requestMedicalInsurancePay` / `requestMedicalInsurancePay`: the JSAPI rule,
 * `appId\ntimeStamp\nnonceStr\npackage\n` (every line ends in `\n`), signed SHA256withRSA with the merchant
 * key. [P] one secondary source states it for the med-ins call; WeChat's JSAPI rule is [C].
 */
export function medInsPaySignMessage(p: {
  appId: string;
  timeStamp: string;
  nonceStr: string;
  package: string;
}) {
  return Formatter.joinedByLineFeed(p.appId, p.timeStamp, p.nonceStr, p.package);
}

/** The mini-program scene a patient comes back with from the legacy insurance pay mini-program (3b). */
export const LEGACY_RETURN_SCENE = 1038;

/**
 * Client data for the legacy insurance payment (protocols.md §3b): the unified order's `pay_appid` and
 * `pay_url` become `wx.navigateToMiniProgram({appId: payAppId, path: payUrl})` (mini-program) or a redirect to
 * `payUrl` (H5). The patient returns with scene {@link LEGACY_RETURN_SCENE} (or on return_url in H5): then
 * query our order, and the channel when it is not final. The legacy XML API itself is not implemented.
 */
export function legacyJumpClient(reply: { pay_url?: string; pay_appid?: string }): Record<string, string> {
  if (!reply.pay_url) throw new Error('legacy insurance order reply has no pay_url');
  return { payUrl: reply.pay_url, ...(reply.pay_appid ? { payAppId: reply.pay_appid } : {}) };
}

type PartState = 'PENDING' | 'DONE' | 'REFUNDED' | 'FAILED' | 'NONE';

/** The mixed order's three statuses (mix_pay_status, self_pay_status, med_ins_pay_status) in one switch. */
function partState(status: string | undefined): PartState {
  switch (status) {
    case 'MIX_PAY_CREATED':
    case 'SELF_PAY_CREATED':
    case 'MED_INS_PAY_CREATED':
      return 'PENDING';
    case 'MIX_PAY_SUCCESS':
    case 'SELF_PAY_SUCCESS':
    case 'MED_INS_PAY_SUCCESS':
      return 'DONE';
    case 'MIX_PAY_REFUND':
    case 'SELF_PAY_REFUND':
    case 'MED_INS_PAY_REFUND':
      return 'REFUNDED';
    case 'MIX_PAY_FAIL':
    case 'SELF_PAY_FAIL':
    case 'MED_INS_PAY_FAIL':
      return 'FAILED';
    case 'NO_SELF_PAY':
    case 'NO_MED_INS_PAY':
      return 'NONE';
    default:
      return 'PENDING'; // UNKNOWN_* or a new status: keep asking rather than guess
  }
}

const SETTLE_STATE = {
  PENDING: 'PENDING',
  DONE: 'SETTLED',
  REFUNDED: 'REFUNDED',
  FAILED: 'FAILED',
  NONE: 'PENDING',
} as const satisfies Record<PartState, InsuranceSettlement['state']>;
const CASH_STATE = {
  PENDING: 'PENDING',
  DONE: 'PAID',
  REFUNDED: 'REFUNDED',
  FAILED: 'FAILED',
  NONE: 'NONE',
} as const satisfies Record<PartState, NonNullable<InsuranceSettlement['cashState']>>;
const INSURANCE_STATE = {
  PENDING: 'PENDING',
  DONE: 'SETTLED',
  REFUNDED: 'REFUNDED',
  FAILED: 'FAILED',
  NONE: 'NONE',
} as const satisfies Record<PartState, NonNullable<InsuranceSettlement['insuranceState']>>;

const num = (v: unknown) => (typeof v === 'number' && Number.isSafeInteger(v) ? v : 0);

/**
 * Our split from the fee fields. With add/reduce details the cash is what the identity leaves
 * (`total − gov − self − other` = med_ins_cash + Σadd = wechat_pay_cash + Σreduce), so the split adds up.
 */
function splitOf(o: MixOrder): InsuranceSplit | undefined {
  if (typeof o.total_fee !== 'number') return undefined;
  const fundFen = num(o.med_ins_gov_fee);
  const psnAcctFen = num(o.med_ins_self_fee);
  const otherFen = num(o.med_ins_other_fee);
  return {
    totalFen: o.total_fee,
    fundFen,
    psnAcctFen,
    otherFen,
    cashFen: o.total_fee - fundFen - psnAcctFen - otherFen,
  };
}

/**
 * [U] The settlement id (setl_id) the national platform returned, when WeChat passes it through in
 * passthrough_response_content (a JSON string whose documented keys are only payAuthNo, payOrdId, setlLatlnt).
 */
function settlementIdOf(o: MixOrder): string | undefined {
  if (!o.passthrough_response_content) return undefined;
  try {
    const p = JSON.parse(o.passthrough_response_content) as Record<string, unknown>;
    const id = p.setlId ?? p.setl_id;
    return typeof id === 'string' && id ? id : undefined;
  } catch {
    return undefined;
  }
}

function toSettlement(o: MixOrder, orderNo: string): InsuranceSettlement {
  return {
    orderNo: o.out_trade_no ?? orderNo,
    state: SETTLE_STATE[partState(o.mix_pay_status)],
    cashState: CASH_STATE[partState(o.self_pay_status)],
    insuranceState: INSURANCE_STATE[partState(o.med_ins_pay_status)],
    payOrdId: o.pay_order_id,
    settlementId: settlementIdOf(o),
    mixTradeNo: o.mix_trade_no,
    split: splitOf(o),
    settledAt: o.paid_time ? new Date(o.paid_time) : undefined,
    orgCode: o.med_inst_no,
    // Partner mode: the hospital's app is sub_appid.
    appId: o.sub_appid ?? o.appid,
    rawState: [o.mix_pay_status, o.self_pay_status, o.med_ins_pay_status].join('/'),
  };
}

/** `oAbc…wxyz`: enough to match a log line to a patient's account, not enough to be one. */
function maskId(v: unknown): unknown {
  if (typeof v !== 'string') return v;
  return v.length <= 8 ? '****' : `${v.slice(0, 4)}****${v.slice(-4)}`;
}

/**
 * What the interface log keeps of a med-ins body: the payer's encrypted fields and the passthrough contents
 * are left out, openids and the payment authorisation number are masked (the recorder masks the rest).
 */
function forLog(body: unknown): unknown {
  if (!body || typeof body !== 'object') return body;
  const out: Record<string, unknown> = { ...(body as Record<string, unknown>) };
  for (const k of ['openid', 'sub_openid']) if (k in out) out[k] = maskId(out[k]);
  // The payment authorisation is a credential: none of it is kept.
  if ('pay_auth_no' in out) out.pay_auth_no = '[redacted]';
  for (const k of ['payer', 'relative']) {
    const p = out[k] as Record<string, unknown> | undefined;
    if (p && typeof p === 'object')
      out[k] = { card_type: p.card_type, name: '[encrypted]', id_digest: '[encrypted]' };
  }
  for (const k of ['passthrough_request_content', 'passthrough_response_content'])
    if (k in out) out[k] = '[omitted]';
  return out;
}

/** WeChat medical-insurance payment (v3 `med-ins`) through wechatpay-axios-plugin. */
export class WechatMedInsChannel implements InsuranceChannel {
  readonly name = 'wechat-medins';
  private readonly client: Decorator;
  private readonly opts: z.infer<typeof WechatMedInsOptionsSchema>;
  /** Parsed once: parsing a PEM costs as much as the signature itself. */
  private readonly privateKey: KeyObject;
  private readonly platformPublicKey: KeyObject;

  constructor(
    options: WechatMedInsOptions,
    private readonly record: OutboundRecorder = () => undefined,
  ) {
    const parsed = WechatMedInsOptionsSchema.safeParse(options);
    if (!parsed.success) {
      const i = parsed.error.issues[0]!;
      throw new Error(`WeChat medical-insurance options: ${i.path.join('.') || '(root)'}: ${i.message}`);
    }
    this.opts = parsed.data;
    if (this.opts.mode === 'partner' && (!this.opts.spMchId || !this.opts.spAppId)) {
      throw new Error('WeChat medical-insurance partner mode needs spMchId and spAppId');
    }
    this.privateKey = createPrivateKey(this.opts.privateKeyPem);
    this.platformPublicKey = createPublicKey(this.opts.platformPublicKeyPem);
    this.client = new Decorator({
      mchid: this.partner ? this.opts.spMchId! : this.opts.mchId,
      serial: this.opts.serialNo,
      privateKey: this.opts.privateKeyPem,
      certs: { [this.opts.platformKeyId]: this.opts.platformPublicKeyPem },
      baseURL: this.opts.baseUrl.endsWith('/') ? this.opts.baseUrl : `${this.opts.baseUrl}/`,
      timeout: this.opts.timeoutMs,
    } as ConstructorParameters<typeof Decorator>[0]);
  }

  private get partner(): boolean {
    return this.opts.mode === 'partner';
  }

  /** One signed call, verified by the SDK, recorded with the payer's data kept out of the log. */
  private async call<T>(
    operation: string,
    orderNo: string,
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
        request: forLog(data),
        response: forLog(res.data),
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
        request: forLog(data),
      });
      return { ok: false, ...c };
    }
  }

  /** The RSA-OAEP ciphertext of a sensitive field, under the WeChat Pay public key (`Wechatpay-Serial`). */
  private encrypt(plain: string): string {
    return Rsa.encrypt(plain, this.platformPublicKey as unknown as string); // accepts a KeyObject; typed string
  }

  /**
   * Creates the mixed order (`POST /v3/med-ins/orders`). The split is checked against the identities first;
   * an inconsistent one is refused (FAIL, SPLIT_INCONSISTENT) without calling WeChat. SUCCESS means created:
   * the settlement is PENDING and `client` holds what the client hands to `wx.requestMedicalInsurancePay`.
   */
  async settle(input: SettleInput): Promise<SettleOutput> {
    const s = input.split;
    const fees: MedInsFees = {
      total_fee: s.totalFen,
      med_ins_gov_fee: s.fundFen,
      med_ins_self_fee: s.psnAcctFen,
      med_ins_other_fee: s.otherFen,
      // No add/reduce details in our orders: what the patient pays is exactly the insurance's cash part.
      med_ins_cash_fee: s.cashFen,
      wechat_pay_cash_fee: s.cashFen,
    };
    const fail = (errorCode: string, errorMessage: string): SettleOutput => ({
      result: 'FAIL',
      errorCode,
      errorMessage,
    });
    if (!checkSplit(s) || !checkMedInsFees(fees) || s.totalFen <= 0)
      return fail(
        'SPLIT_INCONSISTENT',
        `split does not add up: total ${s.totalFen} ≠ fund ${s.fundFen} + account ${s.psnAcctFen} + other ${s.otherFen} + cash ${s.cashFen}`,
      );
    const insuranceFen = s.fundFen + s.psnAcctFen + s.otherFen;
    const mixPayType =
      s.cashFen > 0 && insuranceFen > 0
        ? 'CASH_AND_INSURANCE'
        : s.cashFen > 0
          ? 'CASH_ONLY'
          : 'INSURANCE_ONLY';
    if (s.cashFen > 0 && !input.cashPrepayId)
      return fail('PARAM_ERROR', 'the cash part needs the prepay_id of its JSAPI payment');
    if (!input.openId) return fail('PARAM_ERROR', "the mixed order needs the payer's openid");
    const cityId = input.cityId ?? this.opts.cityId;
    if (!cityId) return fail('PARAM_ERROR', 'no city_id: set cityId in the options or pass it');
    const cardType = this.opts.cardTypes[input.person.idType];
    if (!cardType)
      return fail('PARAM_ERROR', `certificate type ${input.person.idType} has no WeChat card_type`);
    const orderType = input.orderType ?? this.opts.defaultOrderType;
    if (!(MED_INS_ORDER_TYPES as readonly string[]).includes(orderType))
      return fail('PARAM_ERROR', `order_type ${orderType} is not a med-ins order type`);
    const callbackUrl = input.notifyUrl || this.opts.callbackUrl;
    if (!callbackUrl) return fail('PARAM_ERROR', 'no callback_url');

    const ids: Record<string, string> = this.partner
      ? {
          appid: this.opts.spAppId!,
          sub_appid: this.opts.appId,
          sub_mchid: this.opts.mchId,
          sub_openid: input.openId,
        }
      : { appid: this.opts.appId, openid: input.openId };
    const body: Record<string, unknown> = {
      mix_pay_type: mixPayType,
      order_type: orderType,
      ...ids,
      payer: {
        name: this.encrypt(input.person.name),
        id_digest: this.encrypt(idDigest(input.person.idNo)),
        card_type: cardType,
      },
      out_trade_no: input.orderNo,
      // [U] 医疗机构订单号: our order number (no separate HIS serial in SettleInput; WeChat prints ≤ 20 chars).
      serial_no: input.orderNo,
      city_id: cityId,
      med_inst_name: this.opts.medInstName,
      med_inst_no: this.opts.medInstNo,
      ...fees,
      callback_url: callbackUrl,
    };
    if (mixPayType !== 'CASH_ONLY') {
      // [P] direct-merchant samples carry both; the partner yaml passes them in passthrough_request_content.
      body.pay_order_id = input.payOrdId;
      body.pay_auth_no = input.payAuthNo;
    }
    if (s.cashFen > 0) body.prepay_id = input.cashPrepayId;
    if (this.opts.medInsTestEnv !== undefined) body.med_ins_test_env = this.opts.medInsTestEnv;

    const res = await this.call<MixOrder>('medins_create', input.orderNo, 'POST', 'v3/med-ins/orders', body, {
      // [C] the payer's fields are encrypted with this key: WeChat needs to know which.
      headers: { 'Wechatpay-Serial': this.opts.platformKeyId },
    });
    if (!res.ok) return { result: res.result, errorCode: res.errorCode, errorMessage: res.errorMessage };
    const mixTradeNo = res.data.mix_trade_no;
    if (!mixTradeNo)
      return { result: 'UNKNOWN', errorCode: 'FORMAT_ERROR', errorMessage: 'reply has no mix_trade_no' };
    const settlement = toSettlement(res.data, input.orderNo);
    return {
      result: 'SUCCESS',
      settlement: { ...settlement, state: settlement.state === 'SETTLED' ? 'SETTLED' : 'PENDING' },
      client: this.clientParams(mixTradeNo, s.cashFen > 0 ? input.cashPrepayId : undefined),
    };
  }

  /**
   * Parameters for `wx.requestMedicalInsurancePay` (mini-program) and
   * `WeixinJSBridge.invoke('requestMedicalInsurancePay')` (official account, which reads `appid`): the mixed
   * order, and when there is a cash part the JSAPI fields of its prepay signed as for `wx.requestPayment`
   * ({@link medInsPaySignMessage}). [U] in partner mode the hospital's appid (sub_appid) is the one signed.
   */
  clientParams(mixTradeNo: string, cashPrepayId?: string): Record<string, string> {
    const base = { appId: this.opts.appId, appid: this.opts.appId, mixTradeNo };
    if (!cashPrepayId) return base;
    const timeStamp = String(Formatter.timestamp());
    const nonceStr = randomBytes(16).toString('hex');
    const pkg = `prepay_id=${cashPrepayId}`;
    const paySign = Rsa.sign(
      medInsPaySignMessage({ appId: this.opts.appId, timeStamp, nonceStr, package: pkg }),
      this.privateKey as unknown as string, // Rsa.sign accepts a KeyObject; its typings say string
    );
    return { ...base, timeStamp, nonceStr, package: pkg, signType: 'RSA', paySign };
  }

  /**
   * `GET /v3/med-ins/orders/out-trade-no/{out_trade_no}` (partner mode with `sub_mchid`). An unknown order is
   * SUCCESS with a NOT_FOUND settlement; anything else failing is FAIL or UNKNOWN.
   */
  async querySettlement(orderNo: string): Promise<{
    result: ChannelResult;
    settlement?: InsuranceSettlement;
    errorCode?: string;
    errorMessage?: string;
  }> {
    const res = await this.call<MixOrder>(
      'medins_query',
      orderNo,
      'GET',
      'v3/med-ins/orders/out-trade-no/{out_trade_no}',
      undefined,
      {
        out_trade_no: encodeURIComponent(orderNo),
        ...(this.partner ? { params: { sub_mchid: this.opts.mchId } } : {}),
      },
    );
    if (!res.ok) {
      if (res.errorCode === 'ORDER_NOT_EXIST' || res.errorCode === 'RESOURCE_NOT_EXISTS')
        return { result: 'SUCCESS', errorCode: res.errorCode, settlement: { orderNo, state: 'NOT_FOUND' } };
      return {
        result: res.result === 'FAIL' ? 'FAIL' : 'UNKNOWN',
        errorCode: res.errorCode,
        errorMessage: res.errorMessage,
      };
    }
    return { result: 'SUCCESS', settlement: toSettlement(res.data, orderNo) };
  }

  /**
   * The insurance refund notice (`POST /v3/med-ins/refunds/notify?mix_trade_no=…`, 204): tells WeChat that
   * the insurance part was refunded at the national platform. The cash part is refunded through the WeChat
   * Pay channel, not here; a CASH-only refund has nothing to notify (FAIL, NOTHING_TO_NOTIFY).
   * refund_time is `requestedAt` [U: WeChat asks for when the insurance refund succeeded].
   */
  async refund(input: InsuranceRefundInput): Promise<InsuranceRefundOutput> {
    const insuranceFen = input.fundFen + input.psnAcctFen + input.otherFen;
    if (input.kind === 'CASH' || insuranceFen === 0)
      return {
        result: 'FAIL',
        errorCode: 'NOTHING_TO_NOTIFY',
        errorMessage: 'no insurance part in this refund: the cash is refunded through WeChat Pay',
      };
    if (![input.fundFen, input.psnAcctFen, input.otherFen].every((n) => Number.isSafeInteger(n) && n >= 0))
      return { result: 'FAIL', errorCode: 'PARAM_ERROR', errorMessage: 'refund parts must be fen ≥ 0' };
    let mixTradeNo = input.mixTradeNo;
    if (!mixTradeNo) {
      const q = await this.querySettlement(input.orderNo);
      if (q.result !== 'SUCCESS')
        return { result: q.result, errorCode: q.errorCode, errorMessage: q.errorMessage };
      if (!q.settlement?.mixTradeNo) return { result: 'SUCCESS', state: 'NOT_FOUND' };
      mixTradeNo = q.settlement.mixTradeNo;
    }
    const u = this.opts.refundFieldNames === 'double' ? '__' : '_';
    const body: Record<string, unknown> = {
      ...(this.partner ? { sub_mchid: this.opts.mchId } : {}),
      med_refund_total_fee: insuranceFen,
      [`med_refund${u}gov_fee`]: input.fundFen,
      [`med_refund${u}self_fee`]: input.psnAcctFen,
      [`med_refund${u}other_fee`]: input.otherFen,
      refund_time: rfc3339Beijing(input.requestedAt),
      out_refund_no: input.refundNo,
    };
    const res = await this.call<unknown>(
      'medins_refund_notify',
      input.orderNo,
      'POST',
      'v3/med-ins/refunds/notify',
      body,
      {
        params: { mix_trade_no: mixTradeNo },
      },
    );
    if (!res.ok) {
      if (res.errorCode === 'ORDER_NOT_EXIST' || res.errorCode === 'RESOURCE_NOT_EXISTS')
        return { result: 'SUCCESS', state: 'NOT_FOUND', errorCode: res.errorCode };
      return {
        result: res.result,
        state: res.result === 'FAIL' ? 'FAILED' : undefined,
        errorCode: res.errorCode,
        errorMessage: res.errorMessage,
      };
    }
    return { result: 'SUCCESS', state: 'SUCCESS' };
  }

  /**
   * Verifies a MEDICAL_INSURANCE.SUCCESS notification (the standard v3 envelope: `timestamp\nnonce\nbody\n`
   * signed with the WeChat Pay key, 300 s window, resource AES-256-GCM under the APIv3 key). Any other event
   * type is a format rejection. Throws {@link NotificationRejected}.
   */
  parseNotification(
    headers: Record<string, string | undefined>,
    rawBody: string,
    now: Date,
  ): ParsedInsuranceNotification {
    const { envelope, resource: opened } = openV3Notification(headers, rawBody, now, {
      platformKeyId: this.opts.platformKeyId,
      platformPublicKey: this.platformPublicKey,
      apiV3Key: this.opts.apiV3Key,
    });
    if (envelope.event_type !== 'MEDICAL_INSURANCE.SUCCESS')
      throw new NotificationRejected('format', `unexpected event ${envelope.event_type}`);
    const resource = opened as MixOrder;
    if (!resource || typeof resource.out_trade_no !== 'string' || typeof resource.mix_pay_status !== 'string')
      throw new NotificationRejected('format', 'resource lacks out_trade_no or mix_pay_status');
    return {
      notifyId: envelope.id,
      eventType: envelope.event_type,
      settlement: toSettlement(resource, resource.out_trade_no),
    };
  }

  notificationReply(ok: boolean, message = 'FAIL'): NotificationReply {
    return v3NotificationReply(ok, message);
  }
}
