import { eq } from 'drizzle-orm';
import { orderEvents, orders, outboundCalls } from '../../bff/src/db/schema';
import { startTestStack, waitFor, type TestStack } from '../support/platform';

describe('walking skeleton: HIS bill → patient → WeChat Native → notification → HIS write-back', () => {
  let s: TestStack;
  beforeAll(async () => {
    s = await startTestStack();
  });
  afterAll(async () => {
    await s?.stop();
  });

  it('pays a bill end to end and settles it with the HIS', async () => {
    // 1. The HIS pushes two bills through the signed open API.
    const a = await s.pushBill({ amountFen: 12850, title: '门诊西药费' });
    const b = await s.pushBill({ amountFen: 2500, title: '血常规' });

    // 2. The patient sees them.
    const token = await s.login('P0001');
    const list = await s.api('GET', '/api/patient/bills', { token });
    expect(list.status).toBe(200);
    const ids = list.body.bills.map((x: { id: string }) => x.id);
    expect(ids).toEqual(expect.arrayContaining([a.billId, b.billId]));

    // 3. Order with bill ids only; the server computes the amount and gets a QR from the WeChat simulator.
    const created = await s.api('POST', '/api/orders', {
      token,
      body: { billIds: [a.billId, b.billId], channel: 'wechatpay', tradeType: 'NATIVE' },
    });
    expect(created.status).toBe(201);
    expect(created.body.amountFen).toBe(15350);
    expect(created.body.status).toBe('PAYING');
    expect(created.body.codeUrl).toMatch(/^weixin:\/\/wxpay\/bizpayurl\?pr=/);
    const simOrder = s.sandbox.wechat.orders.get(created.body.orderNo);
    expect(simOrder?.total).toBe(15350);

    // The bills are held by the live order.
    const again = await s.api('POST', '/api/orders', {
      token,
      body: { billIds: [a.billId], channel: 'wechatpay', tradeType: 'NATIVE' },
    });
    expect(again.status).toBe(409);
    expect(again.body.error.code).toBe('bill_locked');

    // 4. The patient pays at the simulator; it sends a signed, encrypted TRANSACTION.SUCCESS.
    s.sandbox.wechat.pay(created.body.orderNo);

    // 5. PAID, then the outbox pushes to the HIS, then SETTLED on its acknowledgement.
    const settled = await waitFor(
      async () => {
        const r = await s.api('GET', `/api/orders/${created.body.id}`, { token });
        return r.body.status === 'SETTLED' ? r.body : undefined;
      },
      20_000,
      'order SETTLED',
    );
    expect(settled.paidAt).not.toBeNull();
    const pushed = [...s.sandbox.his.results.values()].find((r) => r.body.orderNo === created.body.orderNo);
    expect(pushed?.body).toMatchObject({
      amountFen: 15350,
      hisBillNos: expect.arrayContaining([a.hisBillNo, b.hisBillNo]),
      patientId: 'P0001',
      channel: 'wechatpay',
    });
    expect(String(pushed?.body.channelTradeNo)).toBe(simOrder?.transaction_id);

    // Bills are paid and gone from the pending list.
    const after = await s.api('GET', '/api/patient/bills', { token });
    expect(after.body.bills.map((x: { id: string }) => x.id)).not.toContain(a.billId);

    // The event trail tells the story in order.
    const events = await s.platform.deps.db
      .select()
      .from(orderEvents)
      .where(eq(orderEvents.orderId, created.body.id))
      .orderBy(orderEvents.id);
    expect(events.map((e) => e.toStatus)).toEqual(['CREATED', 'PAYING', 'PAID', 'SETTLED']);
    const [row] = await s.platform.deps.db.select().from(orders).where(eq(orders.id, created.body.id));
    expect(row).toMatchObject({ hisSyncStatus: 'ACKED', oneSided: false });

    // Every channel call is in the interface log, with nothing secret in it.
    await new Promise((r) => setTimeout(r, 100));
    const calls = await s.platform.deps.db
      .select()
      .from(outboundCalls)
      .where(eq(outboundCalls.orderNo, created.body.orderNo));
    expect(calls.map((c) => c.operation)).toEqual(expect.arrayContaining(['create', 'push_payment_result']));
    expect(JSON.stringify(calls)).not.toMatch(/PRIVATE KEY/);
  });
});
