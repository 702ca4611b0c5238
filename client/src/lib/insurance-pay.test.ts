import type { InsuranceOrderView } from '@hp/shared';
import { calls } from '../../test/taro';
import { requestMedicalInsurancePay } from '../pay/request-medical-insurance-pay';
import { requestPayment } from '../pay/request-payment';
import { ApiError } from './api';
import { api } from './app';
import { handOnInsuranceOrder, payInsuranceQuote } from './insurance-pay';

jest.mock('../pay/request-payment', () => ({ requestPayment: jest.fn() }));
jest.mock('../pay/request-medical-insurance-pay', () => ({ requestMedicalInsurancePay: jest.fn() }));
jest.mock('./app', () => ({ api: { get: jest.fn(), post: jest.fn() } }));

const pay = requestPayment as jest.Mock;
const medins = requestMedicalInsurancePay as jest.Mock;
const get = api.get as jest.Mock;
const post = api.post as jest.Mock;

const view = (o: Partial<InsuranceOrderView> = {}): InsuranceOrderView => ({
  orderId: 'ord_1',
  orderNo: '2026112300000001',
  status: 'PAYING',
  settlementStatus: 'SETTLED',
  settleChannel: 'nhsa',
  split: { totalFen: 6000, fundFen: 3600, psnAcctFen: 1000, otherFen: 0, cashFen: 1400 },
  expiresAt: '2026-11-23T01:00:00Z',
  pay: null,
  medicalInsurancePay: null,
  error: null,
  ...o,
});

describe('handing an insurance order on after 确认支付', () => {
  beforeEach(() => {
    jest.clearAllMocks();
    calls.navigate.length = 0;
  });

  it('the cash part goes to WeChat Pay for its own amount; back to the result page with the sheet’s hint', async () => {
    pay.mockResolvedValueOnce({ outcome: 'cancelled' });
    const p = { codeUrl: 'weixin://wxpay/bizpayurl?pr=x' };
    expect(await handOnInsuranceOrder(view({ pay: p }), 'http://sim')).toBeUndefined();
    expect(pay).toHaveBeenCalledWith({
      order: { id: 'ord_1', orderNo: '2026112300000001', amountFen: 1400, pay: p },
      sandboxWechatPayUrl: 'http://sim',
      returnUrl: undefined,
    });
    expect(calls.navigate).toEqual(['/packages/pay/result/index?id=ord_1&hint=cancelled']);
  });

  it('leaving for the cashier page: nothing more here', async () => {
    pay.mockResolvedValueOnce({ outcome: 'redirected' });
    await handOnInsuranceOrder(view({ pay: { h5Url: 'http://sim/cashier' } }), undefined);
    expect(calls.navigate).toEqual([]);
  });

  it('WeChat’s insurance sheet for wxmedins', async () => {
    medins.mockResolvedValueOnce({ outcome: 'submitted' });
    const v = view({
      settlementStatus: 'SETTLING',
      settleChannel: 'wxmedins',
      medicalInsurancePay: { mixTradeNo: 'M' },
    });
    await handOnInsuranceOrder(v, undefined);
    expect(medins).toHaveBeenCalledWith({ order: v, sandboxWechatPayUrl: undefined });
    expect(pay).not.toHaveBeenCalled();
    expect(calls.navigate).toEqual(['/packages/pay/result/index?id=ord_1&hint=submitted']);
  });

  it('paid at once (no cash part): the result page; failed: the page stays and offers self-pay', async () => {
    await handOnInsuranceOrder(view({ status: 'PAID', pay: null }), undefined);
    expect(calls.navigate).toEqual(['/packages/pay/result/index?id=ord_1&hint=submitted']);
    const stop = await handOnInsuranceOrder(
      view({ status: 'FAILED', settlementStatus: 'FAILED', error: '医保结算失败：2009' }),
      undefined,
    );
    expect(stop).toEqual({ message: '医保结算失败：2009', quoted: false, refused: true });
    expect(calls.navigate).toHaveLength(1);
  });

  it('a lost answer to 确认支付: the result page when the settlement started, else the error with the quote kept', async () => {
    post.mockRejectedValueOnce(new ApiError(0, 'network_error', 'timeout'));
    get.mockResolvedValueOnce(view({ settlementStatus: 'SETTLING' }));
    expect(await payInsuranceQuote('ord_1', undefined)).toBeUndefined();
    expect(post).toHaveBeenCalledWith('/api/insurance/orders/ord_1/pay');
    expect(calls.navigate).toEqual(['/packages/pay/result/index?id=ord_1']);

    post.mockRejectedValueOnce(new ApiError(409, 'order_not_payable', '报价已过期，请重新下单'));
    get.mockResolvedValueOnce(view({ status: 'CREATED', settlementStatus: 'QUOTED' }));
    expect(await payInsuranceQuote('ord_1', undefined)).toEqual({
      message: '报价已过期，请重新下单',
      quoted: true,
      refused: false,
    });
  });
});
