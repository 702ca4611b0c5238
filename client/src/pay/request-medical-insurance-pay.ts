import type { MedInsHandOff, PayResult } from './types';

/**
 * Hands an insurance order to WeChat's medical-insurance sheet (the insurance and the cash part in one sheet).
 * Taro picks `request-medical-insurance-pay.weapp.ts` or `.h5.ts` at build time; this file only answers for a
 * platform without one. As with {@link requestPayment}, the answer is a hint: the order is asked for the result.
 */
export async function requestMedicalInsurancePay(_h: MedInsHandOff): Promise<PayResult> {
  return { outcome: 'failed', message: '当前平台不支持医保支付' };
}
