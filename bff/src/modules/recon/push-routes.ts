import type { Context } from 'koa';
import type { z } from 'zod';
import type { AdminRoute } from '../admin/routes';
import type { Actor } from '../admin/service';
import {
  createPushTarget,
  CreatePushTargetSchema,
  DeliverySearchSchema,
  listPushTargets,
  PushTargetSearchSchema,
  redeliver,
  RedeliverSchema,
  searchDeliveries,
  updatePushTarget,
  UpdatePushTargetSchema,
} from './push-targets';

const actor = (ctx: Context): Actor => ({
  admin: ctx.state.admin!,
  origin: { ip: ctx.ip, userAgent: ctx.get('user-agent') },
  requestId: ctx.requestId,
});
const param = (ctx: Context, name: string) =>
  (ctx as unknown as { params: Record<string, string> }).params[name]!;

/**
 * The reconciliation file push in the admin API (/admin/api/recon/…): the HIS's SFTP/FTP targets (settings:
 * passwords and keys are write-only) and the deliveries, with "deliver this day now".
 */
export const RECON_PUSH_ROUTES: readonly AdminRoute[] = [
  {
    method: 'GET',
    path: '/recon/push-targets',
    permission: 'settings.view',
    input: PushTargetSearchSchema,
    handler: (deps, ctx, q: z.infer<typeof PushTargetSearchSchema>) =>
      listPushTargets(deps, ctx.state.admin!, q),
  },
  {
    method: 'POST',
    path: '/recon/push-targets',
    permission: 'settings.manage',
    input: CreatePushTargetSchema,
    status: 201,
    handler: (deps, ctx, input: z.infer<typeof CreatePushTargetSchema>) =>
      createPushTarget(deps, actor(ctx), input),
  },
  {
    // Also how a target is disabled ({"enabled": false}) or enabled again.
    method: 'PATCH',
    path: '/recon/push-targets/:id',
    permission: 'settings.manage',
    input: UpdatePushTargetSchema,
    handler: (deps, ctx, input: z.infer<typeof UpdatePushTargetSchema>) =>
      updatePushTarget(deps, actor(ctx), param(ctx, 'id'), input),
  },
  {
    method: 'GET',
    path: '/recon/deliveries',
    permission: 'recon.view',
    input: DeliverySearchSchema,
    handler: (deps, ctx, q: z.infer<typeof DeliverySearchSchema>) =>
      searchDeliveries(deps.db, ctx.state.admin!, q),
  },
  {
    method: 'POST',
    path: '/recon/deliveries',
    permission: 'recon.resolve',
    input: RedeliverSchema,
    handler: (deps, ctx, input: z.infer<typeof RedeliverSchema>) => redeliver(deps, actor(ctx), input),
  },
];
