import { sql } from 'drizzle-orm';
import { bigint, index, integer, jsonb, pgTable, text, timestamp, uniqueIndex } from 'drizzle-orm/pg-core';

/**
 * Medical insurance (医保): the patient's authorisation with the national platform, the insurance part of an
 * order (the quote, then the settlement, with its split) and the refunds of that part. The cash part of an
 * order is an ordinary payment (payments) and its refunds ordinary refunds (refunds), so reconciliation sees
 * them as it sees every other channel payment. Money is `bigint` fen. Ids: `ins_`, `isa_`, `irf_`.
 */
const fen = (name: string) => bigint(name, { mode: 'number' });
const ts = (name: string) => timestamp(name, { withTimezone: true, mode: 'date' });
const createdAt = () => ts('created_at').notNull().defaultNow();
const updatedAt = () => ts('updated_at').notNull().defaultNow();

/**
 * A patient's authorisation of the hospital to use their medical insurance (医保授权), as the national
 * platform returned it. The payAuthNo and the full ID number are kept only inside `secretEnc` (AES-256-GCM
 * under the secrets key) and only until `expiresAt`; what is shown is masked.
 */
export const insuranceAuthorizations = pgTable(
  'insurance_authorizations',
  {
    id: text('id').primaryKey(),
    hospitalId: text('hospital_id').notNull(),
    patientId: text('patient_id').notNull(),
    /** The national platform's merchant account (channel `nhsa`). */
    platformAccountId: text('platform_account_id').notNull(),
    /** 人员编号 at the platform. */
    psnNo: text('psn_no').notNull(),
    nameMasked: text('name_masked').notNull(),
    idNoMasked: text('id_no_masked').notNull(),
    insutype: text('insutype').notNull(),
    /** `{ payAuthNo, person }`, encrypted. */
    secretEnc: text('secret_enc').notNull(),
    expiresAt: ts('expires_at').notNull(),
    createdAt: createdAt(),
  },
  (t) => [index('insurance_authorizations_patient_idx').on(t.patientId, t.createdAt)],
);

/**
 * The insurance part of an order: one per order. QUOTING → QUOTED (6201 returned the split) → SETTLING →
 * SETTLED; side exits FAILED (nothing taken), REVOKED (the upload was withdrawn, 6401), REVERSING → REVERSED
 * (insurance had settled but the order did not complete: the insurance part was refunded back), and the
 * refund states PARTIALLY_REFUNDED / REFUNDED after the order was paid.
 */
export const insuranceSettlements = pgTable(
  'insurance_settlements',
  {
    id: text('id').primaryKey(),
    orderId: text('order_id').notNull(),
    hospitalId: text('hospital_id').notNull(),
    patientId: text('patient_id').notNull(),
    authorizationId: text('authorization_id').notNull(),
    /** The national platform's account (uploads, revocations, refunds of the insurance part). */
    platformAccountId: text('platform_account_id').notNull(),
    /** Who settles: `nhsa` (6202, the cash part by our own WeChat Pay payment) or `wxmedins` (WeChat's mixed order). */
    settleChannel: text('settle_channel').notNull(),
    settleAccountId: text('settle_account_id').notNull(),
    status: text('status').notNull(),
    payOrdId: text('pay_ord_id'),
    /** `{ payToken }`, encrypted. */
    secretEnc: text('secret_enc'),
    /** The platform's settlement id (setl_id), or WeChat's med_trans_id. */
    settlementId: text('settlement_id'),
    mixTradeNo: text('mix_trade_no'),
    totalFen: fen('total_fen').notNull(),
    fundFen: fen('fund_fen').notNull().default(0),
    psnAcctFen: fen('psn_acct_fen').notNull().default(0),
    otherFen: fen('other_fen').notNull().default(0),
    cashFen: fen('cash_fen').notNull().default(0),
    /** Insurance refunded so far, by part. */
    refundedFundFen: fen('refunded_fund_fen').notNull().default(0),
    refundedPsnAcctFen: fen('refunded_psn_acct_fen').notNull().default(0),
    refundedOtherFen: fen('refunded_other_fen').notNull().default(0),
    /** WeChat's mixed order: what the client hands to requestMedicalInsurancePay. */
    clientParams: jsonb('client_params').$type<Record<string, string>>(),
    /** The platform's own view of the quote (settlement-level fields), kept as evidence. */
    quoteData: jsonb('quote_data').$type<Record<string, unknown>>().notNull().default({}),
    /** The number of sync-job runs, for its backoff and its give-up alert. */
    syncAttempts: integer('sync_attempts').notNull().default(0),
    errorCode: text('error_code'),
    errorMessage: text('error_message'),
    settledAt: ts('settled_at'),
    createdAt: createdAt(),
    updatedAt: updatedAt(),
  },
  (t) => [
    uniqueIndex('insurance_settlements_order_uq').on(t.orderId),
    index('insurance_settlements_status_idx').on(t.status, t.updatedAt),
    index('insurance_settlements_pay_ord_idx').on(t.payOrdId),
  ],
);

/**
 * A refund of the insurance part (6203), after the order was paid (`kind` HI or the insurance half of ALL),
 * or as a repair (`repair` set) when insurance settled but the order never completed. The cash half of an
 * ALL refund is an ordinary refund (refunds) started when this one succeeds, named in `cashRefundId`.
 */
export const insuranceRefunds = pgTable(
  'insurance_refunds',
  {
    id: text('id').primaryKey(),
    /** appRefdSn at the platform. */
    refundNo: text('refund_no').notNull(),
    hospitalId: text('hospital_id').notNull(),
    orderId: text('order_id').notNull(),
    settlementId: text('settlement_id').notNull(),
    /** ALL (insurance, then the cash remainder), HI (insurance only). */
    kind: text('kind').notNull(),
    fundFen: fen('fund_fen').notNull(),
    psnAcctFen: fen('psn_acct_fen').notNull(),
    otherFen: fen('other_fen').notNull(),
    /** ALL: the cash part to refund after the insurance part. */
    cashFen: fen('cash_fen').notNull().default(0),
    cashRefundId: text('cash_refund_id'),
    /** PENDING → SUCCESS | FAILED. */
    status: text('status').notNull().default('PENDING'),
    /** Set on repairs: why the insurance part is given back although the order was never paid. */
    repair: text('repair'),
    reason: text('reason').notNull(),
    requestedBy: text('requested_by').notNull(),
    hisRefundNo: text('his_refund_no'),
    platformRefundId: text('platform_refund_id'),
    attempts: integer('attempts').notNull().default(0),
    errorCode: text('error_code'),
    errorMessage: text('error_message'),
    succeededAt: ts('succeeded_at'),
    createdAt: createdAt(),
    updatedAt: updatedAt(),
  },
  (t) => [
    uniqueIndex('insurance_refunds_no_uq').on(t.refundNo),
    uniqueIndex('insurance_refunds_his_no_uq').on(t.hospitalId, t.hisRefundNo),
    index('insurance_refunds_order_idx').on(t.orderId),
    uniqueIndex('insurance_refunds_one_in_flight_uq')
      .on(t.settlementId)
      .where(sql`status = 'PENDING'`),
  ],
);
