import { eq } from 'drizzle-orm';
import { orders } from '../../bff/src/db/schema';
import { signedHeaders } from '../../bff/src/modules/his/signature';
import { startTestStack, waitFor, type TestStack } from '../support/platform';

/** Hospital H002 is a sub-merchant of a service provider (WeChat Pay partner mode). */
describe('WeChat Pay service-provider (partner) mode', () => {
  let s: TestStack;
  beforeAll(async () => {
    s = await startTestStack();
  });
  afterAll(async () => {
    await s?.stop();
  });

  it('pays, settles and refunds through the service provider for the sub-merchant', async () => {
    const token = await s.login('P1001', 'H002');
    const { billId } = await s.pushBill({ hospital: 'H002', patientId: 'P1001', amountFen: 32000 });
    const created = await s.api('POST', '/api/orders', {
      token,
      body: { billIds: [billId], channel: 'wechatpay', tradeType: 'NATIVE' },
    });
    expect(created.status).toBe(201);
    const sim = s.sandbox.wechat.orders.get(created.body.orderNo)!;
    const sp = s.sandbox.keys.wechatServiceProvider;
    expect(sim).toMatchObject({
      sp_mchid: sp.mchId,
      mchid: s.sandbox.keys.hospitals.H002!.wechat.mchId,
      appid: sp.appId,
    });

    s.sandbox.wechat.pay(created.body.orderNo); // notification encrypted with the provider's APIv3 key
    const row = await waitFor(
      async () => {
        const [o] = await s.platform.deps.db.select().from(orders).where(eq(orders.id, created.body.id));
        return o?.status === 'SETTLED' ? o : undefined;
      },
      15_000,
      'SETTLED in partner mode',
    );
    expect(row.amountFen).toBe(32000);

    const { appId, secret } = s.sandbox.keys.hospitals.H002!.his;
    const body = JSON.stringify({
      orderNo: created.body.orderNo,
      hisRefundNo: `HRP${Date.now()}`,
      amountFen: 2000,
      reason: '部分退费',
    });
    const r = await fetch(`${s.platform.url}/open/v1/refunds`, {
      method: 'POST',
      body,
      headers: signedHeaders(appId, secret, 'POST', '/open/v1/refunds', body),
    });
    expect(r.status).toBe(200);
    await waitFor(
      async () => {
        const [o] = await s.platform.deps.db.select().from(orders).where(eq(orders.id, created.body.id));
        return o?.status === 'PARTIALLY_REFUNDED';
      },
      15_000,
      'refunded in partner mode',
    );
    const simRefund = [...s.sandbox.wechat.refunds.values()].find(
      (x) => x.out_trade_no === created.body.orderNo,
    );
    expect(simRefund).toMatchObject({ sp_mchid: sp.mchId, status: 'SUCCESS', refund: 2000 });
  });

  it('does not offer payment codes in partner mode (declared, not faked)', async () => {
    const { hisBillNo } = await s.pushBill({ hospital: 'H002', patientId: 'P1001' });
    const text = JSON.stringify({
      hisBillNos: [hisBillNo],
      authCode: '134000000000000000',
      channel: 'wechatpay',
    });
    const { appId, secret } = s.sandbox.keys.hospitals.H002!.his;
    const c = await fetch(`${s.platform.url}/open/v1/code-payments`, {
      method: 'POST',
      body: text,
      headers: signedHeaders(appId, secret, 'POST', '/open/v1/code-payments', text),
    });
    expect(c.status).toBe(400);
    expect(((await c.json()) as any).error.message).toMatch(/does not support MICROPAY/);
  });
});
