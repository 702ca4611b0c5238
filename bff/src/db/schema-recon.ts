import {
  bigint,
  bigserial,
  index,
  integer,
  jsonb,
  pgTable,
  text,
  timestamp,
  uniqueIndex,
} from 'drizzle-orm/pg-core';

/**
 * Reconciliation (对账): what the channels' statements say, what the HIS ledger says, and the differences
 * the matching engine found against our own payments and refunds. Dates are business days in Beijing time,
 * `YYYY-MM-DD` text (a statement's bill date, a ledger's day).
 */
const fen = (name: string) => bigint(name, { mode: 'number' });
const ts = (name: string) => timestamp(name, { withTimezone: true, mode: 'date' });

/** One channel statement for one merchant account and day: downloaded or uploaded, its own totals checked. */
export const reconStatements = pgTable(
  'recon_statements',
  {
    id: text('id').primaryKey(),
    hospitalId: text('hospital_id').notNull(),
    merchantAccountId: text('merchant_account_id').notNull(),
    channel: text('channel').notNull(),
    billDate: text('bill_date').notNull(),
    /** TRADE (the trade bill every matching reads), FUNDFLOW (WeChat's fund-flow bill: settlements to the
     * bank, fees), TERMINAL (an acquiring bank's MISPOS terminal statement; `merchantAccountId` is then
     * `mispos:<acquirer merchant number>`, `channel` = `mispos`). The totals below are payments and refunds
     * for TRADE and TERMINAL; for FUNDFLOW payment* = income (收入) and refund* = expense (支出) counts and sums,
     * fee = fees charged less fees returned (modules/recon/intake.ts, fund-flow.ts). */
    billType: text('bill_type').notNull().default('TRADE'),
    /** IMPORTED: lines loaded. NO_TRADE: the channel has no statement (no trade that day). PENDING: not
     * published yet, asked again later. FAILED: refused (reason kept) — a manual upload can replace it. */
    status: text('status').notNull(),
    /** DOWNLOAD (scheduled job) or UPLOAD (an admin's file). */
    source: text('source').notNull(),
    fileName: text('file_name'),
    fileSha256: text('file_sha256'),
    fileBytes: integer('file_bytes'),
    lineCount: integer('line_count').notNull().default(0),
    paymentCount: integer('payment_count').notNull().default(0),
    paymentFen: fen('payment_fen').notNull().default(0),
    refundCount: integer('refund_count').notNull().default(0),
    refundFen: fen('refund_fen').notNull().default(0),
    feeFen: fen('fee_fen').notNull().default(0),
    attempts: integer('attempts').notNull().default(0),
    errorCode: text('error_code'),
    errorMessage: text('error_message'),
    importedBy: text('imported_by'),
    importedAt: ts('imported_at'),
    createdAt: ts('created_at').notNull().defaultNow(),
    updatedAt: ts('updated_at').notNull().defaultNow(),
  },
  (t) => [
    uniqueIndex('recon_statements_account_date_type_uq').on(t.merchantAccountId, t.billDate, t.billType),
    index('recon_statements_hospital_date_idx').on(t.hospitalId, t.billDate),
  ],
);

/** The lines of an imported statement (replaced as a whole when the statement is imported again). */
export const reconStatementLines = pgTable(
  'recon_statement_lines',
  {
    statementId: text('statement_id').notNull(),
    hospitalId: text('hospital_id').notNull(),
    billDate: text('bill_date').notNull(),
    channel: text('channel').notNull(),
    kind: text('kind').notNull(),
    /** out_trade_no (our order number). */
    orderNo: text('order_no').notNull(),
    /** REFUND lines: out_refund_no (our refund number). */
    refundNo: text('refund_no'),
    channelTradeNo: text('channel_trade_no'),
    channelRefundId: text('channel_refund_id'),
    amountFen: fen('amount_fen').notNull(),
    feeFen: fen('fee_fen').notNull(),
    occurredAt: ts('occurred_at').notNull(),
  },
  (t) => [
    index('recon_statement_lines_stmt_idx').on(t.statementId),
    index('recon_statement_lines_day_idx').on(t.hospitalId, t.billDate),
    index('recon_statement_lines_order_idx').on(t.orderNo),
    index('recon_statement_lines_refund_idx').on(t.refundNo),
  ],
);

/** The HIS's ledger for one day (pushed through the open API or pulled); a later push replaces it. */
export const hisLedgers = pgTable(
  'his_ledgers',
  {
    id: text('id').primaryKey(),
    hospitalId: text('hospital_id').notNull(),
    ledgerDate: text('ledger_date').notNull(),
    source: text('source').notNull(),
    version: integer('version').notNull().default(1),
    lineCount: integer('line_count').notNull(),
    totals: jsonb('totals')
      .$type<Record<string, { count: number; paymentFen: number; refundFen: number }>>()
      .notNull(),
    receivedAt: ts('received_at').notNull().defaultNow(),
  },
  (t) => [uniqueIndex('his_ledgers_hospital_date_uq').on(t.hospitalId, t.ledgerDate)],
);

/**
 * One HIS ledger record. Online channels carry our order number (and refund number for refunds); offline
 * ones (CASH window, MISPOS bank terminal, KIOSK self-service, PREPAID card) carry the HIS's own numbers
 * and, for MISPOS, the terminal's reference number that the acquiring bank's terminal statement prints.
 */
export const hisLedgerLines = pgTable(
  'his_ledger_lines',
  {
    ledgerId: text('ledger_id').notNull(),
    hospitalId: text('hospital_id').notNull(),
    ledgerDate: text('ledger_date').notNull(),
    kind: text('kind').notNull(),
    channel: text('channel').notNull(),
    hisTradeNo: text('his_trade_no').notNull(),
    orderNo: text('order_no'),
    refundNo: text('refund_no'),
    terminalRef: text('terminal_ref'),
    amountFen: fen('amount_fen').notNull(),
    occurredAt: ts('occurred_at').notNull(),
  },
  (t) => [
    index('his_ledger_lines_ledger_idx').on(t.ledgerId),
    index('his_ledger_lines_day_idx').on(t.hospitalId, t.ledgerDate),
    index('his_ledger_lines_order_idx').on(t.orderNo),
    index('his_ledger_lines_refund_idx').on(t.refundNo),
  ],
);

/** One run of the matching engine for a hospital and business day (a re-run adds a row). */
export const reconRuns = pgTable(
  'recon_runs',
  {
    id: text('id').primaryKey(),
    hospitalId: text('hospital_id').notNull(),
    businessDate: text('business_date').notNull(),
    status: text('status').notNull(),
    /** Per channel: counts and sums on each side, matched and different, fees, statement/ledger presence. */
    summary: jsonb('summary').$type<Record<string, unknown>>().notNull().default({}),
    triggeredBy: text('triggered_by').notNull(),
    errorMessage: text('error_message'),
    startedAt: ts('started_at').notNull().defaultNow(),
    finishedAt: ts('finished_at'),
  },
  (t) => [index('recon_runs_hospital_date_idx').on(t.hospitalId, t.businessDate, t.startedAt)],
);

/**
 * A difference (差异) between the channel, the platform and the HIS for one payment or refund. HOLDING: may
 * resolve itself the next day (a cross-midnight payment); OPEN: needs a person; RESOLVED: matched later,
 * refunded or explained (who, when, why). Unique per day, record and outcome, so a re-run keeps the workflow.
 */
export const reconItems = pgTable(
  'recon_items',
  {
    id: bigserial('id', { mode: 'number' }).primaryKey(),
    hospitalId: text('hospital_id').notNull(),
    businessDate: text('business_date').notNull(),
    channel: text('channel').notNull(),
    kind: text('kind').notNull(),
    /** out_trade_no for payments, out_refund_no for refunds (the HIS's own number for HIS-only offline lines). */
    keyNo: text('key_no').notNull(),
    orderNo: text('order_no'),
    outcome: text('outcome').notNull(),
    channelFen: fen('channel_fen'),
    platformFen: fen('platform_fen'),
    hisFen: fen('his_fen'),
    channelFeeFen: fen('channel_fee_fen'),
    expectedFeeFen: fen('expected_fee_fen'),
    orderId: text('order_id'),
    status: text('status').notNull(),
    holdUntil: text('hold_until'),
    resolution: text('resolution'),
    resolvedBy: text('resolved_by'),
    resolvedAt: ts('resolved_at'),
    note: text('note'),
    firstRunId: text('first_run_id').notNull(),
    lastRunId: text('last_run_id').notNull(),
    createdAt: ts('created_at').notNull().defaultNow(),
    updatedAt: ts('updated_at').notNull().defaultNow(),
  },
  (t) => [
    uniqueIndex('recon_items_key_uq').on(t.hospitalId, t.businessDate, t.kind, t.keyNo, t.outcome),
    index('recon_items_status_idx').on(t.hospitalId, t.status, t.businessDate),
    index('recon_items_key_idx').on(t.keyNo),
  ],
);

/**
 * The lines of a fund-flow bill (资金账单): every movement of the merchant's balance — trade income, refunds
 * out, fees, and the settlement to the hospital's bank account (the "bank arrival" of the daily report).
 */
export const reconFundFlowLines = pgTable(
  'recon_fund_flow_lines',
  {
    statementId: text('statement_id').notNull(),
    hospitalId: text('hospital_id').notNull(),
    billDate: text('bill_date').notNull(),
    channel: text('channel').notNull(),
    /** The channel's flow number (资金流水单号). */
    flowNo: text('flow_no').notNull(),
    /** The channel's own words (业务名称 / 业务类型), kept as printed. */
    businessName: text('business_name').notNull(),
    businessType: text('business_type').notNull(),
    /** IN (收入) or OUT (支出). */
    direction: text('direction').notNull(),
    amountFen: fen('amount_fen').notNull(),
    balanceFen: fen('balance_fen'),
    /** The business voucher number (业务凭证号): a payment's or refund's channel number, or a settlement's. */
    voucherNo: text('voucher_no'),
    occurredAt: ts('occurred_at').notNull(),
  },
  (t) => [
    index('recon_fund_flow_lines_stmt_idx').on(t.statementId),
    index('recon_fund_flow_lines_day_idx').on(t.hospitalId, t.billDate),
  ],
);

/** Where a hospital's daily reconciliation file is delivered (the HIS's SFTP or FTP server). */
export const reconPushTargets = pgTable(
  'recon_push_targets',
  {
    id: text('id').primaryKey(),
    hospitalId: text('hospital_id').notNull(),
    name: text('name').notNull(),
    /** sftp | ftp | ftps */
    protocol: text('protocol').notNull(),
    host: text('host').notNull(),
    port: integer('port').notNull(),
    username: text('username').notNull(),
    remoteDir: text('remote_dir').notNull().default('/'),
    /** Deliver before this Beijing time (HH:mm), default 12:00; retries until then, an alert after. */
    deadline: text('deadline').notNull().default('12:00'),
    /** Non-secret options (host key fingerprint, file name pattern, passive mode). */
    settings: jsonb('settings').$type<Record<string, unknown>>().notNull().default({}),
    /** Password or private key, AES-256-GCM under the secrets key, like merchant accounts. */
    secretsEnc: text('secrets_enc').notNull(),
    enabled: integer('enabled').notNull().default(1),
    createdAt: ts('created_at').notNull().defaultNow(),
    updatedAt: ts('updated_at').notNull().defaultNow(),
  },
  (t) => [uniqueIndex('recon_push_targets_hospital_name_uq').on(t.hospitalId, t.name)],
);

/** One delivery of one day's file to one target: attempts, outcome, and what exactly was sent. */
export const reconDeliveries = pgTable(
  'recon_deliveries',
  {
    id: text('id').primaryKey(),
    hospitalId: text('hospital_id').notNull(),
    targetId: text('target_id').notNull(),
    businessDate: text('business_date').notNull(),
    /** PENDING | DELIVERED | FAILED (gave up after the deadline; a person can send it again). */
    status: text('status').notNull(),
    fileName: text('file_name'),
    remotePath: text('remote_path'),
    fileSha256: text('file_sha256'),
    fileBytes: integer('file_bytes'),
    attempts: integer('attempts').notNull().default(0),
    lastError: text('last_error'),
    triggeredBy: text('triggered_by').notNull(),
    deliveredAt: ts('delivered_at'),
    createdAt: ts('created_at').notNull().defaultNow(),
    updatedAt: ts('updated_at').notNull().defaultNow(),
  },
  (t) => [
    uniqueIndex('recon_deliveries_target_date_uq').on(t.targetId, t.businessDate),
    index('recon_deliveries_hospital_date_idx').on(t.hospitalId, t.businessDate),
  ],
);
