import Taro, { useRouter } from '@tarojs/taro';

/** The pages, by domain; subpackage pages live under packages/<domain>/. */
export const PAGES = {
  bills: '/pages/bills/index',
  login: '/pages/login/index',
  checkout: '/packages/pay/checkout/index',
  result: '/packages/pay/result/index',
  orders: '/packages/orders/index',
  order: '/packages/orders/detail',
  cards: '/packages/cards/index',
  bindCard: '/packages/cards/bind',
  invoices: '/packages/invoices/index',
  invoice: '/packages/invoices/viewer',
  credit: '/packages/credit/index',
  creditBank: '/packages/credit/bank',
  messages: '/packages/messages/index',
  inpatient: '/packages/inpatient/index',
  insurance: '/packages/insurance/index',
  insuranceReturn: '/packages/insurance/return',
  insuranceAuth: '/packages/insurance/auth',
} as const;

/** A page URL with its query. */
export function pageUrl(page: string, query: Record<string, string | undefined> = {}): string {
  const q = Object.entries(query)
    .filter(([, v]) => v !== undefined && v !== '')
    .map(([k, v]) => `${k}=${encodeURIComponent(v!)}`)
    .join('&');
  return q ? `${page}?${q}` : page;
}

/** A page URL (maybe with a query already) with more query parameters. */
export function addQuery(url: string, query: Record<string, string | undefined>): string {
  const extra = pageUrl('', query).slice(1);
  if (!extra) return url;
  return `${url}${url.includes('?') ? '&' : '?'}${extra}`;
}

export const go = (page: string, query?: Record<string, string | undefined>) =>
  Taro.navigateTo({ url: pageUrl(page, query) });
export const replace = (page: string, query?: Record<string, string | undefined>) =>
  Taro.redirectTo({ url: pageUrl(page, query) });
/** The first screen, with the page stack cleared. */
export const home = () => Taro.reLaunch({ url: PAGES.bills });

/** A query value as written by {@link pageUrl}: Taro hands some back still encoded (H5), some not. */
export function decodeParam(v: string | undefined): string | undefined {
  if (v === undefined) return undefined;
  try {
    return decodeURIComponent(v);
  } catch {
    return v;
  }
}

/** The page's query, decoded. */
export function usePageParams(): Record<string, string | undefined> {
  const { params } = useRouter();
  return Object.fromEntries(Object.entries(params).map(([k, v]) => [k, decodeParam(v)]));
}
