import { eq } from 'drizzle-orm';
import { orders } from '../../bff/src/db/schema';
import { startTestStack, waitFor, type TestStack } from '../support/platform';

describe('Alipay face-to-face (当面付)', () => {
  let s: TestStack;
  let token: string;
  beforeAll(async () => {
    s = await startTestStack();
    token = await s.login();
  });
  afterAll(async () => {
    await s?.stop();
  });

  const orderRow = async (orderNo: string) =>
    (await s.platform.deps.db.select().from(orders).where(eq(orders.orderNo, orderNo)))[0]!;
  const qrOrder = async (amountFen: number) => {
    const { billId } = await s.pushBill({ amountFen });
    return s.api('POST', '/api/orders', {
      token,
      body: { billIds: [billId], channel: 'alipay', tradeType: 'NATIVE' },
    });
  };

  it('pays a QR order: precreate, a signed form notification answered "success", then SETTLED', async () => {
    const r = await qrOrder(1299);
    expect(r.status).toBe(201);
    expect(r.body.codeUrl).toMatch(/^https:\/\/qr\.alipay\.com\//);
    expect(s.sandbox.alipay.orders.get(r.body.orderNo)?.totalFen).toBe(1299); // sent as "12.99"
    const o = s.sandbox.alipay.orders.get(r.body.orderNo)!;
    s.sandbox.alipay.settle(o, false); // the buyer pays…
    expect(await s.sandbox.alipay.notify(o)).toBe(200); // …and the notification is verified and answered
    await waitFor(async () => (await orderRow(r.body.orderNo)).status === 'SETTLED', 15_000, 'SETTLED');
  });

  it('rejects a tampered notification', async () => {
    const r = await qrOrder(800);
    const o = s.sandbox.alipay.orders.get(r.body.orderNo)!;
    const form = new URLSearchParams({
      notify_id: 'x1',
      app_id: o.appId,
      out_trade_no: o.outTradeNo,
      trade_status: 'TRADE_SUCCESS',
      total_amount: '8.00',
      sign_type: 'RSA2',
      sign: 'Zm9yZ2Vk',
    });
    const res = await fetch(`${s.platform.url}/notify/alipay/ma_h001_alipay`, {
      method: 'POST',
      body: form.toString(),
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
    });
    expect(res.status).toBe(401);
    expect(await res.text()).not.toBe('success');
    expect((await orderRow(r.body.orderNo)).status).toBe('PAYING');
  });

  it('takes a barcode: paid at once, or polled while the buyer confirms (10003)', async () => {
    const a = await s.pushBill({ amountFen: 2500 });
    const now = await s.his('POST', '/open/v1/code-payments', {
      hisBillNos: [a.hisBillNo],
      authCode: '281000000000000001',
      channel: 'alipay',
    });
    expect(now.body).toMatchObject({ status: 'PAID', amountFen: 2500 });
    const b = await s.pushBill({ amountFen: 2600 });
    const later = await s.his('POST', '/open/v1/code-payments', {
      hisBillNos: [b.hisBillNo],
      authCode: '281100000000000002',
      channel: 'alipay',
    });
    expect(later.body.status).toBe('PAYING');
    await waitFor(
      async () => (await orderRow(later.body.orderNo)).status === 'SETTLED',
      15_000,
      'SETTLED after 10003',
    );
  });

  it('refunds part of an Alipay payment through the HIS, in yuan on the wire', async () => {
    const a = await s.pushBill({ amountFen: 5000 });
    const paid = await s.his('POST', '/open/v1/code-payments', {
      hisBillNos: [a.hisBillNo],
      authCode: '281000000000000003',
      channel: 'alipay',
    });
    await waitFor(async () => (await orderRow(paid.body.orderNo)).status === 'SETTLED', 15_000, 'SETTLED');
    const r = await s.his('POST', '/open/v1/refunds', {
      orderNo: paid.body.orderNo,
      hisRefundNo: `HRA${Date.now()}`,
      amountFen: 1234,
      reason: '退药',
    });
    expect(r.body).toMatchObject({ status: 'SUCCESS', amountFen: 1234 });
    const row = await orderRow(paid.body.orderNo);
    expect(row).toMatchObject({ status: 'PARTIALLY_REFUNDED', refundedFen: 1234 });
    expect([...s.sandbox.alipay.orders.get(paid.body.orderNo)!.refunds.values()]).toEqual([1234]);
  });

  it('never accepts a reply it cannot verify (validateSign): a forged gateway leaves the order unknown', async () => {
    s.sandbox.alipay.forgeReplies = true;
    try {
      const r = await qrOrder(700);
      expect(r.status).toBe(503);
      expect(r.body.error.code).toBe('channel_unavailable');
      const [held] = await s.platform.deps.db
        .select()
        .from(orders)
        .where(eq(orders.id, r.body.error.orderId));
      expect(held!.status).toBe('PAYING'); // unknown, left to the query — never taken as paid or failed
    } finally {
      s.sandbox.alipay.forgeReplies = false;
    }
  });
});
