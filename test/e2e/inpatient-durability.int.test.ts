import { and, eq, inArray, like, or, sql } from 'drizzle-orm';
import {
  alerts,
  bills,
  inpatientSettlements,
  orderBills,
  orders,
  patients,
  refunds,
} from '../../bff/src/db/schema';
import { QUEUES } from '../../bff/src/jobs/queue';
import { SETTLEMENT_REFUND_TRIES } from '../../bff/src/modules/inpatient/events';
import { recordSettlement } from '../../bff/src/modules/inpatient/service';
import { sweep } from '../../bff/src/modules/system/sweep';
import { startTestStack, waitFor, type TestStack } from '../support/platform';

/**
 * The refunds a discharge settlement, or its reversal, owes are driven by a job (inpatient-settlement-refunds)
 * committed with the change that owes them: a refund the bank fails is tried again under its next number, a
 * settlement whose process stopped right after the commit still refunds, spent tries raise a critical alert,
 * and a reversal's refund of a paid rest survives a failure. Real PostgreSQL, the WeChat Pay and bank
 * simulators, the job workers running; after every case the money adds up.
 */
describe('inpatient refunds are driven to the end', () => {
  let s: TestStack;
  let token: string;
  const PAID = ['PAID', 'SETTLED', 'REFUNDING', 'PARTIALLY_REFUNDED', 'REFUNDED'];
  const now = new Date().toISOString();
  let seq = 0;
  const no = (p: string) => `${p}${Date.now()}${++seq}`;
  const db = () => s.platform.deps.db;
  const bank = () => s.sandbox.bankpay;

  const admission = async (admissionNo: string) =>
    (await s.his('GET', `/open/v1/admissions/${admissionNo}`)).body;
  const settlement = async (hisSettlementNo: string) =>
    (await s.his('GET', `/open/v1/settlements/${hisSettlementNo}`)).body;

  /** Counted from the orders and refunds tables, independently of the service's own arithmetic. */
  async function moneyOf(admissionNo: string) {
    const rows = await db()
      .select({ o: orders })
      .from(bills)
      .innerJoin(orderBills, eq(orderBills.billId, bills.id))
      .innerJoin(orders, eq(orders.id, orderBills.orderId))
      .where(
        and(
          eq(bills.visitNo, admissionNo),
          or(like(bills.hisBillNo, 'YJ:%'), like(bills.hisBillNo, 'JS:%')),
          inArray(orders.status, PAID),
        ),
      );
    const paidIn = rows.reduce((sum, r) => sum + r.o.amountFen, 0);
    const ids = rows.map((r) => r.o.id);
    const back = ids.length
      ? (
          await db()
            .select()
            .from(refunds)
            .where(and(inArray(refunds.orderId, ids), eq(refunds.status, 'SUCCESS')))
        ).reduce((sum, r) => sum + r.amountFen, 0)
      : 0;
    return { paidIn, back, net: paidIn - back };
  }

  async function addsUp(admissionNo: string, expectedNet: number) {
    const m = await moneyOf(admissionNo);
    expect(m.net).toBe(expectedNet);
    expect((await admission(admissionNo)).balanceFen).toBe(expectedNet);
    return m;
  }

  /** Every refund under a settlement's numbers (`S/…`), by HIS refund number. */
  async function refundsOf(hisSettlementNo: string) {
    const rows = await db()
      .select({ r: refunds, orderNo: orders.orderNo })
      .from(refunds)
      .innerJoin(orders, eq(orders.id, refunds.orderId))
      .where(like(refunds.hisRefundNo, `${hisSettlementNo}/%`));
    return rows
      .map((x) => ({ ...x.r, orderNo: x.orderNo }))
      .sort((a, b) => a.hisRefundNo!.localeCompare(b.hisRefundNo!));
  }
  const alertsFor = async (kind: string, hisSettlementNo: string) => {
    const [row] = await db()
      .select({ id: inpatientSettlements.id })
      .from(inpatientSettlements)
      .where(eq(inpatientSettlements.hisSettlementNo, hisSettlementNo));
    return db()
      .select()
      .from(alerts)
      .where(and(eq(alerts.kind, kind), sql`${alerts.data}->>'settlementId' = ${row!.id}`));
  };

  const admit = async (admissionNo: string) => {
    const r = await s.his('POST', '/open/v1/admissions', {
      admissionNo,
      patientId: 'P0001',
      patientName: '张三',
      department: '心内科',
      admittedAt: now,
    });
    expect(r.status).toBe(200);
  };
  /** A deposit asked by the HIS and paid by the patient through WeChat Native or the bank's aggregated QR. */
  async function deposit(admissionNo: string, amountFen: number, channel: 'wechatpay' | 'bankpay') {
    const d = await s.his('POST', `/open/v1/admissions/${admissionNo}/deposits`, {
      hisDepositNo: no('D'),
      amountFen,
    });
    expect(d.status).toBe(200);
    const paid = await pay(`/api/inpatient/deposits/${d.body.id}/orders`, {}, channel);
    await waitFor(
      async () =>
        (await admission(admissionNo)).deposits.find((x: any) => x.id === d.body.id)?.status === 'PAID',
      15_000,
      'deposit paid',
    );
    return paid.orderNo as string;
  }
  async function pay(path: string, body: Record<string, unknown>, channel: 'wechatpay' | 'bankpay') {
    const r = await s.api('POST', path, { token, body: { channel, tradeType: 'NATIVE', ...body } });
    expect(r.status).toBe(201);
    if (channel === 'wechatpay') s.sandbox.wechat.pay(r.body.orderNo);
    else bank().pay(r.body.orderNo);
    return r.body;
  }
  const settle = (admissionNo: string, hisSettlementNo: string, totalCostFen: number) =>
    s.his('POST', `/open/v1/admissions/${admissionNo}/settlements`, { hisSettlementNo, totalCostFen });
  const settled = (hisSettlementNo: string, ms = 30_000) =>
    waitFor(
      async () => {
        const r = await settlement(hisSettlementNo);
        return r.status === 'SETTLED' ? r : undefined;
      },
      ms,
      `settlement ${hisSettlementNo} settled`,
    );
  const bankRefunds = (outcome: 'success' | 'fail') =>
    (bank().refundBehaviour = { outcome, notify: 'deliver' });

  beforeAll(async () => {
    s = await startTestStack();
    token = await s.login('P0001');
  });
  afterEach(() => bankRefunds('success'));
  afterAll(() => s.stop());

  it('a settlement refund the bank fails is tried again by the job under a new number; the settlement completes', async () => {
    const A = no('A');
    await admit(A);
    const wechatOrder = await deposit(A, 5_000, 'wechatpay');
    const bankOrder = await deposit(A, 4_000, 'bankpay');
    await addsUp(A, 9_000);

    bankRefunds('fail');
    const S = no('S');
    const r = await settle(A, S, 3_000);
    // Only the first try fails: the next one (due a second after the failure) meets a working bank.
    bankRefunds('success');
    expect(r.status).toBe(200);
    expect(r.body).toMatchObject({ status: 'SETTLING', refundFen: 6_000 });
    // Newest first: the bank deposit in full, then 2000 of the WeChat one.
    expect(r.body.refunds.map((x: any) => [x.orderNo, x.amountFen])).toEqual([
      [bankOrder, 4_000],
      [wechatOrder, 2_000],
    ]);

    const done = await settled(S);
    expect(done.refunds).toEqual([
      expect.objectContaining({ orderNo: bankOrder, hisRefundNo: `${S}/1/2`, status: 'SUCCESS' }),
      expect.objectContaining({ orderNo: wechatOrder, hisRefundNo: `${S}/2`, status: 'SUCCESS' }),
    ]);
    const rows = await refundsOf(S);
    expect(rows.map((x) => [x.hisRefundNo, x.orderNo, x.amountFen, x.status])).toEqual([
      [`${S}/1`, bankOrder, 4_000, 'FAILED'],
      [`${S}/1/2`, bankOrder, 4_000, 'SUCCESS'],
      [`${S}/2`, wechatOrder, 2_000, 'SUCCESS'],
    ]);
    // The bank saw two refunds of the deposit, each under its own number: one failed, one paid back.
    const atBank = [...bank().refunds.values()].filter((x) => x.outTradeNo === bankOrder);
    expect(atBank.map((x) => x.refundStatus).sort()).toEqual(['FAIL', 'SUCCESS']);
    // Money in − money out = the settled cost; each deposit counts what came back of it.
    expect(await addsUp(A, 3_000)).toMatchObject({ paidIn: 9_000, back: 6_000 });
    const a = await admission(A);
    expect(a.status).toBe('SETTLED');
    expect(a.deposits.map((d: any) => d.refundedFen)).toEqual([2_000, 4_000]);
    expect(await alertsFor('settlement_refund_failed', S)).toHaveLength(0);
    // Idempotent: the settlement call again starts nothing.
    expect((await settle(A, S, 3_000)).body.status).toBe('SETTLED');
    expect(await refundsOf(S)).toHaveLength(3);
  });

  it('the process stops right after the settlement commits: the job alone starts the refunds and finishes it', async () => {
    const A = no('A');
    await admit(A);
    await deposit(A, 5_000, 'wechatpay');
    const bankOrder = await deposit(A, 3_000, 'bankpay');
    const [patient] = await db()
      .select({ hospitalId: patients.hospitalId })
      .from(patients)
      .where(eq(patients.hisPatientId, 'P0001'));
    const S = no('S');
    // Only the recording half of the settle call: no refund is started by the caller.
    const row = await recordSettlement(s.platform.deps, patient!.hospitalId, A, {
      hisSettlementNo: S,
      totalCostFen: 2_000,
    });
    expect(row).toMatchObject({ status: 'SETTLING', refundFen: 6_000 });
    // The driver job was committed with the settlement.
    const jobs = (await db().execute(
      sql`SELECT count(*)::int AS n FROM pgboss.job WHERE name = ${QUEUES.settlementRefunds} AND data->>'settlementId' = ${row.id}`,
    )) as unknown as { rows: { n: number }[] };
    expect(jobs.rows[0]!.n).toBeGreaterThanOrEqual(1);

    const done = await settled(S);
    expect(done.refunds).toEqual([
      expect.objectContaining({
        orderNo: bankOrder,
        hisRefundNo: `${S}/1`,
        amountFen: 3_000,
        status: 'SUCCESS',
      }),
      expect.objectContaining({ hisRefundNo: `${S}/2`, amountFen: 3_000, status: 'SUCCESS' }),
    ]);
    expect((await refundsOf(S)).map((x) => x.requestedBy)).toEqual(['system:inpatient', 'system:inpatient']);
    expect(await addsUp(A, 2_000)).toMatchObject({ paidIn: 8_000, back: 6_000 });
    expect((await admission(A)).status).toBe('SETTLED');
  });

  it('a settlement whose driver chain died is restarted by the sweep and finishes', async () => {
    const [patient] = await db()
      .select({ hospitalId: patients.hospitalId })
      .from(patients)
      .where(eq(patients.hisPatientId, 'P0001'));
    // Kill the chain right after the commit; the worker may grab the job first, then try again.
    let dead: { id: string; S: string; A: string } | undefined;
    for (let i = 0; i < 3 && !dead; i++) {
      const A = no('A');
      await admit(A);
      await deposit(A, 2_500, 'wechatpay');
      const S = no('S');
      const row = await recordSettlement(s.platform.deps, patient!.hospitalId, A, {
        hisSettlementNo: S,
        totalCostFen: 1_000,
      });
      const deleted = (await db().execute(
        sql`DELETE FROM pgboss.job WHERE name = ${QUEUES.settlementRefunds} AND state = 'created' AND data->>'settlementId' = ${row.id} RETURNING id`,
      )) as unknown as { rows: unknown[] };
      if (deleted.rows.length === 1) dead = { id: row.id, S, A };
      else await settled(S);
    }
    expect(dead).toBeDefined();
    await db()
      .update(inpatientSettlements)
      .set({ updatedAt: sql`now() - interval '5 minutes'` })
      .where(eq(inpatientSettlements.id, dead!.id));
    expect((await settlement(dead!.S)).status).toBe('SETTLING');
    await sweep(s.platform.deps);
    const done = await settled(dead!.S);
    expect(done.refunds).toEqual([expect.objectContaining({ amountFen: 1_500, status: 'SUCCESS' })]);
    expect(await addsUp(dead!.A, 1_000)).toMatchObject({ paidIn: 2_500, back: 1_500 });
  });

  it('the tries spent: one critical alert, the settlement stays SETTLING and the money stays held', async () => {
    const A = no('A');
    await admit(A);
    const bankOrder = await deposit(A, 4_000, 'bankpay');
    bankRefunds('fail');
    const S = no('S');
    expect((await settle(A, S, 1_000)).status).toBe(200);

    const raised = await waitFor(
      async () => {
        const rows = await alertsFor('settlement_refund_failed', S);
        return rows.length ? rows : undefined;
      },
      30_000,
      'settlement_refund_failed alert',
    );
    const tries = Array.from({ length: SETTLEMENT_REFUND_TRIES }, (_, i) =>
      i ? `${S}/1/${i + 1}` : `${S}/1`,
    );
    expect(raised[0]).toMatchObject({
      severity: 'critical',
      status: 'OPEN',
      data: expect.objectContaining({ hisRefundNo: tries.at(-1) }),
    });
    expect(raised[0]!.orderId).toBe(
      (await db().select().from(orders).where(eq(orders.orderNo, bankOrder)))[0]!.id,
    );

    // Nothing more happens: another run of the job, and the HIS repeating its call, start no fourth try.
    await s.platform.deps.jobs.send(QUEUES.settlementRefunds, { settlementId: raised[0]!.data.settlementId });
    expect((await settle(A, S, 1_000)).status).toBe(200);
    await new Promise((r) => setTimeout(r, 2_500));
    const rows = await refundsOf(S);
    expect(rows.map((x) => [x.hisRefundNo, x.status])).toEqual(tries.map((t) => [t, 'FAILED']));
    expect(await alertsFor('settlement_refund_failed', S)).toHaveLength(1);
    const view = await settlement(S);
    expect(view.status).toBe('SETTLING');
    expect(view.refunds).toEqual([expect.objectContaining({ hisRefundNo: tries.at(-1), status: 'FAILED' })]);
    expect((await admission(A)).status).toBe('SETTLED');
    // Nothing went back: the whole deposit is still held, for a person to return.
    expect(await addsUp(A, 4_000)).toMatchObject({ paidIn: 4_000, back: 0 });
  });

  it('a reversal whose refund of the paid rest fails at first is refunded by the job; repeated reversals refund nothing more', async () => {
    const A = no('A');
    await admit(A);
    await deposit(A, 2_000, 'wechatpay');
    const S = no('S');
    const r = await settle(A, S, 5_000);
    expect(r.body).toMatchObject({ status: 'SETTLING', extraFen: 3_000 });
    const extra = await pay('/api/orders', { billIds: [r.body.extraBill.billId] }, 'bankpay');
    await settled(S);
    await addsUp(A, 5_000);

    bankRefunds('fail');
    const rev = await s.his('POST', `/open/v1/settlements/${S}/reversal`, { reason: '费用录入错误' });
    expect(rev.status).toBe(200);
    expect(rev.body.status).toBe('REVERSED');
    // The refund of the rest was recorded with the reversal itself.
    const first = (await refundsOf(S)).filter((x) => x.orderNo === extra.orderNo);
    expect(first.map((x) => [x.hisRefundNo, x.amountFen])).toEqual([[`${S}/R`, 3_000]]);
    // Repeated while the refund is owed: the same reversal, no second refund.
    const again = await s.his('POST', `/open/v1/settlements/${S}/reversal`, { reason: 'again' });
    expect(again.body).toMatchObject({ status: 'REVERSED', reversalReason: '费用录入错误' });
    // While it is owed, the rest is not counted as held by a new settlement.
    const early = await settle(A, no('S'), 2_000);
    expect(early.status).toBe(409);
    expect(early.body.error.code).toBe('refund_in_progress');
    bankRefunds('success');

    await waitFor(async () => (await moneyOf(A)).back === 3_000, 30_000, 'rest refunded');
    const rows = await refundsOf(S);
    const ok = rows.filter((x) => x.status === 'SUCCESS');
    expect(ok).toHaveLength(1);
    expect(ok[0]).toMatchObject({ orderNo: extra.orderNo, amountFen: 3_000 });
    expect([`${S}/R/2`, `${S}/R/3`]).toContain(ok[0]!.hisRefundNo);
    expect(rows.filter((x) => x.status !== 'SUCCESS').every((x) => x.status === 'FAILED')).toBe(true);
    expect(rows[0]).toMatchObject({ hisRefundNo: `${S}/R`, status: 'FAILED' });
    await addsUp(A, 2_000);

    // Repeated once more after the refund: still nothing new.
    expect((await s.his('POST', `/open/v1/settlements/${S}/reversal`, { reason: 'x' })).body.status).toBe(
      'REVERSED',
    );
    await new Promise((r2) => setTimeout(r2, 1_500));
    expect(await refundsOf(S)).toHaveLength(rows.length);
    expect(await alertsFor('settlement_refund_failed', S)).toHaveLength(0);
    // What is held now settles at once.
    const S2 = no('S');
    expect((await settle(A, S2, 2_000)).body).toMatchObject({ status: 'SETTLED', refundFen: 0, extraFen: 0 });
    await addsUp(A, 2_000);
  });
});
