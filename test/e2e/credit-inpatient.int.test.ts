import { and, eq, inArray, like, or } from 'drizzle-orm';
import { bills, hisApps, orderBills, orders, patients, refunds } from '../../bff/src/db/schema';
import { startTestStack, waitFor, type TestStack } from '../support/platform';

/**
 * Inpatient stays (住院): deposits through WeChat Native and credit pay, discharge settlement with a refund of
 * the difference, with an extra debit (credit) or a bill for the rest (not signed, over the limit), reversal
 * and a corrected settlement — against the WeChat Pay, credit-bank and HIS simulators, nothing mocked. After
 * every step the money adds up: payments in − refunds out = the balance held (= the cost once settled).
 */
describe('credit pay (inpatient)', () => {
  let s: TestStack;
  let token: string;
  const PAID = ['PAID', 'SETTLED', 'REFUNDING', 'PARTIALLY_REFUNDED', 'REFUNDED'];
  const now = new Date().toISOString();
  let seq = 0;
  const no = (p: string) => `${p}${Date.now()}${++seq}`;

  const patientId = async (his: string) =>
    (await s.platform.deps.db.select().from(patients).where(eq(patients.hisPatientId, his)))[0]!.id;
  const admission = async (admissionNo: string) =>
    (await s.his('GET', `/open/v1/admissions/${admissionNo}`)).body;
  const messages = async (t = token) =>
    (await s.api('GET', '/api/patient/messages', { token: t })).body.messages as any[];

  /** Counted from the orders and refunds tables, independently of the service's own arithmetic. */
  async function moneyOf(admissionNo: string) {
    const db = s.platform.deps.db;
    const rows = await db
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
          await db
            .select()
            .from(refunds)
            .where(and(inArray(refunds.orderId, ids), eq(refunds.status, 'SUCCESS')))
        ).reduce((sum, r) => sum + r.amountFen, 0)
      : 0;
    return { paidIn, back, net: paidIn - back };
  }

  /** The invariant: the money adds up to the balance shown, and to the standing settlement's cost. */
  async function addsUp(admissionNo: string, expectedNet: number) {
    const m = await moneyOf(admissionNo);
    const a = await admission(admissionNo);
    expect(m.net).toBe(expectedNet);
    expect(a.balanceFen).toBe(expectedNet);
    const standing = a.settlements.find((x: any) => x.status === 'SETTLED');
    if (a.status === 'SETTLED' && standing) expect(standing.totalCostFen).toBe(m.net);
    return m;
  }

  const admit = async (admissionNo: string, his = 'P0001', name = '张三') => {
    const r = await s.his('POST', '/open/v1/admissions', {
      admissionNo,
      patientId: his,
      patientName: name,
      department: '心内科',
      ward: '5病区',
      admittedAt: now,
    });
    expect(r.status).toBe(200);
    return r.body;
  };
  const askDeposit = async (admissionNo: string, amountFen: number) => {
    const r = await s.his('POST', `/open/v1/admissions/${admissionNo}/deposits`, {
      hisDepositNo: no('D'),
      amountFen,
    });
    expect(r.status).toBe(200);
    return r.body;
  };
  const depositPaid = (admissionNo: string, depositId: string) =>
    waitFor(
      async () => {
        const d = (await admission(admissionNo)).deposits.find((x: any) => x.id === depositId);
        return d?.status === 'PAID' ? d : undefined;
      },
      15_000,
      `deposit ${depositId} paid`,
    );
  /** The patient pays a deposit bill (or a settlement's bill) with WeChat Native. */
  const payWechat = async (t: string, path: string, body: Record<string, unknown>) => {
    const r = await s.api('POST', path, {
      token: t,
      body: { channel: 'wechatpay', tradeType: 'NATIVE', ...body },
    });
    expect(r.status).toBe(201);
    s.sandbox.wechat.pay(r.body.orderNo);
    return r.body;
  };
  const settle = (admissionNo: string, hisSettlementNo: string, totalCostFen: number) =>
    s.his('POST', `/open/v1/admissions/${admissionNo}/settlements`, { hisSettlementNo, totalCostFen });
  const settled = (hisSettlementNo: string) =>
    waitFor(
      async () => {
        const r = (await s.his('GET', `/open/v1/settlements/${hisSettlementNo}`)).body;
        return r.status === 'SETTLED' ? r : undefined;
      },
      20_000,
      `settlement ${hisSettlementNo} settled`,
    );
  const hisPushes = (kind: string, hisSettlementNo?: string) =>
    [...s.sandbox.his.results.values()].filter(
      (r) => r.body.kind === kind && (!hisSettlementNo || r.body.hisSettlementNo === hisSettlementNo),
    );

  async function signUp(t: string, his: string, limitFen: number) {
    await fetch(`${s.sandbox.credit.url}/sim/credit/limits`, {
      method: 'POST',
      body: JSON.stringify({ userRef: await patientId(his), limitFen }),
    });
    const start = await s.api('POST', '/api/credit/sign', {
      token: t,
      body: { returnUrl: 'http://127.0.0.1:10086/h5/credit/return' },
    });
    expect(start.status).toBe(201);
    const agreed = await fetch(start.body.pageUrl, {
      method: 'POST',
      body: 'action=agree',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      redirect: 'manual',
    });
    expect(agreed.status).toBe(302);
    expect((await s.api('GET', '/api/credit/status', { token: t })).body.status).toBe('SIGNED');
  }

  beforeAll(async () => {
    s = await startTestStack();
    token = await s.login('P0001');
  });
  afterAll(() => s.stop());

  it('refuses bad input and changes nothing', async () => {
    const a = no('A');
    expect(
      (await s.his('POST', `/open/v1/admissions/${a}/deposits`, { hisDepositNo: 'X1', amountFen: 100 }))
        .status,
    ).toBe(404);
    expect((await settle(a, no('S'), 100)).status).toBe(404);
    expect((await s.his('GET', `/open/v1/settlements/${no('S')}`)).status).toBe(404);
    await admit(a);
    const neg = await settle(a, no('S'), -1);
    expect(neg.status).toBe(400);
    expect(neg.body.error.code).toBe('validation_failed');
    const zero = await s.his('POST', `/open/v1/admissions/${a}/deposits`, {
      hisDepositNo: no('D'),
      amountFen: 0,
    });
    expect(zero.status).toBe(400);
    const amountSent = await s.his('POST', `/open/v1/admissions/${a}/settlements`, {
      hisSettlementNo: no('S'),
      totalCostFen: 100,
      refundFen: 5,
    });
    expect(amountSent.status).toBe(400);
    // The same admission number for another patient.
    const other = await s.his('POST', '/open/v1/admissions', {
      admissionNo: a,
      patientId: 'P0002',
      patientName: '李四',
      admittedAt: now,
    });
    expect(other.status).toBe(409);
    const view = await admission(a);
    expect(view).toMatchObject({ status: 'ADMITTED', balanceFen: 0, deposits: [], settlements: [] });
  });

  const A1 = no('A');
  let d1: any;
  let d2: any;

  it('deposit through WeChat Native, then a top-up debited through credit pay; both announced', async () => {
    await admit(A1);
    d1 = await askDeposit(A1, 10_000);
    expect(d1).toMatchObject({ status: 'UNPAID', amountFen: 10_000 });
    // The same deposit number again returns it; another amount under it is a conflict.
    const again = await s.his('POST', `/open/v1/admissions/${A1}/deposits`, {
      hisDepositNo: d1.hisDepositNo,
      amountFen: 10_000,
    });
    expect(again.body.id).toBe(d1.id);
    const changed = await s.his('POST', `/open/v1/admissions/${A1}/deposits`, {
      hisDepositNo: d1.hisDepositNo,
      amountFen: 9_000,
    });
    expect(changed.status).toBe(409);
    const mine = (await s.api('GET', '/api/inpatient/admissions', { token })).body.admissions;
    expect(mine.find((x: any) => x.admissionNo === A1).deposits[0].id).toBe(d1.id);
    await payWechat(token, `/api/inpatient/deposits/${d1.id}/orders`, {});
    await depositPaid(A1, d1.id);
    await addsUp(A1, 10_000);

    await signUp(token, 'P0001', 50_000);
    d2 = await askDeposit(A1, 5_000);
    const paid2 = await depositPaid(A1, d2.id);
    expect(paid2.channel).toBe('credit');
    await addsUp(A1, 15_000);
    const list = (await s.api('GET', '/api/inpatient/admissions', { token })).body.admissions;
    expect(list.find((x: any) => x.admissionNo === A1).balanceFen).toBe(15_000);
    const kinds = (await messages()).filter((m) => m.kind === 'deposit_paid');
    expect(kinds.length).toBeGreaterThanOrEqual(2);
    await waitFor(
      async () =>
        [d1, d2].every((d) => hisPushes('deposit_paid').some((p) => p.body.hisDepositNo === d.hisDepositNo)),
      15_000,
      'deposit pushes at the HIS',
    );
  });

  const S1 = no('S');
  it('settlement below the deposits: the difference is refunded newest first, each through its channel', async () => {
    const r = await settle(A1, S1, 9_000);
    expect(r.status).toBe(200);
    expect(r.body).toMatchObject({ version: 1, depositsFen: 15_000, refundFen: 6_000, extraFen: 0 });
    // Newest first: the credit top-up in full, then 1000 of the WeChat deposit.
    expect(r.body.refunds.map((x: any) => x.amountFen)).toEqual([5_000, 1_000]);
    expect(r.body.refunds[0].orderNo).toBe(
      (await admission(A1)).deposits.find((d: any) => d.id === d2.id).orderNo,
    );
    const done = await settled(S1);
    expect(done.refunds.every((x: any) => x.status === 'SUCCESS')).toBe(true);
    const m = await addsUp(A1, 9_000);
    expect(m).toMatchObject({ paidIn: 15_000, back: 6_000 });
    const a = await admission(A1);
    expect(a.status).toBe('SETTLED');
    expect(a.deposits.map((d: any) => d.refundedFen)).toEqual([1_000, 5_000]);
    expect((await messages()).some((x) => x.kind === 'settlement_refunded')).toBe(true);
    await waitFor(async () => hisPushes('settlement_result', S1).length > 0, 15_000, 'settlement push');

    // Idempotent by number; another total under it, or a second settlement while this one stands: conflict.
    const same = await settle(A1, S1, 9_000);
    expect(same.body).toMatchObject({ hisSettlementNo: S1, status: 'SETTLED', version: 1 });
    const other = await settle(A1, S1, 9_500);
    expect(other.status).toBe(409);
    const second = await settle(A1, no('S'), 9_500);
    expect(second.status).toBe(409);
    // Deposits are refused once settled.
    expect(
      (await s.his('POST', `/open/v1/admissions/${A1}/deposits`, { hisDepositNo: no('D'), amountFen: 100 }))
        .status,
    ).toBe(409);
    await addsUp(A1, 9_000);
  });

  const S2 = no('S');
  it('reversal, then a corrected settlement above the balance: the rest is debited through credit pay', async () => {
    const rev = await s.his('POST', `/open/v1/settlements/${S1}/reversal`, { reason: '费用录入错误' });
    expect(rev.status).toBe(200);
    expect(rev.body).toMatchObject({ status: 'REVERSED', reversalReason: '费用录入错误' });
    expect((await admission(A1)).status).toBe('ADMITTED');
    await addsUp(A1, 9_000); // the refunded deposits are not collected again
    await waitFor(async () => hisPushes('settlement_reversed', S1).length > 0, 15_000, 'reversal push');
    // Repeatable.
    expect((await s.his('POST', `/open/v1/settlements/${S1}/reversal`, { reason: 'x' })).body.status).toBe(
      'REVERSED',
    );

    const r = await settle(A1, S2, 12_000);
    expect(r.status).toBe(200);
    expect(r.body).toMatchObject({ version: 2, depositsFen: 9_000, refundFen: 0, extraFen: 3_000 });
    const done = await settled(S2);
    expect(done.extraBill).toMatchObject({ status: 'PAID', channel: 'credit' });
    await addsUp(A1, 12_000);
    expect((await messages()).some((x) => x.kind === 'settlement_debited')).toBe(true);
  });

  it('reversing a settlement with an extra debit refunds it; an equal settlement is settled at once', async () => {
    const rev = await s.his('POST', `/open/v1/settlements/${S2}/reversal`, { reason: '医保重算' });
    expect(rev.body.status).toBe('REVERSED');
    await waitFor(async () => (await moneyOf(A1)).back === 9_000, 15_000, 'extra refunded');
    await addsUp(A1, 9_000);
    const S3 = no('S');
    const r = await settle(A1, S3, 9_000);
    expect(r.body).toMatchObject({ version: 3, status: 'SETTLED', refundFen: 0, extraFen: 0 });
    await addsUp(A1, 9_000);
    const a = await admission(A1);
    expect(a.settlements.map((x: any) => x.status)).toEqual(['SETTLED', 'REVERSED', 'REVERSED']);
  });

  it('not signed: the rest becomes a bill the patient pays with any channel', async () => {
    const t2 = await s.login('P0002');
    const A2 = no('A');
    await admit(A2, 'P0002', '李四');
    const d = await askDeposit(A2, 2_000);
    await payWechat(t2, `/api/inpatient/deposits/${d.id}/orders`, {});
    await depositPaid(A2, d.id);
    await addsUp(A2, 2_000);
    const S = no('S');
    const r = await settle(A2, S, 5_000);
    expect(r.body).toMatchObject({ status: 'SETTLING', extraFen: 3_000 });
    expect(r.body.extraBill.status).toBe('UNPAID');
    await addsUp(A2, 2_000);
    await payWechat(t2, '/api/orders', { billIds: [r.body.extraBill.billId] });
    const done = await settled(S);
    expect(done.extraBill).toMatchObject({ status: 'PAID', channel: 'wechatpay' });
    await addsUp(A2, 5_000);
  });

  it('over the credit limit: the debit fails, the patient is told and pays the bill another way', async () => {
    const A3 = no('A');
    await admit(A3);
    // P0001 is signed; the limit left is far below the rest.
    await fetch(`${s.sandbox.credit.url}/sim/credit/limits`, {
      method: 'POST',
      body: JSON.stringify({ userRef: await patientId('P0001'), limitFen: 100 }),
    });
    const S = no('S');
    const r = await settle(A3, S, 20_000);
    expect(r.body).toMatchObject({ status: 'SETTLING', depositsFen: 0, extraFen: 20_000 });
    await waitFor(
      async () =>
        (await messages()).some(
          (m) => m.kind === 'credit_debit_failed' && m.refs.billId === r.body.extraBill.billId,
        ),
      15_000,
      'debit failed message',
    );
    await addsUp(A3, 0);
    await payWechat(token, '/api/orders', { billIds: [r.body.extraBill.billId] });
    const done = await settled(S);
    expect(done.extraBill.channel).toBe('wechatpay');
    await addsUp(A3, 20_000);
  });
  it('a hospital whose bills are pulled from the HIS still lists and takes its deposit and settlement bills', async () => {
    const t2 = await s.login('P0002');
    const db = s.platform.deps.db;
    const H001 = (await db.select().from(patients).where(eq(patients.hisPatientId, 'P0002')))[0]!.hospitalId;
    await db.update(hisApps).set({ billMode: 'pull' }).where(eq(hisApps.hospitalId, H001));
    try {
      const A4 = no('A');
      await admit(A4, 'P0002', '李四');
      const d = await askDeposit(A4, 1_500);
      // The HIS's pending list knows nothing of the platform's own bills: they are listed all the same…
      const listed = (await s.api('GET', '/api/patient/bills', { token: t2 })).body;
      expect(listed).toMatchObject({ billMode: 'pull', hisUnavailable: false });
      const depositBill = listed.bills.find((b: any) => b.hisBillNo.startsWith('YJ:'));
      expect(depositBill).toMatchObject({ amountFen: 1_500 });
      await payWechat(t2, `/api/inpatient/deposits/${d.id}/orders`, {});
      await depositPaid(A4, d.id);
      // …and the settlement's rest is paid through the ordinary order, not refused as unknown to the HIS.
      const S = no('S');
      const r = await settle(A4, S, 2_000);
      expect(r.body).toMatchObject({ status: 'SETTLING', extraFen: 500 });
      await payWechat(t2, '/api/orders', { billIds: [r.body.extraBill.billId] });
      await settled(S);
      await addsUp(A4, 2_000);
    } finally {
      await db.update(hisApps).set({ billMode: 'push' }).where(eq(hisApps.hospitalId, H001));
    }
  });
});
