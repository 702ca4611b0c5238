import { AppError } from '../../lib/errors';
import type { OutboundRecorder } from '../types';
import { callWechat } from '../wechat-http';

/**
 * WeChat login (微信登录) for patients, against WeChat's server API:
 * - mini-program: `GET /sns/jscode2session` exchanges a `wx.login` code for the openid (and a session key we
 *   do not keep);
 * - official account: `GET /sns/oauth2/access_token` exchanges the `code` of the OAuth redirect
 *   (`snsapi_base`) for the openid (and an access token we do not keep).
 * Both answer `{ errcode, errmsg }` on failure. Codes are single-use and live five minutes.
 */
export interface WechatApp {
  appId: string;
  secret: string;
}

/** Who WeChat says logged in. */
export interface WechatIdentity {
  openId: string;
  unionId?: string;
}

type WechatReply = {
  errcode?: number;
  errmsg?: string;
  openid?: string;
  unionid?: string;
};

/**
 * WeChat's error codes, mapped to ours in one place (WeChat docs, 小程序登录 / 网页授权 error lists):
 * a bad or used code is the caller's problem (log in again), a rate limit is `rate_limited`, anything about our
 * appid or secret is a configuration fault (`service_unavailable`, not shown), -1 "system busy" is retried later.
 */
function mapError(errcode: number, errmsg: string): AppError {
  const cause = { errcode, errmsg };
  switch (errcode) {
    case 40029: // invalid code
    case 40163: // code been used
    case 41008: // missing code
      return new AppError('unauthorized', 'the WeChat login code is invalid or used; please log in again', {
        cause,
      });
    case 40226: // high risk user
      return new AppError('forbidden', 'WeChat refused this login (account flagged as high risk)', { cause });
    case 45011: // api minute-quota reach limit
      return new AppError('rate_limited', 'too many logins, please try again in a minute', { cause });
    case 40013: // invalid appid
    case 40125: // invalid appsecret
    case 40001: // invalid credential
      return new AppError('service_unavailable', 'WeChat login is misconfigured (appid or secret)', {
        cause,
        expose: false,
      });
    case -1: // system busy
    default:
      return new AppError('service_unavailable', 'WeChat login is unavailable, please try again', { cause });
  }
}

/** The one client of WeChat's login API. Secrets go in the query (WeChat's design) and are never logged. */
export class WechatAuthClient {
  constructor(
    private readonly baseUrl: string,
    private readonly timeoutMs: number,
    private readonly record: OutboundRecorder,
  ) {}

  /** Mini-program: `wx.login` code → openid. */
  code2Session(app: WechatApp, code: string): Promise<WechatIdentity> {
    return this.exchange('code2session', 'sns/jscode2session', {
      appid: app.appId,
      secret: app.secret,
      js_code: code,
      grant_type: 'authorization_code',
    });
  }

  /** Official account: OAuth redirect code → openid. */
  oauthAccessToken(app: WechatApp, code: string): Promise<WechatIdentity> {
    return this.exchange('oauth2_access_token', 'sns/oauth2/access_token', {
      appid: app.appId,
      secret: app.secret,
      code,
      grant_type: 'authorization_code',
    });
  }

  private async exchange(
    operation: string,
    path: string,
    query: Record<string, string>,
  ): Promise<WechatIdentity> {
    const url = new URL(path, this.baseUrl.endsWith('/') ? this.baseUrl : `${this.baseUrl}/`);
    for (const [k, v] of Object.entries(query)) url.searchParams.set(k, v);
    // The interface log gets the URL without its query: it carries the app secret and the code.
    const r = await callWechat<WechatReply>({
      record: this.record,
      party: 'wechat-auth',
      operation,
      url,
      timeoutMs: this.timeoutMs,
      request: { appid: query.appid },
      isOk: (body) => typeof body.openid === 'string' && body.openid.length > 0,
    });
    if (!r.answered)
      throw new AppError('service_unavailable', 'WeChat login did not answer, please try again', {
        cause: r.error,
      });
    if (!r.ok) throw mapError(r.errcode || -1, r.errmsg || `HTTP ${r.status}`);
    const body = r.body;
    return { openId: body.openid!, unionId: body.unionid || undefined };
  }
}
