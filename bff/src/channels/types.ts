import type { TradeType } from '@hp/shared';

/**
 * Outcome of one call to a channel. UNKNOWN is what a timeout or a transport error is: it is resolved
 * by a later query, never by a guess.
 */
export type ChannelResult = 'SUCCESS' | 'FAIL' | 'PENDING' | 'UNKNOWN';

/** Our view of a payment's state at the channel, mapped from the vendor's states in one switch. */
export type ChannelPaymentState =
  'PAID' | 'NOTPAY' | 'PAYING' | 'CLOSED' | 'FAILED' | 'REFUNDED' | 'NOT_FOUND';

export interface CreatePaymentInput {
  orderNo: string;
  amountFen: number;
  description: string;
  tradeType: TradeType;
  expiresAt: Date;
  notifyUrl: string;
  /** JSAPI / mini-program: the payer's openid under the merchant's appid. */
  payerOpenId?: string;
  /** H5: the payer's IP; MICROPAY: the terminal's IP. */
  clientIp?: string;
  /** MICROPAY: the payment code scanned from the patient's phone. */
  authCode?: string;
}

export interface CreatePaymentOutput {
  result: ChannelResult;
  /** What the client needs: `codeUrl` (NATIVE), `h5Url` (H5), `jsapi` parameters (JSAPI). */
  prepay?: { codeUrl?: string; h5Url?: string; jsapi?: Record<string, string> };
  /** MICROPAY: the payment, when the channel settled it in the call itself. */
  payment?: ChannelPayment;
  errorCode?: string;
  errorMessage?: string;
}

/** A payment as the channel reports it (query reply or notification). */
export interface ChannelPayment {
  orderNo: string;
  state: ChannelPaymentState;
  channelTradeNo?: string;
  amountFen?: number;
  paidAt?: Date;
  /** Merchant and app the channel says the payment belongs to, cross-checked against ours. */
  mchId?: string;
  appId?: string;
  /** The vendor's own state text, kept for the event log. */
  rawState?: string;
}

export interface QueryPaymentOutput {
  result: ChannelResult;
  payment?: ChannelPayment;
  errorCode?: string;
  errorMessage?: string;
}

export interface CloseOutput {
  /** SUCCESS: closed (or already closed). FAIL with errorCode ORDER_PAID: the payment went through. */
  result: ChannelResult;
  errorCode?: string;
  errorMessage?: string;
}

export interface RefundInput {
  orderNo: string;
  refundNo: string;
  amountFen: number;
  /** The amount of the original payment, which channels require alongside. */
  totalFen: number;
  reason: string;
  notifyUrl: string;
}

/** A refund's state at the channel. ABNORMAL: the channel could not return the money (frozen card…): manual work. */
export type ChannelRefundState = 'SUCCESS' | 'PROCESSING' | 'FAILED' | 'ABNORMAL' | 'NOT_FOUND';

export interface ChannelRefund {
  refundNo: string;
  orderNo?: string;
  state: ChannelRefundState;
  channelRefundId?: string;
  amountFen?: number;
  succeededAt?: Date;
  mchId?: string;
  rawState?: string;
}

export interface RefundOutput {
  result: ChannelResult;
  refund?: ChannelRefund;
  errorCode?: string;
  errorMessage?: string;
}

/** A verified, decrypted notification. */
export interface ParsedNotification {
  /** The channel's own notification id: the inbox key that makes duplicates no-ops. */
  notifyId: string;
  eventType: string;
  payment?: ChannelPayment;
  refund?: ChannelRefund;
}

/** How to answer a notification, in the channel's own format. */
export interface NotificationReply {
  status: number;
  contentType?: string;
  body?: string;
}

/** Declared capabilities: what the channel cannot do is declared, not faked. */
export interface ChannelCapabilities {
  tradeTypes: readonly TradeType[];
  close: boolean;
  refund: boolean;
  /** Can cancel a payment-code payment (reverse), also after it succeeded. */
  reverse: boolean;
  notifications: boolean;
  /** Serves a daily statement (对账单) that {@link PaymentChannel.downloadStatement} can fetch and parse. */
  statement: boolean;
  /**
   * Serves a daily fund-flow bill (资金账单: money in and out of the merchant's balance, settlements to the
   * bank) that {@link PaymentChannel.downloadFundFlow} can fetch and parse. Absent: false.
   */
  fundFlow?: boolean;
}

/** One line of a channel's daily statement, in our terms. Amounts are positive fen; `kind` says the direction. */
export interface StatementLine {
  kind: 'PAYMENT' | 'REFUND';
  /** Our order number (out_trade_no) as the channel printed it. */
  orderNo: string;
  channelTradeNo?: string;
  /** REFUND lines: our refund number and the channel's refund id. */
  refundNo?: string;
  channelRefundId?: string;
  amountFen: number;
  /** The channel's fee for this line (手续费), fen; 0 when the file has none. On a REFUND line: the fee returned. */
  feeFen: number;
  /** When the channel completed the payment or refund. */
  occurredAt: Date;
  mchId?: string;
  subMchId?: string;
  /** The vendor's own state or business-type text. */
  rawState?: string;
}

/** Totals as the statement's own summary states them (checked against the lines by the parser). */
export interface StatementTotals {
  paymentCount: number;
  paymentFen: number;
  refundCount: number;
  refundFen: number;
  /** Net: fees charged on payments less fees returned with refunds (may be negative). */
  feeFen: number;
}

export interface StatementOutput {
  /**
   * SUCCESS: the file was downloaded, verified (hash where the channel gives one) and parsed.
   * PENDING: the channel has not generated the day's file yet — ask again later.
   * FAIL: the channel says there is no file (`errorCode` NO_STATEMENT: no trade that day) or refused.
   * UNKNOWN: transport error or timeout.
   */
  result: ChannelResult;
  lines?: StatementLine[];
  totals?: StatementTotals;
  /** The file exactly as downloaded, kept for audit, and its name. */
  rawFile?: Buffer;
  fileName?: string;
  errorCode?: string;
  errorMessage?: string;
}

/**
 * One movement of a merchant's balance on a fund-flow bill (资金账单), in our terms. Amounts are positive fen;
 * `direction` says which way the money went.
 */
export interface FundFlowLine {
  /** When the channel booked it (记账时间). */
  occurredAt: Date;
  /** The channel's business number (微信支付业务单号: a payment's transaction id, a refund's id…). */
  businessNo?: string;
  /** The channel's flow number (资金流水单号), unique in the bill. */
  flowNo: string;
  /** The channel's own words (业务名称 / 业务类型), as printed. */
  businessName: string;
  businessType: string;
  /** IN (收入) or OUT (支出). */
  direction: 'IN' | 'OUT';
  amountFen: number;
  /** The balance after this movement (账户结余). */
  balanceFen: number;
  /** Who asked for the change (资金变更提交申请人) and the remark (备注), as printed. */
  applicant?: string;
  remark?: string;
  /** The business voucher number (业务凭证号). */
  voucherNo?: string;
}

/** A fund-flow bill's own summary, checked against its lines by the parser. */
export interface FundFlowTotals {
  count: number;
  inCount: number;
  inFen: number;
  outCount: number;
  outFen: number;
}

/** Like {@link StatementOutput}, for a fund-flow bill. */
export interface FundFlowOutput {
  result: ChannelResult;
  lines?: FundFlowLine[];
  totals?: FundFlowTotals;
  rawFile?: Buffer;
  fileName?: string;
  errorCode?: string;
  errorMessage?: string;
}

/** The kinds of statement file a merchant account's channel may publish for a day. */
export type StatementBillType = 'TRADE' | 'FUNDFLOW';

/** Thrown by `parseNotification` for anything that must not be applied: bad signature, stale, undecryptable. */
export class NotificationRejected extends Error {
  override name = 'NotificationRejected';
  constructor(
    readonly reason: 'signature' | 'timestamp' | 'decrypt' | 'format',
    message: string,
  ) {
    super(message);
  }
}

/**
 * One merchant account at one payment channel. Adapters live in `channels/<party>/` and are the only
 * code that imports a vendor SDK; everything else sees this interface.
 */
export interface PaymentChannel {
  readonly name: string;
  readonly capabilities: ChannelCapabilities;
  createPayment(input: CreatePaymentInput): Promise<CreatePaymentOutput>;
  queryPayment(orderNo: string): Promise<QueryPaymentOutput>;
  closePayment(orderNo: string): Promise<CloseOutput>;
  /**
   * Cancels a payment-code payment (micropay) whatever its state. PENDING with `recall` means "call again".
   */
  reversePayment(
    orderNo: string,
  ): Promise<{ result: ChannelResult; recall?: boolean; errorCode?: string; errorMessage?: string }>;
  /** Asks for a refund. SUCCESS means accepted (the refund may still be PROCESSING); UNKNOWN → query. */
  refund(input: RefundInput): Promise<RefundOutput>;
  /** Alipay needs the order number beside the refund number; WeChat does not. */
  queryRefund(refundNo: string, orderNo: string): Promise<RefundOutput>;
  /** Verifies and decrypts a notification. Throws {@link NotificationRejected}. */
  parseNotification(
    headers: Record<string, string | undefined>,
    rawBody: string,
    now: Date,
  ): ParsedNotification;
  notificationReply(ok: boolean, message?: string): NotificationReply;
  /**
   * Downloads and parses the statement of one business day (`YYYY-MM-DD`, China time). A file whose
   * lines disagree with its own summary is a FAIL with errorCode STATEMENT_INCONSISTENT, never a partial result.
   */
  downloadStatement(billDate: string): Promise<StatementOutput>;
  /**
   * Parses a trade statement file obtained another way (an admin's upload) with exactly the parser and
   * checks of {@link downloadStatement} (its own summary, this account's merchant): SUCCESS with the lines,
   * or FAIL with the reason. Never throws for a bad file.
   */
  parseStatementFile(file: Buffer, billDate: string): StatementOutput;
  /**
   * Downloads and parses the fund-flow bill of one business day; only channels declaring
   * `capabilities.fundFlow` have it. A file whose lines disagree with its own summary is a FAIL.
   */
  downloadFundFlow?(billDate: string): Promise<FundFlowOutput>;
  /** Parses an uploaded fund-flow bill with the parser of {@link downloadFundFlow}. */
  parseFundFlowFile?(file: Buffer, billDate: string): FundFlowOutput;
}

/** One record of the interface log (every call to an external party). */
export interface OutboundCall {
  party: string;
  operation: string;
  orderNo?: string;
  method: string;
  url: string;
  httpStatus?: number;
  latencyMs: number;
  result: ChannelResult;
  errorCode?: string;
  errorMessage?: string;
  request?: unknown;
  response?: unknown;
}

/** Receives every outbound call; the recorder masks payloads and writes the interface log. */
export type OutboundRecorder = (call: OutboundCall) => void;
