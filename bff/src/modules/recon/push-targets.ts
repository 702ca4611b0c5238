import { isIP } from 'node:net';
import { posix } from 'node:path';
import { and, desc, eq, sql, type SQL } from 'drizzle-orm';
import { z } from 'zod';
import type { Db, Tx } from '../../db/client';
import { hospitals } from '../../db/schema';
import { reconDeliveries, reconPushTargets } from '../../db/schema-recon';
import type { Deps } from '../../deps';
import { AppError, conflict, notFound, validationFailed } from '../../lib/errors';
import { newId } from '../../lib/ids';
import type { SecretBox } from '../../lib/secret-box';
import { firstIssue } from '../../lib/validate';
import type { AdminPrincipal } from '../admin/auth-service';
import { PageSchema, scopeHospital } from '../admin/queries';
import { audit, type Actor } from '../admin/service';
import { publicSettings } from '../admin/settings';
import { isBusinessDate } from './dates';
import {
  deliverDay,
  notReadyReason,
  type PushSecrets,
  type PushTargetRow,
  type PushTargetSettings,
} from './file-push';
import { normalizeFingerprint, privateKeyProblem, PUSH_PROTOCOLS } from './push-transport';

/**
 * Push targets (where a hospital's daily reconciliation file goes: the HIS's SFTP or FTP server) and their
 * deliveries, for the admin API and provisioning. Passwords and keys are write-only: sealed on the way in,
 * never returned, never audited (the audit log says which secret changed, not its value).
 */

const BusinessDate = z.string().refine(isBusinessDate, 'a date as YYYY-MM-DD');

const HOST_NAME =
  /^[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?(\.[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*$/;
const Host = z
  .string()
  .trim()
  .min(1)
  .max(253)
  .refine((h) => HOST_NAME.test(h) || isIP(h) !== 0, 'a host name or an IP address');

const RemoteDir = z
  .string()
  .max(255)
  .regex(/^\/[^\0\r\n]*$/, 'an absolute directory on the server, starting with /')
  .refine((d) => !d.split('/').includes('..'), 'must not contain ..')
  .transform((d) => posix.normalize(d).replace(/(.)\/+$/, '$1'));

const HHmm = z.string().regex(/^([01]\d|2[0-3]):[0-5]\d$/, 'HH:mm, Beijing time');

const Fingerprint = z
  .string()
  .max(128)
  .refine(
    (s) => normalizeFingerprint(s) !== null,
    'a SHA-256 host key fingerprint: SHA256:<base64> as `ssh-keygen -lf <key>` prints it, or 64 hex digits',
  )
  .transform((s) => normalizeFingerprint(s)!);

const FileNamePattern = z
  .string()
  .max(128)
  .regex(/^[A-Za-z0-9_.{}-]+$/, 'letters, digits, _ . - and the placeholders {date} {yyyymmdd} {hospital}')
  .refine((p) => !p.startsWith('.'), 'must not start with a dot (temporary files do)')
  .refine(
    (p) => p.replace(/\{(date|yyyymmdd|hospital)\}/g, '').search(/[{}]/) === -1,
    'unknown placeholder: use {date}, {yyyymmdd} or {hospital}',
  )
  .refine((p) => /\{(date|yyyymmdd)\}/.test(p), 'must contain {date} or {yyyymmdd}, one file per day');

const CaCert = z
  .string()
  .max(20_000)
  .regex(/-----BEGIN CERTIFICATE-----[\s\S]+-----END CERTIFICATE-----/, 'a PEM certificate');

const Passive = z.literal(true, {
  error: 'passive mode is the only FTP mode supported (active mode does not pass hospital firewalls)',
});

/** Non-secret options of a target. */
export const PushTargetSettingsSchema = z
  .object({
    /** SFTP: the server's host key fingerprint; required in production. */
    hostKeySha256: Fingerprint.optional(),
    /** Default `recon_{hospital}_{yyyymmdd}.csv`. */
    fileNamePattern: FileNamePattern.optional(),
    passive: Passive.optional(),
    /** FTPS: the server's certificate or its CA (PEM), trusted besides the system's CAs. */
    caCertPem: CaCert.optional(),
    /** Plain FTP sends the password and the file unencrypted; production takes it only with this set. */
    allowPlaintext: z.boolean().optional(),
  })
  .strict();

const Secret = (max: number) => z.string().min(1).max(max);

/** A target as given by an admin or a provisioning file (secrets in clear, sealed before they are stored). */
export const PushTargetSchema = z
  .object({
    name: z.string().trim().min(1).max(64),
    protocol: z.enum(PUSH_PROTOCOLS),
    host: Host,
    /** Default 22 for SFTP, 21 for FTP and FTPS (explicit TLS). */
    port: z.number().int().min(1).max(65535).optional(),
    username: z
      .string()
      .min(1)
      .max(128)
      .regex(/^[^\0\r\n]+$/, 'no control characters'),
    remoteDir: RemoteDir.default('/'),
    /** Deliver before this Beijing time on the day after the business day. */
    deadline: HHmm.default('12:00'),
    settings: PushTargetSettingsSchema.default({}),
    password: Secret(256).optional(),
    /** SFTP: an OpenSSH or PEM private key. */
    privateKey: Secret(16_384).optional(),
    passphrase: Secret(256).optional(),
    enabled: z.boolean().default(true),
  })
  .strict();
export type PushTargetInput = z.infer<typeof PushTargetSchema>;

export const CreatePushTargetSchema = PushTargetSchema.extend({
  /** A super admin names the hospital; a hospital's admin creates targets for theirs only. */
  hospitalId: z.string().max(64).optional(),
}).strict();

/** Every field optional; a secret or a setting set to null is removed, one left out is kept. */
export const UpdatePushTargetSchema = z
  .object({
    name: z.string().trim().min(1).max(64).optional(),
    protocol: z.enum(PUSH_PROTOCOLS).optional(),
    host: Host.optional(),
    port: z.number().int().min(1).max(65535).optional(),
    username: z
      .string()
      .min(1)
      .max(128)
      .regex(/^[^\0\r\n]+$/, 'no control characters')
      .optional(),
    remoteDir: RemoteDir.optional(),
    deadline: HHmm.optional(),
    settings: z
      .object({
        hostKeySha256: Fingerprint.nullable().optional(),
        fileNamePattern: FileNamePattern.nullable().optional(),
        passive: Passive.nullable().optional(),
        caCertPem: CaCert.nullable().optional(),
        allowPlaintext: z.boolean().nullable().optional(),
      })
      .strict()
      .optional(),
    password: Secret(256).nullable().optional(),
    privateKey: Secret(16_384).nullable().optional(),
    passphrase: Secret(256).nullable().optional(),
    enabled: z.boolean().optional(),
  })
  .strict();

/** What a target must hold together, beyond each field's shape. `path: message`, or null when fine. */
export function targetProblem(
  t: {
    protocol: string;
    settings: PushTargetSettings;
    password?: string;
    privateKey?: string;
    passphrase?: string;
  },
  production: boolean,
): string | null {
  const s = t.settings;
  if (t.protocol === 'sftp') {
    if (!t.password && !t.privateKey) return 'password: SFTP needs a password or a privateKey';
    if (t.privateKey) {
      const p = privateKeyProblem(t.privateKey, t.passphrase);
      if (p) return `privateKey: ${p}`;
    }
    if (t.passphrase && !t.privateKey) return 'passphrase: only with a privateKey';
    if (production && !s.hostKeySha256)
      return 'settings.hostKeySha256: required in production (the SFTP server is recognised by its host key; get it with `ssh-keyscan <host> | ssh-keygen -lf -`)';
    if (s.passive) return 'settings.passive: FTP only';
    if (s.caCertPem) return 'settings.caCertPem: FTPS only';
  } else {
    if (!t.password) return 'password: FTP needs a password';
    if (t.privateKey || t.passphrase) return 'privateKey: SFTP only';
    if (s.hostKeySha256) return 'settings.hostKeySha256: SFTP only';
    if (s.caCertPem && t.protocol !== 'ftps') return 'settings.caCertPem: FTPS only';
    if (production && t.protocol === 'ftp' && !s.allowPlaintext)
      return 'protocol: plain FTP sends the password and the file unencrypted; use ftps or sftp, or set settings.allowPlaintext to accept it';
  }
  if (s.allowPlaintext && t.protocol !== 'ftp') return 'settings.allowPlaintext: plain FTP only';
  return null;
}

/** JSON drops undefined (and here null) fields: settings and secrets hold only what was given. */
function clean<T extends object>(o: T): T {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined && v !== null)) as T;
}

/** The row for a validated target (insert or upsert by hospital and name). */
export function pushTargetValues(secrets: SecretBox, hospitalId: string, t: PushTargetInput) {
  const sealed: PushSecrets = clean({
    password: t.password,
    privateKey: t.privateKey,
    passphrase: t.passphrase,
  });
  return {
    hospitalId,
    name: t.name,
    protocol: t.protocol,
    host: t.host,
    port: t.port ?? (t.protocol === 'sftp' ? 22 : 21),
    username: t.username,
    remoteDir: t.remoteDir,
    deadline: t.deadline,
    settings: clean(t.settings) as Record<string, unknown>,
    secretsEnc: secrets.seal(JSON.stringify(sealed)),
    enabled: t.enabled ? 1 : 0,
  };
}

/** Inserts or updates (by hospital and name) a validated target. */
export async function upsertPushTarget(
  tx: Tx,
  secrets: SecretBox,
  hospitalId: string,
  t: PushTargetInput,
): Promise<string> {
  const v = pushTargetValues(secrets, hospitalId, t);
  const [row] = await tx
    .insert(reconPushTargets)
    .values({ id: newId('rpt'), ...v })
    .onConflictDoUpdate({
      target: [reconPushTargets.hospitalId, reconPushTargets.name],
      set: { ...v, updatedAt: new Date() },
    })
    .returning({ id: reconPushTargets.id });
  return row!.id;
}

/** A target as staff see it: no secret, only whether one is set; a certificate as its fingerprint. */
function present(row: PushTargetRow, secrets: SecretBox) {
  const s = JSON.parse(secrets.open(row.secretsEnc)) as PushSecrets;
  return {
    id: row.id,
    hospitalId: row.hospitalId,
    name: row.name,
    protocol: row.protocol,
    host: row.host,
    port: row.port,
    username: row.username,
    remoteDir: row.remoteDir,
    deadline: row.deadline,
    settings: publicSettings(row.settings),
    hasPassword: Boolean(s.password),
    hasPrivateKey: Boolean(s.privateKey),
    enabled: row.enabled === 1,
    createdAt: row.createdAt,
    updatedAt: row.updatedAt,
  };
}

async function targetFor(db: Db, admin: AdminPrincipal, id: string): Promise<PushTargetRow> {
  const [row] = await db.select().from(reconPushTargets).where(eq(reconPushTargets.id, id));
  if (!row || (admin.hospitalId && row.hospitalId !== admin.hospitalId)) throw notFound('push target');
  return row;
}

export const PushTargetSearchSchema = z.object({ hospitalId: z.string().max(64).optional() });

export async function listPushTargets(
  deps: Pick<Deps, 'db' | 'secrets'>,
  admin: AdminPrincipal,
  q: z.infer<typeof PushTargetSearchSchema>,
) {
  const hospitalId = scopeHospital(admin, q.hospitalId);
  const rows = await deps.db
    .select()
    .from(reconPushTargets)
    .where(hospitalId ? eq(reconPushTargets.hospitalId, hospitalId) : undefined)
    .orderBy(reconPushTargets.hospitalId, reconPushTargets.name);
  return { items: rows.map((r) => present(r, deps.secrets)) };
}

const nameTaken = (name: string) =>
  conflict(`a push target named "${name}" already exists for this hospital`);
const isUniqueViolation = (e: unknown) =>
  (e as { code?: string }).code === '23505' || (e as { cause?: { code?: string } }).cause?.code === '23505';

export async function createPushTarget(
  deps: Deps,
  actor: Actor,
  input: z.infer<typeof CreatePushTargetSchema>,
) {
  const hospitalId = scopeHospital(actor.admin, input.hospitalId);
  if (!hospitalId) throw validationFailed('hospitalId: required (the hospital the file is for)');
  const [h] = await deps.db.select({ id: hospitals.id }).from(hospitals).where(eq(hospitals.id, hospitalId));
  if (!h) throw notFound('hospital');
  const { hospitalId: _ignored, ...t } = input;
  const problem = targetProblem(t, deps.config.nodeEnv === 'production');
  if (problem) throw validationFailed(problem);
  const id = newId('rpt');
  const row = await deps.db
    .transaction(async (tx) => {
      const [r] = await tx
        .insert(reconPushTargets)
        .values({ id, ...pushTargetValues(deps.secrets, hospitalId, t) })
        .returning();
      await audit(tx, actor, {
        action: 'recon.push_target.create',
        targetType: 'recon_push_target',
        targetId: id,
        after: { ...present(r!, deps.secrets), secretsSet: secretNames(t) },
      });
      return r!;
    })
    .catch((e: unknown) => {
      throw isUniqueViolation(e) ? nameTaken(t.name) : e;
    });
  return present(row, deps.secrets);
}

const secretNames = (s: { password?: unknown; privateKey?: unknown; passphrase?: unknown }) =>
  (['password', 'privateKey', 'passphrase'] as const).filter((k) => s[k] !== undefined);

export async function updatePushTarget(
  deps: Deps,
  actor: Actor,
  id: string,
  input: z.infer<typeof UpdatePushTargetSchema>,
) {
  const row = await targetFor(deps.db, actor.admin, id);
  const old = JSON.parse(deps.secrets.open(row.secretsEnc)) as PushSecrets;
  const pick = <K extends keyof PushSecrets>(k: K) =>
    input[k] === undefined ? old[k] : (input[k] ?? undefined);
  const secrets: PushSecrets = clean({
    password: pick('password'),
    privateKey: pick('privateKey'),
    passphrase: pick('passphrase'),
  });
  const settings = clean({
    ...(row.settings as PushTargetSettings),
    ...input.settings,
  }) as PushTargetSettings;
  const protocol = input.protocol ?? row.protocol;
  const problem = targetProblem({ protocol, settings, ...secrets }, deps.config.nodeEnv === 'production');
  if (problem) throw validationFailed(problem);
  const changedSecrets = secretNames(input);
  const set = {
    ...clean({
      name: input.name,
      protocol: input.protocol,
      host: input.host,
      port: input.port,
      username: input.username,
      remoteDir: input.remoteDir,
      deadline: input.deadline,
    }),
    settings: settings as Record<string, unknown>,
    ...(changedSecrets.length ? { secretsEnc: deps.secrets.seal(JSON.stringify(secrets)) } : {}),
    ...(input.enabled === undefined ? {} : { enabled: input.enabled ? 1 : 0 }),
    updatedAt: new Date(),
  };
  const onlyEnabled = Object.keys(input).length === 1 && input.enabled !== undefined;
  const updated = await deps.db
    .transaction(async (tx) => {
      const [r] = await tx.update(reconPushTargets).set(set).where(eq(reconPushTargets.id, id)).returning();
      await audit(tx, actor, {
        action: onlyEnabled
          ? input.enabled
            ? 'recon.push_target.enable'
            : 'recon.push_target.disable'
          : 'recon.push_target.update',
        targetType: 'recon_push_target',
        targetId: id,
        before: present(row, deps.secrets),
        after: { ...present(r!, deps.secrets), secretsChanged: changedSecrets },
      });
      return r!;
    })
    .catch((e: unknown) => {
      throw isUniqueViolation(e) ? nameTaken(input.name ?? row.name) : e;
    });
  return present(updated, deps.secrets);
}

export const DeliverySearchSchema = PageSchema.extend({
  hospitalId: z.string().max(64).optional(),
  targetId: z.string().max(64).optional(),
  status: z.enum(['PENDING', 'DELIVERED', 'FAILED']).optional(),
  /** Business dates, inclusive. */
  from: BusinessDate.optional(),
  to: BusinessDate.optional(),
});

export async function searchDeliveries(
  db: Db,
  admin: AdminPrincipal,
  q: z.infer<typeof DeliverySearchSchema>,
) {
  const hospitalId = scopeHospital(admin, q.hospitalId);
  const where: SQL[] = [];
  if (hospitalId) where.push(eq(reconDeliveries.hospitalId, hospitalId));
  if (q.targetId) where.push(eq(reconDeliveries.targetId, q.targetId));
  if (q.status) where.push(eq(reconDeliveries.status, q.status));
  if (q.from) where.push(sql`${reconDeliveries.businessDate} >= ${q.from}`);
  if (q.to) where.push(sql`${reconDeliveries.businessDate} <= ${q.to}`);
  const cond = where.length ? and(...where) : undefined;
  const [rows, [count]] = await Promise.all([
    db
      .select({
        delivery: reconDeliveries,
        targetName: reconPushTargets.name,
        protocol: reconPushTargets.protocol,
        host: reconPushTargets.host,
      })
      .from(reconDeliveries)
      .leftJoin(reconPushTargets, eq(reconPushTargets.id, reconDeliveries.targetId))
      .where(cond)
      .orderBy(desc(reconDeliveries.businessDate), reconDeliveries.targetId)
      .limit(q.pageSize)
      .offset((q.page - 1) * q.pageSize),
    db
      .select({ n: sql<number>`count(*)`.mapWith(Number) })
      .from(reconDeliveries)
      .where(cond),
  ]);
  return {
    items: rows.map((r) => ({ ...r.delivery, targetName: r.targetName, protocol: r.protocol, host: r.host })),
    total: count?.n ?? 0,
    page: q.page,
    pageSize: q.pageSize,
  };
}

export const RedeliverSchema = z
  .object({
    targetId: z.string().min(1).max(64),
    date: BusinessDate,
    /** Send again although the day was delivered (the file on the server is replaced atomically). */
    force: z.boolean().default(false),
  })
  .strict();

/**
 * Delivers a day's file to a target now, on an admin's request. A delivered day is sent again only with
 * `force`; without it the answer is the existing delivery (`already_delivered`). A day not reconciled (or
 * whose latest run failed) is refused with nothing recorded. A failed try is recorded like the job's (and
 * retried before the deadline), audited, and answered with `his_unavailable` (no answer) or `his_error`.
 */
export async function redeliver(deps: Deps, actor: Actor, input: z.infer<typeof RedeliverSchema>) {
  const target = await targetFor(deps.db, actor.admin, input.targetId);
  if (target.enabled !== 1) throw conflict('the push target is disabled: enable it first');
  const notReady = await notReadyReason(deps, target.hospitalId, input.date);
  if (notReady) throw conflict(notReady);
  const r = await deliverDay(deps, target, input.date, {
    triggeredBy: `admin:${actor.admin.id}`,
    force: input.force,
  });
  await audit(deps.db, actor, {
    action: 'recon.redeliver',
    targetType: 'recon_delivery',
    targetId: r.delivery.id,
    after: {
      targetId: target.id,
      date: input.date,
      force: input.force,
      outcome: r.outcome,
      status: r.delivery.status,
      fileSha256: r.delivery.fileSha256,
      lastError: r.outcome === 'failed' ? r.delivery.lastError : null,
    },
  });
  if (r.outcome === 'failed')
    throw new AppError(
      r.error.kind === 'unreachable' ? 'his_unavailable' : 'his_error',
      `the file was not delivered: ${r.error.message}`,
      { expose: true, cause: r.error, details: { deliveryId: r.delivery.id } },
    );
  return { outcome: r.outcome, delivery: r.delivery };
}

/** For provisioning: a target from a hospital file, validated like the admin API's; `path: message` on error. */
export function parsePushTarget(
  value: unknown,
  production: boolean,
): { ok: true; target: PushTargetInput } | { ok: false; message: string } {
  const parsed = PushTargetSchema.safeParse(value);
  if (!parsed.success) return { ok: false, message: firstIssue(parsed.error) };
  const problem = targetProblem(parsed.data, production);
  return problem ? { ok: false, message: problem } : { ok: true, target: parsed.data };
}
