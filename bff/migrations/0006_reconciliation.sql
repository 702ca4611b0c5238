CREATE TABLE "his_ledger_lines" (
	"ledger_id" text NOT NULL,
	"hospital_id" text NOT NULL,
	"ledger_date" text NOT NULL,
	"kind" text NOT NULL,
	"channel" text NOT NULL,
	"his_trade_no" text NOT NULL,
	"order_no" text,
	"refund_no" text,
	"terminal_ref" text,
	"amount_fen" bigint NOT NULL,
	"occurred_at" timestamp with time zone NOT NULL
);
--> statement-breakpoint
CREATE TABLE "his_ledgers" (
	"id" text PRIMARY KEY NOT NULL,
	"hospital_id" text NOT NULL,
	"ledger_date" text NOT NULL,
	"source" text NOT NULL,
	"version" integer DEFAULT 1 NOT NULL,
	"line_count" integer NOT NULL,
	"totals" jsonb NOT NULL,
	"received_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
CREATE TABLE "recon_items" (
	"id" bigserial PRIMARY KEY NOT NULL,
	"hospital_id" text NOT NULL,
	"business_date" text NOT NULL,
	"channel" text NOT NULL,
	"kind" text NOT NULL,
	"key_no" text NOT NULL,
	"order_no" text,
	"outcome" text NOT NULL,
	"channel_fen" bigint,
	"platform_fen" bigint,
	"his_fen" bigint,
	"channel_fee_fen" bigint,
	"expected_fee_fen" bigint,
	"order_id" text,
	"status" text NOT NULL,
	"hold_until" text,
	"resolution" text,
	"resolved_by" text,
	"resolved_at" timestamp with time zone,
	"note" text,
	"first_run_id" text NOT NULL,
	"last_run_id" text NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
CREATE TABLE "recon_runs" (
	"id" text PRIMARY KEY NOT NULL,
	"hospital_id" text NOT NULL,
	"business_date" text NOT NULL,
	"status" text NOT NULL,
	"summary" jsonb DEFAULT '{}'::jsonb NOT NULL,
	"triggered_by" text NOT NULL,
	"error_message" text,
	"started_at" timestamp with time zone DEFAULT now() NOT NULL,
	"finished_at" timestamp with time zone
);
--> statement-breakpoint
CREATE TABLE "recon_statement_lines" (
	"statement_id" text NOT NULL,
	"hospital_id" text NOT NULL,
	"bill_date" text NOT NULL,
	"channel" text NOT NULL,
	"kind" text NOT NULL,
	"order_no" text NOT NULL,
	"refund_no" text,
	"channel_trade_no" text,
	"channel_refund_id" text,
	"amount_fen" bigint NOT NULL,
	"fee_fen" bigint NOT NULL,
	"occurred_at" timestamp with time zone NOT NULL
);
--> statement-breakpoint
CREATE TABLE "recon_statements" (
	"id" text PRIMARY KEY NOT NULL,
	"hospital_id" text NOT NULL,
	"merchant_account_id" text NOT NULL,
	"channel" text NOT NULL,
	"bill_date" text NOT NULL,
	"status" text NOT NULL,
	"source" text NOT NULL,
	"file_name" text,
	"file_sha256" text,
	"file_bytes" integer,
	"line_count" integer DEFAULT 0 NOT NULL,
	"payment_count" integer DEFAULT 0 NOT NULL,
	"payment_fen" bigint DEFAULT 0 NOT NULL,
	"refund_count" integer DEFAULT 0 NOT NULL,
	"refund_fen" bigint DEFAULT 0 NOT NULL,
	"fee_fen" bigint DEFAULT 0 NOT NULL,
	"attempts" integer DEFAULT 0 NOT NULL,
	"error_code" text,
	"error_message" text,
	"imported_by" text,
	"imported_at" timestamp with time zone,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
CREATE INDEX "his_ledger_lines_ledger_idx" ON "his_ledger_lines" USING btree ("ledger_id");--> statement-breakpoint
CREATE INDEX "his_ledger_lines_day_idx" ON "his_ledger_lines" USING btree ("hospital_id","ledger_date");--> statement-breakpoint
CREATE INDEX "his_ledger_lines_order_idx" ON "his_ledger_lines" USING btree ("order_no");--> statement-breakpoint
CREATE INDEX "his_ledger_lines_refund_idx" ON "his_ledger_lines" USING btree ("refund_no");--> statement-breakpoint
CREATE UNIQUE INDEX "his_ledgers_hospital_date_uq" ON "his_ledgers" USING btree ("hospital_id","ledger_date");--> statement-breakpoint
CREATE UNIQUE INDEX "recon_items_key_uq" ON "recon_items" USING btree ("hospital_id","business_date","kind","key_no","outcome");--> statement-breakpoint
CREATE INDEX "recon_items_status_idx" ON "recon_items" USING btree ("hospital_id","status","business_date");--> statement-breakpoint
CREATE INDEX "recon_items_key_idx" ON "recon_items" USING btree ("key_no");--> statement-breakpoint
CREATE INDEX "recon_runs_hospital_date_idx" ON "recon_runs" USING btree ("hospital_id","business_date","started_at");--> statement-breakpoint
CREATE INDEX "recon_statement_lines_stmt_idx" ON "recon_statement_lines" USING btree ("statement_id");--> statement-breakpoint
CREATE INDEX "recon_statement_lines_day_idx" ON "recon_statement_lines" USING btree ("hospital_id","bill_date");--> statement-breakpoint
CREATE INDEX "recon_statement_lines_order_idx" ON "recon_statement_lines" USING btree ("order_no");--> statement-breakpoint
CREATE INDEX "recon_statement_lines_refund_idx" ON "recon_statement_lines" USING btree ("refund_no");--> statement-breakpoint
CREATE UNIQUE INDEX "recon_statements_account_date_uq" ON "recon_statements" USING btree ("merchant_account_id","bill_date");--> statement-breakpoint
CREATE INDEX "recon_statements_hospital_date_idx" ON "recon_statements" USING btree ("hospital_id","bill_date");--> statement-breakpoint
CREATE INDEX "payments_hospital_paid_at_idx" ON "payments" USING btree ("hospital_id","paid_at");--> statement-breakpoint
CREATE INDEX "refunds_hospital_succeeded_at_idx" ON "refunds" USING btree ("hospital_id","succeeded_at");