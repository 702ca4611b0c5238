import { startTestStack, waitFor, type TestStack } from '../support/platform';

describe('embedded PGlite (the demo database): the same path, jobs included', () => {
  let s: TestStack;
  afterAll(async () => {
    await s?.stop();
  });

  it('runs migrations and pg-boss, pays a bill end to end, and keeps the data across a restart', async () => {
    s = await startTestStack({}, { pglite: true });
    expect(s.platform.database.kind).toBe('pglite');
    const ready = await s.api('GET', '/readyz');
    expect(ready.body).toEqual({ status: 'ready', checks: { database: 'ok', jobs: 'ok' } });

    const { billId } = await s.pushBill({ amountFen: 8800 });
    const token = await s.login();
    const created = await s.api('POST', '/api/orders', {
      token,
      body: { billIds: [billId], channel: 'wechatpay', tradeType: 'NATIVE' },
    });
    expect(created.status).toBe(201);
    s.sandbox.wechat.pay(created.body.orderNo);
    await waitFor(
      async () => (await s.api('GET', `/api/orders/${created.body.id}`, { token })).body.status === 'SETTLED',
      20_000,
      'SETTLED on PGlite',
    );

    await s.platform.stop();
    const again = await s.startAnotherPlatform();
    const r = await s.api('GET', `/api/orders/${created.body.id}`, { token, platform: again });
    expect(r.body).toMatchObject({ status: 'SETTLED', amountFen: 8800 });
  });
});
