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
