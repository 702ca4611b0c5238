import jsQR from 'jsqr';
import { PNG } from 'pngjs';
import { startTestStack, waitFor, type TestStack } from '../support/platform';
import { buildBill } from '../support/factories';

describe('open API: bill status, cancel, slip QR codes, rate limit', () => {
  let s: TestStack;
  let token: string;
  beforeAll(async () => {
    s = await startTestStack();
    token = await s.login();
  });
  afterAll(async () => {
    await s?.stop();
  });

  const payOrder = async (billId: string) => {
    const r = await s.api('POST', '/api/orders', {
      token,
      body: { billIds: [billId], channel: 'wechatpay', tradeType: 'NATIVE' },
    });
    expect(r.status).toBe(201);
    return r.body as { id: string; orderNo: string };
  };

  it('tells the HIS a bill’s status and the order behind it', async () => {
    const { billId, hisBillNo } = await s.pushBill({ amountFen: 1500 });
    const before = await s.his('GET', `/open/v1/bills/${hisBillNo}`);
    expect(before.status).toBe(200);
    expect(before.body).toMatchObject({ hisBillNo, billId, status: 'UNPAID', amountFen: 1500, order: null });
    const o = await payOrder(billId);
    const paying = await s.his('GET', `/open/v1/bills/${hisBillNo}`);
    expect(paying.body.order).toMatchObject({ orderNo: o.orderNo, status: 'PAYING' });
    s.sandbox.wechat.pay(o.orderNo);
    await waitFor(
      async () => (await s.his('GET', `/open/v1/bills/${hisBillNo}`)).body.status === 'PAID',
      15_000,
      'PAID',
    );
    const paid = await s.his('GET', `/open/v1/bills/${hisBillNo}`);
    expect(paid.body.order).toMatchObject({ orderNo: o.orderNo, channel: 'wechatpay', amountFen: 1500 });
    expect((await s.his('GET', '/open/v1/bills/NO-SUCH-BILL')).status).toBe(404);

    // A paid bill can be neither cancelled nor changed.
    const cancel = await s.his('POST', `/open/v1/bills/${hisBillNo}/cancel`, { reason: '医生撤销' });
    expect(cancel.status).toBe(409);
    expect(cancel.body.error.code).toBe('bill_not_payable');
  });

  it('cancels an unpaid bill idempotently; refuses while an order holds it; changes nothing on refusal', async () => {
    const a = await s.pushBill({ amountFen: 800 });
    const first = await s.his('POST', `/open/v1/bills/${a.hisBillNo}/cancel`, { reason: '医生撤销处方' });
    expect(first.status).toBe(200);
    expect(first.body).toMatchObject({ status: 'CANCELLED', billId: a.billId });
    const again = await s.his('POST', `/open/v1/bills/${a.hisBillNo}/cancel`, { reason: '医生撤销处方' });
    expect(again.status).toBe(200);
    const bills = await s.api('GET', '/api/patient/bills', { token });
    expect(bills.body.bills.map((b: { id: string }) => b.id)).not.toContain(a.billId);

    const b = await s.pushBill({ amountFen: 900 });
    await payOrder(b.billId);
    const locked = await s.his('POST', `/open/v1/bills/${b.hisBillNo}/cancel`, { reason: '撤销' });
    expect(locked.status).toBe(409);
    expect(locked.body.error.code).toBe('bill_locked');
    expect((await s.his('GET', `/open/v1/bills/${b.hisBillNo}`)).body.status).toBe('UNPAID');

    const noReason = await s.his('POST', `/open/v1/bills/${b.hisBillNo}/cancel`, {});
    expect(noReason.status).toBe(400);
    expect(noReason.body.error.message).toMatch(/^reason: /);
  });

  it('prints a slip QR whose PNG decodes to the checkout URL; the token carries no amount', async () => {
    const visitNo = `V${Date.now()}`;
    const one = await s.pushBill({ amountFen: 2300, visitNo });
    const two = await s.pushBill({ amountFen: 700, visitNo });

    const json = await s.his('GET', `/open/v1/bills/${one.hisBillNo}/qr`);
    expect(json.status).toBe(200);
    expect(json.body.url).toMatch(/\/h5\/checkout\?t=/);
    const tokenOf = (url: string) => decodeURIComponent(new URL(url).searchParams.get('t')!);
    const payload = JSON.parse(Buffer.from(tokenOf(json.body.url).split('.')[1]!, 'base64url').toString());
    expect(JSON.stringify(payload)).not.toMatch(/2300|amount/i);

    // The PNG, fetched signed as the HIS would, decodes to the same kind of URL.
    const png = await s.hisRaw('GET', `/open/v1/bills/${one.hisBillNo}/qr?format=png`);
    expect(png.headers.get('content-type')).toBe('image/png');
    const img = PNG.sync.read(png.body);
    const decoded = jsQR(new Uint8ClampedArray(img.data), img.width, img.height);
    expect(decoded?.data).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/h5\/checkout\?t=/);

    const view = await s.api('GET', `/api/slips/${encodeURIComponent(tokenOf(decoded!.data))}`);
    expect(view.status).toBe(200);
    expect(view.body.bills.map((b: { id: string }) => b.id)).toEqual([one.billId]);
    expect(view.body.bills[0].amountFen).toBe(2300);
    expect(view.body.patient).toContain('*');

    const visit = await s.his('GET', `/open/v1/visits/${visitNo}/qr`);
    const visitView = await s.api('GET', `/api/slips/${encodeURIComponent(tokenOf(visit.body.url))}`);
    expect(visitView.body.bills.map((b: { id: string }) => b.id).sort()).toEqual(
      [one.billId, two.billId].sort(),
    );

    const t = tokenOf(json.body.url);
    const forged = `${t.slice(0, -3)}${t.endsWith('A') ? 'B' : 'A'}xx`;
    const bad = await s.api('GET', `/api/slips/${encodeURIComponent(forged)}`);
    expect(bad.status).toBe(401);
    expect(bad.body.error.message).toBe('invalid QR code');

    // A cancelled bill gets no QR.
    await s.his('POST', `/open/v1/bills/${two.hisBillNo}/cancel`, { reason: '撤销' });
    const none = await s.his('GET', `/open/v1/bills/${two.hisBillNo}/qr`);
    expect(none.status).toBe(409);
  });
});

describe('open API rate limit', () => {
  let s: TestStack;
  beforeAll(async () => {
    s = await startTestStack({ openApiRatePerSecond: 1, openApiRateBurst: 3 });
  });
  afterAll(async () => {
    await s?.stop();
  });

  it('answers 429 with Retry-After beyond the burst, then recovers', async () => {
    const bill = buildBill();
    const statuses: number[] = [];
    for (let i = 0; i < 5; i++)
      statuses.push((await s.his('GET', `/open/v1/bills/${bill.hisBillNo}`)).status);
    expect(statuses.slice(0, 3)).toEqual([404, 404, 404]);
    expect(statuses.slice(3)).toEqual([429, 429]);
    const limited = await s.hisRaw('GET', `/open/v1/bills/${bill.hisBillNo}`);
    expect(limited.status).toBe(429);
    expect(limited.headers.get('retry-after')).toBe('1');
    await new Promise((r) => setTimeout(r, 1100));
    expect((await s.his('GET', `/open/v1/bills/${bill.hisBillNo}`)).status).toBe(404);
  });
});
