import { sql } from 'drizzle-orm';
import type { Db } from '../../bff/src/db/client';
import { beijingDayRange } from '../../bff/src/modules/recon/dates';

/** What a generated day holds wrong on purpose, by outcome: the payment or refund numbers. */
export type Injected = Record<
  | 'channel_only'
  | 'platform_only'
  | 'his_only'
  | 'his_missing'
  | 'amount_mismatch'
  | 'status_mismatch'
  | 'fee_difference',
  string[]
>;

/** The account's agreed fee in this generated world: 0.6 % (6000 ppm), rounded half up. */
export const GENERATED_FEE_PPM = 6000;

/**
 * A business day of `n` WeChat Pay payments (every tenth also partly refunded) written straight into the
 * database with set-based SQL — our orders and payments, the channel's imported statement and the HIS's
 * ledger — with `k` discrepancies of every kind injected at known numbers. Used by the reconciliation tests
 * and `npm run bench:recon`; numbers start with `prefix` so several days can share a database.
 */
export async function generateReconDay(
  db: Db,
  o: {
    hospitalId: string;
    accountId: string;
    patientId: string;
    date: string;
    n: number;
    k: number;
    prefix?: string;
  },
): Promise<{ injected: Injected; payments: number; refunds: number }> {
  const { start } = beijingDayRange(o.date);
  const p = `${o.prefix ?? 'G'}${o.date.replaceAll('-', '')}`;
  const { n, k } = o;
  if (n < 5 * k + 10) throw new Error('n must leave room for the injected records');
  const num = (g: number) => `${p}${String(g).padStart(8, '0')}`;
  const range = (a: number, b: number) => Array.from({ length: b - a + 1 }, (_, i) => num(a + i));
  const injected: Injected = {
    platform_only: range(1, k),
    his_missing: range(k + 1, 2 * k),
    amount_mismatch: range(2 * k + 1, 3 * k),
    status_mismatch: range(3 * k + 1, 4 * k),
    fee_difference: range(4 * k + 1, 5 * k),
    channel_only: range(n + 1, n + k),
    his_only: range(n + k + 1, n + 2 * k),
  };
  const stmtId = `stm_${p}`;
  const ledgerId = `hlg_${p}`;
  // g → order number, amount, time of payment (spread over the day, the last one before 23:59:00).
  const g = sql.raw(`g`);
  /** Numbers as SQL literals (they are ours, integers): generate_series needs typed arguments. */
  const lit = (x: number) => sql.raw(String(Math.trunc(x)));
  const orderNo = sql`${p} || lpad(${g}::text, 8, '0')`;
  const amount = sql`(100 + (${g} * 37) % 50000)::bigint`;
  const paidAt = sql`${start}::timestamptz + (${g}::bigint * 86000000 / ${lit(n + 2 * k + 1)}) * interval '1 millisecond'`;
  const fee = sql`((${amount}) * ${lit(GENERATED_FEE_PPM)} + 500000) / 1000000`;
  const refunded = sql`(${g} > ${lit(5 * k)} AND ${g} % 10 = 0)`;
  const closed = sql`(${g} > ${lit(3 * k)} AND ${g} <= ${lit(4 * k)})`;

  await db.execute(sql`
    UPDATE merchant_accounts SET settings = settings || ${JSON.stringify({ feeRatePpm: String(GENERATED_FEE_PPM) })}::jsonb
    WHERE id = ${o.accountId}`);
  await db.execute(sql`
    INSERT INTO orders (id, order_no, hospital_id, patient_id, status, amount_fen, channel, trade_type,
                        merchant_account_id, expires_at, paid_at, settled_at, closed_at, his_sync_status,
                        refunded_fen, created_at, updated_at)
    SELECT 'ord_' || ${orderNo}, ${orderNo}, ${o.hospitalId}, ${o.patientId},
           CASE WHEN ${closed} THEN 'CLOSED' WHEN ${refunded} THEN 'PARTIALLY_REFUNDED' ELSE 'SETTLED' END,
           ${amount}, 'wechatpay', 'NATIVE', ${o.accountId}, ${paidAt} + interval '15 minutes',
           CASE WHEN ${closed} THEN NULL ELSE ${paidAt} END, CASE WHEN ${closed} THEN NULL ELSE ${paidAt} END,
           CASE WHEN ${closed} THEN ${paidAt} END, CASE WHEN ${closed} THEN 'NONE' ELSE 'ACKED' END,
           CASE WHEN ${refunded} THEN (${amount}) / 2 ELSE 0 END, ${paidAt}, ${paidAt}
    FROM generate_series(1, ${lit(n)}) AS g`);
  await db.execute(sql`
    INSERT INTO payments (id, order_id, hospital_id, channel, trade_type, out_trade_no, amount_fen, status,
                          channel_trade_no, paid_at, created_at, updated_at)
    SELECT 'pay_' || ${orderNo}, 'ord_' || ${orderNo}, ${o.hospitalId}, 'wechatpay', 'NATIVE', ${orderNo}, ${amount},
           CASE WHEN ${closed} THEN 'CLOSED' ELSE 'SUCCESS' END, '42' || ${orderNo},
           CASE WHEN ${closed} THEN NULL ELSE ${paidAt} END, ${paidAt}, ${paidAt}
    FROM generate_series(1, ${lit(n)}) AS g`);
  await db.execute(sql`
    INSERT INTO refunds (id, refund_no, hospital_id, order_id, payment_id, amount_fen, status, reason, requested_by,
                         method, channel_refund_id, succeeded_at, created_at, updated_at)
    SELECT 'ref_' || ${orderNo}, 'R' || ${orderNo}, ${o.hospitalId}, 'ord_' || ${orderNo}, 'pay_' || ${orderNo},
           (${amount}) / 2, 'SUCCESS', '部分退费', 'system', 'CHANNEL', '50' || ${orderNo},
           ${paidAt} + interval '1 second', ${paidAt}, ${paidAt}
    FROM generate_series(1, ${lit(n)}) AS g WHERE ${refunded}`);

  // The channel's statement: every payment but the platform-only ones, the channel-only extras; amounts
  // and fees off by one fen where injected; refunds with their fee returned.
  await db.execute(sql`
    INSERT INTO recon_statements (id, hospital_id, merchant_account_id, channel, bill_date, status, source,
                                  file_name, line_count, attempts, imported_by, imported_at)
    VALUES (${stmtId}, ${o.hospitalId}, ${o.accountId}, 'wechatpay', ${o.date}, 'IMPORTED', 'UPLOAD',
            'generated.csv', 0, 1, 'generator', now())
    ON CONFLICT (merchant_account_id, bill_date, bill_type) DO NOTHING`);
  await db.execute(sql`
    INSERT INTO recon_statement_lines (statement_id, hospital_id, bill_date, channel, kind, order_no, refund_no,
                                       channel_trade_no, channel_refund_id, amount_fen, fee_fen, occurred_at)
    SELECT (SELECT id FROM recon_statements WHERE merchant_account_id = ${o.accountId} AND bill_date = ${o.date}),
           ${o.hospitalId}, ${o.date}, 'wechatpay', 'PAYMENT', ${orderNo}, NULL, '42' || ${orderNo}, NULL,
           ${amount} + CASE WHEN ${g} > ${lit(2 * k)} AND ${g} <= ${lit(3 * k)} THEN 1 ELSE 0 END,
           ${fee} + CASE WHEN ${g} > ${lit(4 * k)} AND ${g} <= ${lit(5 * k)} THEN 1 ELSE 0 END, ${paidAt}
    FROM generate_series(${lit(k + 1)}, ${lit(n + k)}) AS g`);
  await db.execute(sql`
    INSERT INTO recon_statement_lines (statement_id, hospital_id, bill_date, channel, kind, order_no, refund_no,
                                       channel_trade_no, channel_refund_id, amount_fen, fee_fen, occurred_at)
    SELECT (SELECT id FROM recon_statements WHERE merchant_account_id = ${o.accountId} AND bill_date = ${o.date}),
           ${o.hospitalId}, ${o.date}, 'wechatpay', 'REFUND', ${orderNo}, 'R' || ${orderNo}, '42' || ${orderNo},
           '50' || ${orderNo}, (${amount}) / 2, (((${amount}) / 2) * ${lit(GENERATED_FEE_PPM)} + 500000) / 1000000,
           ${paidAt} + interval '1 second'
    FROM generate_series(1, ${lit(n)}) AS g WHERE ${refunded}`);

  // The HIS ledger: every payment the HIS was told of (not the his-missing or closed ones), the HIS-only
  // extras, the refunds, and some cash at the window.
  await db.execute(sql`
    INSERT INTO his_ledgers (id, hospital_id, ledger_date, source, version, line_count, totals)
    VALUES (${ledgerId}, ${o.hospitalId}, ${o.date}, 'PUSH', 1, 0, '{}'::jsonb)
    ON CONFLICT (hospital_id, ledger_date) DO NOTHING`);
  const ledger = sql`(SELECT id FROM his_ledgers WHERE hospital_id = ${o.hospitalId} AND ledger_date = ${o.date})`;
  await db.execute(sql`
    INSERT INTO his_ledger_lines (ledger_id, hospital_id, ledger_date, kind, channel, his_trade_no, order_no,
                                  refund_no, terminal_ref, amount_fen, occurred_at)
    SELECT ${ledger}, ${o.hospitalId}, ${o.date}, 'PAYMENT', 'wechatpay', 'H' || ${orderNo}, ${orderNo}, NULL, NULL,
           ${amount}, ${paidAt}
    FROM generate_series(1, ${lit(n + 2 * k)}) AS g
    WHERE NOT (${g} > ${lit(k)} AND ${g} <= ${lit(2 * k)}) AND NOT ${closed} AND NOT (${g} > ${lit(n)} AND ${g} <= ${lit(n + k)})`);
  await db.execute(sql`
    INSERT INTO his_ledger_lines (ledger_id, hospital_id, ledger_date, kind, channel, his_trade_no, order_no,
                                  refund_no, terminal_ref, amount_fen, occurred_at)
    SELECT ${ledger}, ${o.hospitalId}, ${o.date}, 'REFUND', 'wechatpay', 'HR' || ${orderNo}, ${orderNo},
           'R' || ${orderNo}, NULL, (${amount}) / 2, ${paidAt} + interval '1 second'
    FROM generate_series(1, ${lit(n)}) AS g WHERE ${refunded}`);
  await db.execute(sql`
    INSERT INTO his_ledger_lines (ledger_id, hospital_id, ledger_date, kind, channel, his_trade_no, order_no,
                                  refund_no, terminal_ref, amount_fen, occurred_at)
    SELECT ${ledger}, ${o.hospitalId}, ${o.date}, 'PAYMENT', 'CASH', 'C' || ${p} || g, NULL, NULL, NULL,
           1000 * g, ${start}::timestamptz + g * interval '1 hour'
    FROM generate_series(1, 5) AS g`);
  const refunds = Math.floor(n / 10) - Math.floor((5 * k) / 10);
  return { injected, payments: n, refunds };
}
