import type { LoginOptions } from '@hp/shared';
import type { Surface } from '../pay/options';

/**
 * What differs between the mini-program and the H5, behind one interface: Taro picks `index.weapp.ts` or
 * `index.h5.ts` at build time. This file is the type the others implement (and the answer of a platform
 * without one).
 */
export interface WechatLoginStart {
  /** A code to exchange now (mini-program), or the browser is leaving for WeChat's OAuth page. */
  code?: string;
  kind: 'miniprogram' | 'official_account';
  redirected?: boolean;
}

export function surface(): Surface {
  return 'h5-browser';
}

/** Starts WeChat login; `next` is where to go once logged in. */
export async function startWechatLogin(
  _o: LoginOptions,
  _next: string,
): Promise<WechatLoginStart | undefined> {
  return undefined;
}

/** The H5 back from WeChat's OAuth page: the code, when its state is the one we sent. */
export function oauthReturn(_params: Record<string, string | undefined>): string | undefined {
  return undefined;
}

/** Where a channel's cashier page returns to for this order (H5 only). */
export function payReturnUrl(_orderId: string): string | undefined {
  return undefined;
}

/**
 * Where the bank's credit signing page returns to: the H5's 信用就医 page (its own origin in the H5; the
 * bff's /h5 in the mini-program, whose web-view page notices the return and closes).
 */
export function creditReturnUrl(): string {
  return `${HP_API_BASE}/h5/credit`;
}

/** Opens the bank's signing page: the browser leaves for it (H5), or a web-view page shows it (mini-program). */
export async function openBankPage(_url: string): Promise<void> {
  throw new Error('not supported on this platform');
}

/** Fetches a file of the patient API (an e-invoice, a QR code) with the session; a local URL to show it from. */
export async function sessionFile(_path: string, _token: string): Promise<string> {
  throw new Error('not supported on this platform');
}

/** Shows a PDF (mini-program: the system viewer; H5: the page frames it). */
export async function openPdf(_localUrl: string): Promise<boolean> {
  return false;
}

/**
 * Where the national platform's insurance authorisation page returns to (with `authCode` and `state`): the H5's
 * return page (its own origin in the H5; the bff's /h5 in the mini-program, whose web-view page notices the
 * return, completes the authorisation itself and closes — `via=weapp` tells the H5 page to leave it alone).
 */
export function insuranceReturnUrl(): string {
  return `${HP_API_BASE}/h5/insurance/return?via=weapp`;
}

/** Opens the authorisation page: the browser leaves for it (H5), or a web-view page shows it (mini-program). */
export async function openInsuranceAuthPage(_url: string): Promise<void> {
  throw new Error('not supported on this platform');
}

/**
 * Asks the patient's consent to subscription messages (mini-program, `wx.requestSubscribeMessage`) before
 * paying. Best effort: resolves whatever the patient or WeChat says, never blocks the payment. H5: nothing.
 */
export async function askSubscribe(_tmplIds: string[]): Promise<void> {}
