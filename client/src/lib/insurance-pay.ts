import type { InsuranceOrderView } from '@hp/shared';
import { requestMedicalInsurancePay } from '../pay/request-medical-insurance-pay';
import { requestPayment } from '../pay/request-payment';
import { payReturnUrl } from '../platform';
import { api } from './app';
import { insuranceMessage, nextPayStep } from './insurance';
import { PAGES, replace } from './nav';

const viewPath = (id: string) => `/api/insurance/orders/${encodeURIComponent(id)}`;

/** Why the page stays after 确认支付 (otherwise it has gone to the result page or the cashier). */
export interface InsurancePayStop {
  message: string;
  /** The quote still stands (pay again, or 取消); false: it is gone (failed, expired, withdrawn). */
  quoted: boolean;
  /** The insurance part was refused or failed: self-pay is the way on. */
  refused: boolean;
}

/**
 * Hands an insurance order on after the bff's answer: the cash part to WeChat Pay (its amount, never the
 * total), WeChat's insurance sheet, or straight to the result page, which asks the order until it is final.
 */
export async function handOnInsuranceOrder(
  v: InsuranceOrderView,
  sandboxWechatPayUrl: string | undefined,
): Promise<InsurancePayStop | undefined> {
  const id = v.orderId;
  const step = nextPayStep(v);
  if (step.kind === 'failed') return { message: step.message, quoted: false, refused: true };
  if (step.kind === 'result') return void replace(PAGES.result, { id, hint: 'submitted' });
  const r =
    step.kind === 'medins'
      ? await requestMedicalInsurancePay({ order: v, sandboxWechatPayUrl })
      : await requestPayment({ order: step.order, sandboxWechatPayUrl, returnUrl: payReturnUrl(id) });
  if (r.outcome === 'redirected') return; // the cashier page returns to the result page
  void replace(PAGES.result, { id, hint: r.outcome });
}

/**
 * 确认支付 of a quote (`POST /api/insurance/orders/:id/pay`), then {@link handOnInsuranceOrder}. A lost answer
 * is not a failure: when the settlement has started, the result page finds out what became of it.
 */
export async function payInsuranceQuote(
  orderId: string,
  sandboxWechatPayUrl: string | undefined,
): Promise<InsurancePayStop | undefined> {
  let v: InsuranceOrderView;
  try {
    v = await api.post<InsuranceOrderView>(`${viewPath(orderId)}/pay`);
  } catch (e) {
    const now = await api.get<InsuranceOrderView>(viewPath(orderId)).catch(() => undefined);
    if (now && now.settlementStatus !== 'QUOTED' && now.settlementStatus !== 'REVOKED')
      return void replace(PAGES.result, { id: orderId });
    return { message: insuranceMessage(e), quoted: now?.settlementStatus === 'QUOTED', refused: false };
  }
  return handOnInsuranceOrder(v, sandboxWechatPayUrl);
}
