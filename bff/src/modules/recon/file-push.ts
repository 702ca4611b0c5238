import { createHash } from 'node:crypto';
import { posix } from 'node:path';
import { and, desc, eq, sql } from 'drizzle-orm';
import { hospitals } from '../../db/schema';
import type { Tx } from '../../db/client';
import { reconDeliveries, reconPushTargets, reconRuns } from '../../db/schema-recon';
import type { Deps } from '../../deps';
import { QUEUES } from '../../jobs/queue';
import { newId } from '../../lib/ids';
import { raiseAlert } from '../payments/service';
import { addDays } from './dates';
import { platformReconFile } from './platform-file';
import { PushError, uploadFile, type PushProtocol } from './push-transport';

/**
 * Delivery of the daily reconciliation file (平台对账文件) to the HIS's SFTP or FTP server: after the day's
 * reconciliation run, one job per enabled push target uploads the file (temporary name, size check,
 * rename), records what was sent, and tries again every `RECON_PUSH_RETRY_MINUTES` until the target's
 * deadline (Beijing time on the day after the business day); still not delivered then, the delivery is
 * FAILED and a critical alert is raised. A delivered day is not sent again unless an admin forces it.
 */

/** The push job: one target, one business day. */
export interface ReconPushJob {
  targetId: string;
  date: string;
}

export type PushTargetRow = typeof reconPushTargets.$inferSelect;
export type DeliveryRow = typeof reconDeliveries.$inferSelect;

/** What `recon_push_targets.secrets_enc` holds once opened. */
export interface PushSecrets {
  password?: string;
  privateKey?: string;
  passphrase?: string;
}

/** Non-secret options of a target (`recon_push_targets.settings`). */
export interface PushTargetSettings {
  /** SFTP: the server's host key, `SHA256:<base64>`; required in production. */
  hostKeySha256?: string;
  /** The remote file name; `{date}` (YYYY-MM-DD), `{yyyymmdd}`, `{hospital}` (the hospital's code). */
  fileNamePattern?: string;
  /** FTP: passive mode, the only mode supported (kept for readers of the row). */
  passive?: true;
  /** FTPS: the server's certificate or its CA, PEM, trusted besides the system's CAs. */
  caCertPem?: string;
  /** Plain FTP: a person accepted that the password and file travel unencrypted (required in production). */
  allowPlaintext?: boolean;
}

export const DEFAULT_FILE_NAME_PATTERN = 'recon_{hospital}_{yyyymmdd}.csv';

/** The remote file name for a day. */
export function fileNameFor(pattern: string, hospitalCode: string, date: string): string {
  return pattern
    .replaceAll('{date}', date)
    .replaceAll('{yyyymmdd}', date.replaceAll('-', ''))
    .replaceAll('{hospital}', hospitalCode);
}

/** The instant a business day's file is due: `HH:mm` Beijing time on the next day. */
export function deadlineOf(date: string, hhmm: string): Date {
  return new Date(`${addDays(date, 1)}T${hhmm}:00+08:00`);
}

const singletonKey = (targetId: string, date: string) => `${targetId}:${date}`;

/**
 * Enqueues the push of a day's file to every enabled target of a hospital (called once the day's run is
 * recorded). The queue keeps one waiting job per target and day, so a re-run does not start a second
 * chain of tries; a day already delivered is a no-op for the job.
 */
export async function enqueueReconPush(
  deps: Pick<Deps, 'db' | 'jobs'>,
  hospitalId: string,
  date: string,
  tx?: Tx,
): Promise<number> {
  const targets = await (tx ?? deps.db)
    .select({ id: reconPushTargets.id })
    .from(reconPushTargets)
    .where(and(eq(reconPushTargets.hospitalId, hospitalId), eq(reconPushTargets.enabled, 1)));
  for (const t of targets)
    await deps.jobs.send<ReconPushJob>(
      QUEUES.reconPush,
      { targetId: t.id, date },
      { singletonKey: singletonKey(t.id, date), retryLimit: 3, retryDelaySeconds: 60 },
      tx,
    );
  return targets.length;
}

/** The worker: delivers unless the day is delivered or the target disabled or gone. */
export async function runReconPush(deps: Deps, job: ReconPushJob): Promise<DeliveryResult | null> {
  const [target] = await deps.db.select().from(reconPushTargets).where(eq(reconPushTargets.id, job.targetId));
  if (!target || target.enabled !== 1) {
    deps.log.info(
      { targetId: job.targetId, date: job.date },
      'recon push skipped: target disabled or removed',
    );
    return null;
  }
  return deliverDay(deps, target, job.date, { triggeredBy: 'job:recon-push' });
}

export type DeliveryResult =
  | { outcome: 'delivered'; delivery: DeliveryRow }
  /** Nothing sent: the day was delivered before and the caller did not force it. */
  | { outcome: 'already_delivered'; delivery: DeliveryRow }
  /** This try failed; `retryAt` when another is scheduled, else the delivery is FAILED (or stays DELIVERED). */
  | { outcome: 'failed'; delivery: DeliveryRow; error: PushError; retryAt: Date | null };

/** Why the day's file cannot be built yet, or null when its latest reconciliation run is DONE. */
export async function notReadyReason(
  deps: Pick<Deps, 'db'>,
  hospitalId: string,
  date: string,
): Promise<string | null> {
  const [run] = await deps.db
    .select({ status: reconRuns.status })
    .from(reconRuns)
    .where(and(eq(reconRuns.hospitalId, hospitalId), eq(reconRuns.businessDate, date)))
    .orderBy(desc(reconRuns.startedAt))
    .limit(1);
  if (!run) return `${date} has not been reconciled yet`;
  if (run.status !== 'DONE')
    return `the latest reconciliation run of ${date} is ${run.status}, not DONE: the file is not sent`;
  return null;
}

/**
 * One try at delivering a day's file to a target, recorded idempotently per (target, day): attempts, the
 * last error, and on success what was sent (name, path, SHA-256, bytes, when). A DELIVERED day is left
 * alone unless `force`. A day whose latest reconciliation run is missing or not DONE is not sent: that is a
 * failed try like any other (admins are told before anything is recorded, see push-targets.ts).
 */
export async function deliverDay(
  deps: Deps,
  target: PushTargetRow,
  date: string,
  opts: { triggeredBy: string; force?: boolean },
): Promise<DeliveryResult> {
  const notReady = await notReadyReason(deps, target.hospitalId, date);
  const now = deps.clock.now();
  const [claimed] = await deps.db
    .insert(reconDeliveries)
    .values({
      id: newId('rdl', now.getTime()),
      hospitalId: target.hospitalId,
      targetId: target.id,
      businessDate: date,
      status: 'PENDING',
      attempts: 1,
      triggeredBy: opts.triggeredBy,
    })
    .onConflictDoUpdate({
      target: [reconDeliveries.targetId, reconDeliveries.businessDate],
      set: {
        attempts: sql`${reconDeliveries.attempts} + 1`,
        triggeredBy: opts.triggeredBy,
        updatedAt: now,
      },
      setWhere: opts.force ? undefined : sql`${reconDeliveries.status} <> 'DELIVERED'`,
    })
    .returning();
  if (!claimed) {
    const [done] = await deps.db
      .select()
      .from(reconDeliveries)
      .where(and(eq(reconDeliveries.targetId, target.id), eq(reconDeliveries.businessDate, date)));
    return { outcome: 'already_delivered', delivery: done! };
  }
  const log = deps.log.child({
    targetId: target.id,
    deliveryId: claimed.id,
    date,
    attempt: claimed.attempts,
  });
  let error: PushError;
  if (notReady) {
    error = new PushError('refused', notReady);
  } else {
    try {
      const [h] = await deps.db
        .select({ code: hospitals.code })
        .from(hospitals)
        .where(eq(hospitals.id, target.hospitalId));
      const settings = target.settings as PushTargetSettings;
      const secrets = JSON.parse(deps.secrets.open(target.secretsEnc)) as PushSecrets;
      const content = Buffer.from(await platformReconFile(deps.db, target.hospitalId, date), 'utf8');
      const fileName = fileNameFor(
        settings.fileNamePattern ?? DEFAULT_FILE_NAME_PATTERN,
        h?.code ?? '',
        date,
      );
      const sha256 = createHash('sha256').update(content).digest('hex');
      const sent = await uploadFile(
        {
          protocol: target.protocol as PushProtocol,
          host: target.host,
          port: target.port,
          username: target.username,
          password: secrets.password,
          privateKey: secrets.privateKey,
          passphrase: secrets.passphrase,
          hostKeySha256: settings.hostKeySha256,
          requireHostKey: deps.config.nodeEnv === 'production',
          caCertPem: settings.caCertPem,
        },
        target.remoteDir,
        fileName,
        content,
        deps.config.outboundTimeoutMs,
      );
      if (target.protocol === 'sftp' && !settings.hostKeySha256)
        log.warn(
          { hostKeySha256: sent.hostKeySha256 },
          'recon push: SFTP host key not pinned (set settings.hostKeySha256); accepted outside production',
        );
      const deliveredAt = deps.clock.now();
      const [row] = await deps.db
        .update(reconDeliveries)
        .set({
          status: 'DELIVERED',
          fileName,
          remotePath: posix.join(target.remoteDir, fileName),
          fileSha256: sha256,
          fileBytes: content.length,
          lastError: null,
          deliveredAt,
          updatedAt: deliveredAt,
        })
        .where(eq(reconDeliveries.id, claimed.id))
        .returning();
      log.info({ remotePath: sent.remotePath, bytes: content.length, sha256 }, 'recon file delivered');
      return { outcome: 'delivered', delivery: row! };
    } catch (e) {
      error =
        e instanceof PushError
          ? e
          : new PushError('refused', `cannot deliver: ${(e as Error).message}`, { cause: e });
    }
  }
  return recordFailure(deps, target, claimed, date, error, log);
}

/**
 * A failed try: before the deadline the delivery stays PENDING and the next try is scheduled in the same
 * transaction; past it the delivery is FAILED and a critical alert raised (once). A forced re-delivery of a
 * DELIVERED day that fails leaves it DELIVERED: the previous file is still whole on the server.
 */
async function recordFailure(
  deps: Deps,
  target: PushTargetRow,
  claimed: DeliveryRow,
  date: string,
  error: PushError,
  log: Deps['log'],
): Promise<DeliveryResult> {
  const now = deps.clock.now();
  const deadline = deadlineOf(date, target.deadline);
  const retryAt = new Date(now.getTime() + deps.config.reconPushRetryMinutes * 60_000);
  const lastError = error.message.slice(0, 500);
  const prior = claimed.status;
  const status = prior === 'DELIVERED' ? 'DELIVERED' : retryAt <= deadline ? 'PENDING' : 'FAILED';
  const retry = status === 'PENDING';
  const row = await deps.db.transaction(async (tx) => {
    const [r] = await tx
      .update(reconDeliveries)
      .set({ status, lastError, updatedAt: now })
      .where(eq(reconDeliveries.id, claimed.id))
      .returning();
    if (retry)
      await deps.jobs.send<ReconPushJob>(
        QUEUES.reconPush,
        { targetId: target.id, date },
        {
          startAfterSeconds: deps.config.reconPushRetryMinutes * 60,
          singletonKey: singletonKey(target.id, date),
          retryLimit: 3,
          retryDelaySeconds: 60,
        },
        tx,
      );
    if (status === 'FAILED' && prior !== 'FAILED')
      await raiseAlert(tx, {
        hospitalId: target.hospitalId,
        kind: 'recon_push_failed',
        severity: 'critical',
        message: `${date} 对账文件未能在 ${target.deadline} 前推送到「${target.name}」（${target.protocol}://${target.host}:${target.port}），已尝试 ${claimed.attempts} 次：${lastError}`,
        data: {
          date,
          targetId: target.id,
          deliveryId: claimed.id,
          attempts: claimed.attempts,
          lastError,
        },
      });
    return r!;
  });
  log.warn(
    { err: { message: lastError, kind: error.kind }, status, retryAt: retry ? retryAt : null },
    'recon push failed',
  );
  return { outcome: 'failed', delivery: row, error, retryAt: retry ? retryAt : null };
}
