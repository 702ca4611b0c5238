import { z } from 'zod';
import { ERROR_CODES, type ErrorCode } from './errors';
import { isValidIdNo } from './id-number';

export { isValidIdNo } from './id-number';
import {
  BILL_MODES,
  BILL_STATUSES,
  CARD_TYPES,
  CHANNELS,
  INVOICE_CONTENT_TYPES,
  ORDER_STATUSES,
  TRADE_TYPES,
} from './statuses';

/** Amount in fen on the wire: a non-negative safe integer. */
export const FenSchema = z.number().int().nonnegative().max(10_000_000_000);

const idText = (max: number) =>
  z
    .string()
    .min(1)
    .max(max)
    .regex(/^[0-9A-Za-z_\-.]+$/, 'letters, digits, _ - . only');

/** One line of a bill (a drug, an examination): informational, the bill amount is authoritative. */
export const BillItemSchema = z
  .object({
    name: z.string().min(1).max(100),
    spec: z.string().max(100).optional(),
    quantity: z.number().positive().max(1_000_000),
    unit: z.string().max(20).optional(),
    amountFen: FenSchema,
    /** The item's code in the insurance catalogue (医保目录编码), for the fee-detail upload. */
    code: z.string().max(50).optional(),
    /**
     * Insurance fee category (医疗收费项目类别): 01 床位 02 诊察 03 检查 04 化验 05 治疗 06 手术 07 护理 08 卫生材料
     * 09 西药 10 中药饮片 11 中成药 12 一般诊疗 13 挂号 14 其他 (the default).
     */
    category: z
      .string()
      .regex(/^(0[1-9]|1[0-4])$/, 'an insurance fee category 01–14')
      .optional(),
  })
  .strict();

/** A bill as the HIS pushes it through `POST /open/v1/bills`. */
export const OpenBillSchema = z
  .object({
    hisBillNo: idText(64),
    patientId: idText(64),
    patientName: z.string().min(1).max(50),
    visitNo: idText(64).optional(),
    department: z.string().max(50).optional(),
    doctor: z.string().max(50).optional(),
    title: z.string().min(1).max(100),
    amountFen: FenSchema.refine((v) => v > 0, 'must be greater than 0'),
    items: z.array(BillItemSchema).max(500).default([]),
  })
  .strict()
  .refine((b) => b.items.length === 0 || b.items.reduce((s, i) => s + i.amountFen, 0) === b.amountFen, {
    message: 'items must add up to amountFen',
    path: ['items'],
  });
export type OpenBill = z.infer<typeof OpenBillSchema>;

export const PushBillsRequestSchema = z.object({ bills: z.array(OpenBillSchema).min(1).max(200) }).strict();
export type PushBillsRequest = z.infer<typeof PushBillsRequestSchema>;

export const PushBillsResultSchema = z.object({
  results: z.array(
    z.object({
      hisBillNo: z.string(),
      billId: z.string(),
      version: z.number().int(),
      outcome: z.enum(['created', 'unchanged', 'replaced']),
    }),
  ),
});
export type PushBillsResult = z.infer<typeof PushBillsResultSchema>;

/** `GET /open/v1/bills/{hisBillNo}`: a bill's state for the HIS, and the order that paid it or is paying it. */
export const OpenBillStatusSchema = z.object({
  hisBillNo: z.string(),
  billId: z.string(),
  status: z.enum(BILL_STATUSES),
  /** Goes up by one each time the HIS replaces the unpaid bill. */
  version: z.number().int(),
  amountFen: FenSchema,
  /** PAID: the order that paid the bill; UNPAID with an order: the live order paying it now; else null. */
  order: z
    .object({
      orderNo: z.string(),
      status: z.enum(ORDER_STATUSES),
      channel: z.string(),
      amountFen: FenSchema,
      refundedFen: FenSchema,
      paidAt: z.string().nullable(),
    })
    .nullable(),
});
export type OpenBillStatus = z.infer<typeof OpenBillStatusSchema>;

/** `POST /open/v1/bills/{hisBillNo}/cancel`: the bill is cancelled (repeating the call answers the same). */
export const OpenCancelBillResultSchema = z.object({
  hisBillNo: z.string(),
  billId: z.string(),
  status: z.literal('CANCELLED'),
});
export type OpenCancelBillResult = z.infer<typeof OpenCancelBillResultSchema>;

/** `GET /open/v1/bills/{hisBillNo}/qr`, `GET /open/v1/visits/{visitNo}/qr`: what to print on the slip. */
export const SlipQrSchema = z.object({
  /** The H5 checkout with a signed token naming the patient and the bill or visit (never an amount). */
  url: z.string(),
  expiresAt: z.string(),
  /** What the code is for, as the HIS named it. */
  hisBillNo: z.string().optional(),
  visitNo: z.string().optional(),
});
export type SlipQr = z.infer<typeof SlipQrSchema>;

/** A bill as a patient sees it. */
export const PatientBillSchema = z.object({
  id: z.string(),
  hisBillNo: z.string(),
  visitNo: z.string().nullable(),
  department: z.string().nullable(),
  doctor: z.string().nullable(),
  title: z.string(),
  amountFen: FenSchema,
  status: z.enum(BILL_STATUSES),
  /** Set while a live order holds the bill: the patient resumes that order instead of starting another. */
  payingOrderId: z.string().nullable(),
  items: z.array(BillItemSchema),
  createdAt: z.string(),
});
export type PatientBill = z.infer<typeof PatientBillSchema>;

/** `GET /api/patient/bills`: the patient's payable bills. */
export const PatientBillsResponseSchema = z.object({
  bills: z.array(PatientBillSchema),
  /** push: the HIS pushes bills to us; pull: we asked the HIS for them just now. */
  billMode: z.enum(BILL_MODES),
  /** Pull mode: the HIS did not answer, so these are the bills we already held (possibly out of date). */
  hisUnavailable: z.boolean(),
});
export type PatientBillsResponse = z.infer<typeof PatientBillsResponseSchema>;

/** One line of a prescription or bill detail, as the HIS details it. */
export const PrescriptionItemSchema = z.object({
  name: z.string(),
  spec: z.string().nullable(),
  quantity: z.number(),
  unit: z.string().nullable(),
  unitPriceFen: FenSchema,
  amountFen: FenSchema,
  /** The department that carries the item out (执行科室), when the HIS names one. */
  department: z.string().nullable(),
});
export type PrescriptionItem = z.infer<typeof PrescriptionItemSchema>;

/** `GET /api/bills/:billId/detail`: our bill, detailed by the HIS (prescription, items with unit prices). */
export const BillDetailSchema = z.object({
  billId: z.string(),
  hisBillNo: z.string(),
  status: z.enum(BILL_STATUSES),
  /** What we hold and charge; the items are the HIS's detail of it. */
  amountFen: FenSchema,
  title: z.string(),
  visitNo: z.string().nullable(),
  department: z.string().nullable(),
  doctor: z.string().nullable(),
  diagnosis: z.string().nullable(),
  prescribedAt: z.string().nullable(),
  items: z.array(PrescriptionItemSchema),
});
export type BillDetail = z.infer<typeof BillDetailSchema>;

/**
 * `POST /api/patient/cards`: bind a patient of the hospital to the logged-in account, by hospital card number
 * or ID number, with the holder's name (the HIS checks it).
 */
export const BindCardRequestSchema = z
  .object({
    name: z.string().trim().min(1).max(50),
    cardNo: z
      .string()
      .regex(/^[0-9A-Za-z]{4,32}$/, 'a card number is 4–32 letters or digits')
      .optional(),
    idNo: z
      .string()
      .transform((v) => v.toUpperCase())
      .refine(isValidIdNo, 'not a valid 18-character ID number')
      .optional(),
  })
  .strict()
  .refine((b) => (b.cardNo === undefined) !== (b.idNo === undefined), {
    message: 'give either cardNo or idNo',
    path: ['cardNo'],
  });
export type BindCardRequest = z.infer<typeof BindCardRequestSchema>;

/** A card bound to the logged-in account: the holder's own or a family member's. Numbers are masked. */
export const PatientCardSchema = z.object({
  id: z.string(),
  hospitalId: z.string(),
  /** Our patient id of the card's holder. */
  patientId: z.string(),
  patientName: z.string(),
  cardType: z.enum(CARD_TYPES),
  cardNoMasked: z.string(),
  /** The card is the session's own patient. */
  current: z.boolean(),
  createdAt: z.string(),
});
export type PatientCard = z.infer<typeof PatientCardSchema>;

/** An e-invoice (电子票据) of a paid order; the file is fetched from the HIS on demand. */
export const InvoiceViewSchema = z.object({
  invoiceCode: z.string(),
  invoiceNo: z.string(),
  amountFen: FenSchema,
  issuedAt: z.string(),
  contentType: z.enum(INVOICE_CONTENT_TYPES),
  /** Path of the file under the patient API. */
  fileUrl: z.string(),
});
export type InvoiceView = z.infer<typeof InvoiceViewSchema>;

/** `GET /api/orders/:id/invoices`. */
export const OrderInvoicesResponseSchema = z.object({
  invoices: z.array(InvoiceViewSchema),
  /** The HIS did not answer: these are the invoices we already knew of. */
  hisUnavailable: z.boolean(),
});
export type OrderInvoicesResponse = z.infer<typeof OrderInvoicesResponseSchema>;

/** `GET /api/slips/{token}`: what the checkout shows after a slip scan. */
export const SlipViewSchema = z.object({
  hospital: z.string(),
  /** The patient's name, masked. */
  patient: z.string(),
  bills: z.array(PatientBillSchema),
});
export type SlipView = z.infer<typeof SlipViewSchema>;

/** A patient session: the bearer token for `/api` and when it expires. */
export const PatientSessionSchema = z.object({
  token: z.string(),
  /**
   * The patient the session acts for (bills, orders, invoices). null: a WeChat login whose account has no card
   * of this hospital yet — bind one (`POST /api/patient/cards`), then switch to it.
   */
  patient: z.object({ id: z.string(), name: z.string() }).nullable(),
  hospital: z.object({ id: z.string(), code: z.string(), name: z.string() }),
  /** Seconds until the token expires. */
  expiresIn: z.number().int(),
});
export type PatientSession = z.infer<typeof PatientSessionSchema>;

/**
 * `POST /api/patient/wx-login` (mini-program `wx.login` code) and `POST /api/patient/wx-oauth-login`
 * (official-account OAuth code): the code is exchanged with WeChat for the openid, which names the account.
 */
export const WechatLoginRequestSchema = z
  .object({
    code: z.string().min(1).max(128),
    /** The hospital to act in; without it, the hospital of the account's first card. */
    hospitalCode: z.string().min(1).max(32).optional(),
  })
  .strict();
export type WechatLoginRequest = z.infer<typeof WechatLoginRequestSchema>;

/** `POST /api/patient/slip-session`: act for the patient a slip's QR code names (a card of theirs must be bound). */
export const SlipSessionRequestSchema = z.object({ token: z.string().min(1).max(2000) }).strict();
export type SlipSessionRequest = z.infer<typeof SlipSessionRequestSchema>;

/** `GET /api/patient/login-options`: how a patient can log in here (the client asks before showing its login page). */
export const LoginOptionsSchema = z.object({
  /** The demo: sandbox login with the patients below; payments are made at the simulators' cashier pages. */
  sandbox: z.boolean(),
  hospitals: z.array(z.object({ code: z.string(), name: z.string() })),
  /** The mini-program appid whose `wx.login` codes are accepted; null: mini-program login is off. */
  miniProgramAppId: z.string().nullable(),
  /** Official-account OAuth for the H5 inside WeChat: the authorize page and the appid; null: off. */
  officialAccount: z.object({ appId: z.string(), authorizeUrl: z.string() }).nullable(),
  /** Sandbox only: the demo's patients (names masked) for the login picker. */
  sandboxPatients: z
    .array(z.object({ hospitalCode: z.string(), hisPatientId: z.string(), name: z.string() }))
    .optional(),
  /** Sandbox only: the WeChat Pay simulator, whose control API stands in for the payment sheet in the mini-program. */
  sandboxWechatPayUrl: z.string().optional(),
  /**
   * With mini-program login: the subscription-message templates the bff sends with (message kind → template id,
   * e.g. `payment_succeeded`), for the mini-program to ask the patient's consent (`wx.requestSubscribeMessage`)
   * before paying.
   */
  subscribeTemplates: z.record(z.string(), z.string()).optional(),
});
export type LoginOptions = z.infer<typeof LoginOptionsSchema>;

/** `GET /api/patient/channels`: what the session's hospital accepts from patients, with the ways each collects. */
export const PatientChannelsSchema = z.object({
  channels: z.array(z.object({ channel: z.enum(CHANNELS), tradeTypes: z.array(z.enum(TRADE_TYPES)) })),
});
export type PatientChannels = z.infer<typeof PatientChannelsSchema>;

/** `POST /api/orders`: bill ids only — the server computes the amount. */
export const CreateOrderRequestSchema = z
  .object({
    billIds: z.array(idText(40)).min(1).max(50),
    channel: z.enum(CHANNELS),
    tradeType: z.enum(TRADE_TYPES),
  })
  .strict();
export type CreateOrderRequest = z.infer<typeof CreateOrderRequestSchema>;

export const OrderViewSchema = z.object({
  id: z.string(),
  orderNo: z.string(),
  status: z.enum(ORDER_STATUSES),
  amountFen: FenSchema,
  channel: z.string(),
  tradeType: z.string(),
  billIds: z.array(z.string()),
  expiresAt: z.string(),
  paidAt: z.string().nullable(),
  settledAt: z.string().nullable(),
  /** Native: the QR content to show. */
  codeUrl: z.string().nullable(),
  /**
   * Patient API, while the order is PAYING: what the client hands to the payment sheet — `jsapi` for
   * `wx.requestPayment` / `WeixinJSBridge` (JSAPI), `h5Url` to open (H5), `codeUrl` to show as a QR (NATIVE).
   */
  pay: z
    .object({
      codeUrl: z.string().optional(),
      h5Url: z.string().optional(),
      jsapi: z.record(z.string(), z.string()).optional(),
    })
    .nullable()
    .optional(),
});
export type OrderView = z.infer<typeof OrderViewSchema>;

/** One line of the patient's order history (`GET /api/patient/orders`). */
export const PatientOrderSummarySchema = z.object({
  id: z.string(),
  orderNo: z.string(),
  status: z.enum(ORDER_STATUSES),
  amountFen: FenSchema,
  refundedFen: FenSchema,
  channel: z.string(),
  /** The first bill's title, with 等N项 when the order paid several. */
  title: z.string(),
  billCount: z.number().int(),
  createdAt: z.string(),
  paidAt: z.string().nullable(),
});
export type PatientOrderSummary = z.infer<typeof PatientOrderSummarySchema>;

/** `GET /api/patient/orders?cursor=&limit=`: newest first; `nextCursor` fetches the next page (null: no more). */
export const PatientOrdersPageSchema = z.object({
  orders: z.array(PatientOrderSummarySchema),
  nextCursor: z.string().nullable(),
});
export type PatientOrdersPage = z.infer<typeof PatientOrdersPageSchema>;

/** `GET /api/orders/:id`: the order with its bills and refunds, as its patient sees it. */
export const PatientOrderDetailSchema = OrderViewSchema.extend({
  refundedFen: FenSchema,
  createdAt: z.string(),
  bills: z.array(
    z.object({
      id: z.string(),
      hisBillNo: z.string(),
      title: z.string(),
      department: z.string().nullable(),
      doctor: z.string().nullable(),
      amountFen: FenSchema,
    }),
  ),
  refunds: z.array(
    z.object({
      refundNo: z.string(),
      amountFen: FenSchema,
      status: z.enum(['PENDING', 'PROCESSING', 'SUCCESS', 'FAILED', 'ABNORMAL']),
      method: z.enum(['CHANNEL', 'CASH']),
      reason: z.string(),
      createdAt: z.string(),
      succeededAt: z.string().nullable(),
    }),
  ),
});
export type PatientOrderDetail = z.infer<typeof PatientOrderDetailSchema>;

/**
 * `POST /open/v1/code-payments`: the window scanned the patient's payment code. Bills by HIS number; the
 * amount comes from them. The answer may be PAYING (the patient is confirming): poll the order.
 */
export const OpenCodePaymentRequestSchema = z
  .object({
    hisBillNos: z.array(idText(64)).min(1).max(50),
    authCode: z.string().regex(/^\d{16,24}$/, 'a payment code is 16–24 digits'),
    channel: z.enum(CHANNELS),
    terminalIp: z.ipv4().optional(),
  })
  .strict();
export type OpenCodePaymentRequest = z.infer<typeof OpenCodePaymentRequestSchema>;

/** `POST /open/v1/refunds`: the HIS asks for a refund of a paid order (whole remainder when amountFen is absent). */
export const OpenRefundRequestSchema = z
  .object({
    orderNo: idText(64),
    hisRefundNo: idText(64),
    amountFen: FenSchema.refine((v) => v > 0, 'must be greater than 0').optional(),
    reason: z.string().min(1).max(80),
    /**
     * Orders with an insurance part (医保): ALL (the default: the insurance part, then the cash part), INSURANCE
     * (the insurance part only, always whole) or CASH (the cash part only; `amountFen` may be part of it).
     * Ignored for self-pay orders.
     */
    part: z.enum(['ALL', 'INSURANCE', 'CASH']).optional(),
  })
  .strict();
export type OpenRefundRequest = z.infer<typeof OpenRefundRequestSchema>;

/** How an amount is split between the insurance funds and the patient's cash (fen). */
export const InsuranceSplitSchema = z.object({
  totalFen: FenSchema,
  fundFen: FenSchema.describe('统筹基金'),
  psnAcctFen: FenSchema.describe('个人账户'),
  otherFen: FenSchema.describe('其他基金'),
  cashFen: FenSchema.describe('个人现金'),
});
export type InsuranceSplitView = z.infer<typeof InsuranceSplitSchema>;

/** The parts of a refund of an order with an insurance part (fen). */
export const InsuranceRefundPartsSchema = z.object({
  fundFen: FenSchema,
  psnAcctFen: FenSchema,
  otherFen: FenSchema,
  cashFen: FenSchema,
});

export const RefundViewSchema = z.object({
  id: z.string(),
  refundNo: z.string(),
  hisRefundNo: z.string().nullable(),
  orderNo: z.string(),
  amountFen: FenSchema,
  status: z.enum(['PENDING', 'PROCESSING', 'SUCCESS', 'FAILED', 'ABNORMAL']),
  /** CHANNEL: back through the payment channel; CASH: paid back in cash at the hospital window. */
  method: z.enum(['CHANNEL', 'CASH']),
  reason: z.string(),
  succeededAt: z.string().nullable(),
  createdAt: z.string(),
  /** A refund of an order's insurance part: the parts returned (the cash part follows as its own refund). */
  insurance: InsuranceRefundPartsSchema.optional(),
});
export type RefundView = z.infer<typeof RefundViewSchema>;

/** What we push to the HIS when a refund succeeded. */
export const HisRefundResultSchema = z.object({
  eventId: z.string(),
  kind: z.literal('refund'),
  orderNo: z.string(),
  refundNo: z.string(),
  hisRefundNo: z.string().nullable(),
  hisBillNos: z.array(z.string()),
  patientId: z.string(),
  amountFen: FenSchema,
  refundedTotalFen: FenSchema,
  channel: z.string(),
  /** CASH: the hospital paid the money back at the window; channelRefundId then carries its receipt number, if any. */
  method: z.enum(['CHANNEL', 'CASH']),
  channelRefundId: z.string(),
  refundedAt: z.string(),
  /** A refund of the insurance part: the parts the insurance platform took back (cashFen: 0). */
  insurance: InsuranceRefundPartsSchema.optional(),
});
export type HisRefundResult = z.infer<typeof HisRefundResultSchema>;

/** What we push to the HIS when an order is paid (reference HIS client). */
export const HisPaymentResultSchema = z.object({
  eventId: z.string(),
  kind: z.literal('payment'),
  orderNo: z.string(),
  hisBillNos: z.array(z.string()),
  patientId: z.string(),
  amountFen: FenSchema,
  channel: z.string(),
  channelTradeNo: z.string(),
  paidAt: z.string(),
  /**
   * An order paid with medical insurance: the split as settled (amountFen = the total; the cash part is what
   * `channel` collected), the platform's pay order and settlement ids, and who settled (nhsa, wxmedins).
   */
  insurance: InsuranceSplitSchema.extend({
    payOrdId: z.string(),
    settlementId: z.string(),
    settleChannel: z.string(),
  }).optional(),
});
export type HisPaymentResult = z.infer<typeof HisPaymentResultSchema>;

/**
 * What we push to the HIS about an inpatient stay (住院): a deposit paid, a discharge settlement's result
 * (refunded, debited, or a bill waiting for the patient), a settlement reversal done. The money itself is
 * also pushed as ordinary `payment` and `refund` results of its orders.
 */
export const HisInpatientResultSchema = z.object({
  eventId: z.string(),
  kind: z.enum(['deposit_paid', 'settlement_result', 'settlement_reversed']),
  /** The order paying the deposit (deposit_paid), else null. */
  orderNo: z.string().nullable(),
  admissionNo: z.string(),
  patientId: z.string(),
  hisDepositNo: z.string().nullable(),
  /** The deposit's amount (deposit_paid). */
  depositFen: FenSchema.nullable(),
  hisSettlementNo: z.string().nullable(),
  settlementVersion: z.number().int().nullable(),
  /** SETTLED / REVERSED, or SETTLING while a bill for the rest waits for the patient. */
  settlementStatus: z.string().nullable(),
  totalCostFen: FenSchema.nullable(),
  refundFen: FenSchema.nullable(),
  extraFen: FenSchema.nullable(),
  /** How the rest was collected: CREDIT (debited), BILL (paid by the patient), PENDING (bill waiting), NONE. */
  extraBy: z.enum(['CREDIT', 'BILL', 'PENDING', 'NONE']).nullable(),
  /** What the platform holds for the stay after this event (paid deposits and extras less refunds). */
  balanceFen: z.number().int(),
  occurredAt: z.string(),
});
export type HisInpatientResult = z.infer<typeof HisInpatientResultSchema>;

/** The JSON body of an error reply whose code is one of `codes` (see {@link ErrorBody}). */
export function errorBodySchema(codes: readonly ErrorCode[]) {
  return z.object({
    error: z.object({
      code: z.enum(codes as [ErrorCode, ...ErrorCode[]]),
      message: z.string(),
      /** The id to quote when asking us about this request. */
      requestId: z.string().optional(),
      /** An order the request did create although it failed (poll it). */
      orderId: z.string().optional(),
    }),
  });
}

/** The JSON body of every error reply: `{ error: { code, message, requestId } }`. */
export const ErrorBodySchema = errorBodySchema(ERROR_CODES);

/** `GET /api/insurance/status`: whether the hospital takes insurance, and the patient's authorisation. */
export const InsuranceStatusSchema = z.object({
  available: z.boolean().describe('the hospital takes medical insurance online'),
  authorized: z.boolean(),
  nameMasked: z.string().nullable(),
  idNoMasked: z.string().nullable(),
  insutype: z.string().nullable(),
  expiresAt: z.string().nullable(),
  /** Who can settle: nhsa (national platform + WeChat Pay for the cash), wxmedins (WeChat insurance pay, mini-program). */
  settleChannels: z.array(z.enum(['nhsa', 'wxmedins'])),
});
export type InsuranceStatus = z.infer<typeof InsuranceStatusSchema>;

/** `POST /api/insurance/quotes`: bill ids only; the server uploads the fee details and returns the split. */
export const InsuranceQuoteRequestSchema = z
  .object({
    billIds: z.array(z.string().min(1).max(64)).min(1).max(50),
    /** How the cash part is paid through WeChat Pay (JSAPI needs a WeChat login). */
    tradeType: z.enum(['JSAPI', 'NATIVE', 'H5']).default('NATIVE'),
    /** Default: wxmedins in the mini-program when the hospital has it (JSAPI), else nhsa. */
    settleChannel: z.enum(['nhsa', 'wxmedins']).optional(),
    /** Use the personal account (个人账户); default true. */
    useAccount: z.boolean().default(true),
  })
  .strict();
export type InsuranceQuoteRequest = z.infer<typeof InsuranceQuoteRequestSchema>;

/** An order with an insurance part, as its patient sees it (quote, then settlement, then the cash part). */
export const InsuranceOrderViewSchema = z.object({
  orderId: z.string(),
  orderNo: z.string(),
  status: z.enum(ORDER_STATUSES),
  /** QUOTED (waiting for the patient), SETTLING, SETTLED, FAILED, REVOKED, REVERSED, REFUNDED… */
  settlementStatus: z.string(),
  settleChannel: z.enum(['nhsa', 'wxmedins']),
  split: InsuranceSplitSchema,
  expiresAt: z.string(),
  /** While the cash part waits (order PAYING): what the WeChat Pay sheet needs (as OrderView.pay). */
  pay: z
    .object({
      codeUrl: z.string().optional(),
      h5Url: z.string().optional(),
      jsapi: z.record(z.string(), z.string()).optional(),
    })
    .nullable(),
  /** wxmedins: the parameters of wx.requestMedicalInsurancePay, while SETTLING. */
  medicalInsurancePay: z.record(z.string(), z.string()).nullable(),
  /** Why the insurance part failed, in the platform's words. */
  error: z.string().nullable(),
});
export type InsuranceOrderView = z.infer<typeof InsuranceOrderViewSchema>;
