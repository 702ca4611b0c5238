import type {
  CardType,
  HisInpatientResult,
  HisPaymentResult,
  HisRefundResult,
  InvoiceContentType,
  OpenBill,
} from '@hp/shared';
import type { z } from 'zod';
import type { OutboundCall, OutboundRecorder } from '../../channels/types';
import { AppError } from '../../lib/errors';
import { maskName } from '../../lib/mask';
import { firstIssue } from '../../lib/validate';
import { HisLedgerPushSchema, type HisLedgerLine } from '../recon/intake';
import {
  InvoicesReplySchema,
  LedgerReplySchema,
  LookupReplySchema,
  PendingBillsReplySchema,
  PrescriptionReplySchema,
} from './schema';
import { signedHeaders } from './signature';

/** Where and as whom we call one hospital's HIS. */
export interface HisEndpoint {
  hospitalId: string;
  appId: string;
  secret: string;
  baseUrl: string;
}

/** Why a push did not get through; `retryable` false means retrying cannot help (the HIS refused it). */
export class HisCallError extends Error {
  override name = 'HisCallError';
  constructor(
    message: string,
    readonly retryable: boolean,
    readonly httpStatus?: number,
  ) {
    super(message);
  }
}

/** How a patient is looked up at the HIS: by the hospital's card number, or by resident ID number. */
export type PatientLookup = { cardNo: string } | { idNo: string };

/** A patient the HIS found and whose name matched. */
export interface HisPatientMatch {
  hisPatientId: string;
  /** The holder's name, masked (张*, 欧**明): enough to confirm, nothing to leak. */
  maskedName: string;
  cardType: CardType;
}

/** One line of a prescription as the HIS details it. Amounts in fen. */
export interface HisPrescriptionItem {
  name: string;
  spec: string | null;
  quantity: number;
  unit: string | null;
  unitPriceFen: number;
  amountFen: number;
  /** The department that carries the item out (执行科室). */
  department: string | null;
}

/** A prescription (or any bill) with its items, as the HIS holds it. */
export interface HisPrescription {
  hisBillNo: string;
  hisPatientId: string;
  visitNo: string | null;
  department: string | null;
  doctor: string | null;
  diagnosis: string | null;
  prescribedAt: Date | null;
  amountFen: number;
  items: HisPrescriptionItem[];
}

/** An e-invoice (电子票据) the HIS issued for a paid order, with its file. */
export interface HisInvoice {
  invoiceCode: string;
  invoiceNo: string;
  amountFen: number;
  issuedAt: Date;
  contentType: InvoiceContentType;
  file: Buffer;
}

/**
 * The bff's view of a hospital information system. Different hospitals run different HIS products: each
 * gets an implementation of this interface; {@link HttpHisClient} is the reference one (signed JSON over
 * HTTP, README "For HIS vendors").
 *
 * Errors: `pushResult` throws {@link HisCallError} (the push job decides on retries). Every other method
 * throws an {@link AppError}: `his_unavailable` when the HIS did not answer (network, timeout, 5xx),
 * `not_found` when it does not know what was asked, `name_mismatch` from the lookup, `his_error` when it
 * refused or answered something unreadable. The caller decides what a patient sees.
 */
export interface HisClient {
  /** Pushes a payment, refund or inpatient (deposit, settlement) result. Resolves when the HIS acknowledged it; idempotent on `eventId` at the HIS. */
  pushResult(
    endpoint: HisEndpoint,
    result: HisPaymentResult | HisRefundResult | HisInpatientResult,
  ): Promise<void>;
  /**
   * Pull mode: the patient's unpaid bills, in the shape of a push (`OpenBillSchema`, same limits). Every bill
   * is checked to be this patient's.
   */
  pendingBills(endpoint: HisEndpoint, hisPatientId: string): Promise<OpenBill[]>;
  /** Finds a patient by card number or ID number; the HIS checks the name (`name_mismatch` if it differs). */
  lookupPatient(endpoint: HisEndpoint, by: PatientLookup, name: string): Promise<HisPatientMatch>;
  /** The detail of a bill: prescription, items with unit prices, department, doctor. */
  prescription(endpoint: HisEndpoint, hisBillNo: string): Promise<HisPrescription>;
  /** The e-invoices of a paid order (empty until the HIS issued one), with their files. */
  invoice(endpoint: HisEndpoint, orderNo: string): Promise<HisInvoice[]>;
  /**
   * The HIS's ledger of one business day (YYYY-MM-DD, Beijing), in our ledger's terms: what reconciliation
   * reads when the HIS does not push it. Its own totals are checked; `his_error` when they do not add up.
   */
  ledger(endpoint: HisEndpoint, date: string): Promise<HisLedgerLine[]>;
}

/**
 * The reference protocol's ledger channel names → ours (HisLedgerLine.channel). Platform records keep the
 * order's channel; `cash` on a platform record is a refund we paid back at the window.
 */
function ledgerChannel(
  source: 'platform' | 'offline',
  channel: string,
): HisLedgerLine['channel'] | undefined {
  const c = channel.toLowerCase();
  if (source === 'platform') {
    switch (c) {
      case 'wechatpay':
      case 'alipay':
      case 'bankpay':
        return c;
      case 'cash':
        return 'CASH';
      default:
        return undefined;
    }
  }
  switch (c) {
    case 'cash':
      return 'CASH';
    case 'mispos':
    case 'pos':
      return 'MISPOS';
    case 'kiosk':
      return 'KIOSK';
    case 'prepaid':
      return 'PREPAID';
    default:
      return 'OTHER';
  }
}

/** What one exchange with the HIS came to. */
type Exchange =
  | { kind: 'network'; message: string }
  | {
      kind: 'reply';
      status: number;
      reply: { code?: unknown; message?: unknown } & Record<string, unknown>;
      text: string;
    };

interface CallSpec<S extends z.ZodType> {
  operation: string;
  method: 'GET' | 'POST';
  /** Path and query under the HIS base URL. */
  target: string;
  body?: unknown;
  orderNo?: string;
  /** What the interface log keeps of the request (masked again by the recorder). */
  logRequest: unknown;
  /** What the interface log keeps of a successful reply (default: the reply, masked by the recorder). */
  logResponse?: (reply: Record<string, unknown>) => unknown;
  /** The message of `not_found` when the HIS does not know the thing asked for. */
  notFound: string;
  schema: S;
}

/** Drops long digit runs (card, ID, phone numbers) from free text the HIS may echo in an error message. */
function scrubNumbers(text: string): string {
  return text.replace(/\d{6,}[\dXx]?/g, (m) => `${m.slice(0, 2)}***${m.slice(-2)}`);
}

/**
 * Reference HIS client: signed like our open API (signature.ts), JSON replies `{code:"0", …}`.
 * - `POST {baseUrl}/his/v1/results` — result pushes
 * - `GET  {baseUrl}/his/v1/patients/{patientId}/pending-bills` → `{ bills: [OpenBill] }`
 * - `POST {baseUrl}/his/v1/patients/lookup` `{ cardNo | idNo, name }` → `{ patient: { patientId, name, cardType } }`
 * - `GET  {baseUrl}/his/v1/prescriptions/{hisBillNo}` → `{ prescription: { …, items } }`
 * - `GET  {baseUrl}/his/v1/invoices?orderNo=…` → `{ invoices: [{ invoiceCode, invoiceNo, amountFen, issuedAt, contentType, fileBase64 }] }`
 * - `GET  {baseUrl}/his/v1/ledger?date=YYYY-MM-DD` → `{ date, records: [{ kind, source, channel, orderNo, refundNo,
 *   receiptNo, hisBillNos, amountFen, time, occurredAt, terminalId, terminalRef }], totals }`
 *
 * Every call goes to the interface log through the recorder (payloads masked there; card and ID numbers
 * travel only in POST bodies, never in a URL).
 */
export class HttpHisClient implements HisClient {
  constructor(
    private readonly timeoutMs: number,
    private readonly record: OutboundRecorder = () => undefined,
  ) {}

  /** Signs and sends one call; never throws (a network failure is a result). */
  private async exchange(
    endpoint: HisEndpoint,
    method: string,
    target: string,
    body: unknown,
  ): Promise<Exchange & { url: string; latencyMs: number }> {
    const url = new URL(target, endpoint.baseUrl);
    const text = body === undefined ? '' : JSON.stringify(body);
    const started = Date.now();
    try {
      const res = await fetch(url, {
        method,
        body: body === undefined ? undefined : text,
        headers: signedHeaders(endpoint.appId, endpoint.secret, method, url.pathname + url.search, text),
        signal: AbortSignal.timeout(this.timeoutMs),
      });
      const replyText = await res.text();
      let reply: Record<string, unknown> = {};
      try {
        const parsed: unknown = JSON.parse(replyText);
        if (parsed && typeof parsed === 'object' && !Array.isArray(parsed))
          reply = parsed as Record<string, unknown>;
      } catch {
        /* not JSON: judged by status */
      }
      return {
        kind: 'reply',
        status: res.status,
        reply,
        text: replyText,
        url: url.toString(),
        latencyMs: Date.now() - started,
      };
    } catch (e) {
      const message =
        (e as Error).name === 'TimeoutError'
          ? 'HIS did not answer in time'
          : `HIS unreachable: ${(e as Error).message}`;
      return { kind: 'network', message, url: url.toString(), latencyMs: Date.now() - started };
    }
  }

  async pushResult(
    endpoint: HisEndpoint,
    result: HisPaymentResult | HisRefundResult | HisInpatientResult,
  ): Promise<void> {
    const x = await this.exchange(endpoint, 'POST', '/his/v1/results', result);
    const base: Omit<OutboundCall, 'result' | 'latencyMs'> = {
      party: 'his',
      operation: `push_${result.kind}_result`,
      orderNo: result.orderNo ?? undefined,
      method: 'POST',
      url: x.url,
      request: result,
    };
    if (x.kind === 'network') {
      this.record({
        ...base,
        latencyMs: x.latencyMs,
        result: 'UNKNOWN',
        errorCode: 'NETWORK_ERROR',
        errorMessage: x.message,
      });
      throw new HisCallError(x.message, true);
    }
    const { status, reply, text } = x;
    const code = typeof reply.code === 'string' ? reply.code : undefined;
    const message = typeof reply.message === 'string' ? reply.message : undefined;
    const ok = status >= 200 && status < 300 && code === '0';
    this.record({
      ...base,
      httpStatus: status,
      latencyMs: x.latencyMs,
      result: ok ? 'SUCCESS' : 'FAIL',
      errorCode: ok ? undefined : (code ?? `HTTP_${status}`),
      errorMessage: ok ? undefined : (message ?? text.slice(0, 200)),
      response: reply,
    });
    if (!ok)
      throw new HisCallError(
        `HIS answered ${status} ${code ?? ''} ${message ?? ''}`.trim(),
        status >= 500 || status === 429 || status === 408,
        status,
      );
  }

  /** One pull call: sign, send, log, map errors to AppError codes, parse the reply with `spec.schema`. */
  private async call<S extends z.ZodType>(endpoint: HisEndpoint, spec: CallSpec<S>): Promise<z.infer<S>> {
    const x = await this.exchange(endpoint, spec.method, spec.target, spec.body);
    const base: Omit<OutboundCall, 'result' | 'latencyMs'> = {
      party: 'his',
      operation: spec.operation,
      orderNo: spec.orderNo,
      method: spec.method,
      url: x.url,
      request: spec.logRequest,
    };
    if (x.kind === 'network') {
      this.record({
        ...base,
        latencyMs: x.latencyMs,
        result: 'UNKNOWN',
        errorCode: 'NETWORK_ERROR',
        errorMessage: x.message,
      });
      const cause = new HisCallError(x.message, true);
      throw new AppError('his_unavailable', 'the hospital system (HIS) did not answer; try again later', {
        cause,
      });
    }
    const { status, reply, text } = x;
    const code = typeof reply.code === 'string' ? reply.code : undefined;
    const hisMessage = scrubNumbers(typeof reply.message === 'string' ? reply.message : text.slice(0, 200));
    const fail = (errorCode: string, errorMessage: string) =>
      this.record({
        ...base,
        httpStatus: status,
        latencyMs: x.latencyMs,
        result: 'FAIL',
        errorCode,
        errorMessage,
        response: { code, message: hisMessage },
      });
    if (!(status >= 200 && status < 300 && code === '0')) {
      fail(code ?? `HTTP_${status}`, hisMessage);
      const cause = new HisCallError(`HIS answered ${status} ${code ?? ''}`.trim(), status >= 500, status);
      // Only the HIS's own NOT_FOUND: a bare 404 is more likely a missing endpoint than a missing patient.
      if (code === 'NOT_FOUND') throw new AppError('not_found', spec.notFound, { cause });
      if (code === 'NAME_MISMATCH')
        throw new AppError('name_mismatch', 'the name does not match the holder of this card', { cause });
      if (status >= 500 || status === 429 || status === 408)
        throw new AppError('his_unavailable', 'the hospital system (HIS) is unavailable; try again later', {
          cause,
        });
      throw new AppError('his_error', 'the hospital system (HIS) refused the request', { cause });
    }
    const parsed = spec.schema.safeParse(reply);
    if (!parsed.success) {
      const issue = firstIssue(parsed.error);
      fail('INVALID_REPLY', issue);
      throw new AppError('his_error', `the hospital system (HIS) answered an invalid reply (${issue})`, {
        cause: parsed.error,
      });
    }
    this.record({
      ...base,
      httpStatus: status,
      latencyMs: x.latencyMs,
      result: 'SUCCESS',
      response: spec.logResponse ? spec.logResponse(reply) : reply,
    });
    return parsed.data;
  }

  async pendingBills(endpoint: HisEndpoint, hisPatientId: string): Promise<OpenBill[]> {
    const reply = await this.call(endpoint, {
      operation: 'pending_bills',
      method: 'GET',
      target: `/his/v1/patients/${encodeURIComponent(hisPatientId)}/pending-bills`,
      logRequest: { hisPatientId },
      logResponse: (r) => ({
        code: r.code,
        bills: Array.isArray(r.bills)
          ? r.bills.map((b: { hisBillNo?: unknown; amountFen?: unknown }) => ({
              hisBillNo: b.hisBillNo,
              amountFen: b.amountFen,
            }))
          : r.bills,
      }),
      notFound: 'the hospital system does not know this patient',
      schema: PendingBillsReplySchema,
    });
    const foreign = reply.bills.find((b) => b.patientId !== hisPatientId);
    if (foreign)
      throw new AppError(
        'his_error',
        `the hospital system answered bill ${foreign.hisBillNo} of another patient`,
      );
    const seen = new Set<string>();
    for (const b of reply.bills) {
      if (seen.has(b.hisBillNo))
        throw new AppError('his_error', `the hospital system listed bill ${b.hisBillNo} twice`);
      seen.add(b.hisBillNo);
    }
    return reply.bills;
  }

  async lookupPatient(endpoint: HisEndpoint, by: PatientLookup, name: string): Promise<HisPatientMatch> {
    const body = 'cardNo' in by ? { cardNo: by.cardNo, name } : { idNo: by.idNo, name };
    const reply = await this.call(endpoint, {
      operation: 'lookup_patient',
      method: 'POST',
      target: '/his/v1/patients/lookup',
      body,
      logRequest: body, // cardNo, idNo and name are masked by the recorder
      notFound: 'the hospital has no patient with this card number',
      schema: LookupReplySchema,
    });
    return {
      hisPatientId: reply.patient.patientId,
      maskedName: maskName(reply.patient.name),
      cardType: reply.patient.cardType,
    };
  }

  async prescription(endpoint: HisEndpoint, hisBillNo: string): Promise<HisPrescription> {
    const reply = await this.call(endpoint, {
      operation: 'prescription',
      method: 'GET',
      target: `/his/v1/prescriptions/${encodeURIComponent(hisBillNo)}`,
      logRequest: { hisBillNo },
      notFound: 'the hospital system has no detail of this bill',
      schema: PrescriptionReplySchema,
    });
    const p = reply.prescription;
    if (p.hisBillNo !== hisBillNo)
      throw new AppError('his_error', `the hospital system answered bill ${p.hisBillNo} for ${hisBillNo}`);
    return {
      hisBillNo: p.hisBillNo,
      hisPatientId: p.patientId,
      visitNo: p.visitNo ?? null,
      department: p.department ?? null,
      doctor: p.doctor ?? null,
      diagnosis: p.diagnosis ?? null,
      prescribedAt: p.prescribedAt ? new Date(p.prescribedAt) : null,
      amountFen: p.amountFen,
      items: p.items.map((i) => ({
        name: i.name,
        spec: i.spec ?? null,
        quantity: i.quantity,
        unit: i.unit ?? null,
        unitPriceFen: i.unitPriceFen,
        amountFen: i.amountFen,
        department: i.department ?? null,
      })),
    };
  }

  async invoice(endpoint: HisEndpoint, orderNo: string): Promise<HisInvoice[]> {
    const reply = await this.call(endpoint, {
      operation: 'invoice',
      method: 'GET',
      target: `/his/v1/invoices?orderNo=${encodeURIComponent(orderNo)}`,
      orderNo,
      logRequest: { orderNo },
      // The files stay out of the log: their size is enough.
      logResponse: (r) => ({
        code: r.code,
        invoices: Array.isArray(r.invoices)
          ? r.invoices.map((i: Record<string, unknown>) => ({
              ...i,
              fileBase64: `[${typeof i.fileBase64 === 'string' ? i.fileBase64.length : 0} base64 chars]`,
            }))
          : r.invoices,
      }),
      notFound: 'the hospital system does not know this order',
      schema: InvoicesReplySchema,
    });
    return reply.invoices.map((i) => {
      const file = Buffer.from(i.fileBase64, 'base64');
      const magic =
        i.contentType === 'application/pdf'
          ? file.subarray(0, 5).toString('latin1') === '%PDF-'
          : file.subarray(0, 8).equals(Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]));
      if (!magic)
        throw new AppError(
          'his_error',
          `the hospital system sent invoice ${i.invoiceNo} whose file is not a ${i.contentType}`,
        );
      return {
        invoiceCode: i.invoiceCode,
        invoiceNo: i.invoiceNo,
        amountFen: i.amountFen,
        issuedAt: new Date(i.issuedAt),
        contentType: i.contentType,
        file,
      };
    });
  }

  async ledger(endpoint: HisEndpoint, date: string): Promise<HisLedgerLine[]> {
    const reply = await this.call(endpoint, {
      operation: 'ledger',
      method: 'GET',
      target: `/his/v1/ledger?date=${encodeURIComponent(date)}`,
      logRequest: { date },
      // A day's ledger is large: the log keeps its totals, not its records.
      logResponse: (r) => ({
        code: r.code,
        date: r.date,
        totals: r.totals,
        records: Array.isArray(r.records) ? r.records.length : r.records,
      }),
      notFound: 'the hospital system has no ledger of this day',
      schema: LedgerReplySchema,
    });
    if (reply.date !== date)
      throw new AppError('his_error', `the hospital system answered the ledger of ${reply.date} for ${date}`);
    const lines = reply.records.map((r, i) => {
      const channel = ledgerChannel(r.source, r.channel);
      if (!channel)
        throw new AppError('his_error', `ledger record ${i + 1}: unknown platform channel ${r.channel}`);
      const platform = r.source === 'platform';
      const kind = r.kind === 'payment' ? 'PAYMENT' : 'REFUND';
      // The HIS's own number for the record: ours for platform results, its receipt for offline takings.
      const hisTradeNo = platform
        ? kind === 'PAYMENT'
          ? r.orderNo
          : (r.refundNo ?? r.receiptNo)
        : (r.receiptNo ?? r.terminalRef);
      return {
        kind,
        channel,
        hisTradeNo: hisTradeNo ?? '',
        orderNo: platform ? (r.orderNo ?? undefined) : undefined,
        refundNo: platform && kind === 'REFUND' ? (r.refundNo ?? undefined) : undefined,
        terminalRef: channel === 'MISPOS' ? (r.terminalRef ?? undefined) : undefined,
        amountFen: r.amountFen,
        occurredAt: r.occurredAt ?? r.time,
      } as HisLedgerLine;
    });
    // The same checks as a pushed ledger: numbers where they belong, one record per number.
    const checked = HisLedgerPushSchema.safeParse({ lines });
    if (!checked.success)
      throw new AppError(
        'his_error',
        `the hospital system's ledger is invalid (${firstIssue(checked.error)})`,
      );
    return checked.data.lines;
  }
}
