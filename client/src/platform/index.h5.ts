import type { LoginOptions } from '@hp/shared';
import type { Surface } from '../pay/options';
import type { WechatLoginStart } from './index';

const STATE_KEY = 'hp.oauth.state';

export function surface(): Surface {
  const ua = navigator.userAgent;
  if (/MicroMessenger/i.test(ua)) return 'h5-wechat';
  return /Mobi|Android|iPhone|iPad|HarmonyOS/i.test(ua) ? 'h5-browser' : 'h5-desktop';
}

/**
 * Official-account OAuth (`snsapi_base`): to WeChat's authorize page, which returns to the login page with
 * `code` and our `state` (kept in sessionStorage against forged returns).
 */
export async function startWechatLogin(o: LoginOptions, next: string): Promise<WechatLoginStart | undefined> {
  if (!o.officialAccount) return undefined;
  const state = Math.random().toString(36).slice(2, 12);
  sessionStorage.setItem(STATE_KEY, state);
  const back = `${location.origin}/h5/login?next=${encodeURIComponent(next)}`;
  // WeChat checks the parameter order: appid, redirect_uri, response_type, scope, state.
  const url =
    `${o.officialAccount.authorizeUrl}?appid=${o.officialAccount.appId}` +
    `&redirect_uri=${encodeURIComponent(back)}&response_type=code&scope=snsapi_base` +
    `&state=${state}#wechat_redirect`;
  location.assign(url);
  return { kind: 'official_account', redirected: true };
}

export function oauthReturn(params: Record<string, string | undefined>): string | undefined {
  const expected = sessionStorage.getItem(STATE_KEY);
  if (!params.code || !expected || params.state !== expected) return undefined;
  sessionStorage.removeItem(STATE_KEY);
  return params.code;
}

export function payReturnUrl(orderId: string): string {
  return `${location.origin}/h5/result?id=${encodeURIComponent(orderId)}&from=cashier`;
}

export function creditReturnUrl(): string {
  return `${location.origin}/h5/credit`;
}

export async function openBankPage(url: string): Promise<void> {
  location.assign(url);
}

/** Fetches a file of the patient API with the session header; the page shows it from a blob: URL. */
export async function sessionFile(path: string, token: string): Promise<string> {
  const res = await fetch(path, { headers: { authorization: `Bearer ${token}` } });
  if (!res.ok) throw new Error(`HTTP ${res.status}`);
  return URL.createObjectURL(await res.blob());
}

export async function openPdf(_localUrl: string): Promise<boolean> {
  return false;
}

export function insuranceReturnUrl(): string {
  return `${location.origin}/h5/insurance/return`;
}

export async function openInsuranceAuthPage(url: string): Promise<void> {
  location.assign(url);
}

export async function askSubscribe(_tmplIds: string[]): Promise<void> {}
