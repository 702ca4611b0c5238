CREATE TABLE "recon_deliveries" (
	"id" text PRIMARY KEY NOT NULL,
	"hospital_id" text NOT NULL,
	"target_id" text NOT NULL,
	"business_date" text NOT NULL,
	"status" text NOT NULL,
	"file_name" text,
	"remote_path" text,
	"file_sha256" text,
	"file_bytes" integer,
	"attempts" integer DEFAULT 0 NOT NULL,
	"last_error" text,
	"triggered_by" text NOT NULL,
	"delivered_at" timestamp with time zone,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
CREATE TABLE "recon_fund_flow_lines" (
	"statement_id" text NOT NULL,
	"hospital_id" text NOT NULL,
	"bill_date" text NOT NULL,
	"channel" text NOT NULL,
	"flow_no" text NOT NULL,
	"business_name" text NOT NULL,
	"business_type" text NOT NULL,
	"direction" text NOT NULL,
	"amount_fen" bigint NOT NULL,
	"balance_fen" bigint,
	"voucher_no" text,
	"occurred_at" timestamp with time zone NOT NULL
);
--> statement-breakpoint
CREATE TABLE "recon_push_targets" (
	"id" text PRIMARY KEY NOT NULL,
	"hospital_id" text NOT NULL,
	"name" text NOT NULL,
	"protocol" text NOT NULL,
	"host" text NOT NULL,
	"port" integer NOT NULL,
	"username" text NOT NULL,
	"remote_dir" text DEFAULT '/' NOT NULL,
	"deadline" text DEFAULT '12:00' NOT NULL,
	"settings" jsonb DEFAULT '{}'::jsonb NOT NULL,
	"secrets_enc" text NOT NULL,
	"enabled" integer DEFAULT 1 NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
DROP INDEX "recon_statements_account_date_uq";--> statement-breakpoint
ALTER TABLE "hospitals" ADD COLUMN "settings" jsonb DEFAULT '{}'::jsonb NOT NULL;--> statement-breakpoint
ALTER TABLE "recon_statements" ADD COLUMN "bill_type" text DEFAULT 'TRADE' NOT NULL;--> statement-breakpoint
CREATE UNIQUE INDEX "recon_deliveries_target_date_uq" ON "recon_deliveries" USING btree ("target_id","business_date");--> statement-breakpoint
CREATE INDEX "recon_deliveries_hospital_date_idx" ON "recon_deliveries" USING btree ("hospital_id","business_date");--> statement-breakpoint
CREATE INDEX "recon_fund_flow_lines_stmt_idx" ON "recon_fund_flow_lines" USING btree ("statement_id");--> statement-breakpoint
CREATE INDEX "recon_fund_flow_lines_day_idx" ON "recon_fund_flow_lines" USING btree ("hospital_id","bill_date");--> statement-breakpoint
CREATE UNIQUE INDEX "recon_push_targets_hospital_name_uq" ON "recon_push_targets" USING btree ("hospital_id","name");--> statement-breakpoint
CREATE UNIQUE INDEX "recon_statements_account_date_type_uq" ON "recon_statements" USING btree ("merchant_account_id","bill_date","bill_type");