import Taro from '@tarojs/taro';
import type { InsuranceStatus } from '@hp/shared';
import { insuranceReturnUrl, openInsuranceAuthPage } from '../platform';
import { api } from './app';
import { AUTH_STATE_KEY, authReturn, type AuthReturn } from './insurance';

/** The authorisation in progress: our state (checked on return) and the page to go back to. */
interface PendingAuth {
  state: string;
  next: string;
}

function pending(): PendingAuth | undefined {
  const raw = Taro.getStorageSync(AUTH_STATE_KEY) as string | undefined;
  if (!raw) return undefined;
  try {
    return JSON.parse(raw) as PendingAuth;
  } catch {
    return undefined;
  }
}

/**
 * 医保授权: asks the bff for the national platform's authorisation page and opens it; `next` is the page to
 * come back to once authorised (kept on the device with the state, not in the return address).
 */
export async function startInsuranceAuth(next: string): Promise<void> {
  const r = await api.post<{ pageUrl: string; state: string }>('/api/insurance/authorize', {
    returnUrl: insuranceReturnUrl(),
  });
  Taro.setStorageSync(AUTH_STATE_KEY, JSON.stringify({ state: r.state, next } satisfies PendingAuth));
  await openInsuranceAuthPage(r.pageUrl);
}

/** What became of a return from the authorisation page. */
export type AuthCompletion =
  | { kind: 'authorized'; status: InsuranceStatus; next?: string }
  | { kind: 'cancelled'; next?: string }
  | { kind: 'invalid'; message: string; next?: string };

/**
 * The return from the authorisation page (its query): the authCode is exchanged with the bff
 * (`/api/insurance/authorize/complete`) when the state is ours. An error of the bff (a person other than the
 * patient, the platform refusing) is thrown for the page to show.
 */
export async function completeInsuranceAuth(
  params: Record<string, string | undefined>,
): Promise<AuthCompletion> {
  const p = pending();
  const r: AuthReturn = authReturn(params, p?.state);
  if (r.kind === 'cancelled') {
    Taro.removeStorageSync(AUTH_STATE_KEY);
    return { kind: 'cancelled', next: p?.next };
  }
  if (r.kind === 'invalid') return { ...r, next: p?.next };
  const status = await api.post<InsuranceStatus>('/api/insurance/authorize/complete', {
    authCode: r.authCode,
  });
  // An authCode is good once: the state goes with it.
  Taro.removeStorageSync(AUTH_STATE_KEY);
  return { kind: 'authorized', status, next: p?.next };
}

/** The page the authorisation was started from, if one is waiting. */
export function pendingAuthNext(): string | undefined {
  return pending()?.next;
}
