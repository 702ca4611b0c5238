import type { OutboundRecorder } from './types';
import { callWechat } from './wechat-http';
import type { WechatApp } from './wechat-auth/adapter';

/**
 * WeChat subscription messages (小程序订阅消息), against WeChat's server API:
 * - `GET cgi-bin/token?grant_type=client_credential&appid&secret` → `{ access_token, expires_in }` (cached per app
 *   until five minutes before it expires);
 * - `POST cgi-bin/message/subscribe/send?access_token=…` with `{ touser, template_id, page, data, miniprogram_state }`.
 * Error codes: 0 sent; 43101 the user refused or has no subscription left (skipped, never retried); 40001/42001 the
 * token is invalid or expired (refreshed once and sent again); 47003 bad template data (failed); -1 system busy
 * (retried later). Neither the secret, the token nor the full openid is ever logged.
 */
export interface SubscribeMessage {
  openId: string;
  templateId: string;
  page?: string;
  /** Template keywords, e.g. `{ thing1: '缴费成功', amount2: '12.34元', time3: '2026-01-02 10:00' }`. */
  data: Record<string, string>;
  miniprogramState: 'developer' | 'trial' | 'formal';
}

export type SubscribeOutcome =
  | { status: 'SENT' }
  | { status: 'SKIPPED'; error: string }
  | { status: 'FAILED'; error: string; retryable: boolean };

type TokenReply = { access_token?: string; expires_in?: number; errcode?: number; errmsg?: string };
type SendReply = { errcode?: number; errmsg?: string };

/** Tokens are refreshed this long before WeChat says they expire. */
const TOKEN_MARGIN_MS = 5 * 60_000;

/** An openid as logs may show it: its first and last characters only. */
export function maskOpenId(openId: string): string {
  return openId.length <= 8 ? '***' : `${openId.slice(0, 4)}***${openId.slice(-4)}`;
}

export class WechatSubscribeClient {
  private readonly tokens = new Map<string, { token: string; expiresAt: number }>();

  constructor(
    private readonly baseUrl: string,
    private readonly timeoutMs: number,
    private readonly record: OutboundRecorder,
    private readonly now: () => number = Date.now,
  ) {}

  private url(path: string): URL {
    return new URL(path, this.baseUrl.endsWith('/') ? this.baseUrl : `${this.baseUrl}/`);
  }

  /** The app's access token: cached, or fetched (`fresh` forces a new one). Throws on failure. */
  async accessToken(app: WechatApp, fresh = false): Promise<string> {
    const cached = this.tokens.get(app.appId);
    if (!fresh && cached && cached.expiresAt - TOKEN_MARGIN_MS > this.now()) return cached.token;
    this.tokens.delete(app.appId);
    const url = this.url('cgi-bin/token');
    url.searchParams.set('grant_type', 'client_credential');
    url.searchParams.set('appid', app.appId);
    url.searchParams.set('secret', app.secret);
    const r = await callWechat<TokenReply>({
      record: this.record,
      party: 'wechat-subscribe',
      operation: 'access_token',
      url,
      timeoutMs: this.timeoutMs,
      request: { appid: app.appId },
      isOk: (body) => typeof body.access_token === 'string' && body.access_token !== '',
      response: (body) => ({ expires_in: body.expires_in }),
    });
    if (!r.answered) throw new Error(`WeChat access token: no answer (${r.error.message})`);
    if (!r.ok) throw new Error(`WeChat access token: ${r.errcode || r.status} ${r.errmsg}`.trim());
    const body = r.body;
    const expiresIn = typeof body.expires_in === 'number' && body.expires_in > 0 ? body.expires_in : 7200;
    this.tokens.set(app.appId, { token: body.access_token!, expiresAt: this.now() + expiresIn * 1000 });
    return body.access_token!;
  }

  /** Sends one message; a rejected token is refreshed once. Never throws: the outcome says what to do. */
  async send(app: WechatApp, m: SubscribeMessage): Promise<SubscribeOutcome> {
    let token: string;
    try {
      token = await this.accessToken(app);
    } catch (e) {
      return { status: 'FAILED', error: (e as Error).message, retryable: true };
    }
    let r = await this.post(token, m);
    if (r.errcode === 40001 || r.errcode === 42001) {
      try {
        token = await this.accessToken(app, true);
      } catch (e) {
        return { status: 'FAILED', error: (e as Error).message, retryable: true };
      }
      r = await this.post(token, m);
    }
    const error = `${r.errcode} ${r.errmsg}`.trim();
    switch (r.errcode) {
      case 0:
        return { status: 'SENT' };
      case 43101: // user refused / no subscription left
        return { status: 'SKIPPED', error };
      case 47003: // template data invalid
      case 40003: // invalid openid
      case 40037: // invalid template id
        return { status: 'FAILED', error, retryable: false };
      case 40001:
      case 42001:
        // Still refused after a fresh token: forget it and let the next attempt fetch another.
        this.tokens.delete(app.appId);
        return { status: 'FAILED', error, retryable: true };
      default: // -1 system busy, no answer, anything else
        return { status: 'FAILED', error, retryable: true };
    }
  }

  private async post(token: string, m: SubscribeMessage): Promise<{ errcode: number; errmsg: string }> {
    const url = this.url('cgi-bin/message/subscribe/send');
    url.searchParams.set('access_token', token);
    const payload = {
      touser: m.openId,
      template_id: m.templateId,
      ...(m.page ? { page: m.page } : {}),
      data: Object.fromEntries(Object.entries(m.data).map(([k, value]) => [k, { value }])),
      miniprogram_state: m.miniprogramState,
      lang: 'zh_CN',
    };
    // The interface log: no token (URL without its query), the openid masked.
    const r = await callWechat<SendReply>({
      record: this.record,
      party: 'wechat-subscribe',
      operation: 'subscribe_send',
      url,
      timeoutMs: this.timeoutMs,
      json: payload,
      request: { ...payload, touser: maskOpenId(m.openId) },
    });
    if (!r.answered) return { errcode: -1, errmsg: `no answer: ${r.error.message}` };
    const { errcode, errmsg } = r;
    return { errcode, errmsg };
  }
}
