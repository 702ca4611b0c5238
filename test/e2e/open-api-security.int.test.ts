import { count, eq } from 'drizzle-orm';
import { bills, openApiCalls } from '../../bff/src/db/schema';
import { signedHeaders } from '../../bff/src/modules/his/signature';
import { buildBill } from '../support/factories';
import { startTestStack, waitFor, type TestStack } from '../support/platform';

describe('open API: signed calls from the HIS', () => {
  let s: TestStack;
  let appId: string;
  let secret: string;
  beforeAll(async () => {
    s = await startTestStack();
    ({ appId, secret } = s.sandbox.keys.hospitals.H001!.his);
  });
  afterAll(async () => {
    await s?.stop();
  });

  const body = () =>
    JSON.stringify({ bills: [{ ...buildBill(), hospital: undefined, patientName: '张三' }] });
  const post = (text: string, headers: Record<string, string>) =>
    fetch(`${s.platform.url}/open/v1/bills`, { method: 'POST', body: text, headers }).then(async (r) => ({
      status: r.status,
      body: (await r.json()) as any,
    }));
  const billCount = async () => (await s.platform.deps.db.select({ n: count() }).from(bills))[0]!.n;

  it('accepts a correctly signed push and stores the bill idempotently', async () => {
    const text = body();
    const first = await post(text, signedHeaders(appId, secret, 'POST', '/open/v1/bills', text));
    expect(first.status).toBe(200);
    expect(first.body.results[0].outcome).toBe('created');
    const again = await post(text, signedHeaders(appId, secret, 'POST', '/open/v1/bills', text));
    expect(again.status).toBe(200);
    expect(again.body.results[0]).toMatchObject({
      outcome: 'unchanged',
      billId: first.body.results[0].billId,
    });
  });

  it('rejects a tampered body and stores nothing', async () => {
    const before = await billCount();
    const text = body();
    const headers = signedHeaders(appId, secret, 'POST', '/open/v1/bills', text);
    const tampered = text.replace(/"amountFen":(\d+)/, (_, n) => `"amountFen":${Number(n) + 1}`);
    const r = await post(tampered, headers);
    expect(r.status).toBe(401);
    expect(r.body.error.code).toBe('invalid_signature');
    expect(await billCount()).toBe(before);
  });

  it('rejects a signature made with another secret', async () => {
    const text = body();
    const r = await post(text, signedHeaders(appId, 'not-the-secret', 'POST', '/open/v1/bills', text));
    expect(r.status).toBe(401);
    expect(r.body.error.code).toBe('invalid_signature');
  });

  it('rejects an expired timestamp even when correctly signed', async () => {
    const before = await billCount();
    const text = body();
    const r = await post(
      text,
      signedHeaders(appId, secret, 'POST', '/open/v1/bills', text, new Date(Date.now() - 6 * 60_000)),
    );
    expect(r.status).toBe(401);
    expect(r.body.error.code).toBe('timestamp_out_of_window');
    expect(await billCount()).toBe(before);
  });

  it('rejects a replayed nonce, also when replayed to a second bff process', async () => {
    const text = body();
    const headers = signedHeaders(appId, secret, 'POST', '/open/v1/bills', text);
    expect((await post(text, headers)).status).toBe(200);
    const replay = await post(text, headers);
    expect(replay.status).toBe(401);
    expect(replay.body.error.code).toBe('nonce_replayed');
    const other = await s.startAnotherPlatform({ workers: false });
    const r = await fetch(`${other.url}/open/v1/bills`, { method: 'POST', body: text, headers });
    expect(r.status).toBe(401);
    expect(((await r.json()) as any).error.code).toBe('nonce_replayed');
  });

  it('rejects missing headers, unknown apps and invalid bills with clear codes', async () => {
    const text = body();
    expect((await post(text, { 'content-type': 'application/json' })).body.error.code).toBe('unauthorized');
    const unknown = await post(text, signedHeaders('no_such_app', secret, 'POST', '/open/v1/bills', text));
    expect(unknown.body.error).toMatchObject({ code: 'unauthorized', message: 'unknown or disabled app id' });
    const bad = JSON.stringify({
      bills: [{ hisBillNo: 'X1', patientId: 'P1', patientName: 'A', title: 't', amountFen: 10.5 }],
    });
    const r = await post(bad, signedHeaders(appId, secret, 'POST', '/open/v1/bills', bad));
    expect(r.status).toBe(400);
    expect(r.body.error).toMatchObject({ code: 'validation_failed' });
    expect(r.body.error.message).toMatch(/^bills\.0\.amountFen: /);
    const notJson = '{"bills": [';
    const r2 = await post(notJson, signedHeaders(appId, secret, 'POST', '/open/v1/bills', notJson));
    expect(r2.body.error.code).toBe('bad_request');
  });

  it('refuses to change a bill that is being paid, and changes nothing of the batch', async () => {
    const { billId, hisBillNo } = await s.pushBill({ amountFen: 3000 });
    const token = await s.login();
    const order = await s.api('POST', '/api/orders', {
      token,
      body: { billIds: [billId], channel: 'wechatpay', tradeType: 'NATIVE' },
    });
    expect(order.status).toBe(201);
    const fresh = buildBill();
    const text = JSON.stringify({
      bills: [
        { ...fresh, hospital: undefined, patientName: '张三' },
        { ...buildBill({ hisBillNo, amountFen: 9999 }), hospital: undefined, patientName: '张三' },
      ],
    });
    const r = await post(text, signedHeaders(appId, secret, 'POST', '/open/v1/bills', text));
    expect(r.status).toBe(409);
    expect(r.body.error.code).toBe('bill_locked');
    const stored = await s.platform.deps.db.select().from(bills).where(eq(bills.hisBillNo, fresh.hisBillNo!));
    expect(stored).toHaveLength(0);
  });

  it('logs every call, accepted or refused', async () => {
    const rows = await waitFor(async () => {
      const r = await s.platform.deps.db.select().from(openApiCalls);
      return r.some((x) => x.errorCode === 'nonce_replayed') ? r : undefined;
    });
    expect(rows.some((r) => r.httpStatus === 200 && r.appId === appId)).toBe(true);
    expect(rows.some((r) => r.errorCode === 'invalid_signature' && r.httpStatus === 401)).toBe(true);
  });
});
