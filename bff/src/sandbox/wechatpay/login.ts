import { createHash, randomBytes } from 'node:crypto';
import { json, type SimReply, type SimRequest } from '../harness';

/**
 * WeChat login as the WeChat server does it, on the WeChat simulator's port (api.weixin.qq.com and
 * open.weixin.qq.com in one):
 * - `GET /sns/jscode2session?appid&secret&js_code&grant_type=authorization_code` (mini-program)
 * - `GET /sns/oauth2/access_token?appid&secret&code&grant_type=authorization_code` (official account)
 * - `GET /connect/oauth2/authorize?appid&redirect_uri&response_type=code&scope&state` — the page WeChat shows
 *   (here: pick a sandbox user) and then `302 redirect_uri?code=…&state=…`
 * Errors are WeChat's: 40013 invalid appid, 40125 invalid appsecret, 40029 invalid code, 40163 code been used,
 * 41008 missing code, 45011 minute quota (injectable).
 *
 * Control API: `POST /sim/wechat/login { appId, user? }` → `{ code }` stands in for `wx.login` on a device.
 *
 * Subscription messages (订阅消息), as WeChat's server does them:
 * - `GET /cgi-bin/token?grant_type=client_credential&appid&secret` → `{ access_token, expires_in }` (40013, 40125)
 * - `POST /cgi-bin/message/subscribe/send?access_token=…` → `{ errcode, errmsg }`: 40001 unknown token, 42001 expired,
 *   43101 the user has not subscribed, 47003 bad data, -1 system busy (injectable). Sent messages are kept in `sent`.
 */

/** The sandbox's own apps: used when WEAPP_* / WECHAT_OA_* are not configured. */
export const SANDBOX_WECHAT_APPS = {
  miniProgram: { appId: 'wxa1b2c3d4e5f60001', secret: 'sandbox-weapp-secret-0001' },
  officialAccount: { appId: 'wxa1b2c3d4e5f60002', secret: 'sandbox-oa-secret-0002' },
} as const;

/** Sandbox WeChat users offered on the authorize page. */
const SANDBOX_USERS = ['张三的微信', '李四的微信', '王五的微信'];

interface IssuedCode {
  appId: string;
  openId: string;
  used: boolean;
  expiresAt: number;
}

const CODE_TTL_MS = 5 * 60_000;

/** Demo template ids of the sandbox mini-program (kind → template), used when none are configured. */
export const SANDBOX_SUBSCRIBE_TEMPLATES: Record<string, string> = {
  payment_succeeded: 'sandbox-tpl-payment-succeeded',
  refund_done: 'sandbox-tpl-refund-done',
  credit_debit_failed: 'sandbox-tpl-credit-debit-failed',
  deposit_paid: 'sandbox-tpl-deposit-paid',
  settlement_refunded: 'sandbox-tpl-settlement-refunded',
  settlement_debited: 'sandbox-tpl-settlement-debited',
};

/** A subscription message the simulator accepted. */
export interface SimSubscribeMessage {
  appId: string;
  touser: string;
  template_id: string;
  page?: string;
  data: Record<string, { value: string }>;
  miniprogram_state?: string;
  at: number;
}

export class WechatLoginSimulator {
  private readonly apps = new Map<string, { secret: string; kind: 'miniprogram' | 'official_account' }>();
  private readonly codes = new Map<string, IssuedCode>();
  /** Calls left that answer 45011 (minute quota), for tests. */
  quotaFaults = 0;
  /** Access tokens issued: token → app and expiry. */
  private readonly tokens = new Map<string, { appId: string; expiresAt: number }>();
  /** Lifetime of an issued access token, in seconds (WeChat: 7200). */
  tokenTtlSeconds = 7200;
  /** Subscription messages accepted, oldest first. */
  readonly sent: SimSubscribeMessage[] = [];
  /** Openids that have not subscribed (send answers 43101). */
  readonly unsubscribed = new Set<string>();
  /** Errcodes the next sends answer, one each (e.g. -1, 47003), for tests. */
  sendFaults: number[] = [];
  /** Calls of `cgi-bin/token` answered, for tests. */
  tokenCalls = 0;

  constructor() {
    this.addApp(SANDBOX_WECHAT_APPS.miniProgram.appId, SANDBOX_WECHAT_APPS.miniProgram.secret, 'miniprogram');
    this.addApp(
      SANDBOX_WECHAT_APPS.officialAccount.appId,
      SANDBOX_WECHAT_APPS.officialAccount.secret,
      'official_account',
    );
  }

  addApp(appId: string, secret: string, kind: 'miniprogram' | 'official_account'): void {
    this.apps.set(appId, { secret, kind });
  }

  /** The openid of a sandbox user under an app: stable, and different per app as WeChat's are. */
  static openIdOf(appId: string, user: string): string {
    return `o${createHash('sha256').update(`${appId}\n${user}`).digest('base64url').slice(0, 27)}`;
  }

  /** Issues a login code for a user of an app (what `wx.login` or the OAuth page gives the client). */
  issueCode(appId: string, user = SANDBOX_USERS[0]!): string {
    if (!this.apps.has(appId)) throw new Error(`unknown sandbox app ${appId}`);
    const code = randomBytes(16).toString('hex');
    this.codes.set(code, {
      appId,
      openId: WechatLoginSimulator.openIdOf(appId, user),
      used: false,
      expiresAt: Date.now() + CODE_TTL_MS,
    });
    return code;
  }

  /** Expires every issued access token now (the next send answers 42001), for tests. */
  expireTokens(): void {
    for (const t of this.tokens.values()) t.expiresAt = 0;
  }

  /** Forgets every issued access token (the next send answers 40001), for tests. */
  revokeTokens(): void {
    this.tokens.clear();
  }

  handle(req: SimRequest): SimReply | undefined {
    if (req.method === 'GET' && req.path === '/cgi-bin/token') return this.accessToken(req);
    if (req.method === 'POST' && req.path === '/cgi-bin/message/subscribe/send')
      return this.subscribeSend(req);
    if (req.method === 'GET' && req.path === '/sns/jscode2session')
      return this.exchange(req, 'miniprogram', req.query.get('js_code'));
    if (req.method === 'GET' && req.path === '/sns/oauth2/access_token')
      return this.exchange(req, 'official_account', req.query.get('code'));
    if (req.method === 'GET' && req.path === '/connect/oauth2/authorize') return this.authorizePage(req);
    if (req.method === 'GET' && req.path === '/sim/wechat/oauth/approve') return this.approve(req);
    if (req.method === 'POST' && req.path === '/sim/wechat/login') {
      const b = (req.body ? JSON.parse(req.body) : {}) as { appId?: string; user?: string };
      const appId = b.appId ?? SANDBOX_WECHAT_APPS.miniProgram.appId;
      if (!this.apps.has(appId)) return json(404, { errcode: 40013, errmsg: 'invalid appid' });
      return json(200, { code: this.issueCode(appId, b.user) });
    }
    return undefined;
  }

  private accessToken(req: SimRequest): SimReply {
    const err = (errcode: number, errmsg: string) => json(200, { errcode, errmsg });
    if (req.query.get('grant_type') !== 'client_credential') return err(40002, 'invalid grant_type');
    const app = this.apps.get(req.query.get('appid') ?? '');
    if (!app) return err(40013, 'invalid appid');
    if (req.query.get('secret') !== app.secret) return err(40125, 'invalid appsecret');
    this.tokenCalls++;
    const token = randomBytes(32).toString('base64url');
    this.tokens.set(token, {
      appId: req.query.get('appid')!,
      expiresAt: Date.now() + this.tokenTtlSeconds * 1000,
    });
    return json(200, { access_token: token, expires_in: this.tokenTtlSeconds });
  }

  private subscribeSend(req: SimRequest): SimReply {
    const err = (errcode: number, errmsg: string) =>
      json(200, { errcode, errmsg: `${errmsg} rid: ${randomBytes(4).toString('hex')}` });
    const issued = this.tokens.get(req.query.get('access_token') ?? '');
    if (!issued) return err(40001, 'invalid credential, access_token is invalid or not latest');
    if (issued.expiresAt <= Date.now()) return err(42001, 'access_token expired');
    const fault = this.sendFaults.shift();
    if (fault !== undefined) return err(fault, fault === -1 ? 'system error' : 'injected fault');
    let b: Partial<SimSubscribeMessage>;
    try {
      b = JSON.parse(req.body || '{}') as Partial<SimSubscribeMessage>;
    } catch {
      return err(47001, 'data format error');
    }
    if (!b.touser || !b.template_id) return err(47003, 'argument invalid! touser or template_id');
    if (!b.data || typeof b.data !== 'object') return err(47003, 'argument invalid! data');
    for (const [k, v] of Object.entries(b.data))
      if (typeof v?.value !== 'string' || !/^[a-z_]+\d+$/.test(k))
        return err(47003, `argument invalid! ${k}`);
    if (this.unsubscribed.has(b.touser)) return err(43101, 'user refuse to accept the msg');
    this.sent.push({
      appId: issued.appId,
      touser: b.touser,
      template_id: b.template_id,
      page: b.page,
      data: b.data,
      miniprogram_state: b.miniprogram_state,
      at: Date.now(),
    });
    return json(200, { errcode: 0, errmsg: 'ok' });
  }

  private exchange(req: SimRequest, kind: 'miniprogram' | 'official_account', code: string | null): SimReply {
    const err = (errcode: number, errmsg: string) =>
      json(200, { errcode, errmsg: `${errmsg}, rid: ${randomBytes(4).toString('hex')}` });
    if (this.quotaFaults > 0) {
      this.quotaFaults--;
      return err(45011, 'api minute-quota reach limit mustslower retry next minute');
    }
    const appId = req.query.get('appid') ?? '';
    const app = this.apps.get(appId);
    if (!app || app.kind !== kind) return err(40013, 'invalid appid');
    if (req.query.get('secret') !== app.secret) return err(40125, 'invalid appsecret');
    if (req.query.get('grant_type') !== 'authorization_code') return err(40002, 'invalid grant_type');
    if (!code) return err(41008, 'missing code');
    const issued = this.codes.get(code);
    if (!issued || issued.appId !== appId || issued.expiresAt < Date.now()) return err(40029, 'invalid code');
    if (issued.used) return err(40163, 'code been used');
    issued.used = true;
    if (kind === 'miniprogram')
      return json(200, { openid: issued.openId, session_key: randomBytes(16).toString('base64') });
    return json(200, {
      access_token: randomBytes(24).toString('base64url'),
      expires_in: 7200,
      refresh_token: randomBytes(24).toString('base64url'),
      openid: issued.openId,
      scope: 'snsapi_base',
      is_snapshotuser: 0,
    });
  }

  private authorizePage(req: SimRequest): SimReply {
    const appId = req.query.get('appid') ?? '';
    const redirect = req.query.get('redirect_uri') ?? '';
    const state = req.query.get('state') ?? '';
    if (!this.apps.has(appId) || !/^https?:\/\//.test(redirect))
      return {
        status: 400,
        headers: { 'content-type': 'text/html; charset=utf-8' },
        body: '<!doctype html><meta charset="utf-8"><p>参数错误：appid 或 redirect_uri 无效（10003）</p>',
      };
    const esc = (s: string) => s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
    const link = (user: string) =>
      `/sim/wechat/oauth/approve?${new URLSearchParams({ appid: appId, redirect_uri: redirect, state, user })}`;
    const html = `<!doctype html><html lang="zh-CN"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width,initial-scale=1"><title>微信授权（沙箱）</title>
<style>body{font-family:sans-serif;max-width:420px;margin:40px auto;padding:0 16px}a{display:block;margin:12px 0;
padding:14px;border-radius:6px;background:#07c160;color:#fff;text-align:center;text-decoration:none;font-size:18px}</style>
</head><body><h2>微信网页授权 · 沙箱</h2><p>以下面的沙箱微信用户身份登录：</p>
${SANDBOX_USERS.map((u, i) => `<a id="user-${i}" href="${esc(link(u))}">${esc(u)}</a>`).join('\n')}
</body></html>`;
    return { status: 200, headers: { 'content-type': 'text/html; charset=utf-8' }, body: html };
  }

  private approve(req: SimRequest): SimReply {
    const appId = req.query.get('appid') ?? '';
    const redirect = req.query.get('redirect_uri') ?? '';
    if (!this.apps.has(appId) || !/^https?:\/\//.test(redirect))
      return json(400, { errcode: 10003, errmsg: 'redirect_uri or appid invalid' });
    const code = this.issueCode(appId, req.query.get('user') ?? undefined);
    const to = new URL(redirect);
    to.searchParams.set('code', code);
    to.searchParams.set('state', req.query.get('state') ?? '');
    return { status: 302, headers: { location: to.toString() } };
  }
}
