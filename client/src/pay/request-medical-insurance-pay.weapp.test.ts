import Taro from '@tarojs/taro';
import { requestMedicalInsurancePayWith, type WxMedIns } from './request-medical-insurance-pay.weapp';
import type { MedInsHandOff } from './types';

const mocked = Taro as unknown as Record<'showModal' | 'request', jest.Mock>;
const split = { totalFen: 6000, fundFen: 3600, psnAcctFen: 1000, otherFen: 0, cashFen: 1400 };
const order = (p: Record<string, string> | null): MedInsHandOff['order'] => ({
  orderId: 'ord_1',
  orderNo: '2026112300000001',
  split,
  medicalInsurancePay: p,
});
const signed = {
  appId: 'wx1',
  appid: 'wx1',
  mixTradeNo: 'MIX1',
  timeStamp: '17',
  nonceStr: 'n',
  package: 'prepay_id=p',
  signType: 'RSA',
  paySign: 's',
};
/** A `wx` whose requestMedicalInsurancePay answers through success or fail. */
const wx = (answer: { ok: true } | { errMsg: string }) => {
  const requestMedicalInsurancePay = jest.fn(
    (o: Parameters<NonNullable<WxMedIns['requestMedicalInsurancePay']>>[0]) =>
      'ok' in answer
        ? o.success?.({ errMsg: 'requestMedicalInsurancePay:ok' })
        : o.fail?.({ errMsg: answer.errMsg }),
  );
  return { requestMedicalInsurancePay };
};

describe('mini-program medical-insurance hand-off', () => {
  beforeEach(() => jest.clearAllMocks());

  it('wx.requestMedicalInsurancePay with the mixed order and the cash part’s signed JSAPI fields', async () => {
    const w = wx({ ok: true });
    expect(await requestMedicalInsurancePayWith(w, { order: order(signed) })).toEqual({
      outcome: 'submitted',
    });
    expect(w.requestMedicalInsurancePay).toHaveBeenCalledWith({
      mixTradeNo: 'MIX1',
      timeStamp: '17',
      nonceStr: 'n',
      package: 'prepay_id=p',
      signType: 'RSA',
      paySign: 's',
      success: expect.any(Function),
      fail: expect.any(Function),
    });
  });

  it('insurance only (no cash part): the mixed order alone', async () => {
    const w = wx({ ok: true });
    await requestMedicalInsurancePayWith(w, {
      order: order({ appId: 'wx1', appid: 'wx1', mixTradeNo: 'MIX2' }),
    });
    const arg = w.requestMedicalInsurancePay.mock.calls[0]![0] as unknown as Record<string, unknown>;
    expect(Object.keys(arg).sort()).toEqual(['fail', 'mixTradeNo', 'success']);
  });

  it('tells a cancel from a failure; an old WeChat without the API and missing parameters fail', async () => {
    expect(
      await requestMedicalInsurancePayWith(wx({ errMsg: 'requestMedicalInsurancePay:fail cancel' }), {
        order: order(signed),
      }),
    ).toEqual({ outcome: 'cancelled' });
    expect(
      await requestMedicalInsurancePayWith(
        wx({ errMsg: 'requestMedicalInsurancePay:fail 医保电子凭证未激活' }),
        {
          order: order(signed),
        },
      ),
    ).toEqual({ outcome: 'failed', message: 'requestMedicalInsurancePay:fail 医保电子凭证未激活' });
    expect((await requestMedicalInsurancePayWith({}, { order: order(signed) })).outcome).toBe('failed');
    expect((await requestMedicalInsurancePayWith(undefined, { order: order(signed) })).outcome).toBe(
      'failed',
    );
    expect((await requestMedicalInsurancePayWith(wx({ ok: true }), { order: order(null) })).outcome).toBe(
      'failed',
    );
  });

  it('sandbox: a modal with both parts stands in for the sheet and pays through the simulator', async () => {
    const w = wx({ ok: true });
    mocked.showModal.mockResolvedValueOnce({ confirm: true });
    mocked.request.mockResolvedValueOnce({ statusCode: 200, data: {} });
    const h = { order: order(signed), sandboxWechatPayUrl: 'http://sim' };
    expect(await requestMedicalInsurancePayWith(w, h)).toEqual({ outcome: 'submitted' });
    expect(mocked.showModal.mock.calls[0][0].content).toContain('¥60.00');
    expect(mocked.showModal.mock.calls[0][0].content).toContain('医保 ¥46.00');
    expect(mocked.showModal.mock.calls[0][0].content).toContain('现金 ¥14.00');
    expect(mocked.request).toHaveBeenCalledWith({
      url: 'http://sim/sim/wechatpay/med-ins/MIX1/pay',
      method: 'POST',
      data: {},
    });
    expect(w.requestMedicalInsurancePay).not.toHaveBeenCalled();
    mocked.showModal.mockResolvedValueOnce({ confirm: false });
    expect(await requestMedicalInsurancePayWith(w, h)).toEqual({ outcome: 'cancelled' });
    mocked.showModal.mockResolvedValueOnce({ confirm: true });
    mocked.request.mockResolvedValueOnce({ statusCode: 409, data: {} });
    expect((await requestMedicalInsurancePayWith(w, h)).outcome).toBe('failed');
  });
});
