import { and, eq, inArray } from 'drizzle-orm';
import { BankPayChannel, canonicalString, signCanonical } from '../../bff/src/channels/bankpay/adapter';
import {
  alerts,
  bills,
  notificationInbox,
  orderEvents,
  orders,
  outboundCalls,
  refunds,
} from '../../bff/src/db/schema';
import { runPaymentQuery } from '../../bff/src/modules/payments/query-job';
import { movableClock, startTestStack, waitFor, type TestStack } from '../support/platform';

/**
 * The bank aggregator (聚合支付) through our own contract (docs/bank-aggregator-contract.md): the real bff, the
 * production adapter and the bank simulator, which verifies our SM2 signatures and signs everything it says.
 */
describe('bank aggregator (bankpay)', () => {
  let s: TestStack;
  let token: string;
  const clock = movableClock();
  beforeAll(async () => {
    s = await startTestStack({ outboundTimeoutMs: 1000 }, { clock });
    token = await s.login();
  });
  afterAll(async () => {
    await s?.stop();
  });

  const sim = () => s.sandbox.bankpay;
  const adapter = async () =>
    (await s.platform.deps.channels.get('ma_h001_bankpay')).adapter as BankPayChannel;
  const orderByNo = async (orderNo: string) =>
    (await s.platform.deps.db.select().from(orders).where(eq(orders.orderNo, orderNo)))[0]!;
  const eventsOf = (orderId: string) =>
    s.platform.deps.db.select().from(orderEvents).where(eq(orderEvents.orderId, orderId));
  const paidEvents = async (orderId: string) =>
    (await eventsOf(orderId)).filter((e) => e.toStatus === 'PAID');
  const statusIs = (orderNo: string, status: string, ms = 15_000) =>
    waitFor(async () => (await orderByNo(orderNo)).status === status, ms, `${orderNo} ${status}`);

  async function qrOrder(amountFen: number, tradeType: 'NATIVE' | 'H5' = 'NATIVE') {
    const { billId } = await s.pushBill({ amountFen });
    return s.api('POST', '/api/orders', {
      token,
      body: { billIds: [billId], channel: 'bankpay', tradeType },
    });
  }
  let seq = 0;
  /** A payment code: the magic prefix, then digits up to UnionPay's 19. */
  const code = (prefix: string) =>
    `${prefix}${String(Date.now()).slice(-11)}${String(++seq % 10000).padStart(4, '0')}`;
  async function codePay(prefix: string, amountFen = 1800) {
    const b = await s.pushBill({ amountFen });
    const authCode = code(prefix);
    const r = await s.his('POST', '/open/v1/code-payments', {
      hisBillNos: [b.hisBillNo],
      authCode,
      channel: 'bankpay',
    });
    return { ...r, billId: b.billId, authCode };
  }
  const hisRefund = (body: Record<string, unknown>) => s.his('POST', '/open/v1/refunds', body);
  const refundNo = () => `HRB${Date.now()}${++seq}`;

  it('pays a QR order at the aggregated cashier: signed notification, PAID, pushed to the HIS, SETTLED', async () => {
    const r = await qrOrder(1299);
    expect(r.status).toBe(201);
    expect(r.body).toMatchObject({
      status: 'PAYING',
      channel: 'bankpay',
      tradeType: 'NATIVE',
      amountFen: 1299,
    });
    const orderNo: string = r.body.orderNo;
    expect(r.body.codeUrl).toBe(`${sim().url}/sim/cashier/bankpay/${orderNo}`);
    const bankOrder = sim().orders.get(orderNo)!;
    expect(bankOrder).toMatchObject({
      amountFen: 1299,
      tradeStatus: 'NOTPAY',
      merchantNo: s.sandbox.keys.hospitals.H001!.bankpay.merchantNo,
    });

    const page = await fetch(r.body.codeUrl);
    expect(page.status).toBe(200);
    expect(await page.text()).toContain('¥12.99');
    // The patient picks WeChat on the cashier page: the page calls the simulator's control API.
    const paid = await fetch(`${sim().url}/sim/bankpay/orders/${orderNo}/pay`, {
      method: 'POST',
      body: JSON.stringify({ payMethod: 'WECHAT' }),
    });
    expect(paid.status).toBe(200);
    await statusIs(orderNo, 'SETTLED');

    const push = [...s.sandbox.his.results.values()].find(
      (x) => x.body.kind === 'payment' && x.body.orderNo === orderNo,
    );
    expect(push?.body).toMatchObject({
      channel: 'bankpay',
      channelTradeNo: bankOrder.bankTradeNo,
      amountFen: 1299,
    });
    const inbox = await s.platform.deps.db
      .select()
      .from(notificationInbox)
      .where(eq(notificationInbox.outTradeNo, orderNo));
    expect(inbox).toHaveLength(1);
    expect(inbox[0]).toMatchObject({
      channel: 'bankpay',
      verified: true,
      outcome: 'applied',
      eventType: 'TRADE.SUCCESS',
    });
    expect(
      sim()
        .deliveries.filter((d) => d.outTradeNo === orderNo)
        .map((d) => d.status),
    ).toEqual([200]);

    // The interface log has the call, masked: no signature, no key.
    await waitFor(
      async () => {
        const calls = await s.platform.deps.db
          .select()
          .from(outboundCalls)
          .where(eq(outboundCalls.orderNo, orderNo));
        return calls.some((c) => c.party === 'bankpay' && c.operation === 'create' && c.result === 'SUCCESS');
      },
      5000,
      'interface log',
    );
    const logged = JSON.stringify(
      await s.platform.deps.db.select().from(outboundCalls).where(eq(outboundCalls.party, 'bankpay')),
    );
    expect(logged).not.toContain(s.sandbox.keys.hospitals.H001!.bankpay.privateKeyHex);
  });

  it('creates an H5 order whose pay URL opens the same cashier', async () => {
    const r = await qrOrder(800, 'H5');
    expect(r.status).toBe(201);
    expect(sim().orders.get(r.body.orderNo)).toMatchObject({
      tradeType: 'H5',
      payUrl: `${sim().url}/sim/cashier/bankpay/${r.body.orderNo}`,
    });
    const [o] = await s.platform.deps.db.select().from(orders).where(eq(orders.id, r.body.id));
    expect(o!.tradeType).toBe('H5');
  });

  it('takes a timeout as UNKNOWN: the order stays PAYING and a query finds the payment', async () => {
    const { billId } = await s.pushBill({ amountFen: 2222 });
    sim().injectFault('create', 'late_reply', 2); // processed by the bank, answered too late — twice
    const r = await s.api('POST', '/api/orders', {
      token,
      body: { billIds: [billId], channel: 'bankpay', tradeType: 'NATIVE' },
    });
    expect(r.status).toBe(503);
    expect(r.body.error.code).toBe('channel_unavailable');
    const [o] = await s.platform.deps.db.select().from(orders).where(eq(orders.id, r.body.error.orderId));
    expect(o!.status).toBe('PAYING'); // neither failed nor paid
    expect(sim().orders.get(o!.orderNo)?.tradeStatus).toBe('NOTPAY'); // the bank did take it
    sim().injectFault('query', 'system_error', 1); // and the first query is answered SYSTEM_ERROR
    sim().pay(o!.orderNo, { notify: 'drop' });
    await statusIs(o!.orderNo, 'SETTLED');
    expect(await paidEvents(o!.id)).toHaveLength(1);
    expect((await eventsOf(o!.id)).find((e) => e.toStatus === 'PAID')?.actor).toBe('channel:bankpay:query');
  });

  it('applies duplicated notifications once, and a late payment notification after a refund changes nothing', async () => {
    const a = await qrOrder(4321);
    sim().pay(a.body.orderNo, { notify: 'duplicate' });
    await statusIs(a.body.orderNo, 'SETTLED');
    expect(await sim().resend(a.body.orderNo)).toBe(200); // a third copy, freshly signed, same notifyId
    expect(await paidEvents(a.body.id)).toHaveLength(1);
    const inbox = await s.platform.deps.db
      .select()
      .from(notificationInbox)
      .where(eq(notificationInbox.outTradeNo, a.body.orderNo));
    expect(inbox).toHaveLength(1); // one row per notification id: the copies were no-ops

    // Out of order: the payment notification is lost, the query settles the order, it is partly refunded,
    // and only then the payment notification arrives — and the refund notification a second time.
    const b = await qrOrder(6000);
    sim().pay(b.body.orderNo, { notify: 'drop' });
    await statusIs(b.body.orderNo, 'SETTLED');
    const rf = await hisRefund({
      orderNo: b.body.orderNo,
      hisRefundNo: refundNo(),
      amountFen: 1000,
      reason: '退药',
    });
    expect(rf.status).toBe(200);
    await statusIs(b.body.orderNo, 'PARTIALLY_REFUNDED');
    expect(await sim().resend(b.body.orderNo)).toBe(200);
    expect(await sim().resendRefund(rf.body.refundNo)).toBe(200);
    const row = await orderByNo(b.body.orderNo);
    expect(row).toMatchObject({ status: 'PARTIALLY_REFUNDED', refundedFen: 1000 });
    expect(await paidEvents(b.body.id)).toHaveLength(1);
    expect((await eventsOf(b.body.id)).map((e) => e.toStatus)).toEqual([
      'CREATED',
      'PAYING',
      'PAID',
      'SETTLED',
      'REFUNDING',
      'PARTIALLY_REFUNDED',
    ]);
  });

  it('rejects a tampered notification (and a stale or forged one); the genuine retry is applied', async () => {
    sim().notifyRetryDelaysMs = [200];
    try {
      const r = await qrOrder(1500);
      const orderNo: string = r.body.orderNo;
      sim().pay(orderNo, { notify: 'tamper' });
      await statusIs(orderNo, 'SETTLED');
      const attempts = sim().deliveries.filter((d) => d.outTradeNo === orderNo);
      expect(attempts.map((d) => [d.tampered, d.status])).toEqual([
        [true, 401],
        [false, 200],
      ]);
      const rejected = await s.platform.deps.db
        .select()
        .from(notificationInbox)
        .where(and(eq(notificationInbox.channel, 'bankpay'), eq(notificationInbox.outcome, 'rejected')));
      expect(rejected.map((x) => x.error).join()).toMatch(/signature: signature does not verify/);
    } finally {
      sim().notifyRetryDelaysMs = [];
    }

    const r = await qrOrder(1600);
    const url = `${s.platform.url}/notify/bankpay/ma_h001_bankpay`;
    const k = s.sandbox.keys;
    const envelope = (timestamp: number, privateKeyHex: string, publicKeyHex: string) => {
      const env: Record<string, string> = {
        appId: k.hospitals.H001!.bankpay.appId,
        merchantNo: k.hospitals.H001!.bankpay.merchantNo,
        notifyId: `NTX${timestamp}`,
        notifyType: 'TRADE.SUCCESS',
        version: '1.0',
        signType: 'SM2',
        keyId: k.bankpayPlatform.keyId,
        timestamp: String(timestamp),
        nonce: 'a'.repeat(32),
        bizContent: JSON.stringify({
          merchantNo: k.hospitals.H001!.bankpay.merchantNo,
          outTradeNo: r.body.orderNo,
          bankTradeNo: 'BKFORGED',
          tradeStatus: 'SUCCESS',
          amountFen: 1600,
        }),
      };
      env.sign = signCanonical(canonicalString(env), privateKeyHex, publicKeyHex, '1234567812345678');
      return JSON.stringify(env);
    };
    const post = (body: string) =>
      fetch(url, { method: 'POST', body, headers: { 'content-type': 'application/json' } });
    const now = Math.floor(Date.now() / 1000);
    const stale = await post(
      envelope(now - 3600, k.bankpayPlatform.privateKeyHex, k.bankpayPlatform.publicKeyHex),
    );
    expect(stale.status).toBe(401);
    // Signed with our own merchant key instead of the bank's: a forgery.
    const h = k.hospitals.H001!.bankpay;
    const forged = await post(envelope(now, h.privateKeyHex, h.publicKeyHex));
    expect(forged.status).toBe(401);
    expect(await forged.json()).toMatchObject({ code: 'FAIL' });
    expect((await orderByNo(r.body.orderNo)).status).toBe('PAYING');
    const reasons = (
      await s.platform.deps.db
        .select()
        .from(notificationInbox)
        .where(and(eq(notificationInbox.channel, 'bankpay'), eq(notificationInbox.outcome, 'rejected')))
    ).map((x) => x.error);
    expect(reasons.some((e) => e?.startsWith('timestamp:'))).toBe(true);
  });

  it('the bank refuses our requests when tampered, expired or replayed; we refuse its forged replies', async () => {
    const ch = await adapter();
    const send = (env: Record<string, string>) =>
      fetch(`${sim().url}/api/v1/${env.method}`, { method: 'POST', body: JSON.stringify(env) }).then(
        (x) => x.json() as Promise<Record<string, string>>,
      );
    const env = ch.envelope('trade.query', { outTradeNo: 'P00000000000000NOSUCH' });
    expect((await send(env)).code).toBe('ORDER_NOT_EXIST');
    expect((await send(env)).code).toBe('NONCE_REPLAYED');
    const old = ch.envelope(
      'trade.query',
      { outTradeNo: 'P00000000000000NOSUCH' },
      new Date(Date.now() - 600_000),
    );
    expect((await send(old)).code).toBe('TIMESTAMP_EXPIRED');
    const tampered = ch.envelope('refund.query', { outTradeNo: 'A', outRefundNo: 'B' });
    tampered.bizContent = JSON.stringify({ outTradeNo: 'A', outRefundNo: 'C' });
    const refused = await send(tampered);
    expect(refused.code).toBe('SIGN_ERROR');
    expect(refused.sign).toBeTruthy(); // refusals are signed too

    sim().forgeReplies = true;
    try {
      const r = await qrOrder(700);
      expect(r.status).toBe(503); // an unverifiable reply is no reply: UNKNOWN, never taken as an answer
      const [held] = await s.platform.deps.db
        .select()
        .from(orders)
        .where(eq(orders.id, r.body.error.orderId));
      expect(held!.status).toBe('PAYING');
    } finally {
      sim().forgeReplies = false;
    }
  });

  it('puts an order whose notification carries a wrong amount into CONFLICTED with an alert, never PAID', async () => {
    const r = await qrOrder(5000);
    sim().pay(r.body.orderNo, { notifyAmountFen: 1 });
    await statusIs(r.body.orderNo, 'CONFLICTED');
    const row = await orderByNo(r.body.orderNo);
    expect(row.paidAt).toBeNull();
    expect(await paidEvents(row.id)).toHaveLength(0);
    const a = await s.platform.deps.db.select().from(alerts).where(eq(alerts.orderId, row.id));
    expect(a.map((x) => x.kind)).toEqual(['amount_mismatch']);
  });

  it('flags a success that arrives after the order was closed (at the bank, then locally): CONFLICTED + alert', async () => {
    const r = await qrOrder(3100);
    const row = await orderByNo(r.body.orderNo);
    clock.advance(16 * 60_000);
    try {
      await runPaymentQuery(s.platform.deps, { orderId: row.id, attempt: 1 });
    } finally {
      clock.advance(-16 * 60_000);
    }
    expect(sim().orders.get(r.body.orderNo)?.tradeStatus).toBe('CLOSED');
    expect((await orderByNo(r.body.orderNo)).status).toBe('CLOSED');
    const [bill] = await s.platform.deps.db.select().from(bills).where(eq(bills.lockedOrderId, row.id));
    expect(bill).toBeUndefined(); // released
    sim().pay(r.body.orderNo, { force: true }); // the bank's close lost a race with the payer
    await statusIs(r.body.orderNo, 'CONFLICTED');
    const a = await s.platform.deps.db.select().from(alerts).where(eq(alerts.orderId, row.id));
    expect(a.map((x) => x.kind)).toEqual(['paid_after_close']);
  });

  it('takes payment codes: at once, after the payer confirms, after SYSTEM_ERROR; refuses a failed one', async () => {
    const now = await codePay('6250', 1800);
    expect(now.status).toBe(201);
    expect(now.body).toMatchObject({
      status: 'PAID',
      amountFen: 1800,
      tradeType: 'MICROPAY',
      channel: 'bankpay',
    });

    const waiting = await codePay('6251');
    expect(waiting.body.status).toBe('PAYING');
    await statusIs(waiting.body.orderNo, 'SETTLED');

    const sysErr = await codePay('6254');
    expect(sysErr.status).toBe(201);
    expect(sysErr.body.status).toBe('PAYING');
    await statusIs(sysErr.body.orderNo, 'SETTLED');

    const broke = await codePay('6253');
    expect(broke.status).toBe(502);
    expect(broke.body.error.message).toContain('INSUFFICIENT_BALANCE');
    const [b] = await s.platform.deps.db.select().from(bills).where(eq(bills.id, broke.billId));
    expect(b).toMatchObject({ status: 'UNPAID', lockedOrderId: null });

    // Payment codes never reach the interface log in clear.
    const calls = await s.platform.deps.db
      .select()
      .from(outboundCalls)
      .where(inArray(outboundCalls.orderNo, [now.body.orderNo, waiting.body.orderNo]));
    expect(calls.length).toBeGreaterThan(0);
    expect(JSON.stringify(calls)).not.toContain(now.authCode);
    expect(JSON.stringify(calls)).toContain('[REDACTED]');
  });

  it('reverses a payment code the payer never confirms — repeating while told recall=Y — and frees the bills', async () => {
    sim().reverseRecalls = 1;
    const r = await codePay('6252');
    expect(r.body.status).toBe('PAYING');
    await statusIs(r.body.orderNo, 'CLOSED', 20_000);
    expect(sim().orders.get(r.body.orderNo)?.tradeStatus).toBe('REVERSED');
    expect(sim().reverseRecalls).toBe(0);
    const [b] = await s.platform.deps.db.select().from(bills).where(eq(bills.id, r.billId));
    expect(b).toMatchObject({ status: 'UNPAID', lockedOrderId: null });
    const evs = await eventsOf((await orderByNo(r.body.orderNo)).id);
    expect(evs.map((e) => e.event)).toContain('reverse_requested');
    expect(evs.at(-1)?.reason).toMatch(/^reversed/);
  });

  it('refunds partially, then the rest, with notifications; the HIS hears of each; no more than paid', async () => {
    const p = await codePay('6250', 5000);
    await statusIs(p.body.orderNo, 'SETTLED');
    const first = await hisRefund({
      orderNo: p.body.orderNo,
      hisRefundNo: refundNo(),
      amountFen: 1234,
      reason: '退药',
    });
    expect(first.status).toBe(200);
    expect(first.body).toMatchObject({ amountFen: 1234, status: 'PROCESSING' }); // the bank refunds asynchronously
    await statusIs(p.body.orderNo, 'PARTIALLY_REFUNDED');
    const rest = await hisRefund({ orderNo: p.body.orderNo, hisRefundNo: refundNo(), reason: '退余额' });
    expect(rest.body.amountFen).toBe(3766);
    await statusIs(p.body.orderNo, 'REFUNDED');
    expect((await orderByNo(p.body.orderNo)).refundedFen).toBe(5000);
    const rows = await s.platform.deps.db
      .select()
      .from(refunds)
      .where(eq(refunds.orderId, (await orderByNo(p.body.orderNo)).id));
    expect(rows.map((x) => [x.status, x.amountFen, Boolean(x.channelRefundId)]).sort()).toEqual([
      ['SUCCESS', 1234, true],
      ['SUCCESS', 3766, true],
    ]);
    const bankSide = [...sim().refunds.values()].filter((x) => x.outTradeNo === p.body.orderNo);
    expect(bankSide.map((x) => x.refundAmountFen).sort()).toEqual([1234, 3766]);
    await waitFor(
      async () =>
        [...s.sandbox.his.results.values()].filter(
          (x) => x.body.kind === 'refund' && x.body.orderNo === p.body.orderNo,
        ).length === 2,
      15_000,
      'two refund pushes',
    );
    const more = await hisRefund({
      orderNo: p.body.orderNo,
      hisRefundNo: refundNo(),
      amountFen: 1,
      reason: '多退',
    });
    expect(more.status).toBe(409);
    expect(more.body.error.code).toBe('order_not_refundable');
  });

  it('refuses a refund above the paid sum — ours first, and the bank too if asked', async () => {
    const p = await codePay('6250', 500);
    await statusIs(p.body.orderNo, 'SETTLED');
    const r = await hisRefund({
      orderNo: p.body.orderNo,
      hisRefundNo: refundNo(),
      amountFen: 501,
      reason: 'x',
    });
    expect(r.status).toBe(409);
    expect(r.body.error.code).toBe('refund_exceeds_paid');
    expect(await orderByNo(p.body.orderNo)).toMatchObject({ status: 'SETTLED', refundedFen: 0 });
    expect([...sim().refunds.values()].some((x) => x.outTradeNo === p.body.orderNo)).toBe(false);
    const bank = await (
      await adapter()
    ).refund({
      orderNo: p.body.orderNo,
      refundNo: `RDIRECT${Date.now()}`,
      amountFen: 501,
      totalFen: 500,
      reason: 'x',
      notifyUrl: `${s.platform.url}/notify/bankpay/ma_h001_bankpay`,
    });
    expect(bank).toMatchObject({ result: 'FAIL', errorCode: 'REFUND_AMOUNT_EXCEEDED' });
  });

  it('resolves a refund whose notification was lost by querying the bank', async () => {
    const p = await codePay('6250', 900);
    await statusIs(p.body.orderNo, 'SETTLED');
    sim().refundBehaviour = { outcome: 'success', notify: 'drop' };
    try {
      const r = await hisRefund({ orderNo: p.body.orderNo, hisRefundNo: refundNo(), reason: '全退' });
      expect(r.body.status).toBe('PROCESSING');
      await statusIs(p.body.orderNo, 'REFUNDED');
    } finally {
      sim().refundBehaviour = { outcome: 'success', notify: 'deliver' };
    }
  });

  it('downloads the day’s statement: SM3-checked, parsed, totals agree with the lines, the bank and our orders', async () => {
    const ch = await adapter();
    const today = new Date(Date.now() + 8 * 3600_000).toISOString().slice(0, 10);
    const yesterday = new Date(Date.now() + 8 * 3600_000 - 86_400_000).toISOString().slice(0, 10);
    const tomorrow = new Date(Date.now() + 8 * 3600_000 + 86_400_000).toISOString().slice(0, 10);
    expect(await ch.downloadStatement(today)).toMatchObject({ result: 'PENDING', errorCode: 'GENERATING' }); // T+1
    expect(await ch.downloadStatement(yesterday)).toMatchObject({
      result: 'FAIL',
      errorCode: 'NO_STATEMENT',
    });
    expect(await ch.downloadStatement(tomorrow)).toMatchObject({
      result: 'FAIL',
      errorCode: 'BILL_DATE_INVALID',
    });

    sim().statement.sameDay = true; // the sandbox's stand-in for waiting until tomorrow
    try {
      const st = await ch.downloadStatement(today);
      expect(st.result).toBe('SUCCESS');
      expect(st.fileName).toBe(`${s.sandbox.keys.hospitals.H001!.bankpay.merchantNo}_${today}.csv`);
      expect(st.rawFile!.toString('utf8').split('\n')[0]).toMatch(/^recordType,merchantNo,outTradeNo/);
      const lines = st.lines!;
      const pays = lines.filter((l) => l.kind === 'PAYMENT');
      const refundLines = lines.filter((l) => l.kind === 'REFUND');
      expect(st.totals).toEqual({
        paymentCount: pays.length,
        paymentFen: pays.reduce((a, l) => a + l.amountFen, 0),
        refundCount: refundLines.length,
        refundFen: refundLines.reduce((a, l) => a + l.amountFen, 0),
        feeFen: pays.reduce((a, l) => a + l.feeFen, 0) - refundLines.reduce((a, l) => a + l.feeFen, 0),
      });
      // The bank's own records of H001 agree line by line.
      const h001 = s.sandbox.keys.hospitals.H001!.bankpay.merchantNo;
      const bankPaid = [...sim().orders.values()].filter((o) => o.merchantNo === h001 && o.paidAt);
      expect(pays.map((l) => `${l.orderNo}:${l.amountFen}`).sort()).toEqual(
        bankPaid.map((o) => `${o.outTradeNo}:${o.amountFen}`).sort(),
      );
      expect(pays.every((l) => l.feeFen === Math.floor((l.amountFen * 30 + 5000) / 10000))).toBe(true);
      // Every order we hold as paid, and every refund we hold as done, is on the statement with its amount.
      const ours = await s.platform.deps.db
        .select()
        .from(orders)
        .where(
          and(
            eq(orders.channel, 'bankpay'),
            inArray(orders.status, ['SETTLED', 'PAID', 'PARTIALLY_REFUNDED', 'REFUNDED']),
          ),
        );
      expect(ours.length).toBeGreaterThanOrEqual(6);
      for (const o of ours) expect(pays.find((l) => l.orderNo === o.orderNo)?.amountFen).toBe(o.amountFen);
      const ourRefunds = await s.platform.deps.db.select().from(refunds).where(eq(refunds.status, 'SUCCESS'));
      expect(refundLines.map((l) => `${l.refundNo}:${l.amountFen}`).sort()).toEqual(
        ourRefunds.map((x) => `${x.refundNo}:${x.amountFen}`).sort(),
      );
      expect(st.totals!.refundFen).toBe(ourRefunds.reduce((a, x) => a + x.amountFen, 0));

      sim().statement.corrupt = true;
      expect(await ch.downloadStatement(today)).toMatchObject({
        result: 'UNKNOWN',
        errorCode: 'STATEMENT_HASH_MISMATCH',
      });
      sim().statement.corrupt = false;
      sim().statement.badSummary = true;
      const bad = await ch.downloadStatement(today);
      expect(bad).toMatchObject({ result: 'FAIL', errorCode: 'STATEMENT_INCONSISTENT' });
      expect(bad.lines).toBeUndefined(); // never a partial result
    } finally {
      sim().statement = { sameDay: false, corrupt: false, badSummary: false };
    }
  });
});
