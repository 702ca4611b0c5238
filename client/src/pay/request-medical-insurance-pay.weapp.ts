import Taro from '@tarojs/taro';
import { yuanLabel } from '../lib/money';
import type { MedInsHandOff, PayResult } from './types';

/** The parameters of `wx.requestMedicalInsurancePay`, as the bff signed them. */
interface MedInsPayParams {
  mixTradeNo: string;
  timeStamp?: string;
  nonceStr?: string;
  package?: string;
  signType?: string;
  paySign?: string;
}

/** The part of the mini-program's `wx` this needs (a parameter, so tests hand in their own). */
export interface WxMedIns {
  requestMedicalInsurancePay?(
    o: MedInsPayParams & {
      success?: (res: { errMsg?: string }) => void;
      fail?: (err: { errMsg?: string }) => void;
    },
  ): void;
}

// Taro does not wrap this API (it is not in its list of WeChat APIs): it is called on `wx` itself.
declare const wx: WxMedIns | undefined;

/**
 * WeChat's insurance sheet in the mini-program: `wx.requestMedicalInsurancePay` with the mixed order and, when
 * there is a cash part, its JSAPI fields. Its success only means the sheet closed — the page asks the order.
 * In the sandbox a modal stands in for the sheet and pays through the WeChat Pay simulator's control API.
 */
export async function requestMedicalInsurancePayWith(
  w: WxMedIns | undefined,
  h: MedInsHandOff,
): Promise<PayResult> {
  const p = h.order.medicalInsurancePay;
  if (!p?.mixTradeNo) return { outcome: 'failed', message: '医保支付参数缺失，请稍后重试' };
  if (h.sandboxWechatPayUrl) {
    const s = h.order.split;
    const { confirm } = await Taro.showModal({
      title: '沙箱医保支付',
      content: `模拟微信医保支付 ${yuanLabel(s.totalFen)}（医保 ${yuanLabel(
        s.fundFen + s.psnAcctFen + s.otherFen,
      )}，现金 ${yuanLabel(s.cashFen)}），确认支付？`,
      confirmText: '确认支付',
      cancelText: '取消',
    });
    if (!confirm) return { outcome: 'cancelled' };
    const res = await Taro.request({
      url: `${h.sandboxWechatPayUrl}/sim/wechatpay/med-ins/${encodeURIComponent(p.mixTradeNo)}/pay`,
      method: 'POST',
      data: {},
    });
    return res.statusCode === 200
      ? { outcome: 'submitted' }
      : { outcome: 'failed', message: '沙箱医保支付失败' };
  }
  if (!w?.requestMedicalInsurancePay)
    return { outcome: 'failed', message: '当前微信版本不支持医保支付，请升级微信或选择自费支付' };
  const params: MedInsPayParams = { mixTradeNo: p.mixTradeNo };
  // Insurance only (no cash part): the mixed order alone; with a cash part, its prepay's signed JSAPI fields.
  for (const k of ['timeStamp', 'nonceStr', 'package', 'signType', 'paySign'] as const)
    if (p[k]) params[k] = p[k];
  return new Promise((resolve) =>
    w.requestMedicalInsurancePay!({
      ...params,
      success: () => resolve({ outcome: 'submitted' }),
      fail: (err) => {
        const msg = String(err?.errMsg ?? 'requestMedicalInsurancePay:fail');
        resolve(/cancel/i.test(msg) ? { outcome: 'cancelled' } : { outcome: 'failed', message: msg });
      },
    }),
  );
}

export function requestMedicalInsurancePay(h: MedInsHandOff): Promise<PayResult> {
  return requestMedicalInsurancePayWith(typeof wx === 'undefined' ? undefined : wx, h);
}
