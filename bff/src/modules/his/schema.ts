import { CARD_TYPES, FenSchema, INVOICE_CONTENT_TYPES, OpenBillSchema } from '@hp/shared';
import { z } from 'zod';

/**
 * What the reference HIS protocol answers (README "For HIS vendors"). Every reply is JSON with `code`: "0"
 * for success, else an error code (NOT_FOUND, NAME_MISMATCH, …) and a `message`. Replies are parsed here
 * before anything of them is used; unknown extra fields are ignored.
 */

const text = (max: number) => z.string().min(1).max(max);

/** `GET /his/v1/patients/{patientId}/pending-bills`: the same bill shape (and limits) as a push. */
export const PendingBillsReplySchema = z.object({
  bills: z.array(OpenBillSchema).max(200),
});

/** `POST /his/v1/patients/lookup`. */
export const LookupReplySchema = z.object({
  patient: z.object({
    patientId: z
      .string()
      .min(1)
      .max(64)
      .regex(/^[0-9A-Za-z_\-.]+$/),
    name: text(50),
    cardType: z.enum(CARD_TYPES),
  }),
});

/** `GET /his/v1/prescriptions/{hisBillNo}`. */
export const PrescriptionReplySchema = z.object({
  prescription: z
    .object({
      hisBillNo: text(64),
      patientId: text(64),
      visitNo: text(64).nullish(),
      department: z.string().max(50).nullish(),
      doctor: z.string().max(50).nullish(),
      diagnosis: z.string().max(200).nullish(),
      prescribedAt: z.iso.datetime({ offset: true }).nullish(),
      amountFen: FenSchema,
      items: z
        .array(
          z.object({
            name: text(100),
            spec: z.string().max(100).nullish(),
            quantity: z.number().positive().max(1_000_000),
            unit: z.string().max(20).nullish(),
            unitPriceFen: FenSchema,
            amountFen: FenSchema,
            department: z.string().max(50).nullish(),
          }),
        )
        .max(500),
    })
    .refine((p) => p.items.reduce((s, i) => s + i.amountFen, 0) === p.amountFen, {
      message: 'items must add up to amountFen',
      path: ['items'],
    }),
});

/** `GET /his/v1/invoices?orderNo=…`: every e-invoice of the order, with its file (base64). */
export const InvoicesReplySchema = z.object({
  invoices: z
    .array(
      z.object({
        invoiceCode: z
          .string()
          .min(1)
          .max(32)
          .regex(/^[0-9A-Za-z]+$/),
        invoiceNo: z
          .string()
          .min(1)
          .max(32)
          .regex(/^[0-9A-Za-z]+$/),
        amountFen: FenSchema,
        issuedAt: z.iso.datetime({ offset: true }),
        contentType: z.enum(INVOICE_CONTENT_TYPES),
        fileBase64: z.base64().max(14_000_000),
      }),
    )
    .max(50),
});

/** At most this many records in one pulled ledger (the open API's push limit). */
const MAX_PULLED_LEDGER_RECORDS = 200_000;

const amountSum = z.object({
  count: z.number().int().nonnegative(),
  amountFen: z.number().int().nonnegative(),
});

/**
 * `GET /his/v1/ledger?date=YYYY-MM-DD`: the HIS's daily ledger (收费日结明细) — every record it booked that
 * Beijing day, platform results and its own offline takings — with its totals, which must add up.
 */
export const LedgerReplySchema = z
  .object({
    date: z.string().regex(/^\d{4}-\d{2}-\d{2}$/),
    records: z
      .array(
        z.object({
          kind: z.enum(['payment', 'refund']),
          /** platform: a result we pushed; offline: money the HIS took itself. */
          source: z.enum(['platform', 'offline']),
          channel: text(32),
          orderNo: text(64).nullish(),
          refundNo: text(64).nullish(),
          receiptNo: text(64).nullish(),
          hisBillNos: z.array(text(64)).max(500).optional(),
          amountFen: FenSchema.refine((n) => n > 0, 'must be positive'),
          time: z.iso.datetime({ offset: true }),
          occurredAt: z.iso.datetime({ offset: true }).nullish(),
          terminalId: text(16).nullish(),
          terminalRef: text(64).nullish(),
        }),
      )
      .max(MAX_PULLED_LEDGER_RECORDS),
    totals: z.object({ payments: amountSum, refunds: amountSum }),
  })
  .superRefine((l, ctx) => {
    for (const [key, kind] of [
      ['payments', 'payment'],
      ['refunds', 'refund'],
    ] as const) {
      const of = l.records.filter((r) => r.kind === kind);
      const fen = of.reduce((a, r) => a + r.amountFen, 0);
      if (of.length !== l.totals[key].count || fen !== l.totals[key].amountFen)
        ctx.addIssue({
          code: 'custom',
          path: ['totals', key],
          message: `the totals (${l.totals[key].count}, ${l.totals[key].amountFen}) do not add up to the records (${of.length}, ${fen})`,
        });
    }
  });
