import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { sm2 } from 'sm-crypto-v2';
import { NhsaSimulator, computeNhsaSplit, NHSA_DEFAULT_RULES } from '../../sandbox/nhsa/simulator';
import { checkSplit, type FeeDetail, type InsuredPerson, type UploadFeesInput } from '../insurance-types';
import { NotificationRejected, type OutboundCall } from '../types';
import { NhsaChannel, maskNhsaPayload, unitPriceYuan, type NhsaOptions } from './adapter';

/**
 * The adapter against the simulator on a random port with throwaway keys, and a tiny node:http receiver
 * standing in for our 6302 endpoint (it runs the adapter's parseNotification and answers its reply).
 */

const platform = sm2.generateKeyPairHex();
const hospital = sm2.generateKeyPairHex();
const APP = {
  appId: 'NHSATEST00000001ABCDEF0123456789',
  appSecret: 'TESTSECRET0000000000000000000001',
  orgCode: 'H11010500001',
};

let sim: NhsaSimulator;
let receiver: Server;
let notifyUrl: string;
const calls: OutboundCall[] = [];
const received: {
  ok: boolean;
  parsed?: ReturnType<NhsaChannel['parseNotification']>;
  error?: NotificationRejected;
}[] = [];

function options(over: Partial<NhsaOptions> = {}): NhsaOptions {
  return {
    ...APP,
    orgName: '沙箱第一人民医院',
    privateKeyHex: hospital.privateKey,
    platformPublicKeyHex: platform.publicKey,
    baseUrl: sim.url,
    authPageUrl: `${sim.url}/sim/nhsa/auth`,
    admdvs: '110100',
    timeoutMs: 3000,
    ...over,
  };
}
let channel: NhsaChannel;

async function control(path: string, body?: unknown) {
  const r = await fetch(`${sim.url}${path}`, {
    method: body === undefined ? 'GET' : 'POST',
    headers: { 'content-type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  return (await r.json()) as Record<string, any>;
}

async function waitFor<T>(what: () => T | undefined, ms = 5000): Promise<T> {
  const until = Date.now() + ms;
  for (;;) {
    const v = what();
    if (v !== undefined) return v;
    if (Date.now() > until) throw new Error('timed out waiting');
    await new Promise((r) => setTimeout(r, 20));
  }
}

async function authorized(psnNo = '11000000000000000001') {
  const { authCode } = await control('/sim/nhsa/authorize', { psnNo });
  const auth = await channel.authorize(authCode as string);
  expect(auth.result).toBe('SUCCESS');
  return { payAuthNo: auth.payAuthNo!, person: auth.person! };
}

let seq = 0;
const line = (category: string, amountFen: number, quantity = '1'): FeeDetail => ({
  feedetlSn: `L${++seq}`,
  hisBillNo: 'RX001',
  itemCode: `ITEM${category}`,
  itemName: `项目${category}`,
  category,
  quantity,
  amountFen,
});

function upload(
  auth: { payAuthNo: string; person: InsuredPerson },
  details: FeeDetail[],
  over: Partial<UploadFeesInput> = {},
): UploadFeesInput {
  return {
    orderNo: `P${Date.now()}${++seq}`,
    payAuthNo: auth.payAuthNo,
    person: auth.person,
    feeType: '01',
    medType: '11',
    visitNo: `V${seq}`,
    deptCode: 'A03',
    deptName: '内科',
    useAccount: true,
    details,
    totalFen: details.reduce((s, l) => s + l.amountFen, 0),
    beganAt: new Date(),
    ...over,
  };
}

async function settled(auth: { payAuthNo: string; person: InsuredPerson }, details: FeeDetail[]) {
  const input = upload(auth, details);
  const up = await channel.uploadFees(input);
  expect(up.result).toBe('SUCCESS');
  const s = await channel.settle({
    orderNo: input.orderNo,
    payOrdId: up.payOrdId!,
    payToken: up.payToken!,
    payAuthNo: auth.payAuthNo,
    person: auth.person,
    split: up.split!,
    notifyUrl,
    description: '门诊缴费',
  });
  return { input, up, s };
}

beforeAll(async () => {
  sim = await new NhsaSimulator({
    port: 0,
    platformPrivateKeyHex: platform.privateKey,
    apps: [{ ...APP, publicKeyHex: hospital.publicKey, orgName: '沙箱第一人民医院' }],
    notifyRetryDelaysMs: [50, 50, 100],
  }).start();
  channel = new NhsaChannel(options(), (c) => calls.push(c));
  receiver = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      let reply;
      try {
        const parsed = channel.parseNotification({}, Buffer.concat(chunks).toString('utf8'), new Date());
        received.push({ ok: true, parsed });
        reply = channel.notificationReply(true);
      } catch (e) {
        if (!(e instanceof NotificationRejected)) throw e;
        received.push({ ok: false, error: e });
        reply = channel.notificationReply(false, e.message);
      }
      res.writeHead(reply.status, { 'content-type': reply.contentType ?? 'text/plain' });
      res.end(reply.body);
    });
  });
  await new Promise<void>((r) => receiver.listen(0, '127.0.0.1', r));
  notifyUrl = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}/notify/nhsa`;
});

afterAll(async () => {
  await sim.close();
  receiver.closeAllConnections();
  await new Promise((r) => receiver.close(r));
});

describe('national insurance platform adapter against the simulator', () => {
  it('authorises, reads the balance, uploads (split), settles, is notified, queries, refunds HI in part then ALL', async () => {
    const auth = await authorized();
    const again = await channel.authorize(
      (await control('/sim/nhsa/authorize', { psnNo: auth.person.psnNo })).authCode as string,
    );
    expect(again.expiresAt!.getTime()).toBeGreaterThan(Date.now() + 3_500_000); // 2 h in the sandbox
    expect(auth.person).toMatchObject({
      psnNo: '11000000000000000001',
      name: '张三',
      insutype: '310',
      idType: '01',
    });
    expect(auth.person.idNo).toBe('110101198503120017');
    expect(await channel.queryBalance(auth.payAuthNo, auth.person)).toEqual({
      result: 'SUCCESS',
      balanceFen: 50_000,
    });

    // 西药费 70 %, 化验费 60 %, 其他费 0 % and not payable from the account.
    const details = [line('09', 10_000, '2'), line('04', 3_333), line('14', 1_500)];
    const { input, up, s } = await settled(auth, details);
    // fund ⌊(10000·70 + 3333·60)/100⌋ = 8999 (0.8 fen rounded to the patient); account ⌊(3000 + 1333.2)⌋ = 4333;
    // 其他费 and the rounding are cash: 14833 − 8999 − 4333 = 1501.
    expect(up.split).toEqual({
      totalFen: 14_833,
      fundFen: 8_999,
      psnAcctFen: 4_333,
      otherFen: 0,
      cashFen: 1_501,
    });
    expect(checkSplit(up.split!)).toBe(true);
    expect(up.extra).toMatchObject({
      payOrdId: up.payOrdId,
      preSetl: { hifp_payFen: 8_999, acct_payFen: 4_333 },
    });

    expect(s.result).toBe('SUCCESS');
    expect(s.settlement).toMatchObject({
      orderNo: input.orderNo,
      payOrdId: up.payOrdId,
      state: 'SETTLED',
      insuranceState: 'SETTLED',
      cashState: 'PENDING', // the hospital collects the cash part
      split: up.split,
      rawState: '4',
      orgCode: APP.orgCode,
      appId: APP.appId,
    });
    expect(s.settlement!.settlementId).toMatch(/^SETL/);
    expect(s.settlement!.settledAt).toBeInstanceOf(Date);

    const note = await waitFor(() => received.find((r) => r.parsed?.settlement.payOrdId === up.payOrdId));
    expect(note.parsed).toMatchObject({
      eventType: '6302',
      settlement: {
        orderNo: input.orderNo,
        state: 'SETTLED',
        split: up.split,
        settlementId: s.settlement!.settlementId,
      },
    });
    expect(note.parsed!.notifyId).toMatch(/^NT/);

    const q = await channel.querySettlement(input.orderNo, up.payOrdId);
    expect(q).toMatchObject({
      result: 'SUCCESS',
      settlement: { state: 'SETTLED', rawState: '4', split: up.split },
    });
    expect((await channel.queryBalance(auth.payAuthNo, auth.person)).balanceFen).toBe(50_000 - 4_333);

    const refund = (kind: 'ALL' | 'HI' | 'CASH', refundNo: string, parts: number[]) =>
      channel.refund({
        orderNo: input.orderNo,
        refundNo,
        payOrdId: up.payOrdId!,
        payAuthNo: auth.payAuthNo,
        kind,
        fundFen: parts[0]!,
        psnAcctFen: parts[1]!,
        otherFen: parts[2]!,
        cashFen: parts[3]!,
        reason: '退费',
        requestedAt: new Date(),
      });
    const hi = await refund('HI', `${input.orderNo}R1`, [1_000, 333, 0, 0]);
    expect(hi).toMatchObject({ result: 'SUCCESS', state: 'SUCCESS' });
    expect(hi.refundId).toMatch(/^RFD/);
    // The same refund again is the same refund (idempotent), not a second one.
    expect((await refund('HI', `${input.orderNo}R1`, [1_000, 333, 0, 0])).refundId).toBe(hi.refundId);
    expect((await channel.queryBalance(auth.payAuthNo, auth.person)).balanceFen).toBe(50_000 - 4_000);
    expect((await channel.querySettlement(input.orderNo, up.payOrdId)).settlement?.state).toBe('SETTLED');

    // ALL returns exactly what is left of every part.
    const all = await refund('ALL', `${input.orderNo}R2`, [7_999, 4_000, 0, 1_501]);
    expect(all).toMatchObject({ result: 'SUCCESS', state: 'SUCCESS' });
    expect(await channel.querySettlement(input.orderNo, up.payOrdId)).toMatchObject({
      result: 'SUCCESS',
      settlement: { state: 'REFUNDED', rawState: '7', insuranceState: 'REFUNDED', cashState: 'REFUNDED' },
    });
    expect((await channel.queryBalance(auth.payAuthNo, auth.person)).balanceFen).toBe(50_000);

    // The interface log has every call, and no ID number, name, token or secret in clear.
    const log = JSON.stringify(calls);
    for (const secret of [auth.person.idNo, '张三', auth.payAuthNo, up.payToken!, APP.appSecret])
      expect(log).not.toContain(secret);
    expect(calls.map((c) => c.operation)).toEqual(
      expect.arrayContaining([
        'authorize',
        'queryBalance',
        'uploadFees',
        'settle',
        'querySettlement',
        'refund',
      ]),
    );
    expect(calls.find((c) => c.operation === 'uploadFees')).toMatchObject({
      party: 'nhsa',
      result: 'SUCCESS',
      orderNo: input.orderNo,
      request: { data: { idNo: '110***********0017', userName: '张*', payAuthNo: '[REDACTED]' } },
    });
  });

  it('applies the categories: without the account the patient pays cash; 挂号费 gets nothing from the fund', async () => {
    const auth = await authorized();
    const up = await channel.uploadFees(
      upload(auth, [line('13', 500), line('12', 1_001)], { useAccount: false }),
    );
    // 一般诊疗费 80 %: ⌊800.8⌋ = 800; the rest (500 + 201) is cash.
    expect(up.split).toEqual({ totalFen: 1_501, fundFen: 800, psnAcctFen: 0, otherFen: 0, cashFen: 701 });
    // A subsidised person (王五, 20 %) and a deductible.
    const split = computeNhsaSplit(
      [
        { category: '09', amountFen: 20_000 },
        { category: '14', amountFen: 999 },
      ],
      {
        rules: { ...NHSA_DEFAULT_RULES, deductibleFen: 5_000 },
        useAccount: true,
        balanceFen: 1_000,
        subsidyRatePct: 20,
      },
    );
    // covered 15000 → fund 10500; subsidy 20 % of 4500 = 900; account 1000 (balance); cash the rest.
    expect(split).toEqual({
      totalFen: 20_999,
      fundFen: 10_500,
      psnAcctFen: 1_000,
      otherFen: 900,
      cashFen: 8_599,
    });
  });

  it('revokes an unsettled upload (6401), idempotently; a settled one cannot be revoked', async () => {
    const auth = await authorized();
    const input = upload(auth, [line('09', 2_000)]);
    const up = await channel.uploadFees(input);
    const revoke = () =>
      channel.revokeUpload({
        orderNo: input.orderNo,
        payOrdId: up.payOrdId!,
        payAuthNo: auth.payAuthNo,
        person: auth.person,
      });
    expect(await revoke()).toEqual({ result: 'SUCCESS' });
    expect(await revoke()).toEqual({ result: 'SUCCESS' });
    expect((await channel.querySettlement(input.orderNo, up.payOrdId)).settlement).toMatchObject({
      state: 'REFUNDED',
      rawState: '12',
    });
    const late = await channel.settle({
      orderNo: input.orderNo,
      payOrdId: up.payOrdId!,
      payToken: up.payToken!,
      payAuthNo: auth.payAuthNo,
      person: auth.person,
      split: up.split!,
      notifyUrl,
      description: '门诊缴费',
    });
    expect(late).toMatchObject({ result: 'FAIL', errorCode: '2004' });

    const done = await settled(auth, [line('09', 1_000)]);
    expect(done.s.result).toBe('SUCCESS');
    const r = await channel.revokeUpload({
      orderNo: done.input.orderNo,
      payOrdId: done.up.payOrdId!,
      payAuthNo: auth.payAuthNo,
      person: auth.person,
    });
    expect(r).toMatchObject({ result: 'FAIL', errorCode: '2004' });
    // Never uploaded: the platform does not know the order.
    expect(await channel.querySettlement('P-NEVER-UPLOADED')).toMatchObject({
      result: 'SUCCESS',
      settlement: { state: 'NOT_FOUND' },
    });
  });

  it('refuses to refund more than was settled', async () => {
    const auth = await authorized('44000000000000000003');
    const { input, up } = await settled(auth, [line('09', 10_000)]);
    const over = await channel.refund({
      orderNo: input.orderNo,
      refundNo: `${input.orderNo}R1`,
      payOrdId: up.payOrdId!,
      payAuthNo: auth.payAuthNo,
      kind: 'HI',
      fundFen: up.split!.fundFen + 1,
      psnAcctFen: 0,
      otherFen: 0,
      cashFen: 0,
      reason: '退费',
      requestedAt: new Date(),
    });
    expect(over).toMatchObject({ result: 'FAIL', errorCode: '2005' });
    // ALL must be exactly what is left; an HI refund carrying cash is refused before any call.
    const base = { orderNo: input.orderNo, payOrdId: up.payOrdId!, reason: '退费', requestedAt: new Date() };
    expect(
      await channel.refund({
        ...base,
        refundNo: `${input.orderNo}R2`,
        kind: 'ALL',
        fundFen: 1,
        psnAcctFen: 0,
        otherFen: 0,
        cashFen: 0,
      }),
    ).toMatchObject({ result: 'FAIL', errorCode: '2006' });
    expect(
      await channel.refund({
        ...base,
        refundNo: `${input.orderNo}R3`,
        kind: 'HI',
        fundFen: 1,
        psnAcctFen: 0,
        otherFen: 0,
        cashFen: 5,
      }),
    ).toMatchObject({ result: 'FAIL', errorCode: 'PARAM_ERROR' });
  });

  it('never trusts a reply whose signature does not verify: UNKNOWN, resolved by a query', async () => {
    const auth = await authorized();
    const input = upload(auth, [line('09', 3_000)]);
    const up = await channel.uploadFees(input);
    await control('/sim/nhsa/faults', { op: 'settle', fault: 'tamper_reply' });
    const s = await channel.settle({
      orderNo: input.orderNo,
      payOrdId: up.payOrdId!,
      payToken: up.payToken!,
      payAuthNo: auth.payAuthNo,
      person: auth.person,
      split: up.split!,
      notifyUrl,
      description: '门诊缴费',
    });
    expect(s).toMatchObject({ result: 'UNKNOWN', errorCode: 'REPLY_UNVERIFIED' });
    expect(s.settlement).toBeUndefined();
    expect(s.errorMessage).toMatch(/^signature/);
    // The platform did settle: the query says so.
    expect((await channel.querySettlement(input.orderNo, up.payOrdId)).settlement?.state).toBe('SETTLED');
    await control('/sim/nhsa/faults', { op: '6301', fault: 'tamper_reply' });
    expect(await channel.querySettlement(input.orderNo, up.payOrdId)).toMatchObject({
      result: 'UNKNOWN',
      errorCode: 'REPLY_UNVERIFIED',
    });
  });

  it('rejects a tampered notification (NotificationRejected) and accepts the genuine retry', async () => {
    const auth = await authorized();
    await control('/sim/nhsa/faults', { fault: 'tamper_notification' });
    const { up, s } = await settled(auth, [line('09', 4_000)]);
    expect(s.result).toBe('SUCCESS');
    const good = await waitFor(() => received.find((r) => r.parsed?.settlement.payOrdId === up.payOrdId));
    expect(good.parsed?.settlement.split).toEqual(up.split);
    // The simulator logs a delivery when our answer reaches it, just after the receiver saw the body.
    const tampered = await waitFor(() => {
      const mine = sim.deliveries.filter((d) => d.payOrdId === up.payOrdId);
      return mine.length >= 2 ? mine : undefined;
    });
    expect(tampered[0]).toMatchObject({ tampered: true, status: 500 });
    expect(tampered[1]).toMatchObject({ tampered: false, status: 200 });
    expect(received.some((r) => !r.ok && r.error?.reason === 'signature')).toBe(true);

    // Anything else that is not a genuine, fresh notification for us.
    expect(rejected(() => channel.parseNotification({}, 'not json', new Date())).reason).toBe('format');
    const body = await captureNotification(auth);
    expect(channel.parseNotification({}, body, new Date()).eventType).toBe('6302');
    expect(rejected(() => channel.parseNotification({}, body, new Date(Date.now() + 600_000))).reason).toBe(
      'timestamp',
    );
    const other = new NhsaChannel(options({ platformPublicKeyHex: sm2.generateKeyPairHex().publicKey }));
    expect(rejected(() => other.parseNotification({}, body, new Date())).reason).toBe('signature');
    const forOtherApp = new NhsaChannel(options({ appId: 'NHSAOTHERAPP0000ABCDEF0123456789' }));
    expect(rejected(() => forOtherApp.parseNotification({}, body, new Date())).reason).toBe('format');
  });

  it('drops the next notification when told to; a resend delivers it', async () => {
    const auth = await authorized();
    await control('/sim/nhsa/faults', { fault: 'drop_notification' });
    const { up, s } = await settled(auth, [line('11', 2_500)]);
    expect(s.result).toBe('SUCCESS');
    await new Promise((r) => setTimeout(r, 150));
    expect(sim.deliveries.filter((d) => d.payOrdId === up.payOrdId)).toHaveLength(0);
    expect(received.some((r) => r.parsed?.settlement.payOrdId === up.payOrdId)).toBe(false);
    expect(await control(`/sim/nhsa/orders/${up.payOrdId}/resend`, {})).toEqual({ status: 200 });
    const note = await waitFor(() => received.find((r) => r.parsed?.settlement.payOrdId === up.payOrdId));
    expect(note.parsed?.settlement.state).toBe('SETTLED');
  });

  it('is refused by the simulator when our signature is bad, and trusts no unsigned refusal', async () => {
    const wrongKey = new NhsaChannel(options({ privateKeyHex: sm2.generateKeyPairHex().privateKey }));
    expect(await wrongKey.authorize('0123456789abcdef')).toMatchObject({ result: 'FAIL', errorCode: '1002' });
    // An app the platform does not know gets an unsigned refusal: not believed, UNKNOWN.
    const unknownApp = new NhsaChannel(options({ appId: 'NHSAUNKNOWN00000ABCDEF0123456789' }));
    const r = await unknownApp.authorize('0123456789abcdef');
    expect(r).toMatchObject({ result: 'UNKNOWN', errorCode: 'REPLY_UNVERIFIED' });
    expect(r.errorMessage).toContain('1005');
  });

  it('refuses a split that does not add up (SPLIT_INCONSISTENT), from 6201 and from 6301', async () => {
    const auth = await authorized();
    await control('/sim/nhsa/faults', { op: 'upload', fault: 'bad_split' });
    const bad = await channel.uploadFees(upload(auth, [line('09', 900)]));
    expect(bad).toMatchObject({ result: 'FAIL', errorCode: 'SPLIT_INCONSISTENT' });
    expect(bad.split).toBeUndefined();
    const input = upload(auth, [line('09', 900)]);
    const up = await channel.uploadFees(input);
    expect(up.result).toBe('SUCCESS');
    await control('/sim/nhsa/faults', { op: 'query', fault: 'bad_split' });
    expect(await channel.querySettlement(input.orderNo, up.payOrdId)).toMatchObject({
      result: 'FAIL',
      errorCode: 'SPLIT_INCONSISTENT',
    });
  });

  it('a timeout, a dropped connection or a busy platform is UNKNOWN; nothing was settled', async () => {
    const fast = new NhsaChannel(options({ timeoutMs: 300 }));
    const auth = await authorized();
    const input = upload(auth, [line('09', 1_200)]);
    const up = await fast.uploadFees(input);
    const settle = () =>
      fast.settle({
        orderNo: input.orderNo,
        payOrdId: up.payOrdId!,
        payToken: up.payToken!,
        payAuthNo: auth.payAuthNo,
        person: auth.person,
        split: up.split!,
        notifyUrl,
        description: '门诊缴费',
      });
    await control('/sim/nhsa/faults', { op: 'settle', fault: 'timeout' });
    expect(await settle()).toMatchObject({ result: 'UNKNOWN', errorCode: 'TIMEOUT' });
    await control('/sim/nhsa/faults', { op: 'settle', fault: 'drop' });
    expect((await settle()).result).toBe('UNKNOWN');
    await control('/sim/nhsa/faults', { op: 'settle', fault: 'system_error' });
    expect(await settle()).toMatchObject({ result: 'UNKNOWN', errorCode: '5001' });
    await control('/sim/nhsa/faults', {
      op: 'settle',
      fault: 'fail',
      code: 2009,
      message: '个人账户余额不足',
    });
    expect(await settle()).toMatchObject({ result: 'FAIL', errorCode: '2009' });
    expect((await fast.querySettlement(input.orderNo, up.payOrdId)).settlement).toMatchObject({
      state: 'PENDING',
      rawState: '1',
    });
    expect((await settle()).result).toBe('SUCCESS');
  });

  it('queries and refunds an upload settled by a third party (settle-external)', async () => {
    const auth = await authorized();
    const input = upload(auth, [line('09', 5_000)], { useAccount: false });
    const up = await channel.uploadFees(input);
    const ext = await control(`/sim/nhsa/orders/${up.payOrdId}/settle-external`, { setlId: 'WXSETL001' });
    expect(ext.ordStas).toBe('6');
    const q = await channel.querySettlement(input.orderNo, up.payOrdId);
    expect(q.settlement).toMatchObject({
      state: 'SETTLED',
      settlementId: 'WXSETL001',
      cashState: 'PAID',
      split: up.split,
    });
    const r = await channel.refund({
      orderNo: input.orderNo,
      refundNo: `${input.orderNo}R1`,
      payOrdId: up.payOrdId!,
      kind: 'HI',
      fundFen: up.split!.fundFen,
      psnAcctFen: 0,
      otherFen: 0,
      cashFen: 0,
      reason: '退费',
      requestedAt: new Date(),
    });
    expect(r.result).toBe('SUCCESS');
    expect((await channel.querySettlement(input.orderNo, up.payOrdId)).settlement).toMatchObject({
      state: 'REFUNDED',
      rawState: '8',
    });
    expect((await control('/sim/nhsa/orders')).orders.length).toBeGreaterThan(0);
  });

  it('serves the authorisation page that returns authCode and state', async () => {
    const url = channel.authorizationPageUrl({ state: 'st-1', returnUrl: 'http://127.0.0.1:9/back?x=1' });
    expect(url.startsWith(`${sim.url}/sim/nhsa/auth?`)).toBe(true);
    const page = await (await fetch(url)).text();
    expect(page).toContain('授权');
    expect(page).toContain('张*');
    expect(page).not.toContain('110101198503120017');
    const form = new URLSearchParams({
      psnNo: '11000000000000000002',
      state: 'st-1',
      returnUrl: 'http://127.0.0.1:9/back?x=1',
      action: 'authorize',
    });
    const res = await fetch(`${sim.url}/sim/nhsa/auth`, { method: 'POST', body: form, redirect: 'manual' });
    expect(res.status).toBe(302);
    const back = new URL(res.headers.get('location')!);
    expect(back.searchParams.get('state')).toBe('st-1');
    expect(back.searchParams.get('x')).toBe('1');
    const auth = await channel.authorize(back.searchParams.get('authCode')!);
    expect(auth).toMatchObject({ result: 'SUCCESS', person: { name: '李四', insutype: '390' } });
    // An authCode is good once.
    expect(await channel.authorize(back.searchParams.get('authCode')!)).toMatchObject({
      result: 'FAIL',
      errorCode: '2001',
    });
  });
});

describe('national insurance adapter details', () => {
  it('says what to fix when the settings are wrong', () => {
    expect(
      () =>
        new NhsaChannel({
          appId: 'short',
          appSecret: 'x'.repeat(32),
          orgCode: '12345',
          orgName: '医院',
          privateKeyHex: hospital.privateKey,
          platformPublicKeyHex: `04${'0'.repeat(128)}`,
          baseUrl: 'https://nhsa.example/',
          authPageUrl: 'https://nhsa.example/auth',
          admdvs: '110100',
          timeoutMs: 1000,
        }),
    ).toThrow(
      /nhsa.*fix: appId .*orgCode is the 12-character institution code.*platformPublicKeyHex is not a point/,
    );
  });

  it('prices a line from its amount and quantity in integer arithmetic, and masks what it logs', () => {
    expect(unitPriceYuan(10_000, '2')).toBe('50.0000');
    expect(unitPriceYuan(1_000, '3')).toBe('3.3333');
    expect(unitPriceYuan(2_000, '0.3')).toBe('66.6667');
    expect(unitPriceYuan(1, '1')).toBe('0.0100');
    expect(unitPriceYuan(1_000, '0')).toBeUndefined();
    expect(unitPriceYuan(1_000, '-1')).toBeUndefined();
    expect(
      maskNhsaPayload({
        payAuthNo: 'A',
        payToken: 'T',
        idNo: '110101198503120017',
        userName: '张三',
        list: [{ psn_name: '李四' }],
      }),
    ).toEqual({
      payAuthNo: '[REDACTED]',
      payToken: '[REDACTED]',
      idNo: '110***********0017',
      userName: '张*',
      list: [{ psn_name: '李*' }],
    });
  });

  it('answers notifications with JSON code 0 [U]', () => {
    const ch = new NhsaChannel(options());
    expect(ch.notificationReply(true)).toEqual({
      status: 200,
      contentType: 'application/json',
      body: '{"code":0,"message":"success"}',
    });
    expect(ch.notificationReply(false, 'bad').status).toBe(500);
  });
});

function rejected(f: () => unknown): NotificationRejected {
  try {
    f();
  } catch (e) {
    if (e instanceof NotificationRejected) return e;
    throw e;
  }
  throw new Error('expected NotificationRejected');
}

/** Settles one more order and captures the genuine 6302 body our receiver got (re-sent through a probe). */
async function captureNotification(auth: { payAuthNo: string; person: InsuredPerson }): Promise<string> {
  let body = '';
  const probe = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      body = Buffer.concat(chunks).toString('utf8');
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end('{"code":0,"message":"success"}');
    });
  });
  await new Promise<void>((r) => probe.listen(0, '127.0.0.1', r));
  try {
    const input = upload(auth, [line('09', 700)]);
    const up = await channel.uploadFees(input);
    await channel.settle({
      orderNo: input.orderNo,
      payOrdId: up.payOrdId!,
      payToken: up.payToken!,
      payAuthNo: auth.payAuthNo,
      person: auth.person,
      split: up.split!,
      notifyUrl: `http://127.0.0.1:${(probe.address() as AddressInfo).port}/n`,
      description: '门诊缴费',
    });
    return await waitFor(() => body || undefined);
  } finally {
    probe.closeAllConnections();
    await new Promise((r) => probe.close(r));
  }
}
