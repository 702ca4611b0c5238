import { requestPaymentIn, withRedirect, type H5Window } from './request-payment.h5';
import type { PayHandOff } from './types';

const order = (pay: PayHandOff['order']['pay']): PayHandOff['order'] => ({
  id: 'ord_1',
  orderNo: '2026112300000001',
  amountFen: 12850,
  pay,
});

describe('H5 payment hand-off', () => {
  const jsapi = {
    appId: 'wx1',
    timeStamp: '1',
    nonceStr: 'n',
    package: 'prepay_id=p',
    signType: 'RSA',
    paySign: 's',
  };

  it.each([
    ['get_brand_wcpay_request:ok', 'submitted'],
    ['get_brand_wcpay_request:cancel', 'cancelled'],
    ['get_brand_wcpay_request:fail', 'failed'],
  ])(
    'inside WeChat: WeixinJSBridge %s → %s (a hint; the result page still asks the bff)',
    async (msg, outcome) => {
      const invoke = jest.fn(
        (_api: string, _p: Record<string, string>, cb: (r: { err_msg?: string }) => void) =>
          cb({ err_msg: msg }),
      );
      const w: H5Window = { WeixinJSBridge: { invoke }, location: { assign: jest.fn() } };
      const r = await requestPaymentIn(w, { order: order({ jsapi }) });
      expect(r.outcome).toBe(outcome);
      expect(invoke).toHaveBeenCalledWith('getBrandWCPayRequest', jsapi, expect.any(Function));
    },
  );

  it('waits for the bridge to arrive', async () => {
    const listeners: Record<string, () => void> = {};
    const w: H5Window = {
      location: { assign: jest.fn() },
      document: { addEventListener: (t, fn) => void (listeners[t] = fn) },
    };
    const p = requestPaymentIn(w, { order: order({ jsapi }) });
    w.WeixinJSBridge = { invoke: (_a, _p, cb) => cb({ err_msg: 'get_brand_wcpay_request:ok' }) };
    listeners.WeixinJSBridgeReady!();
    await expect(p).resolves.toEqual({ outcome: 'submitted' });
  });

  it('H5 cashier (WeChat H5 pay, the bank, the sandbox): leaves for it with the result page as redirect_url', async () => {
    const assign = jest.fn();
    const r = await requestPaymentIn(
      { location: { assign } },
      {
        order: order({ h5Url: 'http://127.0.0.1:4101/sim/cashier/wechatpay/2026112300000001' }),
        returnUrl: 'http://127.0.0.1:3000/h5/result?id=ord_1&from=cashier',
      },
    );
    expect(r.outcome).toBe('redirected');
    expect(assign).toHaveBeenCalledWith(
      'http://127.0.0.1:4101/sim/cashier/wechatpay/2026112300000001?redirect_url=' +
        encodeURIComponent('http://127.0.0.1:3000/h5/result?id=ord_1&from=cashier'),
    );
    expect(
      withRedirect('https://wx.tenpay.com/cgi-bin/mmpayweb-bin/checkmweb?prepay_id=x', 'https://h/r'),
    ).toBe(
      'https://wx.tenpay.com/cgi-bin/mmpayweb-bin/checkmweb?prepay_id=x&redirect_url=https%3A%2F%2Fh%2Fr',
    );
  });

  it('JSAPI outside WeChat (no bridge) falls back to the H5 URL when there is one, else fails', async () => {
    const assign = jest.fn();
    const r = await requestPaymentIn({ location: { assign } }, { order: order({ jsapi }) });
    expect(r.outcome).toBe('failed');
    expect(
      (await requestPaymentIn({ location: { assign } }, { order: order({ codeUrl: 'weixin://x' }) })).outcome,
    ).toBe('qr');
    expect((await requestPaymentIn({ location: { assign } }, { order: order(null) })).outcome).toBe('failed');
  });
});
