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

  /** The HIS of H002 scans a payment code at the window. */
  async function codePayment(prefix: string, amountFen: number) {
    const { hisBillNo } = await s.pushBill({ hospital: 'H002', patientId: 'P1001', amountFen });
    const authCode = `${prefix}${String(Date.now()).slice(-10)}${Math.floor(Math.random() * 1e4)
      .toString()
      .padStart(4, '0')}`;
    return s.his(
      'POST',
      '/open/v1/code-payments',
      { hisBillNos: [hisBillNo], authCode, channel: 'wechatpay' },
      'H002',
    );
  }
  const orderStatus = async (orderNo: string) =>
    (await s.platform.deps.db.select().from(orders).where(eq(orders.orderNo, orderNo)))[0]?.status;

  it('takes a payment code for the sub-merchant: v2 micropay with sub_mch_id, signed with the provider’s key', async () => {
    const r = await codePayment('1340', 1800);
    expect(r.status).toBe(201);
    expect(r.body).toMatchObject({ status: 'PAID', amountFen: 1800, tradeType: 'MICROPAY' });
    const sim = s.sandbox.wechat.orders.get(r.body.orderNo)!;
    expect(sim).toMatchObject({
      sp_mchid: s.sandbox.keys.wechatServiceProvider.mchId,
      mchid: s.sandbox.keys.hospitals.H002!.wechat.mchId,
      trade_type: 'MICROPAY',
      trade_state: 'SUCCESS',
    });
    await waitFor(async () => (await orderStatus(r.body.orderNo)) === 'SETTLED', 15_000, 'SETTLED');
  });

  it('polls a payment code the patient is confirming (USERPAYING), then settles', async () => {
    const r = await codePayment('1341', 2600);
    expect(r.status).toBe(201);
    expect(r.body.status).toBe('PAYING');
    await waitFor(
      async () => (await orderStatus(r.body.orderNo)) === 'SETTLED',
      15_000,
      'SETTLED after USERPAYING in partner mode',
    );
    expect(s.sandbox.wechat.orders.get(r.body.orderNo)).toMatchObject({
      sp_mchid: s.sandbox.keys.wechatServiceProvider.mchId,
      trade_state: 'SUCCESS',
    });
  });

  it('reverses an unconfirmed payment code for the sub-merchant', async () => {
    const r = await codePayment('1342', 900);
    expect(r.body.status).toBe('PAYING');
    await waitFor(async () => (await orderStatus(r.body.orderNo)) === 'CLOSED', 20_000, 'CLOSED by reverse');
    expect(s.sandbox.wechat.orders.get(r.body.orderNo)?.trade_state).toBe('REVOKED');
  });
});
