import { createHash, createSign, createVerify, randomBytes } from 'node:crypto';
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { rsaPair } from '../../sandbox/keys';
import { WechatPaySimulator } from '../../sandbox/wechatpay/simulator';
import type { InsuranceSplit, InsuredPerson, SettleInput } from '../insurance-types';
import type { OutboundCall } from '../types';
import { NotificationRejected } from '../types';
import { WechatPayV3Channel } from '../wechatpay/adapter';
import {
  checkMedInsFees,
  idDigest,
  medInsPaySignMessage,
  WechatMedInsChannel,
  type WechatMedInsOptions,
} from './adapter';

/**
 * The med-ins adapter against the WeChat simulator (random port, throwaway keys), with the cash part paid through
 * the WeChat Pay adapter's own JSAPI order. No database.
 */

interface Received {
  path: string;
  headers: IncomingHttpHeaders;
  body: string;
}

/** A tiny receiver for notifications and the national-platform simulator's control call. */
async function startReceiver(): Promise<{ url: string; got: Received[]; close: () => Promise<void> }> {
  const got: Received[] = [];
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      got.push({ path: req.url ?? '/', headers: req.headers, body: Buffer.concat(chunks).toString('utf8') });
      if (req.url?.startsWith('/sim/nhsa/')) {
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end('{"ok":true}');
      } else {
        res.writeHead(204);
        res.end();
      }
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    got,
    close: () =>
      new Promise<void>((r) => {
        server.closeAllConnections();
        server.close(() => r());
      }),
  };
}

async function waitFor<T>(probe: () => T | undefined, ms = 5000): Promise<T> {
  const until = Date.now() + ms;
  for (;;) {
    const v = probe();
    if (v !== undefined) return v;
    if (Date.now() > until) throw new Error('timed out waiting');
    await new Promise((r) => setTimeout(r, 20));
  }
}

const flat = (h: IncomingHttpHeaders): Record<string, string | undefined> =>
  Object.fromEntries(Object.entries(h).map(([k, v]) => [k, Array.isArray(v) ? v.join(',') : v]));

describe('WeChat medical-insurance payment adapter (v3 med-ins) against the simulator', () => {
  const platform = rsaPair();
  const merchant = rsaPair();
  const platformKeyId = `PUB_KEY_ID_TEST${randomBytes(6).toString('hex').toUpperCase()}`;
  const mchId = '1900009901';
  const appId = 'wxmedinstest0001';
  const serialNo = randomBytes(20).toString('hex').toUpperCase();
  const apiV3Key = randomBytes(16).toString('hex'); // 32 characters
  const person: InsuredPerson = {
    psnNo: 'P4401000001',
    name: '张三丰',
    idNo: '44010619900101123x',
    idType: '01',
    insutype: '310',
  };
  const openId = 'oMedInsTestOpenId0000000001';

  let sim: WechatPaySimulator;
  let receiver: Awaited<ReturnType<typeof startReceiver>>;
  let pay: WechatPayV3Channel;
  let medins: WechatMedInsChannel;
  const calls: OutboundCall[] = [];
  let seq = 0;

  const options = (over: Partial<WechatMedInsOptions> = {}): WechatMedInsOptions => ({
    mchId,
    appId,
    serialNo,
    privateKeyPem: merchant.privatePem,
    apiV3Key,
    platformKeyId,
    platformPublicKeyPem: platform.publicPem,
    baseUrl: sim.url,
    cityId: '440100',
    medInstName: '示范市第一人民医院',
    medInstNo: 'H44010600001',
    timeoutMs: 3000,
    ...over,
  });

  beforeAll(async () => {
    receiver = await startReceiver();
    sim = await new WechatPaySimulator({
      port: 0,
      platformKeyId,
      platformPrivatePem: platform.privatePem,
      nhsaControlUrl: receiver.url,
    }).start();
    sim.addMerchant({
      mchId,
      appIds: [appId],
      serialNo,
      publicPem: merchant.publicPem,
      apiV3Key,
      apiV2Key: randomBytes(16).toString('hex'),
    });
    pay = new WechatPayV3Channel({
      mchId,
      appId,
      serialNo,
      privateKeyPem: merchant.privatePem,
      apiV3Key,
      platformKeyId,
      platformPublicKeyPem: platform.publicPem,
      baseUrl: sim.url,
      timeoutMs: 3000,
    });
    medins = new WechatMedInsChannel(options(), (c) => calls.push(c));
  });

  afterAll(async () => {
    await sim.close();
    await receiver.close();
  });

  const orderNo = (p: string) => `${p}${Date.now()}${seq++}`;

  /** The JSAPI payment of the cash part, through the WeChat Pay adapter; returns its prepay_id. */
  async function cashPrepay(amountFen: number): Promise<{ cashOrderNo: string; prepayId: string }> {
    const cashOrderNo = orderNo('C');
    const out = await pay.createPayment({
      orderNo: cashOrderNo,
      amountFen,
      description: '门诊缴费（自费部分）',
      tradeType: 'JSAPI',
      expiresAt: new Date(Date.now() + 15 * 60_000),
      notifyUrl: `${receiver.url}/notify/wechatpay`,
      payerOpenId: openId,
    });
    expect(out.result).toBe('SUCCESS');
    return { cashOrderNo, prepayId: out.prepay!.jsapi!.package!.replace(/^prepay_id=/, '') };
  }

  const settleInput = (split: InsuranceSplit, over: Partial<SettleInput> = {}): SettleInput => ({
    orderNo: orderNo('M'),
    payOrdId: `ORD440100${Date.now()}${seq++}`,
    payToken: 'token-unused-by-wechat',
    payAuthNo: `AUTH440100${Date.now()}${seq++}`,
    person,
    split,
    notifyUrl: `${receiver.url}/notify/medins`,
    description: '门诊缴费',
    openId,
    ...over,
  });

  const mixed: InsuranceSplit = {
    totalFen: 10000,
    fundFen: 5000,
    psnAcctFen: 1500,
    otherFen: 500,
    cashFen: 3000,
  };

  const medInsNotification = (mixTradeNo: string) =>
    waitFor(() => receiver.got.find((r) => r.path === '/notify/medins' && mixIn(r, mixTradeNo)));
  /** The envelope is encrypted: find ours by parsing it with the adapter itself. */
  const mixIn = (r: Received, mixTradeNo: string) => {
    try {
      return (
        medins.parseNotification(flat(r.headers), r.body, new Date()).settlement.mixTradeNo === mixTradeNo
      );
    } catch {
      return false;
    }
  };

  let paid: { input: SettleInput; mixTradeNo: string; notification: Received };

  it('settles a CASH_AND_INSURANCE order: created PENDING with signed client parameters, paid, notified, queried SETTLED', async () => {
    const { cashOrderNo, prepayId } = await cashPrepay(mixed.cashFen);
    const input = settleInput(mixed, { cashPrepayId: prepayId, orderType: 'DIAG_PAY' });
    const out = await medins.settle(input);
    expect(out.result).toBe('SUCCESS');
    expect(out.settlement).toMatchObject({
      orderNo: input.orderNo,
      state: 'PENDING',
      cashState: 'PENDING',
      insuranceState: 'PENDING',
    });
    const mixTradeNo = out.settlement!.mixTradeNo!;
    expect(mixTradeNo).toBeTruthy();

    // The client parameters: paySign is SHA256withRSA over the JSAPI lines, verifiable with our public key.
    const c = out.client!;
    expect(c).toMatchObject({ mixTradeNo, appId, package: `prepay_id=${prepayId}`, signType: 'RSA' });
    expect(c.timeStamp).toMatch(/^\d{10}$/);
    const message = `${appId}\n${c.timeStamp}\n${c.nonceStr}\nprepay_id=${prepayId}\n`;
    expect(
      medInsPaySignMessage({ appId, timeStamp: c.timeStamp!, nonceStr: c.nonceStr!, package: c.package! }),
    ).toBe(message);
    expect(createVerify('RSA-SHA256').update(message).verify(merchant.publicPem, c.paySign!, 'base64')).toBe(
      true,
    );

    // What the simulator stored: the mixed order with the decrypted payer.
    const stored = sim.medIns.orders.get(mixTradeNo)!;
    expect(stored.body).toMatchObject({
      mix_pay_type: 'CASH_AND_INSURANCE',
      order_type: 'DIAG_PAY',
      appid: appId,
      openid: openId,
      city_id: '440100',
      total_fee: 10000,
      med_ins_gov_fee: 5000,
      med_ins_self_fee: 1500,
      med_ins_other_fee: 500,
      med_ins_cash_fee: 3000,
      wechat_pay_cash_fee: 3000,
      prepay_id: prepayId,
      pay_order_id: input.payOrdId,
    });

    // The patient pays in the sheet.
    const res = await fetch(`${sim.url}/sim/wechatpay/med-ins/${mixTradeNo}/pay`, {
      method: 'POST',
      body: '{}',
    });
    expect(res.status).toBe(200);

    // MEDICAL_INSURANCE.SUCCESS reaches our receiver and parses.
    const n = await medInsNotification(mixTradeNo);
    const parsed = medins.parseNotification(flat(n.headers), n.body, new Date());
    expect(parsed.eventType).toBe('MEDICAL_INSURANCE.SUCCESS');
    expect(parsed.settlement).toMatchObject({
      orderNo: input.orderNo,
      state: 'SETTLED',
      cashState: 'PAID',
      insuranceState: 'SETTLED',
      mixTradeNo,
      payOrdId: input.payOrdId,
      split: mixed,
      appId,
      orgCode: 'H44010600001',
    });
    expect(parsed.settlement.settledAt).toBeInstanceOf(Date);
    expect(parsed.settlement.settlementId).toMatch(/^SETL/);

    // The cash part went through the WeChat Pay path: its own TRANSACTION.SUCCESS for the JSAPI order.
    const cashNote = await waitFor(() =>
      receiver.got.find(
        (r) =>
          r.path === '/notify/wechatpay' &&
          pay.parseNotification(flat(r.headers), r.body, new Date()).payment?.orderNo === cashOrderNo,
      ),
    );
    expect(pay.parseNotification(flat(cashNote.headers), cashNote.body, new Date()).payment).toMatchObject({
      state: 'PAID',
      amountFen: 3000,
    });

    // The national-platform simulator was told.
    const nhsa = receiver.got.find((r) => r.path === `/sim/nhsa/orders/${input.payOrdId}/settle-external`);
    expect(nhsa && JSON.parse(nhsa.body)).toEqual({
      fundFen: 5000,
      psnAcctFen: 1500,
      otherFen: 500,
      cashFen: 3000,
      settlementId: parsed.settlement.settlementId,
    });

    const q = await medins.querySettlement(input.orderNo);
    expect(q.result).toBe('SUCCESS');
    expect(q.settlement).toMatchObject({
      state: 'SETTLED',
      cashState: 'PAID',
      insuranceState: 'SETTLED',
      split: mixed,
      mixTradeNo,
    });
    paid = { input, mixTradeNo, notification: n };
  });

  it('sends the payer name and id digest RSA-OAEP encrypted: no plaintext in the request, the log or the id digest', async () => {
    const stored = sim.medIns.orders.get(paid.mixTradeNo)!;
    expect(stored.payer).toEqual({
      name: person.name,
      id_digest: idDigest(person.idNo),
      card_type: 'ID_CARD',
    });
    // lowercase MD5 of the upper-cased ID number
    expect(stored.payer.id_digest).toBe(createHash('md5').update('44010619900101123X').digest('hex'));
    const raw = sim.medIns.requests.find((r) => r.method === 'POST' && r.body.includes(paid.input.orderNo))!;
    expect(raw.headers['wechatpay-serial']).toBe(platformKeyId);
    for (const secret of [person.name, person.idNo, person.idNo.toUpperCase(), idDigest(person.idNo)])
      expect(raw.body).not.toContain(secret);
    // The interface log: no name, ID number, digest or openid in clear.
    const log = JSON.stringify(calls);
    expect(calls.some((c) => c.operation === 'medins_create' && c.result === 'SUCCESS')).toBe(true);
    for (const secret of [person.name, person.idNo, idDigest(person.idNo), openId, paid.input.payAuthNo])
      expect(log).not.toContain(secret);
  });

  it('is refused by WeChat when the payer fields are not encrypted under its key', async () => {
    const other = rsaPair();
    const wrongKey = new WechatMedInsChannel(options({ platformPublicKeyPem: other.publicPem }));
    const out = await wrongKey.settle(
      settleInput({ totalFen: 100, fundFen: 100, psnAcctFen: 0, otherFen: 0, cashFen: 0 }),
    );
    expect(out).toMatchObject({ result: 'FAIL', errorCode: 'PARAM_ERROR' });
    expect(out.errorMessage).toContain('payer');
  });

  it('settles an INSURANCE_ONLY order without a prepay: client has no cash fields, query SETTLED with no cash part', async () => {
    const split = { totalFen: 4000, fundFen: 3000, psnAcctFen: 1000, otherFen: 0, cashFen: 0 };
    const input = settleInput(split);
    const out = await medins.settle(input);
    expect(out.result).toBe('SUCCESS');
    expect(out.client).toEqual({ appId, appid: appId, mixTradeNo: out.settlement!.mixTradeNo });
    expect(sim.medIns.orders.get(out.settlement!.mixTradeNo!)!.body).toMatchObject({
      mix_pay_type: 'INSURANCE_ONLY',
      wechat_pay_cash_fee: 0,
    });
    expect(sim.medIns.orders.get(out.settlement!.mixTradeNo!)!.body.prepay_id).toBeUndefined();
    // The demo cashier page shows the parts.
    const page = await (
      await fetch(`${sim.url}/sim/cashier/wechatpay-medins/${out.settlement!.mixTradeNo}`)
    ).text();
    expect(page).toContain('医保统筹</td><td class="r">¥30.00');
    expect(page).toContain('个人账户</td><td class="r">¥10.00');
    await fetch(`${sim.url}/sim/wechatpay/med-ins/${out.settlement!.mixTradeNo}/pay`, {
      method: 'POST',
      body: '{}',
    });
    const q = await medins.querySettlement(input.orderNo);
    expect(q.settlement).toMatchObject({
      state: 'SETTLED',
      cashState: 'NONE',
      insuranceState: 'SETTLED',
      split,
    });
  });

  it('refuses a split that breaks the identities without calling WeChat', async () => {
    const before = sim.medIns.requests.length;
    const logged = calls.length;
    const out = await medins.settle(
      settleInput(
        { totalFen: 10000, fundFen: 5000, psnAcctFen: 1500, otherFen: 500, cashFen: 2999 },
        { cashPrepayId: 'wx-never-used' },
      ),
    );
    expect(out).toMatchObject({ result: 'FAIL', errorCode: 'SPLIT_INCONSISTENT' });
    const negative = await medins.settle(
      settleInput({ totalFen: 0, fundFen: 0, psnAcctFen: 0, otherFen: 0, cashFen: 0 }),
    );
    expect(negative).toMatchObject({ result: 'FAIL', errorCode: 'SPLIT_INCONSISTENT' });
    expect(sim.medIns.requests.length).toBe(before);
    expect(calls.length).toBe(logged);
    // The identities themselves, with add/reduce details.
    const f = {
      total_fee: 202000,
      med_ins_gov_fee: 100000,
      med_ins_self_fee: 45000,
      med_ins_other_fee: 5000,
      med_ins_cash_fee: 50000,
      wechat_pay_cash_fee: 42000,
    };
    expect(
      checkMedInsFees({
        ...f,
        cash_add_detail: [{ cash_add_fee: 2000 }],
        cash_reduce_detail: [{ cash_reduce_fee: 10000 }],
      }),
    ).toBe(true);
    expect(checkMedInsFees({ ...f, cash_add_detail: [{ cash_add_fee: 2000 }] })).toBe(false);
  });

  it('rejects a tampered notification signature and a stale timestamp', () => {
    const { headers, body } = paid.notification;
    const h = flat(headers);
    expect(() => medins.parseNotification(h, body, new Date())).not.toThrow();
    const tampered = body.replace('"MEDICAL_INSURANCE.SUCCESS"', '"MEDICAL_INSURANCE.SUCCESS" ');
    expect(() => medins.parseNotification(h, tampered, new Date())).toThrow(NotificationRejected);
    expect(() =>
      medins.parseNotification({ ...h, 'wechatpay-signature': 'WECHATPAY/SIGNTEST/abc' }, body, new Date()),
    ).toThrow(/probe/);
    // Signed over the very same message, by a key that is not WeChat's.
    const badSig = createSign('RSA-SHA256')
      .update(`${h['wechatpay-timestamp']}\n${h['wechatpay-nonce']}\n${body}\n`)
      .sign(merchant.privatePem, 'base64');
    try {
      medins.parseNotification({ ...h, 'wechatpay-signature': badSig }, body, new Date());
      throw new Error('accepted');
    } catch (e) {
      expect(e).toBeInstanceOf(NotificationRejected);
      expect((e as NotificationRejected).reason).toBe('signature');
    }
    try {
      medins.parseNotification(h, body, new Date(Date.now() + 6 * 60_000));
      throw new Error('accepted');
    } catch (e) {
      expect((e as NotificationRejected).reason).toBe('timestamp');
    }
    expect(medins.notificationReply(true)).toEqual({ status: 204 });
    expect(medins.notificationReply(false).status).toBe(500);
  });

  it('answers UNKNOWN when WeChat does not answer in time (query and create)', async () => {
    const slow = new WechatMedInsChannel(options({ timeoutMs: 300 }));
    sim.injectFault('medins_query', 'timeout');
    const q = await slow.querySettlement(paid.input.orderNo);
    expect(q.result).toBe('UNKNOWN');
    const { prepayId } = await cashPrepay(mixed.cashFen);
    sim.injectFault('medins_create', 'timeout');
    const s = await slow.settle(settleInput(mixed, { cashPrepayId: prepayId }));
    expect(s.result).toBe('UNKNOWN');
    const missing = await medins.querySettlement('M-never-created-0001');
    expect(missing).toMatchObject({ result: 'SUCCESS', settlement: { state: 'NOT_FOUND' } });
  });

  it('sends the insurance refund notice (204 → SUCCESS) and WeChat refuses more than was settled', async () => {
    const base = {
      orderNo: paid.input.orderNo,
      payOrdId: paid.input.payOrdId,
      mixTradeNo: paid.mixTradeNo,
      kind: 'HI' as const,
      cashFen: 0,
      reason: '患者退费',
      requestedAt: new Date(),
    };
    const first = await medins.refund({
      ...base,
      refundNo: orderNo('R'),
      fundFen: 2000,
      psnAcctFen: 1500,
      otherFen: 0,
    });
    expect(first).toEqual({ result: 'SUCCESS', state: 'SUCCESS' });
    const stored = sim.medIns.orders.get(paid.mixTradeNo)!;
    expect(stored.refunds).toEqual([expect.objectContaining({ gov: 2000, self: 1500, other: 0 })]);
    const tooMuch = await medins.refund({
      ...base,
      refundNo: orderNo('R'),
      fundFen: 3001,
      psnAcctFen: 0,
      otherFen: 500,
    });
    expect(tooMuch).toMatchObject({ result: 'FAIL', state: 'FAILED' });
    // The rest, found by the order number alone (the adapter looks the mix_trade_no up).
    const rest = await medins.refund({
      ...base,
      mixTradeNo: undefined,
      refundNo: orderNo('R'),
      fundFen: 3000,
      psnAcctFen: 0,
      otherFen: 500,
    });
    expect(rest).toEqual({ result: 'SUCCESS', state: 'SUCCESS' });
    const q = await medins.querySettlement(paid.input.orderNo);
    expect(q.settlement).toMatchObject({ insuranceState: 'REFUNDED', cashState: 'PAID', state: 'SETTLED' });
    // A cash-only refund has nothing to tell WeChat.
    const cashOnly = await medins.refund({
      ...base,
      kind: 'CASH',
      refundNo: orderNo('R'),
      fundFen: 0,
      psnAcctFen: 0,
      otherFen: 0,
      cashFen: 3000,
    });
    expect(cashOnly).toMatchObject({ result: 'FAIL', errorCode: 'NOTHING_TO_NOTIFY' });
    // The yaml's double-underscore spelling is accepted by the simulator too.
    const doubled = new WechatMedInsChannel(options({ refundFieldNames: 'double' }));
    const { prepayId } = await cashPrepay(mixed.cashFen);
    const other = await medins.settle(settleInput(mixed, { cashPrepayId: prepayId }));
    await fetch(`${sim.url}/sim/wechatpay/med-ins/${other.settlement!.mixTradeNo}/pay`, {
      method: 'POST',
      body: '{"notify":"drop"}',
    });
    const d = await doubled.refund({
      ...base,
      orderNo: other.settlement!.orderNo,
      mixTradeNo: other.settlement!.mixTradeNo,
      refundNo: orderNo('R'),
      fundFen: 5000,
      psnAcctFen: 1500,
      otherFen: 500,
    });
    expect(d).toEqual({ result: 'SUCCESS', state: 'SUCCESS' });
    expect(sim.medIns.requests.at(-1)!.body).toContain('med_refund__gov_fee');
  });

  it('reports a partial outcome (insurance settled, cash failed) by query, without a notification', async () => {
    const { cashOrderNo, prepayId } = await cashPrepay(mixed.cashFen);
    const input = settleInput(mixed, { cashPrepayId: prepayId });
    const out = await medins.settle(input);
    const mixTradeNo = out.settlement!.mixTradeNo!;
    const res = await fetch(`${sim.url}/sim/wechatpay/med-ins/${mixTradeNo}/pay`, {
      method: 'POST',
      body: JSON.stringify({ cash: 'fail' }),
    });
    expect(res.status).toBe(200);
    const q = await medins.querySettlement(input.orderNo);
    expect(q.settlement).toMatchObject({
      state: 'FAILED',
      cashState: 'FAILED',
      insuranceState: 'SETTLED',
      rawState: 'MIX_PAY_FAIL/SELF_PAY_FAIL/MED_INS_PAY_SUCCESS',
    });
    // The cash JSAPI order was never paid; WeChat notifies only MIX_PAY_SUCCESS.
    expect((await pay.queryPayment(cashOrderNo)).payment?.state).toBe('NOTPAY');
    await new Promise((r) => setTimeout(r, 100));
    expect(sim.medIns.deliveries.filter((d) => d.mixTradeNo === mixTradeNo)).toEqual([]);
    // The other way round: the cash is taken, the insurance fails.
    const second = await cashPrepay(mixed.cashFen);
    const input2 = settleInput(mixed, { cashPrepayId: second.prepayId });
    const out2 = await medins.settle(input2);
    await fetch(`${sim.url}/sim/wechatpay/med-ins/${out2.settlement!.mixTradeNo}/pay`, {
      method: 'POST',
      body: JSON.stringify({ insurance: 'fail' }),
    });
    const q2 = await medins.querySettlement(input2.orderNo);
    expect(q2.settlement).toMatchObject({ state: 'FAILED', cashState: 'PAID', insuranceState: 'FAILED' });
    expect((await pay.queryPayment(second.cashOrderNo)).payment?.state).toBe('PAID');
  });

  it('validates its options at construction with a message that says what to fix', () => {
    expect(() => new WechatMedInsChannel(options({ apiV3Key: 'short' }))).toThrow(
      /apiV3Key: the APIv3 key is exactly 32 characters/,
    );
    expect(() => new WechatMedInsChannel(options({ mode: 'partner' }))).toThrow(/partner mode needs spMchId/);
  });
});
