import type { ErrorBody } from '@hp/shared';

/** An answer of the bff that is not 2xx, with its closed error code (shared/src/errors.ts). */
export class ApiError extends Error {
  override name = 'ApiError';
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    /** An order the request created although it failed (poll it). */
    readonly orderId?: string,
  ) {
    super(message);
  }
}

/** What Taro.request gives back (both platforms), reduced to what we read. */
export interface HttpResponse {
  statusCode: number;
  data: unknown;
}

/** One HTTP call; Taro.request in the app, a fake in tests. */
export type Transport = (req: {
  url: string;
  method: 'GET' | 'POST' | 'DELETE';
  data?: unknown;
  header: Record<string, string>;
}) => Promise<HttpResponse>;

export interface ApiOptions {
  /** The bff's base URL ('' for the H5 on the bff's own origin). */
  base: string;
  transport: Transport;
  token: () => string | undefined;
  /** Called when the bff answers 401 to a call with a session: it is gone (expired, revoked); the app sends the patient to login. */
  onUnauthorized?: () => void;
}

/** Chinese messages for the codes a patient can meet; anything else shows the generic one with the request id. */
const MESSAGES: Record<string, string> = {
  unauthorized: '登录已过期，请重新登录',
  card_required: '请先绑定就诊卡',
  card_already_bound: '该就诊卡已绑定',
  name_mismatch: '姓名与卡号不一致，请核对',
  not_found: '未找到相关记录',
  bill_not_payable: '账单已支付或已撤销，请刷新',
  bill_locked: '账单正在支付中，请在订单中继续支付',
  channel_error: '支付渠道拒绝了本次支付，请稍后重试或换一种方式',
  channel_unavailable: '支付渠道暂时无响应，订单会自动核实，请稍后查看',
  his_unavailable: '医院系统暂时无法连接，请稍后重试',
  his_error: '医院系统返回异常，请稍后重试',
  rate_limited: '操作太频繁，请稍后再试',
  service_unavailable: '服务暂时不可用，请稍后重试',
  validation_failed: '填写的信息有误，请检查',
};

/** The message to show a patient for an error of any kind. */
export function messageOf(e: unknown): string {
  if (e instanceof ApiError) return MESSAGES[e.code] ?? `请求失败（${e.code}），请稍后重试`;
  return '网络异常，请检查网络后重试';
}

/** A small client of the patient API: JSON in and out, bearer token, errors as {@link ApiError}. */
export function createApi(o: ApiOptions) {
  async function call<T>(
    method: 'GET' | 'POST' | 'DELETE',
    path: string,
    body?: unknown,
    headers: Record<string, string> = {},
  ): Promise<T> {
    const header: Record<string, string> = { ...headers };
    const token = o.token();
    if (token) header.authorization = `Bearer ${token}`;
    if (body !== undefined) header['content-type'] = 'application/json';
    let res: HttpResponse;
    try {
      res = await o.transport({ url: `${o.base}${path}`, method, data: body, header });
    } catch (e) {
      throw new ApiError(0, 'network_error', (e as Error)?.message ?? 'network error');
    }
    if (res.statusCode >= 200 && res.statusCode < 300) return res.data as T;
    const err = (res.data as Partial<ErrorBody> | undefined)?.error;
    // A session that stopped working (expired, revoked); a refused login code is not one.
    if (res.statusCode === 401 && token) o.onUnauthorized?.();
    throw new ApiError(
      res.statusCode,
      err?.code ?? 'http_error',
      err?.message ?? `HTTP ${res.statusCode}`,
      err?.orderId,
    );
  }
  return {
    get: <T>(path: string) => call<T>('GET', path),
    post: <T>(path: string, body?: unknown, headers?: Record<string, string>) =>
      call<T>('POST', path, body ?? {}, headers),
    del: <T>(path: string) => call<T>('DELETE', path),
  };
}

export type Api = ReturnType<typeof createApi>;
