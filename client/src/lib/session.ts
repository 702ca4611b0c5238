import type { PatientSession } from '@hp/shared';

/** How the session was obtained: JSAPI payment needs the openid a WeChat login brings. */
export type LoginMethod = 'sandbox' | 'wechat';

/** The session as kept on the device. */
export interface StoredSession extends PatientSession {
  method: LoginMethod;
  /** Milliseconds since the epoch when the token expires. */
  expiresAt: number;
}

/** Where the session is kept (Taro storage in the app; a map in tests). */
export interface KeyValueStore {
  get(key: string): string | undefined;
  set(key: string, value: string): void;
  remove(key: string): void;
}

const KEY = 'hp.session';

/** The patient session on this device: read, replaced after login or a card switch, cleared on 401. */
export function createSessionStore(store: KeyValueStore, now: () => number = Date.now) {
  return {
    get(): StoredSession | undefined {
      const raw = store.get(KEY);
      if (!raw) return undefined;
      try {
        const s = JSON.parse(raw) as StoredSession;
        // A minute of margin: a token about to expire is as good as gone.
        return s.expiresAt - 60_000 > now() ? s : undefined;
      } catch {
        return undefined;
      }
    },
    set(s: PatientSession, method: LoginMethod): StoredSession {
      const stored: StoredSession = { ...s, method, expiresAt: now() + s.expiresIn * 1000 };
      store.set(KEY, JSON.stringify(stored));
      return stored;
    },
    /** Keeps the login method when the session is replaced (card switch, slip session). */
    replace(s: PatientSession): StoredSession | undefined {
      const cur = this.get();
      return this.set(s, cur?.method ?? 'sandbox');
    },
    clear(): void {
      store.remove(KEY);
    },
  };
}

export type SessionStore = ReturnType<typeof createSessionStore>;
