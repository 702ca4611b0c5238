import type {
  ChannelCapabilities,
  ChannelPayment,
  ChannelResult,
  CreatePaymentInput,
  CreatePaymentOutput,
  PaymentChannel,
} from '../types';
import { BankPayChannel, failureResult, fen, str } from '../bankpay/adapter';

/*
 * Credit pay after treatment (信用就医) — the wire format of our own contract with the acquiring bank, in
 * this one file. No public specification exists (protocols.md §7). The bank runs credit pay on the same API
 * gateway as its aggregator (docs/bank-aggregator-contract.md): SM2-signed JSON envelopes at
 * `POST {baseUrl}/api/v1/<method>`, replies bound to our nonce, signed async notifications (`TRADE.SUCCESS`,
 * `TRADE.FAIL`, `REFUND.*`) and the T+1 statement file with its SM3 digest. Queries, refunds, refund queries,
 * close, notifications and statements are the gateway's `trade.*`, `refund.*` and `statement.query`
 * (inherited from {@link BankPayChannel}); credit pay adds four methods:
 *
 * | method            | bizContent                                                                  | reply bizContent                                             |
 * | ----------------- | --------------------------------------------------------------------------- | ------------------------------------------------------------ |
 * | `credit.signpage` | `{ signRequestNo, userRef, returnUrl }`                                     | `{ signRequestNo, pageUrl }`                                 |
 * | `credit.signquery`| `{ userRef }` or `{ signRequestNo }`                                         | `{ signStatus, agreementNo?, limitFen, availableFen, signedAt? }` |
 * | `credit.unsign`   | `{ agreementNo }`                                                            | `{ agreementNo, signStatus: "UNSIGNED" }`                    |
 * | `credit.debit`    | `{ outTradeNo, agreementNo, amountFen, currency: "CNY", subject, notifyUrl }`| a trade view: `{ outTradeNo, bankTradeNo, tradeStatus, … }`  |
 *
 * `userRef` is our patient id (never a name, card or ID number: the bank's page collects those itself).
 * signStatus: `SIGNED`, `SIGNING` (page opened, not finished), `UNSIGNED`, `NOT_SIGNED` (never), `FAILED`.
 * A debit is answered `USERPAYING` (being debited; the result comes by notification or query), `SUCCESS`,
 * or refused: `OVER_LIMIT`, `AGREEMENT_INVALID` (not signed / unsigned), `DEBIT_DECLINED`.
 */

/** A patient's agreement as the bank reports it. */
export type CreditSignStatus = 'SIGNED' | 'SIGNING' | 'UNSIGNED' | 'NOT_SIGNED' | 'FAILED';

export interface CreditSignStartInput {
  /** Our number for this signing request (unique). */
  signRequestNo: string;
  /** Our patient id: the bank keeps it with the agreement. */
  userRef: string;
  /** Where the bank's signing page sends the patient back (`?signRequestNo=…&result=SUCCESS|CANCELLED`). */
  returnUrl: string;
}

export interface CreditSignStatusOutput {
  result: ChannelResult;
  status?: CreditSignStatus;
  agreementNo?: string;
  limitFen?: number;
  availableFen?: number;
  signedAt?: Date;
  errorCode?: string;
  errorMessage?: string;
}

export interface CreditDebitInput {
  orderNo: string;
  agreementNo: string;
  amountFen: number;
  description: string;
  notifyUrl: string;
}

export interface CreditDebitOutput {
  /** SUCCESS: debited; PENDING: being debited (notification or query tells); FAIL: refused; UNKNOWN: query. */
  result: ChannelResult;
  payment?: ChannelPayment;
  /** FAIL: OVER_LIMIT, AGREEMENT_INVALID, DEBIT_DECLINED, … */
  errorCode?: string;
  errorMessage?: string;
}

/**
 * The credit-pay contract (`CreditChannel`): signing, sign status, unsigning and the password-free debit
 * within the limit, on top of a {@link PaymentChannel} for query, refund, refund query, notifications and
 * the daily statement. Results are SUCCESS / FAIL / PENDING / UNKNOWN; UNKNOWN (a timeout) is resolved by a
 * query, never guessed.
 */
export interface CreditChannel extends PaymentChannel {
  /** The bank's signing page for the patient (an H5 URL), which returns to `returnUrl`. */
  signStart(input: CreditSignStartInput): Promise<{
    result: ChannelResult;
    pageUrl?: string;
    errorCode?: string;
    errorMessage?: string;
  }>;
  /** The agreement of a patient (by our patient id), or of one signing request. Asked before every use. */
  signStatus(by: { userRef: string } | { signRequestNo: string }): Promise<CreditSignStatusOutput>;
  unsign(agreementNo: string): Promise<{ result: ChannelResult; errorCode?: string; errorMessage?: string }>;
  /** Password-free debit within the limit (无感支付). */
  debit(input: CreditDebitInput): Promise<CreditDebitOutput>;
}

function mapSignStatus(s: unknown): CreditSignStatus | undefined {
  switch (s) {
    case 'SIGNED':
    case 'SIGNING':
    case 'UNSIGNED':
    case 'NOT_SIGNED':
    case 'FAILED':
      return s;
    default:
      return undefined;
  }
}

/** The bank's credit-pay product for one merchant account (same options and keys as {@link BankPayChannel}). */
export class BankCreditChannel extends BankPayChannel implements CreditChannel {
  override readonly name: string = 'credit';
  override readonly capabilities: ChannelCapabilities = {
    // No patient-initiated trade type: money moves only by `debit`, on a signed agreement.
    tradeTypes: [],
    close: true,
    refund: true,
    reverse: false,
    notifications: true,
    statement: true,
  };

  override createPayment(input: CreatePaymentInput): Promise<CreatePaymentOutput> {
    return Promise.resolve({
      result: 'FAIL',
      errorCode: 'UNSUPPORTED',
      errorMessage: `credit pay takes no ${input.tradeType} payment: it debits a signed agreement`,
    });
  }

  async signStart(input: CreditSignStartInput) {
    const res = await this.call('sign_start', undefined, 'credit.signpage', { ...input });
    if (!res.answered) return { result: 'UNKNOWN' as const, errorCode: res.errorCode };
    if (res.code !== 'SUCCESS')
      return { result: failureResult(res.code), errorCode: res.code, errorMessage: res.message };
    const pageUrl = str(res.biz.pageUrl);
    return pageUrl
      ? { result: 'SUCCESS' as const, pageUrl }
      : { result: 'UNKNOWN' as const, errorCode: 'REPLY_INCOMPLETE' };
  }

  async signStatus(by: { userRef: string } | { signRequestNo: string }): Promise<CreditSignStatusOutput> {
    const res = await this.call('sign_status', undefined, 'credit.signquery', { ...by });
    if (!res.answered) return { result: 'UNKNOWN', errorCode: res.errorCode, errorMessage: res.errorMessage };
    if (res.code !== 'SUCCESS')
      return { result: failureResult(res.code), errorCode: res.code, errorMessage: res.message };
    const status = mapSignStatus(res.biz.signStatus);
    if (!status) return { result: 'UNKNOWN', errorCode: 'UNEXPECTED_STATE' };
    const signedAt = str(res.biz.signedAt);
    return {
      result: 'SUCCESS',
      status,
      agreementNo: str(res.biz.agreementNo),
      limitFen: fen(res.biz.limitFen) ?? 0,
      availableFen: fen(res.biz.availableFen) ?? 0,
      signedAt: signedAt ? new Date(signedAt) : undefined,
    };
  }

  async unsign(agreementNo: string) {
    const res = await this.call('unsign', undefined, 'credit.unsign', { agreementNo });
    if (!res.answered) return { result: 'UNKNOWN' as const, errorCode: res.errorCode };
    // Unsigned already: the goal is reached.
    if (res.code === 'SUCCESS' || res.code === 'AGREEMENT_INVALID')
      return { result: 'SUCCESS' as const, errorCode: res.code === 'SUCCESS' ? undefined : res.code };
    return { result: failureResult(res.code), errorCode: res.code, errorMessage: res.message };
  }

  async debit(input: CreditDebitInput): Promise<CreditDebitOutput> {
    const res = await this.call('debit', input.orderNo, 'credit.debit', {
      outTradeNo: input.orderNo,
      agreementNo: input.agreementNo,
      amountFen: input.amountFen,
      currency: 'CNY',
      subject: input.description.slice(0, 128),
      notifyUrl: input.notifyUrl,
    });
    if (!res.answered) return { result: 'UNKNOWN', errorCode: res.errorCode, errorMessage: res.errorMessage };
    if (res.code !== 'SUCCESS')
      return { result: failureResult(res.code), errorCode: res.code, errorMessage: res.message };
    const p = this.payment(input.orderNo, res.biz);
    switch (p.state) {
      case 'PAID':
        return { result: 'SUCCESS', payment: p };
      case 'FAILED':
        return { result: 'FAIL', errorCode: str(res.biz.failCode) ?? 'DEBIT_DECLINED', payment: p };
      default:
        return { result: 'PENDING', payment: p };
    }
  }
}
