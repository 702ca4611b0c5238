CREATE TABLE "invoices" (
	"id" text PRIMARY KEY NOT NULL,
	"hospital_id" text NOT NULL,
	"order_id" text NOT NULL,
	"invoice_code" text NOT NULL,
	"invoice_no" text NOT NULL,
	"amount_fen" bigint NOT NULL,
	"issued_at" timestamp with time zone NOT NULL,
	"content_type" text NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
CREATE TABLE "patient_accounts" (
	"id" text PRIMARY KEY NOT NULL,
	"provider" text NOT NULL,
	"subject" text NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
CREATE TABLE "patient_cards" (
	"id" text PRIMARY KEY NOT NULL,
	"account_id" text NOT NULL,
	"hospital_id" text NOT NULL,
	"patient_id" text NOT NULL,
	"card_type" text NOT NULL,
	"card_no_masked" text NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
ALTER TABLE "his_apps" ADD COLUMN "bill_mode" text DEFAULT 'push' NOT NULL;--> statement-breakpoint
ALTER TABLE "invoices" ADD CONSTRAINT "invoices_hospital_id_hospitals_id_fk" FOREIGN KEY ("hospital_id") REFERENCES "public"."hospitals"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "invoices" ADD CONSTRAINT "invoices_order_id_orders_id_fk" FOREIGN KEY ("order_id") REFERENCES "public"."orders"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "patient_cards" ADD CONSTRAINT "patient_cards_account_id_patient_accounts_id_fk" FOREIGN KEY ("account_id") REFERENCES "public"."patient_accounts"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "patient_cards" ADD CONSTRAINT "patient_cards_hospital_id_hospitals_id_fk" FOREIGN KEY ("hospital_id") REFERENCES "public"."hospitals"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "patient_cards" ADD CONSTRAINT "patient_cards_patient_id_patients_id_fk" FOREIGN KEY ("patient_id") REFERENCES "public"."patients"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
CREATE UNIQUE INDEX "invoices_order_no_uq" ON "invoices" USING btree ("order_id","invoice_no");--> statement-breakpoint
CREATE UNIQUE INDEX "patient_accounts_provider_subject_uq" ON "patient_accounts" USING btree ("provider","subject");--> statement-breakpoint
CREATE UNIQUE INDEX "patient_cards_account_patient_uq" ON "patient_cards" USING btree ("account_id","patient_id");--> statement-breakpoint
CREATE INDEX "patient_cards_patient_idx" ON "patient_cards" USING btree ("patient_id");