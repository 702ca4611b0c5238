/**
 * The admin API client: the session (access + refresh token) in localStorage, shared by the tabs of one
 * browser, a refresh shortly before the access token expires and once on a 401, and errors as
 * {@link ApiError}. Refresh tokens rotate and a reused one ends every session of the user, so only one tab
 * refreshes at a time (Web Locks) and a tab that finds the token already rotated takes the new one.
 */

/** The logged-in admin, as GET /admin/api/auth/me answers. */
export interface Me {
  id: string;
  username: string;
  displayName: string;
  role: { code: string; name: string };
  hospitalId: string | null;
  permissions: string[];
}

interface Session {
  accessToken: string;
  refreshToken: string;
  /** Epoch ms when the access token expires. */
  expiresAt: number;
  user: Me;
}

interface SessionReply {
  accessToken: string;
  refreshToken: string;
  expiresIn: number;
  user: Me;
}

/** An error reply of the API: `{ error: { code, message, requestId } }`. */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly requestId?: string,
  ) {
    super(message);
  }
}

const KEY = 'hp.admin.session';
const BASE = '/admin/api';
/** Refresh this long before the access token expires. */
const REFRESH_AHEAD_MS = 60_000;

type Listener = (user: Me | null) => void;
const listeners = new Set<Listener>();
let timer: ReturnType<typeof setTimeout> | undefined;
let inflight: Promise<Session | null> | undefined;

function load(): Session | null {
  try {
    const raw = localStorage.getItem(KEY);
    return raw ? (JSON.parse(raw) as Session) : null;
  } catch {
    return null;
  }
}

function store(s: Session | null) {
  if (s) localStorage.setItem(KEY, JSON.stringify(s));
  else localStorage.removeItem(KEY);
  schedule(s);
  for (const l of listeners) l(s?.user ?? null);
}

function fromReply(r: SessionReply): Session {
  return {
    accessToken: r.accessToken,
    refreshToken: r.refreshToken,
    expiresAt: Date.now() + r.expiresIn * 1000,
    user: r.user,
  };
}

/** Refreshes ahead of expiry while the page is open. */
function schedule(s: Session | null) {
  if (timer) clearTimeout(timer);
  timer = undefined;
  if (!s) return;
  const wait = Math.max(5_000, s.expiresAt - Date.now() - REFRESH_AHEAD_MS);
  timer = setTimeout(() => void refreshSession(s.refreshToken), Math.min(wait, 2 ** 31 - 1));
}

async function withLock<T>(fn: () => Promise<T>): Promise<T> {
  const locks = (navigator as Navigator & { locks?: LockManager }).locks;
  return locks ? (locks.request('hp.admin.refresh', fn) as Promise<T>) : fn();
}

/**
 * Trades `used` (the refresh token the caller saw) for a new session. When another tab already rotated it,
 * the stored session is taken as is. Resolves null when the session is over (then the login page shows).
 */
export function refreshSession(used: string): Promise<Session | null> {
  inflight ??= withLock(async () => {
    const current = load();
    if (!current) return null;
    if (current.refreshToken !== used) return current;
    const res = await fetch(`${BASE}/auth/refresh`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ refreshToken: current.refreshToken }),
    }).catch(() => undefined);
    if (!res) return current; // network trouble: keep the session, the next call tries again
    if (!res.ok) {
      store(null);
      return null;
    }
    const next = fromReply((await res.json()) as SessionReply);
    store(next);
    return next;
  }).finally(() => (inflight = undefined));
  return inflight;
}

/** The user of the stored session, if any (before GET /auth/me confirms it). */
export function currentUser(): Me | null {
  return load()?.user ?? null;
}

/** Called with the user on login, refresh and /auth/me, and with null on logout or an ended session. */
export function onSessionChange(l: Listener): () => void {
  listeners.add(l);
  return () => listeners.delete(l);
}

// Another tab logged in, refreshed or logged out.
window.addEventListener('storage', (e) => {
  if (e.key !== KEY) return;
  const s = load();
  schedule(s);
  for (const l of listeners) l(s?.user ?? null);
});
schedule(load());

export type Query = Record<string, string | number | boolean | undefined | null>;

function url(path: string, query?: Query): string {
  const qs = new URLSearchParams();
  for (const [k, v] of Object.entries(query ?? {})) {
    if (v !== undefined && v !== null && v !== '') qs.set(k, String(v));
  }
  const q = qs.toString();
  return `${BASE}${path}${q ? `?${q}` : ''}`;
}

async function errorOf(res: Response): Promise<ApiError> {
  const body = (await res.json().catch(() => undefined)) as
    { error?: { code?: string; message?: string; requestId?: string } } | undefined;
  return new ApiError(
    res.status,
    body?.error?.code ?? 'http_error',
    body?.error?.message ?? `HTTP ${res.status}`,
    body?.error?.requestId,
  );
}

/** Sends a request with the session's token; refreshes it first when due, and once on a 401. */
async function authedFetch(
  method: 'GET' | 'POST' | 'PATCH' | 'DELETE',
  path: string,
  opts: { query?: Query; body?: unknown } = {},
): Promise<Response> {
  let s = load();
  if (s && s.expiresAt - Date.now() < 5_000) s = await refreshSession(s.refreshToken);
  const send = (token?: string) =>
    fetch(url(path, opts.query), {
      method,
      headers: {
        ...(token ? { authorization: `Bearer ${token}` } : {}),
        ...(opts.body !== undefined ? { 'content-type': 'application/json' } : {}),
      },
      body: opts.body !== undefined ? JSON.stringify(opts.body) : undefined,
    });
  let res = await send(s?.accessToken);
  if (res.status === 401 && s) {
    const next = await refreshSession(s.refreshToken);
    if (next) res = await send(next.accessToken);
  }
  if (!res.ok) {
    const err = await errorOf(res);
    if (res.status === 401 && load()) store(null);
    throw err;
  }
  return res;
}

/** Calls the admin API with the session's token; refreshes it first when due, and once on a 401. */
export async function api<T>(
  method: 'GET' | 'POST' | 'PATCH' | 'DELETE',
  path: string,
  opts: { query?: Query; body?: unknown } = {},
): Promise<T> {
  return (await (await authedFetch(method, path, opts)).json()) as T;
}

/** The file name a download announces (RFC 5987 `filename*` first, then `filename`). */
function fileNameOf(disposition: string | null): string | undefined {
  if (!disposition) return undefined;
  const star = /filename\*=UTF-8''([^;]+)/i.exec(disposition)?.[1];
  if (star) {
    try {
      return decodeURIComponent(star);
    } catch {
      /* fall back to the plain name */
    }
  }
  return /filename="([^"]+)"/i.exec(disposition)?.[1];
}

/**
 * Downloads a file from the admin API (Excel/CSV exports): fetched with the session's token — a plain link
 * would carry none — and saved under the name the server gives. Resolves with that name.
 */
export async function download(path: string, query?: Query): Promise<string> {
  const res = await authedFetch('GET', path, { query });
  const name = fileNameOf(res.headers.get('content-disposition')) ?? 'export';
  const href = URL.createObjectURL(await res.blob());
  const a = document.createElement('a');
  a.href = href;
  a.download = name;
  document.body.appendChild(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(href), 60_000);
  return name;
}

/** Logs in; throws {@link ApiError} (`invalid_credentials`, `account_locked`, `account_disabled`). */
export async function login(username: string, password: string): Promise<Me> {
  const res = await fetch(`${BASE}/auth/login`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ username, password }),
  });
  if (!res.ok) throw await errorOf(res);
  const s = fromReply((await res.json()) as SessionReply);
  store(s);
  return s.user;
}

/** Logs out: revokes the refresh token at the server and forgets the session here. */
export async function logout(): Promise<void> {
  let s = load();
  if (s && s.expiresAt - Date.now() < 5_000) s = await refreshSession(s.refreshToken);
  if (s) {
    await fetch(`${BASE}/auth/logout`, {
      method: 'POST',
      headers: { authorization: `Bearer ${s.accessToken}`, 'content-type': 'application/json' },
      body: JSON.stringify({ refreshToken: s.refreshToken }),
    }).catch(() => undefined);
  }
  store(null);
}

/** Reloads the user (permissions may have changed) and keeps it with the session. */
export async function loadMe(): Promise<Me> {
  const me = await api<Me>('GET', '/auth/me');
  const s = load();
  if (s) store({ ...s, user: me });
  return me;
}

/** A page of a list, as every admin list answers. */
export interface Page<T> {
  items: T[];
  total: number;
  page: number;
  pageSize: number;
}
