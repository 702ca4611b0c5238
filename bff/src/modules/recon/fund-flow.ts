import { sql } from 'drizzle-orm';
import { SETTLEMENT_BUSINESS_TYPES } from '../../channels/wechatpay/fund-flow-bill';
import type { Db } from '../../db/client';

/**
 * What the channels' fund-flow bills (资金账单) say about a hospital's day, from recon_fund_flow_lines. The
 * lines keep the channel's own words; the ones read here (WeChat Pay, `FUND_FLOW_BUSINESS_TYPES`):
 *
 * | 业务类型         | direction | meaning                                                      |
 * | ---------------- | --------- | ------------------------------------------------------------ |
 * | 交易             | IN        | a patient's payment credited to the merchant's balance       |
 * | 退款             | OUT       | a refund paid out of the balance                             |
 * | 扣除交易手续费   | OUT       | the channel's fee of a payment                               |
 * | 退回交易手续费   | IN        | the fee of a refunded amount given back                      |
 * | 提现 (自动提现)  | OUT       | the balance settled to the hospital's bank account: arrival  |
 */

/** Per channel: the money the fund-flow bills of `date` sent to the hospital's bank account (提现), fen. */
export async function bankArrivalByChannel(
  db: Db,
  hospitalId: string,
  date: string,
): Promise<{ channel: string; bankArrivalFen: number; settlements: number }[]> {
  const types = sql`ARRAY[${sql.join(
    SETTLEMENT_BUSINESS_TYPES.map((t) => sql`${t}`),
    sql`, `,
  )}]::text[]`;
  const res = (await db.execute(sql`
    SELECT l.channel, coalesce(sum(l.amount_fen), 0)::bigint AS fen, count(*)::int AS n
    FROM recon_fund_flow_lines l
    JOIN recon_statements s ON s.id = l.statement_id AND s.status = 'IMPORTED'
    WHERE l.hospital_id = ${hospitalId} AND l.bill_date = ${date}
      AND l.direction = 'OUT' AND l.business_type = ANY(${types})
    GROUP BY l.channel ORDER BY l.channel
  `)) as unknown as { rows: { channel: string; fen: string | number; n: number }[] };
  return res.rows.map((r) => ({
    channel: r.channel,
    bankArrivalFen: Number(r.fen),
    settlements: Number(r.n),
  }));
}

/**
 * The bank arrival of a hospital's day: everything the imported fund-flow bills of `date` settled to the
 * hospital's bank account (提现 lines), in fen. 0 when no fund-flow bill of the day is in.
 */
export async function bankArrivalFen(db: Db, hospitalId: string, date: string): Promise<number> {
  return (await bankArrivalByChannel(db, hospitalId, date)).reduce((a, c) => a + c.bankArrivalFen, 0);
}
