import {
  createCipheriv,
  createHash,
  createHmac,
  createPrivateKey,
  createPublicKey,
  createSign,
  createVerify,
  randomBytes,
  type KeyObject,
} from 'node:crypto';
import { fenToYuan } from '@hp/shared';
import { json, simPost, startSimServer, type RunningSim, type SimReply, type SimRequest } from '../harness';
import { WechatLoginSimulator } from './login';
import { WechatMedInsSimulator } from './medins';

/**
 * WeChat Pay API v3 simulator (protocols.md §1), written without the SDK so it checks our adapter
 * independently: it verifies the merchant's request signatures against the raw request target, signs every
 * reply with the platform key, keeps orders, and sends AES-256-GCM-encrypted, RSA-signed notifications.
 *
 * Control API for tests and the demo (unsigned, loopback only):
 * - `POST /sim/wechatpay/orders/{out_trade_no}/pay` `{ notify?: 'deliver'|'drop'|'duplicate', notifyAmountFen?, notifyTimestamp?, force? }`
 *   (`notifyTimestamp`: the unix seconds the notification is signed with — an old one is a stale notification)
 * - `POST /sim/wechatpay/orders/{out_trade_no}/resend` re-sends the last notification
 * - `GET  /sim/wechatpay/orders/{out_trade_no}` the simulator's view of an order
 * - `POST /sim/wechatpay/orders/{out_trade_no}/comment` `{ stars: 1–5, content, at? }` the patient comments (订单评价)
 * - `POST /sim/wechatpay/faults` `{ op: 'create'|'query'|'close'|'refund'|'bill'|'fundflow'|'any', fault: 'timeout'|'late_reply'|'system_error'|'drop', count }`;
 *   for ops `bill` (trade bill) and `fundflow` (fund-flow bill) also `no_bill` (400 NO_STATEMENT_EXIST),
 *   `not_ready` (400 STATEMENT_CREATING) and `corrupt_bill` (the file served differs from its announced SHA1)
 * - `GET  /sim/cashier/wechatpay/{out_trade_no}[?redirect_url=…]` a page standing in for the WeChat payment
 *   sheet; with `redirect_url` (H5 payment) it returns there after paying or cancelling, as WeChat's H5 page does
 *
 * WeChat login (code2session, OAuth) is served on the same port: see `login.ts`; WeChat medical-insurance
 * payment (v3 `med-ins`, its control API and cashier page) too: see `medins.ts`.
 */

export interface SimMerchant {
  mchId: string;
  /** A service provider's sub-merchants (partner mode). */
  subMchIds?: string[];
  /** Signs the v2 XML APIs (payment code). */
  apiV2Key: string;
  appIds: string[];
  serialNo: string;
  publicPem: string;
  apiV3Key: string;
}

export interface WechatSimOptions {
  port: number;
  platformKeyId: string;
  platformPrivatePem: string;
  /** Delays between notification attempts after a failed delivery (WeChat: 15s, 15s, 30s, 3m…). */
  notifyRetryDelaysMs?: number[];
  /** Med-ins: the national-platform simulator's base URL, told when WeChat settles an insurance part. */
  nhsaControlUrl?: string;
  /** Med-ins: delays between MEDICAL_INSURANCE.SUCCESS attempts after a failed delivery. */
  medInsNotifyRetryDelaysMs?: number[];
}

interface SimOrder {
  /** The merchant (the sub-merchant in partner mode). */
  mchid: string;
  /** Partner mode: the service provider. */
  sp_mchid?: string;
  sub_appid?: string;
  appid: string;
  out_trade_no: string;
  trade_type: string;
  description: string;
  notify_url: string;
  total: number;
  time_expire?: string;
  trade_state: 'NOTPAY' | 'SUCCESS' | 'CLOSED' | 'USERPAYING' | 'PAYERROR' | 'REFUND' | 'REVOKED';
  transaction_id?: string;
  success_time?: string;
  payer_openid?: string;
  code_url?: string;
  lastNotification?: { headers: Record<string, string>; body: string };
  notificationsSent: number;
}

interface SimRefund {
  mchid: string;
  sp_mchid?: string;
  out_trade_no: string;
  transaction_id?: string;
  out_refund_no: string;
  refund_id: string;
  notify_url?: string;
  reason?: string;
  refund: number;
  total: number;
  status: 'PROCESSING' | 'SUCCESS' | 'CLOSED' | 'ABNORMAL';
  create_time: string;
  success_time?: string;
}

/** How the next refunds end: succeed (default), become ABNORMAL, or stay PROCESSING; and their notification. */
export interface RefundBehaviour {
  outcome: 'success' | 'abnormal' | 'stay';
  notify: 'deliver' | 'drop';
}

/**
 * timeout: no processing, late error; late_reply: processed, but the answer comes too late; drop: connection
 * cut. Bills only: no_bill, not_ready, corrupt_bill.
 */
type FaultKind =
  'timeout' | 'late_reply' | 'system_error' | 'drop' | 'no_bill' | 'not_ready' | 'corrupt_bill';
interface Fault {
  op: string;
  fault: FaultKind;
  count: number;
}

// Direct merchants use /v3/pay/transactions/…, service providers /v3/pay/partner/transactions/….
const NATIVE_ROUTE = /^\/v3\/pay\/(partner\/)?transactions\/(native|jsapi|h5)$/;
const QUERY_ROUTE = /^\/v3\/pay\/(partner\/)?transactions\/out-trade-no\/([^/]+)$/;
const CLOSE_ROUTE = /^\/v3\/pay\/(partner\/)?transactions\/out-trade-no\/([^/]+)\/close$/;

/** Whose order: the merchant, and in partner mode the service provider that acts for it. */
interface OrderOwner {
  mchid: string;
  sp_mchid?: string;
}
/** v2 order comments (订单评价): answered in plain text, not XML. */
const COMMENTS_ROUTE = '/billcommentsp/batchquerycomment';
const V2_ROUTES = new Set(['/pay/micropay', '/pay/orderquery', '/secapi/pay/reverse', COMMENTS_ROUTE]);
const REFUND_ROUTE = /^\/v3\/refund\/domestic\/refunds$/;
const REFUND_QUERY_ROUTE = /^\/v3\/refund\/domestic\/refunds\/([^/]+)$/;
const beijingNow = () => new Date(Date.now() + 8 * 3600_000).toISOString().slice(0, 19) + '+08:00';

export class WechatPaySimulator {
  readonly merchants = new Map<string, SimMerchant & { publicKey: KeyObject }>();
  /** Parsed once: parsing a PEM costs as much as the signature itself. */
  private readonly platformKey: KeyObject;
  readonly orders = new Map<string, SimOrder>();
  readonly refunds = new Map<string, SimRefund>();
  /** Applied to refunds as they are created; tests and the control API change it. */
  refundBehaviour: RefundBehaviour = { outcome: 'success', notify: 'deliver' };
  private faults: Fault[] = [];
  private readonly seenNonces = new Set<string>();
  private server?: RunningSim;
  private readonly timers = new Set<NodeJS.Timeout>();
  /** Every notification attempt, for tests: url, status our endpoint answered. */
  readonly deliveries: { outTradeNo: string; status: number | 'error' }[] = [];
  /** WeChat login (api.weixin.qq.com /sns/…, the OAuth page). */
  readonly login = new WechatLoginSimulator();
  /** JSAPI prepay_id → out_trade_no: the med-ins mixed order names its cash part by prepay_id. */
  readonly prepayIds = new Map<string, string>();
  /** WeChat medical-insurance payment (v3 `med-ins`). */
  readonly medIns: WechatMedInsSimulator;

  constructor(private readonly opts: WechatSimOptions) {
    this.platformKey = createPrivateKey(opts.platformPrivatePem);
    this.medIns = new WechatMedInsSimulator(
      {
        platformKeyId: opts.platformKeyId,
        platformKey: this.platformKey,
        merchantAppIds: (mchId) => this.merchants.get(mchId)?.appIds,
        subMchIds: (mchId) => this.merchants.get(mchId)?.subMchIds,
        signed: (status, value) => this.signed(status, value),
        error: (status, code, message) => this.error(status, code, message),
        faulted: (op, run) => this.faulted(op, run),
        encryptedNotification: (...a) => this.encryptedNotification(...a),
        cashOrderByPrepayId: (id) => this.orders.get(this.prepayIds.get(id) ?? ''),
        cashOrder: (no) => this.orders.get(no),
        payCash: (no) => void this.pay(no),
        later: (fn, ms) => this.later(fn, ms),
      },
      { nhsaControlUrl: opts.nhsaControlUrl, notifyRetryDelaysMs: opts.medInsNotifyRetryDelaysMs },
    );
  }

  get url(): string {
    if (!this.server) throw new Error('simulator not started');
    return this.server.url;
  }

  addMerchant(m: SimMerchant): void {
    this.merchants.set(m.mchId, { ...m, publicKey: createPublicKey(m.publicPem) });
  }

  async start(): Promise<this> {
    this.server = await startSimServer('wechatpay', this.opts.port, [
      (r) => this.login.handle(r),
      (r) => this.control(r),
      (r) => this.api(r),
    ]);
    return this;
  }

  async close(): Promise<void> {
    for (const t of this.timers) clearTimeout(t);
    await this.server?.close();
  }

  /** Queues a fault for the next `count` calls of `op`. */
  injectFault(op: string, fault: FaultKind, count = 1): void {
    this.faults.push({ op, fault, count });
  }

  private takeFault(op: string): FaultKind | undefined {
    const f = this.faults.find((x) => (x.op === op || x.op === 'any') && x.count > 0);
    if (!f) return undefined;
    f.count--;
    if (f.count === 0) this.faults = this.faults.filter((x) => x !== f);
    return f.fault;
  }

  // ---- signing ---------------------------------------------------------------------------------------

  private sign(message: string): string {
    return createSign('RSA-SHA256').update(message).sign(this.platformKey, 'base64');
  }

  /** A reply signed as WeChat Pay signs it: `timestamp\nnonce\nbody\n`. */
  private signed(status: number, value?: unknown): SimReply {
    const body = value === undefined ? '' : JSON.stringify(value);
    const timestamp = String(Math.floor(Date.now() / 1000));
    const nonce = randomBytes(16).toString('hex');
    const headers: Record<string, string> = {
      'Wechatpay-Timestamp': timestamp,
      'Wechatpay-Nonce': nonce,
      'Wechatpay-Serial': this.opts.platformKeyId,
      'Wechatpay-Signature': this.sign(`${timestamp}\n${nonce}\n${body}\n`),
      'Request-ID': randomBytes(8).toString('hex'),
    };
    if (body) headers['content-type'] = 'application/json';
    return { status, headers, body };
  }

  private error(status: number, code: string, message: string): SimReply {
    return this.signed(status, { code, message });
  }

  /** Verifies `Authorization: WECHATPAY2-SHA256-RSA2048 k="v",…` (pairs in any order) over the raw target. */
  private authenticate(req: SimRequest): { merchant: SimMerchant } | { error: SimReply } {
    const auth = String(req.headers.authorization ?? '');
    const m = /^WECHATPAY2-SHA256-RSA2048\s+(.+)$/.exec(auth);
    if (!m) return { error: this.error(401, 'SIGN_ERROR', '缺少或错误的 Authorization 头') };
    const pairs: Record<string, string> = {};
    for (const part of m[1]!.matchAll(/(\w+)="([^"]*)"/g)) pairs[part[1]!] = part[2]!;
    const { mchid, nonce_str, signature, timestamp, serial_no } = pairs;
    if (!mchid || !nonce_str || !signature || !timestamp || !serial_no) {
      return { error: this.error(401, 'SIGN_ERROR', 'Authorization 缺少字段') };
    }
    const merchant = this.merchants.get(mchid);
    if (!merchant) return { error: this.error(401, 'SIGN_ERROR', `商户号 ${mchid} 不存在`) };
    if (serial_no !== merchant.serialNo)
      return { error: this.error(401, 'SIGN_ERROR', '商户证书序列号不匹配') };
    if (Math.abs(Date.now() / 1000 - Number(timestamp)) > 300)
      return { error: this.error(401, 'SIGN_ERROR', '请求时间戳超出 5 分钟') };
    const nonceKey = `${mchid}:${nonce_str}`;
    if (this.seenNonces.has(nonceKey)) return { error: this.error(401, 'SIGN_ERROR', '重复的随机串') };
    const message = `${req.method}\n${req.url}\n${timestamp}\n${nonce_str}\n${req.body}\n`;
    const ok = createVerify('RSA-SHA256').update(message).verify(merchant.publicKey, signature, 'base64');
    if (!ok) return { error: this.error(401, 'SIGN_ERROR', '签名错误') };
    this.seenNonces.add(nonceKey);
    if (this.seenNonces.size > 100_000) this.seenNonces.clear();
    return { merchant };
  }

  // ---- the signed API ----------------------------------------------------------------------------------

  private async api(req: SimRequest): Promise<SimReply | undefined> {
    if (V2_ROUTES.has(req.path) && req.method === 'POST') return this.v2(req);
    if (!req.path.startsWith('/v3/')) return undefined;
    this.medIns.observe(req);
    const auth = this.authenticate(req);
    if ('error' in auth) return auth.error;
    const { merchant } = auth;
    if (req.path.startsWith('/v3/med-ins/')) return this.medIns.api(merchant.mchId, req);

    let m: RegExpExecArray | null;
    if (req.method === 'POST' && (m = NATIVE_ROUTE.exec(req.path)))
      return this.faulted('create', () => this.create(merchant, m![2]!, req.body, Boolean(m![1])));
    if (req.method === 'POST' && (m = CLOSE_ROUTE.exec(req.path)))
      return this.faulted('close', () =>
        this.closeOrder(merchant, decodeURIComponent(m![2]!), req.body, Boolean(m![1])),
      );
    if (req.method === 'POST' && REFUND_ROUTE.test(req.path))
      return this.faulted('refund', () => this.createRefund(merchant, req.body));
    if (req.method === 'GET' && (m = REFUND_QUERY_ROUTE.exec(req.path))) {
      return this.faulted('refund_query', () => this.queryRefund(merchant, decodeURIComponent(m![1]!)));
    }
    if (req.method === 'GET' && (m = QUERY_ROUTE.exec(req.path))) {
      return this.faulted('query', () =>
        this.query(merchant, decodeURIComponent(m![2]!), req.query, Boolean(m![1])),
      );
    }
    if (req.method === 'GET' && req.path === '/v3/bill/tradebill')
      return this.faulted('bill', (fault) => this.tradeBill(merchant, req.query, fault));
    if (req.method === 'GET' && req.path === '/v3/bill/fundflowbill')
      return this.faulted('fundflow', (fault) => this.fundFlowBill(merchant, req.query, fault));
    if (req.method === 'GET' && req.path === '/v3/billdownload/file')
      return this.billFile(merchant, req.query);
    return this.error(404, 'NOT_FOUND', '接口不存在');
  }

  private async faulted(op: string, run: (fault?: FaultKind) => SimReply): Promise<SimReply> {
    const fault = this.takeFault(op);
    if (fault === 'drop') return { status: -1 };
    if (fault === 'timeout') {
      // Hold the call longer than any sane client timeout, then answer (the client has given up).
      await new Promise((r) => this.later(r, 15_000));
      return this.error(500, 'SYSTEM_ERROR', '系统超时');
    }
    if (fault === 'late_reply') {
      const reply = run(); // the channel did the work…
      await new Promise((r) => this.later(r, 15_000)); // …but the caller gives up before the answer
      return reply;
    }
    if (fault === 'system_error') return this.error(500, 'SYSTEM_ERROR', '系统繁忙，请稍后重试');
    if (fault === 'no_bill') return this.error(400, 'NO_STATEMENT_EXIST', '要查询的账单不存在');
    if (fault === 'not_ready') return this.error(400, 'STATEMENT_CREATING', '账单生成中');
    return run(fault);
  }

  /** The order owner a request names: `mchid` (direct), or `sp_mchid` + `sub_mchid` (partner). */
  private ownerOf(
    merchant: SimMerchant,
    partner: boolean,
    ids: Record<string, unknown>,
  ): OrderOwner | SimReply {
    if (!partner) {
      if (ids.mchid !== merchant.mchId) return this.error(400, 'MCH_NOT_EXISTS', 'mchid 与签名商户不一致');
      return { mchid: merchant.mchId };
    }
    if (ids.sp_mchid !== merchant.mchId)
      return this.error(400, 'MCH_NOT_EXISTS', 'sp_mchid 与签名商户不一致');
    if (typeof ids.sub_mchid !== 'string' || !merchant.subMchIds?.includes(ids.sub_mchid)) {
      return this.error(403, 'NO_AUTH', '服务商未获得该子商户授权');
    }
    return { mchid: ids.sub_mchid, sp_mchid: merchant.mchId };
  }

  private static owns(o: { mchid: string; sp_mchid?: string }, who: OrderOwner): boolean {
    return o.mchid === who.mchid && o.sp_mchid === who.sp_mchid;
  }

  private create(merchant: SimMerchant, kind: string, rawBody: string, partner: boolean): SimReply {
    let b: any;
    try {
      b = JSON.parse(rawBody);
    } catch {
      return this.error(400, 'PARAM_ERROR', '请求体不是 JSON');
    }
    const ids = partner ? ['sp_appid', 'sp_mchid', 'sub_mchid'] : ['appid', 'mchid'];
    const missing = [...ids, 'description', 'out_trade_no', 'notify_url'].filter(
      (k) => typeof b[k] !== 'string' || !b[k],
    );
    if (missing.length) return this.error(400, 'PARAM_ERROR', `缺少参数 ${missing.join(',')}`);
    const who = this.ownerOf(merchant, partner, b);
    if ('status' in who) return who;
    const appid: string = partner ? b.sp_appid : b.appid;
    if (!merchant.appIds.includes(appid))
      return this.error(400, 'APPID_MCHID_NOT_MATCH', 'appid 和 mch_id 不匹配');
    if (!/^[0-9A-Za-z_\-|*]{6,32}$/.test(b.out_trade_no))
      return this.error(400, 'PARAM_ERROR', 'out_trade_no 格式错误');
    const total = b.amount?.total;
    if (!Number.isInteger(total) || total <= 0)
      return this.error(400, 'PARAM_ERROR', 'amount.total 必须为正整数（分）');
    if (!/^https?:\/\//.test(b.notify_url)) return this.error(400, 'PARAM_ERROR', 'notify_url 格式错误');
    const openid: string | undefined = partner
      ? (b.payer?.sp_openid ?? b.payer?.sub_openid)
      : b.payer?.openid;
    if (kind === 'jsapi' && !openid) return this.error(400, 'PARAM_ERROR', '缺少 payer 的 openid');
    const tradeType = kind === 'native' ? 'NATIVE' : kind === 'jsapi' ? 'JSAPI' : 'MWEB';
    const existing = this.orders.get(b.out_trade_no);
    if (existing) {
      if (
        existing.total !== total ||
        !WechatPaySimulator.owns(existing, who) ||
        existing.trade_type !== tradeType
      ) {
        return this.error(400, 'INVALID_REQUEST', '201 商户订单号重复');
      }
      if (existing.trade_state === 'SUCCESS') return this.error(400, 'ORDERPAID', '该订单已支付');
      if (existing.trade_state === 'CLOSED') return this.error(400, 'ORDER_CLOSED', '订单已关闭');
    }
    const order: SimOrder = existing ?? {
      mchid: who.mchid,
      sp_mchid: who.sp_mchid,
      sub_appid: partner ? b.sub_appid : undefined,
      appid,
      out_trade_no: b.out_trade_no,
      trade_type: tradeType,
      description: b.description,
      notify_url: b.notify_url,
      total,
      time_expire: b.time_expire,
      trade_state: 'NOTPAY',
      payer_openid: openid,
      code_url: `weixin://wxpay/bizpayurl?pr=${randomBytes(6).toString('base64url')}`,
      notificationsSent: 0,
    };
    this.orders.set(order.out_trade_no, order);
    if (kind === 'native') return this.signed(200, { code_url: order.code_url });
    if (kind === 'h5')
      return this.signed(200, { h5_url: `${this.url}/sim/cashier/wechatpay/${order.out_trade_no}` });
    const prepayId = `wx${Date.now()}${randomBytes(6).toString('hex')}`;
    this.prepayIds.set(prepayId, order.out_trade_no);
    return this.signed(200, { prepay_id: prepayId });
  }

  private transaction(o: SimOrder) {
    // Partner orders are described with sp_/sub_ ids, as WeChat describes them to a service provider.
    const ids = o.sp_mchid
      ? { sp_appid: o.appid, sp_mchid: o.sp_mchid, sub_appid: o.sub_appid, sub_mchid: o.mchid }
      : { appid: o.appid, mchid: o.mchid };
    return {
      ...ids,
      out_trade_no: o.out_trade_no,
      transaction_id: o.transaction_id,
      trade_type: o.trade_type,
      trade_state: o.trade_state,
      trade_state_desc: {
        NOTPAY: '未支付',
        SUCCESS: '支付成功',
        REVOKED: '已撤销',
        CLOSED: '已关闭',
        USERPAYING: '用户支付中',
        PAYERROR: '支付失败',
        REFUND: '转入退款',
      }[o.trade_state],
      bank_type: o.trade_state === 'SUCCESS' ? 'OTHERS' : undefined,
      attach: '',
      success_time: o.success_time,
      payer: { [o.sp_mchid ? 'sp_openid' : 'openid']: o.payer_openid ?? 'oSandboxPayer' },
      amount: {
        total: o.total,
        payer_total: o.trade_state === 'SUCCESS' ? o.total : undefined,
        currency: 'CNY',
        payer_currency: 'CNY',
      },
    };
  }

  private query(merchant: SimMerchant, outTradeNo: string, q: URLSearchParams, partner: boolean): SimReply {
    const who = this.ownerOf(merchant, partner, Object.fromEntries(q.entries()));
    if ('status' in who) return who;
    const o = this.orders.get(outTradeNo);
    if (!o || !WechatPaySimulator.owns(o, who)) return this.error(404, 'ORDER_NOT_EXIST', '订单不存在');
    return this.signed(200, this.transaction(o));
  }

  private closeOrder(merchant: SimMerchant, outTradeNo: string, rawBody: string, partner: boolean): SimReply {
    let b: any;
    try {
      b = JSON.parse(rawBody);
    } catch {
      return this.error(400, 'PARAM_ERROR', '请求体不是 JSON');
    }
    const who = this.ownerOf(merchant, partner, b);
    if ('status' in who) return who;
    const o = this.orders.get(outTradeNo);
    if (!o || !WechatPaySimulator.owns(o, who)) return this.error(404, 'ORDER_NOT_EXIST', '订单不存在');
    // Closing a paid order fails; our adapter then queries and applies the payment. [U] exact code.
    if (o.trade_state === 'SUCCESS' || o.trade_state === 'REFUND')
      return this.error(400, 'ORDERPAID', '订单已支付');
    o.trade_state = 'CLOSED';
    return this.signed(204);
  }

  // ---- v2 payment code (micropay) ---------------------------------------------------------------------------
  //
  // Magic payment codes (18 digits; the first four decide): 1340 succeeds at once; 1341 answers USERPAYING and
  // succeeds after `micropayConfirmMs`; 1342 answers USERPAYING and the patient never confirms; 1343 fails
  // with NOTENOUGH; 1344 answers SYSTEMERROR although the payment went through. Other valid codes succeed.

  /** How long a 1341 code waits before the patient "confirms". */
  micropayConfirmMs = 1000;
  /** How many reverse calls answer recall=Y before the reverse goes through (tests set it). */
  reverseRecalls = 0;

  private v2Sign(fields: Record<string, string>, key: string, type = 'MD5'): string {
    const text = Object.keys(fields)
      .filter((k) => k !== 'sign' && fields[k] !== '' && fields[k] !== undefined)
      .sort()
      .map((k) => `${k}=${fields[k]}`)
      .join('&');
    const payload = `${text}&key=${key}`;
    const h =
      type === 'HMAC-SHA256' ? createHmac('sha256', key).update(payload) : createHash('md5').update(payload);
    return h.digest('hex').toUpperCase();
  }

  private v2Reply(
    merchant: SimMerchant | undefined,
    fields: Record<string, string | number | undefined>,
  ): SimReply {
    const out: Record<string, string> = { nonce_str: randomBytes(8).toString('hex') };
    for (const [k, v] of Object.entries(fields)) if (v !== undefined) out[k] = String(v);
    if (merchant) out.sign = this.v2Sign(out, merchant.apiV2Key);
    const xml = `<xml>${Object.entries(out)
      .map(([k, v]) => `<${k}><![CDATA[${v}]]></${k}>`)
      .join('')}</xml>`;
    return { status: 200, headers: { 'content-type': 'text/xml; charset=utf-8' }, body: xml };
  }

  private async v2(req: SimRequest): Promise<SimReply> {
    const fields: Record<string, string> = {};
    for (const m of req.body.matchAll(/<(\w+)>(?:<!\[CDATA\[([\s\S]*?)\]\]>|([^<]*))<\/\1>/g))
      fields[m[1]!] = m[2] ?? m[3] ?? '';
    const merchant = this.merchants.get(fields.mch_id ?? '');
    if (!merchant) return this.v2Reply(undefined, { return_code: 'FAIL', return_msg: 'mch_id 不存在' });
    if (!fields.sign || fields.sign !== this.v2Sign(fields, merchant.apiV2Key, fields.sign_type)) {
      return this.v2Reply(undefined, { return_code: 'FAIL', return_msg: '签名错误' });
    }
    if (!merchant.appIds.includes(fields.appid ?? '')) {
      return this.v2Reply(merchant, { return_code: 'FAIL', return_msg: 'appid 和 mch_id 不匹配' });
    }
    // Partner mode: the service provider (mch_id, whose key signed) acts for the sub-merchant sub_mch_id.
    const sub = fields.sub_mch_id || undefined;
    if (sub && !merchant.subMchIds?.includes(sub))
      return this.v2Reply(merchant, { return_code: 'FAIL', return_msg: '服务商未获得该子商户授权' });
    const who: OrderOwner = sub ? { mchid: sub, sp_mchid: merchant.mchId } : { mchid: merchant.mchId };
    const base = {
      return_code: 'SUCCESS',
      return_msg: 'OK',
      appid: fields.appid,
      mch_id: merchant.mchId,
      sub_mch_id: sub,
      sub_appid: sub ? fields.sub_appid || undefined : undefined,
    };
    const op =
      req.path === '/pay/micropay'
        ? 'micropay'
        : req.path === '/pay/orderquery'
          ? 'query'
          : req.path === COMMENTS_ROUTE
            ? 'comments'
            : 'reverse';
    if (op === 'comments') return this.commentsReply(merchant, who, fields);
    const fault = this.takeFault(op);
    if (fault === 'drop') return { status: -1 };
    if (fault === 'system_error' || fault === 'timeout') {
      return this.v2Reply(merchant, {
        ...base,
        result_code: 'FAIL',
        err_code: 'SYSTEMERROR',
        err_code_des: '系统超时',
      });
    }
    const fail = (err_code: string, err_code_des: string, extra: Record<string, string> = {}) =>
      this.v2Reply(merchant, { ...base, result_code: 'FAIL', err_code, err_code_des, ...extra });
    const timeEnd = (o: SimOrder) => o.success_time?.slice(0, 19).replace(/[-T:]/g, '');

    if (op === 'micropay') {
      const total = Number(fields.total_fee);
      if (!/^1[0-5]\d{16}$/.test(fields.auth_code ?? '')) return fail('AUTH_CODE_INVALID', '付款码无效');
      if (!Number.isInteger(total) || total <= 0 || !fields.out_trade_no || !fields.body)
        return fail('PARAM_ERROR', '参数错误');
      if (this.orders.has(fields.out_trade_no)) return fail('OUT_TRADE_NO_USED', '商户订单号重复');
      const magic = fields.auth_code!.slice(0, 4);
      const o: SimOrder = {
        mchid: who.mchid,
        sp_mchid: who.sp_mchid,
        sub_appid: base.sub_appid,
        appid: fields.appid!,
        out_trade_no: fields.out_trade_no,
        trade_type: 'MICROPAY',
        description: fields.body,
        notify_url: '',
        total,
        trade_state: 'USERPAYING',
        payer_openid: `oPayCode${fields.auth_code!.slice(-6)}`,
        notificationsSent: 0,
      };
      this.orders.set(o.out_trade_no, o);
      const succeed = () => {
        if (o.trade_state !== 'USERPAYING') return;
        o.trade_state = 'SUCCESS';
        o.transaction_id = `42000${Date.now()}${randomBytes(4).toString('hex')}`.slice(0, 28);
        o.success_time = beijingNow();
      };
      if (magic === '1343') {
        o.trade_state = 'PAYERROR';
        return fail('NOTENOUGH', '余额不足');
      }
      if (magic === '1341') {
        this.later(succeed, this.micropayConfirmMs);
        return fail('USERPAYING', '需要用户输入支付密码');
      }
      if (magic === '1342') return fail('USERPAYING', '需要用户输入支付密码');
      succeed();
      if (magic === '1344') return fail('SYSTEMERROR', '系统超时');
      return this.v2Reply(merchant, {
        ...base,
        result_code: 'SUCCESS',
        openid: o.payer_openid,
        trade_type: 'MICROPAY',
        bank_type: 'OTHERS',
        total_fee: o.total,
        cash_fee: o.total,
        transaction_id: o.transaction_id,
        out_trade_no: o.out_trade_no,
        time_end: timeEnd(o),
      });
    }
    const o = this.orders.get(fields.out_trade_no ?? '');
    if (!o || !WechatPaySimulator.owns(o, who)) return fail('ORDERNOTEXIST', '此交易订单号不存在');
    if (op === 'query') {
      return this.v2Reply(merchant, {
        ...base,
        result_code: 'SUCCESS',
        out_trade_no: o.out_trade_no,
        trade_state: o.trade_state,
        trade_type: o.trade_type,
        total_fee: o.total,
        transaction_id: o.transaction_id,
        time_end: timeEnd(o),
      });
    }
    // reverse: cancels the payment whatever its state (a paid one goes back to the patient)
    if (this.reverseRecalls > 0) {
      this.reverseRecalls--;
      return fail('SYSTEMERROR', '请重试', { recall: 'Y' });
    }
    o.trade_state = 'REVOKED';
    return this.v2Reply(merchant, { ...base, result_code: 'SUCCESS', recall: 'N' });
  }

  // ---- v2 order comments (订单评价) ------------------------------------------------------------------------------
  //
  // Comments patients left on paid transactions (set through the control API). The query is HMAC-SHA256 only;
  // success is plain text — the next offset, then `` `comment_time,`transaction_id,`stars,`comment `` lines —
  // and a failure is XML.

  /** By transaction_id: one comment per payment. */
  readonly comments = new Map<string, { stars: number; content: string; at: string }>();

  /** A patient comments on a paid order (`at` defaults to now). */
  comment(outTradeNo: string, c: { stars: number; content: string; at?: Date }): void {
    const o = this.orders.get(outTradeNo);
    if (!o?.transaction_id || !o.success_time) throw new Error(`order ${outTradeNo} was never paid`);
    if (!Number.isInteger(c.stars) || c.stars < 1 || c.stars > 5) throw new Error('stars is 1–5');
    const at = new Date((c.at ?? new Date()).getTime() + 8 * 3600_000).toISOString().slice(0, 19);
    // One line per comment on the wire: line breaks become spaces.
    this.comments.set(o.transaction_id, {
      stars: c.stars,
      content: c.content.replace(/[\r\n]+/g, ' '),
      at: at.replace('T', ' '),
    });
  }

  private commentsReply(merchant: SimMerchant, who: OrderOwner, f: Record<string, string>): SimReply {
    const fail = (msg: string) => this.v2Reply(undefined, { return_code: 'FAIL', return_msg: msg });
    if (f.sign_type !== 'HMAC-SHA256') return fail('签名类型错误，仅支持 HMAC-SHA256');
    const time = (t: string | undefined) =>
      /^\d{14}$/.test(t ?? '')
        ? `${t!.slice(0, 4)}-${t!.slice(4, 6)}-${t!.slice(6, 8)} ${t!.slice(8, 10)}:${t!.slice(10, 12)}:${t!.slice(12)}`
        : undefined;
    const begin = time(f.begin_time);
    const end = time(f.end_time);
    const offset = Number(f.offset ?? 'x');
    const limit = f.limit ? Number(f.limit) : 200;
    if (!begin || !end || begin >= end) return fail('begin_time/end_time 格式错误');
    if (!Number.isInteger(offset) || offset < 0) return fail('offset 错误');
    if (!Number.isInteger(limit) || limit < 1 || limit > 200) return fail('limit 取值 1–200');
    const fault = this.takeFault('comments');
    if (fault === 'drop') return { status: -1 };
    if (fault) return this.v2Reply(merchant, { return_code: 'FAIL', return_msg: 'SYSTEMERROR' });
    const owned = new Set(
      [...this.orders.values()]
        .filter((o) => o.transaction_id && WechatPaySimulator.owns(o, who))
        .map((o) => o.transaction_id!),
    );
    const all = [...this.comments.entries()]
      .filter(([tx, c]) => owned.has(tx) && c.at >= begin && c.at < end)
      .sort(([ta, a], [tb, b]) => a.at.localeCompare(b.at) || ta.localeCompare(tb));
    const page = all.slice(offset, offset + limit);
    const text = [
      String(offset + page.length),
      ...page.map(([tx, c]) => `\`${c.at},\`${tx},\`${c.stars},\`${c.content}`),
    ].join('\r\n');
    return { status: 200, headers: { 'content-type': 'text/plain; charset=utf-8' }, body: text };
  }

  // ---- refunds -------------------------------------------------------------------------------------------

  private refundView(r: SimRefund) {
    return {
      refund_id: r.refund_id,
      out_refund_no: r.out_refund_no,
      transaction_id: r.transaction_id,
      out_trade_no: r.out_trade_no,
      channel: 'ORIGINAL',
      user_received_account: '支付用户零钱',
      success_time: r.success_time,
      create_time: r.create_time,
      status: r.status,
      funds_account: 'AVAILABLE',
      amount: {
        total: r.total,
        refund: r.refund,
        payer_total: r.total,
        payer_refund: r.refund,
        settlement_refund: r.refund,
        discount_refund: 0,
        currency: 'CNY',
      },
    };
  }

  private createRefund(merchant: SimMerchant, rawBody: string): SimReply {
    let b: any;
    try {
      b = JSON.parse(rawBody);
    } catch {
      return this.error(400, 'PARAM_ERROR', '请求体不是 JSON');
    }
    if (typeof b.out_refund_no !== 'string' || !/^[0-9A-Za-z_\-|*@]{1,64}$/.test(b.out_refund_no))
      return this.error(400, 'PARAM_ERROR', 'out_refund_no 格式错误');
    const o =
      typeof b.out_trade_no === 'string'
        ? this.orders.get(b.out_trade_no)
        : [...this.orders.values()].find((x) => x.transaction_id === b.transaction_id);
    const who = this.ownerOf(
      merchant,
      typeof b.sub_mchid === 'string',
      b.sub_mchid ? { sp_mchid: merchant.mchId, sub_mchid: b.sub_mchid } : { mchid: merchant.mchId },
    );
    if ('status' in who) return who;
    if (!o || !WechatPaySimulator.owns(o, who)) return this.error(404, 'RESOURCE_NOT_EXISTS', '订单不存在');
    const refund = b.amount?.refund;
    if (!Number.isInteger(refund) || refund <= 0)
      return this.error(400, 'PARAM_ERROR', 'amount.refund 必须为正整数（分）');
    if (b.amount?.total !== o.total) return this.error(400, 'PARAM_ERROR', 'amount.total 与原订单金额不一致');
    const existing = this.refunds.get(b.out_refund_no);
    if (existing) {
      if (existing.refund !== refund || existing.out_trade_no !== o.out_trade_no)
        return this.error(400, 'INVALID_REQUEST', '退款单号重复且参数不一致');
      return this.signed(200, this.refundView(existing));
    }
    if (o.trade_state !== 'SUCCESS' && o.trade_state !== 'REFUND')
      return this.error(400, 'INVALID_REQUEST', '订单未支付，不能退款');
    const refunded = [...this.refunds.values()]
      .filter((r) => r.out_trade_no === o.out_trade_no && r.status !== 'CLOSED')
      .reduce((s, r) => s + r.refund, 0);
    if (refunded + refund > o.total) return this.error(400, 'NOT_ENOUGH', '订单可退金额不足');
    const r: SimRefund = {
      mchid: o.mchid,
      sp_mchid: o.sp_mchid,
      out_trade_no: o.out_trade_no,
      transaction_id: o.transaction_id,
      out_refund_no: b.out_refund_no,
      refund_id: `50300${Date.now()}${randomBytes(4).toString('hex')}`.slice(0, 29),
      notify_url: b.notify_url,
      reason: b.reason,
      refund,
      total: o.total,
      status: 'PROCESSING',
      create_time: beijingNow(),
    };
    this.refunds.set(r.out_refund_no, r);
    const behaviour = { ...this.refundBehaviour };
    if (behaviour.outcome !== 'stay') this.later(() => this.finishRefund(r, behaviour), 30);
    return this.signed(200, this.refundView(r));
  }

  /** Completes a PROCESSING refund as the bank would, and notifies. */
  finishRefund(r: SimRefund, behaviour: RefundBehaviour = { outcome: 'success', notify: 'deliver' }): void {
    if (r.status !== 'PROCESSING') return;
    r.status = behaviour.outcome === 'abnormal' ? 'ABNORMAL' : 'SUCCESS';
    if (r.status === 'SUCCESS') {
      r.success_time = beijingNow();
      const o = this.orders.get(r.out_trade_no);
      if (o) o.trade_state = 'REFUND';
    }
    if (behaviour.notify === 'deliver' && r.notify_url) {
      const resource = {
        ...(r.sp_mchid ? { sp_mchid: r.sp_mchid, sub_mchid: r.mchid } : { mchid: r.mchid }),
        out_trade_no: r.out_trade_no,
        transaction_id: r.transaction_id,
        out_refund_no: r.out_refund_no,
        refund_id: r.refund_id,
        refund_status: r.status,
        success_time: r.success_time,
        user_received_account: '支付用户零钱',
        amount: { total: r.total, refund: r.refund, payer_total: r.total, payer_refund: r.refund },
      };
      const n = this.encryptedNotification(
        r.sp_mchid ?? r.mchid,
        `REFUND.${r.status}`,
        '退款',
        'refund',
        resource,
      );
      void this.post(r.out_trade_no, r.notify_url, n, 0);
    }
  }

  private queryRefund(merchant: SimMerchant, refundNo: string): SimReply {
    const r = this.refunds.get(refundNo);
    if (!r || (r.sp_mchid ?? r.mchid) !== merchant.mchId)
      return this.error(404, 'RESOURCE_NOT_EXISTS', '退款单不存在');
    return this.signed(200, this.refundView(r));
  }

  // ---- daily trade bill (交易账单, bill_type=ALL) -----------------------------------------------------------
  //
  // Built from the payments and refunds this simulator processed, in WeChat's layout (protocols.md §1). Fees:
  // `feeRateBp` basis points of each amount, rounded half up to the fen per transaction; a refund returns the
  // fee of the refunded amount by the same rule, printed negative. The file is served once per request under
  // a token, valid 30 s, like the real download_url.

  /** Fee rate in basis points (60 = 0.60%, the usual rate for hospitals' self-pay). */
  feeRateBp = 60;
  private readonly billFiles = new Map<string, { mchId: string; bytes: Buffer; expires: number }>();

  /** The fee of one amount: rate × amount, rounded half up to the fen. */
  feeOf(amountFen: number): number {
    return Math.floor((amountFen * this.feeRateBp + 5000) / 10_000);
  }

  /** The ALL trade bill of one Beijing day for the merchant `mchId` (a service provider's covers its sub-merchants). */
  tradeBillFile(mchId: string, billDate: string, subMchId?: string): Buffer | undefined {
    const mine = (x: { mchid: string; sp_mchid?: string }) =>
      x.sp_mchid ? x.sp_mchid === mchId && (!subMchId || x.mchid === subMchId) : x.mchid === mchId;
    const yuan = (f: number) => fenToYuan(f);
    const fee = (f: number) => `${fenToYuan(f)}000`; // WeChat prints fees with five decimals
    const rate = `${fenToYuan(this.feeRateBp)}%`;
    const rows: { at: string; cells: string[] }[] = [];
    const sum = { settle: 0, refund: 0, fee: 0, order: 0, applied: 0 };
    const ids = (o: SimOrder) => [o.appid, o.sp_mchid ?? o.mchid, o.sp_mchid ? o.mchid : '0', ''];
    for (const o of this.orders.values()) {
      if (!mine(o) || !o.success_time?.startsWith(billDate) || !o.transaction_id) continue;
      const f = this.feeOf(o.total);
      sum.settle += o.total;
      sum.order += o.total;
      sum.fee += f;
      rows.push({
        at: o.success_time,
        cells: [
          o.success_time.slice(0, 19).replace('T', ' '),
          ...ids(o),
          o.transaction_id,
          o.out_trade_no,
          o.payer_openid ?? 'oSandboxPayer',
          o.trade_type,
          'SUCCESS',
          'OTHERS',
          'CNY',
          yuan(o.total),
          '0.00',
          '0',
          '0',
          '0.00',
          '0.00',
          '',
          '',
          o.description,
          '',
          fee(f),
          rate,
          yuan(o.total),
          '0.00',
          '',
        ],
      });
    }
    for (const r of this.refunds.values()) {
      const o = this.orders.get(r.out_trade_no);
      if (!o || !mine(r) || r.status !== 'SUCCESS' || !r.success_time?.startsWith(billDate)) continue;
      const f = this.feeOf(r.refund);
      sum.refund += r.refund;
      sum.applied += r.refund;
      sum.fee -= f;
      rows.push({
        at: r.success_time,
        cells: [
          r.success_time.slice(0, 19).replace('T', ' '),
          ...ids(o),
          r.transaction_id ?? '',
          r.out_trade_no,
          o.payer_openid ?? 'oSandboxPayer',
          o.trade_type,
          'REFUND',
          'OTHERS',
          'CNY',
          '0.00',
          '0.00',
          r.refund_id,
          r.out_refund_no,
          yuan(r.refund),
          '0.00',
          'ORIGINAL',
          'SUCCESS',
          o.description,
          '',
          fee(-f),
          rate,
          '0.00',
          yuan(r.refund),
          '',
        ],
      });
    }
    if (rows.length === 0) return undefined;
    rows.sort((a, b) => a.at.localeCompare(b.at));
    const header =
      '交易时间,公众账号ID,商户号,特约商户号,设备号,微信订单号,商户订单号,用户标识,交易类型,交易状态,付款银行,货币种类,' +
      '应结订单金额,代金券金额,微信退款单号,商户退款单号,退款金额,充值券退款金额,退款类型,退款状态,商品名称,商户数据包,' +
      '手续费,费率,订单金额,申请退款金额,费率备注';
    const summary = [
      String(rows.length),
      yuan(sum.settle),
      yuan(sum.refund),
      '0.00',
      fee(sum.fee),
      yuan(sum.order),
      yuan(sum.applied),
    ];
    const text = [
      header,
      ...rows.map((r) => r.cells.map((c) => `\`${c}`).join(',')),
      '总交易单数,应结订单总金额,退款总金额,充值券退款总金额,手续费总金额,订单总金额,申请退款总金额',
      summary.map((c) => `\`${c}`).join(','),
    ].join('\r\n');
    return Buffer.from(`\uFEFF${text}\r\n`, 'utf8');
  }

  private tradeBill(merchant: SimMerchant, q: URLSearchParams, fault?: FaultKind): SimReply {
    const billDate = q.get('bill_date') ?? '';
    if (!/^\d{4}-\d{2}-\d{2}$/.test(billDate)) return this.error(400, 'PARAM_ERROR', 'bill_date 格式错误');
    if ((q.get('bill_type') ?? 'ALL') !== 'ALL')
      return this.error(400, 'PARAM_ERROR', '沙箱仅支持 bill_type=ALL');
    const sub = q.get('sub_mchid') ?? undefined;
    if (sub && !merchant.subMchIds?.includes(sub))
      return this.error(403, 'NO_AUTH', '服务商未获得该子商户授权');
    const bytes = this.tradeBillFile(merchant.mchId, billDate, sub);
    if (!bytes) return this.error(400, 'NO_STATEMENT_EXIST', '要查询的账单不存在');
    return this.announceBill(merchant, bytes, fault);
  }

  // ---- daily fund-flow bill (资金账单, account_type=BASIC) -------------------------------------------------
  //
  // The basic account of a direct merchant, built from what this simulator processed: each payment in (交易)
  // and its fee out (扣除交易手续费), each refund out (退款) and its fee back (退回交易手续费), and at 23:59:59
  // of every day the balance withdrawn to the merchant's settlement bank account (提现) — a same-day
  // settlement, so a day's withdrawal is that day's net. The balance runs from 0 when the simulator started.
  // Same layout and serving as the trade bill (protocols.md §1).

  /** The BASIC fund-flow bill of one Beijing day for the direct merchant `mchId`, or undefined when empty. */
  fundFlowBillFile(mchId: string, billDate: string): Buffer | undefined {
    type Flow = {
      at: string;
      seq: number;
      businessNo: string;
      flowNo: string;
      name: string;
      type: string;
      dir: 'IN' | 'OUT';
      fen: number;
      voucher: string;
    };
    const flows: Flow[] = [];
    let seq = 0;
    const add = (f: Omit<Flow, 'seq'>) => {
      if (f.fen > 0) flows.push({ ...f, seq: seq++ });
    };
    for (const o of this.orders.values()) {
      if (o.sp_mchid || o.mchid !== mchId || !o.success_time || !o.transaction_id) continue;
      const at = o.success_time.slice(0, 19).replace('T', ' ');
      const base = { at, businessNo: o.transaction_id, voucher: o.transaction_id };
      add({ ...base, flowNo: `${o.transaction_id}01`, name: '交易', type: '交易', dir: 'IN', fen: o.total });
      add({
        ...base,
        flowNo: `${o.transaction_id}02`,
        name: '扣除交易手续费',
        type: '扣除交易手续费',
        dir: 'OUT',
        fen: this.feeOf(o.total),
      });
    }
    for (const r of this.refunds.values()) {
      if (r.sp_mchid || r.mchid !== mchId || r.status !== 'SUCCESS' || !r.success_time) continue;
      const at = r.success_time.slice(0, 19).replace('T', ' ');
      const base = { at, businessNo: r.refund_id, voucher: r.refund_id };
      add({ ...base, flowNo: `${r.refund_id}01`, name: '退款', type: '退款', dir: 'OUT', fen: r.refund });
      add({
        ...base,
        flowNo: `${r.refund_id}02`,
        name: '退回交易手续费',
        type: '退回交易手续费',
        dir: 'IN',
        fen: this.feeOf(r.refund),
      });
    }
    flows.sort((a, b) => a.at.localeCompare(b.at) || a.seq - b.seq);
    // Walk every day in order up to the bill date, withdrawing each day's closing balance.
    let balance = 0;
    const rows: string[][] = [];
    const totals = { inCount: 0, inFen: 0, outCount: 0, outFen: 0 };
    const emit = (f: Omit<Flow, 'seq'>) => {
      balance += f.dir === 'IN' ? f.fen : -f.fen;
      if (!f.at.startsWith(billDate)) return;
      if (f.dir === 'IN') {
        totals.inCount++;
        totals.inFen += f.fen;
      } else {
        totals.outCount++;
        totals.outFen += f.fen;
      }
      rows.push([
        f.at,
        f.businessNo,
        f.flowNo,
        f.name,
        f.type,
        f.dir === 'IN' ? '收入' : '支出',
        fenToYuan(f.fen),
        fenToYuan(balance),
        'system',
        '缺省',
        f.voucher,
      ]);
    };
    const withdraw = (day: string) => {
      if (balance <= 0) return;
      const no = `${day.replaceAll('-', '')}${mchId}`;
      emit({
        at: `${day} 23:59:59`,
        businessNo: `WD${no}`,
        flowNo: `WD${no}01`,
        name: '自动提现',
        type: '提现',
        dir: 'OUT',
        fen: balance,
        voucher: `WD${no}`,
      });
    };
    let day: string | undefined;
    for (const f of flows) {
      const d = f.at.slice(0, 10);
      if (d > billDate) break;
      if (day && d !== day) withdraw(day);
      day = d;
      emit(f);
    }
    if (day) withdraw(day);
    if (rows.length === 0) return undefined;
    const text = [
      '记账时间,微信支付业务单号,资金流水单号,业务名称,业务类型,收支类型,收支金额(元),账户结余(元),资金变更提交申请人,备注,业务凭证号',
      ...rows.map((r) => r.map((c) => `\`${c}`).join(',')),
      '资金流水总笔数,收入笔数,收入金额,支出笔数,支出金额',
      [
        String(rows.length),
        String(totals.inCount),
        fenToYuan(totals.inFen),
        String(totals.outCount),
        fenToYuan(totals.outFen),
      ]
        .map((c) => `\`${c}`)
        .join(','),
    ].join('\r\n');
    return Buffer.from(`\uFEFF${text}\r\n`, 'utf8');
  }

  private fundFlowBill(merchant: SimMerchant, q: URLSearchParams, fault?: FaultKind): SimReply {
    const billDate = q.get('bill_date') ?? '';
    if (!/^\d{4}-\d{2}-\d{2}$/.test(billDate)) return this.error(400, 'PARAM_ERROR', 'bill_date 格式错误');
    if ((q.get('account_type') ?? 'BASIC') !== 'BASIC')
      return this.error(400, 'PARAM_ERROR', '沙箱仅支持 account_type=BASIC');
    if (q.get('tar_type')) return this.error(400, 'PARAM_ERROR', '沙箱不支持 tar_type');
    const bytes = this.fundFlowBillFile(merchant.mchId, billDate);
    if (!bytes) return this.error(400, 'NO_STATEMENT_EXIST', '要查询的账单不存在');
    return this.announceBill(merchant, bytes, fault);
  }

  /** Keeps a bill file under a one-time token (30 s) and answers its signed download URL and SHA1. */
  private announceBill(merchant: SimMerchant, bytes: Buffer, fault?: FaultKind): SimReply {
    const hash = createHash('sha1').update(bytes).digest('hex');
    // corrupt_bill: the bytes served are not the ones hashed (a tampered or truncated download).
    const served =
      fault === 'corrupt_bill' ? Buffer.concat([bytes.subarray(0, -3), Buffer.from('9\r\n')]) : bytes;
    const token = randomBytes(24).toString('base64url');
    const now = Date.now();
    for (const [k, v] of this.billFiles) if (v.expires < now) this.billFiles.delete(k);
    this.billFiles.set(token, { mchId: merchant.mchId, bytes: served, expires: now + 30_000 });
    return this.signed(200, {
      hash_type: 'SHA1',
      hash_value: hash,
      download_url: `${this.url}/v3/billdownload/file?token=${token}`,
    });
  }

  /** The file itself: the request is signed (checked above), the reply is raw bytes with no signature. */
  private billFile(merchant: SimMerchant, q: URLSearchParams): SimReply {
    const f = this.billFiles.get(q.get('token') ?? '');
    if (!f || f.expires < Date.now() || f.mchId !== merchant.mchId)
      return this.error(400, 'PARAM_ERROR', '下载链接已失效');
    return {
      status: 200,
      headers: { 'content-type': 'application/octet-stream', 'content-length': String(f.bytes.length) },
      body: f.bytes,
    };
  }

  // ---- paying and notifying ------------------------------------------------------------------------------

  /**
   * Marks an order paid as the patient would and notifies. `notifyAmountFen` sends a notification whose
   * amount differs from the order (a misbehaving channel), while the order itself stays correct.
   */
  pay(
    outTradeNo: string,
    opts: {
      notify?: 'deliver' | 'drop' | 'duplicate';
      notifyAmountFen?: number;
      notifyTimestamp?: number;
      force?: boolean;
    } = {},
  ): SimOrder {
    const o = this.orders.get(outTradeNo);
    if (!o) throw new Error(`no such order ${outTradeNo}`);
    // `force` misbehaves like a channel whose close lost a race: a success after the order was closed.
    if (!opts.force && o.trade_state !== 'NOTPAY' && o.trade_state !== 'USERPAYING')
      throw new Error(`order is ${o.trade_state}`);
    o.trade_state = 'SUCCESS';
    o.transaction_id = `42000${Date.now()}${randomBytes(4).toString('hex')}`.slice(0, 28);
    o.success_time = new Date(Date.now() + 8 * 3600_000).toISOString().slice(0, 19) + '+08:00';
    const notification = this.buildNotification(o, opts.notifyAmountFen, opts.notifyTimestamp);
    o.lastNotification = notification;
    const mode = opts.notify ?? 'deliver';
    if (mode !== 'drop') void this.deliver(o, notification, 0);
    if (mode === 'duplicate') void this.deliver(o, notification, 0);
    return o;
  }

  /**
   * A TRANSACTION notification of the order as it stands, signed and encrypted but not sent and changing
   * nothing (security tests): `amountFen` overrides the amount, `timestamp` (unix seconds) the signed time.
   */
  notificationFor(outTradeNo: string, opts: { amountFen?: number; timestamp?: number } = {}) {
    const o = this.orders.get(outTradeNo);
    if (!o) throw new Error(`no such order ${outTradeNo}`);
    return this.buildNotification(o, opts.amountFen, opts.timestamp);
  }

  private buildNotification(o: SimOrder, amountOverride?: number, timestamp?: number) {
    const tx = this.transaction(o);
    if (amountOverride !== undefined)
      tx.amount = { ...tx.amount, total: amountOverride, payer_total: amountOverride };
    // Notifications go to whoever placed the order, encrypted with its APIv3 key: the service provider in partner mode.
    return this.encryptedNotification(
      o.sp_mchid ?? o.mchid,
      'TRANSACTION.SUCCESS',
      '支付成功',
      'transaction',
      tx,
      timestamp,
    );
  }

  /** A v3 notification: resource AES-256-GCM-encrypted with the merchant's APIv3 key, envelope RSA-signed. */
  private encryptedNotification(
    mchId: string,
    eventType: string,
    summary: string,
    originalType: string,
    resource: unknown,
    signedAt = Math.floor(Date.now() / 1000),
  ) {
    const merchant = this.merchants.get(mchId)!;
    const nonce = randomBytes(9).toString('base64url').slice(0, 12);
    const aad = originalType;
    const cipher = createCipheriv(
      'aes-256-gcm',
      Buffer.from(merchant.apiV3Key, 'ascii'),
      Buffer.from(nonce, 'ascii'),
    );
    cipher.setAAD(Buffer.from(aad, 'ascii'));
    const ciphertext = Buffer.concat([
      cipher.update(JSON.stringify(resource), 'utf8'),
      cipher.final(),
      cipher.getAuthTag(),
    ]).toString('base64');
    const body = JSON.stringify({
      id: `EV-${randomBytes(12).toString('hex')}`,
      create_time: beijingNow(),
      resource_type: 'encrypt-resource',
      event_type: eventType,
      summary,
      resource: {
        original_type: originalType,
        algorithm: 'AEAD_AES_256_GCM',
        ciphertext,
        associated_data: aad,
        nonce,
      },
    });
    const timestamp = String(signedAt);
    const hnonce = randomBytes(16).toString('hex');
    const headers = {
      'content-type': 'application/json',
      'Wechatpay-Timestamp': timestamp,
      'Wechatpay-Nonce': hnonce,
      'Wechatpay-Serial': this.opts.platformKeyId,
      'Wechatpay-Signature': this.sign(`${timestamp}\n${hnonce}\n${body}\n`),
      'Wechatpay-Signature-Type': 'WECHATPAY2-SHA256-RSA2048',
    };
    return { headers, body };
  }

  /** Delivers a payment notification; a non-2xx answer or no answer is retried on the configured curve. */
  async deliver(
    o: SimOrder,
    n: { headers: Record<string, string>; body: string },
    attempt: number,
  ): Promise<number | 'error'> {
    o.notificationsSent++;
    return this.post(o.out_trade_no, o.notify_url, n, attempt);
  }

  private async post(
    outTradeNo: string,
    url: string,
    n: { headers: Record<string, string>; body: string },
    attempt: number,
  ): Promise<number | 'error'> {
    let status: number | 'error';
    try {
      status = (await simPost(url, n.body, n.headers)).status;
    } catch {
      status = 'error';
    }
    this.deliveries.push({ outTradeNo, status });
    const ok = typeof status === 'number' && status >= 200 && status < 300;
    const delays = this.opts.notifyRetryDelaysMs ?? [];
    if (!ok && attempt < delays.length)
      this.later(() => void this.post(outTradeNo, url, n, attempt + 1), delays[attempt]!);
    return status;
  }

  private later(fn: (v?: unknown) => void, ms: number): void {
    const t = setTimeout(() => {
      this.timers.delete(t);
      fn();
    }, ms);
    t.unref();
    this.timers.add(t);
  }

  // ---- control API ------------------------------------------------------------------------------------

  private async control(req: SimRequest): Promise<SimReply | undefined> {
    const medIns = await this.medIns.control(req);
    if (medIns) return medIns;
    let m: RegExpExecArray | null;
    if ((m = /^\/sim\/cashier\/wechatpay\/([^/]+)$/.exec(req.path)) && req.method === 'GET')
      return this.cashier(decodeURIComponent(m[1]!), req.query.get('redirect_url'));
    if (!req.path.startsWith('/sim/wechatpay/')) return undefined;
    const body = req.body ? (JSON.parse(req.body) as Record<string, any>) : {};
    if ((m = /^\/sim\/wechatpay\/orders\/([^/]+)\/pay$/.exec(req.path)) && req.method === 'POST') {
      try {
        const o = this.pay(decodeURIComponent(m[1]!), body);
        return json(200, this.transaction(o));
      } catch (e) {
        return json(409, { code: 'NOT_PAYABLE', message: (e as Error).message });
      }
    }
    if ((m = /^\/sim\/wechatpay\/orders\/([^/]+)\/comment$/.exec(req.path)) && req.method === 'POST') {
      try {
        this.comment(decodeURIComponent(m[1]!), {
          stars: Number(body.stars),
          content: String(body.content ?? ''),
          at: body.at ? new Date(String(body.at)) : undefined,
        });
        return json(200, { ok: true });
      } catch (e) {
        return json(409, { code: 'NOT_COMMENTABLE', message: (e as Error).message });
      }
    }
    if ((m = /^\/sim\/wechatpay\/orders\/([^/]+)\/resend$/.exec(req.path)) && req.method === 'POST') {
      const o = this.orders.get(decodeURIComponent(m[1]!));
      if (!o?.lastNotification) return json(404, { code: 'NOT_FOUND', message: 'no notification to resend' });
      return json(200, { status: await this.deliver(o, o.lastNotification, Number.MAX_SAFE_INTEGER) });
    }
    if ((m = /^\/sim\/wechatpay\/orders\/([^/]+)$/.exec(req.path)) && req.method === 'GET') {
      const o = this.orders.get(decodeURIComponent(m[1]!));
      return o
        ? json(200, { ...this.transaction(o), notificationsSent: o.notificationsSent })
        : json(404, { code: 'NOT_FOUND', message: 'no such order' });
    }
    if (req.path === '/sim/wechatpay/faults' && req.method === 'POST') {
      this.injectFault(String(body.op ?? 'any'), body.fault as FaultKind, Number(body.count ?? 1));
      return json(200, { faults: this.faults });
    }
    return json(404, { code: 'NOT_FOUND', message: 'unknown control call' });
  }

  private cashier(outTradeNo: string, redirectUrl: string | null): SimReply {
    const o = this.orders.get(outTradeNo);
    const esc = (s: string) => s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
    const amount = o ? `${Math.floor(o.total / 100)}.${String(o.total % 100).padStart(2, '0')}` : '';
    // H5 payment: WeChat returns to redirect_url whatever happened; the merchant page must query the order.
    const back = redirectUrl && /^https?:\/\//.test(redirectUrl) ? JSON.stringify(redirectUrl) : 'null';
    const html = `<!doctype html><html lang="zh-CN"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1">
<title>微信支付（沙箱）</title><style>body{font-family:sans-serif;max-width:420px;margin:40px auto;text-align:center}
.amt{font-size:40px;margin:24px 0}button{font-size:18px;padding:12px 32px;margin:8px;border:0;border-radius:6px}
#pay{background:#07c160;color:#fff}#cancel{background:#eee;color:#333}#state{margin-top:16px;color:#666}</style></head><body>
<h2>微信支付 · 沙箱收银台</h2>${
      o
        ? `<div>${esc(o.description)}</div><div class="amt">¥${amount}</div>
<div>商户订单号 ${esc(o.out_trade_no)}</div><div id="state">状态：${o.trade_state}</div>
<button id="pay" ${o.trade_state === 'NOTPAY' ? '' : 'disabled'}>确认支付</button>
<button id="cancel">取消支付</button>
<script>const back=${back.replace(/</g, '\\u003c')};
document.getElementById('pay').onclick=async()=>{const r=await fetch(location.pathname.replace('/sim/cashier/wechatpay/','/sim/wechatpay/orders/')+'/pay',{method:'POST',body:'{}'});
document.getElementById('state').textContent=r.ok?'状态：SUCCESS，已通知商户':'支付失败：'+(await r.text());document.getElementById('pay').disabled=true;
if(back)setTimeout(()=>location.assign(back),800);};
document.getElementById('cancel').onclick=()=>{document.getElementById('state').textContent='已取消';if(back)location.assign(back);};</script>`
        : '<p>订单不存在</p>'
    }
</body></html>`;
    return { status: 200, headers: { 'content-type': 'text/html; charset=utf-8' }, body: html };
  }
}
