import type { PayHandOff, PayResult } from './types';

interface WeixinJSBridge {
  invoke(api: string, params: Record<string, string>, cb: (res: { err_msg?: string }) => void): void;
}

/** The window the H5 runs in (a parameter, so tests hand in their own). */
export interface H5Window {
  WeixinJSBridge?: WeixinJSBridge;
  location: { assign(url: string): void };
  document?: { addEventListener(type: string, fn: () => void, opts?: unknown): void };
}

/** Waits for WeChat's JS bridge (it arrives after the page loads inside WeChat); undefined outside WeChat. */
export function wechatBridge(w: H5Window, timeoutMs = 3000): Promise<WeixinJSBridge | undefined> {
  if (w.WeixinJSBridge) return Promise.resolve(w.WeixinJSBridge);
  if (!w.document) return Promise.resolve(undefined);
  return new Promise((resolve) => {
    const t = setTimeout(() => resolve(w.WeixinJSBridge), timeoutMs);
    w.document!.addEventListener(
      'WeixinJSBridgeReady',
      () => {
        clearTimeout(t);
        resolve(w.WeixinJSBridge);
      },
      { once: true },
    );
  });
}

/** WeChat H5 pay: the cashier returns to `redirect_url` whatever happened (the page must ask the order). */
export function withRedirect(h5Url: string, returnUrl: string | undefined): string {
  if (!returnUrl) return h5Url;
  return `${h5Url}${h5Url.includes('?') ? '&' : '?'}redirect_url=${encodeURIComponent(returnUrl)}`;
}

/**
 * The H5's payment hand-off. Inside WeChat with JSAPI parameters: `WeixinJSBridge.invoke
 * ('getBrandWCPayRequest')`. With an H5 cashier URL (WeChat's H5 pay outside WeChat, the bank's page, the
 * sandbox's cashier): leave for it, with the result page as the way back. A QR only: the result page shows it.
 */
export async function requestPaymentIn(w: H5Window, h: PayHandOff): Promise<PayResult> {
  const pay = h.order.pay;
  if (pay?.jsapi) {
    const b = await wechatBridge(w);
    if (b) {
      return new Promise((resolve) =>
        b.invoke('getBrandWCPayRequest', pay.jsapi!, (res) => {
          const m = res.err_msg ?? '';
          if (m.endsWith(':ok')) resolve({ outcome: 'submitted' });
          else if (m.endsWith(':cancel')) resolve({ outcome: 'cancelled' });
          else resolve({ outcome: 'failed', message: m });
        }),
      );
    }
  }
  if (pay?.h5Url) {
    w.location.assign(withRedirect(pay.h5Url, h.returnUrl));
    return { outcome: 'redirected' };
  }
  if (pay?.codeUrl) return { outcome: 'qr' };
  return { outcome: 'failed', message: '该订单无法在此支付' };
}

export function requestPayment(h: PayHandOff): Promise<PayResult> {
  return requestPaymentIn(window as unknown as H5Window, h);
}
