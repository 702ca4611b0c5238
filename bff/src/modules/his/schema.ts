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
