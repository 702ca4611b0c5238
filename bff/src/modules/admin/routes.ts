import Router from '@koa/router';
import { RECON_ADMIN_ROUTES } from '../recon/admin-routes';
import type { Context } from 'koa';
import { z } from 'zod';
import type { Deps } from '../../deps';
import { adminKey, issueAdminToken, permit, requireAdmin } from '../../http/auth-admin';
import { validate } from '../../lib/validate';
import { recordCashRefund, requestRefund } from '../refunds/service';
import { orders } from '../../db/schema';
import { eq } from 'drizzle-orm';
import { notFound } from '../../lib/errors';
import {
  changeOwnPassword,
  login,
  logout,
  refresh,
  type AdminPrincipal,
  type LoginResult,
} from './auth-service';
import type { Permission } from './permissions';
import { listComments } from '../comments/service';
import { listHisApps, listHospitals, listMerchantAccounts } from './settings';
import {
  AbnormalSchema,
  AlertSearchSchema,
  AuditLogSchema,
  dashboard,
  LoginLogSchema,
  OpenApiLogSchema,
  orderDetail,
  OrderSearchSchema,
  OutboundLogSchema,
  PageSchema,
  PatientMessageSearchSchema,
  RangeSchema,
  rangeBounds,
  scopeHospital,
  RefundSearchSchema,
  searchAbnormal,
  searchAlerts,
  searchAuditLogs,
  searchLoginLogs,
  searchOpenApiCalls,
  searchOrders,
  searchOutboundCalls,
  searchPatientMessages,
  searchRefunds,
} from './queries';
import {
  audit,
  createRole,
  CreateRoleSchema,
  createUser,
  CreateUserSchema,
  deleteRole,
  listRoles,
  listUsers,
  resetPassword,
  ResetPasswordSchema,
  resolveAlert,
  ResolveAlertSchema,
  unlockUser,
  updateRole,
  UpdateRoleSchema,
  updateUser,
  UpdateUserSchema,
  type Actor,
} from './service';

/**
 * One admin route: method, path, the permission it needs (null: any logged-in admin), its input schema
 * (body for writes, query for reads) and a handler that calls a service. The table is the single source
 * of truth for the router and for the route × role matrix test.
 */
export interface AdminRoute {
  method: 'GET' | 'POST' | 'PATCH' | 'DELETE';
  path: string;
  permission: Permission | null;
  input?: z.ZodType;
  status?: number;
  /** A larger JSON body limit for this route (a file upload); default: the config's bodyLimitBytes. */
  bodyLimit?: number;
  handler: (deps: Deps, ctx: Context, input: never) => Promise<unknown>;
}

const admin = (ctx: Context): AdminPrincipal => ctx.state.admin!;
const actor = (ctx: Context): Actor => ({
  admin: admin(ctx),
  origin: { ip: ctx.ip, userAgent: ctx.get('user-agent') },
  requestId: ctx.requestId,
});
const param = (ctx: Context, name: string) =>
  (ctx as unknown as { params: Record<string, string> }).params[name]!;

const RefundSchema = z
  .object({
    /** Omitted: everything still refundable. */
    amountFen: z.number().int().positive().optional(),
    reason: z.string().trim().min(2).max(200),
  })
  .strict();

const CashRefundSchema = z
  .object({
    amountFen: z.number().int().positive(),
    reason: z.string().trim().min(2).max(200),
    /** The receipt or voucher number the window issued. */
    receiptNo: z.string().trim().min(1).max(64).optional(),
  })
  .strict();

const CommentSearchSchema = PageSchema.extend(RangeSchema.shape).extend({
  stars: z.coerce.number().int().min(1).max(5).optional(),
});

const ChangePasswordSchema = z
  .object({ currentPassword: z.string().min(1).max(128), newPassword: z.string().min(1).max(128) })
  .strict();

/** The audit entry of a refund an admin started (channel or cash): which refund, how much, and why. */
function auditRefund(
  deps: Deps,
  a: Actor,
  action: 'order.refund' | 'order.cash_refund',
  orderId: string,
  refund: { id: string; refundNo: string; amountFen: number },
  extra: Record<string, unknown>,
) {
  return audit(deps.db, a, {
    action,
    targetType: 'order',
    targetId: orderId,
    after: { refundId: refund.id, refundNo: refund.refundNo, amountFen: refund.amountFen, ...extra },
  });
}

async function orderHospital(
  deps: Deps,
  ctx: Context,
): Promise<{ id: string; hospitalId: string; orderNo: string }> {
  const [o] = await deps.db
    .select({ id: orders.id, hospitalId: orders.hospitalId, orderNo: orders.orderNo })
    .from(orders)
    .where(eq(orders.id, param(ctx, 'id')));
  const a = admin(ctx);
  if (!o || (a.hospitalId && o.hospitalId !== a.hospitalId)) throw notFound('order');
  return o;
}

export const ADMIN_ROUTES: readonly AdminRoute[] = [
  // ---- session
  { method: 'GET', path: '/auth/me', permission: null, handler: async (_d, ctx) => meView(admin(ctx)) },
  {
    method: 'POST',
    path: '/auth/password',
    permission: null,
    input: ChangePasswordSchema,
    handler: async (deps, ctx, input: z.infer<typeof ChangePasswordSchema>) => {
      await changeOwnPassword(deps, admin(ctx), input.currentPassword, input.newPassword);
      await audit(deps.db, actor(ctx), {
        action: 'user.change_password',
        targetType: 'admin_user',
        targetId: admin(ctx).id,
      });
      return { ok: true };
    },
  },
  // Hospitals the admin may see (names for the pages' hospital pickers and columns).
  {
    method: 'GET',
    path: '/hospitals',
    permission: null,
    handler: (deps, ctx) => listHospitals(deps.db, admin(ctx)),
  },
  // ---- dashboard
  {
    method: 'GET',
    path: '/dashboard',
    permission: 'dashboard.view',
    input: RangeSchema.pick({ hospitalId: true }),
    handler: (deps, ctx, q: { hospitalId?: string }) =>
      dashboard(deps.db, admin(ctx), deps.clock.now(), q.hospitalId),
  },
  // ---- orders and refunds
  {
    method: 'GET',
    path: '/orders',
    permission: 'orders.view',
    input: OrderSearchSchema,
    handler: (deps, ctx, q: z.infer<typeof OrderSearchSchema>) => searchOrders(deps.db, admin(ctx), q),
  },
  {
    method: 'GET',
    path: '/orders/:id',
    permission: 'orders.view',
    handler: (deps, ctx) => orderDetail(deps.db, admin(ctx), param(ctx, 'id')),
  },
  {
    method: 'POST',
    path: '/orders/:id/refunds',
    permission: 'orders.refund',
    input: RefundSchema,
    status: 201,
    handler: async (deps, ctx, input: z.infer<typeof RefundSchema>) => {
      const o = await orderHospital(deps, ctx);
      const a = actor(ctx);
      const refund = await requestRefund(deps, {
        hospitalId: o.hospitalId,
        orderNo: o.orderNo,
        amountFen: input.amountFen,
        reason: input.reason,
        requestedBy: `admin:${a.admin.id}`,
      });
      await auditRefund(deps, a, 'order.refund', o.id, refund, {
        status: refund.status,
        reason: input.reason,
      });
      return refund;
    },
  },
  {
    method: 'POST',
    path: '/orders/:id/cash-refunds',
    permission: 'orders.cash_refund',
    input: CashRefundSchema,
    status: 201,
    handler: async (deps, ctx, input: z.infer<typeof CashRefundSchema>) => {
      const o = await orderHospital(deps, ctx);
      const a = actor(ctx);
      const refund = await recordCashRefund(deps, {
        hospitalId: o.hospitalId,
        orderId: o.id,
        amountFen: input.amountFen,
        reason: input.reason,
        receiptNo: input.receiptNo,
        requestedBy: `admin:${a.admin.id}`,
      });
      await auditRefund(deps, a, 'order.cash_refund', o.id, refund, {
        receiptNo: input.receiptNo ?? null,
        reason: input.reason,
      });
      return refund;
    },
  },
  {
    method: 'GET',
    path: '/refunds',
    permission: 'refunds.view',
    input: RefundSearchSchema,
    handler: (deps, ctx, q: z.infer<typeof RefundSearchSchema>) => searchRefunds(deps.db, admin(ctx), q),
  },
  // ---- messages to patients (payment, refund, credit debit failed, bill waiting)
  {
    method: 'GET',
    path: '/patient-messages',
    permission: 'orders.view',
    input: PatientMessageSearchSchema,
    handler: (deps, ctx, q: z.infer<typeof PatientMessageSearchSchema>) =>
      searchPatientMessages(deps.db, admin(ctx), q),
  },
  // ---- order comments (订单评价) pulled from WeChat Pay
  {
    method: 'GET',
    path: '/comments',
    permission: 'comments.view',
    input: CommentSearchSchema,
    handler: async (deps, ctx, q: z.infer<typeof CommentSearchSchema>) => {
      const b = rangeBounds(q);
      const res = await listComments(deps.db, {
        hospitalId: scopeHospital(admin(ctx), q.hospitalId),
        from: b.from,
        to: b.to,
        stars: q.stars,
        limit: q.pageSize,
        offset: (q.page - 1) * q.pageSize,
      });
      return { ...res, page: q.page, pageSize: q.pageSize };
    },
  },
  // ---- logs
  {
    method: 'GET',
    path: '/logs/outbound',
    permission: 'logs.view',
    input: OutboundLogSchema,
    handler: (deps, ctx, q: z.infer<typeof OutboundLogSchema>) => searchOutboundCalls(deps.db, admin(ctx), q),
  },
  {
    method: 'GET',
    path: '/logs/abnormal',
    permission: 'logs.view',
    input: AbnormalSchema,
    handler: (deps, ctx, q: z.infer<typeof AbnormalSchema>) => searchAbnormal(deps.db, admin(ctx), q),
  },
  {
    method: 'GET',
    path: '/logs/open-api',
    permission: 'logs.view',
    input: OpenApiLogSchema,
    handler: (deps, ctx, q: z.infer<typeof OpenApiLogSchema>) => searchOpenApiCalls(deps.db, admin(ctx), q),
  },
  {
    method: 'GET',
    path: '/logs/logins',
    permission: 'logins.view',
    input: LoginLogSchema,
    handler: (deps, _ctx, q: z.infer<typeof LoginLogSchema>) => searchLoginLogs(deps.db, q),
  },
  {
    method: 'GET',
    path: '/logs/audit',
    permission: 'audit.view',
    input: AuditLogSchema,
    handler: (deps, _ctx, q: z.infer<typeof AuditLogSchema>) => searchAuditLogs(deps.db, q),
  },
  // ---- alerts (staff messages)
  {
    method: 'GET',
    path: '/alerts',
    permission: 'alerts.view',
    input: AlertSearchSchema,
    handler: (deps, ctx, q: z.infer<typeof AlertSearchSchema>) => searchAlerts(deps.db, admin(ctx), q),
  },
  {
    method: 'POST',
    path: '/alerts/:id/resolve',
    permission: 'alerts.resolve',
    input: ResolveAlertSchema,
    handler: (deps, ctx, input: z.infer<typeof ResolveAlertSchema>) => {
      const id = Number(param(ctx, 'id'));
      if (!Number.isSafeInteger(id) || id <= 0) throw notFound('alert');
      return resolveAlert(deps, actor(ctx), id, input.resolution);
    },
  },
  // ---- settings (read-only; secrets are never returned)
  {
    method: 'GET',
    path: '/settings/his-apps',
    permission: 'settings.view',
    handler: (deps, ctx) => listHisApps(deps.db, admin(ctx)),
  },
  {
    method: 'GET',
    path: '/settings/merchant-accounts',
    permission: 'settings.view',
    handler: (deps, ctx) => listMerchantAccounts(deps.db, admin(ctx)),
  },
  // ---- users and roles
  {
    method: 'GET',
    path: '/users',
    permission: 'users.manage',
    input: PageSchema,
    handler: (deps, ctx, q: z.infer<typeof PageSchema>) => listUsers(deps.db, admin(ctx), q),
  },
  {
    method: 'POST',
    path: '/users',
    permission: 'users.manage',
    input: CreateUserSchema,
    status: 201,
    handler: (deps, ctx, input: z.infer<typeof CreateUserSchema>) => createUser(deps, actor(ctx), input),
  },
  {
    method: 'PATCH',
    path: '/users/:id',
    permission: 'users.manage',
    input: UpdateUserSchema,
    handler: (deps, ctx, input: z.infer<typeof UpdateUserSchema>) =>
      updateUser(deps, actor(ctx), param(ctx, 'id'), input),
  },
  {
    method: 'POST',
    path: '/users/:id/password',
    permission: 'users.manage',
    input: ResetPasswordSchema,
    handler: (deps, ctx, input: z.infer<typeof ResetPasswordSchema>) =>
      resetPassword(deps, actor(ctx), param(ctx, 'id'), input.password),
  },
  {
    method: 'POST',
    path: '/users/:id/unlock',
    permission: 'users.manage',
    handler: (deps, ctx) => unlockUser(deps, actor(ctx), param(ctx, 'id')),
  },
  { method: 'GET', path: '/roles', permission: 'roles.manage', handler: (deps) => listRoles(deps.db) },
  {
    method: 'POST',
    path: '/roles',
    permission: 'roles.manage',
    input: CreateRoleSchema,
    status: 201,
    handler: (deps, ctx, input: z.infer<typeof CreateRoleSchema>) => createRole(deps, actor(ctx), input),
  },
  {
    method: 'PATCH',
    path: '/roles/:id',
    permission: 'roles.manage',
    input: UpdateRoleSchema,
    handler: (deps, ctx, input: z.infer<typeof UpdateRoleSchema>) =>
      updateRole(deps, actor(ctx), param(ctx, 'id'), input),
  },
  {
    method: 'DELETE',
    path: '/roles/:id',
    permission: 'roles.manage',
    handler: (deps, ctx) => deleteRole(deps, actor(ctx), param(ctx, 'id')),
  },
  // ---- reconciliation (modules/recon)
  ...RECON_ADMIN_ROUTES,
];

function meView(a: AdminPrincipal) {
  return {
    id: a.id,
    username: a.username,
    displayName: a.displayName,
    role: { code: a.roleCode, name: a.roleName },
    hospitalId: a.hospitalId,
    permissions: [...a.permissions].sort(),
  };
}

const LoginSchema = z
  .object({ username: z.string().min(1).max(64), password: z.string().min(1).max(128) })
  .strict();
const RefreshSchema = z.object({ refreshToken: z.string().min(10).max(200) }).strict();
const LogoutSchema = z.object({ refreshToken: z.string().min(10).max(200).optional() }).strict();

/** The admin API under `/admin/api`: login/refresh in the open, everything else behind a token and a permission. */
export function adminRoutes(deps: Deps, jwtSecret: string, extra: readonly AdminRoute[] = []): Router {
  const key = adminKey(jwtSecret);
  const r = new Router({ prefix: '/admin/api' });
  const session = (res: LoginResult) => ({
    accessToken: issueAdminToken(key, res.principal, deps.config.adminAccessTokenSeconds),
    refreshToken: res.refreshToken,
    expiresIn: deps.config.adminAccessTokenSeconds,
    user: meView(res.principal),
  });
  const origin = (ctx: Context) => ({ ip: ctx.ip, userAgent: ctx.get('user-agent') });
  r.post('/auth/login', validate(LoginSchema), async (ctx) => {
    const input = ctx.input as z.infer<typeof LoginSchema>;
    ctx.body = session(await login(deps, input.username, input.password, origin(ctx)));
  });
  r.post('/auth/refresh', validate(RefreshSchema), async (ctx) => {
    ctx.body = session(
      await refresh(deps, (ctx.input as z.infer<typeof RefreshSchema>).refreshToken, origin(ctx)),
    );
  });
  const auth = requireAdmin(deps.db, key);
  r.post('/auth/logout', auth, validate(LogoutSchema), async (ctx) => {
    await logout(deps, admin(ctx), (ctx.input as z.infer<typeof LogoutSchema>).refreshToken, origin(ctx));
    ctx.body = { ok: true };
  });
  for (const route of [...ADMIN_ROUTES, ...extra]) {
    const steps = [auth, permit(route.permission)];
    if (route.input) steps.push(validate(route.input, { limit: route.bodyLimit }));
    const handler = async (ctx: Context) => {
      const out = await route.handler(deps, ctx, ctx.input as never);
      ctx.status = route.status ?? 200;
      ctx.body = out;
    };
    const m = route.method.toLowerCase() as 'get' | 'post' | 'patch' | 'delete';
    r[m](route.path, ...steps, handler);
  }
  return r;
}
