import Router from '@koa/router';
import type { Config } from '@hp/config';
import {
  CreateOrderRequestSchema,
  ERROR_CODES,
  ERROR_STATUS,
  ErrorBodySchema,
  OpenBillStatusSchema,
  OpenCancelBillResultSchema,
  OpenCodePaymentRequestSchema,
  OpenRefundRequestSchema,
  OrderViewSchema,
  PatientBillsResponseSchema,
  BillDetailSchema,
  BindCardRequestSchema,
  INVOICE_CONTENT_TYPES,
  OrderInvoicesResponseSchema,
  PatientCardSchema,
  PatientSessionSchema,
  LoginOptionsSchema,
  PatientChannelsSchema,
  PatientOrderDetailSchema,
  PatientOrdersPageSchema,
  SlipSessionRequestSchema,
  WechatLoginRequestSchema,
  PushBillsRequestSchema,
  PushBillsResultSchema,
  RefundViewSchema,
  SlipQrSchema,
  SlipViewSchema,
  errorBodySchema,
  type ErrorCode,
  InsuranceOrderViewSchema,
  InsuranceQuoteRequestSchema,
  InsuranceStatusSchema,
} from '@hp/shared';
import { z } from 'zod';
import { HisLedgerPushSchema, LedgerRecordSchema, MAX_LEDGER_LINES } from '../modules/recon/intake';
import { LEDGER_BODY_LIMIT_BYTES } from './auth-open-api';
import { renderDocsPage } from './openapi-docs';
import {
  CreditDebitListSchema,
  CreditFamilyMemberSchema,
  CreditFamilyRequestSchema,
  CreditSignRequestSchema,
  CreditSignStartSchema,
  CreditStatusSchema,
  PatientMessageListSchema,
  PatientMessageSchema,
} from '../modules/credit/routes';
import {
  InsuranceAuthorizeCompleteSchema,
  InsuranceAuthorizeRequestSchema,
} from '../modules/insurance/routes';
import { CancelBillSchema, OrderHistoryQuerySchema, SandboxLoginSchema } from './routes';
import {
  AdmissionListSchema,
  AdmissionRequestSchema,
  AdmissionViewSchema,
  DepositRequestSchema,
  DepositViewSchema,
  PayDepositRequestSchema,
  SettlementRequestSchema,
  SettlementReversalRequestSchema,
  SettlementViewSchema,
} from '../modules/inpatient/schema';

/**
 * The OpenAPI 3.1 document of the open API (`/open/v1`, called by the HIS, HMAC-signed) and the patient API
 * (`/api`, bearer JWT), generated from the zod schemas the routes validate with. Served at
 * `GET /open/v1/openapi.json` and rendered at `GET /open/docs`.
 *
 * Adding a route means adding one entry to {@link OPERATIONS}; `openapi.test.ts` walks the routers and fails,
 * naming the route, when a route has no entry (or an entry no route).
 */

/** How an operation is authenticated. */
export type AuthKind =
  /** `X-App-Id`, `X-Timestamp`, `X-Nonce`, `X-Signature` (the signing guide). */
  | 'his-signature'
  /** `Authorization: Bearer <patient session token>`. */
  | 'patient-bearer'
  /** Nothing (or a credential in the path, like a slip token). */
  | 'none';

/** A zod schema and its name under `components.schemas`. */
export interface NamedSchema {
  name: string;
  schema: z.ZodType;
}

const named = (name: string, schema: z.ZodType): NamedSchema => ({ name, schema });

export const TAGS = {
  his: 'HIS open API',
  patient: 'Patient API',
  docs: 'Documentation',
} as const;

/** One documented route. */
export interface OperationSpec {
  operationId: string;
  method: 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';
  /** The path exactly as registered on the router, prefix included, Koa style: `/open/v1/bills/:hisBillNo`. */
  path: string;
  tag: (typeof TAGS)[keyof typeof TAGS];
  summary: string;
  /** Markdown. */
  description?: string;
  auth: AuthKind;
  /** A description for each path parameter. */
  params?: Record<string, string>;
  /** Query parameters (every field a parameter). */
  query?: z.ZodObject;
  /** The JSON request body. */
  request?: NamedSchema;
  response: {
    status: 200 | 201 | 204;
    description: string;
    /** The JSON body; absent when there is none (204) or the answer is a file only (`binary`). */
    body?: NamedSchema;
    /** Another representation chosen by a query parameter, e.g. a PNG; or the file a download answers. */
    binary?: { mediaType: string | string[]; description: string };
  };
  /** The domain errors of this operation; those of its authentication, body and headers are added. */
  errors: ErrorCode[];
  /** Accepts `Idempotency-Key`. */
  idempotencyKey?: boolean;
  /** Registered only when the sandbox runs (demo and tests). */
  sandboxOnly?: boolean;
  /** patient-bearer: any session will do, also one without a patient yet (else `card_required`). */
  anySession?: boolean;
}

const QrQuerySchema = z.object({
  format: z.enum(['png']).optional().describe('`png`: the QR code as a printable PNG instead of JSON'),
});

const OpenApiDocumentSchema = z.record(z.string(), z.unknown()).describe('an OpenAPI 3.1 document');

/** Every documented route. Keep in step with `routes.ts` (the test says what is missing). */
export const OPERATIONS: readonly OperationSpec[] = [
  {
    operationId: 'getOpenApiDocument',
    method: 'GET',
    path: '/open/v1/openapi.json',
    tag: TAGS.docs,
    summary: 'This document',
    description: 'Unsigned. A rendered version is at `/open/docs`.',
    auth: 'none',
    response: {
      status: 200,
      description: 'the OpenAPI document',
      body: named('OpenApiDocument', OpenApiDocumentSchema),
    },
    errors: [],
  },
  // --- the open API (HIS) ---
  {
    operationId: 'pushBills',
    method: 'POST',
    path: '/open/v1/bills',
    tag: TAGS.his,
    summary: 'Push bills',
    description:
      'Stores bills idempotently by `hisBillNo`: `created`, `unchanged`, or `replaced` for a changed unpaid bill ' +
      '(its `version` goes up). Changing a paid bill (`bill_not_payable`) or one being paid (`bill_locked`) is ' +
      'refused, and then nothing of the batch is stored. The amount is in fen; `items`, when given, must add up ' +
      'to it.',
    auth: 'his-signature',
    request: named('PushBillsRequest', PushBillsRequestSchema),
    response: {
      status: 200,
      description: 'one result per bill, in order',
      body: named('PushBillsResult', PushBillsResultSchema),
    },
    errors: ['bill_not_payable', 'bill_locked'],
  },
  {
    operationId: 'getBillStatus',
    method: 'GET',
    path: '/open/v1/bills/:hisBillNo',
    tag: TAGS.his,
    summary: "A bill's payment status",
    description:
      'The bill’s state (`UNPAID`, `PAID`, `CANCELLED`), its version and amount, and the order that paid it or ' +
      'is paying it now.',
    auth: 'his-signature',
    params: { hisBillNo: 'the HIS bill number' },
    response: { status: 200, description: 'the bill', body: named('OpenBillStatus', OpenBillStatusSchema) },
    errors: ['not_found'],
  },
  {
    operationId: 'cancelBill',
    method: 'POST',
    path: '/open/v1/bills/:hisBillNo/cancel',
    tag: TAGS.his,
    summary: 'Cancel an unpaid bill',
    description:
      'Repeatable. A paid bill is refused (`bill_not_payable` — refund it instead), as is one being paid ' +
      '(`bill_locked`); then nothing changes.',
    auth: 'his-signature',
    params: { hisBillNo: 'the HIS bill number' },
    request: named('OpenCancelBillRequest', CancelBillSchema),
    response: {
      status: 200,
      description: 'the bill is cancelled',
      body: named('OpenCancelBillResult', OpenCancelBillResultSchema),
    },
    errors: ['not_found', 'bill_not_payable', 'bill_locked'],
  },
  {
    operationId: 'getBillQr',
    method: 'GET',
    path: '/open/v1/bills/:hisBillNo/qr',
    tag: TAGS.his,
    summary: 'Slip QR code for one bill',
    description:
      'The URL of the H5 checkout with a signed token (valid a day) naming the patient and the bill — never an ' +
      'amount. Add `?format=png` for a printable PNG (sign the target with its query).',
    auth: 'his-signature',
    params: { hisBillNo: 'the HIS bill number' },
    query: QrQuerySchema,
    response: {
      status: 200,
      description: 'the QR content',
      body: named('SlipQr', SlipQrSchema),
      binary: { mediaType: 'image/png', description: 'with `format=png`: the QR code as a PNG' },
    },
    errors: ['not_found', 'bill_not_payable'],
  },
  {
    operationId: 'getVisitQr',
    method: 'GET',
    path: '/open/v1/visits/:visitNo/qr',
    tag: TAGS.his,
    summary: 'Slip QR code for every unpaid bill of a visit',
    description:
      'Like `getBillQr`, for all unpaid bills of one visit (they must belong to one patient: else `conflict`).',
    auth: 'his-signature',
    params: { visitNo: 'the HIS visit number' },
    query: QrQuerySchema,
    response: {
      status: 200,
      description: 'the QR content',
      body: named('SlipQr', SlipQrSchema),
      binary: { mediaType: 'image/png', description: 'with `format=png`: the QR code as a PNG' },
    },
    errors: ['not_found', 'conflict'],
  },
  {
    operationId: 'createCodePayment',
    method: 'POST',
    path: '/open/v1/code-payments',
    tag: TAGS.his,
    summary: 'Take a payment code scanned at the window (付款码)',
    description:
      'The amount comes from the bills. The answer is `PAID`, or `PAYING` while the patient confirms on the ' +
      'phone: poll `getOrder`. A payment not confirmed in time is reversed and the order ends `CLOSED`.',
    auth: 'his-signature',
    request: named('OpenCodePaymentRequest', OpenCodePaymentRequestSchema),
    response: { status: 201, description: 'the order', body: named('OrderView', OrderViewSchema) },
    errors: [
      'not_found',
      'bad_request',
      'bill_not_payable',
      'bill_locked',
      'channel_error',
      'channel_unavailable',
    ],
    idempotencyKey: true,
  },
  {
    operationId: 'getOrder',
    method: 'GET',
    path: '/open/v1/orders/:orderNo',
    tag: TAGS.his,
    summary: 'An order by its number',
    auth: 'his-signature',
    params: { orderNo: 'our order number' },
    response: { status: 200, description: 'the order', body: named('OrderView', OrderViewSchema) },
    errors: ['not_found'],
  },
  {
    operationId: 'requestRefund',
    method: 'POST',
    path: '/open/v1/refunds',
    tag: TAGS.his,
    summary: 'Refund a paid order',
    description:
      'The whole remainder when `amountFen` is absent. Idempotent by `hisRefundNo`; the refunded sum never ' +
      'exceeds the paid sum, and one refund per payment is in flight at a time.',
    auth: 'his-signature',
    request: named('OpenRefundRequest', OpenRefundRequestSchema),
    response: { status: 200, description: 'the refund', body: named('RefundView', RefundViewSchema) },
    errors: [
      'not_found',
      'conflict',
      'order_not_refundable',
      'refund_in_progress',
      'refund_exceeds_paid',
      'channel_error',
      'channel_unavailable',
    ],
    idempotencyKey: true,
  },
  {
    operationId: 'getRefund',
    method: 'GET',
    path: '/open/v1/refunds/:hisRefundNo',
    tag: TAGS.his,
    summary: 'A refund by the HIS refund number',
    auth: 'his-signature',
    params: { hisRefundNo: 'the HIS refund number' },
    response: { status: 200, description: 'the refund', body: named('RefundView', RefundViewSchema) },
    errors: ['not_found'],
  },
  {
    operationId: 'pushLedger',
    method: 'PUT',
    path: '/open/v1/ledgers/:date',
    tag: TAGS.his,
    summary: "Push the HIS's ledger for a day (for reconciliation)",
    description:
      'Every payment and refund the HIS booked that day: online ones (`wechatpay`, `alipay`, `bankpay`) with our ' +
      '`orderNo` (and `refundNo` for refunds) as in our result pushes, offline ones (`CASH`, `MISPOS` with the ' +
      "terminal's reference number, `KIOSK`, `PREPAID`, `OTHER`) with the HIS's own numbers only. A later push for " +
      `the same day replaces the earlier one. At most ${MAX_LEDGER_LINES} records (${LEDGER_BODY_LIMIT_BYTES / 1048576} MiB) per push. ` +
      'Online payments with no successful payment here are flagged as one-sided entries at once.',
    auth: 'his-signature',
    params: { date: 'the business day, YYYY-MM-DD (Beijing time)' },
    request: named('HisLedgerPush', HisLedgerPushSchema),
    response: {
      status: 200,
      description: 'the stored ledger',
      body: named('HisLedgerRecord', LedgerRecordSchema),
    },
    errors: ['bad_request', 'payload_too_large'],
  },
  {
    operationId: 'getReconFile',
    method: 'GET',
    path: '/open/v1/recon/:date/file',
    tag: TAGS.his,
    summary: "The platform's reconciliation file for a day",
    description:
      'UTF-8 CSV, one line per successful payment and refund of the day: `kind,order_no,refund_no,his_refund_no,' +
      'his_bill_nos,channel,channel_no,amount_fen,amount_yuan,occurred_at,recon` (`recon`: what reconciliation ' +
      'found, blank while the day is not reconciled), and a last line `#total,<payments>,<payment fen>,<refunds>,<refund fen>`.',
    auth: 'his-signature',
    params: { date: 'the business day, YYYY-MM-DD (Beijing time)' },
    response: {
      status: 200,
      description: 'the file',
      binary: { mediaType: 'text/csv', description: 'the CSV file' },
    },
    errors: ['bad_request'],
  },
  // --- the patient API ---
  {
    operationId: 'sandboxLogin',
    method: 'POST',
    path: '/api/patient/sandbox-login',
    tag: TAGS.patient,
    summary: 'Log in as a patient (sandbox only)',
    description: 'Demo and tests only: a session for a patient the HIS has pushed bills for.',
    auth: 'none',
    request: named('SandboxLoginRequest', SandboxLoginSchema),
    response: {
      status: 200,
      description: 'the session',
      body: named('PatientSession', PatientSessionSchema),
    },
    errors: ['not_found'],
    sandboxOnly: true,
  },
  {
    operationId: 'getLoginOptions',
    method: 'GET',
    path: '/api/patient/login-options',
    tag: TAGS.patient,
    summary: 'How patients log in here',
    description:
      'The hospitals, whether mini-program login is on (its appid), the official account’s OAuth page and appid ' +
      'for the H5 inside WeChat; in the sandbox also the demo patients for the login picker.',
    auth: 'none',
    response: {
      status: 200,
      description: 'the login options',
      body: named('LoginOptions', LoginOptionsSchema),
    },
    errors: [],
  },
  {
    operationId: 'wechatMiniProgramLogin',
    method: 'POST',
    path: '/api/patient/wx-login',
    tag: TAGS.patient,
    summary: 'Log in with the mini-program’s wx.login code',
    description:
      'The code from `wx.login` is exchanged with WeChat (`code2session`) for the openid, which names the ' +
      'account (created on first login). The session acts for the account’s first card in the hospital; with no ' +
      'card yet `patient` is null: bind one, then switch to it. A used or invalid code is `unauthorized`.',
    auth: 'none',
    request: named('WechatLoginRequest', WechatLoginRequestSchema),
    response: {
      status: 200,
      description: 'the session',
      body: named('PatientSession', PatientSessionSchema),
    },
    errors: ['unauthorized', 'forbidden', 'not_found', 'rate_limited'],
  },
  {
    operationId: 'wechatOAuthLogin',
    method: 'POST',
    path: '/api/patient/wx-oauth-login',
    tag: TAGS.patient,
    summary: 'Log in with the official account’s OAuth code (H5 inside WeChat)',
    description:
      'The H5 sends the patient to the authorize page (`officialAccount.authorizeUrl` of the login options, ' +
      '`scope=snsapi_base`); WeChat returns to the H5 with `code`, which is exchanged here ' +
      '(`/sns/oauth2/access_token`) for the openid. Otherwise as the mini-program login.',
    auth: 'none',
    request: named('WechatLoginRequest', WechatLoginRequestSchema),
    response: {
      status: 200,
      description: 'the session',
      body: named('PatientSession', PatientSessionSchema),
    },
    errors: ['unauthorized', 'forbidden', 'not_found', 'rate_limited'],
  },
  {
    operationId: 'slipSession',
    method: 'POST',
    path: '/api/patient/slip-session',
    tag: TAGS.patient,
    summary: 'Act for the patient a slip names',
    description:
      'After login from a slip’s QR code: a session for the slip’s patient — the session’s own, or one whose ' +
      'card the account has bound. Anyone else gets `card_required` (bind that card first).',
    auth: 'patient-bearer',
    anySession: true,
    request: named('SlipSessionRequest', SlipSessionRequestSchema),
    response: {
      status: 200,
      description: 'the session',
      body: named('PatientSession', PatientSessionSchema),
    },
    errors: ['card_required', 'not_found'],
  },
  {
    operationId: 'getSlip',
    method: 'GET',
    path: '/api/slips/:token',
    tag: TAGS.patient,
    summary: 'The bills behind a slip QR code',
    description:
      'The checkout opened from a slip’s QR code: the hospital, the patient (masked) and the bills.',
    auth: 'none',
    params: { token: 'the `t` parameter of the QR URL' },
    response: {
      status: 200,
      description: 'what the checkout shows',
      body: named('SlipView', SlipViewSchema),
    },
    errors: ['unauthorized', 'not_found'],
  },
  {
    operationId: 'listPatientBills',
    method: 'GET',
    path: '/api/patient/bills',
    tag: TAGS.patient,
    summary: "The patient's payable bills",
    description:
      'Push mode: the bills the HIS pushed. Pull mode (a hospital whose HIS does not push): the HIS is asked ' +
      'for the patient’s pending bills first, and they are stored as if pushed; when it does not answer, the ' +
      'bills already held are listed with `hisUnavailable: true` — the list never fails for the HIS.',
    auth: 'patient-bearer',
    response: {
      status: 200,
      description: 'oldest first',
      body: named('PatientBillsResponse', PatientBillsResponseSchema),
    },
    errors: [],
  },
  {
    operationId: 'getBillDetail',
    method: 'GET',
    path: '/api/bills/:billId/detail',
    tag: TAGS.patient,
    summary: 'A bill detailed by the HIS',
    description:
      'The prescription behind one of the patient’s bills: items with spec, quantity, unit price and amount, ' +
      'department, doctor, diagnosis. Asked of the HIS each time. Another patient’s bill is `not_found`.',
    auth: 'patient-bearer',
    params: { billId: 'the bill id (`bill_…`)' },
    response: { status: 200, description: 'the detail', body: named('BillDetail', BillDetailSchema) },
    errors: ['not_found', 'his_error', 'his_unavailable'],
  },
  {
    operationId: 'listPatientCards',
    method: 'GET',
    path: '/api/patient/cards',
    tag: TAGS.patient,
    summary: 'The cards bound to the account',
    description: 'The holder’s own card and family members’, oldest first; names and numbers masked.',
    auth: 'patient-bearer',
    anySession: true,
    response: {
      status: 200,
      description: 'the cards',
      body: named('PatientCardList', z.object({ cards: z.array(PatientCardSchema) })),
    },
    errors: [],
  },
  {
    operationId: 'bindPatientCard',
    method: 'POST',
    path: '/api/patient/cards',
    tag: TAGS.patient,
    summary: 'Bind a card to the account',
    description:
      'By hospital card number (`cardNo`) or resident ID number (`idNo`), with the holder’s name: the HIS ' +
      'looks the patient up and checks the name. A family member’s card may be bound to several accounts, ' +
      'but to one account once (`card_already_bound`). A refusal writes nothing. After 5 failed bindings ' +
      '(wrong name or unknown number) in an hour an account is refused with `rate_limited` until the ' +
      'oldest failure is an hour old.',
    auth: 'patient-bearer',
    anySession: true,
    request: named('BindCardRequest', BindCardRequestSchema),
    response: { status: 201, description: 'the card bound', body: named('PatientCard', PatientCardSchema) },
    errors: [
      'not_found',
      'name_mismatch',
      'card_already_bound',
      'rate_limited',
      'his_error',
      'his_unavailable',
    ],
  },
  {
    operationId: 'unbindPatientCard',
    method: 'DELETE',
    path: '/api/patient/cards/:id',
    tag: TAGS.patient,
    summary: 'Unbind a card',
    auth: 'patient-bearer',
    anySession: true,
    params: { id: 'the card id (`card_…`)' },
    response: { status: 204, description: 'unbound' },
    errors: ['not_found'],
  },
  {
    operationId: 'switchPatientCard',
    method: 'POST',
    path: '/api/patient/cards/:id/switch',
    tag: TAGS.patient,
    summary: 'Act for another bound card (a family member)',
    description: 'A new session for the card’s patient, on the same account.',
    auth: 'patient-bearer',
    anySession: true,
    params: { id: 'the card id (`card_…`)' },
    response: {
      status: 200,
      description: 'the session',
      body: named('PatientSession', PatientSessionSchema),
    },
    errors: ['not_found'],
  },
  {
    operationId: 'listPatientChannels',
    method: 'GET',
    path: '/api/patient/channels',
    tag: TAGS.patient,
    summary: 'How the patient can pay here',
    description:
      'The channels the hospital accepts and the trade types each collects with (payment codes are for the ' +
      'window and not listed). The client offers a choice only when more than one fits its platform.',
    auth: 'patient-bearer',
    response: {
      status: 200,
      description: 'the channels',
      body: named('PatientChannels', PatientChannelsSchema),
    },
    errors: [],
  },
  {
    operationId: 'listPatientOrders',
    method: 'GET',
    path: '/api/patient/orders',
    tag: TAGS.patient,
    summary: 'The patient’s order history',
    description: 'Newest first, a page at a time: pass `nextCursor` as `cursor` for the next page.',
    auth: 'patient-bearer',
    query: OrderHistoryQuerySchema,
    response: {
      status: 200,
      description: 'one page',
      body: named('PatientOrdersPage', PatientOrdersPageSchema),
    },
    errors: ['bad_request', 'validation_failed'],
  },
  {
    operationId: 'createOrder',
    method: 'POST',
    path: '/api/orders',
    tag: TAGS.patient,
    summary: 'Pay bills',
    description:
      'Bill ids only: the server computes the amount (an `amountFen` field is refused). `pay` carries what the ' +
      'payment sheet needs: `codeUrl` (NATIVE, a QR content), `h5Url` (H5) or `jsapi` (JSAPI, for ' +
      '`wx.requestPayment` / `WeixinJSBridge`). On `channel_unavailable` the error names the `orderId` created: poll it. ' +
      'Where the hospital’s bills are pulled from the HIS, the HIS is asked again first: a bill it no longer ' +
      'lists (paid at a window) is `bill_not_payable`, a changed one is charged at its new amount.',
    auth: 'patient-bearer',
    request: named('CreateOrderRequest', CreateOrderRequestSchema),
    response: { status: 201, description: 'the order, PAYING', body: named('OrderView', OrderViewSchema) },
    errors: [
      'not_found',
      'bad_request',
      'bill_not_payable',
      'bill_locked',
      'channel_error',
      'channel_unavailable',
    ],
    idempotencyKey: true,
  },
  {
    operationId: 'getPatientOrder',
    method: 'GET',
    path: '/api/orders/:id',
    tag: TAGS.patient,
    summary: 'One of the patient’s orders',
    description:
      'With its bills, refunds and their status, and — while PAYING — `pay`, what the payment sheet needs to ' +
      'resume. The result page polls this until the order is final: a client-side success is never trusted.',
    auth: 'patient-bearer',
    params: { id: 'the order id (`ord_…`)' },
    response: {
      status: 200,
      description: 'the order',
      body: named('PatientOrderDetail', PatientOrderDetailSchema),
    },
    errors: ['not_found'],
  },
  {
    operationId: 'getOrderQr',
    method: 'GET',
    path: '/api/orders/:id/qr',
    tag: TAGS.patient,
    summary: 'The QR code of an order paid by scanning',
    description:
      'A PNG of `pay.codeUrl` while a NATIVE order is PAYING, for a desktop browser to show (scan with the ' +
      'WeChat or Alipay app). Any other order is `order_not_payable`.',
    auth: 'patient-bearer',
    params: { id: 'the order id (`ord_…`)' },
    response: {
      status: 200,
      description: 'the QR code',
      binary: { mediaType: 'image/png', description: 'error correction M, 8 px modules' },
    },
    errors: ['not_found', 'order_not_payable'],
  },
  {
    operationId: 'listOrderInvoices',
    method: 'GET',
    path: '/api/orders/:id/invoices',
    tag: TAGS.patient,
    summary: 'The e-invoices of a paid order',
    description:
      'Asked of the HIS for a paid order (empty until it issued one). When the HIS does not answer, the ' +
      'invoices already known are listed with `hisUnavailable: true`.',
    auth: 'patient-bearer',
    params: { id: 'the order id (`ord_…`)' },
    response: {
      status: 200,
      description: 'the invoices',
      body: named('OrderInvoicesResponse', OrderInvoicesResponseSchema),
    },
    errors: ['not_found'],
  },
  {
    operationId: 'getOrderInvoiceFile',
    method: 'GET',
    path: '/api/orders/:id/invoices/:invoiceNo/file',
    tag: TAGS.patient,
    summary: 'The file of an e-invoice',
    description: 'Fetched from the HIS now: a PDF or a PNG, shown inline.',
    auth: 'patient-bearer',
    params: { id: 'the order id (`ord_…`)', invoiceNo: 'the invoice number (`invoiceNo` of the list)' },
    response: {
      status: 200,
      description: 'the file',
      binary: { mediaType: [...INVOICE_CONTENT_TYPES], description: 'PDF or PNG, as the HIS issued it' },
    },
    errors: ['not_found', 'his_error', 'his_unavailable'],
  },
  {
    operationId: 'getInsuranceStatus',
    method: 'GET',
    path: '/api/insurance/status',
    tag: TAGS.patient,
    summary: 'Medical insurance (医保): whether the hospital takes it, and the patient’s authorisation',
    description:
      'Names and ID numbers are masked. `settleChannels`: nhsa (the national platform; the cash part by WeChat ' +
      'Pay), wxmedins (WeChat insurance pay in the mini-program).',
    auth: 'patient-bearer',
    response: {
      status: 200,
      description: 'the status',
      body: named('InsuranceStatus', InsuranceStatusSchema),
    },
    errors: [],
  },
  {
    operationId: 'startInsuranceAuthorization',
    method: 'POST',
    path: '/api/insurance/authorize',
    tag: TAGS.patient,
    summary: 'Start the medical-insurance authorisation (医保授权)',
    description:
      'Answers the national platform’s authorisation page: open it; it returns to `returnUrl` with `authCode` ' +
      'and `state`, which the client completes with `POST /api/insurance/authorize/complete`.',
    auth: 'patient-bearer',
    request: named('InsuranceAuthorizeRequest', InsuranceAuthorizeRequestSchema),
    response: {
      status: 200,
      description: 'the authorisation page',
      body: named('InsuranceAuthorizeStart', z.object({ pageUrl: z.string(), state: z.string() })),
    },
    errors: ['bad_request'],
  },
  {
    operationId: 'completeInsuranceAuthorization',
    method: 'POST',
    path: '/api/insurance/authorize/complete',
    tag: TAGS.patient,
    summary: 'Complete the authorisation with the page’s authCode',
    description:
      'The insured person must be the patient (same name as the HIS holds): `name_mismatch` otherwise. The ' +
      'payment authorisation is kept encrypted and only until it expires.',
    auth: 'patient-bearer',
    request: named('InsuranceAuthorizeComplete', InsuranceAuthorizeCompleteSchema),
    response: {
      status: 200,
      description: 'the status',
      body: named('InsuranceStatus', InsuranceStatusSchema),
    },
    errors: ['bad_request', 'insurance_refused', 'name_mismatch', 'channel_unavailable'],
  },
  {
    operationId: 'getInsuranceBalance',
    method: 'GET',
    path: '/api/insurance/balance',
    tag: TAGS.patient,
    summary: 'Personal-account balance (医保个人账户余额)',
    description: 'Asked of the national platform now.',
    auth: 'patient-bearer',
    response: {
      status: 200,
      description: 'the balance, fen',
      body: named('InsuranceBalance', z.object({ balanceFen: z.number().int() })),
    },
    errors: ['insurance_not_authorized', 'insurance_refused', 'channel_unavailable'],
  },
  {
    operationId: 'createInsuranceQuote',
    method: 'POST',
    path: '/api/insurance/quotes',
    tag: TAGS.patient,
    summary: 'Quote: upload the bills’ fee details and get the insurance split',
    description:
      'Bill ids only. The bills become an order (CREATED, bills held) whose fee details go to the national ' +
      'platform (6201); the answer is the split — fund (统筹), personal account (个账), other, cash — checked to ' +
      'add up to the bills. Confirm with `POST /api/insurance/orders/{id}/pay` or give up with `…/cancel`. ' +
      'Without an authorisation: `insurance_not_authorized` (authorise, or pay self-pay with `POST /api/orders`).',
    auth: 'patient-bearer',
    request: named('InsuranceQuoteRequest', InsuranceQuoteRequestSchema),
    response: {
      status: 201,
      description: 'the quote',
      body: named('InsuranceOrderView', InsuranceOrderViewSchema),
    },
    errors: [
      'not_found',
      'bad_request',
      'bill_not_payable',
      'bill_locked',
      'insurance_not_authorized',
      'insurance_refused',
      'channel_unavailable',
    ],
  },
  {
    operationId: 'getInsuranceOrder',
    method: 'GET',
    path: '/api/insurance/orders/:id',
    tag: TAGS.patient,
    summary: 'An order with an insurance part: split, settlement state, what the sheets need',
    description:
      'Poll it after paying: `pay` (the WeChat Pay sheet for the cash part) once the insurance part settled, ' +
      '`medicalInsurancePay` (wx.requestMedicalInsurancePay) while WeChat’s mixed order waits.',
    auth: 'patient-bearer',
    params: { id: 'the order id (`ord_…`)' },
    response: {
      status: 200,
      description: 'the order',
      body: named('InsuranceOrderView', InsuranceOrderViewSchema),
    },
    errors: ['not_found'],
  },
  {
    operationId: 'payInsuranceOrder',
    method: 'POST',
    path: '/api/insurance/orders/:id/pay',
    tag: TAGS.patient,
    summary: 'Confirm the quote: settle the insurance part and start the cash part',
    description:
      'nhsa: the platform settles the insurance part (6202), then `pay` carries the WeChat Pay sheet for the cash ' +
      'part (none when it is 0). wxmedins: `medicalInsurancePay` carries the mixed order’s client parameters. ' +
      'Every partial outcome is repaired by the platform (insurance reversed, or cash refunded).',
    auth: 'patient-bearer',
    params: { id: 'the order id (`ord_…`)' },
    response: {
      status: 200,
      description: 'the order',
      body: named('InsuranceOrderView', InsuranceOrderViewSchema),
    },
    errors: ['not_found', 'order_not_payable', 'channel_unavailable'],
  },
  {
    operationId: 'returnFromInsuranceSheet',
    method: 'POST',
    path: '/api/insurance/orders/:id/return',
    tag: TAGS.patient,
    summary: 'Back from WeChat’s insurance sheet: ask now, then show the order',
    description:
      'The client calls it when the patient returns from `requestMedicalInsurancePay` (the mini-program’s scene ' +
      '1038, the H5 return page). A client-side success proves nothing: while the settlement is not final the ' +
      'settling party is asked at once and its answer applied, as a notification would be.',
    auth: 'patient-bearer',
    params: { id: 'the order id (`ord_…`)' },
    response: {
      status: 200,
      description: 'the order',
      body: named('InsuranceOrderView', InsuranceOrderViewSchema),
    },
    errors: ['not_found'],
  },
  {
    operationId: 'cancelInsuranceQuote',
    method: 'POST',
    path: '/api/insurance/orders/:id/cancel',
    tag: TAGS.patient,
    summary: 'Give up a quote: the upload is withdrawn (6401), the bills released',
    auth: 'patient-bearer',
    params: { id: 'the order id (`ord_…`)' },
    response: {
      status: 200,
      description: 'the order',
      body: named('InsuranceOrderView', InsuranceOrderViewSchema),
    },
    errors: ['not_found', 'order_not_payable'],
  },
  {
    operationId: 'startCreditSigning',
    method: 'POST',
    path: '/api/credit/sign',
    tag: TAGS.patient,
    summary: 'Start signing credit pay after treatment (信用就医)',
    description:
      'Answers the bank’s signing page URL: open it; the bank sends the patient back to `returnUrl` with ' +
      '`signRequestNo` and `result=SUCCESS|CANCELLED`. Then read `GET /api/credit/status` (the bank is asked).',
    auth: 'patient-bearer',
    request: named('CreditSignRequest', CreditSignRequestSchema),
    response: {
      status: 201,
      description: 'the signing page',
      body: named('CreditSignStart', CreditSignStartSchema),
    },
    errors: ['conflict', 'channel_error', 'channel_unavailable'],
  },
  {
    operationId: 'getCreditStatus',
    method: 'GET',
    path: '/api/credit/status',
    tag: TAGS.patient,
    summary: 'Credit-pay status, limit and available amount',
    description: 'Asked at the bank every time; with the relatives authorised for family pay.',
    auth: 'patient-bearer',
    response: { status: 200, description: 'the status', body: named('CreditStatus', CreditStatusSchema) },
    errors: ['bad_request', 'channel_unavailable'],
  },
  {
    operationId: 'unsignCredit',
    method: 'POST',
    path: '/api/credit/unsign',
    tag: TAGS.patient,
    summary: 'End credit pay (解约)',
    description: 'Ends the agreement at the bank, then here; family authorisations end with it.',
    auth: 'patient-bearer',
    response: {
      status: 200,
      description: 'the status after',
      body: named('CreditStatus', CreditStatusSchema),
    },
    errors: ['conflict', 'channel_error', 'channel_unavailable'],
  },
  {
    operationId: 'addCreditFamilyMember',
    method: 'POST',
    path: '/api/credit/family',
    tag: TAGS.patient,
    summary: 'Let a relative’s bills be debited on this agreement (family pay)',
    description: 'The relative must be a card bound to this account (`POST /api/patient/cards`).',
    auth: 'patient-bearer',
    request: named('CreditFamilyRequest', CreditFamilyRequestSchema),
    response: {
      status: 201,
      description: 'authorised',
      body: named('CreditFamilyAdded', CreditFamilyMemberSchema.omit({ name: true })),
    },
    errors: ['bad_request', 'not_found', 'conflict'],
  },
  {
    operationId: 'removeCreditFamilyMember',
    method: 'DELETE',
    path: '/api/credit/family/:id',
    tag: TAGS.patient,
    summary: 'Withdraw a relative’s family-pay authorisation',
    auth: 'patient-bearer',
    params: { id: 'the authorisation id (`cfm_…`)' },
    response: { status: 204, description: 'withdrawn' },
    errors: ['not_found'],
  },
  {
    operationId: 'listCreditDebits',
    method: 'GET',
    path: '/api/credit/debits',
    tag: TAGS.patient,
    summary: 'Automatic credit debits of the patient’s bills',
    auth: 'patient-bearer',
    response: {
      status: 200,
      description: 'newest first',
      body: named('CreditDebitList', CreditDebitListSchema),
    },
    errors: [],
  },
  {
    operationId: 'listPatientMessages',
    method: 'GET',
    path: '/api/patient/messages',
    tag: TAGS.patient,
    summary: 'The patient’s messages',
    description: 'Payment succeeded, refund done, credit debit failed, bill waiting; newest first.',
    auth: 'patient-bearer',
    response: {
      status: 200,
      description: 'messages and the unread count',
      body: named('PatientMessageList', PatientMessageListSchema),
    },
    errors: [],
  },
  {
    operationId: 'markPatientMessageRead',
    method: 'POST',
    path: '/api/patient/messages/:id/read',
    tag: TAGS.patient,
    summary: 'Mark a message read',
    auth: 'patient-bearer',
    params: { id: 'the message id (`msg_…`)' },
    response: {
      status: 200,
      description: 'the message',
      body: named('PatientMessage', PatientMessageSchema),
    },
    errors: ['not_found'],
  },
  // --- inpatient stays (住院押金、出院结算) ---
  {
    operationId: 'admitInpatient',
    method: 'POST',
    path: '/open/v1/admissions',
    tag: TAGS.his,
    summary: 'Admission notice (入院)',
    description:
      'Idempotent by `admissionNo`; a repeat may change the ward and department. The same number for ' +
      'another patient is a conflict.',
    auth: 'his-signature',
    request: named('AdmissionRequest', AdmissionRequestSchema),
    response: { status: 200, description: 'the stay', body: named('Admission', AdmissionViewSchema) },
    errors: ['conflict'],
  },
  {
    operationId: 'getAdmission',
    method: 'GET',
    path: '/open/v1/admissions/:admissionNo',
    tag: TAGS.his,
    summary: 'A stay: deposits, payments, balance, settlements',
    auth: 'his-signature',
    params: { admissionNo: 'the HIS inpatient number' },
    response: { status: 200, description: 'the stay', body: named('Admission', AdmissionViewSchema) },
    errors: ['not_found'],
  },
  {
    operationId: 'requestDeposit',
    method: 'POST',
    path: '/open/v1/admissions/:admissionNo/deposits',
    tag: TAGS.his,
    summary: 'Ask for a deposit (押金) or a top-up',
    description:
      'A bill the patient pays with any channel; debited at once through credit pay when the patient signed ' +
      'with auto-pay and the limit allows. Idempotent by `hisDepositNo` (another amount: conflict). Refused ' +
      'once the stay is settled.',
    auth: 'his-signature',
    params: { admissionNo: 'the HIS inpatient number' },
    request: named('DepositRequest', DepositRequestSchema),
    response: { status: 200, description: 'the deposit', body: named('Deposit', DepositViewSchema) },
    errors: ['not_found', 'conflict'],
  },
  {
    operationId: 'settleAdmission',
    method: 'POST',
    path: '/open/v1/admissions/:admissionNo/settlements',
    tag: TAGS.his,
    summary: 'Discharge settlement (出院结算)',
    description:
      'The total cost against what the platform holds: the difference is refunded across the paying orders ' +
      'newest first (each through its own channel), or the rest becomes a bill (credit-debited when signed ' +
      'and within the limit, else paid by the patient); equal is settled at once. `SETTLING` until the money ' +
      'moved, then `SETTLED` (also pushed to the HIS). Idempotent by `hisSettlementNo`; another total under ' +
      'the same number, or a second settlement while one stands, is a conflict. Unpaid deposits are cancelled.',
    auth: 'his-signature',
    params: { admissionNo: 'the HIS inpatient number' },
    request: named('SettlementRequest', SettlementRequestSchema),
    response: { status: 200, description: 'the settlement', body: named('Settlement', SettlementViewSchema) },
    errors: ['not_found', 'conflict', 'bill_locked', 'refund_in_progress'],
  },
  {
    operationId: 'getSettlement',
    method: 'GET',
    path: '/open/v1/settlements/:hisSettlementNo',
    tag: TAGS.his,
    summary: 'A settlement’s result',
    auth: 'his-signature',
    params: { hisSettlementNo: 'the HIS settlement number' },
    response: { status: 200, description: 'the settlement', body: named('Settlement', SettlementViewSchema) },
    errors: ['not_found'],
  },
  {
    operationId: 'reverseSettlement',
    method: 'POST',
    path: '/open/v1/settlements/:hisSettlementNo/reversal',
    tag: TAGS.his,
    summary: 'Settlement reversal (出院结算撤销)',
    description:
      'The settlement becomes `REVERSED` and the stay is back in hospital: an unpaid bill for the rest is ' +
      'cancelled, a paid one refunded. Deposits it refunded are not collected again; a corrected settlement ' +
      '(new number, next version) computes against what is now held. Repeatable.',
    auth: 'his-signature',
    params: { hisSettlementNo: 'the HIS settlement number' },
    request: named('SettlementReversalRequest', SettlementReversalRequestSchema),
    response: { status: 200, description: 'the settlement', body: named('Settlement', SettlementViewSchema) },
    errors: ['not_found', 'conflict', 'bill_locked', 'refund_in_progress'],
  },
  {
    operationId: 'listMyAdmissions',
    method: 'GET',
    path: '/api/inpatient/admissions',
    tag: TAGS.patient,
    summary: 'My inpatient stays with the deposit balance',
    auth: 'patient-bearer',
    response: { status: 200, description: 'the stays', body: named('AdmissionList', AdmissionListSchema) },
    errors: [],
  },
  {
    operationId: 'payDeposit',
    method: 'POST',
    path: '/api/inpatient/deposits/:id/orders',
    tag: TAGS.patient,
    summary: 'Pay a deposit',
    description:
      'An ordinary order for the deposit’s bill (the same as `POST /api/orders` with its `billId`).',
    auth: 'patient-bearer',
    params: { id: 'the deposit id (`dep_…`)' },
    request: named('PayDepositRequest', PayDepositRequestSchema),
    response: { status: 201, description: 'the order', body: named('OrderView', OrderViewSchema) },
    errors: [
      'not_found',
      'bad_request',
      'bill_not_payable',
      'bill_locked',
      'channel_error',
      'channel_unavailable',
    ],
  },
];

/** What each error code means, for the document and the docs page. */
export const ERROR_DESCRIPTIONS: Record<ErrorCode, string> = {
  bad_request: 'the request cannot be served as it is (the message says why)',
  validation_failed: 'the body or query does not match the schema; the message is `path: problem`',
  payload_too_large: 'the body is larger than the limit',
  unsupported_media_type: 'a body was sent with a content-type other than application/json',
  unauthorized: 'missing or invalid credentials (signature headers, bearer token, QR token)',
  invalid_signature: 'X-Signature does not match the request (see the signing guide)',
  timestamp_out_of_window: 'X-Timestamp is too far from our clock',
  nonce_replayed: 'X-Nonce was already used',
  insurance_not_authorized:
    'the patient has not authorised the hospital to use their medical insurance, or it expired: authorise, or pay self-pay',
  insurance_refused: 'the medical-insurance platform refused the quote, the settlement or the authorisation',
  invalid_credentials: 'wrong user name or password (admin API)',
  forbidden: 'authenticated, but not allowed to do this',
  account_locked: 'too many failed logins (admin API)',
  account_disabled: 'the account is disabled (admin API)',
  not_found: 'no such bill, order, refund, patient or route',
  conflict: 'the request conflicts with the current state, or the same Idempotency-Key with another request',
  bill_not_payable: 'the bill is paid or cancelled',
  bill_locked: 'the bill is being paid by a live order',
  order_not_payable: 'the order can no longer be paid',
  order_not_refundable: 'the order is not in a refundable state',
  refund_in_progress: 'another refund of this order is in flight; try again when it ends',
  refund_exceeds_paid: 'the refund would pass the paid sum',
  name_mismatch: 'the name does not match the holder of the card or ID number (the HIS checked it)',
  card_already_bound: 'this account has already bound this patient’s card',
  card_required:
    'the session has no patient yet, or not the one asked for: bind the patient’s card (and switch to it) first',
  rate_limited: 'too many calls from this app; wait for Retry-After seconds',
  statement_rejected:
    'the statement file is corrupt, does not add up to its own summary, or is another day’s or merchant’s (admin API)',
  channel_error: 'the payment channel refused the request',
  channel_unavailable: 'the payment channel did not answer; the outcome is checked automatically',
  his_error: 'the hospital information system refused the request or answered something unreadable',
  his_unavailable: 'the hospital information system did not answer; retry later',
  service_unavailable: 'a dependency (the database) is unavailable; retry later',
  internal_error: 'an unexpected error (quote the requestId)',
};

/** One worked example of the signing guide. Fixed values: a test recomputes them with the bff's signer. */
export interface SigningExample {
  appId: string;
  secret: string;
  method: string;
  pathAndQuery: string;
  timestamp: string;
  nonce: string;
  body: string;
  bodySha256: string;
  stringToSign: string;
  signature: string;
}

/** The machine-readable signing guide (`x-signing-guide`); `info.description` holds the same in prose. */
export interface SigningGuide {
  headers: Record<string, string>;
  stringToSign: string;
  signature: string;
  rules: string[];
  examples: SigningExample[];
}

/** The same vector as the README ("For HIS vendors") and `modules/his/signature.test.ts`. */
const SIGNING_EXAMPLES: SigningExample[] = [
  {
    appId: 'his_example',
    secret: 'demo-secret-please-change',
    method: 'POST',
    pathAndQuery: '/open/v1/bills',
    timestamp: '1790000000',
    nonce: '0123456789abcdef',
    body: '{"bills":[]}',
    bodySha256: 'a13b28a6796911d08d2d852f75942c102bd598cb3815f6d9acef4e9c2b341223',
    stringToSign:
      'POST\n/open/v1/bills\n1790000000\n0123456789abcdef\na13b28a6796911d08d2d852f75942c102bd598cb3815f6d9acef4e9c2b341223\n',
    signature: 'vchrkWlbFxrMKhKfxeaF7ZYHMlEvVPRcaIb3VX3kZAw=',
  },
  {
    appId: 'his_example',
    secret: 'demo-secret-please-change',
    method: 'GET',
    pathAndQuery: '/open/v1/bills/HB20260101001/qr?format=png',
    timestamp: '1790000000',
    nonce: '0123456789abcdef',
    body: '',
    bodySha256: 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855',
    stringToSign:
      'GET\n/open/v1/bills/HB20260101001/qr?format=png\n1790000000\n0123456789abcdef\ne3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855\n',
    signature: 'QEHos+DdCGu8WYlNlw8bAcklMsknh5KdK5tNL1U+PAs=',
  },
];

type DocConfig = Pick<
  Config,
  'sandbox' | 'openApiWindowSeconds' | 'openApiRatePerSecond' | 'openApiRateBurst'
>;

function signingGuide(c: DocConfig): SigningGuide {
  return {
    headers: {
      'X-App-Id': 'your app id',
      'X-Timestamp': `unix seconds, within ${c.openApiWindowSeconds} s of our clock`,
      'X-Nonce': '16–64 characters of [0-9A-Za-z_-], never reused',
      'X-Signature': 'base64( HMAC-SHA256( secret, stringToSign ) )',
    },
    stringToSign:
      'METHOD + "\\n" + PATH_AND_QUERY + "\\n" + TIMESTAMP + "\\n" + NONCE + "\\n" + hex(SHA-256(body)) + "\\n"',
    signature: 'base64(HMAC-SHA256(key = app secret as UTF-8, message = stringToSign as UTF-8))',
    rules: [
      'METHOD is upper case (`GET`, `POST`).',
      'PATH_AND_QUERY is the request target exactly as sent on the request line: the path, and `?` with the ' +
        'query string when there is one, percent-encoded as sent; no scheme or host.',
      'TIMESTAMP and NONCE are the values of the X-Timestamp and X-Nonce headers.',
      'The body hash is lowercase hex SHA-256 of the exact body bytes sent (UTF-8); a call without a body ' +
        'hashes the empty string. Send `Content-Type: application/json` with a body.',
      'Every line, the last one too, ends with a single `\\n`.',
      `A timestamp more than ${c.openApiWindowSeconds} s from our clock is refused (\`timestamp_out_of_window\`), ` +
        'a nonce used before is refused (`nonce_replayed`), a wrong signature is `invalid_signature`; all 401.',
      `Each app may make ${c.openApiRatePerSecond} signed calls a second (bursts of ${c.openApiRateBurst}); ` +
        'beyond that the answer is 429 `rate_limited` with `Retry-After`.',
      'Our result pushes to `POST {callbackBaseUrl}/his/v1/results` are signed the same way with the same ' +
        'secret: verify them before you trust them.',
    ],
    examples: SIGNING_EXAMPLES,
  };
}

function signingGuideMarkdown(g: SigningGuide): string {
  const lines = [
    '## Signing guide',
    '',
    'Every call to an operation secured by `hisSignature` (the `/open/v1` operations) carries four headers:',
    '',
    ...Object.entries(g.headers).map(([h, v]) => `- \`${h}\`: ${v}`),
    '',
    'The string to sign:',
    '',
    '```',
    g.stringToSign,
    '```',
    '',
    ...g.rules.map((r) => `- ${r}`),
    '',
  ];
  for (const [i, e] of g.examples.entries()) {
    lines.push(
      `### Worked example ${i + 1}: ${e.method} ${e.pathAndQuery}`,
      '',
      '```',
      `app id        ${e.appId}`,
      `secret        ${e.secret}`,
      `method        ${e.method}`,
      `path & query  ${e.pathAndQuery}`,
      `timestamp     ${e.timestamp}`,
      `nonce         ${e.nonce}`,
      `body          ${e.body === '' ? '(empty)' : e.body}`,
      `body SHA-256  ${e.bodySha256}`,
      '```',
      '',
      'String to sign (each line ends with `\\n`):',
      '',
      '```',
      e.stringToSign.replace(/\n$/, ''),
      '```',
      '',
      'Headers:',
      '',
      '```',
      `X-App-Id: ${e.appId}`,
      `X-Timestamp: ${e.timestamp}`,
      `X-Nonce: ${e.nonce}`,
      `X-Signature: ${e.signature}`,
      '```',
      '',
    );
  }
  return lines.join('\n');
}

/** A JSON Schema (2020-12) object. */
export type JsonSchema = Record<string, unknown>;

function toJsonSchema(schema: z.ZodType, io: 'input' | 'output'): JsonSchema {
  const out = z.toJSONSchema(schema, { io, unrepresentable: 'any' }) as JsonSchema;
  delete out.$schema;
  return out;
}

/** Common errors by what an operation does: the domain errors come from its entry. */
function allErrors(op: OperationSpec): ErrorCode[] {
  const codes = new Set<ErrorCode>();
  if (op.auth === 'his-signature')
    for (const c of [
      'unauthorized',
      'invalid_signature',
      'timestamp_out_of_window',
      'nonce_replayed',
      'rate_limited',
      'payload_too_large',
    ] as const)
      codes.add(c);
  if (op.auth === 'patient-bearer') codes.add('unauthorized');
  if (op.auth === 'patient-bearer' && !op.anySession) codes.add('card_required');
  if (op.request)
    for (const c of [
      'bad_request',
      'validation_failed',
      'unsupported_media_type',
      'payload_too_large',
    ] as const)
      codes.add(c);
  if (op.idempotencyKey) for (const c of ['bad_request', 'conflict'] as const) codes.add(c);
  for (const c of op.errors) codes.add(c);
  if (op.operationId !== 'getOpenApiDocument') codes.add('service_unavailable');
  codes.add('internal_error');
  return ERROR_CODES.filter((c) => codes.has(c));
}

/** `/open/v1/bills/:hisBillNo` → `/open/v1/bills/{hisBillNo}`. */
export function openApiPath(koaPath: string): string {
  return koaPath.replace(/:([A-Za-z0-9_]+)/g, '{$1}');
}

function pathParamNames(koaPath: string): string[] {
  return [...koaPath.matchAll(/:([A-Za-z0-9_]+)/g)].map((m) => m[1]!);
}

/** The operations a server with this configuration registers. */
export function documentedOperations(c: Pick<Config, 'sandbox'>): OperationSpec[] {
  return OPERATIONS.filter((op) => c.sandbox || !op.sandboxOnly);
}

/** A minimal OpenAPI 3.1 document type: what we generate and what the docs page reads. */
export interface OpenApiDocument {
  openapi: string;
  info: { title: string; version: string; description: string };
  servers: { url: string; description?: string }[];
  tags: { name: string; description?: string }[];
  paths: Record<string, Record<string, OpenApiOperation>>;
  components: {
    schemas: Record<string, JsonSchema>;
    parameters: Record<string, OpenApiParameter>;
    securitySchemes: Record<string, Record<string, unknown>>;
  };
  'x-signing-guide': SigningGuide;
  'x-error-codes': { code: ErrorCode; status: number; description: string }[];
}

/** A parameter (path, query or header). */
export interface OpenApiParameter {
  name: string;
  in: 'path' | 'query' | 'header';
  required: boolean;
  description?: string;
  schema: JsonSchema;
}

/** An operation of the document. */
export interface OpenApiOperation {
  operationId: string;
  tags: string[];
  summary: string;
  description?: string;
  security: Record<string, string[]>[];
  parameters: (OpenApiParameter | { $ref: string })[];
  requestBody?: { required: boolean; content: Record<string, { schema: JsonSchema }> };
  responses: Record<
    string,
    {
      description: string;
      headers?: Record<string, { description: string; schema: JsonSchema }>;
      content?: Record<string, { schema: JsonSchema }>;
    }
  >;
  'x-error-codes': ErrorCode[];
  'x-sandbox-only'?: boolean;
}

const ref = (name: string) => ({ $ref: `#/components/schemas/${name}` });

/** Builds the document for a server with this configuration (sandbox-only operations only in the sandbox). */
export function buildOpenApiDocument(c: DocConfig): OpenApiDocument {
  const guide = signingGuide(c);
  const schemas: Record<string, JsonSchema> = {};
  const owners = new Map<string, z.ZodType>();
  const component = (n: NamedSchema, io: 'input' | 'output') => {
    const owner = owners.get(n.name);
    if (owner && owner !== n.schema)
      throw new Error(`two schemas are named ${n.name} in the OpenAPI document`);
    owners.set(n.name, n.schema);
    schemas[n.name] ??= toJsonSchema(n.schema, io);
    return ref(n.name);
  };
  component(named('ErrorBody', ErrorBodySchema), 'output');

  const paths: OpenApiDocument['paths'] = {};
  for (const op of documentedOperations(c)) {
    const parameters: OpenApiOperation['parameters'] = pathParamNames(op.path).map((name) => ({
      name,
      in: 'path' as const,
      required: true,
      description: op.params?.[name],
      schema: { type: 'string' },
    }));
    if (op.query) {
      const q = toJsonSchema(op.query, 'input') as {
        properties?: Record<string, JsonSchema>;
        required?: string[];
      };
      for (const [name, schema] of Object.entries(q.properties ?? {})) {
        const { description, ...rest } = schema as JsonSchema & { description?: string };
        parameters.push({
          name,
          in: 'query',
          required: q.required?.includes(name) ?? false,
          description,
          schema: rest,
        });
      }
    }
    if (op.auth === 'his-signature')
      for (const h of ['XAppId', 'XTimestamp', 'XNonce', 'XSignature'])
        parameters.push({ $ref: `#/components/parameters/${h}` });
    if (op.idempotencyKey) parameters.push({ $ref: '#/components/parameters/IdempotencyKey' });

    const ok: OpenApiOperation['responses'][string] = { description: op.response.description };
    if (op.response.body)
      ok.content = { 'application/json': { schema: component(op.response.body, 'output') } };
    if (op.response.binary) {
      ok.description += `; ${op.response.binary.description}`;
      ok.content ??= {};
      for (const mediaType of [op.response.binary.mediaType].flat())
        ok.content[mediaType] = { schema: { type: 'string', contentMediaType: mediaType } };
    }
    if (op.idempotencyKey)
      ok.headers = {
        'Idempotent-Replayed': {
          description:
            '`true` when this is the stored answer to an earlier request with the same Idempotency-Key',
          schema: { type: 'string', enum: ['true'] },
        },
      };
    const responses: OpenApiOperation['responses'] = { [String(op.response.status)]: ok };
    const codes = allErrors(op);
    const byStatus = new Map<number, ErrorCode[]>();
    for (const code of codes)
      byStatus.set(ERROR_STATUS[code], [...(byStatus.get(ERROR_STATUS[code]) ?? []), code]);
    for (const [status, list] of [...byStatus].sort(([a], [b]) => a - b)) {
      responses[String(status)] = {
        description: list.map((code) => `\`${code}\`: ${ERROR_DESCRIPTIONS[code]}`).join('; '),
        ...(list.includes('rate_limited')
          ? { headers: { 'Retry-After': { description: 'seconds to wait', schema: { type: 'string' } } } }
          : {}),
        content: { 'application/json': { schema: toJsonSchema(errorBodySchema(list), 'output') } },
      };
    }

    const security: OpenApiOperation['security'] =
      op.auth === 'his-signature'
        ? [{ hisSignature: [] }]
        : op.auth === 'patient-bearer'
          ? [{ patientBearer: [] }]
          : [];
    const operation: OpenApiOperation = {
      operationId: op.operationId,
      tags: [op.tag],
      summary: op.summary,
      ...(op.description ? { description: op.description } : {}),
      security,
      parameters,
      ...(op.request
        ? {
            requestBody: {
              required: true,
              content: { 'application/json': { schema: component(op.request, 'input') } },
            },
          }
        : {}),
      responses,
      'x-error-codes': codes,
      ...(op.sandboxOnly ? { 'x-sandbox-only': true } : {}),
    };
    const p = openApiPath(op.path);
    paths[p] ??= {};
    paths[p][op.method.toLowerCase()] = operation;
  }

  const header = (name: string, description: string, schema: JsonSchema): OpenApiParameter => ({
    name,
    in: 'header',
    required: true,
    description,
    schema,
  });
  return {
    openapi: '3.1.0',
    info: {
      title: 'Hospital unified payment platform — open API (HIS) and patient API',
      version: '1.0.0',
      description: [
        'The **open API** (`/open/v1`) is called by the hospital information system (HIS): it pushes bills, ' +
          'prints slip QR codes, takes payment codes at the window, reads payment status and asks for refunds. ' +
          'Every call is signed with the app secret (the signing guide below; also `x-signing-guide`).',
        '',
        'The **patient API** (`/api`) serves the patient checkout (mini-program, H5): bearer token of a patient ' +
          'session.',
        '',
        'Amounts are integer fen. Errors are `{ "error": { "code", "message", "requestId" } }`; the codes are ' +
          'listed in `x-error-codes`, and each operation names the codes it may answer.',
        '',
        signingGuideMarkdown(guide),
      ].join('\n'),
    },
    servers: [{ url: '/', description: 'the server that serves this document' }],
    tags: [
      { name: TAGS.his, description: 'Called by the HIS; HMAC-signed (see the signing guide).' },
      { name: TAGS.patient, description: 'Called by the patient checkout; bearer token.' },
      { name: TAGS.docs, description: 'This document.' },
    ],
    paths,
    components: {
      schemas,
      parameters: {
        XAppId: header('X-App-Id', 'your app id', { type: 'string', minLength: 1 }),
        XTimestamp: header('X-Timestamp', guide.headers['X-Timestamp']!, {
          type: 'string',
          pattern: '^\\d{9,11}$',
        }),
        XNonce: header('X-Nonce', guide.headers['X-Nonce']!, {
          type: 'string',
          pattern: '^[0-9A-Za-z_-]{16,64}$',
        }),
        XSignature: header(
          'X-Signature',
          'base64(HMAC-SHA256(secret, stringToSign)); see the signing guide',
          {
            type: 'string',
          },
        ),
        IdempotencyKey: {
          name: 'Idempotency-Key',
          in: 'header',
          required: false,
          description:
            'A repeat with the same key and request gets the stored answer (`Idempotent-Replayed: true`); the ' +
            'same key with another request is refused with 409 `conflict`.',
          schema: { type: 'string', pattern: '^[\\x21-\\x7e]{8,64}$' },
        },
      },
      securitySchemes: {
        hisSignature: {
          type: 'apiKey',
          in: 'header',
          name: 'X-Signature',
          description:
            'HMAC-SHA256 request signature, sent with X-App-Id, X-Timestamp and X-Nonce: see the signing guide ' +
            '(info.description, x-signing-guide).',
        },
        patientBearer: {
          type: 'http',
          scheme: 'bearer',
          bearerFormat: 'JWT',
          description: 'A patient session token.',
        },
      },
    },
    'x-signing-guide': guide,
    'x-error-codes': ERROR_CODES.map((code) => ({
      code,
      status: ERROR_STATUS[code],
      description: ERROR_DESCRIPTIONS[code],
    })),
  };
}

/**
 * `GET /open/v1/openapi.json` and `GET /open/docs`, unsigned. Mount before the open-API router so its
 * signature middleware never sees these two.
 */
export function openApiDocumentRoutes(c: DocConfig): Router {
  const doc = buildOpenApiDocument(c);
  const json = JSON.stringify(doc);
  const html = renderDocsPage(doc);
  const r = new Router();
  r.get('/open/v1/openapi.json', (ctx) => {
    ctx.type = 'application/json';
    ctx.body = json;
  });
  r.get('/open/docs', (ctx) => {
    ctx.type = 'html';
    ctx.body = html;
  });
  return r;
}
