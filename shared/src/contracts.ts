import { z } from 'zod';
import { BILL_STATUSES, CHANNELS, ORDER_STATUSES, TRADE_TYPES } from './statuses';

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
  /** Native: the QR content to show; JSAPI: client parameters come with the client issue. */
  codeUrl: z.string().nullable(),
});
export type OrderView = z.infer<typeof OrderViewSchema>;

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
  })
  .strict();
export type OpenRefundRequest = z.infer<typeof OpenRefundRequestSchema>;

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
});
export type HisPaymentResult = z.infer<typeof HisPaymentResultSchema>;
