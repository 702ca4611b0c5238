import { and, count, eq } from 'drizzle-orm';
import {
  alerts,
  bills,
  creditDebits,
  insuranceSettlements,
  merchantAccounts,
  notificationInbox,
  orderEvents,
  orders,
  patients,
} from '../../bff/src/db/schema';
import { notifyRoutes } from '../../bff/src/http/routes';
import { signedHeaders } from '../../bff/src/modules/his/signature';
import { SANDBOX_WECHAT_APPS } from '../../bff/src/sandbox/wechatpay/login';
import { buildBill } from '../support/factories';
import { startTestStack, waitFor, type TestStack } from '../support/platform';

/**
 * Security suite (issue 10): every inbound interface rejects tampered, replayed, expired and amount-mismatched
 * messages. One table covers every channel notification route — WeChat Pay v3, Alipay, the bank aggregator,
 * credit pay, and the insurance route with the national platform's 6302 and WeChat's MEDICAL_INSURANCE.SUCCESS.
 * Genuine notifications come from the simulators (signed with the party's own key); each case then proves:
 * tampered body or signature → refused, inbox row `rejected`, order untouched; stale (where the protocol is
 * timed) → the same; genuine → accepted once, a repeat changes nothing; correctly signed with a wrong amount →
 * CONFLICTED with an alert, never PAID. Channel queries are pushed far out (paymentQueryBackoffSeconds) so
 * only the notifications under test move an order. The HIS open API's extra cases follow.
 */

interface Notification {
  headers: Record<string, string>;
  body: string;
}
interface OpenOrder {
  orderId: string;
  orderNo: string;
}
interface ChannelCase {
  name: string;
  accountId: string;
  route: string;
  /** Opens a PAYING order the simulator can sign a success for (without paying it through a query). */
  open(): Promise<OpenOrder>;
  /** A genuine success notification of the order, as the party signs it. */
  genuine(o: OpenOrder): Promise<Notification>;
  /** The same notification with a business field changed after signing. */
  tamper(n: Notification): Notification;
  /** The notification carrying the signature of another genuine notification. */
  swapSignature(n: Notification, other: Notification): Notification;
  /** Correctly signed, but signed long ago; undefined where the protocol carries no signed time. */
  stale?(o: OpenOrder): Promise<Notification>;
  /** Correctly signed, stating another amount than the order's. */
  wrongAmount(o: OpenOrder): Promise<Notification>;
  /** The alert a wrong amount raises. */
  alertKind: string;
  /** Whether the genuine notification has done its work (payment channels: PAID; insurance: settled). */
  accepted(o: OpenOrder): Promise<boolean>;
}

const TEN_MINUTES_AGO = () => Math.floor(Date.now() / 1000) - 600;
const ZHANG_PSN = '11000000000000000001';

describe('security: inbound channel notifications', () => {
  let s: TestStack;
  let token: string;
  let wxToken: string;
  /** 李四 pays by credit: a signed patient's every new bill is debited, so 张三's bills stay free for the rest. */
  let creditToken: string;
  const db = () => s.platform.deps.db;

  const orderRow = async (id: string) => (await db().select().from(orders).where(eq(orders.id, id)))[0]!;
  const eventsOf = async (id: string) => db().select().from(orderEvents).where(eq(orderEvents.orderId, id));
  const rejectedCount = async (accountId: string) =>
    (
      await db()
        .select({ n: count() })
        .from(notificationInbox)
        .where(
          and(eq(notificationInbox.merchantAccountId, accountId), eq(notificationInbox.outcome, 'rejected')),
        )
    )[0]!.n;
  const settlementOf = async (orderId: string) =>
    (await db().select().from(insuranceSettlements).where(eq(insuranceSettlements.orderId, orderId)))[0]!;
  const post = async (route: string, n: Notification) => {
    const r = await fetch(`${s.platform.url}${route}`, { method: 'POST', body: n.body, headers: n.headers });
    return { status: r.status, text: await r.text() };
  };

  async function patientOrder(channel: string, amountFen: number): Promise<OpenOrder> {
    const { billId } = await s.pushBill({ amountFen });
    const r = await s.api('POST', '/api/orders', {
      token,
      body: { billIds: [billId], channel, tradeType: 'NATIVE' },
    });
    expect(r.status).toBe(201);
    return { orderId: r.body.id, orderNo: r.body.orderNo };
  }

  /** JSON envelopes: change one field after signing. */
  const jsonEdit = (n: Notification, f: (o: Record<string, any>) => void): Notification => {
    const o = JSON.parse(n.body) as Record<string, any>;
    f(o);
    return { ...n, body: JSON.stringify(o) };
  };
  const formEdit = (n: Notification, f: (p: URLSearchParams) => void): Notification => {
    const p = new URLSearchParams(n.body);
    f(p);
    return { ...n, body: p.toString() };
  };
  const flipHex = (hex: string) => (hex.slice(0, -1) + (hex.endsWith('0') ? '1' : '0')) as string;

  // ---- the channels ------------------------------------------------------------------------------------------

  const wechatpay: ChannelCase = {
    name: 'WeChat Pay v3',
    accountId: 'ma_h001_wechatpay',
    route: '/notify/wechatpay/ma_h001_wechatpay',
    async open() {
      const o = await patientOrder('wechatpay', 3100);
      s.sandbox.wechat.pay(o.orderNo, { notify: 'drop' });
      return o;
    },
    genuine: async (o) => s.sandbox.wechat.notificationFor(o.orderNo),
    tamper: (n) => ({ ...n, body: n.body.replace('"summary":"支付成功"', '"summary":"支付成功!"') }),
    swapSignature: (n, other) => ({
      ...n,
      headers: { ...n.headers, 'Wechatpay-Signature': other.headers['Wechatpay-Signature']! },
    }),
    stale: async (o) => s.sandbox.wechat.notificationFor(o.orderNo, { timestamp: TEN_MINUTES_AGO() }),
    wrongAmount: async (o) => s.sandbox.wechat.notificationFor(o.orderNo, { amountFen: 1 }),
    alertKind: 'amount_mismatch',
    accepted: async (o) => ['PAID', 'SETTLED'].includes((await orderRow(o.orderId)).status),
  };

  const alipay: ChannelCase = {
    name: 'Alipay',
    accountId: 'ma_h001_alipay',
    route: '/notify/alipay/ma_h001_alipay',
    async open() {
      const o = await patientOrder('alipay', 3200);
      s.sandbox.alipay.settle(s.sandbox.alipay.orders.get(o.orderNo)!, false);
      return o;
    },
    genuine: async (o) => ({
      headers: { 'content-type': 'application/x-www-form-urlencoded; charset=utf-8' },
      body: s.sandbox.alipay.notificationForm(s.sandbox.alipay.orders.get(o.orderNo)!),
    }),
    tamper: (n) => formEdit(n, (p) => p.set('total_amount', '0.01')),
    swapSignature: (n, other) =>
      formEdit(n, (p) => p.set('sign', new URLSearchParams(other.body).get('sign')!)),
    // Alipay's notify_time is not a freshness guarantee: it retries the same notification for ~25 h.
    stale: undefined,
    wrongAmount: async (o) => ({
      headers: { 'content-type': 'application/x-www-form-urlencoded; charset=utf-8' },
      body: s.sandbox.alipay.notificationForm(s.sandbox.alipay.orders.get(o.orderNo)!, { amountFen: 1 }),
    }),
    alertKind: 'amount_mismatch',
    accepted: async (o) => ['PAID', 'SETTLED'].includes((await orderRow(o.orderId)).status),
  };

  /** The bank aggregator and the credit bank speak the same signed envelope. */
  const bankCase = (
    name: string,
    channel: 'bankpay' | 'credit',
    open: () => Promise<OpenOrder>,
  ): ChannelCase => {
    const sim = () => (channel === 'credit' ? s.sandbox.credit : s.sandbox.bankpay);
    const sign = (o: OpenOrder, over: { amountFen?: number; timestamp?: number } = {}) => {
      const bo = sim().orders.get(o.orderNo)!;
      const n = bo.lastNotification!;
      const biz = over.amountFen === undefined ? n.biz : { ...n.biz, amountFen: over.amountFen };
      return {
        headers: { 'content-type': 'application/json; charset=utf-8' },
        body: sim().notificationBody(
          bo.merchantNo,
          bo.appId,
          { ...n, notifyId: over.amountFen === undefined ? n.notifyId : `${n.notifyId}X`, biz },
          over.timestamp,
        ),
      };
    };
    return {
      name,
      accountId: `ma_h001_${channel}`,
      route: `/notify/${channel}/ma_h001_${channel}`,
      open,
      genuine: async (o) => sign(o),
      tamper: (n) =>
        jsonEdit(n, (e) => {
          const biz = JSON.parse(e.bizContent);
          biz.amountFen += 1;
          e.bizContent = JSON.stringify(biz);
        }),
      swapSignature: (n, other) => jsonEdit(n, (e) => (e.sign = JSON.parse(other.body).sign)),
      stale: async (o) => sign(o, { timestamp: TEN_MINUTES_AGO() }),
      wrongAmount: async (o) => sign(o, { amountFen: 1 }),
      alertKind: 'amount_mismatch',
      accepted: async (o) => ['PAID', 'SETTLED'].includes((await orderRow(o.orderId)).status),
    };
  };

  const bankpay = bankCase('bank aggregator', 'bankpay', async () => {
    const o = await patientOrder('bankpay', 3300);
    s.sandbox.bankpay.pay(o.orderNo, { notify: 'drop' });
    return o;
  });

  let creditReady = false;
  const credit = bankCase('credit pay', 'credit', async () => {
    if (!creditReady) {
      await creditSignUp();
      creditReady = true;
    }
    const b = await s.pushBill({ patientId: 'P0002', amountFen: 3400 });
    const debit = await waitFor(
      async () => {
        const [d] = await db().select().from(creditDebits).where(eq(creditDebits.billId, b.billId));
        return d?.orderId ? d : undefined;
      },
      15_000,
      'credit debit started',
    );
    const o = await orderRow(debit.orderId!);
    await waitFor(
      async () => s.sandbox.credit.orders.get(o.orderNo)?.lastNotification,
      10_000,
      'the bank settled the debit',
    );
    return { orderId: o.id, orderNo: o.orderNo };
  });

  async function creditSignUp() {
    const [p] = await db().select().from(patients).where(eq(patients.hisPatientId, 'P0002'));
    await fetch(`${s.sandbox.credit.url}/sim/credit/limits`, {
      method: 'POST',
      body: JSON.stringify({ userRef: p!.id, limitFen: 100_000 }),
    });
    await fetch(`${s.sandbox.credit.url}/sim/credit/debits`, {
      method: 'POST',
      body: JSON.stringify({ notify: 'drop' }),
    });
    const start = await s.api('POST', '/api/credit/sign', {
      token: creditToken,
      body: { returnUrl: 'http://127.0.0.1:10086/h5/credit/return' },
    });
    expect(start.status).toBe(201);
    const agreed = await fetch(start.body.pageUrl, {
      method: 'POST',
      body: 'action=agree',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      redirect: 'manual',
    });
    expect(agreed.status).toBe(302);
    // The status asks the bank, which records the agreement as signed.
    const st = await s.api('GET', '/api/credit/status', { token: creditToken });
    expect(st.body).toMatchObject({ status: 'SIGNED', autoPay: true });
  }

  // Insurance: an insurance-only bill (一般诊疗费: fund and personal account, no cash part).
  const insuranceItems = [{ name: '一般诊疗费', quantity: 1, amountFen: 1000, category: '12' }];
  async function insuranceQuote(t: string, extra: Record<string, unknown> = {}) {
    const b = await s.pushBill({ patientId: 'P0001', amountFen: 1000, items: insuranceItems } as never);
    const q = await s.api('POST', '/api/insurance/quotes', {
      token: t,
      body: { billIds: [b.billId], ...extra },
    });
    expect(q.status).toBe(201);
    return q.body as { orderId: string; orderNo: string; settleChannel: string };
  }
  const authorizeInsurance = async (t: string) => {
    const r = await fetch(`${s.sandbox.nhsa.url}/sim/nhsa/authorize`, {
      method: 'POST',
      body: JSON.stringify({ psnNo: ZHANG_PSN }),
    });
    const { authCode } = (await r.json()) as { authCode: string };
    const done = await s.api('POST', '/api/insurance/authorize/complete', { token: t, body: { authCode } });
    expect(done.status).toBe(200);
  };
  const nhsaPayOrdId = async (o: OpenOrder) => (await settlementOf(o.orderId)).payOrdId!;

  let nhsaAuthorized = false;
  const nhsa: ChannelCase = {
    name: 'national insurance platform 6302',
    accountId: 'ma_h001_nhsa',
    route: '/notify/insurance/ma_h001_nhsa',
    async open() {
      if (!nhsaAuthorized) {
        await authorizeInsurance(token);
        nhsaAuthorized = true;
      }
      const q = await insuranceQuote(token);
      expect(q.settleChannel).toBe('nhsa');
      // The settle call is cut off before the platform processes it: SETTLING, decided by 6302 or 6301.
      await fetch(`${s.sandbox.nhsa.url}/sim/nhsa/faults`, {
        method: 'POST',
        body: JSON.stringify({ op: 'settle', fault: 'drop' }),
      });
      const paid = await s.api('POST', `/api/insurance/orders/${q.orderId}/pay`, { token });
      expect(paid.body.settlementStatus).toBe('SETTLING');
      return { orderId: q.orderId, orderNo: q.orderNo };
    },
    genuine: async (o) => ({
      headers: { 'content-type': 'application/json; charset=utf-8' },
      body: s.sandbox.nhsa.notificationFor(await nhsaPayOrdId(o)),
    }),
    tamper: (n) => jsonEdit(n, (e) => (e.encData = flipHex(e.encData))),
    swapSignature: (n, other) => jsonEdit(n, (e) => (e.signData = JSON.parse(other.body).signData)),
    stale: async (o) => ({
      headers: { 'content-type': 'application/json; charset=utf-8' },
      body: s.sandbox.nhsa.notificationFor(await nhsaPayOrdId(o), { at: Date.now() - 600_000 }),
    }),
    // Still adds up (so it is not malformed), but moves one fen from the personal account to the fund.
    wrongAmount: async (o) => {
      const st = await settlementOf(o.orderId);
      const yuan = (fen: number) => `${Math.floor(fen / 100)}.${String(fen % 100).padStart(2, '0')}`;
      return {
        headers: { 'content-type': 'application/json; charset=utf-8' },
        body: s.sandbox.nhsa.notificationFor(st.payOrdId!, {
          data: { fundPay: yuan(st.fundFen + 1), psnAcctPay: yuan(st.psnAcctFen - 1) },
        }),
      };
    },
    alertKind: 'insurance_split_mismatch',
    accepted: async (o) => (await settlementOf(o.orderId)).status === 'SETTLED',
  };

  const mixOf = new Map<string, string>();
  const wxmedins: ChannelCase = {
    name: 'WeChat MEDICAL_INSURANCE.SUCCESS',
    accountId: 'ma_h001_wxmedins',
    route: '/notify/insurance/ma_h001_wxmedins',
    async open() {
      const q = await insuranceQuote(wxToken, { tradeType: 'JSAPI' });
      expect(q.settleChannel).toBe('wxmedins');
      const paid = await s.api('POST', `/api/insurance/orders/${q.orderId}/pay`, { token: wxToken });
      expect(paid.body.settlementStatus).toBe('SETTLING');
      mixOf.set(q.orderId, paid.body.medicalInsurancePay.mixTradeNo);
      return { orderId: q.orderId, orderNo: q.orderNo };
    },
    genuine: async (o) => s.sandbox.wechat.medIns.notificationFor(mixOf.get(o.orderId)!),
    tamper: (n) => ({ ...n, body: n.body.replace('"summary":"医保混合收款成功"', '"summary":"成功"') }),
    swapSignature: (n, other) => ({
      ...n,
      headers: { ...n.headers, 'Wechatpay-Signature': other.headers['Wechatpay-Signature']! },
    }),
    stale: async (o) =>
      s.sandbox.wechat.medIns.notificationFor(mixOf.get(o.orderId)!, { timestamp: TEN_MINUTES_AGO() }),
    wrongAmount: async (o) => {
      const st = await settlementOf(o.orderId);
      return s.sandbox.wechat.medIns.notificationFor(mixOf.get(o.orderId)!, {
        overrides: { med_ins_gov_fee: st.fundFen + 1, med_ins_self_fee: st.psnAcctFen - 1 },
      });
    },
    alertKind: 'insurance_split_mismatch',
    accepted: async (o) => (await settlementOf(o.orderId)).status === 'SETTLED',
  };

  const CASES = [wechatpay, alipay, bankpay, nhsa, wxmedins, credit];

  beforeAll(async () => {
    // No channel query within the test: only the notifications under test may move an order.
    s = await startTestStack({ paymentQueryBackoffSeconds: [600] });
    token = await s.login('P0001');
    creditToken = await s.login('P0002');
    // A mini-program session of 张三 (WeChat insurance pay needs the WeChat openid), authorised for insurance.
    const code = s.sandbox.wechat.login.issueCode(
      SANDBOX_WECHAT_APPS.miniProgram.appId,
      '张三的微信-安全测试',
    );
    const login = await s.api('POST', '/api/patient/wx-login', { body: { code, hospitalCode: 'H001' } });
    const bound = await s.api('POST', '/api/patient/cards', {
      token: login.body.token,
      body: { name: '张三', cardNo: '2026000101' },
    });
    const sw = await s.api('POST', `/api/patient/cards/${bound.body.id}/switch`, { token: login.body.token });
    wxToken = sw.body.token;
    await authorizeInsurance(wxToken);
    nhsaAuthorized = true;
  });
  afterAll(async () => {
    await s?.stop();
  });

  describe.each(CASES.map((c) => [c.name, c] as const))('%s', (_name, c) => {
    let o: OpenOrder;
    let genuine: Notification;

    beforeAll(async () => {
      o = await c.open();
      genuine = await c.genuine(o);
    });

    /** Sends a notification that must be refused, and proves it changed nothing but one `rejected` inbox row. */
    const expectRefused = async (n: Notification, reason: RegExp) => {
      const before = { order: await orderRow(o.orderId), events: (await eventsOf(o.orderId)).length };
      const rejected = await rejectedCount(c.accountId);
      const r = await post(c.route, n);
      expect(r.status).toBeGreaterThanOrEqual(400);
      expect(r.text).not.toBe('success'); // Alipay's acknowledgement
      const after = await orderRow(o.orderId);
      expect(after.status).toBe(before.order.status);
      expect(after.paidAt).toEqual(before.order.paidAt);
      expect((await eventsOf(o.orderId)).length).toBe(before.events);
      expect(await rejectedCount(c.accountId)).toBe(rejected + 1);
      const [last] = await db()
        .select()
        .from(notificationInbox)
        .where(
          and(
            eq(notificationInbox.merchantAccountId, c.accountId),
            eq(notificationInbox.outcome, 'rejected'),
          ),
        )
        .orderBy(notificationInbox.receivedAt)
        .then((rows) => rows.slice(-1));
      expect(last!.rawBody).toBe(n.body);
      expect(last!.error).toMatch(reason);
    };

    it('refuses a body tampered with after signing', async () => {
      expect((await orderRow(o.orderId)).status).toBe('PAYING');
      await expectRefused(c.tamper(genuine), /signature|decrypt/);
    });

    it('refuses the signature of another genuine notification', async () => {
      const other = await c.genuine(o);
      expect(other.body).not.toBe(genuine.body); // fresh nonce and time: the signatures differ
      await expectRefused(c.swapSignature(genuine, other), /signature/);
    });

    it('refuses a correctly signed but stale notification, where the protocol signs its time', async () => {
      if (!c.stale) {
        expect(c.name).toBe('Alipay'); // the only untimed protocol
        return;
      }
      await expectRefused(await c.stale(o), /timestamp/);
    });

    it('accepts the genuine notification once; a repeat is acknowledged and changes nothing', async () => {
      const first = await post(c.route, genuine);
      expect(first.status).toBeLessThan(300);
      await waitFor(() => c.accepted(o), 10_000, `${c.name} applied`);
      const events = (await eventsOf(o.orderId)).map((e) => e.toStatus);
      const again = await post(c.route, genuine);
      expect(again.status).toBeLessThan(300);
      expect((await eventsOf(o.orderId)).map((e) => e.toStatus)).toEqual(events);
      expect(events.filter((t) => t === 'PAID').length).toBeLessThanOrEqual(1);
      const rows = await db()
        .select()
        .from(notificationInbox)
        .where(
          and(
            eq(notificationInbox.merchantAccountId, c.accountId),
            eq(notificationInbox.outTradeNo, o.orderNo),
            eq(notificationInbox.verified, true),
          ),
        );
      expect(rows).toHaveLength(1); // one row per notification id: the repeat was a no-op
      expect(rows[0]!.outcome).toBe('applied');
    });

    it('puts a correctly signed notification with a wrong amount into CONFLICTED with an alert, never PAID', async () => {
      const w = await c.open();
      const n = await c.wrongAmount(w);
      const r = await post(c.route, n);
      expect(r.status).toBeLessThan(300); // recorded and acknowledged: resending would not change the decision
      const row = await waitFor(
        async () => {
          const x = await orderRow(w.orderId);
          return x.status !== 'PAYING' ? x : undefined;
        },
        10_000,
        'order leaves PAYING',
      );
      expect(row.status).toBe('CONFLICTED');
      expect(row.paidAt).toBeNull();
      expect((await eventsOf(w.orderId)).map((e) => e.toStatus)).not.toContain('PAID');
      const a = await db().select().from(alerts).where(eq(alerts.orderId, w.orderId));
      expect(a.map((x) => x.kind)).toContain(c.alertKind);
      // Its bills are not paid, and nothing was reported to the HIS as paid.
      const held = await db().select().from(bills).where(eq(bills.lockedOrderId, w.orderId));
      expect(held.every((b) => b.status !== 'PAID')).toBe(true);
      expect([...s.sandbox.his.results.values()].some((x) => x.body.orderNo === w.orderNo)).toBe(false);
    });
  });

  it('covers every notification route and every merchant account of the hospital', async () => {
    const router = notifyRoutes(s.platform.deps);
    const served = router.stack.map(
      (l) => `${l.methods.filter((m) => m !== 'HEAD').join()} ${String(l.path)}`,
    );
    expect(served.sort()).toEqual(['POST /notify/:channel/:accountId', 'POST /notify/insurance/:accountId']);
    // Each account the hospital has (a channel added later gets an account) has its case above.
    const accounts = await db()
      .select({ id: merchantAccounts.id })
      .from(merchantAccounts)
      .where(eq(merchantAccounts.hospitalId, 'hosp_h001'));
    expect(accounts.map((a) => a.id).sort()).toEqual(CASES.map((c) => c.accountId).sort());
  });
});

describe('security: the HIS open API (what open-api-security.int.test.ts does not cover)', () => {
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
  const billCount = async () => (await s.platform.deps.db.select({ n: count() }).from(bills))[0]!.n;
  const send = async (method: string, target: string, text: string, headers: Record<string, string>) => {
    const r = await fetch(`${s.platform.url}${target}`, {
      method,
      body: method === 'GET' ? undefined : text,
      headers,
    });
    return { status: r.status, body: (await r.json().catch(() => undefined)) as any };
  };
  const billsBody = (amountFen = 2000) =>
    JSON.stringify({ bills: [{ ...buildBill({ amountFen }), hospital: undefined, patientName: '张三' }] });

  it.each([
    {
      what: 'a timestamp from the future, beyond the window',
      forge: (text: string) =>
        signedHeaders(appId, secret, 'POST', '/open/v1/bills', text, new Date(Date.now() + 6 * 60_000)),
      code: 'timestamp_out_of_window',
    },
    {
      what: 'a signature made for another path',
      forge: (text: string) => signedHeaders(appId, secret, 'POST', '/open/v1/admissions', text),
      code: 'invalid_signature',
    },
    {
      what: 'a signature made for another method',
      forge: (text: string) => signedHeaders(appId, secret, 'PUT', '/open/v1/bills', text),
      code: 'invalid_signature',
    },
    {
      what: "another hospital's app id with this app's signature",
      forge: (text: string) => ({
        ...signedHeaders(appId, secret, 'POST', '/open/v1/bills', text),
        'x-app-id': s.sandbox.keys.hospitals.H002!.his.appId,
      }),
      code: 'invalid_signature',
    },
    {
      what: 'a nonce outside the allowed alphabet',
      forge: (text: string) => ({
        ...signedHeaders(appId, secret, 'POST', '/open/v1/bills', text),
        'x-nonce': 'short',
      }),
      code: 'unauthorized',
    },
  ])('refuses $what and stores nothing', async ({ forge, code }) => {
    const before = await billCount();
    const text = billsBody();
    const r = await send('POST', '/open/v1/bills', text, forge(text));
    expect(r.status).toBe(401);
    expect(r.body.error.code).toBe(code);
    expect(await billCount()).toBe(before);
  });

  it('refuses a query string changed after signing (a read of another bill)', async () => {
    const { hisBillNo } = await s.pushBill({ amountFen: 1234 });
    const target = `/open/v1/bills/${hisBillNo}/qr`;
    const headers = signedHeaders(appId, secret, 'GET', target, '');
    const r = await send('GET', `${target}?format=png`, '', headers);
    expect(r.status).toBe(401);
    expect(r.body.error.code).toBe('invalid_signature');
    const other = await s.pushBill({ amountFen: 4321 });
    const r2 = await send(
      'GET',
      `/open/v1/bills/${other.hisBillNo}`,
      '',
      signedHeaders(appId, secret, 'GET', `/open/v1/bills/${hisBillNo}`, ''),
    );
    expect(r2.status).toBe(401);
  });

  it('replays of a refused call stay refused, and the genuine call then still works once', async () => {
    const text = billsBody();
    const headers = signedHeaders(appId, secret, 'POST', '/open/v1/bills', text);
    const tampered = text.replace(/"amountFen":(\d+)/, (_, n) => `"amountFen":${Number(n) + 100}`);
    expect((await send('POST', '/open/v1/bills', tampered, headers)).status).toBe(401);
    // The refused call did not burn the nonce: the genuine one is accepted, then its replay is refused.
    const ok = await send('POST', '/open/v1/bills', text, headers);
    expect(ok.status).toBe(200);
    const replay = await send('POST', '/open/v1/bills', text, headers);
    expect(replay.body.error.code).toBe('nonce_replayed');
  });

  it('refuses a bill update that changes the amount of a paid bill, and changes nothing', async () => {
    const { billId, hisBillNo, amountFen } = await s.pushBill({ amountFen: 2600 });
    const token = await s.login();
    const order = await s.api('POST', '/api/orders', {
      token,
      body: { billIds: [billId], channel: 'wechatpay', tradeType: 'NATIVE' },
    });
    s.sandbox.wechat.pay(order.body.orderNo);
    await waitFor(
      async () =>
        (await s.platform.deps.db.select().from(bills).where(eq(bills.id, billId)))[0]!.status === 'PAID',
      10_000,
      'bill paid',
    );
    const r = await s.his('POST', '/open/v1/bills', {
      bills: [
        { ...buildBill({ hisBillNo, amountFen: amountFen + 1 }), hospital: undefined, patientName: '张三' },
      ],
    });
    expect(r.status).toBe(409);
    expect(r.body.error.code).toBe('bill_not_payable');
    const [b] = await s.platform.deps.db.select().from(bills).where(eq(bills.id, billId));
    expect(b).toMatchObject({ status: 'PAID', amountFen });
  });
});
