import type { InsuranceOrderView, InsuranceStatus } from '@hp/shared';
import type { PayOption } from '../pay/options';
import { ApiError } from './api';
import {
  authReturn,
  insuranceMessage,
  insuranceOffer,
  insutypeText,
  nextPayStep,
  queryOf,
  quoteFailure,
  splitCard,
  subscribeTemplateIds,
} from './insurance';

const status = (o: Partial<InsuranceStatus> = {}): InsuranceStatus => ({
  available: true,
  authorized: false,
  nameMasked: null,
  idNoMasked: null,
  insutype: null,
  expiresAt: null,
  settleChannels: ['nhsa', 'wxmedins'],
  ...o,
});
const option = (channel: PayOption['channel'], tradeType: PayOption['tradeType']): PayOption => ({
  channel,
  tradeType,
  label: channel,
  hint: '',
});
const view = (o: Partial<InsuranceOrderView> = {}): InsuranceOrderView => ({
  orderId: 'ord_1',
  orderNo: '2026112300000001',
  status: 'CREATED',
  settlementStatus: 'QUOTED',
  settleChannel: 'nhsa',
  split: { totalFen: 6000, fundFen: 3600, psnAcctFen: 1000, otherFen: 0, cashFen: 1400 },
  expiresAt: '2026-11-23T01:00:00Z',
  pay: null,
  medicalInsurancePay: null,
  error: null,
  ...o,
});

describe('医保支付 at checkout: whether and how it is offered', () => {
  const weapp = { surface: 'weapp' as const, hasOpenId: true };

  it('not offered when the hospital has no insurance, the status is unknown, or the cash part cannot be paid', () => {
    expect(insuranceOffer(undefined, [option('wechatpay', 'H5')], weapp)).toEqual({ kind: 'none' });
    expect(
      insuranceOffer(status({ available: false }), [option('wechatpay', 'H5')], {
        surface: 'h5-browser',
        hasOpenId: false,
      }),
    ).toEqual({ kind: 'none' });
    // Only the bank's cashier here: nothing would collect the cash part.
    expect(
      insuranceOffer(status(), [option('bankpay', 'H5')], { surface: 'h5-browser', hasOpenId: false }),
    ).toEqual({ kind: 'none' });
  });

  it('not authorised: the authorisation prompt', () => {
    expect(
      insuranceOffer(status(), [option('wechatpay', 'H5'), option('bankpay', 'H5')], {
        surface: 'h5-browser',
        hasOpenId: false,
      }),
    ).toEqual({ kind: 'authorize' });
  });

  it('authorised: the cash part in the surface’s WeChat Pay way; WeChat’s insurance pay with JSAPI and an openid', () => {
    const ok = status({ authorized: true });
    expect(insuranceOffer(ok, [option('wechatpay', 'JSAPI')], weapp)).toEqual({
      kind: 'ready',
      tradeType: 'JSAPI',
      settleChannel: 'wxmedins',
    });
    // The hospital without WeChat's insurance pay: the national platform settles.
    expect(
      insuranceOffer(
        status({ authorized: true, settleChannels: ['nhsa'] }),
        [option('wechatpay', 'JSAPI')],
        weapp,
      ),
    ).toMatchObject({ settleChannel: 'nhsa' });
    // The sandbox mini-program without a WeChat login pays on the simulator's sheet (NATIVE): nhsa.
    expect(
      insuranceOffer(ok, [option('wechatpay', 'NATIVE')], { surface: 'weapp', hasOpenId: false }),
    ).toEqual({
      kind: 'ready',
      tradeType: 'NATIVE',
      settleChannel: 'nhsa',
    });
    expect(
      insuranceOffer(ok, [option('wechatpay', 'H5'), option('bankpay', 'H5')], {
        surface: 'h5-browser',
        hasOpenId: false,
      }),
    ).toEqual({ kind: 'ready', tradeType: 'H5', settleChannel: 'nhsa' });
    expect(
      insuranceOffer(ok, [option('wechatpay', 'NATIVE'), option('alipay', 'NATIVE')], {
        surface: 'h5-desktop',
        hasOpenId: false,
      }),
    ).toMatchObject({ tradeType: 'NATIVE', settleChannel: 'nhsa' });
    expect(
      insuranceOffer(ok, [option('wechatpay', 'JSAPI')], { surface: 'h5-wechat', hasOpenId: true }),
    ).toMatchObject({ tradeType: 'JSAPI', settleChannel: 'wxmedins' });
  });
});

describe('insurance errors', () => {
  const err = (code: string, message: string, status = 422) => new ApiError(status, code, message);

  it('the server’s own message for the insurance codes; the generic one otherwise', () => {
    expect(
      insuranceMessage(err('insurance_refused', '医保费用上传失败：参保人状态异常；可选择自费支付')),
    ).toBe('医保费用上传失败：参保人状态异常；可选择自费支付');
    expect(insuranceMessage(err('name_mismatch', '医保授权人与就诊人不一致：请为就诊人本人授权'))).toContain(
      '就诊人本人',
    );
    // An English message (for developers) is not shown to a patient.
    expect(insuranceMessage(err('insurance_refused', 'refused'))).toBe(
      '医保平台未受理本次结算，可选择自费支付',
    );
    expect(insuranceMessage(err('bad_request', 'WeChat insurance pay needs the mini-program', 400))).toBe(
      '请求失败（bad_request），请稍后重试',
    );
    expect(insuranceMessage(new Error('x'))).toBe('网络异常，请检查网络后重试');
  });

  it('a failed quote: authorise again, fall back to self-pay, or try again', () => {
    expect(quoteFailure(err('insurance_not_authorized', '尚未授权使用医保（或授权已过期）', 403))).toEqual({
      kind: 'authorize',
      message: '尚未授权使用医保（或授权已过期）',
    });
    expect(quoteFailure(err('insurance_refused', '医保费用上传失败：x；可选择自费支付')).kind).toBe(
      'refused',
    );
    expect(quoteFailure(err('name_mismatch', '医保授权人与就诊人不一致')).kind).toBe('refused');
    expect(quoteFailure(err('channel_unavailable', '医保平台暂未响应，请稍后重试', 503))).toEqual({
      kind: 'error',
      message: '医保平台暂未响应，请稍后重试',
    });
    expect(quoteFailure(err('bill_locked', 'locked', 409))).toEqual({
      kind: 'error',
      message: '账单正在支付中，请在订单中继续支付',
    });
  });
});

describe('after 确认支付: what the order says to do next', () => {
  it('nhsa settled with a cash part: the WeChat Pay hand-off of the cash amount (never the total)', () => {
    const pay = { h5Url: 'http://sim/cashier' };
    expect(nextPayStep(view({ status: 'PAYING', settlementStatus: 'SETTLED', pay }))).toEqual({
      kind: 'cash',
      order: { id: 'ord_1', orderNo: '2026112300000001', amountFen: 1400, pay },
    });
  });

  it('no cash part, already paid, or still settling without a sheet: the result page', () => {
    const none = { totalFen: 1000, fundFen: 800, psnAcctFen: 200, otherFen: 0, cashFen: 0 };
    expect(nextPayStep(view({ status: 'PAID', settlementStatus: 'SETTLED', split: none }))).toEqual({
      kind: 'result',
    });
    expect(nextPayStep(view({ status: 'PAYING', settlementStatus: 'SETTLING' }))).toEqual({ kind: 'result' });
    // The cash prepay did not come (the bff's query job settles it): nothing to hand over.
    expect(nextPayStep(view({ status: 'PAYING', settlementStatus: 'SETTLED', pay: null }))).toEqual({
      kind: 'result',
    });
  });

  it('wxmedins: WeChat’s insurance sheet', () => {
    expect(
      nextPayStep(
        view({
          status: 'PAYING',
          settlementStatus: 'SETTLING',
          settleChannel: 'wxmedins',
          medicalInsurancePay: { mixTradeNo: 'mix1', paySign: 's' },
        }),
      ),
    ).toEqual({ kind: 'medins' });
  });

  it('the insurance part failed: the platform’s words, and self-pay', () => {
    expect(
      nextPayStep(
        view({ status: 'FAILED', settlementStatus: 'FAILED', error: '医保结算失败：2009 个人账户余额不足' }),
      ),
    ).toEqual({ kind: 'failed', message: '医保结算失败：2009 个人账户余额不足' });
    expect(nextPayStep(view({ status: 'FAILED', settlementStatus: 'SETTLED' }))).toMatchObject({
      kind: 'failed',
      message: expect.stringContaining('自费支付'),
    });
  });
});

describe('the split card', () => {
  it('医保统筹 / 个人账户 / 其他 / 个人自付 and the total, in yuan from fen without floats', () => {
    const c = splitCard({ totalFen: 6000, fundFen: 3600, psnAcctFen: 1000, otherFen: 0, cashFen: 1400 });
    expect(c.lines.map((l) => [l.label, l.text])).toEqual([
      ['医保统筹', '¥36.00'],
      ['个人账户', '¥10.00'],
      ['其他', '¥0.00'],
      ['个人自付（现金）', '¥14.00'],
    ]);
    expect(c).toMatchObject({ total: '¥60.00', insurance: '¥46.00', cash: '¥14.00', consistent: true });
  });

  it('amounts a float would get wrong stay exact; parts that do not add up are flagged', () => {
    // 0.1 + 0.2 style: 10 + 20 fen.
    const c = splitCard({ totalFen: 123457, fundFen: 10, psnAcctFen: 20, otherFen: 123_400, cashFen: 27 });
    expect(c).toMatchObject({ total: '¥1,234.57', insurance: '¥1,234.30', consistent: true });
    expect(
      splitCard({ totalFen: 100, fundFen: 50, psnAcctFen: 0, otherFen: 0, cashFen: 49 }).consistent,
    ).toBe(false);
  });

  it('险种 names', () => {
    expect(insutypeText('310')).toBe('职工基本医疗保险');
    expect(insutypeText('390')).toBe('城乡居民基本医疗保险');
    expect(insutypeText('999')).toBe('险种 999');
    expect(insutypeText(null)).toBe('');
  });
});

describe('the authorisation page’s return', () => {
  it('an authCode with our state; a cancel; anything else refused', () => {
    expect(authReturn({ authCode: 'AC1', state: 'ias_1' }, 'ias_1')).toEqual({
      kind: 'code',
      authCode: 'AC1',
    });
    expect(authReturn({ error: 'cancelled', state: 'ias_1' }, 'ias_1')).toEqual({ kind: 'cancelled' });
    expect(authReturn({ authCode: 'AC1', state: 'ias_2' }, 'ias_1').kind).toBe('invalid');
    expect(authReturn({ authCode: 'AC1', state: 'ias_1' }, undefined).kind).toBe('invalid');
    expect(authReturn({ state: 'ias_1' }, 'ias_1').kind).toBe('invalid');
    expect(authReturn({ error: 'denied' }, 'ias_1')).toEqual({
      kind: 'invalid',
      message: '医保授权未完成（denied）',
    });
  });

  it('reads the query of the return address (the web-view’s src)', () => {
    expect(
      queryOf('http://127.0.0.1:3000/h5/insurance/return?via=weapp&state=ias_1&authCode=a%2Bb%3D&x#frag'),
    ).toEqual({ via: 'weapp', state: 'ias_1', authCode: 'a+b=', x: '' });
    expect(queryOf('http://h/p')).toEqual({});
    expect(queryOf('http://h/p?bad=%E0%A4%A')).toEqual({ bad: '%E0%A4%A' });
  });
});

describe('subscription consent before paying', () => {
  it('the payment and refund templates first, at most three, none when the bff sends none', () => {
    expect(
      subscribeTemplateIds({
        credit_debit_failed: 't-credit',
        refund_done: 't-refund',
        payment_succeeded: 't-pay',
        deposit_paid: 't-deposit',
        settlement_refunded: 't-settle',
      }),
    ).toEqual(['t-pay', 't-refund', 't-deposit']);
    expect(subscribeTemplateIds({ payment_succeeded: 't', refund_done: 't' })).toEqual(['t']);
    expect(subscribeTemplateIds(undefined)).toEqual([]);
    expect(subscribeTemplateIds({})).toEqual([]);
  });
});
