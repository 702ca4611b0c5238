import Taro from '@tarojs/taro';
import type { LoginOptions } from '@hp/shared';
import { createApi } from './api';
import { createSessionStore } from './session';

/** The session, kept in Taro storage (localStorage in the H5, the mini-program's storage otherwise). */
export const session = createSessionStore({
  get: (k) => (Taro.getStorageSync(k) as string | undefined) || undefined,
  set: (k, v) => Taro.setStorageSync(k, v),
  remove: (k) => Taro.removeStorageSync(k),
});

/** Where to go after login: the page the patient wanted. */
export function loginUrl(next?: string): string {
  return `/pages/login/index${next ? `?next=${encodeURIComponent(next)}` : ''}`;
}

/** The patient API of the bff. */
export const api = createApi({
  base: HP_API_BASE,
  transport: async (req) => {
    const res = await Taro.request({
      url: req.url,
      method: req.method,
      data: req.data as never,
      header: req.header,
      dataType: 'json',
    });
    return { statusCode: res.statusCode, data: res.data };
  },
  token: () => session.get()?.token,
  onUnauthorized: () => {
    session.clear();
    void Taro.reLaunch({ url: loginUrl() });
  },
});

let options: Promise<LoginOptions> | undefined;
/** The login options, asked once per app start (sandbox or not, WeChat apps, demo patients). */
export function loginOptions(): Promise<LoginOptions> {
  options ??= api.get<LoginOptions>('/api/patient/login-options').catch((e: unknown) => {
    options = undefined;
    throw e;
  });
  return options;
}

/** The hospital this build serves unless a slip says otherwise. */
export const DEFAULT_HOSPITAL = HP_HOSPITAL_CODE;
