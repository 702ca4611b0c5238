import type { LoginOptions, PatientSession, WechatLoginRequest } from '@hp/shared';
import { and, asc, eq } from 'drizzle-orm';
import { hospitals, patientCards, patients } from '../../db/schema';
import type { Deps } from '../../deps';
import { issuePatientToken } from '../../http/auth-patient';
import { AppError, notFound } from '../../lib/errors';
import { maskName } from '../../lib/mask';
import { SANDBOX_WECHAT_APPS } from '../../sandbox/wechatpay/login';
import type { WechatApp } from '../../channels/wechat-auth/adapter';
import { slipKey, verifySlipToken } from '../bills/slip';
import { subscribeTemplates } from '../messages/service';
import type { SessionPrincipal } from '../orders/service';
import { ensureAccount } from './service';

/** Which WeChat app a login code comes from. */
export type WechatLoginKind = 'miniprogram' | 'official_account';

/** The configured app, or the sandbox's own when the sandbox runs without one; undefined: that login is off. */
export function wechatApp(config: Deps['config'], kind: WechatLoginKind): WechatApp | undefined {
  const [appId, secret] =
    kind === 'miniprogram'
      ? [config.weappAppId, config.weappSecret]
      : [config.wechatOaAppId, config.wechatOaSecret];
  if (appId && secret) return { appId, secret };
  if (!config.sandbox) return undefined;
  return kind === 'miniprogram' ? SANDBOX_WECHAT_APPS.miniProgram : SANDBOX_WECHAT_APPS.officialAccount;
}

/** A session token for an account (and patient, when there is one), with what the client shows of it. */
export async function issueSession(
  deps: Pick<Deps, 'db' | 'config'>,
  jwtSecret: string,
  p: SessionPrincipal,
): Promise<PatientSession> {
  const [h] = await deps.db
    .select({ id: hospitals.id, code: hospitals.code, name: hospitals.name })
    .from(hospitals)
    .where(eq(hospitals.id, p.hospitalId));
  if (!h) throw notFound('hospital');
  let patient: PatientSession['patient'] = null;
  if (p.patientId) {
    const [row] = await deps.db
      .select({ id: patients.id, name: patients.name })
      .from(patients)
      .where(and(eq(patients.id, p.patientId), eq(patients.hospitalId, p.hospitalId)));
    if (!row) throw notFound('patient');
    patient = { id: row.id, name: row.name };
  }
  const ttl = deps.config.patientSessionSeconds;
  return { token: issuePatientToken(jwtSecret, p, ttl), patient, hospital: h, expiresIn: ttl };
}

/**
 * WeChat login: the code (mini-program `wx.login`, or the official account's OAuth redirect) is exchanged with
 * WeChat for the openid, which names the account (`wechat`, `<appid>:<openid>`, created on first login). The
 * session acts for the account's first card in the hospital, or for nobody until a card is bound.
 */
export async function wechatLogin(
  deps: Deps,
  jwtSecret: string,
  kind: WechatLoginKind,
  input: WechatLoginRequest,
): Promise<PatientSession> {
  const app = wechatApp(deps.config, kind);
  if (!app)
    throw new AppError(
      'service_unavailable',
      kind === 'miniprogram'
        ? 'mini-program login is not configured (WEAPP_APPID, WEAPP_SECRET)'
        : 'official-account login is not configured (WECHAT_OA_APPID, WECHAT_OA_SECRET)',
      { expose: true },
    );
  const who =
    kind === 'miniprogram'
      ? await deps.wechatAuth.code2Session(app, input.code)
      : await deps.wechatAuth.oauthAccessToken(app, input.code);
  const accountId = await ensureAccount(deps.db, 'wechat', `${app.appId}:${who.openId}`);
  const cards = await deps.db
    .select({ hospitalId: patientCards.hospitalId, patientId: patientCards.patientId })
    .from(patientCards)
    .where(eq(patientCards.accountId, accountId))
    .orderBy(asc(patientCards.createdAt), asc(patientCards.id));
  let hospitalId: string;
  if (input.hospitalCode) {
    const [h] = await deps.db
      .select({ id: hospitals.id })
      .from(hospitals)
      .where(eq(hospitals.code, input.hospitalCode));
    if (!h) throw notFound('hospital');
    hospitalId = h.id;
  } else if (cards[0]) {
    hospitalId = cards[0].hospitalId;
  } else {
    const all = await deps.db.select({ id: hospitals.id }).from(hospitals).limit(2);
    if (all.length !== 1) throw new AppError('bad_request', 'hospitalCode: say which hospital to log in to');
    hospitalId = all[0]!.id;
  }
  const card = cards.find((c) => c.hospitalId === hospitalId);
  return issueSession(deps, jwtSecret, {
    hospitalId,
    accountId,
    openId: who.openId,
    patientId: card?.patientId,
  });
}

/** Act for another card of the account (a family member): a new session for that patient. */
export async function switchCard(
  deps: Deps,
  jwtSecret: string,
  who: SessionPrincipal,
  cardId: string,
): Promise<PatientSession> {
  if (!who.accountId) throw new AppError('unauthorized', 'this session has no account; please log in again');
  const [card] = await deps.db
    .select({ hospitalId: patientCards.hospitalId, patientId: patientCards.patientId })
    .from(patientCards)
    .where(and(eq(patientCards.id, cardId), eq(patientCards.accountId, who.accountId)));
  if (!card) throw notFound('card');
  return issueSession(deps, jwtSecret, { ...who, hospitalId: card.hospitalId, patientId: card.patientId });
}

/**
 * The checkout opened from a slip's QR code, after login: a session for the patient the slip names — the
 * session's own patient, or one whose card the account has bound (the HIS checked name and card then).
 * Anyone else is asked to bind that card first: a slip alone never opens someone's records.
 */
export async function slipSession(
  deps: Deps,
  jwtSecret: string,
  who: SessionPrincipal,
  token: string,
): Promise<PatientSession> {
  const slip = verifySlipToken(slipKey(jwtSecret), token);
  if (who.patientId === slip.patientId && who.hospitalId === slip.hospitalId)
    return issueSession(deps, jwtSecret, who);
  if (who.accountId) {
    const [card] = await deps.db
      .select({ id: patientCards.id })
      .from(patientCards)
      .where(
        and(
          eq(patientCards.accountId, who.accountId),
          eq(patientCards.patientId, slip.patientId),
          eq(patientCards.hospitalId, slip.hospitalId),
        ),
      );
    if (card)
      return issueSession(deps, jwtSecret, {
        ...who,
        hospitalId: slip.hospitalId,
        patientId: slip.patientId,
      });
  }
  const [p] = await deps.db
    .select({ name: patients.name })
    .from(patients)
    .where(eq(patients.id, slip.patientId));
  throw new AppError(
    'card_required',
    `bind the card of ${maskName(p?.name ?? '')} to pay this slip (POST /api/patient/cards)`,
  );
}

/** How patients log in here: what the client's login page offers. */
export async function loginOptions(deps: Deps): Promise<LoginOptions> {
  const list = await deps.db
    .select({ code: hospitals.code, name: hospitals.name })
    .from(hospitals)
    .orderBy(asc(hospitals.code));
  const mini = wechatApp(deps.config, 'miniprogram');
  const oa = wechatApp(deps.config, 'official_account');
  const out: LoginOptions = {
    sandbox: deps.config.sandbox,
    hospitals: list,
    miniProgramAppId: mini?.appId ?? null,
    officialAccount: oa
      ? {
          appId: oa.appId,
          authorizeUrl: new URL('connect/oauth2/authorize', deps.urls.wechatOpen).toString(),
        }
      : null,
  };
  // The mini-program asks the patient's consent to these before paying (one-time subscriptions).
  if (mini) out.subscribeTemplates = subscribeTemplates(deps.config);
  if (deps.config.sandbox) {
    const rows = await deps.db
      .select({ code: hospitals.code, hisPatientId: patients.hisPatientId, name: patients.name })
      .from(patients)
      .innerJoin(hospitals, eq(hospitals.id, patients.hospitalId))
      .orderBy(asc(hospitals.code), asc(patients.hisPatientId))
      .limit(50);
    out.sandboxPatients = rows.map((r) => ({
      hospitalCode: r.code,
      hisPatientId: r.hisPatientId,
      name: maskName(r.name),
    }));
    if (deps.urls.sandboxWechatPay) out.sandboxWechatPayUrl = deps.urls.sandboxWechatPay;
  }
  return out;
}
