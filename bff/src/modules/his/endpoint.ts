import type { BillMode } from '@hp/shared';
import { and, eq } from 'drizzle-orm';
import { hisApps } from '../../db/schema';
import type { Deps } from '../../deps';
import { AppError } from '../../lib/errors';
import type { HisEndpoint } from './client';

/** How a hospital's HIS is wired: its bill mode, and where we call it (null: no endpoint configured). */
export interface HisSetup {
  billMode: BillMode;
  endpoint: HisEndpoint | null;
}

/** The hospital's enabled HIS app as a call endpoint (secret unsealed), or null when it has none. */
export async function hisSetupFor(
  deps: Pick<Deps, 'db' | 'secrets'>,
  hospitalId: string,
): Promise<HisSetup | null> {
  const [app] = await deps.db
    .select({
      appId: hisApps.appId,
      secretEnc: hisApps.secretEnc,
      callbackBaseUrl: hisApps.callbackBaseUrl,
      billMode: hisApps.billMode,
    })
    .from(hisApps)
    .where(and(eq(hisApps.hospitalId, hospitalId), eq(hisApps.enabled, true)))
    .limit(1);
  if (!app) return null;
  return {
    billMode: app.billMode === 'pull' ? 'pull' : 'push',
    endpoint: app.callbackBaseUrl
      ? {
          hospitalId,
          appId: app.appId,
          secret: deps.secrets.open(app.secretEnc),
          baseUrl: app.callbackBaseUrl,
        }
      : null,
  };
}

/** The endpoint to call the hospital's HIS at; `his_unavailable` when none is configured. */
export async function requireHisEndpoint(
  deps: Pick<Deps, 'db' | 'secrets'>,
  hospitalId: string,
): Promise<HisEndpoint> {
  const setup = await hisSetupFor(deps, hospitalId);
  if (!setup?.endpoint)
    throw new AppError('his_unavailable', 'the hospital system (HIS) cannot be reached from here', {
      details: { reason: 'no HIS endpoint configured', hospitalId },
    });
  return setup.endpoint;
}
