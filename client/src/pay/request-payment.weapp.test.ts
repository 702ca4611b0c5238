import Taro from '@tarojs/taro';
import { requestPayment } from './request-payment.weapp';
import type { PayHandOff } from './types';

const mocked = Taro as unknown as Record<'requestPayment' | 'showModal' | 'request', jest.Mock>;
const order = (pay: PayHandOff['order']['pay']): PayHandOff['order'] => ({
  id: 'ord_1',
  orderNo: '2026112300000001',
  amountFen: 2500,
  pay,
});
const jsapi = {
  appId: 'wx1',
  timeStamp: '17',
  nonceStr: 'n',
  package: 'prepay_id=p',
  signType: 'RSA',
  paySign: 's',
};

describe('mini-program payment hand-off', () => {
  beforeEach(() => jest.clearAllMocks());

  it('wx.requestPayment with the signed JSAPI parameters', async () => {
    mocked.requestPayment.mockResolvedValueOnce({ errMsg: 'requestPayment:ok' });
    expect(await requestPayment({ order: order({ jsapi }) })).toEqual({ outcome: 'submitted' });
    expect(mocked.requestPayment).toHaveBeenCalledWith({
      timeStamp: '17',
      nonceStr: 'n',
      package: 'prepay_id=p',
      signType: 'RSA',
      paySign: 's',
    });
  });

  it('tells a cancel from a failure', async () => {
    mocked.requestPayment.mockRejectedValueOnce({ errMsg: 'requestPayment:fail cancel' });
    expect((await requestPayment({ order: order({ jsapi }) })).outcome).toBe('cancelled');
    mocked.requestPayment.mockRejectedValueOnce({ errMsg: 'requestPayment:fail (detail message)' });
    expect(await requestPayment({ order: order({ jsapi }) })).toEqual({
      outcome: 'failed',
      message: 'requestPayment:fail (detail message)',
    });
  });

  it('sandbox: a modal stands in for the sheet and pays through the simulator', async () => {
    mocked.showModal.mockResolvedValueOnce({ confirm: true });
    mocked.request.mockResolvedValueOnce({ statusCode: 200, data: {} });
    const h = {
      order: order({ codeUrl: 'weixin://wxpay/bizpayurl?pr=x' }),
      sandboxWechatPayUrl: 'http://sim',
    };
    expect(await requestPayment(h)).toEqual({ outcome: 'submitted' });
    expect(mocked.showModal.mock.calls[0][0].content).toContain('¥25.00');
    expect(mocked.request).toHaveBeenCalledWith({
      url: 'http://sim/sim/wechatpay/orders/2026112300000001/pay',
      method: 'POST',
      data: {},
    });
    mocked.showModal.mockResolvedValueOnce({ confirm: false });
    expect(await requestPayment(h)).toEqual({ outcome: 'cancelled' });
    expect(mocked.request).toHaveBeenCalledTimes(1);
  });
});
