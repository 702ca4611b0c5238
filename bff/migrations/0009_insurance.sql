CREATE TABLE "insurance_authorizations" (
	"id" text PRIMARY KEY NOT NULL,
	"hospital_id" text NOT NULL,
	"patient_id" text NOT NULL,
	"platform_account_id" text NOT NULL,
	"psn_no" text NOT NULL,
	"name_masked" text NOT NULL,
	"id_no_masked" text NOT NULL,
	"insutype" text NOT NULL,
	"secret_enc" text NOT NULL,
	"expires_at" timestamp with time zone NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
CREATE TABLE "insurance_refunds" (
	"id" text PRIMARY KEY NOT NULL,
	"refund_no" text NOT NULL,
	"hospital_id" text NOT NULL,
	"order_id" text NOT NULL,
	"settlement_id" text NOT NULL,
	"kind" text NOT NULL,
	"fund_fen" bigint NOT NULL,
	"psn_acct_fen" bigint NOT NULL,
	"other_fen" bigint NOT NULL,
	"cash_fen" bigint DEFAULT 0 NOT NULL,
	"cash_refund_id" text,
	"status" text DEFAULT 'PENDING' NOT NULL,
	"repair" text,
	"reason" text NOT NULL,
	"requested_by" text NOT NULL,
	"his_refund_no" text,
	"platform_refund_id" text,
	"attempts" integer DEFAULT 0 NOT NULL,
	"error_code" text,
	"error_message" text,
	"succeeded_at" timestamp with time zone,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
CREATE TABLE "insurance_settlements" (
	"id" text PRIMARY KEY NOT NULL,
	"order_id" text NOT NULL,
	"hospital_id" text NOT NULL,
	"patient_id" text NOT NULL,
	"authorization_id" text NOT NULL,
	"platform_account_id" text NOT NULL,
	"settle_channel" text NOT NULL,
	"settle_account_id" text NOT NULL,
	"status" text NOT NULL,
	"pay_ord_id" text,
	"secret_enc" text,
	"settlement_id" text,
	"mix_trade_no" text,
	"total_fen" bigint NOT NULL,
	"fund_fen" bigint DEFAULT 0 NOT NULL,
	"psn_acct_fen" bigint DEFAULT 0 NOT NULL,
	"other_fen" bigint DEFAULT 0 NOT NULL,
	"cash_fen" bigint DEFAULT 0 NOT NULL,
	"refunded_fund_fen" bigint DEFAULT 0 NOT NULL,
	"refunded_psn_acct_fen" bigint DEFAULT 0 NOT NULL,
	"refunded_other_fen" bigint DEFAULT 0 NOT NULL,
	"client_params" jsonb,
	"quote_data" jsonb DEFAULT '{}'::jsonb NOT NULL,
	"sync_attempts" integer DEFAULT 0 NOT NULL,
	"error_code" text,
	"error_message" text,
	"settled_at" timestamp with time zone,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
CREATE INDEX "insurance_authorizations_patient_idx" ON "insurance_authorizations" USING btree ("patient_id","created_at");--> statement-breakpoint
CREATE UNIQUE INDEX "insurance_refunds_no_uq" ON "insurance_refunds" USING btree ("refund_no");--> statement-breakpoint
CREATE UNIQUE INDEX "insurance_refunds_his_no_uq" ON "insurance_refunds" USING btree ("hospital_id","his_refund_no");--> statement-breakpoint
CREATE INDEX "insurance_refunds_order_idx" ON "insurance_refunds" USING btree ("order_id");--> statement-breakpoint
CREATE UNIQUE INDEX "insurance_refunds_one_in_flight_uq" ON "insurance_refunds" USING btree ("settlement_id") WHERE status = 'PENDING';--> statement-breakpoint
CREATE UNIQUE INDEX "insurance_settlements_order_uq" ON "insurance_settlements" USING btree ("order_id");--> statement-breakpoint
CREATE INDEX "insurance_settlements_status_idx" ON "insurance_settlements" USING btree ("status","updated_at");--> statement-breakpoint
CREATE INDEX "insurance_settlements_pay_ord_idx" ON "insurance_settlements" USING btree ("pay_ord_id");