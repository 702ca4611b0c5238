import { requestMedicalInsurancePayIn } from './request-medical-insurance-pay.h5';
import type { H5Window } from './request-payment.h5';
import type { MedInsHandOff } from './types';

const params = {
  appId: 'wx1',
  appid: 'wx1',
  mixTradeNo: 'MIX1',
  timeStamp: '17',
  nonceStr: 'n',
  package: 'prepay_id=p',
  signType: 'RSA',
  paySign: 's',
};
const order = (p: Record<string, string> | null): MedInsHandOff['order'] => ({
  orderId: 'ord_1',
  orderNo: '2026112300000001',
  split: { totalFen: 6000, fundFen: 3600, psnAcctFen: 1000, otherFen: 0, cashFen: 1400 },
  medicalInsurancePay: p,
});

describe('H5 medical-insurance hand-off', () => {
  it.each([
    ['requestMedicalInsurancePay:ok', 'submitted'],
    ['requestMedicalInsurancePay:cancel', 'cancelled'],
    ['requestMedicalInsurancePay:fail', 'failed'],
  ])('inside WeChat: WeixinJSBridge %s → %s (a hint; the result page asks the bff)', async (msg, outcome) => {
    const invoke = jest.fn(
      (_api: string, _p: Record<string, string>, cb: (r: { err_msg?: string }) => void) =>
        cb({ err_msg: msg }),
    );
    const w: H5Window = { WeixinJSBridge: { invoke }, location: { assign: jest.fn() } };
    expect((await requestMedicalInsurancePayIn(w, { order: order(params) })).outcome).toBe(outcome);
    // The parameters as the bff signed them (the official account reads `appid`).
    expect(invoke).toHaveBeenCalledWith('requestMedicalInsurancePay', params, expect.any(Function));
  });

  it('waits for the bridge to arrive', async () => {
    const listeners: Record<string, () => void> = {};
    const w: H5Window = {
      location: { assign: jest.fn() },
      document: { addEventListener: (t, fn) => void (listeners[t] = fn) },
    };
    const p = requestMedicalInsurancePayIn(w, { order: order(params) });
    w.WeixinJSBridge = { invoke: (_a, _p, cb) => cb({ err_msg: 'requestMedicalInsurancePay:ok' }) };
    await Promise.resolve();
    listeners.WeixinJSBridgeReady!();
    await expect(p).resolves.toEqual({ outcome: 'submitted' });
  });

  it('outside WeChat, or without parameters: fails with a message, nothing opened', async () => {
    const assign = jest.fn();
    const r = await requestMedicalInsurancePayIn({ location: { assign } }, { order: order(params) });
    expect(r).toEqual({ outcome: 'failed', message: expect.stringContaining('微信内') });
    expect(
      (await requestMedicalInsurancePayIn({ location: { assign } }, { order: order(null) })).outcome,
    ).toBe('failed');
    expect(assign).not.toHaveBeenCalled();
  });
});
