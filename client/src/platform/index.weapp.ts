import Taro from '@tarojs/taro';
import type { LoginOptions } from '@hp/shared';
import type { Surface } from '../pay/options';
import type { WechatLoginStart } from './index';

export function surface(): Surface {
  return 'weapp';
}

/** `wx.login`: a code for the bff to exchange (code2session). */
export async function startWechatLogin(
  o: LoginOptions,
  _next: string,
): Promise<WechatLoginStart | undefined> {
  if (!o.miniProgramAppId) return undefined;
  const { code } = await Taro.login();
  return { code, kind: 'miniprogram' };
}

export function oauthReturn(_params: Record<string, string | undefined>): string | undefined {
  return undefined;
}

export function payReturnUrl(_orderId: string): string | undefined {
  return undefined;
}

/** The H5's credit page on the bff: the web-view page closes when the bank sends the patient there. */
export function creditReturnUrl(): string {
  return `${HP_API_BASE}/h5/credit`;
}

/** The bank's page is an H5 page: a web-view page shows it (its domain must be a business domain, 业务域名). */
export async function openBankPage(url: string): Promise<void> {
  await Taro.navigateTo({ url: `/packages/credit/bank?url=${encodeURIComponent(url)}` });
}

/** Downloads a file of the patient API with the session header into a temporary file. */
export async function sessionFile(path: string, token: string): Promise<string> {
  const res = await Taro.downloadFile({
    url: `${HP_API_BASE}${path}`,
    header: { authorization: `Bearer ${token}` },
  });
  if (res.statusCode !== 200) throw new Error(`HTTP ${res.statusCode}`);
  return res.tempFilePath;
}

/** The system's document viewer. */
export async function openPdf(localUrl: string): Promise<boolean> {
  await Taro.openDocument({ filePath: localUrl, fileType: 'pdf', showMenu: true });
  return true;
}

/** The H5's return page on the bff: the web-view page completes the authorisation when it gets there. */
export function insuranceReturnUrl(): string {
  return `${HP_API_BASE}/h5/insurance/return?via=weapp`;
}

/** The authorisation page is an H5 page: a web-view page shows it (its domain must be a business domain). */
export async function openInsuranceAuthPage(url: string): Promise<void> {
  await Taro.navigateTo({ url: `/packages/insurance/auth?url=${encodeURIComponent(url)}` });
}

/**
 * `wx.requestSubscribeMessage`: must run in the tap's handler (before any network wait), at most three
 * one-time templates. A refusal, a rejected template or an old WeChat is no reason to stop the payment.
 */
export async function askSubscribe(tmplIds: string[]): Promise<void> {
  if (tmplIds.length === 0) return;
  try {
    await Taro.requestSubscribeMessage({ tmplIds } as Taro.requestSubscribeMessage.Option);
  } catch {
    // Refused, or the templates are not the mini-program's: pay anyway.
  }
}
