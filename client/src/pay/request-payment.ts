import type { PayHandOff, PayResult } from './types';

/**
 * Hands the order to the platform's payment sheet. Taro picks `request-payment.weapp.ts` or
 * `request-payment.h5.ts` at build time; this file only answers for a platform without one.
 */
export async function requestPayment(_h: PayHandOff): Promise<PayResult> {
  return { outcome: 'failed', message: '当前平台不支持支付' };
}
