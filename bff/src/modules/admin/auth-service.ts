import { createHash, randomBytes } from 'node:crypto';
import { hash, verify } from '@node-rs/argon2';
import { and, eq, isNull, sql } from 'drizzle-orm';
import { adminLoginLogs, adminRefreshTokens, adminRoles, adminUsers } from '../../db/schema';
import type { Db, Tx } from '../../db/client';
import type { Deps } from '../../deps';
import { AppError, conflict, notFound } from '../../lib/errors';
import { newId } from '../../lib/ids';
import { BUILTIN_ROLES, isPermission, type Permission } from './permissions';

/** An authenticated admin, as routes see it. */
export interface AdminPrincipal {
  id: string;
  username: string;
  displayName: string;
  roleCode: string;
  roleName: string;
  permissions: ReadonlySet<Permission>;
  /** null: may see every hospital. */
  hospitalId: string | null;
  tokenVersion: number;
}

/** Where a request came from, for the login log and the audit log. */
export interface RequestOrigin {
  ip?: string;
  userAgent?: string;
}

/** Passwords: argon2id (the library's default algorithm; m=19 MiB, t=2, p=1 — OWASP's minimum). */
export function hashPassword(password: string): Promise<string> {
  return hash(password, { memoryCost: 19456, timeCost: 2, parallelism: 1 });
}

// Verified against when the username is unknown, so both cases take the same time.
let dummyHash: Promise<string> | undefined;

export async function verifyPassword(passwordHash: string | undefined, password: string): Promise<boolean> {
  const h = passwordHash ?? (await (dummyHash ??= hashPassword(randomBytes(16).toString('hex'))));
  const ok = await verify(h, password).catch(() => false);
  return ok && passwordHash !== undefined;
}

/** Password rules: 10–128 characters, at least two of letters, digits, other characters. */
export function checkPasswordStrength(password: string): void {
  const classes = [/[A-Za-z]/, /\d/, /[^A-Za-z\d]/].filter((r) => r.test(password)).length;
  if (password.length < 10 || password.length > 128 || classes < 2) {
    throw new AppError(
      'validation_failed',
      'password: 10 to 128 characters, with at least two of letters, digits and symbols',
    );
  }
}

/** Creates the built-in roles and keeps their permissions in step with the code. */
export async function ensureBuiltinRoles(db: Db): Promise<void> {
  for (const r of BUILTIN_ROLES) {
    await db
      .insert(adminRoles)
      .values({
        id: `role_${r.code}`,
        code: r.code,
        name: r.name,
        permissions: [...r.permissions],
        builtin: true,
      })
      .onConflictDoUpdate({
        target: adminRoles.code,
        set: { permissions: [...r.permissions], builtin: true, updatedAt: sql`now()` },
      });
  }
}

export interface NewAdminUser {
  username: string;
  displayName: string;
  password: string;
  roleCode: string;
  hospitalId?: string | null;
}

/** Creates an admin user. Throws conflict when the username is taken, bad_request for an unknown role. */
export async function createAdminUser(db: Db | Tx, u: NewAdminUser): Promise<string> {
  checkPasswordStrength(u.password);
  const [role] = await db.select().from(adminRoles).where(eq(adminRoles.code, u.roleCode));
  if (!role) throw new AppError('bad_request', `unknown role ${u.roleCode}`);
  const id = newId('adm');
  const inserted = await db
    .insert(adminUsers)
    .values({
      id,
      username: u.username,
      displayName: u.displayName,
      passwordHash: await hashPassword(u.password),
      roleId: role.id,
      hospitalId: u.hospitalId ?? null,
    })
    .onConflictDoNothing({ target: adminUsers.username })
    .returning({ id: adminUsers.id });
  if (!inserted.length) throw conflict(`username ${u.username} is taken`);
  return id;
}

/**
 * First boot: when no admin user exists and ADMIN_INITIAL_USERNAME/PASSWORD are set, creates that user as
 * super_admin. Returns whether it did. Safe with several processes booting together (unique username).
 */
export async function ensureInitialAdmin(deps: Pick<Deps, 'db' | 'config' | 'log'>): Promise<boolean> {
  const { db, config, log } = deps;
  await ensureBuiltinRoles(db);
  if (!config.adminInitialUsername || !config.adminInitialPassword) return false;
  const [{ n }] = (await db.select({ n: sql<number>`count(*)::int` }).from(adminUsers)) as [{ n: number }];
  if (n > 0) return false;
  try {
    await createAdminUser(db, {
      username: config.adminInitialUsername,
      displayName: '系统管理员',
      password: config.adminInitialPassword,
      roleCode: 'super_admin',
    });
  } catch (e) {
    if (e instanceof AppError && e.code === 'conflict') return false;
    throw e;
  }
  log.info({ username: config.adminInitialUsername }, 'initial administrator created');
  return true;
}

/** Loads an active admin with the permissions of their role (null if missing). */
export async function loadPrincipal(db: Db, userId: string): Promise<AdminPrincipal | null> {
  const [row] = await db
    .select({
      id: adminUsers.id,
      username: adminUsers.username,
      displayName: adminUsers.displayName,
      status: adminUsers.status,
      hospitalId: adminUsers.hospitalId,
      tokenVersion: adminUsers.tokenVersion,
      roleCode: adminRoles.code,
      roleName: adminRoles.name,
      permissions: adminRoles.permissions,
    })
    .from(adminUsers)
    .innerJoin(adminRoles, eq(adminRoles.id, adminUsers.roleId))
    .where(eq(adminUsers.id, userId));
  if (!row || row.status !== 'ACTIVE') return null;
  return {
    id: row.id,
    username: row.username,
    displayName: row.displayName,
    roleCode: row.roleCode,
    roleName: row.roleName,
    hospitalId: row.hospitalId,
    tokenVersion: row.tokenVersion,
    permissions: new Set(row.permissions.filter(isPermission)),
  };
}

async function logLogin(
  db: Db | Tx,
  e: { userId?: string | null; username: string; event: string; reason?: string },
  origin: RequestOrigin,
) {
  await db.insert(adminLoginLogs).values({
    userId: e.userId ?? null,
    username: e.username.slice(0, 64),
    event: e.event,
    reason: e.reason ?? null,
    ip: origin.ip ?? null,
    userAgent: origin.userAgent?.slice(0, 300) ?? null,
  });
}

const sha256 = (s: string) => createHash('sha256').update(s).digest('hex');

/** A new refresh token: random, returned once, stored only as its SHA-256. */
async function issueRefreshToken(
  deps: Pick<Deps, 'db' | 'clock' | 'config'>,
  tx: Db | Tx,
  userId: string,
  origin: RequestOrigin,
): Promise<{ id: string; token: string }> {
  const token = `rt_${randomBytes(32).toString('base64url')}`;
  const id = newId('rtk');
  await tx.insert(adminRefreshTokens).values({
    id,
    userId,
    tokenHash: sha256(token),
    expiresAt: new Date(deps.clock.now().getTime() + deps.config.adminRefreshTokenSeconds * 1000),
    ip: origin.ip ?? null,
    userAgent: origin.userAgent?.slice(0, 300) ?? null,
  });
  return { id, token };
}

export interface LoginResult {
  principal: AdminPrincipal;
  refreshToken: string;
}

/**
 * Checks a username and password. Failures count towards a lockout (ADMIN_LOCKOUT_THRESHOLD in a row locks
 * the account for ADMIN_LOCKOUT_MINUTES); while locked even the right password is refused. Every outcome
 * goes to the login log; the caller learns only "wrong username or password", "locked" or "disabled".
 */
export async function login(
  deps: Pick<Deps, 'db' | 'clock' | 'config'>,
  username: string,
  password: string,
  origin: RequestOrigin,
): Promise<LoginResult> {
  const { db, clock, config } = deps;
  const now = clock.now();
  const [user] = await db.select().from(adminUsers).where(eq(adminUsers.username, username));
  const ok = await verifyPassword(user?.passwordHash, password);
  if (!user) {
    await logLogin(db, { username, event: 'failed', reason: 'unknown_user' }, origin);
    throw new AppError('invalid_credentials', 'wrong username or password');
  }
  if (user.status !== 'ACTIVE') {
    await logLogin(db, { userId: user.id, username, event: 'failed', reason: 'disabled' }, origin);
    throw new AppError('account_disabled', 'this account is disabled; ask an administrator');
  }
  if (user.lockedUntil && user.lockedUntil > now) {
    await logLogin(db, { userId: user.id, username, event: 'failed', reason: 'locked' }, origin);
    throw new AppError(
      'account_locked',
      `too many failed logins; the account is locked until ${user.lockedUntil.toISOString()}`,
    );
  }
  if (!ok) {
    const [after] = await db
      .update(adminUsers)
      .set({
        failedAttempts: sql`CASE WHEN ${adminUsers.lockedUntil} IS NOT NULL AND ${adminUsers.lockedUntil} <= ${now}
          THEN 1 ELSE ${adminUsers.failedAttempts} + 1 END`,
        lockedUntil: sql`CASE WHEN ${adminUsers.lockedUntil} IS NOT NULL AND ${adminUsers.lockedUntil} <= ${now}
          THEN NULL ELSE ${adminUsers.lockedUntil} END`,
        updatedAt: sql`now()`,
      })
      .where(eq(adminUsers.id, user.id))
      .returning({ failedAttempts: adminUsers.failedAttempts });
    if (after!.failedAttempts >= config.adminLockoutThreshold) {
      const until = new Date(now.getTime() + config.adminLockoutMinutes * 60_000);
      await db
        .update(adminUsers)
        .set({ lockedUntil: until, failedAttempts: 0, updatedAt: sql`now()` })
        .where(eq(adminUsers.id, user.id));
      await logLogin(db, { userId: user.id, username, event: 'locked', reason: 'too_many_failures' }, origin);
      throw new AppError(
        'account_locked',
        `too many failed logins; the account is locked until ${until.toISOString()}`,
      );
    }
    await logLogin(db, { userId: user.id, username, event: 'failed', reason: 'bad_password' }, origin);
    throw new AppError('invalid_credentials', 'wrong username or password');
  }
  const refresh = await db.transaction(async (tx) => {
    await tx
      .update(adminUsers)
      .set({ failedAttempts: 0, lockedUntil: null, lastLoginAt: now, updatedAt: sql`now()` })
      .where(eq(adminUsers.id, user.id));
    await logLogin(tx, { userId: user.id, username, event: 'login' }, origin);
    return issueRefreshToken(deps, tx, user.id, origin);
  });
  const principal = await loadPrincipal(db, user.id);
  if (!principal) throw new AppError('account_disabled', 'this account is disabled; ask an administrator');
  return { principal, refreshToken: refresh.token };
}

/**
 * Trades a refresh token for a new one (rotation). A token used twice means it was stolen or replayed:
 * every refresh token of that user is revoked and the event is logged.
 */
export async function refresh(
  deps: Pick<Deps, 'db' | 'clock' | 'config'>,
  token: string,
  origin: RequestOrigin,
): Promise<LoginResult> {
  const { db, clock } = deps;
  const now = clock.now();
  const out = await db.transaction(async (tx) => {
    const [row] = await tx
      .select()
      .from(adminRefreshTokens)
      .where(eq(adminRefreshTokens.tokenHash, sha256(token)))
      .for('update');
    if (!row) return { error: 'invalid refresh token' } as const;
    const [user] = await tx.select().from(adminUsers).where(eq(adminUsers.id, row.userId));
    if (row.revokedAt) {
      if (row.replacedBy) {
        await tx
          .update(adminRefreshTokens)
          .set({ revokedAt: now })
          .where(and(eq(adminRefreshTokens.userId, row.userId), isNull(adminRefreshTokens.revokedAt)));
        await logLogin(
          tx,
          { userId: row.userId, username: user?.username ?? '?', event: 'refresh_reuse' },
          origin,
        );
      }
      return { error: 'refresh token already used or revoked; please log in again' } as const;
    }
    if (row.expiresAt <= now) return { error: 'session expired, please log in again' } as const;
    if (!user || user.status !== 'ACTIVE') return { error: 'this account is disabled' } as const;
    const next = await issueRefreshToken(deps, tx, row.userId, origin);
    await tx
      .update(adminRefreshTokens)
      .set({ revokedAt: now, replacedBy: next.id })
      .where(eq(adminRefreshTokens.id, row.id));
    return { userId: row.userId, token: next.token } as const;
  });
  if ('error' in out) throw new AppError('unauthorized', out.error!);
  const principal = await loadPrincipal(db, out.userId);
  if (!principal) throw new AppError('unauthorized', 'this account is disabled');
  return { principal, refreshToken: out.token };
}

/** Revokes one refresh token (logout). Unknown tokens are ignored: logout always succeeds. */
export async function logout(
  deps: Pick<Deps, 'db' | 'clock'>,
  principal: AdminPrincipal,
  token: string | undefined,
  origin: RequestOrigin,
): Promise<void> {
  await deps.db.transaction(async (tx) => {
    if (token) {
      await tx
        .update(adminRefreshTokens)
        .set({ revokedAt: deps.clock.now() })
        .where(
          and(
            eq(adminRefreshTokens.tokenHash, sha256(token)),
            eq(adminRefreshTokens.userId, principal.id),
            isNull(adminRefreshTokens.revokedAt),
          ),
        );
    }
    await logLogin(tx, { userId: principal.id, username: principal.username, event: 'logout' }, origin);
  });
}

/**
 * Sets a new password and bumps the token version: every access token issued before stops working at
 * once, and every refresh token is revoked.
 */
export async function setPassword(
  deps: Pick<Deps, 'db' | 'clock'>,
  tx: Db | Tx,
  userId: string,
  password: string,
): Promise<void> {
  checkPasswordStrength(password);
  const passwordHash = await hashPassword(password);
  const updated = await tx
    .update(adminUsers)
    .set({
      passwordHash,
      tokenVersion: sql`${adminUsers.tokenVersion} + 1`,
      failedAttempts: 0,
      lockedUntil: null,
      updatedAt: sql`now()`,
    })
    .where(eq(adminUsers.id, userId))
    .returning({ id: adminUsers.id });
  if (!updated.length) throw notFound('user');
  await revokeAllSessions(deps, tx, userId);
}

/** Revokes every refresh token of a user (password change, disable, role change). */
export async function revokeAllSessions(deps: Pick<Deps, 'clock'>, tx: Db | Tx, userId: string) {
  await tx
    .update(adminRefreshTokens)
    .set({ revokedAt: deps.clock.now() })
    .where(and(eq(adminRefreshTokens.userId, userId), isNull(adminRefreshTokens.revokedAt)));
}

/** Changes one's own password, after checking the current one. */
export async function changeOwnPassword(
  deps: Pick<Deps, 'db' | 'clock'>,
  principal: AdminPrincipal,
  current: string,
  next: string,
): Promise<void> {
  const [user] = await deps.db.select().from(adminUsers).where(eq(adminUsers.id, principal.id));
  if (!user || !(await verifyPassword(user.passwordHash, current)))
    throw new AppError('invalid_credentials', 'the current password is wrong');
  await deps.db.transaction((tx) => setPassword(deps, tx, principal.id, next));
}

/** Demo staff of the sandbox (never in production: the sandbox refuses to run there). Password for all. */
export const DEMO_ADMIN_PASSWORD = 'demo-pass-2026';
export const DEMO_ADMINS = [
  { username: 'admin', displayName: '演示管理员', roleCode: 'super_admin' },
  { username: 'finance', displayName: '财务 王会计', roleCode: 'finance' },
  { username: 'cashier', displayName: '收费窗口 李收费员', roleCode: 'cashier' },
  { username: 'itops', displayName: '信息科 赵工', roleCode: 'it_ops' },
  { username: 'auditor', displayName: '审计 钱审计', roleCode: 'auditor' },
] as const;

/** Seeds the demo staff when absent. Only called by the sandbox demo. */
export async function seedDemoAdmins(db: Db): Promise<void> {
  await ensureBuiltinRoles(db);
  for (const u of DEMO_ADMINS) {
    const [exists] = await db
      .select({ id: adminUsers.id })
      .from(adminUsers)
      .where(eq(adminUsers.username, u.username));
    if (!exists) await createAdminUser(db, { ...u, password: DEMO_ADMIN_PASSWORD }).catch(() => undefined);
  }
}
