import { and, eq } from 'drizzle-orm';
import { BankCreditChannel } from '../../bff/src/channels/credit/adapter';
import { bills, creditDebits, orders, patients } from '../../bff/src/db/schema';
import { startTestStack, waitFor, type TestStack } from '../support/platform';

/**
 * Credit pay after treatment (信用就医), outpatient: sign-up through the bank's page, password-free debit of
 * pushed bills within the limit, fallbacks (over limit, declined, not signed), lost notifications and
 * timeouts resolved by query, family pay, refunds, unsigning and the T+1 statement — all against the bank
 * simulator, nothing mocked.
 */
describe('credit pay (outpatient)', () => {
  let s: TestStack;
  let token: string;

  const patientId = async (his: string) =>
    (await s.platform.deps.db.select().from(patients).where(eq(patients.hisPatientId, his)))[0]!.id;
  const billRow = async (id: string) =>
    (await s.platform.deps.db.select().from(bills).where(eq(bills.id, id)))[0]!;
  const debitOf = async (billId: string) =>
    (await s.platform.deps.db.select().from(creditDebits).where(eq(creditDebits.billId, billId)))[0];
  const finalDebit = (billId: string) =>
    waitFor(
      async () => {
        const d = await debitOf(billId);
        return d && !['PENDING', 'DEBITING'].includes(d.status) ? d : undefined;
      },
      15_000,
      `debit of ${billId} final`,
    );
  const messages = async (t = token) => (await s.api('GET', '/api/patient/messages', { token: t })).body;

  /** Money at the bank for this account adds up: debits less refunds = limit − available. */
  const bankAddsUp = async (t = token) => {
    const st = (await s.api('GET', '/api/credit/status', { token: t })).body;
    const rows = await s.platform.deps.db
      .select()
      .from(orders)
      .where(and(eq(orders.channel, 'credit'), eq(orders.patientId, await patientId('P0001'))));
    const net = rows
      .filter((o) => ['PAID', 'SETTLED', 'PARTIALLY_REFUNDED', 'REFUNDED', 'REFUNDING'].includes(o.status))
      .reduce((sum, o) => sum + o.amountFen - o.refundedFen, 0);
    return { limit: st.limitFen as number, available: st.availableFen as number, net };
  };

  async function signUp(t: string) {
    const start = await s.api('POST', '/api/credit/sign', {
      token: t,
      body: { returnUrl: 'http://127.0.0.1:10086/h5/credit/return' },
    });
    expect(start.status).toBe(201);
    const page = await fetch(start.body.pageUrl);
    expect(page.status).toBe(200);
    expect(await page.text()).toContain('同意签约');
    const agreed = await fetch(start.body.pageUrl, {
      method: 'POST',
      body: 'action=agree',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      redirect: 'manual',
    });
    expect(agreed.status).toBe(302);
    const back = new URL(agreed.headers.get('location')!);
    expect(back.pathname).toBe('/h5/credit/return');
    expect(back.searchParams.get('result')).toBe('SUCCESS');
    expect(back.searchParams.get('signRequestNo')).toBe(start.body.signRequestNo);
  }

  beforeAll(async () => {
    s = await startTestStack();
    token = await s.login('P0001');
  });
  afterAll(() => s.stop());

  it('rejects bad input and an unsigned status changes nothing', async () => {
    const bad = await s.api('POST', '/api/credit/sign', { token, body: { returnUrl: 'not a url' } });
    expect(bad.status).toBe(400);
    expect(bad.body.error.code).toBe('validation_failed');
    const st = await s.api('GET', '/api/credit/status', { token });
    expect(st.status).toBe(200);
    expect(st.body).toMatchObject({ status: 'NOT_SIGNED', limitFen: 0, availableFen: 0 });
    // A bill for an unsigned patient is simply waiting: no debit attempt.
    const b = await s.pushBill({ patientId: 'P0001', amountFen: 1200 });
    await new Promise((r) => setTimeout(r, 800));
    expect(await debitOf(b.billId)).toBeUndefined();
    expect((await messages()).messages.some((m: any) => m.kind === 'bill_waiting')).toBe(true);
    await s.his('POST', `/open/v1/bills/${b.hisBillNo}/cancel`, { reason: 'test' });
  });

  it('signs up through the bank page; the status shows the limit; a pushed bill is paid with no action', async () => {
    await fetch(`${s.sandbox.credit.url}/sim/credit/limits`, {
      method: 'POST',
      body: JSON.stringify({ userRef: await patientId('P0001'), limitFen: 20000 }),
    });
    await signUp(token);
    const st = await s.api('GET', '/api/credit/status', { token });
    expect(st.body).toMatchObject({ status: 'SIGNED', limitFen: 20000, availableFen: 20000, autoPay: true });
    expect(st.body.agreementNo).toMatch(/^AG/);
    // Signing again is refused and changes nothing.
    expect(
      (await s.api('POST', '/api/credit/sign', { token, body: { returnUrl: 'http://x.test/' } })).status,
    ).toBe(409);

    const b = await s.pushBill({ patientId: 'P0001', amountFen: 5000 });
    const d = await finalDebit(b.billId);
    expect(d.status).toBe('SUCCESS');
    expect((await billRow(b.billId)).status).toBe('PAID');
    const [o] = await s.platform.deps.db.select().from(orders).where(eq(orders.id, d.orderId!));
    expect(o).toMatchObject({ channel: 'credit', amountFen: 5000 });
    // The normal HIS push of the result.
    await waitFor(
      async () =>
        (await s.platform.deps.db.select().from(orders).where(eq(orders.id, o!.id)))[0]!.status === 'SETTLED',
      15_000,
      'order settled at the HIS',
    );
    expect([...s.sandbox.his.results.values()].some((r) => r.body.orderNo === o!.orderNo)).toBe(true);
    const msgs = await messages();
    expect(msgs.messages.some((m: any) => m.kind === 'payment_succeeded' && m.refs.orderId === o!.id)).toBe(
      true,
    );
    expect(await bankAddsUp()).toEqual({ limit: 20000, available: 15000, net: 5000 });
  });

  it('over the limit: the bill stays payable by other channels and the patient is told', async () => {
    const b = await s.pushBill({ patientId: 'P0001', amountFen: 16000 });
    const d = await finalDebit(b.billId);
    expect(d.status).toBe('OVER_LIMIT');
    expect(d.orderId).toBeNull();
    const bill = await billRow(b.billId);
    expect(bill).toMatchObject({ status: 'UNPAID', lockedOrderId: null });
    const m = (await messages()).messages.find((x: any) => x.refs.debitId === d.id);
    expect(m).toMatchObject({ kind: 'credit_debit_failed', readAt: null });
    expect(m.body).toContain('超出信用额度');
    // The patient pays it another way.
    const order = await s.api('POST', '/api/orders', {
      token,
      body: { billIds: [b.billId], channel: 'bankpay', tradeType: 'NATIVE' },
    });
    expect(order.status).toBe(201);
    // Marking the message read.
    const read = await s.api('POST', `/api/patient/messages/${m.id}/read`, { token });
    expect(read.status).toBe(200);
    expect(read.body.readAt).not.toBeNull();
    expect((await s.api('POST', '/api/patient/messages/msg_nope/read', { token })).status).toBe(404);
    expect(await bankAddsUp()).toEqual({ limit: 20000, available: 15000, net: 5000 });
  });

  it('declined by the bank (async): order failed, bill released, message; nothing debited', async () => {
    await fetch(`${s.sandbox.credit.url}/sim/credit/debits`, {
      method: 'POST',
      body: JSON.stringify({ outcome: 'decline' }),
    });
    try {
      const b = await s.pushBill({ patientId: 'P0001', amountFen: 3000 });
      const d = await finalDebit(b.billId);
      expect(d.status).toBe('DECLINED');
      const [o] = await s.platform.deps.db.select().from(orders).where(eq(orders.id, d.orderId!));
      expect(o!.status).toBe('FAILED');
      expect(await billRow(b.billId)).toMatchObject({ status: 'UNPAID', lockedOrderId: null });
      expect((await messages()).messages.some((m: any) => m.refs.debitId === d.id)).toBe(true);
    } finally {
      await fetch(`${s.sandbox.credit.url}/sim/credit/debits`, { method: 'POST', body: '{}' });
    }
    expect(await bankAddsUp()).toEqual({ limit: 20000, available: 15000, net: 5000 });
  });

  it('a lost notification is resolved by the query', async () => {
    await fetch(`${s.sandbox.credit.url}/sim/credit/debits`, {
      method: 'POST',
      body: JSON.stringify({ notify: 'drop' }),
    });
    try {
      const b = await s.pushBill({ patientId: 'P0001', amountFen: 2000 });
      const d = await finalDebit(b.billId);
      expect(d.status).toBe('SUCCESS');
      const sim = s.sandbox.credit.orders.get(
        (await s.platform.deps.db.select().from(orders).where(eq(orders.id, d.orderId!)))[0]!.orderNo,
      );
      expect(sim!.notificationsSent).toBe(0);
    } finally {
      await fetch(`${s.sandbox.credit.url}/sim/credit/debits`, { method: 'POST', body: '{}' });
    }
    expect(await bankAddsUp()).toEqual({ limit: 20000, available: 13000, net: 7000 });
  });

  it('a debit answered too late (timeout → UNKNOWN) is resolved by the query, never guessed', async () => {
    await fetch(`${s.sandbox.credit.url}/sim/credit/faults`, {
      method: 'POST',
      body: JSON.stringify({ op: 'debit', fault: 'late_reply' }),
    });
    const b = await s.pushBill({ patientId: 'P0001', amountFen: 1000 });
    const d = await finalDebit(b.billId);
    expect(d.status).toBe('SUCCESS');
    expect(await bankAddsUp()).toEqual({ limit: 20000, available: 12000, net: 8000 });
  });

  it('family pay: a relative’s bill is debited on the signer’s agreement once authorised', async () => {
    const bound = await s.api('POST', '/api/patient/cards', {
      token,
      body: { name: '张小明', cardNo: '2026000103' },
    });
    expect(bound.status).toBe(201);
    const child = await patientId('P0003');
    // Not yet authorised: the relative's bill waits.
    const before = await s.pushBill({ patientId: 'P0003', amountFen: 800 });
    await new Promise((r) => setTimeout(r, 800));
    expect(await debitOf(before.billId)).toBeUndefined();

    const add = await s.api('POST', '/api/credit/family', {
      token,
      body: { patientId: child, relation: '子女' },
    });
    expect(add.status).toBe(201);
    expect(
      (await s.api('POST', '/api/credit/family', { token, body: { patientId: child, relation: '子女' } }))
        .status,
    ).toBe(409);
    expect(
      (
        await s.api('POST', '/api/credit/family', {
          token,
          body: { patientId: 'pat_other', relation: '子女' },
        })
      ).status,
    ).toBe(404);
    const st = await s.api('GET', '/api/credit/status', { token });
    expect(st.body.family).toEqual([{ id: add.body.id, patientId: child, name: '张**', relation: '子女' }]);

    const b = await s.pushBill({ patientId: 'P0003', amountFen: 900 });
    const d = await finalDebit(b.billId);
    expect(d).toMatchObject({
      status: 'SUCCESS',
      patientId: child,
      payerPatientId: await patientId('P0001'),
    });
    expect(await bankAddsUp()).toMatchObject({ limit: 20000, available: 11100 });

    expect((await s.api('DELETE', `/api/credit/family/${add.body.id}`, { token })).status).toBe(204);
    expect((await s.api('DELETE', `/api/credit/family/${add.body.id}`, { token })).status).toBe(404);
    await s.his('POST', `/open/v1/bills/${before.hisBillNo}/cancel`, { reason: 'test' });
  });

  it('refund of a credit debit: notified, the limit comes back, the patient is told', async () => {
    const [o] = await s.platform.deps.db
      .select()
      .from(orders)
      .where(and(eq(orders.channel, 'credit'), eq(orders.amountFen, 5000)));
    const r = await s.his('POST', '/open/v1/refunds', {
      orderNo: o!.orderNo,
      hisRefundNo: `HR${Date.now()}`,
      amountFen: 2000,
      reason: '退药',
    });
    expect(r.status).toBeLessThan(300);
    await waitFor(
      async () =>
        (await s.platform.deps.db.select().from(orders).where(eq(orders.id, o!.id)))[0]!.status ===
        'PARTIALLY_REFUNDED',
      15_000,
      'refund applied',
    );
    expect((await messages()).messages.some((m: any) => m.kind === 'refund_done')).toBe(true);
    const sums = await bankAddsUp();
    expect(sums.limit - sums.available).toBe(sums.net + 900); // the relative's 900 fen is the rest
  });

  it('the daily statement downloads in the bank format, checked against its summary', async () => {
    await fetch(`${s.sandbox.credit.url}/sim/credit/statements`, {
      method: 'POST',
      body: JSON.stringify({ sameDay: true }),
    });
    const account = await s.platform.deps.channels.get('ma_h001_credit');
    expect(account.adapter).toBeInstanceOf(BankCreditChannel);
    const day = new Date(Date.now() + 8 * 3600_000).toISOString().slice(0, 10);
    const st = await account.adapter.downloadStatement(day);
    expect(st.result).toBe('SUCCESS');
    const paid = await s.platform.deps.db.select().from(orders).where(eq(orders.channel, 'credit'));
    const paidFen = paid.filter((o) => o.paidAt).reduce((a, o) => a + o.amountFen, 0);
    expect(st.totals!.paymentFen).toBe(paidFen);
    expect(st.totals!.refundFen).toBe(2000);
  });

  it('unsigning stops automatic debits', async () => {
    const un = await s.api('POST', '/api/credit/unsign', { token });
    expect(un.status).toBe(200);
    expect(un.body.status).toBe('UNSIGNED');
    expect((await s.api('POST', '/api/credit/unsign', { token })).status).toBe(409);
    const b = await s.pushBill({ patientId: 'P0001', amountFen: 700 });
    await new Promise((r) => setTimeout(r, 800));
    expect(await debitOf(b.billId)).toBeUndefined();
    expect(await billRow(b.billId)).toMatchObject({ status: 'UNPAID', lockedOrderId: null });
  });
});
