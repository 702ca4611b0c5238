import { sql } from 'drizzle-orm';
import {
  bigint,
  bigserial,
  boolean,
  index,
  integer,
  jsonb,
  pgTable,
  primaryKey,
  text,
  timestamp,
  uniqueIndex,
} from 'drizzle-orm/pg-core';

/**
 * Tables of the walking skeleton. Every business row belongs to a hospital. Money is `bigint` fen,
 * read as JS numbers (all amounts are far below 2^53). Later issues add tables by new migrations
 * (`npm run db:generate -- --name description`); migrations already landed are never edited.
 */
const fen = (name: string) => bigint(name, { mode: 'number' });
const ts = (name: string) => timestamp(name, { withTimezone: true, mode: 'date' });
const createdAt = () => ts('created_at').notNull().defaultNow();
const updatedAt = () => ts('updated_at').notNull().defaultNow();

/** A hospital or campus: its own merchant accounts, HIS and settings. */
export const hospitals = pgTable('hospitals', {
  id: text('id').primaryKey(),
  code: text('code').notNull().unique(),
  name: text('name').notNull(),
  /** Hospital-wide policies, e.g. `reconAutoRefund` (off by default) and the MISPOS acquirer's statement. */
  settings: jsonb('settings').$type<Record<string, unknown>>().notNull().default({}),
  createdAt: createdAt(),
});

/**
 * A channel merchant account of a hospital (direct merchant, or sub-merchant under a service provider).
 * Non-secret settings in `settings`; keys in `secretsEnc`, AES-256-GCM under the secrets key.
 */
export const merchantAccounts = pgTable(
  'merchant_accounts',
  {
    id: text('id').primaryKey(),
    hospitalId: text('hospital_id')
      .notNull()
      .references(() => hospitals.id),
    channel: text('channel').notNull(),
    mchId: text('mch_id').notNull(),
    appId: text('app_id').notNull(),
    settings: jsonb('settings').$type<Record<string, unknown>>().notNull().default({}),
    secretsEnc: text('secrets_enc').notNull(),
    enabled: boolean('enabled').notNull().default(true),
    createdAt: createdAt(),
  },
  (t) => [uniqueIndex('merchant_accounts_hospital_channel_uq').on(t.hospitalId, t.channel)],
);

/** An application of a hospital's HIS that calls our open API and receives our result pushes. */
export const hisApps = pgTable('his_apps', {
  appId: text('app_id').primaryKey(),
  hospitalId: text('hospital_id')
    .notNull()
    .references(() => hospitals.id),
  name: text('name').notNull(),
  secretEnc: text('secret_enc').notNull(),
  /**
   * Where the reference HIS client calls the HIS: result pushes, and pending bills, patient lookup,
   * prescriptions and invoices. Null when the HIS pulls only.
   */
  callbackBaseUrl: text('callback_base_url'),
  /**
   * `push`: the HIS pushes bills through the open API. `pull`: the HIS does not push; the patient's bill
   * list asks it for the patient's pending bills first and stores them as if pushed.
   */
  billMode: text('bill_mode').notNull().default('push'),
  enabled: boolean('enabled').notNull().default(true),
  createdAt: createdAt(),
});

/**
 * Idempotency-Key records: the first request with a key stores its response; a repeat with the same body gets
 * that response again, a repeat with another body is refused. Kept a day.
 */
export const idempotencyKeys = pgTable(
  'idempotency_keys',
  {
    /** Whose key: `patient:<id>` or `his:<appId>` — keys of different callers never collide. */
    scope: text('scope').notNull(),
    key: text('key').notNull(),
    requestHash: text('request_hash').notNull(),
    /** IN_PROGRESS until the first request finishes, then DONE. */
    status: text('status').notNull(),
    responseStatus: integer('response_status'),
    responseBody: jsonb('response_body').$type<unknown>(),
    createdAt: createdAt(),
  },
  (t) => [primaryKey({ columns: [t.scope, t.key] }), index('idempotency_keys_created_idx').on(t.createdAt)],
);

/** Nonces seen on signed open-API calls, so a replay within the window is refused by every process. */
export const openApiNonces = pgTable(
  'open_api_nonces',
  {
    appId: text('app_id').notNull(),
    nonce: text('nonce').notNull(),
    createdAt: createdAt(),
  },
  (t) => [primaryKey({ columns: [t.appId, t.nonce] }), index('open_api_nonces_created_idx').on(t.createdAt)],
);

/** A patient as the HIS knows them; the sandbox login and the client bind to it. */
export const patients = pgTable(
  'patients',
  {
    id: text('id').primaryKey(),
    hospitalId: text('hospital_id')
      .notNull()
      .references(() => hospitals.id),
    hisPatientId: text('his_patient_id').notNull(),
    name: text('name').notNull(),
    createdAt: createdAt(),
    updatedAt: updatedAt(),
  },
  (t) => [uniqueIndex('patients_hospital_his_uq').on(t.hospitalId, t.hisPatientId)],
);

/**
 * Who holds a patient session. Today the sandbox login (`provider` sandbox, `subject`
 * `<hospitalId>:<hisPatientId>`); WeChat login adds `wechat` with `<appId>:<openid>`. An account holds any
 * number of cards (patient_cards): the holder's own and family members'.
 */
export const patientAccounts = pgTable(
  'patient_accounts',
  {
    id: text('id').primaryKey(),
    provider: text('provider').notNull(),
    subject: text('subject').notNull(),
    createdAt: createdAt(),
  },
  (t) => [uniqueIndex('patient_accounts_provider_subject_uq').on(t.provider, t.subject)],
);

/**
 * A hospital patient bound to an account after the HIS matched card (or ID) number and name. The same
 * patient may be bound to several accounts (family), but to one account only once. The full card or ID
 * number is never stored: only its masked form, to show.
 */
export const patientCards = pgTable(
  'patient_cards',
  {
    id: text('id').primaryKey(),
    accountId: text('account_id')
      .notNull()
      .references(() => patientAccounts.id),
    hospitalId: text('hospital_id')
      .notNull()
      .references(() => hospitals.id),
    patientId: text('patient_id')
      .notNull()
      .references(() => patients.id),
    /** HOSPITAL_CARD, MEDICARE_CARD or ID_CARD. */
    cardType: text('card_type').notNull(),
    cardNoMasked: text('card_no_masked').notNull(),
    createdAt: createdAt(),
  },
  (t) => [
    uniqueIndex('patient_cards_account_patient_uq').on(t.accountId, t.patientId),
    index('patient_cards_patient_idx').on(t.patientId),
  ],
);

/** What the HIS says a patient owes. `lockedOrderId` is set while a live order holds the bill. */
export const bills = pgTable(
  'bills',
  {
    id: text('id').primaryKey(),
    hospitalId: text('hospital_id')
      .notNull()
      .references(() => hospitals.id),
    hisBillNo: text('his_bill_no').notNull(),
    patientId: text('patient_id')
      .notNull()
      .references(() => patients.id),
    visitNo: text('visit_no'),
    department: text('department'),
    doctor: text('doctor'),
    title: text('title').notNull(),
    amountFen: fen('amount_fen').notNull(),
    items: jsonb('items').$type<unknown[]>().notNull().default([]),
    status: text('status').notNull().default('UNPAID'),
    version: integer('version').notNull().default(1),
    lockedOrderId: text('locked_order_id'),
    paidOrderId: text('paid_order_id'),
    createdAt: createdAt(),
    updatedAt: updatedAt(),
  },
  (t) => [
    uniqueIndex('bills_hospital_his_no_uq').on(t.hospitalId, t.hisBillNo),
    index('bills_patient_status_idx').on(t.patientId, t.status),
  ],
);

/** One attempt to pay one or more bills. `orderNo` is the out_trade_no channels see. */
export const orders = pgTable(
  'orders',
  {
    id: text('id').primaryKey(),
    orderNo: text('order_no').notNull().unique(),
    hospitalId: text('hospital_id')
      .notNull()
      .references(() => hospitals.id),
    patientId: text('patient_id')
      .notNull()
      .references(() => patients.id),
    status: text('status').notNull(),
    amountFen: fen('amount_fen').notNull(),
    channel: text('channel').notNull(),
    tradeType: text('trade_type').notNull(),
    merchantAccountId: text('merchant_account_id')
      .notNull()
      .references(() => merchantAccounts.id),
    expiresAt: ts('expires_at').notNull(),
    paidAt: ts('paid_at'),
    settledAt: ts('settled_at'),
    closedAt: ts('closed_at'),
    hisSyncStatus: text('his_sync_status').notNull().default('NONE'),
    /** Sum of successful refunds. */
    refundedFen: fen('refunded_fen').notNull().default(0),
    /** Set when the HIS never acknowledged a paid order: a one-sided entry (单边账) to resolve. */
    oneSided: boolean('one_sided').notNull().default(false),
    createdAt: createdAt(),
    updatedAt: updatedAt(),
  },
  (t) => [
    index('orders_status_created_idx').on(t.status, t.createdAt),
    index('orders_patient_idx').on(t.patientId, t.createdAt),
    index('orders_hospital_created_idx').on(t.hospitalId, t.createdAt),
  ],
);

/** The bills an order pays, with the amount each contributed when the order was made. */
export const orderBills = pgTable(
  'order_bills',
  {
    orderId: text('order_id')
      .notNull()
      .references(() => orders.id),
    billId: text('bill_id')
      .notNull()
      .references(() => bills.id),
    billVersion: integer('bill_version').notNull(),
    amountFen: fen('amount_fen').notNull(),
  },
  (t) => [primaryKey({ columns: [t.orderId, t.billId] }), index('order_bills_bill_idx').on(t.billId)],
);

/** Every state change of an order: who, what, why, from, to. Append-only. */
export const orderEvents = pgTable(
  'order_events',
  {
    id: bigserial('id', { mode: 'number' }).primaryKey(),
    orderId: text('order_id')
      .notNull()
      .references(() => orders.id),
    hospitalId: text('hospital_id').notNull(),
    event: text('event').notNull(),
    fromStatus: text('from_status'),
    toStatus: text('to_status').notNull(),
    actor: text('actor').notNull(),
    reason: text('reason'),
    data: jsonb('data').$type<Record<string, unknown>>().notNull().default({}),
    createdAt: createdAt(),
  },
  (t) => [index('order_events_order_idx').on(t.orderId, t.id)],
);

/** The channel-side record of one order part (here: the whole self-pay amount). */
export const payments = pgTable(
  'payments',
  {
    id: text('id').primaryKey(),
    orderId: text('order_id')
      .notNull()
      .references(() => orders.id),
    hospitalId: text('hospital_id').notNull(),
    channel: text('channel').notNull(),
    tradeType: text('trade_type').notNull(),
    outTradeNo: text('out_trade_no').notNull().unique(),
    amountFen: fen('amount_fen').notNull(),
    status: text('status').notNull().default('PENDING'),
    channelTradeNo: text('channel_trade_no'),
    /** What the client needs to pay (code_url, JSAPI parameters…); never secret. */
    prepay: jsonb('prepay').$type<Record<string, unknown>>(),
    paidAt: ts('paid_at'),
    createdAt: createdAt(),
    updatedAt: updatedAt(),
  },
  (t) => [
    index('payments_order_idx').on(t.orderId),
    // Statements, comments and reconciliation find payments by the channel's transaction number.
    index('payments_channel_trade_no_idx').on(t.channelTradeNo),
    // Reconciliation reads a hospital's payments of one day.
    index('payments_hospital_paid_at_idx').on(t.hospitalId, t.paidAt),
  ],
);

/**
 * A refund of all or part of a payment. At most one refund per payment is in flight (PENDING or PROCESSING),
 * enforced by a partial unique index; the refunded sum never exceeds the paid sum (checked under the
 * order's row lock).
 */
export const refunds = pgTable(
  'refunds',
  {
    id: text('id').primaryKey(),
    /** out_refund_no at the channel. */
    refundNo: text('refund_no').notNull().unique(),
    hospitalId: text('hospital_id').notNull(),
    orderId: text('order_id')
      .notNull()
      .references(() => orders.id),
    paymentId: text('payment_id')
      .notNull()
      .references(() => payments.id),
    amountFen: fen('amount_fen').notNull(),
    status: text('status').notNull().default('PENDING'),
    reason: text('reason').notNull(),
    /** Who asked: `his:<appId>`, `admin:<userId>`, `system`. */
    requestedBy: text('requested_by').notNull(),
    /** CHANNEL: money goes back through the payment channel. CASH: paid back at the hospital window (manual). */
    method: text('method').notNull().default('CHANNEL'),
    /** The HIS's own refund number: a repeated request with it returns the same refund. */
    hisRefundNo: text('his_refund_no'),
    channelRefundId: text('channel_refund_id'),
    errorCode: text('error_code'),
    errorMessage: text('error_message'),
    succeededAt: ts('succeeded_at'),
    createdAt: createdAt(),
    updatedAt: updatedAt(),
  },
  (t) => [
    index('refunds_order_idx').on(t.orderId),
    index('refunds_hospital_succeeded_at_idx').on(t.hospitalId, t.succeededAt),
    uniqueIndex('refunds_hospital_his_no_uq').on(t.hospitalId, t.hisRefundNo),
    uniqueIndex('refunds_one_in_flight_uq')
      .on(t.paymentId)
      .where(sql`status IN ('PENDING', 'PROCESSING')`),
  ],
);

/**
 * Every inbound channel notification, raw body kept, keyed by the channel's own notification id so a
 * duplicate is a no-op. `outcome`: applied, duplicate, ignored, conflict, rejected.
 */
export const notificationInbox = pgTable(
  'notification_inbox',
  {
    id: bigserial('id', { mode: 'number' }).primaryKey(),
    channel: text('channel').notNull(),
    notifyId: text('notify_id').notNull(),
    hospitalId: text('hospital_id'),
    merchantAccountId: text('merchant_account_id'),
    eventType: text('event_type'),
    outTradeNo: text('out_trade_no'),
    headers: jsonb('headers').$type<Record<string, string>>().notNull().default({}),
    rawBody: text('raw_body').notNull(),
    verified: boolean('verified').notNull().default(false),
    outcome: text('outcome').notNull(),
    error: text('error'),
    receivedAt: ts('received_at').notNull().defaultNow(),
  },
  (t) => [
    uniqueIndex('notification_inbox_channel_notify_uq').on(t.channel, t.notifyId),
    index('notification_inbox_rejected_idx')
      .on(t.merchantAccountId, t.receivedAt)
      .where(sql`outcome = 'rejected'`),
    index('notification_inbox_out_trade_no_idx').on(t.outTradeNo),
  ],
);

/** Interface log (接口日志): every call we make to a channel or the HIS, payloads masked. */
export const outboundCalls = pgTable(
  'outbound_calls',
  {
    id: bigserial('id', { mode: 'number' }).primaryKey(),
    hospitalId: text('hospital_id'),
    party: text('party').notNull(),
    operation: text('operation').notNull(),
    orderNo: text('order_no'),
    method: text('method').notNull(),
    url: text('url').notNull(),
    httpStatus: integer('http_status'),
    latencyMs: integer('latency_ms').notNull(),
    result: text('result').notNull(),
    errorCode: text('error_code'),
    errorMessage: text('error_message'),
    request: jsonb('request').$type<unknown>(),
    response: jsonb('response').$type<unknown>(),
    requestId: text('request_id'),
    createdAt: createdAt(),
  },
  (t) => [
    index('outbound_calls_created_idx').on(t.createdAt),
    index('outbound_calls_order_idx').on(t.orderNo),
    index('outbound_calls_failed_idx')
      .on(t.createdAt)
      .where(sql`result <> 'SUCCESS'`),
  ],
);

/** Open-API log: every call the HIS makes to us, accepted or refused. */
export const openApiCalls = pgTable(
  'open_api_calls',
  {
    id: bigserial('id', { mode: 'number' }).primaryKey(),
    appId: text('app_id'),
    hospitalId: text('hospital_id'),
    method: text('method').notNull(),
    path: text('path').notNull(),
    httpStatus: integer('http_status').notNull(),
    errorCode: text('error_code'),
    latencyMs: integer('latency_ms').notNull(),
    ip: text('ip'),
    requestId: text('request_id'),
    createdAt: createdAt(),
  },
  (t) => [
    index('open_api_calls_created_idx').on(t.createdAt),
    index('open_api_calls_app_idx').on(t.appId, t.createdAt),
  ],
);

/** Result pushes to the HIS (one per order event), with attempts, for the admin and one-sided entries. */
export const hisPushes = pgTable(
  'his_pushes',
  {
    eventId: text('event_id').primaryKey(),
    hospitalId: text('hospital_id').notNull(),
    orderId: text('order_id')
      .notNull()
      .references(() => orders.id),
    kind: text('kind').notNull(),
    /** For kind `refund`: the refund pushed. */
    refundId: text('refund_id'),
    status: text('status').notNull().default('PENDING'),
    attempts: integer('attempts').notNull().default(0),
    lastError: text('last_error'),
    ackedAt: ts('acked_at'),
    createdAt: createdAt(),
    updatedAt: updatedAt(),
  },
  (t) => [index('his_pushes_order_idx').on(t.orderId)],
);

/**
 * E-invoices (电子票据) the HIS issued for a paid order: metadata cached so the patient's list works while the
 * HIS is down; the file itself is fetched from the HIS on demand.
 */
export const invoices = pgTable(
  'invoices',
  {
    id: text('id').primaryKey(),
    hospitalId: text('hospital_id')
      .notNull()
      .references(() => hospitals.id),
    orderId: text('order_id')
      .notNull()
      .references(() => orders.id),
    invoiceCode: text('invoice_code').notNull(),
    invoiceNo: text('invoice_no').notNull(),
    amountFen: fen('amount_fen').notNull(),
    issuedAt: ts('issued_at').notNull(),
    /** application/pdf or image/png. */
    contentType: text('content_type').notNull(),
    createdAt: createdAt(),
    updatedAt: updatedAt(),
  },
  (t) => [uniqueIndex('invoices_order_no_uq').on(t.orderId, t.invoiceNo)],
);

/** Staff alerts: conflicts, one-sided entries. Shown in the admin; resolved with a reason. */
export const alerts = pgTable(
  'alerts',
  {
    id: bigserial('id', { mode: 'number' }).primaryKey(),
    hospitalId: text('hospital_id'),
    kind: text('kind').notNull(),
    severity: text('severity').notNull(),
    orderId: text('order_id'),
    message: text('message').notNull(),
    data: jsonb('data').$type<Record<string, unknown>>().notNull().default({}),
    status: text('status').notNull().default('OPEN'),
    /** Who resolved it (admin user id), when, and why. */
    resolvedBy: text('resolved_by'),
    resolvedAt: ts('resolved_at'),
    resolution: text('resolution'),
    createdAt: createdAt(),
  },
  (t) => [index('alerts_status_created_idx').on(t.status, t.createdAt)],
);

/** Comments (订单评价) patients left on WeChat Pay payments, pulled periodically for the admin to show. */
export const orderComments = pgTable(
  'order_comments',
  {
    id: bigserial('id', { mode: 'number' }).primaryKey(),
    hospitalId: text('hospital_id').notNull(),
    merchantAccountId: text('merchant_account_id').notNull(),
    channel: text('channel').notNull(),
    channelTradeNo: text('channel_trade_no').notNull(),
    /** Our order, when the channel trade number matches one of our payments. */
    orderId: text('order_id'),
    stars: integer('stars').notNull(),
    content: text('content').notNull(),
    commentedAt: ts('commented_at').notNull(),
    createdAt: createdAt(),
  },
  (t) => [
    uniqueIndex('order_comments_account_trade_uq').on(t.merchantAccountId, t.channelTradeNo),
    index('order_comments_hospital_time_idx').on(t.hospitalId, t.commentedAt),
  ],
);

/** Roles: a named set of permissions (see `PERMISSIONS` in modules/admin/permissions.ts). */
export const adminRoles = pgTable('admin_roles', {
  id: text('id').primaryKey(),
  code: text('code').notNull().unique(),
  name: text('name').notNull(),
  permissions: jsonb('permissions').$type<string[]>().notNull().default([]),
  /** Built-in roles are seeded by migrations' companion code and cannot be deleted. */
  builtin: boolean('builtin').notNull().default(false),
  createdAt: createdAt(),
  updatedAt: updatedAt(),
});

/** Staff who use the admin pages. Passwords are argon2id hashes; a hospital id limits them to one hospital. */
export const adminUsers = pgTable('admin_users', {
  id: text('id').primaryKey(),
  username: text('username').notNull().unique(),
  displayName: text('display_name').notNull(),
  passwordHash: text('password_hash').notNull(),
  roleId: text('role_id')
    .notNull()
    .references(() => adminRoles.id),
  /** null: all hospitals. */
  hospitalId: text('hospital_id'),
  status: text('status').notNull().default('ACTIVE'),
  failedAttempts: integer('failed_attempts').notNull().default(0),
  lockedUntil: ts('locked_until'),
  /** Bumped on password change or disable: access tokens carrying an older version are refused. */
  tokenVersion: integer('token_version').notNull().default(0),
  lastLoginAt: ts('last_login_at'),
  createdAt: createdAt(),
  updatedAt: updatedAt(),
});

/** Refresh tokens, stored as SHA-256 hashes; rotated on every use, revocable. */
export const adminRefreshTokens = pgTable(
  'admin_refresh_tokens',
  {
    id: text('id').primaryKey(),
    userId: text('user_id')
      .notNull()
      .references(() => adminUsers.id),
    tokenHash: text('token_hash').notNull().unique(),
    expiresAt: ts('expires_at').notNull(),
    revokedAt: ts('revoked_at'),
    replacedBy: text('replaced_by'),
    ip: text('ip'),
    userAgent: text('user_agent'),
    createdAt: createdAt(),
  },
  (t) => [index('admin_refresh_tokens_user_idx').on(t.userId)],
);

/** Login log: every login, logout, failure and lockout. */
export const adminLoginLogs = pgTable(
  'admin_login_logs',
  {
    id: bigserial('id', { mode: 'number' }).primaryKey(),
    userId: text('user_id'),
    username: text('username').notNull(),
    event: text('event').notNull(),
    reason: text('reason'),
    ip: text('ip'),
    userAgent: text('user_agent'),
    createdAt: createdAt(),
  },
  (t) => [index('admin_login_logs_created_idx').on(t.createdAt)],
);

/** Audit log: every admin write, with who, what, before and after, and from where. */
export const adminAuditLogs = pgTable(
  'admin_audit_logs',
  {
    id: bigserial('id', { mode: 'number' }).primaryKey(),
    userId: text('user_id').notNull(),
    username: text('username').notNull(),
    action: text('action').notNull(),
    targetType: text('target_type').notNull(),
    targetId: text('target_id'),
    before: jsonb('before').$type<unknown>(),
    after: jsonb('after').$type<unknown>(),
    ip: text('ip'),
    requestId: text('request_id'),
    createdAt: createdAt(),
  },
  (t) => [
    index('admin_audit_logs_created_idx').on(t.createdAt),
    index('admin_audit_logs_target_idx').on(t.targetType, t.targetId),
  ],
);

export * from './schema-recon';
export * from './schema-credit';
export * from './schema-insurance';
