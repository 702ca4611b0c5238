import { constants, createHash, privateDecrypt, randomBytes, type KeyObject } from 'node:crypto';
import { json, simPost, type SimReply, type SimRequest } from '../harness';

/**
 * WeChat medical-insurance payment (微信医保支付, v3 `med-ins`, protocols.md §3a) inside the WeChat Pay
 * simulator, written without the SDK. The simulator authenticates the merchant's v3 signature (its own code
 * path) and hands the request here; this checks the mixed order as WeChat would and keeps it.
 *
 * Signed API:
 * - `POST /v3/med-ins/orders`: needs `Wechatpay-Serial` = the platform key; payer.name and payer.id_digest are
 *   RSA-OAEP ciphertexts under the platform key (decrypted here; id_digest must be 32 lowercase hex); amount
 *   identities; the cash part's prepay_id must be an unpaid JSAPI order of the same merchant for exactly
 *   wechat_pay_cash_fee (a sandbox check) → 200 with the order (MIX_PAY_CREATED) and its mix_trade_no.
 * - `GET /v3/med-ins/orders/out-trade-no/{out_trade_no}` and `/mix-trade-no/{mix_trade_no}` (`?sub_mchid=` in
 *   partner mode).
 * - `POST /v3/med-ins/refunds/notify?mix_trade_no=…` → 204; refuses more than the insurance settled. Accepts the
 *   part fields spelled `med_refund_gov_fee` or `med_refund__gov_fee` (the yaml's spelling).
 * Faults (`POST /sim/wechatpay/faults`): ops `medins_create`, `medins_query`, `medins_refund`.
 *
 * Control API (unsigned):
 * - `POST /sim/wechatpay/med-ins/{mix_trade_no}/pay` `{ insurance?: 'ok'|'fail', cash?: 'ok'|'fail',
 *   notify?: 'normal'|'drop' }`. The cash part's JSAPI order is paid through the simulator's own pay path (its
 *   TRANSACTION.SUCCESS goes to that order's notify_url as usual); the insurance part is settled, and with an
 *   `nhsaControlUrl` the national-platform simulator is told (`POST …/sim/nhsa/orders/{pay_order_id}/settle-external`,
 *   failures tolerated and kept in `nhsaCalls`). Both parts ok → MIX_PAY_SUCCESS and a signed, encrypted
 *   MEDICAL_INSURANCE.SUCCESS to callback_url. A part failing → MIX_PAY_FAIL with the part statuses as they
 *   ended (the other part may have been taken: the platform must give it back) and **no notification**:
 *   [P] WeChat notifies only on MIX_PAY_SUCCESS, so partial outcomes are only queryable.
 * - `GET /sim/wechatpay/med-ins/{mix_trade_no}` the simulator's view (with the decrypted payer, sandbox only).
 * - `GET /sim/cashier/wechatpay-medins/{mix_trade_no}` a page standing in for the insurance payment sheet.
 */

/** The cash order as the WeChat Pay simulator keeps it (the fields the mixed order needs). */
export interface CashOrderView {
  mchid: string;
  sp_mchid?: string;
  out_trade_no: string;
  trade_type: string;
  trade_state: string;
  total: number;
}

/** What the WeChat Pay simulator lends the med-ins endpoints (its signing, faults, cash orders, paying). */
export interface MedInsHost {
  platformKeyId: string;
  /** Decrypts the payer's fields (the platform's private key). */
  platformKey: KeyObject;
  merchantAppIds(mchId: string): string[] | undefined;
  subMchIds(mchId: string): string[] | undefined;
  signed(status: number, value?: unknown): SimReply;
  error(status: number, code: string, message: string): SimReply;
  faulted(op: string, run: () => SimReply): Promise<SimReply>;
  encryptedNotification(
    mchId: string,
    eventType: string,
    summary: string,
    originalType: string,
    resource: unknown,
    /** Unix seconds the notification is signed with (default now). */
    signedAt?: number,
  ): { headers: Record<string, string>; body: string };
  /** The JSAPI order a prepay_id was issued for. */
  cashOrderByPrepayId(prepayId: string): CashOrderView | undefined;
  cashOrder(outTradeNo: string): CashOrderView | undefined;
  /** Pays a cash order through the simulator's pay path (TRANSACTION.SUCCESS to its notify_url). */
  payCash(outTradeNo: string): void;
  later(fn: () => void, ms: number): void;
}

export interface MedInsSimOptions {
  /** Base URL of the national-platform simulator's control API; unset: it is not told. */
  nhsaControlUrl?: string;
  /** Delays between MEDICAL_INSURANCE.SUCCESS attempts after a failed delivery ([P] WeChat: ~30 s in all). */
  notifyRetryDelaysMs?: number[];
}

type MixPayStatus = 'MIX_PAY_CREATED' | 'MIX_PAY_SUCCESS' | 'MIX_PAY_REFUND' | 'MIX_PAY_FAIL';
type PartStatus = 'CREATED' | 'SUCCESS' | 'REFUND' | 'FAIL' | 'NONE';

interface MedInsRefund {
  out_refund_no: string;
  gov: number;
  self: number;
  other: number;
  refund_time: string;
}

/** A mixed order as the simulator keeps it. */
export interface SimMixOrder {
  /** The signing merchant, and the hospital (sub_mchid) in partner mode. */
  signer: string;
  sub_mchid?: string;
  body: Record<string, any>;
  /** Decrypted payer (sandbox only: lets tests check what arrived). */
  payer: { name: string; id_digest: string; card_type: string };
  mix_trade_no: string;
  mix_pay_status: MixPayStatus;
  /** NONE: no such part. The cash part's REFUND is read from its JSAPI order. */
  self: PartStatus;
  medIns: PartStatus;
  cashOutTradeNo?: string;
  paid_time?: string;
  setl_id?: string;
  refunds: MedInsRefund[];
  notificationsSent: number;
  lastNotification?: { headers: Record<string, string>; body: string };
}

const MIX_PAY_TYPES = ['CASH_ONLY', 'INSURANCE_ONLY', 'CASH_AND_INSURANCE'];
const ORDER_TYPES = [
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
];
const CARD_TYPES = [
  'ID_CARD',
  'HOUSEHOLD_REGISTRATION',
  'FOREIGNER_PASSPORT',
  'MAINLAND_TRAVEL_PERMIT_FOR_TW',
  'MAINLAND_TRAVEL_PERMIT_FOR_MO',
  'MAINLAND_TRAVEL_PERMIT_FOR_HK',
  'FOREIGN_PERMANENT_RESIDENT',
];
const FEES = [
  'total_fee',
  'med_ins_gov_fee',
  'med_ins_self_fee',
  'med_ins_other_fee',
  'med_ins_cash_fee',
  'wechat_pay_cash_fee',
] as const;

const QUERY_OUT = /^\/v3\/med-ins\/orders\/out-trade-no\/([^/]+)$/;
const QUERY_MIX = /^\/v3\/med-ins\/orders\/mix-trade-no\/([^/]+)$/;
const beijingNow = () => new Date(Date.now() + 8 * 3600_000).toISOString().slice(0, 19) + '+08:00';
const isFen = (n: unknown): n is number => Number.isSafeInteger(n) && (n as number) >= 0;

export class WechatMedInsSimulator {
  readonly orders = new Map<string, SimMixOrder>();
  /** By out_trade_no → mix_trade_no. */
  private readonly byOutTradeNo = new Map<string, string>();
  /** Every `/v3/med-ins/` request as it arrived (before authentication), for tests. */
  readonly requests: { method: string; url: string; headers: Record<string, unknown>; body: string }[] = [];
  /** MEDICAL_INSURANCE.SUCCESS attempts: mix_trade_no and what our endpoint answered. */
  readonly deliveries: { mixTradeNo: string; status: number | 'error' }[] = [];
  /** Calls to the national-platform simulator: URL, body, and its answer or the error. */
  readonly nhsaCalls: { url: string; body: unknown; status: number | 'error'; message?: string }[] = [];

  constructor(
    private readonly host: MedInsHost,
    private readonly opts: MedInsSimOptions = {},
  ) {}

  /** Keeps the raw request (called for every /v3/ request; only med-ins ones are kept). */
  observe(req: SimRequest): void {
    if (!req.path.startsWith('/v3/med-ins/')) return;
    this.requests.push({ method: req.method, url: req.url, headers: { ...req.headers }, body: req.body });
    if (this.requests.length > 1000) this.requests.shift();
  }

  // ---- signed API (the caller authenticated `signer`) ----------------------------------------------------

  async api(signer: string, req: SimRequest): Promise<SimReply> {
    let m: RegExpExecArray | null;
    if (req.method === 'POST' && req.path === '/v3/med-ins/orders')
      return this.host.faulted('medins_create', () => this.create(signer, req));
    if (req.method === 'GET' && (m = QUERY_OUT.exec(req.path))) {
      const no = decodeURIComponent(m[1]!);
      return this.host.faulted('medins_query', () =>
        this.query(signer, this.orders.get(this.byOutTradeNo.get(no) ?? ''), req.query),
      );
    }
    if (req.method === 'GET' && (m = QUERY_MIX.exec(req.path))) {
      const no = decodeURIComponent(m[1]!);
      return this.host.faulted('medins_query', () => this.query(signer, this.orders.get(no), req.query));
    }
    if (req.method === 'POST' && req.path === '/v3/med-ins/refunds/notify')
      return this.host.faulted('medins_refund', () => this.refundNotify(signer, req));
    return this.host.error(404, 'NOT_FOUND', '接口不存在');
  }

  /** The hospital an order or request belongs to: the signer (direct), or its authorised sub-merchant. */
  private owner(signer: string, subMchId: unknown): { mchid: string; sub?: string } | SimReply {
    if (subMchId === undefined || subMchId === null || subMchId === '') return { mchid: signer };
    if (typeof subMchId !== 'string' || !this.host.subMchIds(signer)?.includes(subMchId))
      return this.host.error(403, 'NO_AUTH', '从业机构未获得该医疗机构授权');
    return { mchid: signer, sub: subMchId };
  }

  private decrypt(ciphertext: unknown): string | undefined {
    if (typeof ciphertext !== 'string' || !ciphertext) return undefined;
    try {
      return privateDecrypt(
        { key: this.host.platformKey, padding: constants.RSA_PKCS1_OAEP_PADDING, oaepHash: 'sha1' },
        Buffer.from(ciphertext, 'base64'),
      ).toString('utf8');
    } catch {
      return undefined;
    }
  }

  private create(signer: string, req: SimRequest): SimReply {
    const err = (code: string, msg: string, status = 400) => this.host.error(status, code, msg);
    if (req.headers['wechatpay-serial'] !== this.host.platformKeyId)
      return err('PARAM_ERROR', 'Wechatpay-Serial 缺失或不是加密敏感字段所用的平台公钥');
    let b: Record<string, any>;
    try {
      b = JSON.parse(req.body);
    } catch {
      return err('PARAM_ERROR', '请求体不是 JSON');
    }
    if (!b || typeof b !== 'object') return err('PARAM_ERROR', '请求体不是 JSON 对象');
    const partner = b.sub_mchid !== undefined;
    const ids = partner ? ['appid', 'sub_appid', 'sub_mchid', 'sub_openid'] : ['appid', 'openid'];
    const required = [
      'mix_pay_type',
      'order_type',
      ...ids,
      'out_trade_no',
      'serial_no',
      'city_id',
      'med_inst_name',
      'med_inst_no',
      'callback_url',
    ];
    const missing = required.filter((k) => typeof b[k] !== 'string' || !b[k]);
    if (missing.length) return err('PARAM_ERROR', `缺少参数 ${missing.join(',')}`);
    const who = this.owner(signer, b.sub_mchid);
    if ('status' in who) return who;
    if (!this.host.merchantAppIds(signer)?.includes(b.appid))
      return err('APPID_MCHID_NOT_MATCH', 'appid 和 mch_id 不匹配');
    if (!MIX_PAY_TYPES.includes(b.mix_pay_type)) return err('PARAM_ERROR', 'mix_pay_type 无效');
    if (!ORDER_TYPES.includes(b.order_type)) return err('PARAM_ERROR', 'order_type 无效');
    if (!/^[0-9A-Za-z_\-|*]{6,64}$/.test(b.out_trade_no)) return err('PARAM_ERROR', 'out_trade_no 格式错误');
    if (!/^https?:\/\//.test(b.callback_url)) return err('PARAM_ERROR', 'callback_url 格式错误');

    // The payer: both fields are ciphertexts under the platform key; the digest is MD5 hex of the ID number.
    const p = b.payer;
    if (!p || typeof p !== 'object') return err('PARAM_ERROR', '缺少 payer');
    if (!CARD_TYPES.includes(p.card_type)) return err('PARAM_ERROR', 'payer.card_type 无效');
    const name = this.decrypt(p.name);
    const digest = this.decrypt(p.id_digest);
    if (!name || digest === undefined)
      return err('PARAM_ERROR', 'payer.name / payer.id_digest 无法用平台私钥解密（须 RSA-OAEP 加密）');
    if (!/^[0-9a-f]{32}$/.test(digest))
      return err('PARAM_ERROR', 'payer.id_digest 须为证件号大写后 MD5 的 32 位小写十六进制');

    // Amounts: integers, then the identities with the add/reduce details.
    for (const k of FEES) if (!isFen(b[k] ?? 0)) return err('PARAM_ERROR', `${k} 必须为非负整数（分）`);
    const f = Object.fromEntries(FEES.map((k) => [k, (b[k] ?? 0) as number])) as Record<
      (typeof FEES)[number],
      number
    >;
    const adds: unknown[] = Array.isArray(b.cash_add_detail)
      ? b.cash_add_detail.map((d: any) => d?.cash_add_fee)
      : [];
    const reduces: unknown[] = Array.isArray(b.cash_reduce_detail)
      ? b.cash_reduce_detail.map((d: any) => d?.cash_reduce_fee)
      : [];
    if (![...adds, ...reduces].every(isFen))
      return err('PARAM_ERROR', '现金补充/减免金额必须为非负整数（分）');
    const sum = (xs: unknown[]) => (xs as number[]).reduce((a, x) => a + x, 0);
    const insurance = f.med_ins_gov_fee + f.med_ins_self_fee + f.med_ins_other_fee;
    if (f.total_fee <= 0) return err('PARAM_ERROR', 'total_fee 必须为正整数（分）');
    if (f.total_fee !== insurance + f.wechat_pay_cash_fee + sum(reduces))
      return err('PARAM_ERROR', 'total_fee ≠ 统筹 + 个账 + 其他 + wechat_pay_cash_fee + 减免');
    if (f.total_fee !== insurance + f.med_ins_cash_fee + sum(adds))
      return err('PARAM_ERROR', 'total_fee ≠ 统筹 + 个账 + 其他 + med_ins_cash_fee + 补充');
    const hasCash = f.wechat_pay_cash_fee > 0;
    const typeOk =
      b.mix_pay_type === 'CASH_ONLY'
        ? insurance === 0 && hasCash
        : b.mix_pay_type === 'INSURANCE_ONLY'
          ? insurance > 0 && !hasCash
          : insurance > 0 && hasCash;
    if (!typeOk) return err('PARAM_ERROR', `mix_pay_type ${b.mix_pay_type} 与金额不符`);
    // [U] the insurance part names the national platform's pay order (field, or the passthrough content).
    let passthrough: Record<string, unknown> = {};
    try {
      passthrough = b.passthrough_request_content ? JSON.parse(b.passthrough_request_content) : {};
    } catch {
      return err('PARAM_ERROR', 'passthrough_request_content 不是 JSON');
    }
    if (b.mix_pay_type !== 'CASH_ONLY' && !(b.pay_order_id ?? passthrough.payOrdId))
      return err('PARAM_ERROR', '医保部分缺少 pay_order_id');

    // The cash part: an unpaid JSAPI order of the same hospital for exactly the cash amount (sandbox check).
    let cash: CashOrderView | undefined;
    if (hasCash) {
      if (typeof b.prepay_id !== 'string' || !b.prepay_id)
        return err('PARAM_ERROR', '自费部分缺少 prepay_id');
      cash = this.host.cashOrderByPrepayId(b.prepay_id);
      const sameOwner =
        cash &&
        (who.sub
          ? cash.sp_mchid === signer && cash.mchid === who.sub
          : !cash.sp_mchid && cash.mchid === signer);
      if (!cash || !sameOwner || cash.trade_type !== 'JSAPI')
        return err('PARAM_ERROR', 'prepay_id 不存在或不属于该商户');
      if (cash.total !== f.wechat_pay_cash_fee)
        return err('PARAM_ERROR', 'prepay_id 订单金额与 wechat_pay_cash_fee 不一致');
    }

    const existingNo = this.byOutTradeNo.get(b.out_trade_no);
    if (existingNo) {
      const e = this.orders.get(existingNo)!;
      const same =
        e.signer === signer &&
        e.sub_mchid === who.sub &&
        FEES.every((k) => (e.body[k] ?? 0) === f[k]) &&
        e.body.prepay_id === b.prepay_id;
      if (!same) return err('INVALID_REQUEST', '商户订单号重复且参数不一致');
      return this.host.signed(200, this.view(e));
    }
    if (cash && cash.trade_state !== 'NOTPAY') return err('PARAM_ERROR', 'prepay_id 对应订单已支付或已关闭');

    const o: SimMixOrder = {
      signer,
      sub_mchid: who.sub,
      body: { ...b, payer: undefined, relative: undefined },
      payer: { name, id_digest: digest, card_type: p.card_type },
      mix_trade_no: `MIX${Date.now()}${randomBytes(5).toString('hex')}`,
      mix_pay_status: 'MIX_PAY_CREATED',
      self: hasCash ? 'CREATED' : 'NONE',
      medIns: insurance > 0 ? 'CREATED' : 'NONE',
      cashOutTradeNo: cash?.out_trade_no,
      refunds: [],
      notificationsSent: 0,
    };
    this.orders.set(o.mix_trade_no, o);
    this.byOutTradeNo.set(b.out_trade_no, o.mix_trade_no);
    return this.host.signed(200, this.view(o));
  }

  /** The cash part's status, read through to its JSAPI order once paid (a refund there shows here). */
  private selfStatus(o: SimMixOrder): PartStatus {
    if (o.self === 'SUCCESS' && o.cashOutTradeNo) {
      const c = this.host.cashOrder(o.cashOutTradeNo);
      if (c?.trade_state === 'REFUND') return 'REFUND';
    }
    return o.self;
  }

  private mixStatus(o: SimMixOrder): MixPayStatus {
    const self = this.selfStatus(o);
    const done = (s: PartStatus) => s === 'REFUND' || s === 'NONE';
    if (o.mix_pay_status === 'MIX_PAY_SUCCESS' && done(self) && done(o.medIns)) return 'MIX_PAY_REFUND';
    return o.mix_pay_status;
  }

  /** The order as WeChat describes it (query reply, create reply, notification resource). */
  view(o: SimMixOrder): Record<string, unknown> {
    const b = o.body;
    const self = this.selfStatus(o);
    const ids = o.sub_mchid
      ? { appid: b.appid, sub_appid: b.sub_appid, sub_mchid: o.sub_mchid, sub_openid: b.sub_openid }
      : { appid: b.appid, openid: b.openid };
    return {
      mix_trade_no: o.mix_trade_no,
      mix_pay_status: this.mixStatus(o),
      self_pay_status: self === 'NONE' ? 'NO_SELF_PAY' : `SELF_PAY_${self}`,
      med_ins_pay_status: o.medIns === 'NONE' ? 'NO_MED_INS_PAY' : `MED_INS_PAY_${o.medIns}`,
      paid_time: o.paid_time,
      // [U] what the national platform returns after paying, passed through: here its settlement id.
      passthrough_response_content: o.setl_id
        ? JSON.stringify({ payOrdId: b.pay_order_id, setlId: o.setl_id })
        : undefined,
      mix_pay_type: b.mix_pay_type,
      order_type: b.order_type,
      ...ids,
      out_trade_no: b.out_trade_no,
      serial_no: b.serial_no,
      pay_order_id: b.pay_order_id,
      pay_auth_no: b.pay_auth_no,
      city_id: b.city_id,
      med_inst_name: b.med_inst_name,
      med_inst_no: b.med_inst_no,
      ...Object.fromEntries(FEES.map((k) => [k, b[k] ?? 0])),
      cash_add_detail: b.cash_add_detail,
      cash_reduce_detail: b.cash_reduce_detail,
      callback_url: b.callback_url,
      prepay_id: b.prepay_id,
      attach: b.attach,
      med_ins_test_env: b.med_ins_test_env,
    };
  }

  private query(signer: string, o: SimMixOrder | undefined, q: URLSearchParams): SimReply {
    const who = this.owner(signer, q.get('sub_mchid') ?? undefined);
    if ('status' in who) return who;
    if (!o || o.signer !== signer || o.sub_mchid !== who.sub)
      return this.host.error(404, 'ORDER_NOT_EXIST', '订单不存在');
    return this.host.signed(200, this.view(o));
  }

  private refundNotify(signer: string, req: SimRequest): SimReply {
    const err = (code: string, msg: string, status = 400) => this.host.error(status, code, msg);
    let b: Record<string, any>;
    try {
      b = JSON.parse(req.body);
    } catch {
      return err('PARAM_ERROR', '请求体不是 JSON');
    }
    const who = this.owner(signer, b.sub_mchid);
    if ('status' in who) return who;
    const o = this.orders.get(req.query.get('mix_trade_no') ?? '');
    if (!o || o.signer !== signer || o.sub_mchid !== who.sub)
      return err('ORDER_NOT_EXIST', '订单不存在', 404);
    // Either spelling of the part fields (the yaml doubles the underscore, WeChat's samples do not).
    const part = (k: string) => b[`med_refund_${k}_fee`] ?? b[`med_refund__${k}_fee`];
    const r = { gov: part('gov'), self: part('self'), other: part('other') };
    if (![b.med_refund_total_fee, r.gov, r.self, r.other].every(isFen))
      return err('PARAM_ERROR', '退款金额必须为非负整数（分）');
    if (b.med_refund_total_fee !== r.gov + r.self + r.other || b.med_refund_total_fee <= 0)
      return err('PARAM_ERROR', 'med_refund_total_fee ≠ 统筹 + 个账 + 其他');
    if (typeof b.out_refund_no !== 'string' || !/^[0-9A-Za-z_\-|*@]{1,64}$/.test(b.out_refund_no))
      return err('PARAM_ERROR', 'out_refund_no 格式错误');
    if (typeof b.refund_time !== 'string' || Number.isNaN(Date.parse(b.refund_time)))
      return err('PARAM_ERROR', 'refund_time 须为 RFC3339 时间');
    const existing = o.refunds.find((x) => x.out_refund_no === b.out_refund_no);
    if (existing) {
      if (existing.gov !== r.gov || existing.self !== r.self || existing.other !== r.other)
        return err('INVALID_REQUEST', '退款单号重复且金额不一致');
      return this.host.signed(204);
    }
    if (o.medIns !== 'SUCCESS' && o.medIns !== 'REFUND') return err('INVALID_REQUEST', '医保部分未支付成功');
    const done = o.refunds.reduce(
      (a, x) => ({ gov: a.gov + x.gov, self: a.self + x.self, other: a.other + x.other }),
      { gov: 0, self: 0, other: 0 },
    );
    const settled = {
      gov: o.body.med_ins_gov_fee ?? 0,
      self: o.body.med_ins_self_fee ?? 0,
      other: o.body.med_ins_other_fee ?? 0,
    };
    if (
      done.gov + r.gov > settled.gov ||
      done.self + r.self > settled.self ||
      done.other + r.other > settled.other
    )
      return err('INVALID_REQUEST', '医保退款金额超过医保结算金额');
    o.refunds.push({ out_refund_no: b.out_refund_no, ...r, refund_time: b.refund_time });
    if (
      done.gov + r.gov === settled.gov &&
      done.self + r.self === settled.self &&
      done.other + r.other === settled.other
    )
      o.medIns = 'REFUND';
    return this.host.signed(204);
  }

  // ---- paying and notifying ------------------------------------------------------------------------------

  /**
   * The patient pays the mixed order in the payment sheet. Each part succeeds unless told to fail; see the
   * file comment for what partial outcomes do.
   */
  async pay(
    mixTradeNo: string,
    opts: { insurance?: 'ok' | 'fail'; cash?: 'ok' | 'fail'; notify?: 'normal' | 'drop' } = {},
  ): Promise<SimMixOrder> {
    const o = this.orders.get(mixTradeNo);
    if (!o) throw new Error(`no such mixed order ${mixTradeNo}`);
    if (o.mix_pay_status !== 'MIX_PAY_CREATED') throw new Error(`mixed order is ${o.mix_pay_status}`);
    if (o.self === 'CREATED') {
      const c = this.host.cashOrder(o.cashOutTradeNo ?? '');
      if (opts.cash === 'fail') o.self = 'FAIL';
      else if (c?.trade_state === 'SUCCESS')
        o.self = 'SUCCESS'; // paid before (e.g. on its own cashier page)
      else if (c?.trade_state === 'NOTPAY' || c?.trade_state === 'USERPAYING') {
        this.host.payCash(c.out_trade_no);
        o.self = 'SUCCESS';
      } else o.self = 'FAIL'; // closed meanwhile
    }
    if (o.medIns === 'CREATED') {
      o.medIns = opts.insurance === 'fail' ? 'FAIL' : 'SUCCESS';
      if (o.medIns === 'SUCCESS') {
        o.setl_id = `SETL${Date.now()}${randomBytes(4).toString('hex')}`;
        await this.tellNhsa(o);
      }
    }
    const failed = o.self === 'FAIL' || o.medIns === 'FAIL';
    o.mix_pay_status = failed ? 'MIX_PAY_FAIL' : 'MIX_PAY_SUCCESS';
    o.paid_time = failed ? undefined : beijingNow();
    // [P] WeChat notifies only on MIX_PAY_SUCCESS: a partial outcome is only queryable.
    if (!failed) {
      const n = this.host.encryptedNotification(
        o.signer,
        'MEDICAL_INSURANCE.SUCCESS',
        '医保混合收款成功',
        // [U] original_type / associated_data of med-ins notifications.
        'medical_insurance',
        this.view(o),
      );
      o.lastNotification = n;
      if (opts.notify !== 'drop') void this.deliver(o, n, 0);
    }
    return o;
  }

  /**
   * A MEDICAL_INSURANCE.SUCCESS of the order as it would read once paid, with `overrides` on the resource,
   * signed at `timestamp` (unix seconds): built, not sent, and the order unchanged (security tests).
   */
  notificationFor(
    mixTradeNo: string,
    opts: { overrides?: Record<string, unknown>; timestamp?: number } = {},
  ): { headers: Record<string, string>; body: string; callbackUrl: string } {
    const o = this.orders.get(mixTradeNo);
    if (!o) throw new Error(`no such mixed order ${mixTradeNo}`);
    const paid = {
      ...this.view(o),
      mix_pay_status: 'MIX_PAY_SUCCESS',
      self_pay_status: o.self === 'NONE' ? 'NO_SELF_PAY' : 'SELF_PAY_SUCCESS',
      med_ins_pay_status: o.medIns === 'NONE' ? 'NO_MED_INS_PAY' : 'MED_INS_PAY_SUCCESS',
      paid_time: beijingNow(),
      ...opts.overrides,
    };
    const n = this.host.encryptedNotification(
      o.signer,
      'MEDICAL_INSURANCE.SUCCESS',
      '医保混合收款成功',
      'medical_insurance',
      paid,
      opts.timestamp,
    );
    return { ...n, callbackUrl: String(o.body.callback_url) };
  }

  /** Delivers MEDICAL_INSURANCE.SUCCESS to callback_url; a non-2xx or no answer is retried on the curve. */
  async deliver(
    o: SimMixOrder,
    n: { headers: Record<string, string>; body: string },
    attempt: number,
  ): Promise<number | 'error'> {
    o.notificationsSent++;
    let status: number | 'error';
    try {
      status = (await simPost(String(o.body.callback_url), n.body, n.headers)).status;
    } catch {
      status = 'error';
    }
    this.deliveries.push({ mixTradeNo: o.mix_trade_no, status });
    const ok = typeof status === 'number' && status >= 200 && status < 300;
    const delays = this.opts.notifyRetryDelaysMs ?? [];
    if (!ok && attempt < delays.length)
      this.host.later(() => void this.deliver(o, n, attempt + 1), delays[attempt]!);
    return status;
  }

  /** Tells the national-platform simulator the insurance part was settled through WeChat (failures tolerated). */
  private async tellNhsa(o: SimMixOrder): Promise<void> {
    if (!this.opts.nhsaControlUrl || !o.body.pay_order_id) return;
    const url = `${this.opts.nhsaControlUrl.replace(/\/$/, '')}/sim/nhsa/orders/${encodeURIComponent(
      String(o.body.pay_order_id),
    )}/settle-external`;
    const body = {
      fundFen: o.body.med_ins_gov_fee ?? 0,
      psnAcctFen: o.body.med_ins_self_fee ?? 0,
      otherFen: o.body.med_ins_other_fee ?? 0,
      cashFen: o.body.med_ins_cash_fee ?? 0,
      settlementId: o.setl_id,
    };
    try {
      const res = await simPost(url, JSON.stringify(body), { 'content-type': 'application/json' }, 2000);
      this.nhsaCalls.push({
        url,
        body,
        status: res.status,
        message: res.status >= 300 ? res.body : undefined,
      });
      if (res.status >= 300)
        console.warn(`wechat med-ins simulator: national platform answered ${res.status} to ${url}`);
    } catch (e) {
      this.nhsaCalls.push({ url, body, status: 'error', message: (e as Error).message });
      console.warn(`wechat med-ins simulator: national platform not told (${(e as Error).message})`);
    }
  }

  // ---- control API and cashier page ------------------------------------------------------------------------

  async control(req: SimRequest): Promise<SimReply | undefined> {
    let m: RegExpExecArray | null;
    if ((m = /^\/sim\/cashier\/wechatpay-medins\/([^/]+)$/.exec(req.path)) && req.method === 'GET')
      return this.cashier(decodeURIComponent(m[1]!));
    if (!req.path.startsWith('/sim/wechatpay/med-ins/')) return undefined;
    if ((m = /^\/sim\/wechatpay\/med-ins\/([^/]+)\/pay$/.exec(req.path)) && req.method === 'POST') {
      let body: Record<string, any> = {};
      try {
        body = req.body ? JSON.parse(req.body) : {};
      } catch {
        return json(400, { code: 'PARAM_ERROR', message: 'body is not JSON' });
      }
      try {
        const o = await this.pay(decodeURIComponent(m[1]!), body);
        return json(200, this.view(o));
      } catch (e) {
        return json(409, { code: 'NOT_PAYABLE', message: (e as Error).message });
      }
    }
    if ((m = /^\/sim\/wechatpay\/med-ins\/([^/]+)$/.exec(req.path)) && req.method === 'GET') {
      const o = this.orders.get(decodeURIComponent(m[1]!));
      return o
        ? json(200, {
            ...this.view(o),
            payer: o.payer,
            refunds: o.refunds,
            notificationsSent: o.notificationsSent,
          })
        : json(404, { code: 'NOT_FOUND', message: 'no such mixed order' });
    }
    return json(404, { code: 'NOT_FOUND', message: 'unknown control call' });
  }

  private cashier(mixTradeNo: string): SimReply {
    const o = this.orders.get(mixTradeNo);
    const esc = (s: string) => s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
    const yuan = (fen: number) => `${Math.floor(fen / 100)}.${String(fen % 100).padStart(2, '0')}`;
    const row = (label: string, fen: number) => `<tr><td>${label}</td><td class="r">¥${yuan(fen)}</td></tr>`;
    const b = o?.body ?? {};
    const status = o ? this.mixStatus(o) : '';
    const html = `<!doctype html><html lang="zh-CN"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1">
<title>医保支付（沙箱）</title><style>body{font-family:sans-serif;max-width:420px;margin:40px auto;text-align:center}
.amt{font-size:40px;margin:16px 0}table{margin:12px auto;border-collapse:collapse;min-width:280px}td{padding:6px 12px;text-align:left}
td.r{text-align:right}tr.total td{border-top:1px solid #ccc;font-weight:bold}
button{font-size:18px;padding:12px 32px;margin:8px;border:0;border-radius:6px}
#pay{background:#07c160;color:#fff}#cancel{background:#eee;color:#333}#state{margin-top:16px;color:#666}</style></head><body>
<h2>微信医保支付 · 沙箱收银台</h2>${
      o
        ? `<div>${esc(String(b.med_inst_name ?? ''))}</div><div class="amt">¥${yuan(b.total_fee ?? 0)}</div>
<table>${row('医保统筹', b.med_ins_gov_fee ?? 0)}${row('个人账户', b.med_ins_self_fee ?? 0)}${
            (b.med_ins_other_fee ?? 0) > 0 ? row('其他补助', b.med_ins_other_fee) : ''
          }${row('现金（微信支付）', b.wechat_pay_cash_fee ?? 0)}<tr class="total"><td>合计</td><td class="r">¥${yuan(
            b.total_fee ?? 0,
          )}</td></tr></table>
<div>商户订单号 ${esc(String(b.out_trade_no ?? ''))}</div><div id="state">状态：${status}</div>
<button id="pay" ${status === 'MIX_PAY_CREATED' ? '' : 'disabled'}>确认支付</button>
<button id="cancel">取消支付</button>
<script>
document.getElementById('pay').onclick=async()=>{const r=await fetch(location.pathname.replace('/sim/cashier/wechatpay-medins/','/sim/wechatpay/med-ins/')+'/pay',{method:'POST',body:'{}'});
document.getElementById('state').textContent=r.ok?'状态：支付成功，已通知商户':'支付失败：'+(await r.text());document.getElementById('pay').disabled=true;};
document.getElementById('cancel').onclick=()=>{document.getElementById('state').textContent='已取消（订单仍待支付）';};</script>`
        : '<p>订单不存在</p>'
    }
</body></html>`;
    return { status: 200, headers: { 'content-type': 'text/html; charset=utf-8' }, body: html };
  }
}

/** `id_digest` as the simulator expects it: lowercase hex MD5 of the upper-cased ID number (for tests). */
export function simIdDigest(idNo: string): string {
  return createHash('md5').update(idNo.toUpperCase(), 'utf8').digest('hex');
}
