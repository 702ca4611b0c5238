import { eq } from 'drizzle-orm';
import { orders } from '../../bff/src/db/schema';
import { startTestStack, type TestStack } from '../support/platform';

describe('Idempotency-Key on order creation', () => {
  let s: TestStack;
  let token: string;
  beforeAll(async () => {
    s = await startTestStack();
    token = await s.login();
  });
  afterAll(async () => {
    await s?.stop();
  });

  const create = (billIds: string[], key: string, tk = token) =>
    s.api('POST', '/api/orders', {
      token: tk,
      headers: { 'idempotency-key': key },
      body: { billIds, channel: 'wechatpay', tradeType: 'NATIVE' },
    });
  /** The live order holding a bill, as the patient sees it. */
  const ordersOfBill = async (billId: string) =>
    (await s.api('GET', '/api/patient/bills', { token })).body.bills.find(
      (b: { id: string }) => b.id === billId,
    )?.payingOrderId ?? null;

  it('returns the stored response for a repeated request and creates one order', async () => {
    const { billId } = await s.pushBill({ amountFen: 990 });
    const a = await create([billId], 'key-repeat-0001');
    const b = await create([billId], 'key-repeat-0001');
    expect(a.status).toBe(201);
    expect(b.status).toBe(201);
    expect(b.body).toEqual(a.body);
    expect(b.headers.get('idempotent-replayed')).toBe('true');
    expect(await ordersOfBill(billId)).toBe(a.body.id);
    const rows = await s.platform.deps.db.select().from(orders).where(eq(orders.orderNo, a.body.orderNo));
    expect(rows).toHaveLength(1);
  });

  it('refuses the same key with a different request', async () => {
    const one = await s.pushBill({ amountFen: 100 });
    const two = await s.pushBill({ amountFen: 200 });
    expect((await create([one.billId], 'key-differ-0001')).status).toBe(201);
    const r = await create([two.billId], 'key-differ-0001');
    expect(r.status).toBe(409);
    expect(r.body.error).toMatchObject({
      code: 'conflict',
      message: 'Idempotency-Key was already used for a different request',
    });
    expect(await ordersOfBill(two.billId)).toBeNull();
  });

  it('stores a 4xx answer too, and keeps keys of different patients apart', async () => {
    const first = await create(['bill_doesnotexist'], 'key-error-0001');
    expect(first.status).toBe(404);
    const again = await create(['bill_doesnotexist'], 'key-error-0001');
    expect(again.status).toBe(404);
    expect(again.headers.get('idempotent-replayed')).toBe('true');
    const other = await s.login('P0002');
    const { billId } = await s.pushBill({ patientId: 'P0002', amountFen: 300 });
    expect((await create([billId], 'key-error-0001', other)).status).toBe(201);
  });

  it('lets exactly one of 10 concurrent requests with one key through', async () => {
    const { billId } = await s.pushBill({ amountFen: 4242 });
    const results = await Promise.all(Array.from({ length: 10 }, () => create([billId], 'key-race-000001')));
    const created = new Set(results.filter((r) => r.status === 201).map((r) => r.body.id));
    expect(created.size).toBe(1);
    for (const r of results) if (r.status !== 201) expect(r.body.error.code).toBe('conflict');
  });

  it('rejects a malformed key', async () => {
    const r = await create(['bill_x'], 'short');
    expect(r.status).toBe(400);
    expect(r.body.error.code).toBe('bad_request');
  });
});
