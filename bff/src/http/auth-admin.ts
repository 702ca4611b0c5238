import type { Context, Next } from 'koa';
import { createSecretKey, type KeyObject } from 'node:crypto';
import jwt from 'jsonwebtoken';
import type { Db } from '../db/client';
import { forbidden, unauthorized } from '../lib/errors';
import { ISSUER, verifyBearer } from './auth-patient';
import { loadPrincipal, type AdminPrincipal } from '../modules/admin/auth-service';
import type { Permission } from '../modules/admin/permissions';

declare module 'koa' {
  interface DefaultState {
    admin?: AdminPrincipal;
  }
}

const AUDIENCE = 'admin';

/** Issues a short-lived admin access token (HS256). `ver` ties it to the user's token version. */
export function issueAdminToken(key: KeyObject, p: AdminPrincipal, ttlSeconds: number): string {
  return jwt.sign({ ver: p.tokenVersion }, key, {
    algorithm: 'HS256',
    subject: p.id,
    issuer: ISSUER,
    audience: AUDIENCE,
    expiresIn: ttlSeconds,
  });
}

export function adminKey(secret: string): KeyObject {
  return createSecretKey(Buffer.from(secret, 'utf8'));
}

/**
 * Requires `Authorization: Bearer <admin access token>`. The user is loaded on every request (admin
 * traffic is small), so disabling a user, changing their role or password takes effect at once.
 */
export function requireAdmin(db: Db, key: KeyObject) {
  return async (ctx: Context, next: Next) => {
    const claims = verifyBearer(ctx, key, AUDIENCE, {
      missing: 'admin login required (Authorization: Bearer …)',
      expired: 'access token expired; refresh it',
      invalid: 'invalid access token',
    });
    if (!claims.sub || typeof claims.ver !== 'number') throw unauthorized('invalid access token');
    const principal = await loadPrincipal(db, claims.sub);
    if (!principal || principal.tokenVersion !== claims.ver)
      throw unauthorized('session ended (password changed or account disabled); please log in again');
    ctx.state.admin = principal;
    await next();
  };
}

/** The one permission check: every admin route names its permission, and this enforces it. */
export function permit(permission: Permission | null) {
  return async (ctx: Context, next: Next) => {
    const admin = ctx.state.admin;
    if (!admin) throw unauthorized('admin login required');
    if (permission && !admin.permissions.has(permission))
      throw forbidden(`this needs the permission ${permission}`);
    await next();
  };
}
