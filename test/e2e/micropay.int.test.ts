import { eq } from 'drizzle-orm';
import { bills, orderEvents, orders } from '../../bff/src/db/schema';
import { signedHeaders } from '../../bff/src/modules/his/signature';
import { startTestStack, waitFor, type TestStack } from '../support/platform';

/** Payment codes (付款码) scanned at the window; the HIS calls the open API. Simulator codes: see simulator.ts. */
describe('WeChat payment code (micropay)', () => {
  let s: TestStack;
  beforeAll(async () => {
    s = await startTestStack();
  });
  afterAll(async () => {
    await s?.stop();
  });

  async function his(method: string, target: string, body?: unknown) {
    const { appId, secret } = s.sandbox.keys.hospitals.H001!.his;
    const text = body === undefined ? '' : JSON.stringify(body);
    const res = await fetch(`${s.platform.url}${target}`, {
      method,
      body: body === undefined ? undefined : text,
      headers: signedHeaders(appId, secret, method, target, text),
    });
    return { status: res.status, body: (await res.json()) as any };
  }
  const code = (prefix: string) =>
    `${prefix}${String(Date.now()).slice(-10)}${Math.floor(Math.random() * 1e4)
      .toString()
      .padStart(4, '0')}`;
  async function pay(prefix: string, amountFen = 1800) {
    const { hisBillNo, billId } = await s.pushBill({ amountFen });
    const r = await his('POST', '/open/v1/code-payments', {
      hisBillNos: [hisBillNo],
      authCode: code(prefix),
      channel: 'wechatpay',
    });
    return { ...r, billId };
  }
  const status = async (orderNo: string) =>
    (await his('GET', `/open/v1/orders/${orderNo}`)).body.status as string;
  const bill = async (id: string) =>
    (await s.platform.deps.db.select().from(bills).where(eq(bills.id, id)))[0]!;

  it('is paid at once with a code the patient need not confirm', async () => {
    const r = await pay('1340', 1800);
    expect(r.status).toBe(201);
    expect(r.body).toMatchObject({ status: 'PAID', amountFen: 1800, tradeType: 'MICROPAY' });
    await waitFor(async () => (await status(r.body.orderNo)) === 'SETTLED', 15_000, 'SETTLED');
  });

  it('polls while the patient confirms (USERPAYING), then settles', async () => {
    const r = await pay('1341');
    expect(r.body.status).toBe('PAYING');
    await waitFor(
      async () => (await status(r.body.orderNo)) === 'SETTLED',
      15_000,
      'SETTLED after confirmation',
    );
  });

  it('reverses when the patient never confirms — repeating while told recall=Y — and frees the bills', async () => {
    s.sandbox.wechat.reverseRecalls = 1;
    const r = await pay('1342');
    expect(r.body.status).toBe('PAYING');
    await waitFor(async () => (await status(r.body.orderNo)) === 'CLOSED', 20_000, 'CLOSED by reverse');
    expect(s.sandbox.wechat.orders.get(r.body.orderNo)?.trade_state).toBe('REVOKED');
    expect(s.sandbox.wechat.reverseRecalls).toBe(0);
    expect(await bill(r.billId)).toMatchObject({ status: 'UNPAID', lockedOrderId: null });
    const [o] = await s.platform.deps.db.select().from(orders).where(eq(orders.orderNo, r.body.orderNo));
    const evs = await s.platform.deps.db.select().from(orderEvents).where(eq(orderEvents.orderId, o!.id));
    expect(evs.at(-1)?.reason).toMatch(/^reversed/);
  });

  it('confirms a SYSTEMERROR by query and finds the payment', async () => {
    const r = await pay('1344');
    expect(r.status).toBe(201);
    await waitFor(
      async () => (await status(r.body.orderNo)) === 'SETTLED',
      15_000,
      'SETTLED after SYSTEMERROR',
    );
  });

  it.each([
    ['1343', 'NOTENOUGH'],
    ['1999', 'AUTH_CODE_INVALID'],
  ])(
    'fails the order and frees the bills when code %s is refused (%s), after confirming by query',
    async (prefix, errCode) => {
      const r = await pay(prefix);
      expect(r.status).toBe(502);
      expect(r.body.error.code).toBe('channel_error');
      expect(r.body.error.message).toContain(errCode);
      expect(await bill(r.billId)).toMatchObject({ status: 'UNPAID', lockedOrderId: null });
    },
  );

  it('refuses bills of two patients in one payment, and a malformed code, changing nothing', async () => {
    const a = await s.pushBill({ patientId: 'P0001' });
    const b = await s.pushBill({ patientId: 'P0002' });
    const r = await his('POST', '/open/v1/code-payments', {
      hisBillNos: [a.hisBillNo, b.hisBillNo],
      authCode: code('1340'),
      channel: 'wechatpay',
    });
    expect(r.status).toBe(400);
    expect(r.body.error.message).toMatch(/one patient/);
    const bad = await his('POST', '/open/v1/code-payments', {
      hisBillNos: [a.hisBillNo],
      authCode: '12ab',
      channel: 'wechatpay',
    });
    expect(bad.status).toBe(400);
    expect(bad.body.error.code).toBe('validation_failed');
    expect(await bill(a.billId)).toMatchObject({ status: 'UNPAID', lockedOrderId: null });
  });

  it('keeps payment codes from the patient API', async () => {
    const token = await s.login();
    const { billId } = await s.pushBill();
    const r = await s.api('POST', '/api/orders', {
      token,
      body: { billIds: [billId], channel: 'wechatpay', tradeType: 'MICROPAY' },
    });
    expect(r.status).toBe(400);
    expect(r.body.error.message).toMatch(/code-payments/);
  });
});
