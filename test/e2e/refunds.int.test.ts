import { eq } from 'drizzle-orm';
import { alerts, orderEvents, orders, refunds } from '../../bff/src/db/schema';
import { startTestStack, waitFor, type TestStack } from '../support/platform';

describe('refunds', () => {
  let s: TestStack;
  let token: string;
  beforeAll(async () => {
    s = await startTestStack();
    token = await s.login();
  });
  afterAll(async () => {
    await s?.stop();
  });

  /** An order paid and acknowledged by the HIS. */
  async function settledOrder(amountFen: number) {
    const { billId } = await s.pushBill({ amountFen });
    const r = await s.api('POST', '/api/orders', {
      token,
      body: { billIds: [billId], channel: 'wechatpay', tradeType: 'NATIVE' },
    });
    s.sandbox.wechat.pay(r.body.orderNo);
    await waitFor(async () => (await orderRow(r.body.id)).status === 'SETTLED', 15_000, 'SETTLED');
    return r.body as { id: string; orderNo: string };
  }
  const orderRow = async (id: string) =>
    (await s.platform.deps.db.select().from(orders).where(eq(orders.id, id)))[0]!;
  /** The HIS asks for a refund through the signed open API. */
  const hisRefund = (body: Record<string, unknown>) => s.his('POST', '/open/v1/refunds', body);
  let seq = 0;
  const refundNo = () => `HR${Date.now()}${++seq}`;

  it('refunds partially, then the rest; a further refund is refused; the HIS hears of each', async () => {
    const o = await settledOrder(10_000);
    const first = await hisRefund({
      orderNo: o.orderNo,
      hisRefundNo: refundNo(),
      amountFen: 3000,
      reason: '部分药品退药',
    });
    expect(first.status).toBe(200);
    expect(first.body).toMatchObject({ amountFen: 3000, orderNo: o.orderNo });
    await waitFor(
      async () => (await orderRow(o.id)).status === 'PARTIALLY_REFUNDED',
      10_000,
      'PARTIALLY_REFUNDED',
    );
    expect((await orderRow(o.id)).refundedFen).toBe(3000);

    const rest = await hisRefund({ orderNo: o.orderNo, hisRefundNo: refundNo(), reason: '退余额' });
    expect(rest.body.amountFen).toBe(7000);
    await waitFor(async () => (await orderRow(o.id)).status === 'REFUNDED', 10_000, 'REFUNDED');
    expect((await orderRow(o.id)).refundedFen).toBe(10_000);

    const more = await hisRefund({
      orderNo: o.orderNo,
      hisRefundNo: refundNo(),
      amountFen: 1,
      reason: '多退',
    });
    expect(more.status).toBe(409);
    expect(more.body.error.code).toBe('order_not_refundable');

    const pushes = await waitFor(
      async () => {
        const p = [...s.sandbox.his.results.values()].filter(
          (x) => x.body.kind === 'refund' && x.body.orderNo === o.orderNo,
        );
        return p.length === 2 ? p : undefined;
      },
      15_000,
      'two refund pushes',
    );
    expect(pushes.map((p) => p.body.amountFen).sort()).toEqual([3000, 7000]);
    expect(Math.max(...pushes.map((p) => p.body.refundedTotalFen as number))).toBe(10_000);
    const statuses = (
      await s.platform.deps.db
        .select()
        .from(orderEvents)
        .where(eq(orderEvents.orderId, o.id))
        .orderBy(orderEvents.id)
    ).map((e) => e.toStatus);
    expect(statuses).toEqual([
      'CREATED',
      'PAYING',
      'PAID',
      'SETTLED',
      'REFUNDING',
      'PARTIALLY_REFUNDED',
      'REFUNDING',
      'REFUNDED',
    ]);
  });

  it('refuses a refund larger than what is left, and changes nothing', async () => {
    const o = await settledOrder(500);
    const r = await hisRefund({ orderNo: o.orderNo, hisRefundNo: refundNo(), amountFen: 501, reason: 'x' });
    expect(r.status).toBe(409);
    expect(r.body.error.code).toBe('refund_exceeds_paid');
    expect(await s.platform.deps.db.select().from(refunds).where(eq(refunds.orderId, o.id))).toHaveLength(0);
    expect((await orderRow(o.id)).status).toBe('SETTLED');
  });

  it('is idempotent by the HIS refund number', async () => {
    const o = await settledOrder(2000);
    const no = refundNo();
    const a = await hisRefund({ orderNo: o.orderNo, hisRefundNo: no, amountFen: 800, reason: '退' });
    const b = await hisRefund({ orderNo: o.orderNo, hisRefundNo: no, amountFen: 800, reason: '退' });
    expect(b.body.id).toBe(a.body.id);
    const c = await hisRefund({ orderNo: o.orderNo, hisRefundNo: no, amountFen: 900, reason: '退' });
    expect(c.status).toBe(409);
    expect(await s.platform.deps.db.select().from(refunds).where(eq(refunds.orderId, o.id))).toHaveLength(1);
  });

  it('never refunds more than was paid under 50 concurrent requests', async () => {
    const o = await settledOrder(1000);
    const results = await Promise.all(
      Array.from({ length: 50 }, () =>
        hisRefund({ orderNo: o.orderNo, hisRefundNo: refundNo(), amountFen: 300, reason: '并发' }),
      ),
    );
    expect(results.filter((r) => r.status === 200).length).toBeGreaterThanOrEqual(1);
    for (const r of results)
      if (r.status !== 200)
        expect(['refund_in_progress', 'refund_exceeds_paid', 'order_not_refundable']).toContain(
          r.body.error.code,
        );
    // Let everything in flight finish, then keep asking until nothing more can be refunded.
    await waitFor(async () => (await orderRow(o.id)).status !== 'REFUNDING', 10_000, 'refund finished');
    for (let i = 0; i < 10; i++) {
      const r = await hisRefund({
        orderNo: o.orderNo,
        hisRefundNo: refundNo(),
        amountFen: 300,
        reason: '再退',
      });
      if (r.status !== 200) break;
      await waitFor(async () => (await orderRow(o.id)).status !== 'REFUNDING', 10_000, 'refund finished');
    }
    const done = await s.platform.deps.db.select().from(refunds).where(eq(refunds.orderId, o.id));
    const refunded = done.filter((r) => r.status === 'SUCCESS').reduce((sum, r) => sum + r.amountFen, 0);
    expect(refunded).toBe(900); // three of 300 fit in 1000; a fourth never does
    expect((await orderRow(o.id)).refundedFen).toBe(900);
    const simRefunded = [...s.sandbox.wechat.refunds.values()]
      .filter((r) => r.out_trade_no === o.orderNo && r.status === 'SUCCESS')
      .reduce((sum, r) => sum + r.refund, 0);
    expect(simRefunded).toBe(900);
  });

  it('resolves a refund whose notification was lost by querying', async () => {
    const o = await settledOrder(1500);
    s.sandbox.wechat.refundBehaviour = { outcome: 'success', notify: 'drop' };
    try {
      await hisRefund({ orderNo: o.orderNo, hisRefundNo: refundNo(), reason: '全退' });
      await waitFor(async () => (await orderRow(o.id)).status === 'REFUNDED', 15_000, 'REFUNDED via query');
    } finally {
      s.sandbox.wechat.refundBehaviour = { outcome: 'success', notify: 'deliver' };
    }
    const [r] = await s.platform.deps.db.select().from(refunds).where(eq(refunds.orderId, o.id));
    expect(r).toMatchObject({ status: 'SUCCESS' });
  });

  it('puts the order back and raises an alert when the channel reports the refund ABNORMAL', async () => {
    const o = await settledOrder(1200);
    s.sandbox.wechat.refundBehaviour = { outcome: 'abnormal', notify: 'deliver' };
    try {
      await hisRefund({ orderNo: o.orderNo, hisRefundNo: refundNo(), amountFen: 200, reason: '退' });
      await waitFor(async () => (await orderRow(o.id)).status === 'SETTLED', 15_000, 'back to SETTLED');
    } finally {
      s.sandbox.wechat.refundBehaviour = { outcome: 'success', notify: 'deliver' };
    }
    expect((await orderRow(o.id)).refundedFen).toBe(0);
    const a = await s.platform.deps.db.select().from(alerts).where(eq(alerts.orderId, o.id));
    expect(a.map((x) => x.kind)).toEqual(['refund_abnormal']);
  });
});
