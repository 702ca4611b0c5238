import Taro from '@tarojs/taro';
import { askSubscribe, insuranceReturnUrl, openInsuranceAuthPage } from './index.weapp';

const mocked = Taro as unknown as Record<'requestSubscribeMessage' | 'navigateTo', jest.Mock>;

describe('mini-program platform: subscription consent and the insurance authorisation page', () => {
  beforeEach(() => jest.clearAllMocks());

  it('asks consent for the templates; a refusal or an error never stops the payment', async () => {
    await askSubscribe(['t-pay', 't-refund']);
    expect(mocked.requestSubscribeMessage).toHaveBeenCalledWith({ tmplIds: ['t-pay', 't-refund'] });
    mocked.requestSubscribeMessage.mockRejectedValueOnce({ errMsg: 'requestSubscribeMessage:fail 20004' });
    await expect(askSubscribe(['t-pay'])).resolves.toBeUndefined();
    mocked.requestSubscribeMessage.mockResolvedValueOnce({
      errMsg: 'requestSubscribeMessage:ok',
      't-pay': 'reject',
    });
    await expect(askSubscribe(['t-pay'])).resolves.toBeUndefined();
  });

  it('no templates: WeChat is not asked', async () => {
    await askSubscribe([]);
    expect(mocked.requestSubscribeMessage).not.toHaveBeenCalled();
  });

  it('the authorisation page opens in the web-view page and returns to the bff’s H5 (marked for the web-view)', async () => {
    await openInsuranceAuthPage('http://127.0.0.1:4300/sim/nhsa/auth?state=s&returnUrl=x');
    expect(mocked.navigateTo).toHaveBeenCalledWith({
      url: `/packages/insurance/auth?url=${encodeURIComponent('http://127.0.0.1:4300/sim/nhsa/auth?state=s&returnUrl=x')}`,
    });
    expect(insuranceReturnUrl()).toBe('/h5/insurance/return?via=weapp');
  });
});
