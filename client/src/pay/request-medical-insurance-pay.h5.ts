import { wechatBridge, type H5Window } from './request-payment.h5';
import type { MedInsHandOff, PayResult } from './types';

/**
 * WeChat's insurance sheet in the official account's H5: `WeixinJSBridge.invoke('requestMedicalInsurancePay')`
 * with the parameters the bff signed (it reads `appid`). Outside WeChat there is no such sheet. Its success only
 * means the sheet closed — the page asks the order.
 */
export async function requestMedicalInsurancePayIn(w: H5Window, h: MedInsHandOff): Promise<PayResult> {
  const p = h.order.medicalInsurancePay;
  if (!p?.mixTradeNo) return { outcome: 'failed', message: '医保支付参数缺失，请稍后重试' };
  const b = await wechatBridge(w);
  if (!b) return { outcome: 'failed', message: '请在微信内打开以使用医保支付，或选择自费支付' };
  return new Promise((resolve) =>
    b.invoke('requestMedicalInsurancePay', p, (res) => {
      const m = res.err_msg ?? '';
      if (m.endsWith(':ok')) resolve({ outcome: 'submitted' });
      else if (m.endsWith(':cancel')) resolve({ outcome: 'cancelled' });
      else resolve({ outcome: 'failed', message: m || '医保支付未完成' });
    }),
  );
}

export function requestMedicalInsurancePay(h: MedInsHandOff): Promise<PayResult> {
  return requestMedicalInsurancePayIn(window as unknown as H5Window, h);
}
