import type { InsuranceOrderView, OrderView } from '@hp/shared';

/** What the payment sheet is handed: the order as the bff created it (never an amount the client computed). */
export interface PayHandOff {
  order: Pick<OrderView, 'id' | 'orderNo' | 'amountFen' | 'pay'>;
  /** The demo: the WeChat Pay simulator stands in for the mini-program's payment sheet. */
  sandboxWechatPayUrl?: string;
  /** H5: where the channel's cashier page returns to (the result page of this order). */
  returnUrl?: string;
}

/**
 * What the payment sheet said — a hint for the result page, never the result: `submitted` (the sheet says
 * paid), `cancelled` (the patient closed it), `failed` (the sheet refused), `redirected` (H5: the browser is
 * leaving for the cashier page and comes back to `returnUrl`), `qr` (only a QR code to show).
 */
export interface PayResult {
  outcome: 'submitted' | 'cancelled' | 'failed' | 'redirected' | 'qr';
  message?: string;
}

/**
 * What WeChat's medical-insurance sheet (微信医保支付, one sheet for the insurance and the cash part) is handed:
 * the insurance order as the bff answered it, with the parameters it signed (`medicalInsurancePay`).
 */
export interface MedInsHandOff {
  order: Pick<InsuranceOrderView, 'orderId' | 'orderNo' | 'split' | 'medicalInsurancePay'>;
  /** The demo: the WeChat Pay simulator's control API stands in for the sheet. */
  sandboxWechatPayUrl?: string;
}
