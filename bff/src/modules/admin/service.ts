import { and, count, desc, eq, sql } from 'drizzle-orm';
import { z } from 'zod';
import type { Db, Tx } from '../../db/client';
import { adminAuditLogs, adminRoles, adminUsers, alerts } from '../../db/schema';
import type { Deps } from '../../deps';
import { AppError, conflict, notFound } from '../../lib/errors';
import { newId } from '../../lib/ids';
import {
  createAdminUser,
  revokeAllSessions,
  setPassword,
  type AdminPrincipal,
  type RequestOrigin,
} from './auth-service';
import { isPermission, PERMISSIONS } from './permissions';
import { PageSchema } from './queries';

/** Who did an admin write, from where: what every audit row records. */
export interface Actor {
  admin: AdminPrincipal;
  origin: RequestOrigin;
  requestId?: string;
}

/** Appends one audit row; call it inside the transaction of the write it records. */
export async function audit(
  tx: Db | Tx,
  actor: Actor,
  e: { action: string; targetType: string; targetId?: string | null; before?: unknown; after?: unknown },
): Promise<void> {
  await tx.insert(adminAuditLogs).values({
    userId: actor.admin.id,
    username: actor.admin.username,
    action: e.action,
    targetType: e.targetType,
    targetId: e.targetId ?? null,
    before: e.before ?? null,
    after: e.after ?? null,
    ip: actor.origin.ip ?? null,
    requestId: actor.requestId ?? null,
  });
}

// ---------------------------------------------------------------- users

const publicUser = {
  id: adminUsers.id,
  username: adminUsers.username,
  displayName: adminUsers.displayName,
  roleId: adminUsers.roleId,
  roleCode: adminRoles.code,
  roleName: adminRoles.name,
  hospitalId: adminUsers.hospitalId,
  status: adminUsers.status,
  lockedUntil: adminUsers.lockedUntil,
  lastLoginAt: adminUsers.lastLoginAt,
  createdAt: adminUsers.createdAt,
};

export async function listUsers(db: Db, admin: AdminPrincipal, q: z.infer<typeof PageSchema>) {
  const cond = admin.hospitalId ? eq(adminUsers.hospitalId, admin.hospitalId) : undefined;
  const [items, [t]] = await Promise.all([
    db
      .select(publicUser)
      .from(adminUsers)
      .innerJoin(adminRoles, eq(adminRoles.id, adminUsers.roleId))
      .where(cond)
      .orderBy(adminUsers.username)
      .limit(q.pageSize)
      .offset((q.page - 1) * q.pageSize),
    db.select({ n: count() }).from(adminUsers).where(cond),
  ]);
  return { items, total: t?.n ?? 0, page: q.page, pageSize: q.pageSize };
}

async function userSnapshot(tx: Db | Tx, id: string) {
  const [u] = await tx
    .select(publicUser)
    .from(adminUsers)
    .innerJoin(adminRoles, eq(adminRoles.id, adminUsers.roleId))
    .where(eq(adminUsers.id, id));
  return u;
}

export const CreateUserSchema = z
  .object({
    username: z.string().regex(/^[a-zA-Z0-9_.-]{3,32}$/, '3-32 letters, digits, _ . -'),
    displayName: z.string().min(1).max(32),
    password: z.string().min(1).max(128),
    roleCode: z.string().min(1).max(32),
    hospitalId: z.string().max(64).nullable().optional(),
  })
  .strict();

/** super_admin may only be given by someone who holds every permission of it. */
async function assertCanGrantRole(tx: Db | Tx, actor: Actor, roleCode: string) {
  const [role] = await tx.select().from(adminRoles).where(eq(adminRoles.code, roleCode));
  if (!role) throw new AppError('bad_request', `unknown role ${roleCode}`);
  const missing = role.permissions.filter((p) => !actor.admin.permissions.has(p as never));
  if (missing.length)
    throw new AppError(
      'forbidden',
      `you cannot grant a role with permissions you do not hold: ${missing.join(', ')}`,
    );
  return role;
}

export async function createUser(deps: Deps, actor: Actor, input: z.infer<typeof CreateUserSchema>) {
  const hospitalId = actor.admin.hospitalId ?? input.hospitalId ?? null;
  if (actor.admin.hospitalId && input.hospitalId && input.hospitalId !== actor.admin.hospitalId)
    throw new AppError('forbidden', 'you can only create users of your own hospital');
  return deps.db.transaction(async (tx) => {
    await assertCanGrantRole(tx, actor, input.roleCode);
    const id = await createAdminUser(tx, { ...input, hospitalId });
    const after = await userSnapshot(tx, id);
    await audit(tx, actor, { action: 'user.create', targetType: 'admin_user', targetId: id, after });
    return after!;
  });
}

export const UpdateUserSchema = z
  .object({
    displayName: z.string().min(1).max(32).optional(),
    roleCode: z.string().min(1).max(32).optional(),
    status: z.enum(['ACTIVE', 'DISABLED']).optional(),
  })
  .strict();

export async function updateUser(
  deps: Deps,
  actor: Actor,
  id: string,
  input: z.infer<typeof UpdateUserSchema>,
) {
  return deps.db.transaction(async (tx) => {
    const before = await userSnapshot(tx, id);
    if (!before || (actor.admin.hospitalId && before.hospitalId !== actor.admin.hospitalId))
      throw notFound('user');
    if (id === actor.admin.id && (input.status === 'DISABLED' || input.roleCode))
      throw new AppError('bad_request', 'you cannot disable yourself or change your own role');
    const set: Partial<typeof adminUsers.$inferInsert> = {};
    if (input.displayName) set.displayName = input.displayName;
    if (input.roleCode && input.roleCode !== before.roleCode) {
      await assertCanGrantRole(tx, actor, before.roleCode);
      set.roleId = (await assertCanGrantRole(tx, actor, input.roleCode)).id;
    }
    if (input.status && input.status !== before.status) set.status = input.status;
    if (!Object.keys(set).length) return before;
    const ends = set.status === 'DISABLED' || set.roleId !== undefined;
    await tx
      .update(adminUsers)
      .set({
        ...set,
        ...(ends ? { tokenVersion: sql`${adminUsers.tokenVersion} + 1` } : {}),
        updatedAt: sql`now()`,
      })
      .where(eq(adminUsers.id, id));
    if (ends) await revokeAllSessions(deps, tx, id);
    const after = await userSnapshot(tx, id);
    await audit(tx, actor, { action: 'user.update', targetType: 'admin_user', targetId: id, before, after });
    return after!;
  });
}

export const ResetPasswordSchema = z.object({ password: z.string().min(1).max(128) }).strict();

export async function resetPassword(deps: Deps, actor: Actor, id: string, password: string) {
  await deps.db.transaction(async (tx) => {
    const before = await userSnapshot(tx, id);
    if (!before || (actor.admin.hospitalId && before.hospitalId !== actor.admin.hospitalId))
      throw notFound('user');
    await assertCanGrantRole(tx, actor, before.roleCode);
    await setPassword(deps, tx, id, password);
    // The password itself is never recorded, only that it was reset.
    await audit(tx, actor, { action: 'user.reset_password', targetType: 'admin_user', targetId: id });
  });
  return { ok: true };
}

export async function unlockUser(deps: Deps, actor: Actor, id: string) {
  return deps.db.transaction(async (tx) => {
    const before = await userSnapshot(tx, id);
    if (!before || (actor.admin.hospitalId && before.hospitalId !== actor.admin.hospitalId))
      throw notFound('user');
    await tx
      .update(adminUsers)
      .set({ lockedUntil: null, failedAttempts: 0, updatedAt: sql`now()` })
      .where(eq(adminUsers.id, id));
    const after = await userSnapshot(tx, id);
    await audit(tx, actor, { action: 'user.unlock', targetType: 'admin_user', targetId: id, before, after });
    return after!;
  });
}

// ---------------------------------------------------------------- roles

export async function listRoles(db: Db) {
  const rows = await db.select().from(adminRoles).orderBy(desc(adminRoles.builtin), adminRoles.code);
  return { items: rows, permissions: PERMISSIONS };
}

const PermissionList = z
  .array(z.string())
  .max(100)
  .refine((ps) => ps.every(isPermission), 'unknown permission')
  .transform((ps) => [...new Set(ps)]);

export const CreateRoleSchema = z
  .object({
    code: z.string().regex(/^[a-z][a-z0-9_]{2,31}$/, '3-32 lower-case letters, digits, _'),
    name: z.string().min(1).max(32),
    permissions: PermissionList,
  })
  .strict();

export const UpdateRoleSchema = z
  .object({ name: z.string().min(1).max(32).optional(), permissions: PermissionList.optional() })
  .strict();

function assertHolds(actor: Actor, permissions: string[]) {
  const missing = permissions.filter((p) => !actor.admin.permissions.has(p as never));
  if (missing.length)
    throw new AppError('forbidden', `you cannot grant permissions you do not hold: ${missing.join(', ')}`);
}

export async function createRole(deps: Deps, actor: Actor, input: z.infer<typeof CreateRoleSchema>) {
  assertHolds(actor, input.permissions);
  return deps.db.transaction(async (tx) => {
    const [row] = await tx
      .insert(adminRoles)
      .values({ id: newId('role'), code: input.code, name: input.name, permissions: input.permissions })
      .onConflictDoNothing({ target: adminRoles.code })
      .returning();
    if (!row) throw conflict(`role ${input.code} exists`);
    await audit(tx, actor, { action: 'role.create', targetType: 'admin_role', targetId: row.id, after: row });
    return row;
  });
}

export async function updateRole(
  deps: Deps,
  actor: Actor,
  id: string,
  input: z.infer<typeof UpdateRoleSchema>,
) {
  if (input.permissions) assertHolds(actor, input.permissions);
  return deps.db.transaction(async (tx) => {
    const [before] = await tx.select().from(adminRoles).where(eq(adminRoles.id, id)).for('update');
    if (!before) throw notFound('role');
    if (before.builtin)
      throw new AppError('bad_request', 'built-in roles cannot be changed; create a new role');
    const [after] = await tx
      .update(adminRoles)
      .set({ ...input, updatedAt: sql`now()` })
      .where(eq(adminRoles.id, id))
      .returning();
    await audit(tx, actor, { action: 'role.update', targetType: 'admin_role', targetId: id, before, after });
    return after!;
  });
}

export async function deleteRole(deps: Deps, actor: Actor, id: string) {
  return deps.db.transaction(async (tx) => {
    const [before] = await tx.select().from(adminRoles).where(eq(adminRoles.id, id)).for('update');
    if (!before) throw notFound('role');
    if (before.builtin) throw new AppError('bad_request', 'built-in roles cannot be deleted');
    const [used] = await tx.select({ n: count() }).from(adminUsers).where(eq(adminUsers.roleId, id));
    if (used!.n > 0) throw conflict(`the role is held by ${used!.n} user(s); move them first`);
    await tx.delete(adminRoles).where(eq(adminRoles.id, id));
    await audit(tx, actor, { action: 'role.delete', targetType: 'admin_role', targetId: id, before });
    return { ok: true };
  });
}

// ---------------------------------------------------------------- alerts

export const ResolveAlertSchema = z.object({ resolution: z.string().trim().min(2).max(500) }).strict();

export async function resolveAlert(deps: Deps, actor: Actor, id: number, resolution: string) {
  return deps.db.transaction(async (tx) => {
    const [before] = await tx.select().from(alerts).where(eq(alerts.id, id)).for('update');
    if (!before || (actor.admin.hospitalId && before.hospitalId !== actor.admin.hospitalId))
      throw notFound('alert');
    if (before.status !== 'OPEN') throw conflict('the alert is already resolved');
    const [after] = await tx
      .update(alerts)
      .set({ status: 'RESOLVED', resolvedBy: actor.admin.id, resolvedAt: deps.clock.now(), resolution })
      .where(and(eq(alerts.id, id), eq(alerts.status, 'OPEN')))
      .returning();
    await audit(tx, actor, {
      action: 'alert.resolve',
      targetType: 'alert',
      targetId: String(id),
      before,
      after,
    });
    return after!;
  });
}
