import { eq, sql } from 'drizzle-orm';
import { alerts, hisPushes, orders, refunds } from '../../bff/src/db/schema';
import { runPaymentQuery } from '../../bff/src/modules/payments/query-job';
import { runRefundQuery } from '../../bff/src/modules/refunds/service';
import { sweep } from '../../bff/src/modules/system/sweep';
import { startTestStack, waitFor, type TestStack } from '../support/platform';

/** Paths a review of the money code found unguarded, each pinned by a test. */
describe('edge paths of the money', () => {
  let s: TestStack;
  let token: string;
  beforeAll(async () => {
    s = await startTestStack({ paymentQueryBackoffSeconds: [3600] });
    token = await s.login();
  });
  afterAll(async () => {
    await s?.stop();
  });

  const db = () => s.platform.deps.db;
  const orderRow = async (id: string) => (await db().select().from(orders).where(eq(orders.id, id)))[0]!;
  const alertKinds = async (orderId: string) =>
    (await db().select().from(alerts).where(eq(alerts.orderId, orderId))).map((a) => a.kind);
  async function newOrder(amountFen = 3000) {
    const { billId } = await s.pushBill({ amountFen });
    const r = await s.api('POST', '/api/orders', {
      token,
      body: { billIds: [billId], channel: 'wechatpay', tradeType: 'NATIVE' },
    });
    return r.body as { id: string; orderNo: string };
  }
  const hisRefund = async (body: Record<string, unknown>) =>
    (await s.his('POST', '/open/v1/refunds', body)).body;

  it('counts a refund the channel carries out after we closed it as ABNORMAL, and alerts', async () => {
    const o = await newOrder(3000);
    s.sandbox.wechat.pay(o.orderNo);
    await waitFor(async () => (await orderRow(o.id)).status === 'SETTLED', 10_000, 'SETTLED');
    s.sandbox.wechat.refundBehaviour = { outcome: 'abnormal', notify: 'deliver' };
    const r = await hisRefund({
      orderNo: o.orderNo,
      hisRefundNo: `HRL${Date.now()}`,
      amountFen: 1000,
      reason: '退',
    });
    s.sandbox.wechat.refundBehaviour = { outcome: 'success', notify: 'deliver' };
    await waitFor(
      async () => (await orderRow(o.id)).status === 'SETTLED',
      10_000,
      'back to SETTLED after ABNORMAL',
    );
    // Finance settles the abnormal refund at the channel; the channel now reports SUCCESS.
    const simRefund = [...s.sandbox.wechat.refunds.values()].find((x) => x.out_trade_no === o.orderNo)!;
    simRefund.status = 'PROCESSING';
    s.sandbox.wechat.finishRefund(simRefund, { outcome: 'success', notify: 'deliver' });
    await waitFor(async () => (await orderRow(o.id)).refundedFen === 1000, 10_000, 'late refund counted');
    expect((await orderRow(o.id)).status).toBe('PARTIALLY_REFUNDED');
    const [row] = await db().select().from(refunds).where(eq(refunds.id, r.id));
    expect(row!.status).toBe('SUCCESS');
    expect(await alertKinds(o.id)).toEqual(
      expect.arrayContaining(['refund_abnormal', 'refund_late_success']),
    );
    const pushes = await db().select().from(hisPushes).where(eq(hisPushes.orderId, o.id));
    expect(pushes.filter((p) => p.kind === 'refund')).toHaveLength(1);
  });

  it('flags, not applies, a payment the channel reports as already refunded outside the platform', async () => {
    const o = await newOrder();
    s.sandbox.wechat.pay(o.orderNo, { notify: 'drop' });
    s.sandbox.wechat.orders.get(o.orderNo)!.trade_state = 'REFUND';
    await runPaymentQuery(s.platform.deps, { orderId: o.id, attempt: 0 });
    expect((await orderRow(o.id)).status).toBe('CONFLICTED');
    expect(await alertKinds(o.id)).toEqual(['refunded_outside']);
  });

  it('restarts a dead payment-query chain, and leaves a live one alone', async () => {
    const o = await newOrder();
    // Kill every job, as a worker SIGKILLed on its last try would leave things, and age the rows.
    await db().execute(
      sql`DELETE FROM pgboss.job WHERE name IN ('payment-query', 'refund-query', 'his-push')`,
    );
    await db().execute(sql`UPDATE orders SET created_at = now() - interval '10 minutes' WHERE id = ${o.id}`);
    const first = await sweep(s.platform.deps);
    expect(first.paymentQueries).toBeGreaterThanOrEqual(1);
    const again = await sweep(s.platform.deps);
    expect(again.paymentQueries).toBe(0); // a live chain is left alone: chains never multiply
    // The restarted job may be running right now (a worker picks it up at once); once it has run, exactly
    // one successor waits, still PAYING, so the chain is alive and single.
    const jobsIn = async (states: string) =>
      (
        (await db().execute(
          sql`SELECT id FROM pgboss.job WHERE name = 'payment-query' AND data->>'orderId' = ${o.id} AND state IN ${sql.raw(states)}`,
        )) as unknown as { rows: unknown[] }
      ).rows.length;
    await waitFor(async () => (await jobsIn(`('active')`)) === 0, 10_000, 'restarted query finished');
    expect(await jobsIn(`('created', 'retry')`)).toBe(1);
    expect((await orderRow(o.id)).status).toBe('PAYING');
  });

  it('alerts once on a payment still unresolved long after expiry', async () => {
    const o = await newOrder();
    await db().execute(sql`UPDATE orders SET expires_at = now() - interval '40 minutes' WHERE id = ${o.id}`);
    s.sandbox.wechat.injectFault('query', 'system_error', 10);
    await sweep(s.platform.deps);
    await sweep(s.platform.deps);
    expect((await alertKinds(o.id)).filter((k) => k === 'payment_unresolved')).toHaveLength(1);
  });

  it('a refund query that finds nothing for long ends the refund and puts the order back', async () => {
    const o = await newOrder(900);
    s.sandbox.wechat.pay(o.orderNo);
    await waitFor(async () => (await orderRow(o.id)).status === 'SETTLED', 10_000, 'SETTLED');
    s.sandbox.wechat.injectFault('refund', 'drop', 1);
    const r = await hisRefund({
      orderNo: o.orderNo,
      hisRefundNo: `HRN${Date.now()}`,
      amountFen: 300,
      reason: '退',
    });
    expect(r.status).toBe('PENDING');
    await db().execute(sql`UPDATE refunds SET created_at = now() - interval '5 minutes' WHERE id = ${r.id}`);
    await runRefundQuery(s.platform.deps, { refundId: r.id, attempt: 0 });
    const [row] = await db().select().from(refunds).where(eq(refunds.id, r.id));
    expect(row!.status).toBe('FAILED');
    expect((await orderRow(o.id)).status).toBe('SETTLED');
  });
});
