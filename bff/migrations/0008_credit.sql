CREATE TABLE "credit_agreements" (
	"id" text PRIMARY KEY NOT NULL,
	"hospital_id" text NOT NULL,
	"patient_id" text NOT NULL,
	"merchant_account_id" text NOT NULL,
	"sign_request_no" text NOT NULL,
	"agreement_no" text,
	"status" text NOT NULL,
	"limit_fen" bigint DEFAULT 0 NOT NULL,
	"available_fen" bigint DEFAULT 0 NOT NULL,
	"auto_pay" boolean DEFAULT true NOT NULL,
	"return_url" text NOT NULL,
	"signed_at" timestamp with time zone,
	"unsigned_at" timestamp with time zone,
	"status_checked_at" timestamp with time zone,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
CREATE TABLE "credit_debits" (
	"id" text PRIMARY KEY NOT NULL,
	"hospital_id" text NOT NULL,
	"bill_id" text NOT NULL,
	"bill_version" integer NOT NULL,
	"patient_id" text NOT NULL,
	"payer_patient_id" text,
	"agreement_id" text,
	"order_id" text,
	"amount_fen" bigint NOT NULL,
	"status" text NOT NULL,
	"reason" text,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
CREATE TABLE "credit_family_members" (
	"id" text PRIMARY KEY NOT NULL,
	"hospital_id" text NOT NULL,
	"agreement_id" text NOT NULL,
	"signer_patient_id" text NOT NULL,
	"relative_patient_id" text NOT NULL,
	"relation" text NOT NULL,
	"status" text DEFAULT 'ACTIVE' NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"revoked_at" timestamp with time zone
);
--> statement-breakpoint
CREATE TABLE "inpatient_admissions" (
	"id" text PRIMARY KEY NOT NULL,
	"hospital_id" text NOT NULL,
	"patient_id" text NOT NULL,
	"admission_no" text NOT NULL,
	"department" text,
	"ward" text,
	"status" text NOT NULL,
	"admitted_at" timestamp with time zone NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
CREATE TABLE "inpatient_deposits" (
	"id" text PRIMARY KEY NOT NULL,
	"hospital_id" text NOT NULL,
	"admission_id" text NOT NULL,
	"his_deposit_no" text NOT NULL,
	"bill_id" text NOT NULL,
	"amount_fen" bigint NOT NULL,
	"paid_order_id" text,
	"refunded_fen" bigint DEFAULT 0 NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
CREATE TABLE "inpatient_settlements" (
	"id" text PRIMARY KEY NOT NULL,
	"hospital_id" text NOT NULL,
	"admission_id" text NOT NULL,
	"his_settlement_no" text NOT NULL,
	"version" integer NOT NULL,
	"total_cost_fen" bigint NOT NULL,
	"deposits_fen" bigint NOT NULL,
	"refund_fen" bigint DEFAULT 0 NOT NULL,
	"extra_fen" bigint DEFAULT 0 NOT NULL,
	"extra_bill_id" text,
	"status" text NOT NULL,
	"moves" jsonb DEFAULT '[]'::jsonb NOT NULL,
	"reversal_reason" text,
	"reversed_at" timestamp with time zone,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
CREATE TABLE "message_sends" (
	"id" text PRIMARY KEY NOT NULL,
	"message_id" text NOT NULL,
	"hospital_id" text NOT NULL,
	"channel" text NOT NULL,
	"status" text NOT NULL,
	"attempts" integer DEFAULT 0 NOT NULL,
	"last_error" text,
	"sent_at" timestamp with time zone,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
CREATE TABLE "patient_messages" (
	"id" text PRIMARY KEY NOT NULL,
	"hospital_id" text NOT NULL,
	"patient_id" text NOT NULL,
	"kind" text NOT NULL,
	"title" text NOT NULL,
	"body" text NOT NULL,
	"refs" jsonb DEFAULT '{}'::jsonb NOT NULL,
	"read_at" timestamp with time zone,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
CREATE UNIQUE INDEX "credit_agreements_request_uq" ON "credit_agreements" USING btree ("sign_request_no");--> statement-breakpoint
CREATE UNIQUE INDEX "credit_agreements_signed_uq" ON "credit_agreements" USING btree ("patient_id","merchant_account_id") WHERE "credit_agreements"."status" = 'SIGNED';--> statement-breakpoint
CREATE INDEX "credit_agreements_patient_idx" ON "credit_agreements" USING btree ("patient_id");--> statement-breakpoint
CREATE UNIQUE INDEX "credit_debits_bill_version_uq" ON "credit_debits" USING btree ("bill_id","bill_version");--> statement-breakpoint
CREATE INDEX "credit_debits_order_idx" ON "credit_debits" USING btree ("order_id");--> statement-breakpoint
CREATE UNIQUE INDEX "credit_family_active_uq" ON "credit_family_members" USING btree ("agreement_id","relative_patient_id") WHERE "credit_family_members"."status" = 'ACTIVE';--> statement-breakpoint
CREATE INDEX "credit_family_relative_idx" ON "credit_family_members" USING btree ("relative_patient_id");--> statement-breakpoint
CREATE UNIQUE INDEX "inpatient_admissions_no_uq" ON "inpatient_admissions" USING btree ("hospital_id","admission_no");--> statement-breakpoint
CREATE UNIQUE INDEX "inpatient_deposits_no_uq" ON "inpatient_deposits" USING btree ("hospital_id","his_deposit_no");--> statement-breakpoint
CREATE INDEX "inpatient_deposits_admission_idx" ON "inpatient_deposits" USING btree ("admission_id");--> statement-breakpoint
CREATE UNIQUE INDEX "inpatient_settlements_version_uq" ON "inpatient_settlements" USING btree ("admission_id","version");--> statement-breakpoint
CREATE UNIQUE INDEX "inpatient_settlements_no_uq" ON "inpatient_settlements" USING btree ("hospital_id","his_settlement_no");--> statement-breakpoint
CREATE UNIQUE INDEX "message_sends_message_channel_uq" ON "message_sends" USING btree ("message_id","channel");--> statement-breakpoint
CREATE INDEX "patient_messages_patient_idx" ON "patient_messages" USING btree ("patient_id","created_at");--> statement-breakpoint
CREATE INDEX "patient_messages_hospital_idx" ON "patient_messages" USING btree ("hospital_id","created_at");