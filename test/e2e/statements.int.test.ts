import { and, eq } from 'drizzle-orm';
import { orders, payments, refunds } from '../../bff/src/db/schema';
import type { StatementLine } from '../../bff/src/channels/types';
import { startTestStack, waitFor, type TestStack } from '../support/platform';

/**
 * Daily statements: orders paid and refunded through the sandbox, then the day's statement downloaded through
 * the registry's production adapter (signed call, verified reply, file checked and parsed) and compared with
 * our own payments and refunds, in fen.
 */
describe('daily statement download', () => {
  let s: TestStack;
  beforeAll(async () => {
    s = await startTestStack();
  });
  afterAll(async () => {
    await s?.stop();
  });

  /** Today in Beijing, the business day the simulators date everything by. */
  const today = () => new Date(Date.now() + 8 * 3600_000).toISOString().slice(0, 10);
  const orderRow = async (no: string) =>
    (await s.platform.deps.db.select().from(orders).where(eq(orders.orderNo, no)))[0]!;
  const adapter = async (hospital: 'hosp_h001' | 'hosp_h002', channel: string) =>
    (await s.platform.deps.channels.forHospital(hospital, channel)).adapter;

  /** A settled order paid through the simulator's "scan and pay". */
  async function paid(
    channel: 'wechatpay' | 'alipay',
    amountFen: number,
    hospital = 'H001',
    patient = 'P0001',
  ) {
    const token = await s.login(patient, hospital);
    const { billId } = await s.pushBill({ hospital, patientId: patient, amountFen });
    const r = await s.api('POST', '/api/orders', {
      token,
      body: { billIds: [billId], channel, tradeType: 'NATIVE' },
    });
    expect(r.status).toBe(201);
    if (channel === 'wechatpay') s.sandbox.wechat.pay(r.body.orderNo);
    else s.sandbox.alipay.settle(s.sandbox.alipay.orders.get(r.body.orderNo)!);
    await waitFor(async () => (await orderRow(r.body.orderNo)).status === 'SETTLED', 15_000, 'SETTLED');
    return r.body.orderNo as string;
  }
  let seq = 0;
  async function refund(orderNo: string, amountFen: number, hospital = 'H001') {
    const r = await s.his(
      'POST',
      '/open/v1/refunds',
      { orderNo, hisRefundNo: `HRS${Date.now()}${++seq}`, amountFen, reason: '退费' },
      hospital,
    );
    expect(r.status).toBe(200);
    await waitFor(
      async () => ['PARTIALLY_REFUNDED', 'REFUNDED'].includes((await orderRow(orderNo)).status),
      15_000,
      'refunded',
    );
  }

  /** Our own record of an account's day: paid payments and successful refunds, as statement lines would say. */
  async function ours(accountId: string) {
    const db = s.platform.deps.db;
    const pays = await db
      .select({
        orderNo: payments.outTradeNo,
        amountFen: payments.amountFen,
        tradeNo: payments.channelTradeNo,
      })
      .from(payments)
      .innerJoin(orders, eq(orders.id, payments.orderId))
      .where(and(eq(orders.merchantAccountId, accountId), eq(payments.status, 'SUCCESS')));
    const refs = await db
      .select({ orderNo: orders.orderNo, refundNo: refunds.refundNo, amountFen: refunds.amountFen })
      .from(refunds)
      .innerJoin(orders, eq(orders.id, refunds.orderId))
      .where(and(eq(orders.merchantAccountId, accountId), eq(refunds.status, 'SUCCESS')));
    return {
      payments: pays.map((p) => `${p.orderNo}:${p.tradeNo}:${p.amountFen}`).sort(),
      refunds: refs.map((r) => `${r.orderNo}:${r.refundNo}:${r.amountFen}`).sort(),
      paymentFen: pays.reduce((a, p) => a + p.amountFen, 0),
      refundFen: refs.reduce((a, r) => a + r.amountFen, 0),
    };
  }
  const view = (lines: StatementLine[]) => ({
    payments: lines
      .filter((l) => l.kind === 'PAYMENT')
      .map((l) => `${l.orderNo}:${l.channelTradeNo}:${l.amountFen}`)
      .sort(),
    refunds: lines
      .filter((l) => l.kind === 'REFUND')
      .map((l) => `${l.orderNo}:${l.refundNo}:${l.amountFen}`)
      .sort(),
  });
  /** 0.60 % per line, half up to the fen (the simulators' rule); refunds return their share. */
  const fee = (fen: number) => Math.floor((fen * 60 + 5000) / 10_000);

  it('WeChat Pay (direct merchant): the day’s ALL bill matches our payments and refunds, fees included', async () => {
    const a = await paid('wechatpay', 12850);
    const b = await paid('wechatpay', 2500);
    const c = await paid('wechatpay', 83);
    await refund(a, 5600);
    await refund(b, 2500);
    const st = await (await adapter('hosp_h001', 'wechatpay')).downloadStatement(today());
    expect(st.errorMessage).toBeUndefined();
    expect(st.result).toBe('SUCCESS');
    const mine = await ours('ma_h001_wechatpay');
    expect(view(st.lines!)).toEqual({ payments: mine.payments, refunds: mine.refunds });
    expect(mine.payments).toHaveLength(3);
    expect(mine.refunds).toHaveLength(2);
    expect(st.totals).toEqual({
      paymentCount: 3,
      paymentFen: 12850 + 2500 + 83,
      refundCount: 2,
      refundFen: 5600 + 2500,
      feeFen: fee(12850) + fee(2500) + fee(83) - fee(5600) - fee(2500),
    });
    expect(st.totals!.paymentFen).toBe(mine.paymentFen);
    expect(st.totals!.refundFen).toBe(mine.refundFen);
    expect(st.lines!.find((l) => l.orderNo === c)).toMatchObject({ feeFen: 0, mchId: '1900000001' });
    expect(st.rawFile!.subarray(0, 3)).toEqual(Buffer.from([0xef, 0xbb, 0xbf])); // kept exactly as downloaded
  });

  it('WeChat Pay (partner mode): the provider’s bill, only this sub-merchant’s lines', async () => {
    const p = await paid('wechatpay', 32000, 'H002', 'P1001');
    await refund(p, 2000, 'H002');
    const st = await (await adapter('hosp_h002', 'wechatpay')).downloadStatement(today());
    expect(st.result).toBe('SUCCESS');
    const mine = await ours('ma_h002_wechatpay');
    expect(view(st.lines!)).toEqual({ payments: mine.payments, refunds: mine.refunds });
    expect(st.lines!.every((l) => l.subMchId === s.sandbox.keys.hospitals.H002!.wechat.mchId)).toBe(true);
    expect(st.lines![0]!.mchId).toBe(s.sandbox.keys.wechatServiceProvider.mchId);
    expect(st.totals).toEqual({
      paymentCount: 1,
      paymentFen: 32000,
      refundCount: 1,
      refundFen: 2000,
      feeFen: fee(32000) - fee(2000),
    });
  });

  it('WeChat Pay: no bill, not yet generated, and a file that fails its hash', async () => {
    const wx = await adapter('hosp_h001', 'wechatpay');
    expect(await wx.downloadStatement('2020-01-01')).toMatchObject({
      result: 'FAIL',
      errorCode: 'NO_STATEMENT',
    });
    s.sandbox.wechat.injectFault('bill', 'not_ready');
    expect(await wx.downloadStatement(today())).toMatchObject({
      result: 'PENDING',
      errorCode: 'STATEMENT_CREATING',
    });
    s.sandbox.wechat.injectFault('bill', 'no_bill');
    expect(await wx.downloadStatement(today())).toMatchObject({ result: 'FAIL', errorCode: 'NO_STATEMENT' });
    s.sandbox.wechat.injectFault('bill', 'corrupt_bill');
    const bad = await wx.downloadStatement(today());
    expect(bad).toMatchObject({ result: 'FAIL', errorCode: 'STATEMENT_HASH_MISMATCH' });
    expect(bad.lines).toBeUndefined();
    expect(await wx.downloadStatement('2026-02-30')).toMatchObject({
      result: 'FAIL',
      errorCode: 'PARAM_ERROR',
    });
  });

  it('Alipay: the day’s zip of GBK CSVs matches our payments and refunds', async () => {
    const a = await paid('alipay', 12850);
    const b = await paid('alipay', 2600);
    await refund(a, 1234);
    await refund(b, 2600);
    const st = await (await adapter('hosp_h001', 'alipay')).downloadStatement(today());
    expect(st.errorMessage).toBeUndefined();
    expect(st.result).toBe('SUCCESS');
    const mine = await ours('ma_h001_alipay');
    expect(view(st.lines!)).toEqual({ payments: mine.payments, refunds: mine.refunds });
    expect(st.totals).toEqual({
      paymentCount: 2,
      paymentFen: 12850 + 2600,
      refundCount: 2,
      refundFen: 1234 + 2600,
      feeFen: fee(12850) + fee(2600) - fee(1234) - fee(2600),
    });
    expect(st.fileName).toMatch(/_业务明细\.csv$/);
  });

  it('Alipay: no bill for a past day, not yet generated for today, and a footer that disagrees', async () => {
    const ali = await adapter('hosp_h001', 'alipay');
    expect(await ali.downloadStatement('2020-01-01')).toMatchObject({
      result: 'FAIL',
      errorCode: 'NO_STATEMENT',
    });
    s.sandbox.alipay.injectBillFault('not_ready');
    expect(await ali.downloadStatement(today())).toMatchObject({
      result: 'PENDING',
      errorCode: 'STATEMENT_NOT_READY',
    });
    s.sandbox.alipay.injectBillFault('corrupt_bill');
    expect(await ali.downloadStatement(today())).toMatchObject({
      result: 'FAIL',
      errorCode: 'STATEMENT_INCONSISTENT',
    });
  });
});
