import { CreateOrderRequestSchema } from '@hp/shared';
import { z } from 'zod';

/**
 * The inpatient contracts (住院押金、出院结算): what the HIS sends on the open API and what both APIs answer.
 * Amounts are integer fen; the HIS states them (the hospital's side of the money), a patient never does.
 */
const hisNo = (max: number) =>
  z
    .string()
    .min(1)
    .max(max)
    .regex(/^[0-9A-Za-z_\-.]+$/, 'letters, digits, _ - . only');
const fen = z.number().int().nonnegative().max(10_000_000_000);
const positiveFen = z.number().int().positive().max(10_000_000_000);

/** `POST /open/v1/admissions`: the admission notice (入院). */
export const AdmissionRequestSchema = z
  .object({
    admissionNo: hisNo(40).describe('the HIS inpatient number (住院号)'),
    patientId: hisNo(64).describe('the HIS patient id'),
    patientName: z.string().trim().min(1).max(50),
    department: z.string().max(60).optional(),
    ward: z.string().max(60).optional(),
    admittedAt: z.iso.datetime({ offset: true }).describe('ISO 8601 with offset'),
  })
  .strict();
export type AdmissionInput = z.infer<typeof AdmissionRequestSchema>;

/** `POST /open/v1/admissions/{admissionNo}/deposits`: a deposit (押金) or a top-up the patient is to pay. */
export const DepositRequestSchema = z
  .object({
    hisDepositNo: hisNo(40).describe('the HIS deposit number; the same number returns the same deposit'),
    amountFen: positiveFen.describe('the deposit asked for, fen'),
  })
  .strict();
export type DepositInput = z.infer<typeof DepositRequestSchema>;

/** `POST /open/v1/admissions/{admissionNo}/settlements`: discharge settlement (出院结算). */
export const SettlementRequestSchema = z
  .object({
    hisSettlementNo: hisNo(40).describe(
      'the HIS settlement number; the same number returns the same settlement. A corrected settlement ' +
        'after a reversal takes a new number (it becomes the next version)',
    ),
    totalCostFen: fen.describe('the stay’s total self-pay cost, fen'),
  })
  .strict();
export type SettlementInput = z.infer<typeof SettlementRequestSchema>;

/** `POST /open/v1/settlements/{hisSettlementNo}/reversal`: settlement reversal (出院结算撤销). */
export const SettlementReversalRequestSchema = z
  .object({ reason: z.string().trim().min(1).max(200) })
  .strict();

/** `POST /api/inpatient/deposits/{id}/orders`: pay a deposit (any channel the hospital offers). */
export const PayDepositRequestSchema = CreateOrderRequestSchema.omit({ billIds: true });

export const DepositViewSchema = z.object({
  id: z.string(),
  hisDepositNo: z.string(),
  billId: z.string().describe('the bill the patient pays (POST /api/orders works with it too)'),
  amountFen: fen,
  status: z.enum(['UNPAID', 'PAID', 'CANCELLED']),
  paying: z.boolean().describe('an order is paying it now'),
  orderNo: z.string().nullable(),
  channel: z.string().nullable(),
  paidAt: z.string().nullable(),
  refundedFen: fen.describe('what settlements refunded of it'),
  createdAt: z.string(),
});

export const SettlementViewSchema = z.object({
  hisSettlementNo: z.string(),
  admissionNo: z.string(),
  version: z.number().int(),
  status: z.enum(['SETTLING', 'SETTLED', 'REVERSED']),
  totalCostFen: fen,
  depositsFen: fen.describe('what the platform held when it was made'),
  refundFen: fen.describe('the difference refunded (deposits above the cost)'),
  extraFen: fen.describe('the rest collected (cost above the deposits)'),
  refunds: z.array(
    z.object({
      orderNo: z.string(),
      hisRefundNo: z.string(),
      refundNo: z.string().nullable(),
      amountFen: fen,
      status: z.string().describe('NOT_STARTED, PENDING, PROCESSING, SUCCESS, FAILED, ABNORMAL'),
    }),
  ),
  extraBill: z
    .object({
      billId: z.string(),
      status: z.enum(['UNPAID', 'PAID', 'CANCELLED']),
      orderNo: z.string().nullable(),
      channel: z.string().nullable().describe('credit: debited through credit pay'),
    })
    .nullable(),
  reversalReason: z.string().nullable(),
  reversedAt: z.string().nullable(),
  createdAt: z.string(),
});

export const AdmissionViewSchema = z.object({
  admissionNo: z.string(),
  patientId: z.string().describe('the HIS patient id'),
  department: z.string().nullable(),
  ward: z.string().nullable(),
  status: z.enum(['ADMITTED', 'SETTLED']),
  admittedAt: z.string(),
  balanceFen: z.number().int().describe('held for the stay: paid deposits and extras less refunds, fen'),
  deposits: z.array(DepositViewSchema),
  payments: z.array(
    z.object({
      orderNo: z.string(),
      kind: z.enum(['DEPOSIT', 'SETTLEMENT_EXTRA']),
      channel: z.string(),
      status: z.string(),
      amountFen: fen,
      refundedFen: fen,
      paidAt: z.string().nullable(),
    }),
  ),
  settlements: z.array(SettlementViewSchema).describe('newest version first'),
});

export const AdmissionListSchema = z.object({ admissions: z.array(AdmissionViewSchema) });
