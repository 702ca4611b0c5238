import Taro from '@tarojs/taro';
import { yuanLabel } from '../lib/money';
import type { PayHandOff, PayResult } from './types';

/**
 * The mini-program's payment sheet: `wx.requestPayment` with the JSAPI parameters the bff signed. Its
 * success only means the sheet closed after paying — the result page asks the bff. In the sandbox (no real
 * WeChat behind the order) a modal stands in for the sheet and pays through the simulator's control API.
 * WeChat's medical-insurance sheet is request-medical-insurance-pay.weapp.ts; the cash part of an order the
 * national platform settled is paid here like any order.
 */
export async function requestPayment(h: PayHandOff): Promise<PayResult> {
  const pay = h.order.pay;
  if (pay?.jsapi) {
    const j = pay.jsapi;
    try {
      await Taro.requestPayment({
        timeStamp: j.timeStamp ?? '',
        nonceStr: j.nonceStr ?? '',
        package: j.package ?? '',
        signType: (j.signType ?? 'RSA') as 'RSA',
        paySign: j.paySign ?? '',
      });
      return { outcome: 'submitted' };
    } catch (e) {
      const msg = String((e as { errMsg?: string })?.errMsg ?? e);
      return /cancel/i.test(msg) ? { outcome: 'cancelled' } : { outcome: 'failed', message: msg };
    }
  }
  if (pay?.codeUrl && h.sandboxWechatPayUrl) {
    const { confirm } = await Taro.showModal({
      title: '沙箱支付',
      content: `模拟微信支付 ${yuanLabel(h.order.amountFen)}，确认支付？`,
      confirmText: '确认支付',
      cancelText: '取消',
    });
    if (!confirm) return { outcome: 'cancelled' };
    const res = await Taro.request({
      url: `${h.sandboxWechatPayUrl}/sim/wechatpay/orders/${encodeURIComponent(h.order.orderNo)}/pay`,
      method: 'POST',
      data: {},
    });
    return res.statusCode === 200 ? { outcome: 'submitted' } : { outcome: 'failed', message: '沙箱支付失败' };
  }
  return { outcome: 'failed', message: '该订单无法在小程序内支付' };
}
