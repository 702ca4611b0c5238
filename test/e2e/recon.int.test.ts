import { and, eq, sql } from 'drizzle-orm';
import { alerts, patients } from '../../bff/src/db/schema';
import { reconItems } from '../../bff/src/db/schema-recon';
import { runReconciliation } from '../../bff/src/modules/recon/engine';
import { recordHisLedger } from '../../bff/src/modules/recon/intake';
import { generateReconDay, type Injected } from '../support/recon-day';
import { startTestStack, type TestStack } from '../support/platform';

/** The matching engine on generated days with known discrepancies, the holding pool, and the ledger check. */
describe('reconciliation engine', () => {
  let s: TestStack;
  let patientId: string;
  beforeAll(async () => {
    s = await startTestStack({}, { workers: false });
    [{ id: patientId }] = (await s.platform.deps.db
      .select({ id: patients.id })
      .from(patients)
      .where(eq(patients.hisPatientId, 'P0001'))) as [{ id: string }];
  });
  afterAll(async () => {
    await s?.stop();
  });
  const db = () => s.platform.deps.db;
  const items = (date: string) =>
    db()
      .select()
      .from(reconItems)
      .where(and(eq(reconItems.hospitalId, 'hosp_h001'), eq(reconItems.businessDate, date)));
  const byOutcome = (rows: { outcome: string; keyNo: string }[]) => {
    const out: Record<string, string[]> = {};
    for (const r of rows) (out[r.outcome] ??= []).push(r.keyNo);
    for (const k of Object.keys(out)) out[k]!.sort();
    return out;
  };

  it('finds every injected difference of every kind and nothing else', async () => {
    const date = '2026-10-01';
    const day = await generateReconDay(db(), {
      hospitalId: 'hosp_h001',
      accountId: 'ma_h001_wechatpay',
      patientId,
      date,
      n: 2000,
      k: 3,
    });
    const r = await runReconciliation(s.platform.deps, {
      hospitalId: 'hosp_h001',
      date,
      triggeredBy: 'test',
    });
    expect(r.channelsCompared).toEqual(['wechatpay']);
    expect(r.hisLedger).toBe(true);
    const expected: Record<string, string[]> = {};
    for (const [k, v] of Object.entries(day.injected as Injected)) expected[k] = [...v].sort();
    expect(byOutcome(await items(date))).toEqual(expected);
    expect(r.newDifferences).toEqual(Object.fromEntries(Object.keys(expected).map((k) => [k, 3])));

    // The figures: the platform's payments are every SUCCESS payment of the day; refunds all matched.
    const pay = r.rows.find((x) => x.channel === 'wechatpay' && x.kind === 'PAYMENT')!;
    const ref = r.rows.find((x) => x.channel === 'wechatpay' && x.kind === 'REFUND')!;
    expect(pay.platformCount).toBe(2000 - 3); // the status-mismatch orders were never paid here
    expect(pay.channelCount).toBe(2000 - 3 + 3); // less the platform-only, plus the channel-only
    expect(pay.hisCount).toBe(2000 - 3 - 3 + 3); // less his-missing and closed, plus his-only
    expect(pay.differences).toBe(21);
    expect(ref).toMatchObject({
      platformCount: day.refunds,
      channelCount: day.refunds,
      hisCount: day.refunds,
    });
    expect(ref.differences).toBe(0);
    expect(r.offline).toEqual([
      { channel: 'CASH', paymentCount: 5, paymentFen: 15000, refundCount: 0, refundFen: 0 },
    ]);
    // Amount and status differences and fee differences are raised at once; cut-off ones wait.
    const rows = await items(date);
    expect(
      rows
        .filter((x) => x.status === 'OPEN')
        .map((x) => x.outcome)
        .sort(),
    ).toEqual([
      ...Array(3).fill('amount_mismatch'),
      ...Array(3).fill('fee_difference'),
      ...Array(3).fill('status_mismatch'),
    ]);
    expect(rows.filter((x) => x.status === 'HOLDING')).toHaveLength(12);
    const [alert] = await db()
      .select()
      .from(alerts)
      .where(and(eq(alerts.kind, 'recon_difference'), eq(alerts.hospitalId, 'hosp_h001')));
    expect(alert?.message).toContain('9 笔');

    // A second run finds the same and adds nothing; the items keep their state.
    const again = await runReconciliation(s.platform.deps, {
      hospitalId: 'hosp_h001',
      date,
      triggeredBy: 'test',
    });
    expect(again.newDifferences).toEqual({});
    expect(await items(date)).toHaveLength(21);
  });

  it('holds a cut-off difference and clears it when the counterpart appears the next day', async () => {
    const d1 = '2026-10-05';
    const d2 = '2026-10-06';
    // A payment at 23:59:59.6 here that the channel books at 00:00:00.4 the next day, and one the channel
    // never books at all.
    await db().execute(sql`
      INSERT INTO orders (id, order_no, hospital_id, patient_id, status, amount_fen, channel, trade_type,
                          merchant_account_id, expires_at, paid_at, his_sync_status)
      VALUES ('ord_X1', 'X1', 'hosp_h001', ${patientId}, 'SETTLED', 880, 'wechatpay', 'NATIVE', 'ma_h001_wechatpay',
              '2026-10-06T00:10:00+08:00', '2026-10-05T23:59:59.6+08:00', 'ACKED'),
             ('ord_X2', 'X2', 'hosp_h001', ${patientId}, 'SETTLED', 990, 'wechatpay', 'NATIVE', 'ma_h001_wechatpay',
              '2026-10-05T20:10:00+08:00', '2026-10-05T20:00:00+08:00', 'ACKED')`);
    await db().execute(sql`
      INSERT INTO payments (id, order_id, hospital_id, channel, trade_type, out_trade_no, amount_fen, status, paid_at)
      VALUES ('pay_X1', 'ord_X1', 'hosp_h001', 'wechatpay', 'NATIVE', 'X1', 880, 'SUCCESS', '2026-10-05T23:59:59.6+08:00'),
             ('pay_X2', 'ord_X2', 'hosp_h001', 'wechatpay', 'NATIVE', 'X2', 990, 'SUCCESS', '2026-10-05T20:00:00+08:00')`);
    for (const [date, id] of [
      [d1, 'stm_x1'],
      [d2, 'stm_x2'],
    ] as const) {
      await db().execute(sql`
        INSERT INTO recon_statements (id, hospital_id, merchant_account_id, channel, bill_date, status, source)
        SELECT ${id} || ma.channel, 'hosp_h001', ma.id, ma.channel, ${date},
               CASE WHEN ma.channel = 'wechatpay' THEN 'IMPORTED' ELSE 'NO_TRADE' END, 'UPLOAD'
        FROM merchant_accounts ma WHERE ma.hospital_id = 'hosp_h001'`);
    }

    const r1 = await runReconciliation(s.platform.deps, {
      hospitalId: 'hosp_h001',
      date: d1,
      triggeredBy: 'test',
    });
    // credit: the credit-pay account's statement is reconciled like any channel's.
    expect(r1.channelsCompared.sort()).toEqual(['alipay', 'bankpay', 'credit', 'wechatpay']);
    expect(r1.hisLedger).toBe(false); // no ledger: the HIS side is not compared, nothing is his_missing
    expect(byOutcome(await items(d1))).toEqual({ platform_only: ['X1', 'X2'] });
    expect((await items(d1)).map((i) => [i.status, i.holdUntil])).toEqual([
      ['HOLDING', d2],
      ['HOLDING', d2],
    ]);

    // The next day's statement arrives with the other half of X1.
    await db().execute(sql`
      INSERT INTO recon_statement_lines (statement_id, hospital_id, bill_date, channel, kind, order_no, amount_fen,
                                         fee_fen, occurred_at)
      VALUES ('stm_x2wechatpay', 'hosp_h001', ${d2}, 'wechatpay', 'PAYMENT', 'X1', 880, 5,
              '2026-10-06T00:00:00.4+08:00')`);
    const r2 = await runReconciliation(s.platform.deps, {
      hospitalId: 'hosp_h001',
      date: d2,
      triggeredBy: 'test',
    });
    // X1's two halves meet across midnight; X2 never appeared and is now a person's job, with an alert.
    expect(r2.resolvedCrossDay).toBe(2);
    expect(r2.expired).toBe(1);
    const day1 = await items(d1);
    expect(day1.find((i) => i.keyNo === 'X1')).toMatchObject({
      status: 'RESOLVED',
      resolution: 'matched_cross_day',
    });
    expect(day1.find((i) => i.keyNo === 'X2')).toMatchObject({ status: 'OPEN' });
    expect((await items(d2)).map((i) => [i.keyNo, i.outcome, i.status])).toEqual([
      ['X1', 'channel_only', 'RESOLVED'],
    ]);
    const expiredAlerts = await db().select().from(alerts).where(eq(alerts.kind, 'recon_hold_expired'));
    // (The first test's cut-off differences expired at the first run of a later day: 12 of them.)
    expect(expiredAlerts.map((a) => [(a.data as { date: string }).date, a.message])).toEqual([
      ['2026-10-05', expect.stringContaining('12 笔')],
      [d2, expect.stringContaining('1 笔')],
    ]);
  });

  it('a HIS ledger naming a payment we never took raises a one-sided entry at once', async () => {
    const before = (await db().select().from(alerts).where(eq(alerts.kind, 'his_paid_without_payment')))
      .length;
    const r = await recordHisLedger(s.platform.deps, {
      hospitalId: 'hosp_h001',
      date: '2026-10-05',
      source: 'PUSH',
      lines: [
        {
          kind: 'PAYMENT',
          channel: 'wechatpay',
          hisTradeNo: 'H-1',
          orderNo: 'X1',
          amountFen: 880,
          occurredAt: '2026-10-05T23:59:59+08:00',
        },
        {
          kind: 'PAYMENT',
          channel: 'wechatpay',
          hisTradeNo: 'H-2',
          orderNo: 'NEVER-PAID',
          amountFen: 500,
          occurredAt: '2026-10-05T10:00:00+08:00',
        },
        {
          kind: 'PAYMENT',
          channel: 'CASH',
          hisTradeNo: 'C-1',
          amountFen: 2000,
          occurredAt: '2026-10-05T09:00:00+08:00',
        },
      ],
    });
    expect(r).toMatchObject({ version: 1, lineCount: 3, withoutPlatformPayment: 1 });
    expect(r.totals).toEqual({
      wechatpay: { count: 2, paymentFen: 1380, refundFen: 0 },
      CASH: { count: 1, paymentFen: 2000, refundFen: 0 },
    });
    const after = await db().select().from(alerts).where(eq(alerts.kind, 'his_paid_without_payment'));
    expect(after).toHaveLength(before + 1);
    expect(after.at(-1)!.data).toMatchObject({
      count: 1,
      orders: [{ orderNo: 'NEVER-PAID', amountFen: 500 }],
    });
    // A duplicate record is refused and nothing changes.
    await expect(
      recordHisLedger(s.platform.deps, {
        hospitalId: 'hosp_h001',
        date: '2026-10-05',
        source: 'PUSH',
        lines: [
          {
            kind: 'PAYMENT',
            channel: 'CASH',
            hisTradeNo: 'C-1',
            amountFen: 1,
            occurredAt: '2026-10-05T09:00:00+08:00',
          },
          {
            kind: 'PAYMENT',
            channel: 'CASH',
            hisTradeNo: 'C-1',
            amountFen: 2,
            occurredAt: '2026-10-05T09:00:00+08:00',
          },
        ],
      }),
    ).rejects.toThrow(/duplicate record PAYMENT CASH C-1/);
    const lines = await db().execute(
      sql`SELECT count(*)::int AS n FROM his_ledger_lines WHERE ledger_date = '2026-10-05'`,
    );
    expect((lines as unknown as { rows: { n: number }[] }).rows[0]!.n).toBe(3);
  });
});
