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
import { writeZip } from '../../lib/zip';
import { encodeGbk } from '../../lib/gbk';
import { json, simPost, startSimServer, type RunningSim, type SimReply, type SimRequest } from '../harness';

/**
 * Alipay open-platform gateway simulator (protocols.md §5), written without the SDK: it verifies the app's
 * RSA2 request signature over every parameter (URL and form), signs each reply over the exact JSON text of
 * its `*_response` value, and sends form-encoded, RSA2-signed trade_status_sync notifications.
 *
 * Barcode codes (alipay.trade.pay): 2810… pays at once; 2811… answers 10003 (waiting for the buyer) and pays
 * after `confirmMs`; 2812… waits forever.
 * Control API: `POST /sim/alipay/orders/{out_trade_no}/pay` `{ notify?: 'deliver'|'drop'|'duplicate', notifyAmountFen? }`
 * (`notifyAmountFen`: the notification states another amount than the order's, a misbehaving gateway);
 * `POST /sim/alipay/faults` `{ op: 'bill', fault: 'no_bill'|'not_ready'|'corrupt_bill', count? }` — Alipay answers
 * both "no trade that day" and "not generated yet" with isp.bill_not_exist (the adapter tells them apart by
 * the time of day); corrupt_bill serves an archive whose footer disagrees with its rows.
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
  createdAt: string;
  paidAt?: string;
  refunds: Map<string, number>;
  /** When each refund (by out_request_no) went through, Beijing time. */
  refundedAt: Map<string, string>;
}

type BillFault = 'no_bill' | 'not_ready' | 'corrupt_bill';

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
        createdAt: beijing(),
        refunds: new Map(),
        refundedAt: new Map(),
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
          o.refundedAt.set(no, beijing());
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
      case 'alipay.data.dataservice.bill.downloadurl.query':
        return this.billUrl(app, biz, fail);
      default:
        return fail('40004', 'Business Failed', 'isv.invalid-method', `未知方法 ${method}`);
    }
  }

  /** The buyer pays; a trade_status_sync notification goes to the notify_url. */
  settle(o: AliOrder, notify = true, notifyAmountFen?: number): void {
    if (o.status !== 'WAIT_BUYER_PAY') return;
    o.status = 'TRADE_SUCCESS';
    o.paidAt = beijing();
    if (notify && o.notifyUrl) void this.notify(o, { amountFen: notifyAmountFen });
  }

  /** A form-encoded notification signed over the sorted parameters without sign and sign_type. */
  async notify(o: AliOrder, opts: { amountFen?: number } = {}): Promise<number | 'error'> {
    try {
      return (
        await simPost(o.notifyUrl!, this.notificationForm(o, opts), {
          'content-type': 'application/x-www-form-urlencoded; charset=utf-8',
        })
      ).status;
    } catch {
      return 'error';
    }
  }

  /**
   * The trade_status_sync form of the order as it stands, signed, not sent (security tests and {@link notify});
   * `amountFen` states another amount than the order's.
   */
  notificationForm(o: AliOrder, opts: { amountFen?: number } = {}): string {
    const amount = fenToYuan(opts.amountFen ?? o.totalFen);
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
      total_amount: amount,
      receipt_amount: amount,
      buyer_pay_amount: amount,
      gmt_payment: o.paidAt ?? '',
      subject: o.subject,
    };
    for (const k of Object.keys(params)) if (params[k] === '') delete params[k]; // Alipay omits empty fields
    params.sign_type = 'RSA2';
    params.sign = this.sign(AlipaySimulator.signString(params, ['sign', 'sign_type']));
    return new URLSearchParams(params).toString();
  }

  // ---- daily trade bill (bill_type=trade) --------------------------------------------------------------------
  //
  // A zip of GBK CSVs built from the payments and refunds this simulator processed, in Alipay's layout
  // (protocols.md §5): `<PID>0156_<yyyyMMdd>_业务明细.csv` and its `(汇总)` companion. Fees (服务费): `feeRateBp`
  // of each amount, rounded half up to the fen per transaction; refunds return the fee of the refunded amount,
  // printed negative like the refund's amounts. The download link is valid 30 s, like Alipay's.

  /** Fee rate in basis points (60 = 0.60%). */
  feeRateBp = 60;
  private billFaults: { fault: BillFault; count: number }[] = [];
  private readonly billFiles = new Map<string, { bytes: Buffer; expires: number }>();

  injectBillFault(fault: BillFault, count = 1): void {
    this.billFaults.push({ fault, count });
  }

  feeOf(amountFen: number): number {
    return Math.floor((amountFen * this.feeRateBp + 5000) / 10_000);
  }

  /** The 业务明细 CSV text of one Beijing day for a seller, or undefined when it had no trade. */
  tradeBillCsv(sellerId: string, billDate: string, opts: { corrupt?: boolean } = {}): string | undefined {
    const cell = (v: string) => (/[",\r\n]/.test(v) ? `"${v.replace(/"/g, '""')}"` : v);
    const id = (v: string) => `${v}\t`; // ID cells end in a tab so spreadsheets keep them as text
    const buyer = '*沙箱(sandbox***@alipay.test)';
    const rows: { at: string; text: string }[] = [];
    const sum = { trades: 0, tradeFen: 0, refunds: 0, refundFen: 0, fee: 0 };
    for (const o of this.orders.values()) {
      if (o.sellerId !== sellerId || !o.paidAt) continue;
      const row = (kind: '交易' | '退款', at: string, fen: number, fee: number, requestNo = '') =>
        [
          id(o.tradeNo),
          id(o.outTradeNo),
          id(kind),
          cell(o.subject),
          o.createdAt,
          at,
          id(''),
          id(''),
          id(''),
          id(''),
          id(buyer),
          fenToYuan(fen),
          fenToYuan(fen),
          '0.00',
          '0.00',
          '0.00',
          '0.00',
          '0.00',
          '',
          id('0.00'),
          '0.00',
          id(requestNo),
          fenToYuan(fee),
          '0.00',
          cell(o.subject),
        ].join(',');
      if (o.paidAt.startsWith(billDate)) {
        const fee = this.feeOf(o.totalFen);
        sum.trades++;
        sum.tradeFen += o.totalFen;
        sum.fee += fee;
        rows.push({ at: o.paidAt, text: row('交易', o.paidAt, o.totalFen, fee) });
      }
      for (const [no, fen] of o.refunds) {
        const at = o.refundedAt.get(no);
        if (!at?.startsWith(billDate)) continue;
        const fee = this.feeOf(fen);
        sum.refunds++;
        sum.refundFen += fen;
        sum.fee -= fee;
        rows.push({ at, text: row('退款', at, -fen, -fee, no) });
      }
    }
    if (rows.length === 0) return undefined;
    rows.sort((a, b) => a.at.localeCompare(b.at));
    const cn = (d: string) => `${d.slice(0, 4)}年${d.slice(5, 7)}月${d.slice(8, 10)}日`;
    const next = new Date(Date.parse(`${billDate}T00:00:00Z`) + 86_400_000).toISOString().slice(0, 10);
    const exported = beijing();
    const tradeFen = opts.corrupt ? sum.tradeFen + 1 : sum.tradeFen;
    return [
      '#支付宝业务明细查询',
      `#账号：[${sellerId}0156]`,
      `#起始日期：[${cn(billDate)} 00:00:00]   终止日期：[${cn(next)} 00:00:00]`,
      '#-----------------------------------------业务明细列表----------------------------------------',
      '支付宝交易号,商户订单号,业务类型,商品名称,创建时间,完成时间,门店编号,门店名称,操作员,终端号,对方账户,订单金额（元）,' +
        '商家实收（元）,支付宝红包（元）,集分宝（元）,支付宝优惠（元）,商家优惠（元）,券核销金额（元）,券名称,' +
        '商家红包消费金额（元）,卡消费金额（元）,退款批次号/请求号,服务费（元）,分润（元）,备注',
      ...rows.map((r) => r.text),
      '#-----------------------------------------业务明细列表结束------------------------------------',
      `#交易合计：${sum.trades}笔，商家实收共${fenToYuan(tradeFen)}元，商家优惠共0.00元`,
      `#退款合计：${sum.refunds}笔，商家实收退款共${fenToYuan(-sum.refundFen)}元，商家优惠退款共0.00元`,
      `#导出时间：[${cn(exported)} ${exported.slice(11)}]`,
      '',
    ].join('\r\n');
  }

  /** The day's archive: 业务明细 and 业务明细(汇总), GBK, names in GBK as Alipay writes them. */
  tradeBillZip(sellerId: string, billDate: string, opts: { corrupt?: boolean } = {}): Buffer | undefined {
    const detail = this.tradeBillCsv(sellerId, billDate, opts);
    if (detail === undefined) return undefined;
    const day = billDate.replace(/-/g, '');
    const footer = detail.split('\r\n').filter((l) => /^#(交易|退款)合计/.test(l));
    const summary = [
      '#支付宝业务汇总查询',
      `#账号：[${sellerId}0156]`,
      '#-----------------------------------------业务汇总列表----------------------------------------',
      '门店编号,门店名称,交易订单总笔数,退款订单总笔数,订单金额（元）,商家实收（元）,支付宝优惠（元）,商家优惠（元）,' +
        '卡消费金额（元）,服务费（元）,分润（元）,实收净额（元）',
      '#-----------------------------------------业务汇总列表结束------------------------------------',
      ...footer,
      '',
    ].join('\r\n');
    return writeZip(
      [
        { name: `${sellerId}0156_${day}_业务明细.csv`, data: encodeGbk(detail) },
        { name: `${sellerId}0156_${day}_业务明细(汇总).csv`, data: encodeGbk(summary) },
      ],
      { names: 'gbk' },
    );
  }

  private billUrl(
    app: SimAlipayApp,
    biz: Record<string, any>,
    fail: (code: string, msg: string, subCode: string, subMsg: string) => SimReply,
  ): SimReply {
    const method = 'alipay.data.dataservice.bill.downloadurl.query';
    if (biz.bill_type !== 'trade')
      return fail('40004', 'Business Failed', 'invalid_arguments', '沙箱仅支持 bill_type=trade');
    if (!/^\d{4}-\d{2}-\d{2}$/.test(String(biz.bill_date ?? '')))
      return fail('40004', 'Business Failed', 'invalid_arguments', 'bill_date 格式错误');
    const f = this.billFaults.find((x) => x.count > 0);
    if (f) {
      f.count--;
      if (f.count === 0) this.billFaults = this.billFaults.filter((x) => x !== f);
    }
    const notExist = () => fail('40004', 'Business Failed', 'isp.bill_not_exist', '账单不存在');
    if (f?.fault === 'no_bill' || f?.fault === 'not_ready') return notExist();
    const zip = this.tradeBillZip(app.sellerId, biz.bill_date, { corrupt: f?.fault === 'corrupt_bill' });
    if (!zip) return notExist();
    const token = randomBytes(16).toString('hex');
    const now = Date.now();
    for (const [k, v] of this.billFiles) if (v.expires < now) this.billFiles.delete(k);
    this.billFiles.set(token, { bytes: zip, expires: now + 30_000 });
    const day = String(biz.bill_date).replace(/-/g, '');
    const q = new URLSearchParams({
      bizType: 'trade',
      userId: app.sellerId,
      fileType: 'csv.zip',
      bizDates: day,
      downloadFileName: `${app.sellerId}0156_${day}.csv.zip`,
      fileId: randomBytes(8).toString('hex'),
      timestamp: String(now),
      token,
    });
    return this.reply(method, {
      code: '10000',
      msg: 'Success',
      bill_download_url: `${this.url}/downloadBillFile.resource?${q.toString()}`,
    });
  }

  /** The archive download: plain GET, no signature (as Alipay's). */
  private billDownload(q: URLSearchParams): SimReply {
    const f = this.billFiles.get(q.get('token') ?? '');
    if (!f || f.expires < Date.now())
      return { status: 404, headers: { 'content-type': 'text/plain' }, body: 'download link expired' };
    return {
      status: 200,
      headers: { 'content-type': 'application/oct-stream', 'content-length': String(f.bytes.length) },
      body: f.bytes,
    };
  }

  private async control(req: SimRequest): Promise<SimReply | undefined> {
    if (req.path === '/downloadBillFile.resource' && req.method === 'GET')
      return this.billDownload(req.query);
    if (req.path === '/sim/alipay/faults' && req.method === 'POST') {
      const body = req.body
        ? (JSON.parse(req.body) as { op?: string; fault?: BillFault; count?: number })
        : {};
      if (body.op !== 'bill' || !['no_bill', 'not_ready', 'corrupt_bill'].includes(String(body.fault)))
        return json(400, {
          code: 'BAD_FAULT',
          message: 'op must be bill, fault no_bill|not_ready|corrupt_bill',
        });
      this.injectBillFault(body.fault!, Number(body.count ?? 1));
      return json(200, { billFaults: this.billFaults });
    }
    const m = /^\/sim\/alipay\/orders\/([^/]+)\/pay$/.exec(req.path);
    if (!m || req.method !== 'POST') return undefined;
    const o = this.orders.get(decodeURIComponent(m[1]!));
    if (!o || o.status !== 'WAIT_BUYER_PAY')
      return json(409, { code: 'NOT_PAYABLE', message: 'no such unpaid order' });
    const body = req.body ? (JSON.parse(req.body) as { notify?: string; notifyAmountFen?: number }) : {};
    const amountFen = typeof body.notifyAmountFen === 'number' ? body.notifyAmountFen : undefined;
    this.settle(o, body.notify !== 'drop', amountFen);
    if (body.notify === 'duplicate' && o.notifyUrl) void this.notify(o); // Alipay may notify twice
    return json(200, { out_trade_no: o.outTradeNo, trade_no: o.tradeNo, trade_status: o.status });
  }
}
