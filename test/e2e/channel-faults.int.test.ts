import { eq } from 'drizzle-orm';
import { bills, idempotencyKeys, orderEvents, orders } from '../../bff/src/db/schema';
import { runPaymentQuery } from '../../bff/src/modules/payments/query-job';
import { movableClock, startTestStack, waitFor, type TestStack } from '../support/platform';

describe('channel faults on order creation: a timeout is UNKNOWN, resolved by query, never guessed', () => {
  let s: TestStack;
  let token: string;
  const clock = movableClock();
  beforeAll(async () => {
    s = await startTestStack({ outboundTimeoutMs: 500, paymentQueryBackoffSeconds: [0.5, 1] }, { clock });
    token = await s.login();
  });
  afterAll(async () => {
    await s?.stop();
  });

  const heldOrder = async (billId: string) => {
    const [b] = await s.platform.deps.db.select().from(bills).where(eq(bills.id, billId));
    const [o] = await s.platform.deps.db
      .select()
      .from(orders)
      .where(eq(orders.id, b!.lockedOrderId ?? b!.paidOrderId ?? ''));
    return o!;
  };
  const order = (billId: string) =>
    s.api('POST', '/api/orders', {
      token,
      body: { billIds: [billId], channel: 'wechatpay', tradeType: 'NATIVE' },
    });

  it('asks once more with the same order number when a prepay reply is lost, and gets the same QR', async () => {
    const { billId } = await s.pushBill({ amountFen: 2222 });
    s.sandbox.wechat.injectFault('create', 'late_reply', 1);
    const r = await order(billId);
    expect(r.status).toBe(201);
    expect(r.body.codeUrl).toBe(s.sandbox.wechat.orders.get(r.body.orderNo)?.code_url);
  });

  it('keeps the order PAYING when both prepay replies are lost, names it, and settles it once the query finds the payment', async () => {
    const { billId } = await s.pushBill({ amountFen: 1234 });
    s.sandbox.wechat.injectFault('create', 'late_reply', 2);
    const headers = { 'idempotency-key': `lost-reply-${Date.now()}` };
    const r = await s.api('POST', '/api/orders', {
      token,
      headers,
      body: { billIds: [billId], channel: 'wechatpay', tradeType: 'NATIVE' },
    });
    expect(r.status).toBe(503);
    expect(r.body.error.code).toBe('channel_unavailable');
    const o = await heldOrder(billId);
    expect(r.body.error.orderId).toBe(o.id);
    expect(o.status).toBe('PAYING'); // neither failed nor paid: unknown
    expect(s.sandbox.wechat.orders.get(o.orderNo)?.trade_state).toBe('NOTPAY'); // the channel did take it
    // A retry with the same key gets the same answer, order id included — not a misleading bill_locked.
    const again = await s.api('POST', '/api/orders', {
      token,
      headers,
      body: { billIds: [billId], channel: 'wechatpay', tradeType: 'NATIVE' },
    });
    expect(again.status).toBe(503);
    expect(again.body.error.orderId).toBe(o.id);
    s.sandbox.wechat.pay(o.orderNo, { notify: 'drop' });
    await waitFor(async () => (await heldOrder(billId)).status === 'SETTLED', 15_000, 'SETTLED via query');
  });

  it('does not freeze a retryable answer under an Idempotency-Key', async () => {
    const { billId } = await s.pushBill({ amountFen: 3333 });
    expect((await order(billId)).status).toBe(201);
    const key = `retryable-${Date.now()}`;
    const locked = await s.api('POST', '/api/orders', {
      token,
      headers: { 'idempotency-key': key },
      body: { billIds: [billId], channel: 'wechatpay', tradeType: 'NATIVE' },
    });
    expect(locked.body.error.code).toBe('bill_locked');
    const stored = await s.platform.deps.db
      .select()
      .from(idempotencyKeys)
      .where(eq(idempotencyKeys.key, key));
    expect(stored).toHaveLength(0);
  });

  it('fails the order and frees its bills when the channel refuses it', async () => {
    const { billId } = await s.pushBill({ amountFen: 555 });
    const merchant = s.sandbox.wechat.merchants.get(s.sandbox.keys.hospitals.H001!.wechat.mchId)!;
    const appIds = [...merchant.appIds];
    merchant.appIds.length = 0; // the simulator now answers APPID_MCHID_NOT_MATCH
    try {
      const r = await order(billId);
      expect(r.status).toBe(502);
      expect(r.body.error.code).toBe('channel_error');
      expect(r.body.error.message).toMatch(/APPID_MCHID_NOT_MATCH/);
    } finally {
      merchant.appIds.push(...appIds);
    }
    const [b] = await s.platform.deps.db.select().from(bills).where(eq(bills.id, billId));
    expect(b).toMatchObject({ status: 'UNPAID', lockedOrderId: null });
    expect((await order(billId)).status).toBe(201); // payable again at once
  });

  it('fails an order the channel never received, once the query has found nothing for a while', async () => {
    const { billId } = await s.pushBill({ amountFen: 4321 });
    s.sandbox.wechat.injectFault('create', 'drop', 2);
    const r = await order(billId);
    expect(r.body.error.code).toBe('channel_unavailable');
    const o = await heldOrder(billId);
    expect(s.sandbox.wechat.orders.has(o.orderNo)).toBe(false);
    await runPaymentQuery(s.platform.deps, { orderId: o.id, attempt: 0 });
    expect((await heldOrder(billId)).status).toBe('PAYING'); // too early to believe "not found"
    clock.advance(2 * 60_000);
    try {
      await runPaymentQuery(s.platform.deps, { orderId: o.id, attempt: 1 });
    } finally {
      clock.advance(-2 * 60_000);
    }
    const [after] = await s.platform.deps.db.select().from(orders).where(eq(orders.id, o.id));
    expect(after!.status).toBe('FAILED');
    const [b] = await s.platform.deps.db.select().from(bills).where(eq(bills.id, billId));
    expect(b!.lockedOrderId).toBeNull();
    const evs = await s.platform.deps.db.select().from(orderEvents).where(eq(orderEvents.orderId, o.id));
    expect(evs.at(-1)?.reason).toBe('the channel has no such order');
  });
});
