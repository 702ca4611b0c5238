import { sql } from 'drizzle-orm';
import { fenToYuan } from '@hp/shared';
import type { Db } from '../../db/client';
import { AppError } from '../../lib/errors';
import { beijingDayRange, isBusinessDate } from './dates';

/**
 * The platform's reconciliation file for one hospital and day (平台对账文件), for the HIS to check its own
 * books against: every successful payment and refund of the day with our numbers, the HIS bill numbers,
 * the channel's numbers, the amount in fen and in yuan, and what reconciliation says about it (blank while
 * the day has not been reconciled). UTF-8 CSV with a header; the last line is a summary
 * `#total,<payments>,<payment fen>,<refunds>,<refund fen>` so a truncated file is recognisable.
 */
export async function platformReconFile(db: Db, hospitalId: string, date: string): Promise<string> {
  if (!isBusinessDate(date)) throw new AppError('bad_request', 'date must be YYYY-MM-DD');
  const { start, end } = beijingDayRange(date);
  const rows = (
    (await db.execute(sql`
      WITH t AS (
        SELECT 'PAYMENT' AS kind, o.order_no, NULL::text AS refund_no, NULL::text AS his_refund_no, o.id AS order_id,
               p.channel, p.channel_trade_no AS channel_no, p.amount_fen, p.paid_at AS at
        FROM payments p JOIN orders o ON o.id = p.order_id
        WHERE p.hospital_id = ${hospitalId} AND p.status = 'SUCCESS' AND p.paid_at >= ${start} AND p.paid_at < ${end}
        UNION ALL
        SELECT 'REFUND', o.order_no, r.refund_no, r.his_refund_no, o.id,
               CASE WHEN r.method = 'CASH' THEN 'cash' ELSE o.channel END, r.channel_refund_id, r.amount_fen,
               r.succeeded_at
        FROM refunds r JOIN orders o ON o.id = r.order_id
        WHERE r.hospital_id = ${hospitalId} AND r.status = 'SUCCESS'
          AND r.succeeded_at >= ${start} AND r.succeeded_at < ${end}
      )
      SELECT t.kind, t.order_no, t.refund_no, t.his_refund_no, t.channel, t.channel_no, t.amount_fen, t.at,
             (SELECT string_agg(b.his_bill_no, ';' ORDER BY b.his_bill_no)
                FROM order_bills ob JOIN bills b ON b.id = ob.bill_id WHERE ob.order_id = t.order_id) AS his_bill_nos,
             (SELECT string_agg(i.outcome || ':' || i.status, ';' ORDER BY i.id) FROM recon_items i
               WHERE i.hospital_id = ${hospitalId} AND i.business_date = ${date} AND i.kind = t.kind
                 AND i.key_no = coalesce(t.refund_no, t.order_no)) AS recon
      FROM t ORDER BY t.at, t.kind, t.order_no
    `)) as unknown as {
      rows: {
        kind: string;
        order_no: string;
        refund_no: string | null;
        his_refund_no: string | null;
        channel: string;
        channel_no: string | null;
        amount_fen: string | number;
        at: Date | string;
        his_bill_nos: string | null;
        recon: string | null;
      }[];
    }
  ).rows;
  const cell = (v: string | null | undefined) => {
    const s = v ?? '';
    return /[",\n]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
  };
  const out = [
    'kind,order_no,refund_no,his_refund_no,his_bill_nos,channel,channel_no,amount_fen,amount_yuan,occurred_at,recon',
  ];
  let pays = 0;
  let payFen = 0;
  let refs = 0;
  let refFen = 0;
  for (const r of rows) {
    const fen = Number(r.amount_fen);
    if (r.kind === 'PAYMENT') {
      pays++;
      payFen += fen;
    } else {
      refs++;
      refFen += fen;
    }
    out.push(
      [
        r.kind,
        cell(r.order_no),
        cell(r.refund_no),
        cell(r.his_refund_no),
        cell(r.his_bill_nos),
        r.channel,
        cell(r.channel_no),
        String(fen),
        fenToYuan(fen),
        new Date(r.at).toISOString(),
        cell(r.recon),
      ].join(','),
    );
  }
  out.push(`#total,${pays},${payFen},${refs},${refFen}`);
  return `${out.join('\n')}\n`;
}
