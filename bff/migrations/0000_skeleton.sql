CREATE TABLE "alerts" (
	"id" bigserial PRIMARY KEY NOT NULL,
	"hospital_id" text,
	"kind" text NOT NULL,
	"severity" text NOT NULL,
	"order_id" text,
	"message" text NOT NULL,
	"data" jsonb DEFAULT '{}'::jsonb NOT NULL,
	"status" text DEFAULT 'OPEN' NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
CREATE TABLE "bills" (
	"id" text PRIMARY KEY NOT NULL,
	"hospital_id" text NOT NULL,
	"his_bill_no" text NOT NULL,
	"patient_id" text NOT NULL,
	"visit_no" text,
	"department" text,
	"doctor" text,
	"title" text NOT NULL,
	"amount_fen" bigint NOT NULL,
	"items" jsonb DEFAULT '[]'::jsonb NOT NULL,
	"status" text DEFAULT 'UNPAID' NOT NULL,
	"version" integer DEFAULT 1 NOT NULL,
	"locked_order_id" text,
	"paid_order_id" text,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
CREATE TABLE "his_apps" (
	"app_id" text PRIMARY KEY NOT NULL,
	"hospital_id" text NOT NULL,
	"name" text NOT NULL,
	"secret_enc" text NOT NULL,
	"callback_base_url" text,
	"enabled" boolean DEFAULT true NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
CREATE TABLE "his_pushes" (
	"event_id" text PRIMARY KEY NOT NULL,
	"hospital_id" text NOT NULL,
	"order_id" text NOT NULL,
	"kind" text NOT NULL,
	"status" text DEFAULT 'PENDING' NOT NULL,
	"attempts" integer DEFAULT 0 NOT NULL,
	"last_error" text,
	"acked_at" timestamp with time zone,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
CREATE TABLE "hospitals" (
	"id" text PRIMARY KEY NOT NULL,
	"code" text NOT NULL,
	"name" text NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "hospitals_code_unique" UNIQUE("code")
);
--> statement-breakpoint
CREATE TABLE "merchant_accounts" (
	"id" text PRIMARY KEY NOT NULL,
	"hospital_id" text NOT NULL,
	"channel" text NOT NULL,
	"mch_id" text NOT NULL,
	"app_id" text NOT NULL,
	"settings" jsonb DEFAULT '{}'::jsonb NOT NULL,
	"secrets_enc" text NOT NULL,
	"enabled" boolean DEFAULT true NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
CREATE TABLE "notification_inbox" (
	"id" bigserial PRIMARY KEY NOT NULL,
	"channel" text NOT NULL,
	"notify_id" text NOT NULL,
	"hospital_id" text,
	"merchant_account_id" text,
	"event_type" text,
	"out_trade_no" text,
	"headers" jsonb DEFAULT '{}'::jsonb NOT NULL,
	"raw_body" text NOT NULL,
	"verified" boolean DEFAULT false NOT NULL,
	"outcome" text NOT NULL,
	"error" text,
	"received_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
CREATE TABLE "open_api_calls" (
	"id" bigserial PRIMARY KEY NOT NULL,
	"app_id" text,
	"hospital_id" text,
	"method" text NOT NULL,
	"path" text NOT NULL,
	"http_status" integer NOT NULL,
	"error_code" text,
	"latency_ms" integer NOT NULL,
	"ip" text,
	"request_id" text,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
CREATE TABLE "open_api_nonces" (
	"app_id" text NOT NULL,
	"nonce" text NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "open_api_nonces_app_id_nonce_pk" PRIMARY KEY("app_id","nonce")
);
--> statement-breakpoint
CREATE TABLE "order_bills" (
	"order_id" text NOT NULL,
	"bill_id" text NOT NULL,
	"bill_version" integer NOT NULL,
	"amount_fen" bigint NOT NULL,
	CONSTRAINT "order_bills_order_id_bill_id_pk" PRIMARY KEY("order_id","bill_id")
);
--> statement-breakpoint
CREATE TABLE "order_events" (
	"id" bigserial PRIMARY KEY NOT NULL,
	"order_id" text NOT NULL,
	"hospital_id" text NOT NULL,
	"event" text NOT NULL,
	"from_status" text,
	"to_status" text NOT NULL,
	"actor" text NOT NULL,
	"reason" text,
	"data" jsonb DEFAULT '{}'::jsonb NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
CREATE TABLE "orders" (
	"id" text PRIMARY KEY NOT NULL,
	"order_no" text NOT NULL,
	"hospital_id" text NOT NULL,
	"patient_id" text NOT NULL,
	"status" text NOT NULL,
	"amount_fen" bigint NOT NULL,
	"channel" text NOT NULL,
	"trade_type" text NOT NULL,
	"merchant_account_id" text NOT NULL,
	"expires_at" timestamp with time zone NOT NULL,
	"paid_at" timestamp with time zone,
	"settled_at" timestamp with time zone,
	"closed_at" timestamp with time zone,
	"his_sync_status" text DEFAULT 'NONE' NOT NULL,
	"one_sided" boolean DEFAULT false NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "orders_order_no_unique" UNIQUE("order_no")
);
--> statement-breakpoint
CREATE TABLE "outbound_calls" (
	"id" bigserial PRIMARY KEY NOT NULL,
	"hospital_id" text,
	"party" text NOT NULL,
	"operation" text NOT NULL,
	"order_no" text,
	"method" text NOT NULL,
	"url" text NOT NULL,
	"http_status" integer,
	"latency_ms" integer NOT NULL,
	"result" text NOT NULL,
	"error_code" text,
	"error_message" text,
	"request" jsonb,
	"response" jsonb,
	"request_id" text,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
CREATE TABLE "patients" (
	"id" text PRIMARY KEY NOT NULL,
	"hospital_id" text NOT NULL,
	"his_patient_id" text NOT NULL,
	"name" text NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
CREATE TABLE "payments" (
	"id" text PRIMARY KEY NOT NULL,
	"order_id" text NOT NULL,
	"hospital_id" text NOT NULL,
	"channel" text NOT NULL,
	"trade_type" text NOT NULL,
	"out_trade_no" text NOT NULL,
	"amount_fen" bigint NOT NULL,
	"status" text DEFAULT 'PENDING' NOT NULL,
	"channel_trade_no" text,
	"prepay" jsonb,
	"paid_at" timestamp with time zone,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "payments_out_trade_no_unique" UNIQUE("out_trade_no")
);
--> statement-breakpoint
ALTER TABLE "bills" ADD CONSTRAINT "bills_hospital_id_hospitals_id_fk" FOREIGN KEY ("hospital_id") REFERENCES "public"."hospitals"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "bills" ADD CONSTRAINT "bills_patient_id_patients_id_fk" FOREIGN KEY ("patient_id") REFERENCES "public"."patients"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "his_apps" ADD CONSTRAINT "his_apps_hospital_id_hospitals_id_fk" FOREIGN KEY ("hospital_id") REFERENCES "public"."hospitals"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "his_pushes" ADD CONSTRAINT "his_pushes_order_id_orders_id_fk" FOREIGN KEY ("order_id") REFERENCES "public"."orders"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "merchant_accounts" ADD CONSTRAINT "merchant_accounts_hospital_id_hospitals_id_fk" FOREIGN KEY ("hospital_id") REFERENCES "public"."hospitals"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "order_bills" ADD CONSTRAINT "order_bills_order_id_orders_id_fk" FOREIGN KEY ("order_id") REFERENCES "public"."orders"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "order_bills" ADD CONSTRAINT "order_bills_bill_id_bills_id_fk" FOREIGN KEY ("bill_id") REFERENCES "public"."bills"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "order_events" ADD CONSTRAINT "order_events_order_id_orders_id_fk" FOREIGN KEY ("order_id") REFERENCES "public"."orders"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "orders" ADD CONSTRAINT "orders_hospital_id_hospitals_id_fk" FOREIGN KEY ("hospital_id") REFERENCES "public"."hospitals"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "orders" ADD CONSTRAINT "orders_patient_id_patients_id_fk" FOREIGN KEY ("patient_id") REFERENCES "public"."patients"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "orders" ADD CONSTRAINT "orders_merchant_account_id_merchant_accounts_id_fk" FOREIGN KEY ("merchant_account_id") REFERENCES "public"."merchant_accounts"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "patients" ADD CONSTRAINT "patients_hospital_id_hospitals_id_fk" FOREIGN KEY ("hospital_id") REFERENCES "public"."hospitals"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "payments" ADD CONSTRAINT "payments_order_id_orders_id_fk" FOREIGN KEY ("order_id") REFERENCES "public"."orders"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
CREATE INDEX "alerts_status_created_idx" ON "alerts" USING btree ("status","created_at");--> statement-breakpoint
CREATE UNIQUE INDEX "bills_hospital_his_no_uq" ON "bills" USING btree ("hospital_id","his_bill_no");--> statement-breakpoint
CREATE INDEX "bills_patient_status_idx" ON "bills" USING btree ("patient_id","status");--> statement-breakpoint
CREATE INDEX "his_pushes_order_idx" ON "his_pushes" USING btree ("order_id");--> statement-breakpoint
CREATE UNIQUE INDEX "merchant_accounts_hospital_channel_uq" ON "merchant_accounts" USING btree ("hospital_id","channel");--> statement-breakpoint
CREATE UNIQUE INDEX "notification_inbox_channel_notify_uq" ON "notification_inbox" USING btree ("channel","notify_id");--> statement-breakpoint
CREATE INDEX "notification_inbox_out_trade_no_idx" ON "notification_inbox" USING btree ("out_trade_no");--> statement-breakpoint
CREATE INDEX "open_api_calls_created_idx" ON "open_api_calls" USING btree ("created_at");--> statement-breakpoint
CREATE INDEX "open_api_calls_app_idx" ON "open_api_calls" USING btree ("app_id","created_at");--> statement-breakpoint
CREATE INDEX "open_api_nonces_created_idx" ON "open_api_nonces" USING btree ("created_at");--> statement-breakpoint
CREATE INDEX "order_bills_bill_idx" ON "order_bills" USING btree ("bill_id");--> statement-breakpoint
CREATE INDEX "order_events_order_idx" ON "order_events" USING btree ("order_id","id");--> statement-breakpoint
CREATE INDEX "orders_status_created_idx" ON "orders" USING btree ("status","created_at");--> statement-breakpoint
CREATE INDEX "orders_patient_idx" ON "orders" USING btree ("patient_id","created_at");--> statement-breakpoint
CREATE INDEX "orders_hospital_created_idx" ON "orders" USING btree ("hospital_id","created_at");--> statement-breakpoint
CREATE INDEX "outbound_calls_created_idx" ON "outbound_calls" USING btree ("created_at");--> statement-breakpoint
CREATE INDEX "outbound_calls_order_idx" ON "outbound_calls" USING btree ("order_no");--> statement-breakpoint
CREATE INDEX "outbound_calls_failed_idx" ON "outbound_calls" USING btree ("created_at") WHERE result <> 'SUCCESS';--> statement-breakpoint
CREATE UNIQUE INDEX "patients_hospital_his_uq" ON "patients" USING btree ("hospital_id","his_patient_id");--> statement-breakpoint
CREATE INDEX "payments_order_idx" ON "payments" USING btree ("order_id");