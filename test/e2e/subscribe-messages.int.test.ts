import { and, eq, sql } from 'drizzle-orm';
import { patientMessages } from '../../bff/src/db/schema';
import { messageSends } from '../../bff/src/db/schema-credit';
import {
  SANDBOX_SUBSCRIBE_TEMPLATES,
  SANDBOX_WECHAT_APPS,
  WechatLoginSimulator,
} from '../../bff/src/sandbox/wechatpay/login';
import { startTestStack, waitFor, type TestStack } from '../support/platform';

/**
 * WeChat subscription messages (订阅消息): a patient message of a kind with a template, to a patient who logged in
 * with the mini-program, becomes a PENDING send and a job in the event's transaction; the job sends it through
 * WeChat's API (the simulator) and records SENT, SKIPPED (not subscribed, no retry) or FAILED.
 */
describe('WeChat subscription messages', () => {
  let s: TestStack;
  const user = '订阅用户A';
  const openId = WechatLoginSimulator.openIdOf(SANDBOX_WECHAT_APPS.miniProgram.appId, user);
  let wxToken: string;

  beforeAll(async () => {
    s = await startTestStack();
    const code = s.sandbox.wechat.login.issueCode(SANDBOX_WECHAT_APPS.miniProgram.appId, user);
    const r = await s.api('POST', '/api/patient/wx-login', { body: { code, hospitalCode: 'H001' } });
    expect(r.status).toBe(200);
    const bound = await s.api('POST', '/api/patient/cards', {
      token: r.body.token,
      body: { name: '张三', cardNo: '2026000101' },
    });
    expect(bound.status).toBe(201);
    const sw = await s.api('POST', `/api/patient/cards/${bound.body.id}/switch`, { token: r.body.token });
    expect(sw.status).toBe(200);
    wxToken = sw.body.token;
  });
  afterAll(async () => {
    await s?.stop();
  });

  /** Pushes a bill, pays it by QR, waits for PAID; returns the order id. */
  async function payBill(token: string, amountFen: number, patientId = 'P0001'): Promise<string> {
    const { billId } = await s.pushBill({ amountFen, patientId });
    const o = await s.api('POST', '/api/orders', {
      token,
      body: { billIds: [billId], channel: 'wechatpay', tradeType: 'NATIVE' },
    });
    expect(o.status).toBe(201);
    s.sandbox.wechat.pay(o.body.orderNo);
    await waitFor(
      async () =>
        ['PAID', 'SETTLED'].includes((await s.api('GET', `/api/orders/${o.body.id}`, { token })).body.status),
      15_000,
      'paid',
    );
    return o.body.id as string;
  }

  /** The send rows of the payment_succeeded message of an order. */
  async function sendsOf(orderId: string) {
    const db = s.platform.deps.db;
    return db
      .select({ send: messageSends })
      .from(messageSends)
      .innerJoin(patientMessages, eq(patientMessages.id, messageSends.messageId))
      .where(
        and(
          eq(patientMessages.kind, 'payment_succeeded'),
          sql`${patientMessages.refs}->>'orderId' = ${orderId}`,
        ),
      )
      .then((rows) => rows.map((r) => r.send));
  }

  const finalSend = (orderId: string) =>
    waitFor(
      async () => {
        const [row] = await sendsOf(orderId);
        return row && row.status !== 'PENDING' ? row : undefined;
      },
      15_000,
      'send final',
    );

  it('a paid bill sends the payment template with the amount in yuan', async () => {
    const orderId = await payBill(wxToken, 123456);
    const row = await finalSend(orderId);
    expect(row).toMatchObject({ channel: 'wechat_subscribe', status: 'SENT', attempts: 1, lastError: null });
    expect(row.sentAt).toBeInstanceOf(Date);
    const sent = s.sandbox.wechat.login.sent.filter(
      (m) => m.template_id === SANDBOX_SUBSCRIBE_TEMPLATES.payment_succeeded,
    );
    expect(sent).toHaveLength(1);
    expect(sent[0]).toMatchObject({
      appId: SANDBOX_WECHAT_APPS.miniProgram.appId,
      touser: openId,
      page: expect.stringContaining('packages/messages/index'),
      data: {
        thing1: { value: '缴费成功' },
        amount2: { value: '1234.56元' },
        time3: { value: expect.stringMatching(/^\d{4}-\d{2}-\d{2} \d{2}:\d{2}$/) },
      },
    });
  });

  it('not subscribed: SKIPPED after one try, never retried', async () => {
    const sim = s.sandbox.wechat.login;
    sim.unsubscribed.add(openId);
    try {
      const before = sim.sent.length;
      const orderId = await payBill(wxToken, 5);
      const row = await finalSend(orderId);
      expect(row).toMatchObject({ status: 'SKIPPED', attempts: 1, sentAt: null });
      expect(row.lastError).toContain('43101');
      await new Promise((r) => setTimeout(r, 2500));
      const [again] = await sendsOf(orderId);
      expect(again).toMatchObject({ status: 'SKIPPED', attempts: 1 });
      expect(sim.sent.length).toBe(before);
    } finally {
      sim.unsubscribed.delete(openId);
    }
  });

  it('an expired or revoked token is refreshed once and the message sent', async () => {
    const sim = s.sandbox.wechat.login;
    for (const spoil of [() => sim.expireTokens(), () => sim.revokeTokens()]) {
      spoil();
      const calls = sim.tokenCalls;
      const orderId = await payBill(wxToken, 1000);
      const row = await finalSend(orderId);
      expect(row).toMatchObject({ status: 'SENT', attempts: 1 });
      expect(sim.tokenCalls).toBeGreaterThan(calls);
      expect(sim.sent.at(-1)?.data.amount2).toEqual({ value: '10.00元' });
    }
  });

  it('system busy (-1) is retried by the job; bad data (47003) fails without retry', async () => {
    const sim = s.sandbox.wechat.login;
    sim.sendFaults = [-1];
    const busy = await payBill(wxToken, 7);
    const row = await finalSend(busy);
    expect(row).toMatchObject({ status: 'SENT', attempts: 2 });
    expect(sim.sent.at(-1)?.data.amount2).toEqual({ value: '0.07元' });

    sim.sendFaults = [47003];
    const bad = await payBill(wxToken, 8);
    const failed = await finalSend(bad);
    expect(failed).toMatchObject({ status: 'FAILED', attempts: 1 });
    expect(failed.lastError).toContain('47003');
  });

  it('a patient without a WeChat openid gets the message but no send', async () => {
    const token = await s.login('P0002');
    const orderId = await payBill(token, 300, 'P0002');
    const [msg] = await s.platform.deps.db
      .select()
      .from(patientMessages)
      .where(sql`${patientMessages.refs}->>'orderId' = ${orderId}`);
    expect(msg?.kind).toBe('payment_succeeded');
    expect(await sendsOf(orderId)).toEqual([]);
  });
});
