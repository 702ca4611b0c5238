import { eq } from 'drizzle-orm';
import { alerts, bills, hisPushes, orderEvents, orders } from '../../bff/src/db/schema';
import { hisPushRetrySchedule, runHisPush } from '../../bff/src/modules/his/push-job';
import { runPaymentQuery } from '../../bff/src/modules/payments/query-job';
import { loadConfig } from '@hp/config';
import { movableClock, startTestStack, waitFor, type TestStack } from '../support/platform';

async function newOrder(s: TestStack, token: string, amountFen = 2345) {
  const { billId } = await s.pushBill({ amountFen });
  const r = await s.api('POST', '/api/orders', {
    token,
    body: { billIds: [billId], channel: 'wechatpay', tradeType: 'NATIVE' },
  });
  expect(r.status).toBe(201);
  return { ...(r.body as { id: string; orderNo: string }), billId };
}
const orderOf = async (s: TestStack, id: string) =>
  (await s.platform.deps.db.select().from(orders).where(eq(orders.id, id)))[0]!;

describe('compensation: nothing is lost', () => {
  let s: TestStack;
  let token: string;
  beforeAll(async () => {
    s = await startTestStack();
    token = await s.login();
  });
  afterAll(async () => {
    await s?.stop();
  });

  it('repairs a lost notification with the query job', async () => {
    const o = await newOrder(s, token);
    s.sandbox.wechat.pay(o.orderNo, { notify: 'drop' });
    const row = await waitFor(
      async () => {
        const r = await orderOf(s, o.id);
        return r.status === 'SETTLED' ? r : undefined;
      },
      15_000,
      'SETTLED via query',
    );
    const evs = await s.platform.deps.db.select().from(orderEvents).where(eq(orderEvents.orderId, o.id));
    expect(evs.find((e) => e.toStatus === 'PAID')?.actor).toBe('channel:wechatpay:query');
    expect(row.hisSyncStatus).toBe('ACKED');
  });

  it('pushes to the HIS again after it failed twice, then settles', async () => {
    s.sandbox.his.setFaults({ failNext: 2 });
    const o = await newOrder(s, token);
    s.sandbox.wechat.pay(o.orderNo);
    await waitFor(
      async () => (await orderOf(s, o.id)).status === 'SETTLED',
      20_000,
      'SETTLED after HIS retries',
    );
    const [push] = await s.platform.deps.db.select().from(hisPushes).where(eq(hisPushes.orderId, o.id));
    expect(push).toMatchObject({ status: 'ACKED', attempts: 3 });
    const tries = s.sandbox.his.attempts.filter((a) => a.eventId === push!.eventId).map((a) => a.status);
    expect(tries).toEqual([500, 500, 200]);
    expect([...s.sandbox.his.results.values()].filter((r) => r.eventId === push!.eventId)).toHaveLength(1);
  });
});

describe('compensation: crash between "channel paid" and "notification applied"', () => {
  let s: TestStack;
  afterAll(async () => {
    await s?.stop();
  });

  it('a restarted bff finds the payment by query and settles it', async () => {
    s = await startTestStack({ paymentQueryBackoffSeconds: [3, 1] });
    const token = await s.login();
    const o = await newOrder(s, token);
    await s.platform.stop(); // the process dies before any notification arrives
    s.sandbox.wechat.pay(o.orderNo); // the patient pays; the notification finds nobody listening
    await waitFor(
      async () => s.sandbox.wechat.deliveries.some((d) => d.outTradeNo === o.orderNo && d.status === 'error'),
      5000,
      'failed delivery',
    );
    const restarted = await s.startAnotherPlatform();
    const row = await waitFor(
      async () => {
        const [r] = await restarted.deps.db.select().from(orders).where(eq(orders.id, o.id));
        return r?.status === 'SETTLED' ? r : undefined;
      },
      20_000,
      'SETTLED after restart',
    );
    expect(row.paidAt).not.toBeNull();
    expect([...s.sandbox.his.results.values()].some((r) => r.body.orderNo === o.orderNo)).toBe(true);
  });
});

describe('compensation: the HIS is down for two hours', () => {
  let s: TestStack;
  const clock = movableClock();
  beforeAll(async () => {
    // The production schedule; no worker runs, the test delivers each retry when it falls due.
    s = await startTestStack(
      { hisPushRetryDelaySeconds: 30, hisPushRetryLimit: 11 },
      { clock, workers: false },
    );
  });
  afterAll(async () => {
    await s?.stop();
  });

  it('the default retry schedule spans about a day before a push is given up', () => {
    const { giveUpAfterSeconds } = hisPushRetrySchedule(loadConfig({}, { nodeEnv: 'development' }));
    expect(giveUpAfterSeconds.min).toBeGreaterThanOrEqual(12 * 3600);
    expect(giveUpAfterSeconds.max).toBeLessThanOrEqual(48 * 3600);
  });

  it('survives two hours of downtime on the fastest retry schedule, then is delivered exactly once', async () => {
    const token = await s.login();
    const o = await newOrder(s, token);
    s.sandbox.wechat.pay(o.orderNo);
    const push = await waitFor(
      async () => (await s.platform.deps.db.select().from(hisPushes).where(eq(hisPushes.orderId, o.id)))[0],
      15_000,
      'HIS push recorded',
    );
    const { waits } = hisPushRetrySchedule(s.platform.deps.config);
    const downUntil = clock.now().getTime() + 2 * 3600_000;
    const deliver = (retryCount: number) =>
      runHisPush(s.platform.deps, {
        id: `driven-${retryCount}`,
        data: { eventId: push.eventId },
        retryCount,
        retryLimit: waits.length,
      });
    let n = 0;
    let advanced = 0; // seconds the clock was moved on (the clock also runs in real time, slowly under load)
    const failedAt: number[] = [];
    for (; n <= waits.length; n++) {
      s.sandbox.his.setFaults({ down: clock.now().getTime() < downUntil });
      const ok = await deliver(n).then(
        () => true,
        () => false,
      );
      if (ok) break;
      failedAt.push(advanced);
      // The earliest moment pg-boss may run the next retry: the worst case for getting through.
      clock.advance(waits[n]!.minSeconds * 1000);
      advanced += waits[n]!.minSeconds;
    }
    expect(failedAt).toEqual([0, 30, 90, 210, 450, 930, 1890, 3810]);
    expect(n).toBe(8); // the ninth attempt, 7650 s after the first, after the HIS came back
    const row = await orderOf(s, o.id);
    expect(row).toMatchObject({ status: 'SETTLED', hisSyncStatus: 'ACKED', oneSided: false });
    const [after] = await s.platform.deps.db.select().from(hisPushes).where(eq(hisPushes.orderId, o.id));
    expect(after).toMatchObject({ status: 'ACKED', attempts: 9 });
    // A re-run (a lease that expired mid-push) sends nothing; a repeated push is not counted twice by the HIS.
    const sent = s.sandbox.his.attempts.filter((a) => a.eventId === push.eventId).length;
    await deliver(n + 1);
    expect(s.sandbox.his.attempts.filter((a) => a.eventId === push.eventId)).toHaveLength(sent);
    expect([...s.sandbox.his.results.values()].filter((r) => r.eventId === push.eventId)).toHaveLength(1);
    expect(await s.platform.deps.db.select().from(alerts).where(eq(alerts.orderId, o.id))).toEqual([]);
  });
});

describe('compensation: the HIS never acknowledges', () => {
  let s: TestStack;
  afterAll(async () => {
    await s?.stop();
  });

  it('flags a one-sided entry with a critical alert after the last retry', async () => {
    s = await startTestStack({ hisPushRetryLimit: 1 });
    const token = await s.login();
    s.sandbox.his.setFaults({ down: true });
    const o = await newOrder(s, token);
    s.sandbox.wechat.pay(o.orderNo);
    const row = await waitFor(
      async () => {
        const r = await orderOf(s, o.id);
        return r.oneSided ? r : undefined;
      },
      20_000,
      'one-sided flag',
    );
    expect(row).toMatchObject({ status: 'PAID', hisSyncStatus: 'FAILED', oneSided: true });
    const a = await s.platform.deps.db.select().from(alerts).where(eq(alerts.orderId, o.id));
    expect(a).toEqual([
      expect.objectContaining({ kind: 'one_sided_entry', severity: 'critical', status: 'OPEN' }),
    ]);
    const [push] = await s.platform.deps.db.select().from(hisPushes).where(eq(hisPushes.orderId, o.id));
    expect(push).toMatchObject({ status: 'FAILED', attempts: 2 });
  });
});

describe('compensation: expiry and late success', () => {
  let s: TestStack;
  const clock = movableClock();
  beforeAll(async () => {
    // Query chain effectively off: the test drives the job itself.
    s = await startTestStack({ paymentQueryBackoffSeconds: [3600] }, { clock });
  });
  afterAll(async () => {
    await s?.stop();
  });

  it('closes an expired order at the channel first, then locally, and releases its bills', async () => {
    const token = await s.login();
    const o = await newOrder(s, token);
    await runPaymentQuery(s.platform.deps, { orderId: o.id, attempt: 0 });
    expect((await orderOf(s, o.id)).status).toBe('PAYING'); // not expired yet: still waiting
    clock.advance(16 * 60_000);
    await runPaymentQuery(s.platform.deps, { orderId: o.id, attempt: 1 });
    expect(s.sandbox.wechat.orders.get(o.orderNo)?.trade_state).toBe('CLOSED');
    expect((await orderOf(s, o.id)).status).toBe('CLOSED');
    const [bill] = await s.platform.deps.db.select().from(bills).where(eq(bills.id, o.billId));
    expect(bill).toMatchObject({ status: 'UNPAID', lockedOrderId: null });

    // The channel then reports a success anyway (signed with real time, so our clock comes back too):
    // CONFLICTED + alert, never PAID.
    clock.advance(-16 * 60_000);
    s.sandbox.wechat.pay(o.orderNo, { force: true });
    const row = await waitFor(
      async () => {
        const r = await orderOf(s, o.id);
        return r.status === 'CONFLICTED' ? r : undefined;
      },
      10_000,
      'CONFLICTED',
    );
    expect(row.paidAt).toBeNull();
    const a = await s.platform.deps.db.select().from(alerts).where(eq(alerts.orderId, o.id));
    expect(a.map((x) => x.kind)).toEqual(['paid_after_close']);
  });

  it('applies the payment instead of closing when the channel says it was paid at expiry', async () => {
    const token = await s.login();
    const o = await newOrder(s, token);
    s.sandbox.wechat.pay(o.orderNo, { notify: 'drop' });
    clock.advance(16 * 60_000);
    await runPaymentQuery(s.platform.deps, { orderId: o.id, attempt: 5 });
    clock.advance(-16 * 60_000);
    expect(['PAID', 'SETTLED']).toContain((await orderOf(s, o.id)).status);
    expect(s.sandbox.wechat.orders.get(o.orderNo)?.trade_state).toBe('SUCCESS');
  });
});
