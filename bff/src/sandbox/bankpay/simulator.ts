import { randomBytes } from 'node:crypto';
import { sm2, sm3 } from 'sm-crypto-v2';
import { json, simPost, startSimServer, type RunningSim, type SimReply, type SimRequest } from '../harness';

/**
 * Bank aggregator simulator (聚合支付) implementing docs/bank-aggregator-contract.md, written apart from the
 * adapter so that it checks it independently: it verifies our SM2 request signatures (bad, expired and
 * replayed requests are refused), signs every reply and notification with the bank's key, keeps orders and
 * refunds, sends notifications with retries, and serves the T+1 statement file with a signed SM3 digest.
 *
 * Payment codes (trade.micropay; the first four digits decide): 6250… pays at once; 6251… answers
 * USERPAYING and pays after `micropayConfirmMs`; 6252… waits forever; 6253… fails (INSUFFICIENT_BALANCE);
 * 6254… answers SYSTEM_ERROR although it paid. Other well-formed codes pay at once: WeChat (10–15, 18
 * digits), Alipay (25–30, 16–24 digits), UnionPay (62, 19 digits).
 *
 * Control API (unsigned, loopback only):
 * - `POST /sim/bankpay/orders/{outTradeNo}/pay` `{ payMethod?, notify?: 'deliver'|'drop'|'duplicate'|'delay'|'tamper', delayMs?, notifyAmountFen?, force? }`
 * - `POST /sim/bankpay/orders/{outTradeNo}/resend` re-sends the last notification of the order (freshly signed)
 * - `GET  /sim/bankpay/orders/{outTradeNo}` the simulator's view of an order
 * - `POST /sim/bankpay/faults` `{ op: 'create'|'query'|'close'|'reverse'|'refund'|'refund_query'|'statement'|'any'|<method>, fault: 'timeout'|'late_reply'|'system_error'|'drop', count? }`
 * - `POST /sim/bankpay/refunds` `{ outcome?: 'success'|'fail'|'abnormal'|'stay', notify?: 'deliver'|'drop' }` how the next refunds end
 * - `POST /sim/bankpay/statements` `{ sameDay?, corrupt?, badSummary? }` statement behaviour
 * - `GET  /sim/cashier/bankpay/{outTradeNo}` the aggregated cashier page a patient's QR scan opens
 */

/** GM/T 0009 default signer id. */
const USER_ID = '1234567812345678';
const WINDOW_SECONDS = 300;
const METHODS = new Set([
  'trade.precreate',
  'trade.micropay',
  'trade.query',
  'trade.close',
  'trade.reverse',
  'refund.apply',
  'refund.query',
  'statement.query',
]);
/** Short names for faults, as the other simulators use. */
const FAULT_ALIASES: Record<string, string[]> = {
  create: ['trade.precreate', 'trade.micropay'],
  query: ['trade.query'],
  close: ['trade.close'],
  reverse: ['trade.reverse'],
  refund: ['refund.apply'],
  refund_query: ['refund.query'],
  statement: ['statement.query'],
};
const REQUEST_FIELDS = [
  'appId',
  'merchantNo',
  'method',
  'version',
  'signType',
  'keyId',
  'timestamp',
  'nonce',
  'sign',
];

/** The contract's canonical string, written here independently of the adapter. */
export function simCanonical(env: Record<string, string>): string {
  return Object.keys(env)
    .filter((k) => k !== 'sign' && env[k] !== '' && typeof env[k] === 'string')
    .sort()
    .map((k) => `${k}=${env[k]}`)
    .join('&');
}

const bytes = (s: string) => new TextEncoder().encode(s);
/** Beijing local time as the statement prints it. */
const bjLocal = (d: Date) =>
  new Date(d.getTime() + 8 * 3600_000).toISOString().slice(0, 19).replace('T', ' ');
const bjRfc3339 = (d: Date) => `${new Date(d.getTime() + 8 * 3600_000).toISOString().slice(0, 19)}+08:00`;
const bjDate = (d: Date) => new Date(d.getTime() + 8 * 3600_000).toISOString().slice(0, 10);
/** No & or = outside bizContent (contract §3). */
const clean = (s: string) => s.replace(/[&=]/g, ' ');

export interface SimBankMerchant {
  appId: string;
  merchantNo: string;
  /** Id of the merchant's registered public key. */
  keyId: string;
  publicKeyHex: string;
}

export interface BankPaySimOptions {
  port: number;
  bankKeyId: string;
  bankPrivateKeyHex: string;
  /** Delays between notification attempts after a failed delivery. */
  notifyRetryDelaysMs?: number[];
}

type TradeStatus = 'NOTPAY' | 'USERPAYING' | 'SUCCESS' | 'REFUND' | 'CLOSED' | 'REVERSED' | 'PAYERROR';
type PayMethod = 'WECHAT' | 'ALIPAY' | 'UNIONPAY';

export interface BankOrder {
  appId: string;
  merchantNo: string;
  outTradeNo: string;
  tradeType: 'NATIVE' | 'H5' | 'MICROPAY';
  amountFen: number;
  subject: string;
  notifyUrl: string;
  expireTime?: string;
  tradeStatus: TradeStatus;
  bankTradeNo: string;
  payMethod?: PayMethod;
  /** When the payment succeeded (kept after a reverse or refund: the statement still shows it). */
  paidAt?: Date;
  /** When a paid order was reversed (money back to the payer). */
  reversedAt?: Date;
  qrCode?: string;
  payUrl?: string;
  failCode?: string;
  /** The last payment notification, re-signed at every delivery. */
  lastNotification?: { notifyId: string; notifyType: string; biz: Record<string, unknown> };
  notificationsSent: number;
}

export interface BankRefund {
  appId: string;
  merchantNo: string;
  outTradeNo: string;
  bankTradeNo: string;
  outRefundNo: string;
  bankRefundNo: string;
  refundAmountFen: number;
  reason: string;
  notifyUrl?: string;
  refundStatus: 'PROCESSING' | 'SUCCESS' | 'FAIL' | 'ABNORMAL';
  createdAt: Date;
  finishedAt?: Date;
  lastNotification?: { notifyId: string; notifyType: string; biz: Record<string, unknown> };
}

type NotifyMode = 'deliver' | 'drop' | 'duplicate' | 'delay' | 'tamper';
type FaultKind = 'timeout' | 'late_reply' | 'system_error' | 'drop';

export class BankPaySimulator {
  readonly merchants = new Map<
    string,
    SimBankMerchant & { point: ReturnType<typeof sm2.precomputePublicKey> }
  >();
  readonly orders = new Map<string, BankOrder>();
  readonly refunds = new Map<string, BankRefund>();
  /** Every notification attempt: what, and the status our endpoint answered. */
  readonly deliveries: {
    notifyId: string;
    outTradeNo: string;
    status: number | 'error';
    tampered: boolean;
  }[] = [];
  /** Retry curve after a failed delivery; tests shorten it. */
  notifyRetryDelaysMs: number[];
  /** How long a 6251… code waits before the payer confirms. */
  micropayConfirmMs = 1000;
  /** How many reverse calls answer recall=Y before the reverse goes through. */
  reverseRecalls = 0;
  /** Applied to refunds as they are created. */
  refundBehaviour: { outcome: 'success' | 'fail' | 'abnormal' | 'stay'; notify: 'deliver' | 'drop' } = {
    outcome: 'success',
    notify: 'deliver',
  };
  /** Statement behaviour: serve today's file before the day is over; corrupt the bytes; a wrong TOTAL. */
  statement = { sameDay: false, corrupt: false, badSummary: false };
  /** Fee the bank keeps on a payment, in basis points (refunds return no fee). */
  feeRateBp = 30;
  /** Sign replies with a key that is not the bank's (a forged gateway). */
  forgeReplies = false;

  private readonly bankPublicKeyHex: string;
  private forgedKey?: { privateKey: string; publicKey: string };
  private readonly nonces = new Map<string, number>();
  private faults: { op: string; fault: FaultKind; count: number }[] = [];
  private readonly files = new Map<string, { content: Buffer; expires: number }>();
  private readonly timers = new Set<NodeJS.Timeout>();
  private server?: RunningSim;
  private seq = 0;

  constructor(private readonly opts: BankPaySimOptions) {
    this.bankPublicKeyHex = sm2.getPublicKeyFromPrivateKey(opts.bankPrivateKeyHex);
    this.notifyRetryDelaysMs = opts.notifyRetryDelaysMs ?? [];
  }

  get url(): string {
    if (!this.server) throw new Error('simulator not started');
    return this.server.url;
  }

  addMerchant(m: SimBankMerchant): void {
    this.merchants.set(m.appId, { ...m, point: sm2.precomputePublicKey(m.publicKeyHex) });
  }

  async start(): Promise<this> {
    this.server = await startSimServer('bankpay', this.opts.port, [
      (r) => this.control(r),
      (r) => this.download(r),
      (r) => this.api(r),
    ]);
    return this;
  }

  async close(): Promise<void> {
    for (const t of this.timers) clearTimeout(t);
    this.timers.clear();
    await this.server?.close();
  }

  injectFault(op: string, fault: FaultKind, count = 1): void {
    this.faults.push({ op, fault, count });
  }

  private takeFault(method: string): FaultKind | undefined {
    const f = this.faults.find(
      (x) => x.count > 0 && (x.op === 'any' || x.op === method || FAULT_ALIASES[x.op]?.includes(method)),
    );
    if (!f) return undefined;
    f.count--;
    if (f.count === 0) this.faults = this.faults.filter((x) => x !== f);
    return f.fault;
  }

  protected later(fn: () => void, ms: number): void {
    const t = setTimeout(() => {
      this.timers.delete(t);
      fn();
    }, ms);
    t.unref();
    this.timers.add(t);
  }

  protected id(prefix: string): string {
    this.seq = (this.seq + 1) % 100000;
    return `${prefix}${bjLocal(new Date()).replace(/\D/g, '')}${String(this.seq).padStart(5, '0')}${randomBytes(3).toString('hex')}`;
  }

  // ---- signing ------------------------------------------------------------------------------------------

  private sign(env: Record<string, string>): string {
    let priv = this.opts.bankPrivateKeyHex;
    let pub = this.bankPublicKeyHex;
    if (this.forgeReplies) {
      this.forgedKey ??= sm2.generateKeyPairHex();
      priv = this.forgedKey.privateKey;
      pub = this.forgedKey.publicKey;
    }
    const hex = sm2.doSignature(bytes(simCanonical(env)), priv, {
      hash: true,
      userId: USER_ID,
      publicKey: pub,
    });
    return Buffer.from(hex, 'hex').toString('base64');
  }

  /** A reply envelope: every reply is signed, refusals included. */
  protected reply(
    req: Partial<Record<string, string>>,
    code: string,
    message: string,
    biz?: Record<string, unknown>,
  ): SimReply {
    const env: Record<string, string> = {
      appId: req.appId ?? '',
      merchantNo: req.merchantNo ?? '',
      method: req.method ?? '',
      version: '1.0',
      signType: 'SM2',
      keyId: this.opts.bankKeyId,
      timestamp: String(Math.floor(Date.now() / 1000)),
      nonce: randomBytes(16).toString('hex'),
      requestNonce: req.nonce ?? '',
      code,
      message: clean(message),
    };
    if (biz) env.bizContent = JSON.stringify(biz);
    for (const k of Object.keys(env)) if (env[k] === '') delete env[k];
    env.sign = this.sign(env);
    return json(200, env);
  }

  /** Checks a request envelope: format, merchant, key, signature, then timestamp and nonce (in that order). */
  private authenticate(
    req: SimRequest,
    method: string,
  ):
    | { env: Record<string, string>; merchant: SimBankMerchant; biz: Record<string, any> }
    | { error: SimReply } {
    let env: Record<string, unknown>;
    try {
      env = JSON.parse(req.body) as Record<string, unknown>;
    } catch {
      return { error: this.reply({ method }, 'PARAM_ERROR', '请求体不是 JSON') };
    }
    if (!env || typeof env !== 'object' || Array.isArray(env))
      return { error: this.reply({ method }, 'PARAM_ERROR', '请求体不是 JSON 对象') };
    const echo: Record<string, string> = {};
    for (const k of ['appId', 'merchantNo', 'method', 'nonce'])
      if (typeof env[k] === 'string' && !/[&=]/.test(env[k])) echo[k] = env[k];
    echo.method ??= method;
    const bad = Object.entries(env).find(
      ([k, v]) => typeof v !== 'string' || (k !== 'bizContent' && k !== 'sign' && /[&=]/.test(v)),
    );
    if (bad) return { error: this.reply(echo, 'PARAM_ERROR', `字段 ${bad[0]} 格式错误`) };
    const e = env as Record<string, string>;
    const missing = REQUEST_FIELDS.filter((k) => !e[k]);
    if (missing.length) return { error: this.reply(echo, 'PARAM_ERROR', `缺少字段 ${missing.join(',')}`) };
    if (e.method !== method) return { error: this.reply(echo, 'PARAM_ERROR', 'method 与请求路径不一致') };
    if (e.version !== '1.0') return { error: this.reply(echo, 'PARAM_ERROR', '不支持的版本') };
    const merchant = this.merchants.get(e.appId!);
    if (!merchant) return { error: this.reply(echo, 'APP_NOT_FOUND', `应用 ${e.appId} 不存在`) };
    if (merchant.merchantNo !== e.merchantNo)
      return { error: this.reply(echo, 'MERCHANT_MISMATCH', '商户号与应用不匹配') };
    if (e.signType !== 'SM2' || e.keyId !== merchant.keyId)
      return { error: this.reply(echo, 'SIGN_ERROR', '签名类型或密钥编号错误') };
    const raw = Buffer.from(e.sign!, 'base64');
    let ok = false;
    if (raw.length === 64 && raw.toString('base64') === e.sign) {
      try {
        ok = sm2.doVerifySignature(bytes(simCanonical(e)), raw.toString('hex'), merchant.point, {
          hash: true,
          userId: USER_ID,
        });
      } catch {
        ok = false;
      }
    }
    if (!ok) return { error: this.reply(echo, 'SIGN_ERROR', '验签失败') };
    const ts = Number(e.timestamp);
    if (!/^\d{1,12}$/.test(e.timestamp!) || Math.abs(Date.now() / 1000 - ts) > WINDOW_SECONDS)
      return { error: this.reply(echo, 'TIMESTAMP_EXPIRED', '请求时间戳超出 300 秒') };
    if (!/^[0-9A-Za-z]{16,64}$/.test(e.nonce!))
      return { error: this.reply(echo, 'PARAM_ERROR', 'nonce 格式错误') };
    const nonceKey = `${e.appId}:${e.nonce}`;
    const now = Date.now();
    if ((this.nonces.get(nonceKey) ?? 0) > now)
      return { error: this.reply(echo, 'NONCE_REPLAYED', '重复的请求随机串') };
    this.nonces.set(nonceKey, now + 2 * WINDOW_SECONDS * 1000);
    if (this.nonces.size > 50_000) for (const [k, exp] of this.nonces) if (exp <= now) this.nonces.delete(k);
    let biz: Record<string, any> = {};
    if (e.bizContent) {
      try {
        biz = JSON.parse(e.bizContent) as Record<string, any>;
      } catch {
        return { error: this.reply(echo, 'PARAM_ERROR', 'bizContent 不是 JSON') };
      }
      if (!biz || typeof biz !== 'object' || Array.isArray(biz))
        return { error: this.reply(echo, 'PARAM_ERROR', 'bizContent 不是 JSON 对象') };
    }
    return { env: e, merchant, biz };
  }

  // ---- the signed API ----------------------------------------------------------------------------------

  /** Whether `method` is one of this bank's API methods (subclasses add their own). */
  protected knownMethod(method: string): boolean {
    return METHODS.has(method);
  }

  private async api(req: SimRequest): Promise<SimReply | undefined> {
    const m = /^\/api\/v1\/([a-z]+\.[a-z]+)$/.exec(req.path);
    if (!m) return undefined;
    const method = m[1]!;
    if (req.method !== 'POST' || !this.knownMethod(method))
      return this.reply({ method }, 'METHOD_NOT_FOUND', `接口 ${method} 不存在`);
    const auth = this.authenticate(req, method);
    if ('error' in auth) return auth.error;
    const run = () => this.handle(method, auth.env, auth.merchant, auth.biz);
    const fault = this.takeFault(method);
    if (fault === 'drop') return { status: -1 };
    if (fault === 'system_error') return this.reply(auth.env, 'SYSTEM_ERROR', '系统繁忙，请稍后重试');
    if (fault === 'timeout') {
      // Held past any sane client timeout and not processed.
      await new Promise<void>((r) => this.later(r, 15_000));
      return this.reply(auth.env, 'SYSTEM_ERROR', '系统超时');
    }
    if (fault === 'late_reply') {
      const reply = run(); // processed…
      await new Promise<void>((r) => this.later(r, 15_000)); // …but answered after the caller gave up
      return reply;
    }
    return run();
  }

  protected handle(
    method: string,
    env: Record<string, string>,
    merchant: SimBankMerchant,
    b: Record<string, any>,
  ): SimReply {
    const fail = (code: string, message: string) => this.reply(env, code, message);
    const ok = (biz: Record<string, unknown>) => this.reply(env, 'SUCCESS', '成功', biz);
    const own = (o: BankOrder | undefined) => (o && o.appId === merchant.appId ? o : undefined);
    switch (method) {
      case 'trade.precreate':
        return this.precreate(merchant, b, env);
      case 'trade.micropay':
        return this.micropay(merchant, b, env);
      case 'trade.query': {
        const o = own(this.orders.get(String(b.outTradeNo ?? '')));
        return o ? ok(this.tradeView(o)) : fail('ORDER_NOT_EXIST', '订单不存在');
      }
      case 'trade.close': {
        const o = own(this.orders.get(String(b.outTradeNo ?? '')));
        if (!o) return fail('ORDER_NOT_EXIST', '订单不存在');
        if (o.tradeStatus === 'SUCCESS' || o.tradeStatus === 'REFUND')
          return fail('ORDER_PAID', '订单已支付');
        if (o.tradeStatus === 'CLOSED' || o.tradeStatus === 'REVERSED')
          return fail('ORDER_CLOSED', '订单已关闭');
        o.tradeStatus = 'CLOSED';
        return ok({ outTradeNo: o.outTradeNo, tradeStatus: o.tradeStatus });
      }
      case 'trade.reverse': {
        const o = own(this.orders.get(String(b.outTradeNo ?? '')));
        if (!o) return fail('ORDER_NOT_EXIST', '订单不存在');
        if (o.tradeType !== 'MICROPAY') return fail('TRADE_TYPE_ERROR', '仅付款码交易可撤销');
        if (this.reverseRecalls > 0) {
          this.reverseRecalls--;
          return ok({ outTradeNo: o.outTradeNo, tradeStatus: o.tradeStatus, recall: 'Y' });
        }
        if (o.tradeStatus === 'REFUND') return fail('ORDER_REFUNDED', '订单已退款，不能撤销');
        if (o.tradeStatus === 'SUCCESS') o.reversedAt = new Date(); // the money goes back to the payer
        o.tradeStatus = 'REVERSED';
        return ok({ outTradeNo: o.outTradeNo, tradeStatus: o.tradeStatus, recall: 'N' });
      }
      case 'refund.apply':
        return this.refundApply(merchant, b, env);
      case 'refund.query': {
        const r = this.refunds.get(String(b.outRefundNo ?? ''));
        if (!r || r.appId !== merchant.appId || (b.outTradeNo && b.outTradeNo !== r.outTradeNo))
          return fail('REFUND_NOT_EXIST', '退款单不存在');
        return ok(this.refundView(r));
      }
      case 'statement.query':
        return this.statementQuery(merchant, b, env);
      default:
        return fail('METHOD_NOT_FOUND', '接口不存在');
    }
  }

  protected tradeView(o: BankOrder): Record<string, unknown> {
    return {
      merchantNo: o.merchantNo,
      outTradeNo: o.outTradeNo,
      bankTradeNo: o.bankTradeNo,
      tradeType: o.tradeType,
      tradeStatus: o.tradeStatus,
      amountFen: o.amountFen,
      payMethod: o.payMethod,
      finishedAt: o.paidAt ? bjRfc3339(o.paidAt) : undefined,
      failCode: o.failCode,
    };
  }

  private static newOrderFields(b: Record<string, any>): string | undefined {
    if (typeof b.outTradeNo !== 'string' || !/^[0-9A-Za-z_-]{6,32}$/.test(b.outTradeNo))
      return 'outTradeNo 格式错误';
    if (!Number.isSafeInteger(b.amountFen) || b.amountFen <= 0) return 'amountFen 必须为正整数（分）';
    if (b.currency !== 'CNY') return 'currency 仅支持 CNY';
    if (typeof b.subject !== 'string' || !b.subject) return '缺少 subject';
    if (typeof b.notifyUrl !== 'string' || !/^https?:\/\//.test(b.notifyUrl)) return 'notifyUrl 格式错误';
    return undefined;
  }

  private precreate(
    merchant: SimBankMerchant,
    b: Record<string, any>,
    env: Record<string, string>,
  ): SimReply {
    const bad = BankPaySimulator.newOrderFields(b);
    if (bad) return this.reply(env, 'PARAM_ERROR', bad);
    if (b.tradeType !== 'NATIVE' && b.tradeType !== 'H5')
      return this.reply(env, 'PARAM_ERROR', 'tradeType 仅支持 NATIVE / H5');
    const existing = this.orders.get(b.outTradeNo);
    if (existing) {
      // The same order again (a retried call) gets the same answer; anything else is a reused number.
      if (
        existing.appId !== merchant.appId ||
        existing.amountFen !== b.amountFen ||
        existing.tradeType !== b.tradeType
      )
        return this.reply(env, 'OUT_TRADE_NO_USED', '商户订单号重复');
      if (existing.tradeStatus === 'SUCCESS' || existing.tradeStatus === 'REFUND')
        return this.reply(env, 'ORDER_PAID', '订单已支付');
      if (existing.tradeStatus === 'CLOSED') return this.reply(env, 'ORDER_CLOSED', '订单已关闭');
    }
    const cashier = `${this.url}/sim/cashier/bankpay/${encodeURIComponent(b.outTradeNo)}`;
    const o: BankOrder = existing ?? {
      appId: merchant.appId,
      merchantNo: merchant.merchantNo,
      outTradeNo: b.outTradeNo,
      tradeType: b.tradeType,
      amountFen: b.amountFen,
      subject: b.subject,
      notifyUrl: b.notifyUrl,
      expireTime: typeof b.expireTime === 'string' ? b.expireTime : undefined,
      tradeStatus: 'NOTPAY',
      bankTradeNo: this.id('BK'),
      // The aggregated QR opens the bank's cashier, where any wallet can pay.
      qrCode: cashier,
      payUrl: cashier,
      notificationsSent: 0,
    };
    this.orders.set(o.outTradeNo, o);
    return this.reply(env, 'SUCCESS', '成功', {
      merchantNo: o.merchantNo,
      outTradeNo: o.outTradeNo,
      bankTradeNo: o.bankTradeNo,
      tradeType: o.tradeType,
      ...(o.tradeType === 'NATIVE' ? { qrCode: o.qrCode } : { payUrl: o.payUrl }),
    });
  }

  private static payMethodOf(code: string): PayMethod | undefined {
    if (/^1[0-5]\d{16}$/.test(code)) return 'WECHAT';
    if (/^(2[5-9]|30)\d{14,22}$/.test(code)) return 'ALIPAY';
    if (/^62\d{17}$/.test(code)) return 'UNIONPAY';
    return undefined;
  }

  private micropay(merchant: SimBankMerchant, b: Record<string, any>, env: Record<string, string>): SimReply {
    const bad = BankPaySimulator.newOrderFields(b);
    if (bad) return this.reply(env, 'PARAM_ERROR', bad);
    const code = typeof b.authCode === 'string' ? b.authCode : '';
    const payMethod = BankPaySimulator.payMethodOf(code);
    if (!payMethod) return this.reply(env, 'AUTH_CODE_INVALID', '付款码无效');
    if (this.orders.has(b.outTradeNo)) return this.reply(env, 'OUT_TRADE_NO_USED', '商户订单号重复');
    const o: BankOrder = {
      appId: merchant.appId,
      merchantNo: merchant.merchantNo,
      outTradeNo: b.outTradeNo,
      tradeType: 'MICROPAY',
      amountFen: b.amountFen,
      subject: b.subject,
      notifyUrl: b.notifyUrl,
      tradeStatus: 'USERPAYING',
      bankTradeNo: this.id('BK'),
      payMethod,
      notificationsSent: 0,
    };
    this.orders.set(o.outTradeNo, o);
    const magic = code.slice(0, 4);
    if (magic === '6253') {
      o.tradeStatus = 'PAYERROR';
      o.failCode = 'INSUFFICIENT_BALANCE';
      return this.reply(env, 'SUCCESS', '成功', { ...this.tradeView(o), failMessage: '余额不足' });
    }
    if (magic === '6251')
      this.later(() => {
        if (o.tradeStatus === 'USERPAYING') this.settle(o, {}); // unless reversed meanwhile
      }, this.micropayConfirmMs);
    if (magic === '6251' || magic === '6252') return this.reply(env, 'SUCCESS', '成功', this.tradeView(o));
    this.settle(o, {});
    if (magic === '6254') return this.reply(env, 'SYSTEM_ERROR', '系统超时');
    return this.reply(env, 'SUCCESS', '成功', this.tradeView(o));
  }

  // ---- refunds -----------------------------------------------------------------------------------------

  private refundView(r: BankRefund): Record<string, unknown> {
    return {
      merchantNo: r.merchantNo,
      outTradeNo: r.outTradeNo,
      bankTradeNo: r.bankTradeNo,
      outRefundNo: r.outRefundNo,
      bankRefundNo: r.bankRefundNo,
      refundAmountFen: r.refundAmountFen,
      refundStatus: r.refundStatus,
      finishedAt: r.finishedAt ? bjRfc3339(r.finishedAt) : undefined,
    };
  }

  private refundApply(
    merchant: SimBankMerchant,
    b: Record<string, any>,
    env: Record<string, string>,
  ): SimReply {
    const fail = (code: string, message: string) => this.reply(env, code, message);
    if (typeof b.outRefundNo !== 'string' || !/^[0-9A-Za-z_-]{6,64}$/.test(b.outRefundNo))
      return fail('PARAM_ERROR', 'outRefundNo 格式错误');
    if (!Number.isSafeInteger(b.refundAmountFen) || b.refundAmountFen <= 0)
      return fail('PARAM_ERROR', 'refundAmountFen 必须为正整数（分）');
    const o = this.orders.get(String(b.outTradeNo ?? ''));
    if (!o || o.appId !== merchant.appId) return fail('ORDER_NOT_EXIST', '订单不存在');
    if (b.totalAmountFen !== o.amountFen) return fail('PARAM_ERROR', 'totalAmountFen 与原订单金额不一致');
    const existing = this.refunds.get(b.outRefundNo);
    if (existing) {
      if (existing.outTradeNo !== o.outTradeNo || existing.refundAmountFen !== b.refundAmountFen)
        return fail('OUT_REFUND_NO_USED', '退款单号重复且参数不一致');
      return this.reply(env, 'SUCCESS', '成功', this.refundView(existing));
    }
    if (o.tradeStatus !== 'SUCCESS' && o.tradeStatus !== 'REFUND')
      return fail('ORDER_NOT_PAID', '订单未支付，不能退款');
    const refunded = [...this.refunds.values()]
      .filter((r) => r.outTradeNo === o.outTradeNo && r.refundStatus !== 'FAIL')
      .reduce((s, r) => s + r.refundAmountFen, 0);
    if (refunded + b.refundAmountFen > o.amountFen)
      return fail('REFUND_AMOUNT_EXCEEDED', '退款金额超过可退金额');
    const r: BankRefund = {
      appId: merchant.appId,
      merchantNo: merchant.merchantNo,
      outTradeNo: o.outTradeNo,
      bankTradeNo: o.bankTradeNo,
      outRefundNo: b.outRefundNo,
      bankRefundNo: this.id('RF'),
      refundAmountFen: b.refundAmountFen,
      reason: typeof b.reason === 'string' ? b.reason : '',
      notifyUrl: typeof b.notifyUrl === 'string' ? b.notifyUrl : undefined,
      refundStatus: 'PROCESSING',
      createdAt: new Date(),
    };
    this.refunds.set(r.outRefundNo, r);
    const behaviour = { ...this.refundBehaviour };
    if (behaviour.outcome !== 'stay') this.later(() => this.finishRefund(r, behaviour), 30);
    return this.reply(env, 'SUCCESS', '成功', this.refundView(r));
  }

  /** Ends a PROCESSING refund as the bank's back office would, and notifies. */
  finishRefund(
    r: BankRefund,
    behaviour: { outcome: 'success' | 'fail' | 'abnormal' | 'stay'; notify: 'deliver' | 'drop' } = {
      outcome: 'success',
      notify: 'deliver',
    },
  ): void {
    if (r.refundStatus !== 'PROCESSING' || behaviour.outcome === 'stay') return;
    r.refundStatus =
      behaviour.outcome === 'fail' ? 'FAIL' : behaviour.outcome === 'abnormal' ? 'ABNORMAL' : 'SUCCESS';
    r.finishedAt = new Date();
    if (r.refundStatus === 'SUCCESS') {
      const o = this.orders.get(r.outTradeNo);
      if (o) o.tradeStatus = 'REFUND';
    }
    r.lastNotification = {
      notifyId: this.id('NR'),
      notifyType: `REFUND.${r.refundStatus}`,
      biz: this.refundView(r),
    };
    if (behaviour.notify === 'deliver' && r.notifyUrl)
      void this.deliver(r.notifyUrl, r.outTradeNo, r.merchantNo, r.appId, r.lastNotification);
  }

  // ---- paying and notifying ------------------------------------------------------------------------------

  /** Confirms a payment (the payer paid), and notifies unless told otherwise. */
  protected settle(
    o: BankOrder,
    opts: { payMethod?: PayMethod; notify?: NotifyMode; delayMs?: number; notifyAmountFen?: number },
  ): void {
    o.tradeStatus = 'SUCCESS';
    o.paidAt = new Date();
    o.payMethod ??= opts.payMethod ?? 'UNIONPAY';
    const biz = this.tradeView(o);
    if (opts.notifyAmountFen !== undefined) biz.amountFen = opts.notifyAmountFen;
    o.lastNotification = { notifyId: this.id('NT'), notifyType: 'TRADE.SUCCESS', biz };
    const n = o.lastNotification;
    const send = (tamper = false) => {
      o.notificationsSent++;
      void this.deliver(o.notifyUrl, o.outTradeNo, o.merchantNo, o.appId, n, 0, tamper);
    };
    switch (opts.notify ?? 'deliver') {
      case 'drop':
        return;
      case 'duplicate':
        send();
        send();
        return;
      case 'delay':
        this.later(() => send(), opts.delayMs ?? 3000);
        return;
      case 'tamper':
        send(true); // the first attempt is tampered with on the way; the retries carry the genuine one
        return;
      default:
        send();
    }
  }

  /**
   * The patient pays at the cashier (or a test says so). `force` misbehaves like a bank whose close lost a
   * race: a success after the order was closed. `notifyAmountFen` notifies a wrong amount.
   */
  pay(
    outTradeNo: string,
    opts: {
      payMethod?: PayMethod;
      notify?: NotifyMode;
      delayMs?: number;
      notifyAmountFen?: number;
      force?: boolean;
    } = {},
  ): BankOrder {
    const o = this.orders.get(outTradeNo);
    if (!o) throw new Error(`no such order ${outTradeNo}`);
    if (!opts.force && o.tradeStatus !== 'NOTPAY' && o.tradeStatus !== 'USERPAYING')
      throw new Error(`order is ${o.tradeStatus}`);
    this.settle(o, opts);
    return o;
  }

  /**
   * A notification envelope, freshly signed (every attempt carries its own timestamp and nonce); `timestamp`
   * (unix seconds) signs another time, e.g. a stale one for security tests.
   */
  notificationBody(
    merchantNo: string,
    appId: string,
    n: { notifyId: string; notifyType: string; biz: Record<string, unknown> },
    timestamp = Math.floor(Date.now() / 1000),
  ): string {
    const env: Record<string, string> = {
      appId,
      merchantNo,
      notifyId: n.notifyId,
      notifyType: n.notifyType,
      version: '1.0',
      signType: 'SM2',
      keyId: this.opts.bankKeyId,
      timestamp: String(timestamp),
      nonce: randomBytes(16).toString('hex'),
      bizContent: JSON.stringify(n.biz),
    };
    env.sign = this.sign(env);
    return JSON.stringify(env);
  }

  /** Delivers a notification; anything but 200 with code SUCCESS is retried on the configured curve. */
  async deliver(
    url: string,
    outTradeNo: string,
    merchantNo: string,
    appId: string,
    n: { notifyId: string; notifyType: string; biz: Record<string, unknown> },
    attempt = 0,
    tamper = false,
  ): Promise<number | 'error'> {
    let body = this.notificationBody(merchantNo, appId, n);
    if (tamper) {
      // Changed after signing, as a man in the middle would: the amount goes up by one fen.
      const env = JSON.parse(body) as Record<string, string>;
      const biz = JSON.parse(env.bizContent!) as Record<string, unknown>;
      biz.amountFen = Number(biz.amountFen ?? 0) + 1;
      env.bizContent = JSON.stringify(biz);
      body = JSON.stringify(env);
    }
    let status: number | 'error';
    let acked = false;
    try {
      const r = await simPost(url, body, { 'content-type': 'application/json; charset=utf-8' });
      status = r.status;
      try {
        acked = r.status === 200 && (JSON.parse(r.body) as { code?: string }).code === 'SUCCESS';
      } catch {
        acked = false;
      }
    } catch {
      status = 'error';
    }
    this.deliveries.push({ notifyId: n.notifyId, outTradeNo, status, tampered: tamper });
    const delays = this.notifyRetryDelaysMs;
    if (!acked && attempt < delays.length)
      this.later(
        () => void this.deliver(url, outTradeNo, merchantNo, appId, n, attempt + 1),
        delays[attempt]!,
      );
    return status;
  }

  /** Re-sends the last payment notification of an order (a late or repeated delivery). */
  resend(outTradeNo: string): Promise<number | 'error'> {
    const o = this.orders.get(outTradeNo);
    if (!o?.lastNotification) throw new Error(`no notification for ${outTradeNo}`);
    o.notificationsSent++;
    return this.deliver(
      o.notifyUrl,
      o.outTradeNo,
      o.merchantNo,
      o.appId,
      o.lastNotification,
      Number.MAX_SAFE_INTEGER,
    );
  }

  /** Re-sends the last notification of a refund. */
  resendRefund(outRefundNo: string): Promise<number | 'error'> {
    const r = this.refunds.get(outRefundNo);
    if (!r?.lastNotification || !r.notifyUrl) throw new Error(`no notification for refund ${outRefundNo}`);
    return this.deliver(
      r.notifyUrl,
      r.outTradeNo,
      r.merchantNo,
      r.appId,
      r.lastNotification,
      Number.MAX_SAFE_INTEGER,
    );
  }

  // ---- statements (T+1) ----------------------------------------------------------------------------------

  /** The day's statement file of one merchant, in the contract's layout (§7); undefined when it had no trade. */
  statementFile(merchantNo: string, billDate: string): Buffer | undefined {
    const rows: string[] = [];
    let payCount = 0;
    let payFen = 0;
    let refundCount = 0;
    let refundFen = 0;
    let feeFen = 0;
    const fee = (amount: number) => Math.floor((amount * this.feeRateBp + 5000) / 10000); // half up
    const events: { at: Date; row: string }[] = [];
    for (const o of this.orders.values()) {
      if (o.merchantNo !== merchantNo) continue;
      if (o.paidAt && bjDate(o.paidAt) === billDate) {
        const f = fee(o.amountFen);
        payCount++;
        payFen += o.amountFen;
        feeFen += f;
        events.push({
          at: o.paidAt,
          row: [
            'PAY',
            merchantNo,
            o.outTradeNo,
            o.bankTradeNo,
            '',
            '',
            o.amountFen,
            f,
            bjLocal(o.paidAt),
            'SUCCESS',
            o.payMethod ?? '',
          ].join(','),
        });
      }
      if (o.reversedAt && o.paidAt && bjDate(o.reversedAt) === billDate) {
        // A paid payment-code order that was reversed: the money went back like a refund, with no refund number.
        refundCount++;
        refundFen += o.amountFen;
        events.push({
          at: o.reversedAt,
          row: [
            'REFUND',
            merchantNo,
            o.outTradeNo,
            o.bankTradeNo,
            '',
            '',
            o.amountFen,
            0,
            bjLocal(o.reversedAt),
            'REVERSED',
            o.payMethod ?? '',
          ].join(','),
        });
      }
    }
    for (const r of this.refunds.values()) {
      if (
        r.merchantNo !== merchantNo ||
        r.refundStatus !== 'SUCCESS' ||
        !r.finishedAt ||
        bjDate(r.finishedAt) !== billDate
      )
        continue;
      refundCount++;
      refundFen += r.refundAmountFen;
      const payMethod = this.orders.get(r.outTradeNo)?.payMethod ?? '';
      events.push({
        at: r.finishedAt,
        row: [
          'REFUND',
          merchantNo,
          r.outTradeNo,
          r.bankTradeNo,
          r.outRefundNo,
          r.bankRefundNo,
          r.refundAmountFen,
          0,
          bjLocal(r.finishedAt),
          'SUCCESS',
          payMethod,
        ].join(','),
      });
    }
    if (!events.length) return undefined;
    events.sort((a, b) => a.at.getTime() - b.at.getTime());
    rows.push(
      'recordType,merchantNo,outTradeNo,bankTradeNo,outRefundNo,bankRefundNo,amountFen,feeFen,finishedAt,status,payMethod',
      ...events.map((e) => e.row),
      [
        'TOTAL',
        billDate,
        merchantNo,
        payCount,
        payFen + (this.statement.badSummary ? 1 : 0),
        refundCount,
        refundFen,
        feeFen,
      ].join(','),
    );
    return Buffer.from(`${rows.join('\n')}\n`, 'utf8');
  }

  private statementQuery(
    merchant: SimBankMerchant,
    b: Record<string, any>,
    env: Record<string, string>,
  ): SimReply {
    const billDate = String(b.billDate ?? '');
    if (!/^\d{4}-\d{2}-\d{2}$/.test(billDate) || Number.isNaN(Date.parse(billDate)))
      return this.reply(env, 'PARAM_ERROR', 'billDate 格式为 YYYY-MM-DD');
    const today = bjDate(new Date());
    if (billDate > today) return this.reply(env, 'BILL_DATE_INVALID', '对账日期不能晚于今天');
    if (billDate === today && !this.statement.sameDay)
      return this.reply(env, 'SUCCESS', '成功', { billDate, status: 'GENERATING' });
    const file = this.statementFile(merchant.merchantNo, billDate);
    if (!file) return this.reply(env, 'SUCCESS', '成功', { billDate, status: 'NO_DATA' });
    const token = randomBytes(16).toString('hex');
    const served = this.statement.corrupt
      ? Buffer.from(file.toString('utf8').replace('PAY,', 'PAY,9'))
      : file;
    this.files.set(token, { content: served, expires: Date.now() + 5 * 60_000 });
    return this.reply(env, 'SUCCESS', '成功', {
      billDate,
      status: 'READY',
      fileName: `${merchant.merchantNo}_${billDate}.csv`,
      downloadUrl: `${this.url}/statements/${token}`,
      sm3: sm3(new Uint8Array(file)),
      size: file.length,
    });
  }

  private download(req: SimRequest): SimReply | undefined {
    const m = /^\/statements\/([0-9a-f]{32})$/.exec(req.path);
    if (!m || req.method !== 'GET') return undefined;
    const f = this.files.get(m[1]!);
    if (!f || f.expires < Date.now()) return json(404, { code: 'FILE_EXPIRED', message: '下载链接已失效' });
    this.files.delete(m[1]!); // one download per link
    return {
      status: 200,
      headers: { 'content-type': 'text/csv; charset=utf-8' },
      body: f.content.toString('utf8'),
    };
  }

  // ---- control API ------------------------------------------------------------------------------------

  protected async control(req: SimRequest): Promise<SimReply | undefined> {
    let m: RegExpExecArray | null;
    if ((m = /^\/sim\/cashier\/bankpay\/([^/]+)$/.exec(req.path)) && req.method === 'GET')
      return this.cashier(decodeURIComponent(m[1]!));
    if (!req.path.startsWith('/sim/bankpay/')) return undefined;
    let body: Record<string, any> = {};
    try {
      body = req.body ? (JSON.parse(req.body) as Record<string, any>) : {};
    } catch {
      return json(400, { code: 'PARAM_ERROR', message: 'body is not JSON' });
    }
    if ((m = /^\/sim\/bankpay\/orders\/([^/]+)\/pay$/.exec(req.path)) && req.method === 'POST') {
      try {
        return json(200, this.tradeView(this.pay(decodeURIComponent(m[1]!), body)));
      } catch (e) {
        return json(409, { code: 'NOT_PAYABLE', message: (e as Error).message });
      }
    }
    if ((m = /^\/sim\/bankpay\/orders\/([^/]+)\/resend$/.exec(req.path)) && req.method === 'POST') {
      try {
        return json(200, { status: await this.resend(decodeURIComponent(m[1]!)) });
      } catch (e) {
        return json(404, { code: 'NOT_FOUND', message: (e as Error).message });
      }
    }
    if ((m = /^\/sim\/bankpay\/orders\/([^/]+)$/.exec(req.path)) && req.method === 'GET') {
      const o = this.orders.get(decodeURIComponent(m[1]!));
      return o
        ? json(200, { ...this.tradeView(o), notificationsSent: o.notificationsSent })
        : json(404, { code: 'NOT_FOUND', message: 'no such order' });
    }
    if (req.path === '/sim/bankpay/faults' && req.method === 'POST') {
      if (!['timeout', 'late_reply', 'system_error', 'drop'].includes(body.fault))
        return json(400, {
          code: 'PARAM_ERROR',
          message: 'fault is timeout, late_reply, system_error or drop',
        });
      this.injectFault(String(body.op ?? 'any'), body.fault as FaultKind, Number(body.count ?? 1));
      return json(200, { faults: this.faults });
    }
    if (req.path === '/sim/bankpay/refunds' && req.method === 'POST') {
      this.refundBehaviour = { outcome: body.outcome ?? 'success', notify: body.notify ?? 'deliver' };
      return json(200, this.refundBehaviour);
    }
    if (req.path === '/sim/bankpay/statements' && req.method === 'POST') {
      for (const k of ['sameDay', 'corrupt', 'badSummary'] as const)
        if (typeof body[k] === 'boolean') this.statement[k] = body[k];
      return json(200, this.statement);
    }
    return json(404, { code: 'NOT_FOUND', message: 'unknown control call' });
  }

  /** The aggregated cashier: one QR any wallet can pay; standing in for the bank's H5 cashier. */
  private cashier(outTradeNo: string): SimReply {
    const o = this.orders.get(outTradeNo);
    const esc = (s: string) => s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
    const amount = o ? `${Math.floor(o.amountFen / 100)}.${String(o.amountFen % 100).padStart(2, '0')}` : '';
    const payable = o && (o.tradeStatus === 'NOTPAY' || o.tradeStatus === 'USERPAYING');
    const html = `<!doctype html><html lang="zh-CN"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1">
<title>银行聚合支付（沙箱）</title><style>body{font-family:sans-serif;max-width:420px;margin:40px auto;text-align:center}
.amt{font-size:40px;margin:24px 0}button{font-size:17px;padding:12px 20px;margin:6px;border:0;border-radius:6px;color:#fff}
.w{background:#07c160}.a{background:#1677ff}.u{background:#d7000f}#cancel{background:#999}#state{margin-top:16px;color:#666}</style></head><body>
<h2>银行聚合支付 · 沙箱收银台</h2>${
      o
        ? `<div>${esc(o.subject)}</div><div class="amt">¥${amount}</div>
<div>商户订单号 ${esc(o.outTradeNo)}</div><div id="state">状态：${o.tradeStatus}</div>
<div><button class="w" data-m="WECHAT" ${payable ? '' : 'disabled'}>微信支付</button><button class="a" data-m="ALIPAY" ${payable ? '' : 'disabled'}>支付宝</button><button class="u" data-m="UNIONPAY" ${payable ? '' : 'disabled'}>云闪付</button></div>
<button id="cancel" ${payable ? '' : 'disabled'}>取消</button>
<script>const st=document.getElementById('state');const all=[...document.querySelectorAll('button')];
document.querySelectorAll('button[data-m]').forEach(b=>b.onclick=async()=>{all.forEach(x=>x.disabled=true);
const r=await fetch(location.pathname.replace('/sim/cashier/bankpay/','/sim/bankpay/orders/')+'/pay',{method:'POST',body:JSON.stringify({payMethod:b.dataset.m})});
st.textContent=r.ok?'状态：SUCCESS，已通知商户':'支付失败：'+(await r.text());});
document.getElementById('cancel').onclick=()=>{all.forEach(x=>x.disabled=true);st.textContent='已取消：订单保持未支付，到期后由商户关闭';};</script>`
        : '<p>订单不存在</p>'
    }
</body></html>`;
    return { status: 200, headers: { 'content-type': 'text/html; charset=utf-8' }, body: html };
  }
}
