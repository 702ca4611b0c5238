import { eq } from 'drizzle-orm';
import {
  alerts,
  bills,
  insuranceRefunds,
  insuranceSettlements,
  notificationInbox,
  orders,
  payments,
  refunds,
} from '../../bff/src/db/schema';
import { runPaymentQuery } from '../../bff/src/modules/payments/query-job';
import { SANDBOX_WECHAT_APPS } from '../../bff/src/sandbox/wechatpay/login';
import { movableClock, startTestStack, waitFor, type TestStack } from '../support/platform';

/**
 * Medical insurance (医保) at checkout, end to end against the national-platform and WeChat simulators:
 * authorisation, quote with the split, settlement with the cash part through WeChat Pay, the HIS push with the
 * split, every partial outcome repaired, refunds of each kind. Nothing mocked.
 */

const ZHANG = '11000000000000000001'; // 张三, P0001 at H001; personal account 500 yuan

/**
 * A bill whose split the default rules make interesting: 西药 70 % fund, 化验 60 %, the rest of both from the
 * personal account; 其他费 neither fund nor account: cash.
 */
const mixedItems = [
  { name: '阿莫西林胶囊', quantity: 2, amountFen: 3000, category: '09', code: 'XJ01CAA040A001' },
  { name: '血常规', quantity: 1, amountFen: 2500, category: '04' },
  { name: '材料加工费', quantity: 1, amountFen: 500, category: '14' },
];
const mixedTotal = 6000;

describe('medical insurance checkout', () => {
  const clock = movableClock();
  let s: TestStack;
  let token: string;
  const db = () => s.platform.deps.db;

  const simPost = async (path: string, body: unknown) => {
    const r = await fetch(`${s.sandbox.nhsa.url}${path}`, { method: 'POST', body: JSON.stringify(body) });
    return { status: r.status, body: (await r.json().catch(() => ({}))) as any };
  };
  const simGet = async (path: string) => (await (await fetch(`${s.sandbox.nhsa.url}${path}`)).json()) as any;
  const settlementOf = async (orderId: string) =>
    (await db().select().from(insuranceSettlements).where(eq(insuranceSettlements.orderId, orderId)))[0]!;
  const orderOf = async (orderId: string) =>
    (await db().select().from(orders).where(eq(orders.id, orderId)))[0]!;
  const balance = async (t = token) =>
    (await s.api('GET', '/api/insurance/balance', { token: t })).body.balanceFen as number;

  async function authorize(t: string, psnNo = ZHANG) {
    const { body } = await simPost('/sim/nhsa/authorize', { psnNo });
    const r = await s.api('POST', '/api/insurance/authorize/complete', {
      token: t,
      body: { authCode: body.authCode },
    });
    expect(r.status).toBe(200);
    return r.body;
  }

  async function quote(
    items = mixedItems,
    amountFen = mixedTotal,
    t = token,
    extra: Record<string, unknown> = {},
  ) {
    const b = await s.pushBill({ patientId: 'P0001', amountFen, items, title: '门诊费用' } as never);
    const q = await s.api('POST', '/api/insurance/quotes', {
      token: t,
      body: { billIds: [b.billId], ...extra },
    });
    return { bill: b, q };
  }

  const settledAtHis = (orderNo: string) =>
    waitFor(
      async () =>
        [...s.sandbox.his.results.values()].find(
          (r) => r.body.orderNo === orderNo && r.body.kind === 'payment',
        ),
      15_000,
      `HIS payment push of ${orderNo}`,
    );

  beforeAll(async () => {
    s = await startTestStack({}, { clock });
    token = await s.login('P0001');
  });
  afterAll(() => s.stop());

  it('refuses a quote without authorisation, with a clear code, and holds nothing', async () => {
    const st = await s.api('GET', '/api/insurance/status', { token });
    expect(st.body).toMatchObject({
      available: true,
      authorized: false,
      settleChannels: ['nhsa', 'wxmedins'],
    });
    const { bill, q } = await quote();
    expect(q.status).toBe(403);
    expect(q.body.error.code).toBe('insurance_not_authorized');
    const [b] = await db().select().from(bills).where(eq(bills.id, bill.billId));
    expect(b!.lockedOrderId).toBeNull();
    // Bad input: an unknown field, no bills.
    expect((await s.api('POST', '/api/insurance/quotes', { token, body: { billIds: [] } })).status).toBe(400);
    // The authorisation of somebody else (李四) cannot pay 张三's bills.
    const other = await simPost('/sim/nhsa/authorize', { psnNo: '11000000000000000002' });
    const r = await s.api('POST', '/api/insurance/authorize/complete', {
      token,
      body: { authCode: other.body.authCode },
    });
    expect(r.status).toBe(422);
    expect(r.body.error.code).toBe('name_mismatch');
  });

  it('authorises through the platform page, masks the person, shows the balance', async () => {
    const start = await s.api('POST', '/api/insurance/authorize', {
      token,
      body: { returnUrl: 'http://127.0.0.1:10086/h5/insurance/return' },
    });
    expect(start.status).toBe(200);
    const page = await fetch(start.body.pageUrl);
    expect(await page.text()).toContain('授权');
    const st = await authorize(token);
    expect(st).toMatchObject({ authorized: true, nameMasked: '张*', insutype: '310' });
    expect(st.idNoMasked).not.toContain('19850312');
    expect(await balance()).toBe(50_000);
  });

  it('quotes the split, settles insurance, collects the cash by WeChat Pay, and pushes the split to the HIS', async () => {
    const before = await balance();
    const { bill, q } = await quote();
    expect(q.status).toBe(201);
    const split = q.body.split;
    expect(split.totalFen).toBe(mixedTotal);
    expect(split.fundFen + split.psnAcctFen + split.otherFen + split.cashFen).toBe(mixedTotal);
    expect(split).toMatchObject({ fundFen: 2100 + 1500, psnAcctFen: 900 + 1000, otherFen: 0, cashFen: 500 });
    expect(q.body).toMatchObject({ status: 'CREATED', settlementStatus: 'QUOTED', settleChannel: 'nhsa' });
    // The bill is held by the quote.
    expect((await db().select().from(bills).where(eq(bills.id, bill.billId)))[0]!.lockedOrderId).toBe(
      q.body.orderId,
    );

    const paid = await s.api('POST', `/api/insurance/orders/${q.body.orderId}/pay`, { token });
    expect(paid.status).toBe(200);
    expect(paid.body.settlementStatus).toBe('SETTLED');
    if (split.cashFen > 0) {
      expect(paid.body.status).toBe('PAYING');
      expect(paid.body.pay.codeUrl).toMatch(/^weixin:\/\//);
      await fetch(`${s.sandbox.wechat.url}/sim/wechatpay/orders/${q.body.orderNo}/pay`, {
        method: 'POST',
        body: '{}',
      });
    }
    await waitFor(async () => (await orderOf(q.body.orderId)).status === 'SETTLED', 15_000, 'order settled');
    const push = await settledAtHis(q.body.orderNo);
    expect(push.body.insurance).toMatchObject({
      ...split,
      payOrdId: expect.any(String),
      settleChannel: 'nhsa',
    });
    expect(push.body.amountFen).toBe(mixedTotal);
    const [pay] = await db().select().from(payments).where(eq(payments.orderId, q.body.orderId));
    expect(pay?.amountFen ?? 0).toBe(split.cashFen);
    expect(await balance()).toBe(before - split.psnAcctFen);
    // The platform saw the same split, settled.
    const platform = await simGet(`/sim/nhsa/orders/${(await settlementOf(q.body.orderId)).payOrdId}`);
    expect(platform.setlId).toBe((push.body.insurance as { settlementId: string }).settlementId);
  });

  it('settles an insurance-only order with no cash part at once', async () => {
    // 一般诊疗费: 80 % fund, the rest from the account (balance suffices): cash 0.
    const { q } = await quote([{ name: '一般诊疗费', quantity: 1, amountFen: 1000, category: '12' }], 1000);
    expect(q.body.split).toMatchObject({ fundFen: 800, psnAcctFen: 200, cashFen: 0 });
    const paid = await s.api('POST', `/api/insurance/orders/${q.body.orderId}/pay`, { token });
    expect(['PAID', 'SETTLED']).toContain(paid.body.status);
    expect(await db().select().from(payments).where(eq(payments.orderId, q.body.orderId))).toHaveLength(0);
    await settledAtHis(q.body.orderNo);
  });

  it('a refused settlement fails the order, releases the bills and withdraws the upload', async () => {
    const { bill, q } = await quote();
    await simPost('/sim/nhsa/faults', {
      op: 'settle',
      fault: 'fail',
      code: 2009,
      message: '个人账户余额不足',
    });
    const paid = await s.api('POST', `/api/insurance/orders/${q.body.orderId}/pay`, { token });
    expect(paid.body.status).toBe('FAILED');
    expect(paid.body.settlementStatus).toBe('FAILED');
    expect(paid.body.error).toContain('个人账户余额不足');
    expect((await db().select().from(bills).where(eq(bills.id, bill.billId)))[0]!.lockedOrderId).toBeNull();
    // The same bill can be paid again (self-pay or a new quote).
    const again = await s.api('POST', '/api/insurance/quotes', { token, body: { billIds: [bill.billId] } });
    expect(again.status).toBe(201);
    await s.api('POST', `/api/insurance/orders/${again.body.orderId}/cancel`, { token });
    expect((await settlementOf(again.body.orderId)).status).toBe('REVOKED');
    expect((await orderOf(again.body.orderId)).status).toBe('CLOSED');
  });

  it('a refusal whose amounts do not add up is not believed: asked at once, the settlement is found', async () => {
    const { q } = await quote();
    // Settled at the platform, but the reply's amounts are off by a fen: the adapter calls it a failure.
    await simPost('/sim/nhsa/faults', { op: 'settle', fault: 'bad_split' });
    const paid = await s.api('POST', `/api/insurance/orders/${q.body.orderId}/pay`, { token });
    expect(paid.body.settlementStatus).toBe('SETTLED');
    expect(paid.body.status).toBe('PAYING');
    await s.api('POST', `/api/insurance/orders/${q.body.orderId}/cancel`, { token });
  });

  it('a quote the platform will not withdraw still gives the bills back', async () => {
    const { bill, q } = await quote();
    await simPost('/sim/nhsa/faults', { op: 'revoke', fault: 'system_error' });
    const r = await s.api('POST', `/api/insurance/orders/${q.body.orderId}/cancel`, { token });
    expect(r.body.status).toBe('CLOSED');
    expect(r.body.settlementStatus).toBe('CLOSING');
    expect((await db().select().from(bills).where(eq(bills.id, bill.billId)))[0]!.lockedOrderId).toBeNull();
  });

  it('an unanswered settlement is resolved by the sync job (6301), then the cash part follows', async () => {
    const { q } = await quote();
    // Settled at the platform, but the reply comes too late and its 6302 is lost: only 6301 can tell.
    await simPost('/sim/nhsa/faults', { op: 'settle', fault: 'late_reply' });
    await simPost('/sim/nhsa/faults', { op: 'settle', fault: 'drop_notification' });
    const paid = await s.api('POST', `/api/insurance/orders/${q.body.orderId}/pay`, { token });
    expect(paid.body.settlementStatus).toBe('SETTLING');
    await waitFor(
      async () => (await settlementOf(q.body.orderId)).status === 'SETTLED',
      20_000,
      'settled by query or 6302',
    );
    const view = await waitFor(
      async () => {
        const v = await s.api('GET', `/api/insurance/orders/${q.body.orderId}`, { token });
        return v.body.pay?.codeUrl ? v.body : undefined;
      },
      10_000,
      'cash prepay',
    );
    expect(view.status).toBe('PAYING');
    await fetch(`${s.sandbox.wechat.url}/sim/wechatpay/orders/${q.body.orderNo}/pay`, {
      method: 'POST',
      body: '{}',
    });
    await waitFor(async () => (await orderOf(q.body.orderId)).status === 'SETTLED', 15_000, 'order settled');
  });

  it('a tampered 6302 is rejected and kept; the settlement is still learnt by query', async () => {
    const { q } = await quote();
    await simPost('/sim/nhsa/faults', { op: 'settle', fault: 'late_reply' });
    await simPost('/sim/nhsa/faults', { op: 'settle', fault: 'tamper_notification' });
    const paid = await s.api('POST', `/api/insurance/orders/${q.body.orderId}/pay`, { token });
    expect(paid.body.settlementStatus).toBe('SETTLING');
    const rejected = await waitFor(
      async () =>
        (await db().select().from(notificationInbox).where(eq(notificationInbox.channel, 'nhsa'))).find(
          (n) => n.outcome === 'rejected',
        ),
      15_000,
      'rejected 6302',
    );
    expect(rejected.verified).toBe(false);
    expect(rejected.rawBody.length).toBeGreaterThan(0);
    await waitFor(
      async () => (await settlementOf(q.body.orderId)).status === 'SETTLED',
      20_000,
      'settled by 6301',
    );
    await s.api('POST', `/api/insurance/orders/${q.body.orderId}/cancel`, { token }).catch(() => undefined);
  });

  it('insurance settled but the cash part expired: the insurance part is reversed and the account restored', async () => {
    const before = await balance();
    const { bill, q } = await quote();
    const paid = await s.api('POST', `/api/insurance/orders/${q.body.orderId}/pay`, { token });
    expect(paid.body.settlementStatus).toBe('SETTLED');
    expect(await balance()).toBe(before - q.body.split.psnAcctFen);
    clock.advance(3 * 3600_000);
    try {
      await runPaymentQuery(s.platform.deps, { orderId: q.body.orderId, attempt: 5 });
    } finally {
      clock.advance(-3 * 3600_000);
    }
    expect((await orderOf(q.body.orderId)).status).toBe('CLOSED');
    await waitFor(async () => (await settlementOf(q.body.orderId)).status === 'REVERSED', 20_000, 'reversed');
    expect(await balance()).toBe(before);
    expect((await db().select().from(bills).where(eq(bills.id, bill.billId)))[0]!.lockedOrderId).toBeNull();
    const [r] = await db()
      .select()
      .from(insuranceRefunds)
      .where(eq(insuranceRefunds.orderId, q.body.orderId));
    expect(r).toMatchObject({ status: 'SUCCESS', kind: 'HI' });
    expect(r!.repair).toBeTruthy();
    // Nothing reached the HIS for this order.
    expect([...s.sandbox.his.results.values()].some((x) => x.body.orderNo === q.body.orderNo)).toBe(false);
  });

  it('refunds each kind: cash part, insurance part, then all; the HIS gets the parts', async () => {
    const { q } = await quote();
    await s.api('POST', `/api/insurance/orders/${q.body.orderId}/pay`, { token });
    await fetch(`${s.sandbox.wechat.url}/sim/wechatpay/orders/${q.body.orderNo}/pay`, {
      method: 'POST',
      body: '{}',
    });
    await waitFor(async () => (await orderOf(q.body.orderId)).status === 'SETTLED', 15_000, 'order settled');
    const split = q.body.split;
    const before = await balance();

    // More cash than the cash part is refused and changes nothing.
    const tooMuch = await s.his('POST', '/open/v1/refunds', {
      orderNo: q.body.orderNo,
      hisRefundNo: `RF-${q.body.orderNo}-X`,
      amountFen: split.cashFen + 1,
      reason: '测试',
      part: 'CASH',
    });
    expect(tooMuch.status).toBe(409);
    expect(tooMuch.body.error.code).toBe('refund_exceeds_paid');

    const cash = await s.his('POST', '/open/v1/refunds', {
      orderNo: q.body.orderNo,
      hisRefundNo: `RF-${q.body.orderNo}-C1`,
      amountFen: 100,
      reason: '退部分现金',
      part: 'CASH',
    });
    expect(cash.status).toBe(200);
    await waitFor(
      async () =>
        (await db().select().from(refunds).where(eq(refunds.id, cash.body.id)))[0]!.status === 'SUCCESS',
      15_000,
      'cash refund',
    );
    const ins = await s.his('POST', '/open/v1/refunds', {
      orderNo: q.body.orderNo,
      hisRefundNo: `RF-${q.body.orderNo}-I`,
      reason: '退医保',
      part: 'INSURANCE',
    });
    expect(ins.status).toBe(200);
    expect(ins.body).toMatchObject({
      status: 'SUCCESS',
      insurance: {
        fundFen: split.fundFen,
        psnAcctFen: split.psnAcctFen,
        otherFen: split.otherFen,
        cashFen: 0,
      },
    });
    expect(await balance()).toBe(before + split.psnAcctFen);
    // Idempotent by the HIS's number.
    const again = await s.his('POST', '/open/v1/refunds', {
      orderNo: q.body.orderNo,
      hisRefundNo: `RF-${q.body.orderNo}-I`,
      reason: '退医保',
      part: 'INSURANCE',
    });
    expect(again.body.id).toBe(ins.body.id);
    const insPush = await waitFor(
      async () => [...s.sandbox.his.results.values()].find((r) => r.body.refundNo === ins.body.refundNo),
      15_000,
      'insurance refund push',
    );
    expect(insPush.body.insurance).toMatchObject({
      fundFen: split.fundFen,
      psnAcctFen: split.psnAcctFen,
      cashFen: 0,
    });
    // ALL now means the rest of the cash.
    const all = await s.his('POST', '/open/v1/refunds', {
      orderNo: q.body.orderNo,
      hisRefundNo: `RF-${q.body.orderNo}-A`,
      reason: '全部退款',
      part: 'ALL',
    });
    expect(all.status).toBe(200);
    await waitFor(
      async () => (await orderOf(q.body.orderId)).status === 'REFUNDED',
      15_000,
      'order refunded',
    );
    const o = await orderOf(q.body.orderId);
    expect(o.refundedFen).toBe(mixedTotal);
    expect((await settlementOf(q.body.orderId)).status).toBe('REFUNDED');
  });

  it('ALL on a paid order: insurance first, then the cash remainder', async () => {
    const { q } = await quote();
    await s.api('POST', `/api/insurance/orders/${q.body.orderId}/pay`, { token });
    await fetch(`${s.sandbox.wechat.url}/sim/wechatpay/orders/${q.body.orderNo}/pay`, {
      method: 'POST',
      body: '{}',
    });
    await waitFor(async () => (await orderOf(q.body.orderId)).status === 'SETTLED', 15_000, 'order settled');
    const all = await s.his('POST', '/open/v1/refunds', {
      orderNo: q.body.orderNo,
      hisRefundNo: `RF-${q.body.orderNo}-ALL`,
      reason: '全部退款',
    });
    expect(all.status).toBe(200);
    expect(all.body.insurance.cashFen).toBe(q.body.split.cashFen);
    await waitFor(
      async () => (await orderOf(q.body.orderId)).status === 'REFUNDED',
      20_000,
      'order refunded',
    );
    const cashRefund = await s.his(
      'GET',
      `/open/v1/refunds/${encodeURIComponent(`RF-${q.body.orderNo}-ALL/C`)}`,
    );
    expect(cashRefund.body).toMatchObject({ status: 'SUCCESS', amountFen: q.body.split.cashFen });
  });

  describe('WeChat insurance pay (mini-program)', () => {
    let wx: string;
    beforeAll(async () => {
      const code = s.sandbox.wechat.login.issueCode(SANDBOX_WECHAT_APPS.miniProgram.appId, '张三的微信-医保');
      const r = await s.api('POST', '/api/patient/wx-login', { body: { code, hospitalCode: 'H001' } });
      const bound = await s.api('POST', '/api/patient/cards', {
        token: r.body.token,
        body: { name: '张三', cardNo: '2026000101' },
      });
      const sw = await s.api('POST', `/api/patient/cards/${bound.body.id}/switch`, { token: r.body.token });
      wx = sw.body.token;
      await authorize(wx);
    });

    const wxQuote = async () => {
      const { q } = await quote(mixedItems, mixedTotal, wx, { tradeType: 'JSAPI' });
      expect(q.status).toBe(201);
      expect(q.body.settleChannel).toBe('wxmedins');
      const paid = await s.api('POST', `/api/insurance/orders/${q.body.orderId}/pay`, { token: wx });
      expect(paid.body.settlementStatus).toBe('SETTLING');
      expect(paid.body.medicalInsurancePay).toMatchObject({
        mixTradeNo: expect.any(String),
        paySign: expect.any(String),
      });
      return { q, mix: paid.body.medicalInsurancePay.mixTradeNo as string };
    };

    it('one sheet takes both parts; the order completes and the HIS gets the split', async () => {
      const { q, mix } = await wxQuote();
      // The notification is lost: coming back from the sheet (scene 1038) asks WeChat at once.
      const r = await fetch(`${s.sandbox.wechat.url}/sim/wechatpay/med-ins/${mix}/pay`, {
        method: 'POST',
        body: JSON.stringify({ notify: 'drop' }),
      });
      expect(r.status).toBe(200);
      const back = await s.api('POST', `/api/insurance/orders/${q.body.orderId}/return`, { token: wx });
      expect(back.body.settlementStatus).toBe('SETTLED');
      await waitFor(
        async () => (await orderOf(q.body.orderId)).status === 'SETTLED',
        20_000,
        'order settled',
      );
      const push = await settledAtHis(q.body.orderNo);
      expect(push.body.insurance).toMatchObject({ ...q.body.split, settleChannel: 'wxmedins' });
    });

    it('cash paid but insurance failed: the cash goes back by itself', async () => {
      const { q, mix } = await wxQuote();
      await fetch(`${s.sandbox.wechat.url}/sim/wechatpay/med-ins/${mix}/pay`, {
        method: 'POST',
        body: JSON.stringify({ insurance: 'fail' }),
      });
      const repair = await waitFor(
        async () => {
          const [r] = await db().select().from(refunds).where(eq(refunds.orderId, q.body.orderId));
          return r?.status === 'SUCCESS' ? r : undefined;
        },
        30_000,
        'cash repair refund',
      );
      expect(repair.amountFen).toBe(q.body.split.cashFen);
      const o = await orderOf(q.body.orderId);
      expect(o.status).toBe('FAILED');
      expect(o.refundedFen).toBe(0);
      expect((await settlementOf(q.body.orderId)).status).toBe('FAILED');
      const a = await db().select().from(alerts).where(eq(alerts.orderId, q.body.orderId));
      expect(a.some((x) => x.kind === 'insurance_partial_repair')).toBe(true);
    });

    it('insurance settled but the cash failed: the insurance part is reversed', async () => {
      const { q, mix } = await wxQuote();
      await fetch(`${s.sandbox.wechat.url}/sim/wechatpay/med-ins/${mix}/pay`, {
        method: 'POST',
        body: JSON.stringify({ cash: 'fail' }),
      });
      await waitFor(
        async () => (await settlementOf(q.body.orderId)).status === 'REVERSED',
        30_000,
        'reversed',
      );
      expect((await orderOf(q.body.orderId)).status).toBe('FAILED');
      // The cash part left open at WeChat is followed and closed there.
      await waitFor(
        async () =>
          (await db().select().from(payments).where(eq(payments.orderId, q.body.orderId)))[0]?.status ===
          'CLOSED',
        20_000,
        'cash part closed at the channel',
      );
    });
  });
});
