import { eq } from 'drizzle-orm';
import { alerts, notificationInbox, orderEvents, orders } from '../../bff/src/db/schema';
import { startTestStack, waitFor, type TestStack } from '../support/platform';

describe('WeChat Pay notifications', () => {
  let s: TestStack;
  let token: string;
  beforeAll(async () => {
    s = await startTestStack();
    token = await s.login();
  });
  afterAll(async () => {
    await s?.stop();
  });

  async function newOrder(amountFen = 4321) {
    const { billId } = await s.pushBill({ amountFen });
    const r = await s.api('POST', '/api/orders', {
      token,
      body: { billIds: [billId], channel: 'wechatpay', tradeType: 'NATIVE' },
    });
    expect(r.status).toBe(201);
    return r.body as { id: string; orderNo: string; amountFen: number };
  }
  const orderRow = async (id: string) =>
    (await s.platform.deps.db.select().from(orders).where(eq(orders.id, id)))[0]!;
  const events = (id: string) =>
    s.platform.deps.db.select().from(orderEvents).where(eq(orderEvents.orderId, id));

  it('applies a duplicated notification exactly once', async () => {
    const o = await newOrder();
    s.sandbox.wechat.pay(o.orderNo, { notify: 'duplicate' });
    await waitFor(async () => (await orderRow(o.id)).paidAt, 10_000, 'PAID');
    // And the same notification delivered a third time later.
    const status = await s.sandbox.wechat.deliver(
      s.sandbox.wechat.orders.get(o.orderNo)!,
      s.sandbox.wechat.orders.get(o.orderNo)!.lastNotification!,
      99,
    );
    expect(status).toBe(204);
    const paidEvents = (await events(o.id)).filter((e) => e.toStatus === 'PAID');
    expect(paidEvents).toHaveLength(1);
    const inbox = await s.platform.deps.db
      .select()
      .from(notificationInbox)
      .where(eq(notificationInbox.outTradeNo, o.orderNo));
    expect(inbox).toHaveLength(1); // one row per notification id; the copies were no-ops
    expect(inbox[0]).toMatchObject({ verified: true, outcome: 'applied' });
    expect(inbox[0]!.rawBody).toContain('"event_type":"TRANSACTION.SUCCESS"');
  });

  it('rejects a notification with a tampered body or signature, and the order stays PAYING', async () => {
    const o = await newOrder();
    const sim = s.sandbox.wechat;
    sim.pay(o.orderNo, { notify: 'drop' });
    const n = sim.orders.get(o.orderNo)!.lastNotification!;
    const url = sim.orders.get(o.orderNo)!.notify_url;
    const tamperedBody = n.body.replace('"summary":"支付成功"', '"summary":"paid!!"');
    const r1 = await fetch(url, { method: 'POST', body: tamperedBody, headers: n.headers });
    expect(r1.status).toBe(401);
    const r2 = await fetch(url, {
      method: 'POST',
      body: n.body,
      headers: { ...n.headers, 'Wechatpay-Signature': 'WECHATPAY/SIGNTEST/abc' },
    });
    expect(r2.status).toBe(401);
    const stale = { ...n.headers, 'Wechatpay-Timestamp': String(Math.floor(Date.now() / 1000) - 3600) };
    const r3 = await fetch(url, { method: 'POST', body: n.body, headers: stale });
    expect(r3.status).toBe(401);
    expect((await orderRow(o.id)).status).toBe('PAYING');
    const rejected = await s.platform.deps.db
      .select()
      .from(notificationInbox)
      .where(eq(notificationInbox.outcome, 'rejected'));
    expect(rejected.length).toBeGreaterThanOrEqual(3);
    expect(rejected.map((x) => x.error).join()).toMatch(/signature/);
    // Three rejections in a row for one account: one alert for a person, not one per rejection.
    const rejectedAlerts = await s.platform.deps.db
      .select()
      .from(alerts)
      .where(eq(alerts.kind, 'notifications_rejected'));
    expect(rejectedAlerts).toHaveLength(1);
    await fetch(url, { method: 'POST', body: tamperedBody, headers: n.headers });
    expect(
      await s.platform.deps.db.select().from(alerts).where(eq(alerts.kind, 'notifications_rejected')),
    ).toHaveLength(1);
    // The genuine notification still works afterwards.
    const ok = await fetch(url, { method: 'POST', body: n.body, headers: n.headers });
    expect(ok.status).toBe(204);
    expect((await orderRow(o.id)).status).not.toBe('PAYING');
  });

  it('puts an order whose notification carries a wrong amount into CONFLICTED, with an alert, never PAID', async () => {
    const o = await newOrder(5000);
    s.sandbox.wechat.pay(o.orderNo, { notifyAmountFen: 1 });
    const row = await waitFor(
      async () => {
        const r = await orderRow(o.id);
        return r.status !== 'PAYING' ? r : undefined;
      },
      10_000,
      'order leaves PAYING',
    );
    expect(row.status).toBe('CONFLICTED');
    expect(row.paidAt).toBeNull();
    expect((await events(o.id)).map((e) => e.toStatus)).not.toContain('PAID');
    const a = await s.platform.deps.db.select().from(alerts).where(eq(alerts.orderId, o.id));
    expect(a.map((x) => x.kind)).toContain('amount_mismatch');
    expect(
      s.sandbox.his.results.size === 0 ||
        [...s.sandbox.his.results.values()].every((x) => x.body.orderNo !== o.orderNo),
    ).toBe(true);
  });

  it('turns 200 concurrent notifications and queries for one order into exactly one PAID transition', async () => {
    const o = await newOrder();
    const sim = s.sandbox.wechat;
    sim.pay(o.orderNo, { notify: 'drop' });
    const order = sim.orders.get(o.orderNo)!;
    const n = order.lastNotification!;
    const { runPaymentQuery } = await import('../../bff/src/modules/payments/query-job');
    await Promise.all(
      Array.from({ length: 200 }, (_, i) =>
        i % 2 === 0
          ? fetch(order.notify_url, { method: 'POST', body: n.body, headers: n.headers }).then((r) =>
              r.text(),
            )
          : runPaymentQuery(s.platform.deps, { orderId: o.id, attempt: 0 }),
      ),
    );
    const paid = (await events(o.id)).filter((e) => e.toStatus === 'PAID');
    expect(paid).toHaveLength(1);
  });
});

describe('notifications for what we do not know', () => {
  let s: TestStack;
  beforeAll(async () => {
    s = await startTestStack();
  });
  afterAll(async () => {
    await s?.stop();
  });

  it('keeps the raw body of a notification for an unknown account and refuses it', async () => {
    const r = await fetch(`${s.platform.url}/notify/wechatpay/ma_nobody`, {
      method: 'POST',
      body: '{"id":"x"}',
      headers: { 'content-type': 'application/json' },
    });
    expect(r.status).toBe(404);
    const rows = await s.platform.deps.db
      .select()
      .from(notificationInbox)
      .where(eq(notificationInbox.outcome, 'rejected'));
    expect(rows.map((x) => x.rawBody)).toContain('{"id":"x"}');
  });

  it('raises an alert for a verified payment of an order we do not have', async () => {
    // A real, signed notification for an order the simulator has but our database lost.
    const token = await s.login();
    const { billId } = await s.pushBill({ amountFen: 4100 });
    const o = (
      await s.api('POST', '/api/orders', {
        token,
        body: { billIds: [billId], channel: 'wechatpay', tradeType: 'NATIVE' },
      })
    ).body;
    const sim = s.sandbox.wechat.orders.get(o.orderNo)!;
    sim.out_trade_no = `${o.orderNo}X`; // the channel reports a number we never issued
    s.sandbox.wechat.orders.set(sim.out_trade_no, sim);
    s.sandbox.wechat.pay(sim.out_trade_no);
    const a = await waitFor(
      async () => {
        const rows = await s.platform.deps.db
          .select()
          .from(alerts)
          .where(eq(alerts.kind, 'unknown_order_notified'));
        return rows.length ? rows : undefined;
      },
      10_000,
      'alert',
    );
    expect(a[0]!.message).toContain(`${o.orderNo}X`);
  });
});
