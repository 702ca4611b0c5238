import type { OutboundRecorder } from './types';

/** Every answer of WeChat's server API carries these on failure (`errcode` 0 or absent when it worked). */
export interface WechatReplyBase {
  errcode?: number;
  errmsg?: string;
}

export type WechatAnswer<T> =
  /** No answer (network error, timeout, not JSON): recorded as UNKNOWN. */
  | { answered: false; error: Error }
  /** An answer: `ok` as the caller's check says; `errcode` 0 when it worked, else WeChat's code (or -1). */
  | { answered: true; ok: boolean; errcode: number; errmsg: string; status: number; body: T };

/**
 * One call of WeChat's server API (login, access token, subscription messages) with its interface-log entry.
 * The log gets the URL without its query (it carries secrets, codes and tokens) and only the `request` and
 * `response` the caller chose to show.
 */
export async function callWechat<T extends WechatReplyBase>(c: {
  record: OutboundRecorder;
  party: string;
  operation: string;
  url: URL;
  timeoutMs: number;
  /** A JSON body makes it a POST. */
  json?: unknown;
  /** What the log shows of the request (never a secret, token or full openid). */
  request: Record<string, unknown>;
  /** Whether an answer is a success, beyond `errcode` 0 and HTTP 2xx (e.g. the token is present). */
  isOk?: (body: T) => boolean;
  /** What the log shows of the answer, besides `errcode` and `errmsg`. */
  response?: (body: T) => Record<string, unknown>;
}): Promise<WechatAnswer<T>> {
  const logged = {
    party: c.party,
    operation: c.operation,
    method: c.json === undefined ? 'GET' : 'POST',
    url: `${c.url.origin}${c.url.pathname}`,
  };
  const started = Date.now();
  let res: Response;
  let body: T;
  try {
    res = await fetch(c.url, {
      ...(c.json === undefined
        ? {}
        : { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(c.json) }),
      signal: AbortSignal.timeout(c.timeoutMs),
    });
    body = (await res.json()) as T;
  } catch (e) {
    c.record({
      ...logged,
      latencyMs: Date.now() - started,
      result: 'UNKNOWN',
      errorMessage: (e as Error).message,
      request: c.request,
    });
    return { answered: false, error: e as Error };
  }
  const errcode = typeof body.errcode === 'number' ? body.errcode : res.ok ? 0 : -1;
  const errmsg = body.errmsg ?? (res.ok ? '' : `HTTP ${res.status}`);
  const ok = res.ok && errcode === 0 && (c.isOk ? c.isOk(body) : true);
  c.record({
    ...logged,
    httpStatus: res.status,
    latencyMs: Date.now() - started,
    result: ok ? 'SUCCESS' : 'FAIL',
    errorCode: ok ? undefined : String(errcode || res.status),
    errorMessage: ok ? undefined : errmsg,
    request: c.request,
    response: { errcode, errmsg: body.errmsg, ...(c.response ? c.response(body) : {}) },
  });
  return { answered: true, ok, errcode, errmsg, status: res.status, body };
}
