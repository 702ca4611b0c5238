import { readFileSync } from 'node:fs';
import { z } from 'zod';

/**
 * The whole configuration of one bff process. Built once at boot by {@link loadConfig} from the defaults
 * of the environment (below), then environment variables, then explicit overrides (tests); parsed by zod
 * and frozen. No other module reads `process.env`.
 */
const ConfigSchema = z
  .object({
    /** development | test | production. Production refuses the sandbox and demands real secrets. */
    nodeEnv: z.enum(['development', 'test', 'production']),
    /** Interface and port the bff listens on (PORT, HOST). Port 0 picks a free port (tests). */
    host: z.string().min(1),
    port: z.coerce.number().int().min(0).max(65535),
    /** Base URL channels and the HIS use to reach us: notification URLs are built from it (PUBLIC_BASE_URL). */
    publicBaseUrl: z.url(),
    /** postgres://… selects a PostgreSQL server; unset selects embedded PGlite in `<dataDir>/pglite` (DATABASE_URL). */
    databaseUrl: z
      .string()
      .regex(/^postgres(ql)?:\/\//, 'must start with postgres:// or postgresql://')
      .optional(),
    /** Pool size for a PostgreSQL server (DATABASE_POOL_MAX). */
    databasePoolMax: z.coerce.number().int().min(2).max(200),
    /** Data directory: PGlite files, its lockfile, sandbox keys, generated dev secrets (DATA_DIR). */
    dataDir: z.string().min(1),
    /** pino level (LOG_LEVEL). */
    logLevel: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']),
    /** Append the JSON log lines to this file instead of standard output (LOG_FILE); tests scan it for leaks. */
    logFile: z.string().min(1).optional(),
    /** Run the external-party simulators and point the adapters at them (SANDBOX=1). Never in production. */
    sandbox: z.boolean({ error: 'must be 1/0, true/false, yes/no or on/off' }),
    /** Fixed ports of the simulators in the demo; 0 = random (tests). */
    sandboxPorts: z.object({
      wechatpay: z.number().int().min(0),
      his: z.number().int().min(0),
      alipay: z.number().int().min(0),
      /** The bank aggregator (聚合支付) simulator. */
      bankpay: z.number().int().min(0),
      /** The MISPOS acquirer simulator (bank terminals' statements); unset: a random port. */
      mispos: z.number().int().min(0).optional(),
      /** The credit-pay (信用就医) bank simulator; unset: a random port. */
      credit: z.number().int().min(0).optional(),
      /** The national insurance platform simulator; unset: a random port. */
      nhsa: z.number().int().min(0).optional(),
    }),
    /** Seed the two demo hospitals, their patients and pending bills at boot when the database is empty (SEED_DEMO=1). */
    seedDemo: z.boolean({ error: 'must be 1/0, true/false, yes/no or on/off' }),
    /**
     * Secret for patient session tokens (PATIENT_JWT_SECRET, or PATIENT_JWT_SECRET_FILE). Required in
     * production; elsewhere generated once and kept in the data directory.
     */
    patientJwtSecret: z.string().min(32, 'must be at least 32 characters').optional(),
    /**
     * Secret for admin access tokens (ADMIN_JWT_SECRET, or ADMIN_JWT_SECRET_FILE). Required in production;
     * elsewhere generated once and kept in the data directory.
     */
    adminJwtSecret: z.string().min(32, 'must be at least 32 characters').optional(),
    /** Admin access-token lifetime in seconds (ADMIN_ACCESS_TOKEN_SECONDS); short: refresh tokens renew it. */
    adminAccessTokenSeconds: z.coerce.number().int().min(60).max(3600),
    /** Admin refresh-token lifetime in seconds (ADMIN_REFRESH_TOKEN_SECONDS): one working shift by default. */
    adminRefreshTokenSeconds: z.coerce
      .number()
      .int()
      .min(300)
      .max(30 * 86400),
    /** Failed logins in a row that lock an admin account (ADMIN_LOCKOUT_THRESHOLD). */
    adminLockoutThreshold: z.coerce.number().int().min(3).max(20),
    /** How long a locked admin account stays locked, in minutes (ADMIN_LOCKOUT_MINUTES). */
    adminLockoutMinutes: z.coerce.number().int().min(1).max(1440),
    /**
     * The first administrator, created at boot when no admin user exists (ADMIN_INITIAL_USERNAME and
     * ADMIN_INITIAL_PASSWORD or ADMIN_INITIAL_PASSWORD_FILE). Ignored once any admin user exists.
     */
    adminInitialUsername: z
      .string()
      .regex(/^[a-zA-Z0-9_.-]{3,32}$/, '3-32 letters, digits, _ . -')
      .optional(),
    adminInitialPassword: z.string().min(10, 'must be at least 10 characters').optional(),
    /** Patient session lifetime in seconds. */
    patientSessionSeconds: z.coerce.number().int().min(60).max(86400),
    /**
     * 32-byte key (64 hex chars) that encrypts secrets at rest: HIS app secrets, merchant keys
     * (SECRETS_KEY, or SECRETS_KEY_FILE). Required in production; elsewhere generated in the data directory.
     */
    secretsKey: z
      .string()
      .regex(/^[0-9a-fA-F]{64}$/, 'must be 64 hex characters (32 bytes)')
      .optional(),
    /** Lifetime of the signed token in a slip's QR code, in seconds (SLIP_TOKEN_SECONDS); default one day. */
    slipTokenSeconds: z.coerce
      .number()
      .int()
      .min(300)
      .max(7 * 86400),
    /**
     * Open API: requests per second each HIS app may make, counted over every bff process: at most ten times
     * this in any ten seconds (OPEN_API_RATE_PER_SECOND).
     */
    openApiRatePerSecond: z.coerce.number().int().min(1).max(100000),
    /** Open API: most calls of an app in any one second, over every bff process (OPEN_API_RATE_BURST). */
    openApiRateBurst: z.coerce.number().int().min(1).max(100000),
    /** Open API: accepted clock skew of a signed request, in seconds (OPEN_API_WINDOW_SECONDS). */
    openApiWindowSeconds: z.coerce.number().int().min(30).max(3600),
    /** Largest request body accepted anywhere, in bytes (BODY_LIMIT_BYTES). */
    bodyLimitBytes: z.coerce
      .number()
      .int()
      .min(1024)
      .max(50 * 1024 * 1024),
    /** Order lifetime by trade type, in minutes: QR 15, JSAPI 120 by default. */
    orderExpiryMinutes: z.object({
      NATIVE: z.number().int().min(1),
      JSAPI: z.number().int().min(1),
      H5: z.number().int().min(1),
      MICROPAY: z.number().int().min(1),
    }),
    /** Delays in seconds between channel queries of a PAYING order; the last repeats until the order expires. */
    paymentQueryBackoffSeconds: z.array(z.number().min(0.1)).min(1),
    /** Payment codes: seconds between channel queries while the patient confirms (MICROPAY_POLL_SECONDS). */
    micropayPollSeconds: z.coerce.number().min(0.1),
    /** Payment codes: how long to wait for the patient before reversing, in seconds; at least 15 (MICROPAY_TIMEOUT_SECONDS). */
    micropayTimeoutSeconds: z.coerce.number().min(1),
    /** HIS result push: first retry delay in seconds, doubled (with jitter) per retry (HIS_PUSH_RETRY_DELAY_SECONDS). */
    hisPushRetryDelaySeconds: z.coerce.number().int().min(1),
    /** HIS result push: retries before the order is flagged as a one-sided entry (HIS_PUSH_RETRY_LIMIT). */
    hisPushRetryLimit: z.coerce.number().int().min(0).max(30),
    /** How often an idle job worker polls, in seconds (JOB_POLLING_INTERVAL_SECONDS; pg-boss minimum 0.5). */
    jobPollingIntervalSeconds: z.coerce.number().min(0.5),
    /** Timeout of one call to a channel or the HIS, in milliseconds (OUTBOUND_TIMEOUT_MS). */
    outboundTimeoutMs: z.coerce.number().int().min(100).max(60000),
    /** Graceful shutdown: how long to wait for in-flight requests and jobs (SHUTDOWN_TIMEOUT_MS). */
    shutdownTimeoutMs: z.coerce.number().int().min(0),
    /** Reconciliation: days a possible cut-off difference waits for its counterpart before it is an alert (RECON_HOLD_DAYS). */
    reconHoldDays: z.coerce.number().int().min(0).max(30),
    /** Reconciliation: daily run time, Beijing `HH:MM`, after the channels publish their statements (RECON_DAILY_AT). */
    reconDailyAt: z.string().regex(/^([01]\d|2[0-3]):[0-5]\d$/, 'HH:MM'),
    /** Real-time one-sided entries: minutes a paid order may wait for the HIS acknowledgement before an alert (HIS_ACK_ALERT_MINUTES). */
    hisAckAlertMinutes: z.coerce.number().int().min(1).max(1440),
    /**
     * WeChat's server API (code2session, OAuth access token): `https://api.weixin.qq.com/` (WECHAT_API_BASE_URL).
     * The sandbox points login at its WeChat simulator instead.
     */
    wechatApiBaseUrl: z.url(),
    /** Where the official-account OAuth page lives: `https://open.weixin.qq.com/` (WECHAT_OPEN_BASE_URL). */
    wechatOpenBaseUrl: z.url(),
    /**
     * The patient mini-program (WEAPP_APPID, WEAPP_SECRET or WEAPP_SECRET_FILE): `wx.login` codes are exchanged
     * with these. For JSAPI payment in the mini-program the appid must be the one the merchant account pays
     * under. Unset: mini-program login answers `service_unavailable` (the sandbox has its own app).
     */
    weappAppId: z
      .string()
      .regex(/^wx[0-9a-f]{16}$/, 'must be "wx" followed by 16 hex characters')
      .optional(),
    weappSecret: z.string().min(16, 'must be at least 16 characters').optional(),
    /**
     * The official account whose OAuth logs patients in to the H5 inside WeChat (WECHAT_OA_APPID,
     * WECHAT_OA_SECRET or WECHAT_OA_SECRET_FILE). Unset: the H5 offers no WeChat login (the sandbox has its own).
     */
    wechatOaAppId: z
      .string()
      .regex(/^wx[0-9a-f]{16}$/, 'must be "wx" followed by 16 hex characters')
      .optional(),
    wechatOaSecret: z.string().min(16, 'must be at least 16 characters').optional(),
    /**
     * WeChat subscription messages (订阅消息) of the mini-program: message kind → template id, as JSON
     * (WECHAT_SUBSCRIBE_TEMPLATES, e.g. `{"payment_succeeded":"…"}`). A kind without a template is not sent;
     * templates take `thing1` (title), `amount2` (yuan) and `time3` (Beijing time). Unset in the sandbox: its demo
     * templates.
     */
    wechatSubscribeTemplates: z.record(z.string().min(1), z.string().min(1).max(128)).optional(),
    /** Reconciliation file push to the HIS: minutes between tries until the target's deadline (RECON_PUSH_RETRY_MINUTES). */
    reconPushRetryMinutes: z.coerce.number().int().min(1).max(240),
  })
  .strict()
  .superRefine((c, ctx) => {
    if (c.nodeEnv === 'production') {
      if (c.sandbox)
        ctx.addIssue({
          code: 'custom',
          path: ['sandbox'],
          message: 'the sandbox cannot run with NODE_ENV=production',
        });
      if (!c.patientJwtSecret)
        ctx.addIssue({
          code: 'custom',
          path: ['patientJwtSecret'],
          message: 'required in production (PATIENT_JWT_SECRET or PATIENT_JWT_SECRET_FILE)',
        });
      if (!c.adminJwtSecret)
        ctx.addIssue({
          code: 'custom',
          path: ['adminJwtSecret'],
          message: 'required in production (ADMIN_JWT_SECRET or ADMIN_JWT_SECRET_FILE)',
        });
      if (!c.secretsKey)
        ctx.addIssue({
          code: 'custom',
          path: ['secretsKey'],
          message: 'required in production (SECRETS_KEY or SECRETS_KEY_FILE)',
        });
      if (!c.databaseUrl)
        ctx.addIssue({
          code: 'custom',
          path: ['databaseUrl'],
          message: 'production needs a PostgreSQL server (DATABASE_URL)',
        });
      if (c.micropayTimeoutSeconds < 15)
        ctx.addIssue({
          code: 'custom',
          path: ['micropayTimeoutSeconds'],
          message: 'must be at least 15: WeChat refuses a reverse within 15 s of the payment',
        });
      if (!c.publicBaseUrl.startsWith('https://'))
        ctx.addIssue({ code: 'custom', path: ['publicBaseUrl'], message: 'must be https:// in production' });
      for (const k of ['wechatApiBaseUrl', 'wechatOpenBaseUrl'] as const)
        if (!c[k].startsWith('https://'))
          ctx.addIssue({ code: 'custom', path: [k], message: 'must be https:// in production' });
    }
    for (const [id, secret, name] of [
      ['weappAppId', 'weappSecret', 'WEAPP'],
      ['wechatOaAppId', 'wechatOaSecret', 'WECHAT_OA'],
    ] as const)
      if (Boolean(c[id]) !== Boolean(c[secret]))
        ctx.addIssue({
          code: 'custom',
          path: [secret],
          message: `set both ${name}_APPID and ${name}_SECRET (or neither)`,
        });
    if (Boolean(c.adminInitialUsername) !== Boolean(c.adminInitialPassword))
      ctx.addIssue({
        code: 'custom',
        path: ['adminInitialPassword'],
        message: 'set both ADMIN_INITIAL_USERNAME and ADMIN_INITIAL_PASSWORD (or neither)',
      });
  });

export type Config = Readonly<z.infer<typeof ConfigSchema>>;
export type ConfigInput = z.input<typeof ConfigSchema>;
type NodeEnv = Config['nodeEnv'];

const base: Omit<ConfigInput, 'nodeEnv'> = {
  host: '127.0.0.1',
  port: 3000,
  publicBaseUrl: 'http://127.0.0.1:3000',
  databasePoolMax: 20,
  dataDir: './data',
  logLevel: 'info',
  sandbox: true,
  sandboxPorts: {
    wechatpay: 4101,
    his: 4102,
    alipay: 4103,
    bankpay: 4104,
    mispos: 4105,
    credit: 4106,
    nhsa: 4107,
  },
  seedDemo: true,
  patientSessionSeconds: 7200,
  adminAccessTokenSeconds: 900,
  adminRefreshTokenSeconds: 12 * 3600,
  adminLockoutThreshold: 5,
  adminLockoutMinutes: 15,
  openApiWindowSeconds: 300,
  slipTokenSeconds: 86400,
  openApiRatePerSecond: 100,
  openApiRateBurst: 200,
  bodyLimitBytes: 1024 * 1024,
  orderExpiryMinutes: { NATIVE: 15, JSAPI: 120, H5: 15, MICROPAY: 2 },
  paymentQueryBackoffSeconds: [5, 10, 15, 30, 60, 60, 120, 120, 300],
  micropayPollSeconds: 5,
  micropayTimeoutSeconds: 45,
  hisPushRetryDelaySeconds: 30,
  // 30 s doubled per retry with jitter: 11 retries span roughly one day (WeChat's own retry curve).
  hisPushRetryLimit: 11,
  jobPollingIntervalSeconds: 2,
  outboundTimeoutMs: 10000,
  shutdownTimeoutMs: 10000,
  reconHoldDays: 1,
  // WeChat Pay publishes T+1 statements from 10:00 (Alipay about the same); the run retries what is not in yet.
  reconDailyAt: '10:30',
  hisAckAlertMinutes: 10,
  wechatApiBaseUrl: 'https://api.weixin.qq.com/',
  wechatOpenBaseUrl: 'https://open.weixin.qq.com/',
  reconPushRetryMinutes: 10,
};

/** Defaults per environment; environment variables and overrides win. */
export const DEFAULTS: Record<NodeEnv, Omit<ConfigInput, 'nodeEnv'>> = {
  development: base,
  test: {
    ...base,
    port: 0,
    publicBaseUrl: 'http://127.0.0.1:0',
    logLevel: 'silent',
    seedDemo: false,
    sandboxPorts: { wechatpay: 0, his: 0, alipay: 0, bankpay: 0, mispos: 0 },
    paymentQueryBackoffSeconds: [0.5, 1],
    micropayPollSeconds: 0.5,
    micropayTimeoutSeconds: 3,
    hisPushRetryDelaySeconds: 1,
    hisPushRetryLimit: 3,
    jobPollingIntervalSeconds: 0.5,
    outboundTimeoutMs: 3000,
    shutdownTimeoutMs: 3000,
  },
  production: {
    ...base,
    host: '0.0.0.0',
    sandbox: false,
    seedDemo: false,
    publicBaseUrl: 'https://pay.example-hospital.cn',
  },
};

/** Thrown when the configuration is invalid; its message lists every problem and how to fix it. */
export class ConfigError extends Error {
  override name = 'ConfigError';
}

type Env = Record<string, string | undefined>;

function secretFromEnv(env: Env, name: string): string | undefined {
  const file = env[`${name}_FILE`];
  if (file) {
    try {
      return readFileSync(file, 'utf8').trim();
    } catch (e) {
      throw new ConfigError(
        `Invalid configuration:\n  - ${name}_FILE: cannot read ${file} (${(e as Error).message})`,
      );
    }
  }
  return env[name] || undefined;
}

function flag(v: string | undefined): boolean | undefined {
  if (v === undefined || v === '') return undefined;
  if (/^(1|true|yes|on)$/i.test(v)) return true;
  if (/^(0|false|no|off)$/i.test(v)) return false;
  return v as unknown as boolean; // let zod report it
}

/** Reads the environment variables this project understands (documented in .env.example). */
function fromEnv(env: Env): Partial<ConfigInput> {
  const out: Record<string, unknown> = {
    host: env.HOST,
    port: env.PORT,
    publicBaseUrl: env.PUBLIC_BASE_URL,
    databaseUrl: env.DATABASE_URL || undefined,
    databasePoolMax: env.DATABASE_POOL_MAX,
    dataDir: env.DATA_DIR,
    logLevel: env.LOG_LEVEL,
    logFile: env.LOG_FILE,
    sandbox: flag(env.SANDBOX),
    seedDemo: flag(env.SEED_DEMO),
    patientJwtSecret: secretFromEnv(env, 'PATIENT_JWT_SECRET'),
    patientSessionSeconds: env.PATIENT_SESSION_SECONDS,
    adminJwtSecret: secretFromEnv(env, 'ADMIN_JWT_SECRET'),
    adminAccessTokenSeconds: env.ADMIN_ACCESS_TOKEN_SECONDS,
    adminRefreshTokenSeconds: env.ADMIN_REFRESH_TOKEN_SECONDS,
    adminLockoutThreshold: env.ADMIN_LOCKOUT_THRESHOLD,
    adminLockoutMinutes: env.ADMIN_LOCKOUT_MINUTES,
    adminInitialUsername: env.ADMIN_INITIAL_USERNAME,
    adminInitialPassword: secretFromEnv(env, 'ADMIN_INITIAL_PASSWORD'),
    secretsKey: secretFromEnv(env, 'SECRETS_KEY'),
    openApiWindowSeconds: env.OPEN_API_WINDOW_SECONDS,
    slipTokenSeconds: env.SLIP_TOKEN_SECONDS,
    openApiRatePerSecond: env.OPEN_API_RATE_PER_SECOND,
    openApiRateBurst: env.OPEN_API_RATE_BURST,
    bodyLimitBytes: env.BODY_LIMIT_BYTES,
    hisPushRetryDelaySeconds: env.HIS_PUSH_RETRY_DELAY_SECONDS,
    micropayPollSeconds: env.MICROPAY_POLL_SECONDS,
    micropayTimeoutSeconds: env.MICROPAY_TIMEOUT_SECONDS,
    hisPushRetryLimit: env.HIS_PUSH_RETRY_LIMIT,
    jobPollingIntervalSeconds: env.JOB_POLLING_INTERVAL_SECONDS,
    outboundTimeoutMs: env.OUTBOUND_TIMEOUT_MS,
    shutdownTimeoutMs: env.SHUTDOWN_TIMEOUT_MS,
    reconHoldDays: env.RECON_HOLD_DAYS,
    reconDailyAt: env.RECON_DAILY_AT,
    hisAckAlertMinutes: env.HIS_ACK_ALERT_MINUTES,
    wechatApiBaseUrl: env.WECHAT_API_BASE_URL,
    wechatOpenBaseUrl: env.WECHAT_OPEN_BASE_URL,
    weappAppId: env.WEAPP_APPID,
    weappSecret: secretFromEnv(env, 'WEAPP_SECRET'),
    wechatOaAppId: env.WECHAT_OA_APPID,
    wechatOaSecret: secretFromEnv(env, 'WECHAT_OA_SECRET'),
    reconPushRetryMinutes: env.RECON_PUSH_RETRY_MINUTES,
    wechatSubscribeTemplates: jsonFromEnv(env.WECHAT_SUBSCRIBE_TEMPLATES),
  };
  if (env.PAYMENT_QUERY_BACKOFF_SECONDS) {
    out.paymentQueryBackoffSeconds = env.PAYMENT_QUERY_BACKOFF_SECONDS.split(',').map((s) =>
      Number(s.trim()),
    );
  }
  for (const k of Object.keys(out)) if (out[k] === undefined || out[k] === '') delete out[k];
  return out as Partial<ConfigInput>;
}

/** A JSON setting: parsed when it is JSON, else left as text for the schema to refuse with its name. */
function jsonFromEnv(v: string | undefined): unknown {
  if (!v) return undefined;
  try {
    return JSON.parse(v);
  } catch {
    return v;
  }
}

/**
 * Builds the frozen configuration. Throws {@link ConfigError} naming each wrong setting and what to do.
 * @param env usually `process.env`
 * @param overrides applied last (tests, the demo launcher)
 */
export function loadConfig(env: Env, overrides: Partial<ConfigInput> = {}): Config {
  const nodeEnvRaw = overrides.nodeEnv ?? env.NODE_ENV ?? 'development';
  if (!['development', 'test', 'production'].includes(nodeEnvRaw)) {
    throw new ConfigError(
      `Invalid configuration:\n  - NODE_ENV: must be development, test or production (got "${nodeEnvRaw}")`,
    );
  }
  const nodeEnv = nodeEnvRaw as NodeEnv;
  const merged = { ...DEFAULTS[nodeEnv], ...fromEnv(env), ...overrides, nodeEnv };
  const parsed = ConfigSchema.safeParse(merged);
  if (!parsed.success) {
    const lines = parsed.error.issues.map((i) => `  - ${i.path.join('.') || '(root)'}: ${i.message}`);
    throw new ConfigError(`Invalid configuration:\n${lines.join('\n')}`);
  }
  return deepFreeze(parsed.data);
}

function deepFreeze<T>(o: T): T {
  if (o && typeof o === 'object') {
    for (const v of Object.values(o)) deepFreeze(v);
    Object.freeze(o);
  }
  return o;
}

export { weappProject, projectConfigJson, type WeappProject } from './weapp';
