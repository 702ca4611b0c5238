import {
  createPrivateKey,
  createPublicKey,
  createSign,
  createVerify,
  generateKeyPairSync,
  randomBytes,
  type KeyObject,
} from 'node:crypto';
import { fenToYuan, yuanToFen } from '@hp/shared';
import { json, simPost, startSimServer, type RunningSim, type SimReply, type SimRequest } from '../harness';

/**
 * Alipay open-platform gateway simulator (protocols.md §5), written without the SDK: it verifies the app's
 * RSA2 request signature over every parameter (URL and form), signs each reply over the exact JSON text of
 * its `*_response` value, and sends form-encoded, RSA2-signed trade_status_sync notifications.
 *
 * Barcode codes (alipay.trade.pay): 2810… pays at once; 2811… answers 10003 (waiting for the buyer) and pays
 * after `confirmMs`; 2812… waits forever.
 * Control API: `POST /sim/alipay/orders/{out_trade_no}/pay` `{ notify?: 'deliver'|'drop' }`.
 */

export interface SimAlipayApp {
  appId: string;
  sellerId: string;
  publicPem: string;
}

interface AliOrder {
  appId: string;
  sellerId: string;
  outTradeNo: string;
  tradeNo: string;
  totalFen: number;
  subject: string;
  notifyUrl?: string;
  status: 'WAIT_BUYER_PAY' | 'TRADE_SUCCESS' | 'TRADE_CLOSED';
  paidAt?: string;
  refunds: Map<string, number>;
}

const beijing = (d = new Date()) =>
  new Date(d.getTime() + 8 * 3600_000).toISOString().slice(0, 19).replace('T', ' ');

export class AlipaySimulator {
  private readonly apps = new Map<string, SimAlipayApp & { key: KeyObject }>();
  readonly orders = new Map<string, AliOrder>();
  private readonly platformKey: KeyObject;
  private server?: RunningSim;
  /** How long a 2811… barcode waits before the buyer confirms. */
  confirmMs = 1000;
  /** Sign replies with a wrong key (a forged gateway), for tests. */
  forgeReplies = false;
  private forgedKey?: KeyObject;

  constructor(
    private readonly port: number,
    platformPrivatePem: string,
  ) {
    this.platformKey = createPrivateKey(platformPrivatePem);
  }

  get url(): string {
    if (!this.server) throw new Error('simulator not started');
    return this.server.url;
  }

  addApp(a: SimAlipayApp): void {
    this.apps.set(a.appId, { ...a, key: createPublicKey(a.publicPem) });
  }

  async start(): Promise<this> {
    this.server = await startSimServer('alipay', this.port, [(r) => this.control(r), (r) => this.gateway(r)]);
    return this;
  }

  async close(): Promise<void> {
    await this.server?.close();
  }

  private sign(text: string): string {
    // A forged gateway signs with a key of its own, made once.
    const key = this.forgeReplies
      ? (this.forgedKey ??= generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey)
      : this.platformKey;
    return createSign('RSA-SHA256').update(text, 'utf8').sign(key, 'base64');
  }

  /** `{"<method>_response":{…},"sign":"…"}`, the signature over the response value's exact text. */
  private reply(method: string, value: Record<string, unknown>): SimReply {
    const key = `${method.replace(/\./g, '_')}_response`;
    const text = JSON.stringify(value);
    return {
      status: 200,
      headers: { 'content-type': 'text/plain;charset=utf-8' },
      body: `{"${key}":${text},"sign":"${this.sign(text)}"}`,
    };
  }

  private static signString(params: Record<string, string>, drop: string[]): string {
    return Object.keys(params)
      .filter((k) => !drop.includes(k) && params[k] !== '' && params[k] !== undefined)
      .sort()
      .map((k) => `${k}=${params[k]}`)
      .join('&');
  }

  private async gateway(req: SimRequest): Promise<SimReply | undefined> {
    if (req.path !== '/gateway.do' || req.method !== 'POST') return undefined;
    const params: Record<string, string> = {};
    for (const [k, v] of req.query) params[k] = v;
    for (const [k, v] of new URLSearchParams(req.body)) params[k] = v;
    const method = params.method ?? '';
    const app = this.apps.get(params.app_id ?? '');
    const fail = (code: string, msg: string, subCode: string, subMsg: string) =>
      this.reply(method, { code, msg, sub_code: subCode, sub_msg: subMsg });
    if (!app) return fail('40002', 'Invalid Arguments', 'isv.invalid-app-id', '无效的AppID参数');
    const ok = createVerify('RSA-SHA256')
      .update(AlipaySimulator.signString(params, ['sign']), 'utf8')
      .verify(app.key, params.sign ?? '', 'base64');
    if (!ok) return fail('40002', 'Invalid Arguments', 'isv.invalid-signature', '验签出错');
    // The SDK stamps local wall-clock time: a process not on Beijing time is 8 h off (protocols.md §8).
    const skew = Math.abs(Date.parse(`${params.timestamp?.replace(' ', 'T')}+08:00`) - Date.now());
    if (!(skew < 15 * 60_000))
      return fail('40002', 'Invalid Arguments', 'isv.invalid-timestamp', '非法的时间戳参数');
    let biz: Record<string, any>;
    try {
      biz = JSON.parse(params.biz_content ?? '{}');
    } catch {
      return fail('40002', 'Invalid Arguments', 'isv.invalid-biz-content', 'biz_content 不是 JSON');
    }
    const o = this.orders.get(biz.out_trade_no ?? '');
    const base = { code: '10000', msg: 'Success' };
    const view = (x: AliOrder) => ({
      out_trade_no: x.outTradeNo,
      trade_no: x.tradeNo,
      trade_status: x.status,
      total_amount: fenToYuan(x.totalFen),
      buyer_pay_amount: x.status === 'TRADE_SUCCESS' ? fenToYuan(x.totalFen) : '0.00',
      send_pay_date: x.paidAt,
    });
    const newOrder = (): AliOrder | SimReply => {
      let totalFen: number;
      try {
        totalFen = yuanToFen(String(biz.total_amount));
      } catch {
        return fail('40004', 'Business Failed', 'ACQ.INVALID_PARAMETER', 'total_amount 格式错误');
      }
      if (totalFen <= 0 || !biz.out_trade_no || !biz.subject)
        return fail('40004', 'Business Failed', 'ACQ.INVALID_PARAMETER', '参数无效');
      if (o) return fail('40004', 'Business Failed', 'ACQ.TRADE_HAS_SUCCESS', '交易已存在');
      const order: AliOrder = {
        appId: app.appId,
        sellerId: app.sellerId,
        outTradeNo: biz.out_trade_no,
        tradeNo: `2026${Date.now()}${randomBytes(4).toString('hex')}`.slice(0, 28),
        totalFen,
        subject: biz.subject,
        notifyUrl: params.notify_url,
        status: 'WAIT_BUYER_PAY',
        refunds: new Map(),
      };
      this.orders.set(order.outTradeNo, order);
      return order;
    };

    switch (method) {
      case 'alipay.trade.precreate': {
        const order = newOrder();
        if ('status' in order && typeof order.status === 'number') return order as SimReply;
        const x = order as AliOrder;
        return this.reply(method, {
          ...base,
          out_trade_no: x.outTradeNo,
          qr_code: `https://qr.alipay.com/sandbox${randomBytes(6).toString('hex')}`,
        });
      }
      case 'alipay.trade.pay': {
        if (!/^(2[5-9]|30)\d{14,22}$/.test(biz.auth_code ?? ''))
          return fail(
            '40004',
            'Business Failed',
            'ACQ.PAYMENT_AUTH_CODE_INVALID',
            '支付失败，获取顾客账户信息失败',
          );
        const order = newOrder();
        if ('status' in order && typeof order.status === 'number') return order as SimReply;
        const x = order as AliOrder;
        const magic = String(biz.auth_code).slice(0, 4);
        if (magic === '2811') setTimeout(() => this.settle(x), this.confirmMs).unref();
        if (magic === '2811' || magic === '2812')
          return this.reply(method, { code: '10003', msg: ' order success pay inprocess', ...view(x) });
        this.settle(x, false);
        return this.reply(method, { ...base, ...view(x), gmt_payment: x.paidAt });
      }
      case 'alipay.trade.query':
        if (!o || o.appId !== app.appId)
          return fail('40004', 'Business Failed', 'ACQ.TRADE_NOT_EXIST', '交易不存在');
        return this.reply(method, { ...base, ...view(o) });
      case 'alipay.trade.close':
        if (!o || o.appId !== app.appId)
          return fail('40004', 'Business Failed', 'ACQ.TRADE_NOT_EXIST', '交易不存在');
        if (o.status === 'TRADE_SUCCESS')
          return fail('40004', 'Business Failed', 'ACQ.TRADE_STATUS_ERROR', '交易状态不合法');
        o.status = 'TRADE_CLOSED';
        return this.reply(method, { ...base, out_trade_no: o.outTradeNo, trade_no: o.tradeNo });
      case 'alipay.trade.cancel': {
        if (!o || o.appId !== app.appId)
          return this.reply(method, { ...base, retry_flag: 'N', action: 'close' });
        const action = o.status === 'TRADE_SUCCESS' ? 'refund' : 'close';
        o.status = 'TRADE_CLOSED';
        return this.reply(method, {
          ...base,
          out_trade_no: o.outTradeNo,
          trade_no: o.tradeNo,
          retry_flag: 'N',
          action,
        });
      }
      case 'alipay.trade.refund': {
        if (!o || o.appId !== app.appId)
          return fail('40004', 'Business Failed', 'ACQ.TRADE_NOT_EXIST', '交易不存在');
        if (o.status !== 'TRADE_SUCCESS')
          return fail('40004', 'Business Failed', 'ACQ.TRADE_STATUS_ERROR', '交易状态不合法');
        let fen: number;
        try {
          fen = yuanToFen(String(biz.refund_amount));
        } catch {
          return fail('40004', 'Business Failed', 'ACQ.INVALID_PARAMETER', 'refund_amount 格式错误');
        }
        const no = String(biz.out_request_no ?? o.outTradeNo);
        const done = o.refunds.get(no);
        if (done === undefined) {
          const refunded = [...o.refunds.values()].reduce((a, b) => a + b, 0);
          if (fen <= 0 || refunded + fen > o.totalFen)
            return fail('40004', 'Business Failed', 'ACQ.REFUND_AMT_NOT_EQUAL_TOTAL', '退款金额超限');
          o.refunds.set(no, fen);
        } else if (done !== fen)
          return fail(
            '40004',
            'Business Failed',
            'ACQ.REFUND_AMT_NOT_EQUAL_TOTAL',
            '同一退款请求号金额不一致',
          );
        const total = [...o.refunds.values()].reduce((a, b) => a + b, 0);
        return this.reply(method, {
          ...base,
          out_trade_no: o.outTradeNo,
          trade_no: o.tradeNo,
          fund_change: done === undefined ? 'Y' : 'N',
          refund_fee: fenToYuan(total),
          out_request_no: no,
        });
      }
      case 'alipay.trade.fastpay.refund.query': {
        const fen = o?.refunds.get(String(biz.out_request_no));
        if (!o || fen === undefined) return this.reply(method, { ...base });
        return this.reply(method, {
          ...base,
          out_trade_no: o.outTradeNo,
          out_request_no: biz.out_request_no,
          refund_amount: fenToYuan(fen),
          refund_status: 'REFUND_SUCCESS',
        });
      }
      default:
        return fail('40004', 'Business Failed', 'isv.invalid-method', `未知方法 ${method}`);
    }
  }

  /** The buyer pays; a trade_status_sync notification goes to the notify_url. */
  settle(o: AliOrder, notify = true): void {
    if (o.status !== 'WAIT_BUYER_PAY') return;
    o.status = 'TRADE_SUCCESS';
    o.paidAt = beijing();
    if (notify && o.notifyUrl) void this.notify(o);
  }

  /** A form-encoded notification signed over the sorted parameters without sign and sign_type. */
  async notify(o: AliOrder): Promise<number | 'error'> {
    const params: Record<string, string> = {
      notify_time: beijing(),
      notify_type: 'trade_status_sync',
      notify_id: randomBytes(16).toString('hex'),
      app_id: o.appId,
      charset: 'utf-8',
      version: '1.0',
      trade_no: o.tradeNo,
      out_trade_no: o.outTradeNo,
      seller_id: o.sellerId,
      trade_status: o.status,
      total_amount: fenToYuan(o.totalFen),
      receipt_amount: fenToYuan(o.totalFen),
      buyer_pay_amount: fenToYuan(o.totalFen),
      gmt_payment: o.paidAt ?? '',
      subject: o.subject,
    };
    for (const k of Object.keys(params)) if (params[k] === '') delete params[k]; // Alipay omits empty fields
    params.sign_type = 'RSA2';
    params.sign = this.sign(AlipaySimulator.signString(params, ['sign', 'sign_type']));
    try {
      return (
        await simPost(o.notifyUrl!, new URLSearchParams(params).toString(), {
          'content-type': 'application/x-www-form-urlencoded; charset=utf-8',
        })
      ).status;
    } catch {
      return 'error';
    }
  }

  private async control(req: SimRequest): Promise<SimReply | undefined> {
    const m = /^\/sim\/alipay\/orders\/([^/]+)\/pay$/.exec(req.path);
    if (!m || req.method !== 'POST') return undefined;
    const o = this.orders.get(decodeURIComponent(m[1]!));
    if (!o || o.status !== 'WAIT_BUYER_PAY')
      return json(409, { code: 'NOT_PAYABLE', message: 'no such unpaid order' });
    const body = req.body ? (JSON.parse(req.body) as { notify?: string }) : {};
    this.settle(o, body.notify !== 'drop');
    return json(200, { out_trade_no: o.outTradeNo, trade_no: o.tradeNo, trade_status: o.status });
  }
}
