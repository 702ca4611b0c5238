import { randomBytes } from 'node:crypto';
import { postJson } from '../../lib/post-json';
import { sm2, sm3 } from 'sm-crypto-v2';
import { z } from 'zod';
import type {
  ChannelCapabilities,
  ChannelPayment,
  ChannelPaymentState,
  ChannelRefund,
  ChannelRefundState,
  ChannelResult,
  CloseOutput,
  CreatePaymentInput,
  CreatePaymentOutput,
  NotificationReply,
  OutboundRecorder,
  ParsedNotification,
  PaymentChannel,
  QueryPaymentOutput,
  RefundInput,
  RefundOutput,
  StatementLine,
  StatementOutput,
  StatementTotals,
} from '../types';
import { NotificationRejected } from '../types';

/*
 * Bank aggregator (聚合支付, CCB / ICBC style) — the whole wire format of docs/bank-aggregator-contract.md
 * lives in this one file. No public field-level specification exists for these products (protocols.md §7):
 * this is our own contract with the banks' security shape (SM2-signed JSON envelopes, async notifications,
 * a T+1 statement file). A real bank's format replaces this file and keeps the class's interface.
 */

/** GM/T 0009 default SM2 user id; sm-crypto-v2 needs it spelled out together with `hash: true` (protocols.md §8). */
export const BANKPAY_DEFAULT_USER_ID = '1234567812345678';
export const BANKPAY_API_VERSION = '1.0';
/** Accepted clock skew of a signed envelope (request, reply, notification), seconds. */
export const BANKPAY_MAX_SKEW_SECONDS = 300;

/** Columns of the statement file, in order (contract §7). */
export const BANKPAY_STATEMENT_HEADER = [
  'recordType',
  'merchantNo',
  'outTradeNo',
  'bankTradeNo',
  'outRefundNo',
  'bankRefundNo',
  'amountFen',
  'feeFen',
  'finishedAt',
  'status',
  'payMethod',
] as const;

function isSm2Point(hex: string): boolean {
  try {
    return sm2.verifyPublicKey(hex);
  } catch {
    return false; // not even a point encoding
  }
}

/** Settings of one merchant account at the bank aggregator. */
export const BankPayOptionsSchema = z.object({
  /** The API client id the bank issued to this merchant (appId in every envelope). */
  appId: z
    .string()
    .regex(/^[0-9A-Za-z_-]{4,32}$/, 'is the API client id issued by the bank: 4–32 letters, digits, _ or -'),
  /** The merchant number (商户号) the bank settles to, cross-checked against replies and notifications. */
  merchantNo: z.string().regex(/^\d{15}$/, 'is the 15-digit merchant number (商户号) from the bank'),
  /** Id under which the bank keeps our SM2 public key (key rotation). */
  keyId: z.string().regex(/^[0-9A-Za-z_.-]{1,64}$/, 'is the key id the bank registered our public key under'),
  /** Our SM2 private key, 64 hex characters. Signs every request. */
  privateKeyHex: z
    .string()
    .regex(/^[0-9a-fA-F]{64}$/, 'must be the SM2 private key as 64 hex characters (32 bytes)'),
  /** Id of the bank's key that signs replies and notifications. */
  bankKeyId: z.string().regex(/^[0-9A-Za-z_.-]{1,64}$/, 'is the id of the bank key that signs replies'),
  /** The bank's SM2 public key, uncompressed: `04` + x + y (130 hex characters). */
  bankPublicKeyHex: z
    .string()
    .regex(
      /^04[0-9a-fA-F]{128}$/,
      'must be an uncompressed SM2 public key: 04 followed by 128 hex characters',
    )
    .refine(isSm2Point, 'is not a point on the SM2 curve'),
  /** SM2 signer id (ZA). [U] banks almost always keep the GM/T 0009 default; configurable all the same. */
  userId: z.string().min(1).max(64).default(BANKPAY_DEFAULT_USER_ID),
  /** API base; the sandbox points it at the simulator. `/api/v1/<method>` is appended. */
  baseUrl: z.url(),
  timeoutMs: z.number().int().positive(),
});
export type BankPayOptions = z.input<typeof BankPayOptionsSchema>;

// ---- signing (contract §3) ---------------------------------------------------------------------------

/**
 * The string an envelope's signature covers: every field but `sign` whose value is a non-empty string,
 * sorted by key (ASCII), as `key=value` joined by `&`, values unescaped.
 */
export function canonicalString(envelope: Record<string, unknown>): string {
  return Object.keys(envelope)
    .filter((k) => k !== 'sign' && typeof envelope[k] === 'string' && envelope[k] !== '')
    .sort()
    .map((k) => `${k}=${envelope[k] as string}`)
    .join('&');
}

/**
 * Why an envelope cannot even be checked, or undefined. Values are strings; only `bizContent` may contain
 * `&` or `=`, which keeps the canonical string's split into fields unambiguous.
 */
export function envelopeFormatError(envelope: unknown, required: readonly string[]): string | undefined {
  if (!envelope || typeof envelope !== 'object' || Array.isArray(envelope)) return 'not a JSON object';
  const e = envelope as Record<string, unknown>;
  for (const [k, v] of Object.entries(e)) {
    if (typeof v !== 'string') return `${k} is not a string`;
    if (k !== 'bizContent' && k !== 'sign' && /[&=]/.test(v)) return `${k} contains & or =`;
  }
  const missing = required.filter((k) => !e[k]);
  return missing.length ? `missing ${missing.join(', ')}` : undefined;
}

const utf8 = (s: string) => new TextEncoder().encode(s);

/** SM3withSM2 over the canonical string; raw r‖s (64 bytes), base64. */
export function signCanonical(
  canonical: string,
  privateKeyHex: string,
  publicKeyHex: string,
  userId: string,
) {
  const hex = sm2.doSignature(utf8(canonical), privateKeyHex, {
    hash: true,
    userId,
    publicKey: publicKeyHex, // else it is derived from the private key on every call
  });
  return Buffer.from(hex, 'hex').toString('base64');
}

type SmPoint = ReturnType<typeof sm2.precomputePublicKey>;

/** Verifies a base64 r‖s SM2 signature; false for anything malformed. */
export function verifyCanonical(
  canonical: string,
  signature: string,
  publicKey: string | SmPoint,
  userId: string,
): boolean {
  const raw = Buffer.from(signature, 'base64');
  if (raw.length !== 64 || raw.toString('base64') !== signature) return false;
  try {
    return sm2.doVerifySignature(utf8(canonical), raw.toString('hex'), publicKey, { hash: true, userId });
  } catch {
    return false;
  }
}

/** RFC 3339 in Beijing time (`2026-11-23T15:04:05+08:00`), as business times travel. */
export function rfc3339Beijing(d: Date): string {
  return `${new Date(d.getTime() + 8 * 3600_000).toISOString().slice(0, 19)}+08:00`;
}

function parseTime(s: unknown): Date | undefined {
  if (typeof s !== 'string') return undefined;
  if (/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?([+-]\d{2}:\d{2}|Z)$/.test(s)) return new Date(s);
  // Statement files: local Beijing time without an offset.
  if (/^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}$/.test(s)) return new Date(`${s.replace(' ', 'T')}+08:00`);
  return undefined;
}

export const fen = (v: unknown): number | undefined =>
  typeof v === 'number' && Number.isSafeInteger(v) && v >= 0 ? v : undefined;
export const str = (v: unknown): string | undefined => (typeof v === 'string' && v !== '' ? v : undefined);

// ---- state mapping: the bank's words to ours, one switch each -----------------------------------------

function mapTradeStatus(status: unknown): ChannelPaymentState {
  switch (status) {
    case 'SUCCESS':
      return 'PAID';
    case 'REFUND':
      return 'REFUNDED'; // paid, then (partly) refunded
    case 'NOTPAY':
      return 'NOTPAY';
    case 'USERPAYING':
      return 'PAYING';
    case 'CLOSED':
    case 'REVERSED':
      return 'CLOSED';
    case 'PAYERROR':
      return 'FAILED';
    default:
      return 'PAYING'; // an unknown new state: keep asking rather than guess
  }
}

function mapRefundStatus(status: unknown): ChannelRefundState {
  switch (status) {
    case 'SUCCESS':
      return 'SUCCESS';
    case 'PROCESSING':
      return 'PROCESSING';
    case 'FAIL':
      return 'FAILED';
    case 'ABNORMAL':
      return 'ABNORMAL';
    default:
      return 'PROCESSING';
  }
}

/** Bank codes that say nothing about the order: ask again (query), never a definite failure. */
const RETRYABLE_CODES = new Set(['SYSTEM_ERROR', 'BANK_BUSY', 'FREQUENCY_LIMITED']);
export const failureResult = (code: string): ChannelResult =>
  RETRYABLE_CODES.has(code) ? 'UNKNOWN' : 'FAIL';

export type Biz = Record<string, unknown>;

/** A verified reply, or no (verifiable) reply at all. */
export type CallOutcome =
  | { answered: true; code: string; message: string; biz: Biz; httpStatus: number }
  | { answered: false; errorCode: string; errorMessage: string; httpStatus?: number };

const REPLY_FIELDS = [
  'appId',
  'merchantNo',
  'method',
  'version',
  'signType',
  'keyId',
  'timestamp',
  'nonce',
  'requestNonce',
  'code',
  'sign',
] as const;
const NOTIFY_FIELDS = [
  'appId',
  'merchantNo',
  'notifyId',
  'notifyType',
  'version',
  'signType',
  'keyId',
  'timestamp',
  'nonce',
  'bizContent',
  'sign',
] as const;

/**
 * Parses and checks a statement file (contract §7): header, data lines, one TOTAL line whose counts and sums
 * must equal the lines'. Throws with a reason for anything else.
 */
export function parseBankStatement(
  file: Buffer,
  expect: { billDate: string; merchantNo: string },
): { lines: StatementLine[]; totals: StatementTotals } {
  let text = file.toString('utf8');
  if (text.charCodeAt(0) === 0xfeff) text = text.slice(1);
  const rows = text.split(/\r?\n/);
  if (rows.at(-1) === '') rows.pop();
  if (rows[0] !== BANKPAY_STATEMENT_HEADER.join(',')) throw new Error('unexpected header line');
  const lines: StatementLine[] = [];
  let totals: StatementTotals | undefined;
  const amount = (v: string | undefined, what: string, row: number) => {
    if (!v || !/^\d{1,15}$/.test(v)) throw new Error(`line ${row}: ${what} is not an amount in fen`);
    return Number(v);
  };
  for (let i = 1; i < rows.length; i++) {
    const cells = rows[i]!.split(',');
    if (totals) throw new Error(`line ${i + 1}: content after the TOTAL line`);
    if (cells[0] === 'TOTAL') {
      if (cells.length !== 8) throw new Error(`line ${i + 1}: TOTAL has ${cells.length} cells, not 8`);
      if (cells[1] !== expect.billDate) throw new Error(`TOTAL is for ${cells[1]}, not ${expect.billDate}`);
      if (cells[2] !== expect.merchantNo) throw new Error(`TOTAL is for merchant ${cells[2]}`);
      totals = {
        paymentCount: amount(cells[3], 'payCount', i + 1),
        paymentFen: amount(cells[4], 'payAmountFen', i + 1),
        refundCount: amount(cells[5], 'refundCount', i + 1),
        refundFen: amount(cells[6], 'refundAmountFen', i + 1),
        // Net fee: charged on payments less returned with refunds, so the only cell that may be negative.
        feeFen: cells[7]?.startsWith('-')
          ? -amount(cells[7].slice(1), 'feeFen', i + 1)
          : amount(cells[7], 'feeFen', i + 1),
      };
      continue;
    }
    if (cells.length !== BANKPAY_STATEMENT_HEADER.length)
      throw new Error(`line ${i + 1}: ${cells.length} cells, not ${BANKPAY_STATEMENT_HEADER.length}`);
    const [
      kind,
      merchantNo,
      outTradeNo,
      bankTradeNo,
      outRefundNo,
      bankRefundNo,
      amt,
      fee,
      at,
      status,
      method,
    ] = cells as [string, string, string, string, string, string, string, string, string, string, string];
    if (kind !== 'PAY' && kind !== 'REFUND') throw new Error(`line ${i + 1}: record type ${kind}`);
    if (merchantNo !== expect.merchantNo) throw new Error(`line ${i + 1}: merchant ${merchantNo}`);
    if (!outTradeNo) throw new Error(`line ${i + 1}: no outTradeNo`);
    const occurredAt = parseTime(at);
    if (!occurredAt) throw new Error(`line ${i + 1}: finishedAt ${at} is not yyyy-MM-dd HH:mm:ss`);
    lines.push({
      kind: kind === 'PAY' ? 'PAYMENT' : 'REFUND',
      orderNo: outTradeNo,
      channelTradeNo: bankTradeNo || undefined,
      refundNo: outRefundNo || undefined,
      channelRefundId: bankRefundNo || undefined,
      amountFen: amount(amt, 'amountFen', i + 1),
      feeFen: amount(fee, 'feeFen', i + 1),
      occurredAt,
      mchId: merchantNo,
      rawState: method ? `${status}/${method}` : status,
    });
  }
  if (!totals) throw new Error('no TOTAL line');
  const pays = lines.filter((l) => l.kind === 'PAYMENT');
  const refunds = lines.filter((l) => l.kind === 'REFUND');
  const sum = (ls: StatementLine[], f: (l: StatementLine) => number) => ls.reduce((s, l) => s + f(l), 0);
  const computed: StatementTotals = {
    paymentCount: pays.length,
    paymentFen: sum(pays, (l) => l.amountFen),
    refundCount: refunds.length,
    refundFen: sum(refunds, (l) => l.amountFen),
    feeFen: sum(pays, (l) => l.feeFen) - sum(refunds, (l) => l.feeFen),
  };
  for (const k of Object.keys(computed) as (keyof StatementTotals)[]) {
    if (computed[k] !== totals[k])
      throw new Error(`TOTAL ${k} is ${totals[k]} but the lines add up to ${computed[k]}`);
  }
  return { lines, totals };
}

/**
 * The bank aggregator: one merchant account, SM2-signed JSON envelopes over HTTPS. Every reply is verified
 * (signature, bank key id, our request nonce echoed, timestamp window, our app and merchant) before a word
 * of it is believed; a reply that fails any check is UNKNOWN, like a timeout, and resolved by a query.
 */
export class BankPayChannel implements PaymentChannel {
  readonly name: string = 'bankpay';
  readonly capabilities: ChannelCapabilities = {
    // JSAPI through a bank needs the bank's own mini-program/official-account binding per hospital: not built.
    tradeTypes: ['NATIVE', 'H5', 'MICROPAY'],
    close: true,
    refund: true,
    reverse: true,
    notifications: true,
    statement: true,
  };
  private readonly opts: z.infer<typeof BankPayOptionsSchema>;
  private readonly publicKeyHex: string;
  /** Precomputed once: verification is the hot path of every reply and notification. */
  private readonly bankKey: SmPoint;
  private readonly base: string;

  constructor(
    options: BankPayOptions,
    private readonly record: OutboundRecorder = () => undefined,
  ) {
    const parsed = BankPayOptionsSchema.safeParse(options);
    if (!parsed.success) {
      const what = parsed.error.issues.map((i) => `${i.path.join('.') || '(options)'} ${i.message}`);
      throw new Error(`bank aggregator (bankpay) account settings are invalid — fix: ${what.join('; ')}`);
    }
    this.opts = parsed.data;
    this.publicKeyHex = sm2.getPublicKeyFromPrivateKey(this.opts.privateKeyHex);
    this.bankKey = sm2.precomputePublicKey(this.opts.bankPublicKeyHex);
    this.base = this.opts.baseUrl.replace(/\/+$/, '');
  }

  /** A signed request envelope (exposed for the contract's test vectors and the simulator's tests). */
  envelope(method: string, biz: Biz, now = new Date()): Record<string, string> {
    const env: Record<string, string> = {
      appId: this.opts.appId,
      merchantNo: this.opts.merchantNo,
      method,
      version: BANKPAY_API_VERSION,
      signType: 'SM2',
      keyId: this.opts.keyId,
      timestamp: String(Math.floor(now.getTime() / 1000)),
      nonce: randomBytes(16).toString('hex'),
      bizContent: JSON.stringify(biz),
    };
    env.sign = signCanonical(
      canonicalString(env),
      this.opts.privateKeyHex,
      this.publicKeyHex,
      this.opts.userId,
    );
    return env;
  }

  /** Checks a reply envelope; returns why it must not be believed, or undefined. */
  private replyProblem(env: Record<string, string>, method: string, nonce: string): string | undefined {
    const format = envelopeFormatError(env, REPLY_FIELDS);
    if (format) return format;
    if (env.signType !== 'SM2' || env.keyId !== this.opts.bankKeyId) return `unknown bank key ${env.keyId}`;
    if (!verifyCanonical(canonicalString(env), env.sign!, this.bankKey, this.opts.userId))
      return 'signature does not verify';
    if (env.requestNonce !== nonce) return 'reply to another request';
    if (env.method !== method) return `reply for ${env.method}`;
    if (env.appId !== this.opts.appId || env.merchantNo !== this.opts.merchantNo)
      return 'reply for another merchant';
    if (
      !/^\d{1,12}$/.test(env.timestamp!) ||
      Math.abs(Date.now() / 1000 - Number(env.timestamp)) > BANKPAY_MAX_SKEW_SECONDS
    )
      return 'reply timestamp outside the window';
    return undefined;
  }

  /** One API call: a verified reply, or `answered: false` (timeout, transport error, unverifiable reply). */
  protected async call(
    operation: string,
    orderNo: string | undefined,
    method: string,
    biz: Biz,
  ): Promise<CallOutcome> {
    const started = Date.now();
    const url = `${this.base}/api/v1/${method}`;
    const env = this.envelope(method, biz);
    const request = { method, biz };
    const unanswered = (errorCode: string, errorMessage: string, httpStatus?: number): CallOutcome => {
      this.record({
        party: this.name,
        operation,
        orderNo,
        method: 'POST',
        url,
        httpStatus,
        latencyMs: Date.now() - started,
        result: 'UNKNOWN',
        errorCode,
        errorMessage,
        request,
      });
      return { answered: false, errorCode, errorMessage, httpStatus };
    };
    const posted = await postJson(url, env, this.opts.timeoutMs);
    if (!posted.answered) return unanswered(posted.errorCode, posted.errorMessage);
    const { status, text } = posted;
    // Only a 200 carries a signed envelope; anything else is a gateway in front of the bank talking.
    if (status !== 200) return unanswered(`HTTP_${status}`, text.slice(0, 300), status);
    let reply: Record<string, string>;
    try {
      reply = JSON.parse(text) as Record<string, string>;
    } catch {
      return unanswered('REPLY_NOT_JSON', text.slice(0, 300), status);
    }
    const problem = this.replyProblem(reply, method, env.nonce!);
    if (problem) return unanswered('REPLY_UNVERIFIED', problem, status);
    let replyBiz: Biz = {};
    if (reply.bizContent) {
      try {
        const v = JSON.parse(reply.bizContent) as unknown;
        if (v && typeof v === 'object' && !Array.isArray(v)) replyBiz = v as Biz;
        else return unanswered('REPLY_NOT_JSON', 'bizContent is not an object', status);
      } catch {
        return unanswered('REPLY_NOT_JSON', 'bizContent is not JSON', status);
      }
    }
    const ok = reply.code === 'SUCCESS';
    this.record({
      party: this.name,
      operation,
      orderNo,
      method: 'POST',
      url,
      httpStatus: status,
      latencyMs: Date.now() - started,
      result: ok ? 'SUCCESS' : failureResult(reply.code!),
      errorCode: ok ? undefined : reply.code,
      errorMessage: ok ? undefined : reply.message,
      request,
      response: { code: reply.code, message: reply.message, biz: replyBiz },
    });
    return {
      answered: true,
      code: reply.code!,
      message: reply.message ?? '',
      biz: replyBiz,
      httpStatus: status,
    };
  }

  protected payment(orderNo: string, b: Biz, appId?: string): ChannelPayment {
    return {
      orderNo: str(b.outTradeNo) ?? orderNo,
      state: mapTradeStatus(b.tradeStatus),
      rawState: str(b.tradeStatus),
      channelTradeNo: str(b.bankTradeNo),
      amountFen: fen(b.amountFen),
      paidAt: parseTime(b.finishedAt),
      mchId: str(b.merchantNo),
      appId,
    };
  }

  private refundOf(refundNo: string, orderNo: string | undefined, b: Biz): ChannelRefund {
    return {
      refundNo: str(b.outRefundNo) ?? refundNo,
      orderNo: str(b.outTradeNo) ?? orderNo,
      state: mapRefundStatus(b.refundStatus),
      rawState: str(b.refundStatus),
      channelRefundId: str(b.bankRefundNo),
      amountFen: fen(b.refundAmountFen),
      succeededAt: b.refundStatus === 'SUCCESS' ? parseTime(b.finishedAt) : undefined,
      mchId: str(b.merchantNo),
    };
  }

  async createPayment(input: CreatePaymentInput): Promise<CreatePaymentOutput> {
    const common = {
      outTradeNo: input.orderNo,
      amountFen: input.amountFen,
      currency: 'CNY',
      subject: input.description.slice(0, 128),
      notifyUrl: input.notifyUrl,
    };
    if (input.tradeType === 'MICROPAY') {
      if (!input.authCode)
        return { result: 'FAIL', errorCode: 'PARAM_ERROR', errorMessage: 'a payment code is required' };
      const res = await this.call('create', input.orderNo, 'trade.micropay', {
        ...common,
        authCode: input.authCode,
        terminalIp: input.clientIp ?? '127.0.0.1',
      });
      if (!res.answered)
        return { result: 'UNKNOWN', errorCode: res.errorCode, errorMessage: res.errorMessage };
      if (res.code !== 'SUCCESS')
        return { result: failureResult(res.code), errorCode: res.code, errorMessage: res.message };
      const p = this.payment(input.orderNo, res.biz, this.opts.appId);
      switch (p.state) {
        case 'PAID':
          return { result: 'SUCCESS', payment: p };
        case 'PAYING':
          return {
            result: 'PENDING',
            errorCode: p.rawState ?? 'USERPAYING',
            errorMessage: 'the payer is confirming',
          };
        case 'FAILED':
          return {
            result: 'FAIL',
            errorCode: str(res.biz.failCode) ?? 'PAYERROR',
            errorMessage: str(res.biz.failMessage),
          };
        default:
          return { result: 'UNKNOWN', errorCode: p.rawState ?? 'UNEXPECTED_STATE' };
      }
    }
    if (input.tradeType !== 'NATIVE' && input.tradeType !== 'H5') {
      return {
        result: 'FAIL',
        errorCode: 'UNSUPPORTED',
        errorMessage: `the bank aggregator account does not take ${input.tradeType}`,
      };
    }
    const res = await this.call('create', input.orderNo, 'trade.precreate', {
      ...common,
      tradeType: input.tradeType,
      expireTime: rfc3339Beijing(input.expiresAt),
      ...(input.clientIp ? { clientIp: input.clientIp } : {}),
    });
    if (!res.answered) return { result: 'UNKNOWN', errorCode: res.errorCode, errorMessage: res.errorMessage };
    if (res.code === 'SUCCESS') {
      const codeUrl = str(res.biz.qrCode);
      const h5Url = str(res.biz.payUrl);
      if (input.tradeType === 'NATIVE' && codeUrl) return { result: 'SUCCESS', prepay: { codeUrl } };
      if (input.tradeType === 'H5' && h5Url) return { result: 'SUCCESS', prepay: { h5Url, codeUrl } };
      return {
        result: 'UNKNOWN',
        errorCode: 'REPLY_INCOMPLETE',
        errorMessage: 'no qrCode / payUrl in the reply',
      };
    }
    // Paid already (a repeated create after a lost reply): not a failure — the query applies the payment.
    if (res.code === 'ORDER_PAID')
      return { result: 'UNKNOWN', errorCode: res.code, errorMessage: res.message };
    return { result: failureResult(res.code), errorCode: res.code, errorMessage: res.message };
  }

  async queryPayment(orderNo: string): Promise<QueryPaymentOutput> {
    const res = await this.call('query', orderNo, 'trade.query', { outTradeNo: orderNo });
    if (!res.answered) return { result: 'UNKNOWN', errorCode: res.errorCode, errorMessage: res.errorMessage };
    if (res.code === 'SUCCESS')
      return { result: 'SUCCESS', payment: this.payment(orderNo, res.biz, this.opts.appId) };
    if (res.code === 'ORDER_NOT_EXIST')
      return { result: 'SUCCESS', payment: { orderNo, state: 'NOT_FOUND' }, errorCode: res.code };
    return { result: failureResult(res.code), errorCode: res.code, errorMessage: res.message };
  }

  async closePayment(orderNo: string): Promise<CloseOutput> {
    const res = await this.call('close', orderNo, 'trade.close', { outTradeNo: orderNo });
    if (!res.answered) return { result: 'UNKNOWN', errorCode: res.errorCode, errorMessage: res.errorMessage };
    if (res.code === 'SUCCESS') return { result: 'SUCCESS' };
    // Nothing to close: never reached the bank, or closed already.
    if (res.code === 'ORDER_NOT_EXIST' || res.code === 'ORDER_CLOSED')
      return { result: 'SUCCESS', errorCode: res.code };
    return { result: failureResult(res.code), errorCode: res.code, errorMessage: res.message };
  }

  async reversePayment(
    orderNo: string,
  ): Promise<{ result: ChannelResult; recall?: boolean; errorCode?: string; errorMessage?: string }> {
    const res = await this.call('reverse', orderNo, 'trade.reverse', { outTradeNo: orderNo });
    if (!res.answered) return { result: 'UNKNOWN', errorCode: res.errorCode, errorMessage: res.errorMessage };
    if (res.code === 'SUCCESS') {
      // recall=Y: the bank has not finished cancelling (e.g. the wallet is still deciding): call again.
      return res.biz.recall === 'Y'
        ? { result: 'PENDING', recall: true, errorCode: 'RECALL' }
        : { result: 'SUCCESS', recall: false };
    }
    if (res.code === 'ORDER_NOT_EXIST') return { result: 'SUCCESS', recall: false, errorCode: res.code };
    return { result: failureResult(res.code), errorCode: res.code, errorMessage: res.message };
  }

  async refund(input: RefundInput): Promise<RefundOutput> {
    const res = await this.call('refund', input.orderNo, 'refund.apply', {
      outTradeNo: input.orderNo,
      outRefundNo: input.refundNo,
      refundAmountFen: input.amountFen,
      totalAmountFen: input.totalFen,
      currency: 'CNY',
      reason: input.reason.slice(0, 80),
      notifyUrl: input.notifyUrl,
    });
    if (!res.answered) return { result: 'UNKNOWN', errorCode: res.errorCode, errorMessage: res.errorMessage };
    if (res.code === 'SUCCESS')
      return { result: 'SUCCESS', refund: this.refundOf(input.refundNo, input.orderNo, res.biz) };
    return { result: failureResult(res.code), errorCode: res.code, errorMessage: res.message };
  }

  async queryRefund(refundNo: string, orderNo: string): Promise<RefundOutput> {
    const res = await this.call('refund_query', orderNo, 'refund.query', {
      outTradeNo: orderNo,
      outRefundNo: refundNo,
    });
    if (!res.answered) return { result: 'UNKNOWN', errorCode: res.errorCode, errorMessage: res.errorMessage };
    if (res.code === 'SUCCESS')
      return { result: 'SUCCESS', refund: this.refundOf(refundNo, orderNo, res.biz) };
    if (res.code === 'REFUND_NOT_EXIST')
      return { result: 'SUCCESS', refund: { refundNo, orderNo, state: 'NOT_FOUND' }, errorCode: res.code };
    return { result: failureResult(res.code), errorCode: res.code, errorMessage: res.message };
  }

  parseNotification(
    _headers: Record<string, string | undefined>,
    rawBody: string,
    now: Date,
  ): ParsedNotification {
    let env: Record<string, string>;
    try {
      env = JSON.parse(rawBody) as Record<string, string>;
    } catch {
      throw new NotificationRejected('format', 'body is not JSON');
    }
    const format = envelopeFormatError(env, NOTIFY_FIELDS);
    if (format) throw new NotificationRejected('format', `not a bank notification envelope: ${format}`);
    if (env.signType !== 'SM2' || env.keyId !== this.opts.bankKeyId)
      throw new NotificationRejected('signature', `unknown bank key ${env.keyId}`);
    if (!verifyCanonical(canonicalString(env), env.sign!, this.bankKey, this.opts.userId))
      throw new NotificationRejected('signature', 'signature does not verify');
    if (
      !/^\d{1,12}$/.test(env.timestamp!) ||
      Math.abs(now.getTime() / 1000 - Number(env.timestamp)) > BANKPAY_MAX_SKEW_SECONDS
    )
      throw new NotificationRejected(
        'timestamp',
        `timestamp outside the ${BANKPAY_MAX_SKEW_SECONDS} s window`,
      );
    if (env.appId !== this.opts.appId || env.merchantNo !== this.opts.merchantNo)
      throw new NotificationRejected('format', `notification for another merchant ${env.merchantNo}`);
    let biz: Biz;
    try {
      biz = JSON.parse(env.bizContent!) as Biz;
    } catch {
      throw new NotificationRejected('format', 'bizContent is not JSON');
    }
    if (!biz || typeof biz !== 'object')
      throw new NotificationRejected('format', 'bizContent is not an object');
    const parsed: ParsedNotification = { notifyId: env.notifyId!, eventType: env.notifyType! };
    if (env.notifyType!.startsWith('TRADE.')) {
      if (!str(biz.outTradeNo) || !str(biz.tradeStatus))
        throw new NotificationRejected('format', 'trade notification lacks outTradeNo or tradeStatus');
      parsed.payment = this.payment(str(biz.outTradeNo)!, biz, env.appId);
    } else if (env.notifyType!.startsWith('REFUND.')) {
      if (!str(biz.outRefundNo))
        throw new NotificationRejected('format', 'refund notification lacks outRefundNo');
      parsed.refund = this.refundOf(str(biz.outRefundNo)!, str(biz.outTradeNo), biz);
    }
    return parsed;
  }

  notificationReply(ok: boolean, message = 'FAIL'): NotificationReply {
    // Only 200 with code SUCCESS stops the bank's retries (contract §6).
    return {
      status: ok ? 200 : 500,
      contentType: 'application/json',
      body: JSON.stringify(ok ? { code: 'SUCCESS', message: 'OK' } : { code: 'FAIL', message }),
    };
  }

  async downloadStatement(billDate: string): Promise<StatementOutput> {
    if (!/^\d{4}-\d{2}-\d{2}$/.test(billDate))
      return { result: 'FAIL', errorCode: 'PARAM_ERROR', errorMessage: 'billDate is YYYY-MM-DD' };
    const res = await this.call('statement', undefined, 'statement.query', { billDate });
    if (!res.answered) return { result: 'UNKNOWN', errorCode: res.errorCode, errorMessage: res.errorMessage };
    if (res.code !== 'SUCCESS')
      return { result: failureResult(res.code), errorCode: res.code, errorMessage: res.message };
    switch (res.biz.status) {
      case 'GENERATING':
        return { result: 'PENDING', errorCode: 'GENERATING', errorMessage: 'the statement is not ready yet' };
      case 'NO_DATA':
        return { result: 'FAIL', errorCode: 'NO_STATEMENT', errorMessage: `no trade on ${billDate}` };
      case 'READY':
        break;
      default:
        return { result: 'UNKNOWN', errorCode: 'UNEXPECTED_STATE', errorMessage: String(res.biz.status) };
    }
    const downloadUrl = str(res.biz.downloadUrl);
    const digest = str(res.biz.sm3)?.toLowerCase();
    const fileName = str(res.biz.fileName) ?? `${this.opts.merchantNo}_${billDate}.csv`;
    // The file itself is not signed: the signed reply's SM3 digest vouches for it. Only from the API's own
    // host, so a reply can never make us fetch from elsewhere.
    if (!downloadUrl || !digest || new URL(downloadUrl, this.base).origin !== new URL(this.base).origin)
      return {
        result: 'FAIL',
        errorCode: 'STATEMENT_URL_REFUSED',
        errorMessage: 'no download URL on the API host',
      };
    const started = Date.now();
    let file: Buffer;
    let status: number | undefined;
    try {
      const r = await fetch(new URL(downloadUrl, this.base), {
        signal: AbortSignal.timeout(this.opts.timeoutMs * 6),
      });
      status = r.status;
      if (r.status !== 200) throw Object.assign(new Error(`HTTP ${r.status}`), { code: `HTTP_${r.status}` });
      file = Buffer.from(await r.arrayBuffer());
    } catch (e) {
      const err = e as { code?: string; name?: string; message?: string };
      const errorCode = err.code ?? (err.name === 'TimeoutError' ? 'TIMEOUT' : 'NETWORK_ERROR');
      this.record({
        party: this.name,
        operation: 'statement_download',
        method: 'GET',
        url: `${this.base}/…/${fileName}`, // the URL carries a one-time token: not logged
        httpStatus: status,
        latencyMs: Date.now() - started,
        result: 'UNKNOWN',
        errorCode,
        errorMessage: err.message,
      });
      return { result: 'UNKNOWN', errorCode, errorMessage: err.message };
    }
    const hashOk = sm3(new Uint8Array(file)) === digest;
    this.record({
      party: this.name,
      operation: 'statement_download',
      method: 'GET',
      url: `${this.base}/…/${fileName}`,
      httpStatus: status,
      latencyMs: Date.now() - started,
      result: hashOk ? 'SUCCESS' : 'UNKNOWN',
      errorCode: hashOk ? undefined : 'STATEMENT_HASH_MISMATCH',
      response: { fileName, bytes: file.length },
    });
    // A corrupted download is a transport problem: ask again.
    if (!hashOk)
      return {
        result: 'UNKNOWN',
        errorCode: 'STATEMENT_HASH_MISMATCH',
        errorMessage: 'SM3 of the file differs from the signed digest',
        rawFile: file,
        fileName,
      };
    return this.parseStatementFile(file, billDate, fileName);
  }

  /** A statement file (downloaded or uploaded), checked against its TOTAL line, this merchant and the day. */
  parseStatementFile(
    file: Buffer,
    billDate: string,
    fileName = `${this.opts.merchantNo}_${billDate}.csv`,
  ): StatementOutput {
    try {
      const { lines, totals } = parseBankStatement(file, { billDate, merchantNo: this.opts.merchantNo });
      return { result: 'SUCCESS', lines, totals, rawFile: file, fileName };
    } catch (e) {
      return {
        result: 'FAIL',
        errorCode: 'STATEMENT_INCONSISTENT',
        errorMessage: (e as Error).message,
        rawFile: file,
        fileName,
      };
    }
  }
}
