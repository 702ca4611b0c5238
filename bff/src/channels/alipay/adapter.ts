import { fenToYuan, yuanToFen } from '@hp/shared';
import { AlipaySdk } from 'alipay-sdk';
import { z } from 'zod';
import type {
  ChannelCapabilities,
  ChannelPayment,
  ChannelPaymentState,
  ChannelResult,
  CloseOutput,
  CreatePaymentInput,
  CreatePaymentOutput,
  NotificationReply,
  OutboundRecorder,
  ParsedNotification,
  StatementOutput,
  PaymentChannel,
  QueryPaymentOutput,
  RefundInput,
  RefundOutput,
} from '../types';
import { NotificationRejected } from '../types';
import { isBillDate, statementFailure } from '../statement';
import { extractTradeBill, parseAlipayTradeBill } from './trade-bill';

/** Settings of one Alipay app (face-to-face payment, 当面付). */
export const AlipayOptionsSchema = z.object({
  /** The app's app_id. */
  appId: z.string().regex(/^\d{16}$/, 'app_id is 16 digits'),
  /** The merchant's seller id (PID, 2088…), cross-checked against notifications. */
  sellerId: z.string().regex(/^2088\d{12}$/, 'seller id (PID) is 2088 followed by 12 digits'),
  /** The app private key, PEM (PKCS#8). */
  privateKeyPem: z.string().includes('PRIVATE KEY', { message: 'must be a PEM private key' }),
  /** Alipay's public key, PEM: verifies replies and notifications. */
  alipayPublicKeyPem: z.string().includes('PUBLIC KEY', { message: 'must be a PEM public key' }),
  /** Gateway base; the sandbox points it at the simulator. `/gateway.do` is appended. */
  baseUrl: z.url(),
  timeoutMs: z.number().int().positive(),
  /**
   * Hour of the next day (Beijing time) by which Alipay has generated a day's bill. Before it, "no bill"
   * (isp.bill_not_exist) means "not yet" (PENDING); after it, "no trade that day". [U] Alipay gives no
   * distinct "generating" code; its documentation says daily bills are ready from about 09:00–10:00 on T+1.
   */
  statementReadyHour: z.number().int().min(0).max(23).default(10),
});
export type AlipayOptions = z.input<typeof AlipayOptionsSchema>;

type Reply = Record<string, string | undefined> & {
  code?: string;
  msg?: string;
  sub_code?: string;
  sub_msg?: string;
};

/** Largest bill archive we accept. */
const MAX_BILL_BYTES = 200 * 1024 * 1024;

function mapTradeStatus(status: string | undefined): ChannelPaymentState {
  switch (status) {
    case 'TRADE_SUCCESS':
    case 'TRADE_FINISHED':
      return 'PAID';
    case 'WAIT_BUYER_PAY':
      return 'NOTPAY';
    case 'TRADE_CLOSED':
      return 'CLOSED'; // also "fully refunded": only ever reached here for orders not yet paid by us
    default:
      return 'PAYING';
  }
}

/** Alipay's local times (yyyy-MM-dd HH:mm:ss) are Beijing time. */
function beijingTime(s: string | undefined): Date | undefined {
  return s && /^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}$/.test(s)
    ? new Date(`${s.replace(' ', 'T')}+08:00`)
    : undefined;
}

function toFen(yuan: string | undefined): number | undefined {
  try {
    return yuan === undefined ? undefined : yuanToFen(yuan);
  } catch {
    return undefined;
  }
}

/**
 * Alipay face-to-face through alipay-sdk. Every reply is verified (`validateSign: true` — without it the
 * SDK accepts a forged reply); business errors come back as data with code/sub_code, not as throws.
 * Amounts cross the wire as yuan strings, converted here by string arithmetic.
 */
export class AlipayChannel implements PaymentChannel {
  readonly name = 'alipay';
  readonly capabilities: ChannelCapabilities = {
    tradeTypes: ['NATIVE', 'MICROPAY'],
    close: true,
    refund: true,
    reverse: true,
    notifications: true,
    statement: true,
  };
  private readonly sdk: AlipaySdk;
  private readonly opts: z.infer<typeof AlipayOptionsSchema>;

  constructor(
    options: AlipayOptions,
    private readonly record: OutboundRecorder = () => undefined,
  ) {
    this.opts = AlipayOptionsSchema.parse(options);
    const base = this.opts.baseUrl.replace(/\/$/, '');
    this.sdk = new AlipaySdk({
      appId: this.opts.appId,
      privateKey: this.opts.privateKeyPem,
      keyType: 'PKCS8',
      alipayPublicKey: this.opts.alipayPublicKeyPem,
      signType: 'RSA2',
      gateway: `${base}/gateway.do`,
      endpoint: base,
      timeout: this.opts.timeoutMs,
      camelcase: false, // keep the wire's snake_case names
    });
  }

  /** One gateway call: verified reply, or UNKNOWN when nothing (verifiable) came back. */
  private async exec(
    operation: string,
    orderNo: string | undefined,
    method: string,
    biz: Record<string, unknown>,
    extra: Record<string, string> = {},
  ) {
    const started = Date.now();
    const url = `${this.opts.baseUrl.replace(/\/$/, '')}/gateway.do`;
    try {
      const r = (await this.sdk.exec(method, { bizContent: biz, ...extra }, { validateSign: true })) as Reply;
      const ok = r.code === '10000';
      this.record({
        party: this.name,
        operation,
        orderNo,
        method: 'POST',
        url,
        latencyMs: Date.now() - started,
        result: ok ? 'SUCCESS' : 'FAIL',
        errorCode: ok ? undefined : (r.sub_code ?? r.code),
        errorMessage: ok ? undefined : (r.sub_msg ?? r.msg),
        request: { method, biz },
        response: r,
      });
      return { answered: true as const, r };
    } catch (e) {
      const err = e as { code?: string; message?: string };
      this.record({
        party: this.name,
        operation,
        orderNo,
        method: 'POST',
        url,
        latencyMs: Date.now() - started,
        result: 'UNKNOWN',
        errorCode: err.code ?? 'NETWORK_ERROR',
        errorMessage: (err.message ?? '').slice(0, 300),
        request: { method, biz },
      });
      return {
        answered: false as const,
        errorCode: err.code ?? 'NETWORK_ERROR',
        errorMessage: (err.message ?? '').slice(0, 300),
      };
    }
  }

  async createPayment(input: CreatePaymentInput): Promise<CreatePaymentOutput> {
    const biz: Record<string, unknown> = {
      out_trade_no: input.orderNo,
      total_amount: fenToYuan(input.amountFen),
      subject: input.description.slice(0, 256),
      time_expire: new Date(input.expiresAt.getTime() + 8 * 3600_000)
        .toISOString()
        .slice(0, 19)
        .replace('T', ' '),
    };
    if (input.tradeType === 'NATIVE') {
      const res = await this.exec('create', input.orderNo, 'alipay.trade.precreate', biz, {
        notify_url: input.notifyUrl,
      });
      if (!res.answered)
        return { result: 'UNKNOWN', errorCode: res.errorCode, errorMessage: res.errorMessage };
      if (res.r.code === '10000') return { result: 'SUCCESS', prepay: { codeUrl: res.r.qr_code } };
      return {
        result: res.r.code === '20000' ? 'UNKNOWN' : 'FAIL',
        errorCode: res.r.sub_code ?? res.r.code,
        errorMessage: res.r.sub_msg,
      };
    }
    if (input.tradeType === 'MICROPAY') {
      if (!input.authCode)
        return { result: 'FAIL', errorCode: 'PARAM_ERROR', errorMessage: 'a payment code is required' };
      const res = await this.exec(
        'create',
        input.orderNo,
        'alipay.trade.pay',
        { ...biz, scene: 'bar_code', auth_code: input.authCode },
        { notify_url: input.notifyUrl },
      );
      if (!res.answered)
        return { result: 'UNKNOWN', errorCode: res.errorCode, errorMessage: res.errorMessage };
      const r = res.r;
      if (r.code === '10000')
        return {
          result: 'SUCCESS',
          payment: this.payment(input.orderNo, { ...r, trade_status: 'TRADE_SUCCESS' }),
        };
      if (r.code === '10003') return { result: 'PENDING', errorCode: '10003', errorMessage: r.msg }; // the buyer is confirming
      if (r.code === '20000')
        return { result: 'UNKNOWN', errorCode: r.sub_code ?? '20000', errorMessage: r.sub_msg };
      return { result: 'FAIL', errorCode: r.sub_code ?? r.code, errorMessage: r.sub_msg };
    }
    return {
      result: 'FAIL',
      errorCode: 'UNSUPPORTED',
      errorMessage: `Alipay face-to-face does not take ${input.tradeType}`,
    };
  }

  private payment(orderNo: string, r: Reply): ChannelPayment {
    return {
      orderNo: r.out_trade_no ?? orderNo,
      state: mapTradeStatus(r.trade_status),
      rawState: r.trade_status,
      channelTradeNo: r.trade_no,
      amountFen: toFen(r.total_amount),
      paidAt: beijingTime(r.gmt_payment ?? r.send_pay_date),
      mchId: r.seller_id,
      appId: r.app_id,
    };
  }

  async queryPayment(orderNo: string): Promise<QueryPaymentOutput> {
    const res = await this.exec('query', orderNo, 'alipay.trade.query', { out_trade_no: orderNo });
    if (!res.answered) return { result: 'UNKNOWN', errorCode: res.errorCode, errorMessage: res.errorMessage };
    if (res.r.code === '10000') return { result: 'SUCCESS', payment: this.payment(orderNo, res.r) };
    if (res.r.sub_code === 'ACQ.TRADE_NOT_EXIST')
      return { result: 'SUCCESS', payment: { orderNo, state: 'NOT_FOUND' }, errorCode: res.r.sub_code };
    return {
      result: res.r.code === '40004' ? 'FAIL' : 'UNKNOWN',
      errorCode: res.r.sub_code ?? res.r.code,
      errorMessage: res.r.sub_msg,
    };
  }

  async closePayment(orderNo: string): Promise<CloseOutput> {
    const res = await this.exec('close', orderNo, 'alipay.trade.close', { out_trade_no: orderNo });
    if (!res.answered) return { result: 'UNKNOWN', errorCode: res.errorCode, errorMessage: res.errorMessage };
    // A precreated order nobody scanned does not exist at Alipay yet: nothing to close.
    if (res.r.code === '10000' || res.r.sub_code === 'ACQ.TRADE_NOT_EXIST')
      return { result: 'SUCCESS', errorCode: res.r.sub_code };
    return { result: 'FAIL', errorCode: res.r.sub_code ?? res.r.code, errorMessage: res.r.sub_msg };
  }

  async reversePayment(
    orderNo: string,
  ): Promise<{ result: ChannelResult; recall?: boolean; errorCode?: string; errorMessage?: string }> {
    const res = await this.exec('reverse', orderNo, 'alipay.trade.cancel', { out_trade_no: orderNo });
    if (!res.answered) return { result: 'UNKNOWN', errorCode: res.errorCode, errorMessage: res.errorMessage };
    if (res.r.code === '10000') return { result: 'SUCCESS', recall: res.r.retry_flag === 'Y' };
    return {
      result: res.r.retry_flag === 'Y' ? 'PENDING' : 'FAIL',
      recall: res.r.retry_flag === 'Y',
      errorCode: res.r.sub_code ?? res.r.code,
      errorMessage: res.r.sub_msg,
    };
  }

  async refund(input: RefundInput): Promise<RefundOutput> {
    const res = await this.exec('refund', input.orderNo, 'alipay.trade.refund', {
      out_trade_no: input.orderNo,
      refund_amount: fenToYuan(input.amountFen),
      out_request_no: input.refundNo,
      refund_reason: input.reason.slice(0, 256),
    });
    if (!res.answered) return { result: 'UNKNOWN', errorCode: res.errorCode, errorMessage: res.errorMessage };
    if (res.r.code === '10000') {
      // Alipay refunds synchronously; fund_change N on a repeat means it was already done.
      return {
        result: 'SUCCESS',
        refund: {
          refundNo: input.refundNo,
          orderNo: input.orderNo,
          state: 'SUCCESS',
          channelRefundId: res.r.trade_no,
          amountFen: input.amountFen,
        },
      };
    }
    if (res.r.code === '20000')
      return { result: 'UNKNOWN', errorCode: res.r.sub_code, errorMessage: res.r.sub_msg };
    return { result: 'FAIL', errorCode: res.r.sub_code ?? res.r.code, errorMessage: res.r.sub_msg };
  }

  async queryRefund(refundNo: string, orderNo: string): Promise<RefundOutput> {
    const res = await this.exec('refund_query', orderNo, 'alipay.trade.fastpay.refund.query', {
      out_trade_no: orderNo,
      out_request_no: refundNo,
    });
    if (!res.answered) return { result: 'UNKNOWN', errorCode: res.errorCode, errorMessage: res.errorMessage };
    if (res.r.code !== '10000')
      return { result: 'UNKNOWN', errorCode: res.r.sub_code ?? res.r.code, errorMessage: res.r.sub_msg };
    if (res.r.refund_status === 'REFUND_SUCCESS') {
      return {
        result: 'SUCCESS',
        refund: { refundNo, orderNo, state: 'SUCCESS', amountFen: toFen(res.r.refund_amount) },
      };
    }
    return { result: 'SUCCESS', refund: { refundNo, orderNo, state: 'NOT_FOUND' } };
  }

  parseNotification(_headers: Record<string, string | undefined>, rawBody: string): ParsedNotification {
    const params: Record<string, string> = {};
    for (const [k, v] of new URLSearchParams(rawBody)) params[k] = v;
    if (!params.sign || !params.notify_id)
      throw new NotificationRejected('format', 'not an Alipay notification');
    let valid = false;
    try {
      valid = this.sdk.checkNotifySignV2(params); // V2: values already decoded (V1 breaks on % in a subject)
    } catch {
      valid = false;
    }
    if (!valid) throw new NotificationRejected('signature', 'signature does not verify');
    if (params.app_id !== this.opts.appId)
      throw new NotificationRejected('format', `notification for another app ${params.app_id}`);
    return {
      notifyId: params.notify_id,
      eventType: `${params.notify_type}:${params.trade_status}`,
      payment:
        params.out_trade_no && params.trade_status ? this.payment(params.out_trade_no, params) : undefined,
    };
  }

  /**
   * The day's trade bill: `alipay.data.dataservice.bill.downloadurl.query` (bill_type=trade, reply verified)
   * gives a short-lived (~30 s) URL of a zip of GBK CSVs; the 业务明细 file in it is parsed and checked against
   * its own footer. The file is not signed and has no announced hash: the URL came in a verified reply, and
   * it must be https (or on the configured gateway's origin, as the sandbox is).
   */
  async downloadStatement(billDate: string): Promise<StatementOutput> {
    if (!isBillDate(billDate))
      return {
        result: 'FAIL',
        errorCode: 'PARAM_ERROR',
        errorMessage: `bill date ${billDate} is not YYYY-MM-DD`,
      };
    const res = await this.exec('statement', undefined, 'alipay.data.dataservice.bill.downloadurl.query', {
      bill_type: 'trade',
      bill_date: billDate,
    });
    if (!res.answered) return { result: 'UNKNOWN', errorCode: res.errorCode, errorMessage: res.errorMessage };
    const r = res.r;
    if (r.code !== '10000') {
      if (r.sub_code === 'isp.bill_not_exist') {
        const readyAt =
          Date.parse(`${billDate}T00:00:00+08:00`) + (24 + this.opts.statementReadyHour) * 3600_000;
        return Date.now() < readyAt
          ? { result: 'PENDING', errorCode: 'STATEMENT_NOT_READY', errorMessage: r.sub_msg }
          : { result: 'FAIL', errorCode: 'NO_STATEMENT', errorMessage: r.sub_msg };
      }
      return {
        result: r.code === '20000' ? 'UNKNOWN' : 'FAIL',
        errorCode: r.sub_code ?? r.code,
        errorMessage: r.sub_msg ?? r.msg,
      };
    }
    let url: URL;
    try {
      url = new URL(r.bill_download_url ?? '');
    } catch {
      return {
        result: 'FAIL',
        errorCode: 'STATEMENT_FORMAT',
        errorMessage: 'reply has no bill_download_url',
      };
    }
    if (url.protocol !== 'https:' && url.origin !== new URL(this.opts.baseUrl).origin)
      return {
        result: 'FAIL',
        errorCode: 'STATEMENT_URL_UNTRUSTED',
        errorMessage: `bill_download_url is neither https nor on ${new URL(this.opts.baseUrl).origin}`,
      };
    const file = await this.download(url, billDate);
    if (!file.ok) return { result: 'UNKNOWN', errorCode: file.errorCode, errorMessage: file.errorMessage };
    try {
      const { fileName, text } = extractTradeBill(file.data);
      const parsed = parseAlipayTradeBill(text, { sellerId: this.opts.sellerId });
      return { result: 'SUCCESS', ...parsed, rawFile: file.data, fileName };
    } catch (e) {
      return statementFailure(e, {
        record: this.record,
        party: this.name,
        url: `${url.origin}${url.pathname}`,
      });
    }
  }

  /** An uploaded bill archive (the zip the download URL serves), through the parser of {@link downloadStatement}. */
  parseStatementFile(file: Buffer, _billDate: string): StatementOutput {
    try {
      const { fileName, text } = extractTradeBill(file);
      const parsed = parseAlipayTradeBill(text, { sellerId: this.opts.sellerId });
      return { result: 'SUCCESS', ...parsed, rawFile: file, fileName };
    } catch (e) {
      return statementFailure(e);
    }
  }

  /** GETs the bill archive (plain HTTP download, no signature), bounded in time and size. */
  private async download(
    url: URL,
    billDate: string,
  ): Promise<{ ok: true; data: Buffer } | { ok: false; errorCode: string; errorMessage: string }> {
    const started = Date.now();
    const logged = `${url.origin}${url.pathname}`; // the query carries the download token: kept out of the log
    let status: number | undefined;
    try {
      const res = await fetch(url, { signal: AbortSignal.timeout(this.opts.timeoutMs), redirect: 'error' });
      status = res.status;
      if (!res.ok) throw Object.assign(new Error(`HTTP ${res.status}`), { code: `HTTP_${res.status}` });
      const declared = Number(res.headers.get('content-length') ?? 0);
      if (declared > MAX_BILL_BYTES) throw Object.assign(new Error('bill too large'), { code: 'TOO_LARGE' });
      const data = Buffer.from(await res.arrayBuffer());
      if (data.length > MAX_BILL_BYTES)
        throw Object.assign(new Error('bill too large'), { code: 'TOO_LARGE' });
      this.record({
        party: this.name,
        operation: 'statement_download',
        method: 'GET',
        url: logged,
        httpStatus: status,
        latencyMs: Date.now() - started,
        result: 'SUCCESS',
        request: { billDate },
        response: { bytes: data.length },
      });
      return { ok: true, data };
    } catch (e) {
      const err = e as { code?: string; name?: string; message?: string };
      const errorCode = err.code ?? (err.name === 'TimeoutError' ? 'TIMEOUT' : 'NETWORK_ERROR');
      const errorMessage = (err.message ?? '').slice(0, 300);
      this.record({
        party: this.name,
        operation: 'statement_download',
        method: 'GET',
        url: logged,
        httpStatus: status,
        latencyMs: Date.now() - started,
        result: 'UNKNOWN',
        errorCode,
        errorMessage,
        request: { billDate },
      });
      return { ok: false, errorCode, errorMessage };
    }
  }

  notificationReply(ok: boolean): NotificationReply {
    // Alipay resends until it reads exactly "success".
    return { status: 200, contentType: 'text/plain', body: ok ? 'success' : 'fail' };
  }
}
