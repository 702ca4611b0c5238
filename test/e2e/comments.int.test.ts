import { eq, sql } from 'drizzle-orm';
import { orderComments, orders } from '../../bff/src/db/schema';
import { runCommentsPull } from '../../bff/src/modules/comments/pull-job';
import { listComments } from '../../bff/src/modules/comments/service';
import { startTestStack, waitFor, type TestStack } from '../support/platform';

/** WeChat Pay order comments (订单评价): left at the simulator, pulled by the job over the v2 API, listed. */
describe('WeChat Pay order comments pull', () => {
  let s: TestStack;
  let schedule: { cron: string; timezone: string }[];
  beforeAll(async () => {
    s = await startTestStack();
    // The hourly run is checked below, then taken off so a tick during the test cannot pull alongside it.
    schedule = (
      (await s.platform.deps.db.execute(
        sql`DELETE FROM pgboss.schedule WHERE name = 'comments-pull' RETURNING cron, timezone`,
      )) as unknown as { rows: { cron: string; timezone: string }[] }
    ).rows;
  });
  afterAll(async () => {
    await s?.stop();
  });

  const orderRow = async (no: string) =>
    (await s.platform.deps.db.select().from(orders).where(eq(orders.orderNo, no)))[0]!;
  async function paid(amountFen: number, hospital = 'H001', patient = 'P0001') {
    const token = await s.login(patient, hospital);
    const { billId } = await s.pushBill({ hospital, patientId: patient, amountFen });
    const r = await s.api('POST', '/api/orders', {
      token,
      body: { billIds: [billId], channel: 'wechatpay', tradeType: 'NATIVE' },
    });
    s.sandbox.wechat.pay(r.body.orderNo);
    await waitFor(async () => (await orderRow(r.body.orderNo)).status === 'SETTLED', 15_000, 'SETTLED');
    return orderRow(r.body.orderNo);
  }
  /** The patient comments through the simulator's control API. */
  async function comment(orderNo: string, stars: number, content: string, at?: string) {
    const res = await fetch(`${s.sandbox.wechat.url}/sim/wechatpay/orders/${orderNo}/comment`, {
      method: 'POST',
      body: JSON.stringify({ stars, content, at }),
    });
    expect(res.status).toBe(200);
  }
  const rows = () => s.platform.deps.db.select().from(orderComments).orderBy(orderComments.id);

  it('pulls a comment on our payment, linked to our order; a second pull adds nothing', async () => {
    const o = await paid(1800);
    const at = new Date(Date.now() - 3600_000);
    await comment(o.orderNo, 4, '医生很耐心，缴费也快, 点赞', at.toISOString());
    const first = await runCommentsPull(s.platform.deps, { accountIds: ['ma_h001_wechatpay'] });
    expect(first).toEqual({ accounts: 1, pulled: 1, inserted: 1, failed: 0 });
    const tx = s.sandbox.wechat.orders.get(o.orderNo)!.transaction_id!;
    expect(await rows()).toEqual([
      expect.objectContaining({
        hospitalId: 'hosp_h001',
        merchantAccountId: 'ma_h001_wechatpay',
        channel: 'wechatpay',
        channelTradeNo: tx,
        orderId: o.id,
        stars: 4,
        content: '医生很耐心，缴费也快, 点赞',
        commentedAt: new Date(Math.floor(at.getTime() / 1000) * 1000),
      }),
    ]);
    const again = await runCommentsPull(s.platform.deps, { accountIds: ['ma_h001_wechatpay'] });
    expect(again).toEqual({ accounts: 1, pulled: 1, inserted: 0, failed: 0 });
    expect(await rows()).toHaveLength(1);
  });

  it('pages through a window, pulls for a partner-mode sub-merchant, and lists with filters', async () => {
    const a = await paid(500);
    const b = await paid(600);
    const p = await paid(32000, 'H002', 'P1001');
    await comment(a.orderNo, 5, '好');
    await comment(b.orderNo, 1, '排队太久');
    await comment(p.orderNo, 3, '东院区一般');
    // Comments older than the window are not pulled.
    const old = await paid(700);
    await comment(old.orderNo, 2, '上周的', new Date(Date.now() - 3 * 86_400_000).toISOString());

    const r = await runCommentsPull(s.platform.deps, { pageSize: 1 });
    expect(r).toEqual({ accounts: 2, pulled: 4, inserted: 3, failed: 0 }); // the first test's comment again
    const all = await rows();
    expect(all).toHaveLength(4);
    expect(all.find((c) => c.orderId === p.id)).toMatchObject({
      hospitalId: 'hosp_h002',
      merchantAccountId: 'ma_h002_wechatpay',
      stars: 3,
    });
    expect(all.some((c) => c.orderId === old.id)).toBe(false);

    const h1 = await listComments(s.platform.deps.db, { hospitalId: 'hosp_h001', limit: 10, offset: 0 });
    expect(h1.total).toBe(3);
    expect(h1.items.map((c) => c.orderNo)).toEqual(expect.arrayContaining([a.orderNo, b.orderNo]));
    const low = await listComments(s.platform.deps.db, { stars: [1, 2], limit: 10, offset: 0 });
    expect(low.items.map((c) => [c.orderNo, c.stars, c.content])).toEqual([[b.orderNo, 1, '排队太久']]);
    const page = await listComments(s.platform.deps.db, { limit: 2, offset: 2 });
    expect(page).toMatchObject({ total: 4 });
    expect(page.items).toHaveLength(2);
    const none = await listComments(s.platform.deps.db, {
      from: new Date(Date.now() + 3600_000),
      limit: 10,
      offset: 0,
    });
    expect(none).toEqual({ items: [], total: 0 });
  });

  it('counts an account whose pull fails and leaves the rows alone; the hourly schedule is registered', async () => {
    s.sandbox.wechat.injectFault('comments', 'system_error');
    const r = await runCommentsPull(s.platform.deps, { accountIds: ['ma_h001_wechatpay'] });
    expect(r).toEqual({ accounts: 1, pulled: 0, inserted: 0, failed: 1 });
    expect(await rows()).toHaveLength(4);
    expect(schedule).toEqual([{ cron: '17 * * * *', timezone: 'Asia/Shanghai' }]);
  });
});
