import { startTestStack, type TestStack } from '../support/platform';

describe('system endpoints and HTTP edges', () => {
  let s: TestStack;
  beforeAll(async () => {
    s = await startTestStack({ bodyLimitBytes: 2048 });
  });
  afterAll(async () => {
    await s?.stop();
  });

  it('answers liveness and readiness', async () => {
    expect((await s.api('GET', '/healthz')).body).toEqual({ status: 'ok' });
    const r = await s.api('GET', '/readyz');
    expect(r.status).toBe(200);
    expect(r.body.checks).toEqual({ database: 'ok', jobs: 'ok' });
  });

  it('exposes latency by route and queue sizes to Prometheus', async () => {
    await s.api('GET', '/api/patient/bills', { token: await s.login() });
    const r = await fetch(`${s.platform.url}/metrics`);
    const text = await r.text();
    expect(text).toMatch(/http_request_duration_seconds_bucket\{[^}]*route="\/api\/patient\/bills"/);
    expect(text).toMatch(/jobs_queued\{queue="payment-query"\} \d+/);
  });

  it('echoes a sane request id and makes one otherwise', async () => {
    const a = await s.api('GET', '/healthz', { headers: { 'x-request-id': 'abc-12345678' } });
    expect(a.headers.get('x-request-id')).toBe('abc-12345678');
    const b = await s.api('GET', '/healthz', { headers: { 'x-request-id': 'bad id with spaces' } });
    expect(b.headers.get('x-request-id')).toMatch(/^[0-9a-f-]{36}$/);
  });

  it('gives clear error codes for unknown routes, missing sessions, bad JSON and oversized bodies', async () => {
    expect((await s.api('GET', '/nope')).body.error.code).toBe('not_found');
    const noAuth = await s.api('GET', '/api/patient/bills');
    expect(noAuth.status).toBe(401);
    expect(noAuth.body.error.code).toBe('unauthorized');
    const badToken = await s.api('GET', '/api/patient/bills', { token: 'x.y.z' });
    expect(badToken.body.error).toMatchObject({ code: 'unauthorized', message: 'invalid session token' });
    const token = await s.login();
    const bad = await s.api('POST', '/api/orders', { token, body: '{"billIds": [' });
    expect(bad.status).toBe(400);
    expect(bad.body.error.code).toBe('bad_request');
    const big = await s.api('POST', '/api/orders', {
      token,
      body: { billIds: ['x'.repeat(3000)], channel: 'wechatpay', tradeType: 'NATIVE' },
    });
    expect(big.status).toBe(413);
    expect(big.body.error.code).toBe('payload_too_large');
    const amount = await s.api('POST', '/api/orders', {
      token,
      body: { billIds: ['bill_x'], channel: 'wechatpay', tradeType: 'NATIVE', amountFen: 1 },
    });
    expect(amount.status).toBe(400);
    expect(amount.body.error.code).toBe('validation_failed');
  });

  it('never lets a patient pay or see another patient\u2019s bills and orders', async () => {
    const { billId } = await s.pushBill({ patientId: 'P0002', amountFen: 700 });
    const other = await s.login('P0001');
    const mine = await s.login('P0002');
    expect(
      (await s.api('GET', '/api/patient/bills', { token: other })).body.bills.map(
        (b: { id: string }) => b.id,
      ),
    ).not.toContain(billId);
    const steal = await s.api('POST', '/api/orders', {
      token: other,
      body: { billIds: [billId], channel: 'wechatpay', tradeType: 'NATIVE' },
    });
    expect(steal.status).toBe(404);
    const o = await s.api('POST', '/api/orders', {
      token: mine,
      body: { billIds: [billId], channel: 'wechatpay', tradeType: 'NATIVE' },
    });
    expect(o.status).toBe(201);
    expect((await s.api('GET', `/api/orders/${o.body.id}`, { token: other })).status).toBe(404);
  });

  it('stops gracefully: refuses new connections and reports not ready no more', async () => {
    const extra = await s.startAnotherPlatform({ workers: false });
    await extra.stop();
    await expect(fetch(`${extra.url}/healthz`)).rejects.toThrow();
  });
});
