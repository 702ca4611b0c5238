import { sql } from 'drizzle-orm';
import {
  bigint,
  boolean,
  index,
  integer,
  jsonb,
  pgTable,
  text,
  timestamp,
  uniqueIndex,
} from 'drizzle-orm/pg-core';

/**
 * Credit pay after treatment (信用就医), inpatient deposits and settlements, and patient messages.
 * Money is `bigint` fen. Ids are prefixed (`cag_`, `cfm_`, `cdb_`, `adm_`, `dep_`, `stl_`, `msg_`, `msd_`).
 */
const fen = (name: string) => bigint(name, { mode: 'number' });
const ts = (name: string) => timestamp(name, { withTimezone: true, mode: 'date' });
const createdAt = () => ts('created_at').notNull().defaultNow();
const updatedAt = () => ts('updated_at').notNull().defaultNow();

/**
 * A patient's credit-pay agreement (签约) with the bank behind a hospital's credit merchant account.
 * SIGNING: the patient was sent to the bank's signing page; SIGNED: the bank confirmed (agreement no, limit);
 * UNSIGNED: ended by the patient or the bank; FAILED: the patient cancelled or the bank refused.
 * At most one SIGNED agreement per patient and account.
 */
export const creditAgreements = pgTable(
  'credit_agreements',
  {
    id: text('id').primaryKey(),
    hospitalId: text('hospital_id').notNull(),
    patientId: text('patient_id').notNull(),
    merchantAccountId: text('merchant_account_id').notNull(),
    /** Our number for the signing request, sent to the bank (unique). */
    signRequestNo: text('sign_request_no').notNull(),
    /** The bank's agreement number, once signed. */
    agreementNo: text('agreement_no'),
    status: text('status').notNull(),
    /** The credit limit and what is left of it, as the bank last said. */
    limitFen: fen('limit_fen').notNull().default(0),
    availableFen: fen('available_fen').notNull().default(0),
    /** Whether bills pushed for this patient (and authorised relatives) are debited without asking. */
    autoPay: boolean('auto_pay').notNull().default(true),
    /** Where the bank's signing page sends the patient back (the H5 page). */
    returnUrl: text('return_url').notNull(),
    signedAt: ts('signed_at'),
    unsignedAt: ts('unsigned_at'),
    statusCheckedAt: ts('status_checked_at'),
    createdAt: createdAt(),
    updatedAt: updatedAt(),
  },
  (t) => [
    uniqueIndex('credit_agreements_request_uq').on(t.signRequestNo),
    uniqueIndex('credit_agreements_signed_uq')
      .on(t.patientId, t.merchantAccountId)
      .where(sql`${t.status} = 'SIGNED'`),
    index('credit_agreements_patient_idx').on(t.patientId),
  ],
);

/** A relative the signer lets debit on their agreement (family pay). ACTIVE or REVOKED. */
export const creditFamilyMembers = pgTable(
  'credit_family_members',
  {
    id: text('id').primaryKey(),
    hospitalId: text('hospital_id').notNull(),
    agreementId: text('agreement_id').notNull(),
    signerPatientId: text('signer_patient_id').notNull(),
    relativePatientId: text('relative_patient_id').notNull(),
    relation: text('relation').notNull(),
    status: text('status').notNull().default('ACTIVE'),
    createdAt: createdAt(),
    revokedAt: ts('revoked_at'),
  },
  (t) => [
    uniqueIndex('credit_family_active_uq')
      .on(t.agreementId, t.relativePatientId)
      .where(sql`${t.status} = 'ACTIVE'`),
    index('credit_family_relative_idx').on(t.relativePatientId),
  ],
);

/**
 * One automatic debit attempt for one bill version (无感支付). PENDING (queued) → DEBITING (order made,
 * bank asked) → SUCCESS; or SKIPPED (not signed, auto-pay off), OVER_LIMIT, DECLINED, FAILED: the bill stays
 * payable by other channels and the patient gets a message.
 */
export const creditDebits = pgTable(
  'credit_debits',
  {
    id: text('id').primaryKey(),
    hospitalId: text('hospital_id').notNull(),
    billId: text('bill_id').notNull(),
    billVersion: integer('bill_version').notNull(),
    /** The bill's patient, and whose agreement pays (the same, or the signer of a relative's bill). */
    patientId: text('patient_id').notNull(),
    payerPatientId: text('payer_patient_id'),
    agreementId: text('agreement_id'),
    orderId: text('order_id'),
    amountFen: fen('amount_fen').notNull(),
    status: text('status').notNull(),
    reason: text('reason'),
    createdAt: createdAt(),
    updatedAt: updatedAt(),
  },
  (t) => [
    uniqueIndex('credit_debits_bill_version_uq').on(t.billId, t.billVersion),
    index('credit_debits_order_idx').on(t.orderId),
  ],
);

/** An inpatient stay the HIS told us about (入院). ADMITTED → SETTLED (discharge settled); reversal → ADMITTED. */
export const inpatientAdmissions = pgTable(
  'inpatient_admissions',
  {
    id: text('id').primaryKey(),
    hospitalId: text('hospital_id').notNull(),
    patientId: text('patient_id').notNull(),
    admissionNo: text('admission_no').notNull(),
    department: text('department'),
    ward: text('ward'),
    status: text('status').notNull(),
    admittedAt: ts('admitted_at').notNull(),
    createdAt: createdAt(),
    updatedAt: updatedAt(),
  },
  (t) => [uniqueIndex('inpatient_admissions_no_uq').on(t.hospitalId, t.admissionNo)],
);

/**
 * A deposit (押金) or top-up of a stay: a bill the patient pays with any channel (or the credit channel).
 * `paidOrderId` is the order that paid it; `refundedFen` what settlements gave back of it.
 */
export const inpatientDeposits = pgTable(
  'inpatient_deposits',
  {
    id: text('id').primaryKey(),
    hospitalId: text('hospital_id').notNull(),
    admissionId: text('admission_id').notNull(),
    hisDepositNo: text('his_deposit_no').notNull(),
    billId: text('bill_id').notNull(),
    amountFen: fen('amount_fen').notNull(),
    paidOrderId: text('paid_order_id'),
    refundedFen: fen('refunded_fen').notNull().default(0),
    createdAt: createdAt(),
    updatedAt: updatedAt(),
  },
  (t) => [
    uniqueIndex('inpatient_deposits_no_uq').on(t.hospitalId, t.hisDepositNo),
    index('inpatient_deposits_admission_idx').on(t.admissionId),
  ],
);

/**
 * A discharge settlement (出院结算), versioned per stay: cost vs paid deposits → refund the difference or
 * collect the rest (credit debit, or a payable bill). SETTLING → SETTLED; REVERSED when the hospital undoes it
 * (出院结算撤销), after which a new version may be made.
 */
export const inpatientSettlements = pgTable(
  'inpatient_settlements',
  {
    id: text('id').primaryKey(),
    hospitalId: text('hospital_id').notNull(),
    admissionId: text('admission_id').notNull(),
    hisSettlementNo: text('his_settlement_no').notNull(),
    version: integer('version').notNull(),
    totalCostFen: fen('total_cost_fen').notNull(),
    depositsFen: fen('deposits_fen').notNull(),
    refundFen: fen('refund_fen').notNull().default(0),
    extraFen: fen('extra_fen').notNull().default(0),
    /** The bill (and order) collecting the rest, when the cost exceeds the deposits. */
    extraBillId: text('extra_bill_id'),
    status: text('status').notNull(),
    /** Per deposit/order: what was refunded (`[{ orderId, refundId, amountFen }]`). */
    moves: jsonb('moves').notNull().default([]),
    reversalReason: text('reversal_reason'),
    reversedAt: ts('reversed_at'),
    createdAt: createdAt(),
    updatedAt: updatedAt(),
  },
  (t) => [
    uniqueIndex('inpatient_settlements_version_uq').on(t.admissionId, t.version),
    uniqueIndex('inpatient_settlements_no_uq').on(t.hospitalId, t.hisSettlementNo),
  ],
);

/**
 * A message to a patient (payment succeeded, refund done, credit debit failed, bill waiting…), recorded in
 * the same transaction as the event it reports; the client lists it and the admin can see it.
 */
export const patientMessages = pgTable(
  'patient_messages',
  {
    id: text('id').primaryKey(),
    hospitalId: text('hospital_id').notNull(),
    patientId: text('patient_id').notNull(),
    kind: text('kind').notNull(),
    title: text('title').notNull(),
    body: text('body').notNull(),
    /** What it is about: `{ billId?, orderId?, refundId?, debitId? }`. */
    refs: jsonb('refs').notNull().default({}),
    readAt: ts('read_at'),
    createdAt: createdAt(),
  },
  (t) => [
    index('patient_messages_patient_idx').on(t.patientId, t.createdAt),
    index('patient_messages_hospital_idx').on(t.hospitalId, t.createdAt),
  ],
);

/** One delivery of a message outside the platform (WeChat subscription message): PENDING → SENT / FAILED / SKIPPED. */
export const messageSends = pgTable(
  'message_sends',
  {
    id: text('id').primaryKey(),
    messageId: text('message_id').notNull(),
    hospitalId: text('hospital_id').notNull(),
    channel: text('channel').notNull(),
    status: text('status').notNull(),
    attempts: integer('attempts').notNull().default(0),
    lastError: text('last_error'),
    sentAt: ts('sent_at'),
    createdAt: createdAt(),
    updatedAt: updatedAt(),
  },
  (t) => [uniqueIndex('message_sends_message_channel_uq').on(t.messageId, t.channel)],
);
