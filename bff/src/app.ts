import { randomBytes } from 'node:crypto';
import { runDailyRecon, type DailyReconJob } from './modules/recon/daily-job';
import { runReconPush, type ReconPushJob } from './modules/recon/file-push';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import type { Config } from '@hp/config';
import Koa from 'koa';
import { ChannelRegistry } from './channels/registry';
import { createOutboundRecorder } from './channels/recorder';
import { openDatabase, type Database } from './db/client';
import type { Deps } from './deps';
import { createMetrics } from './http/metrics';
import { errorHandler, requestContext } from './http/middleware';
import { notifyRoutes, openApiRoutes, patientRoutes, systemRoutes } from './http/routes';
import { openApiDocumentRoutes } from './http/openapi';
import { QUEUES, startJobQueue } from './jobs/queue';
import { systemClock, type Clock } from './lib/clock';
import { createLogger, type Logger } from './lib/logger';
import { createSecretBox } from './lib/secret-box';
import { HttpHisClient, type HisClient } from './modules/his/client';
import { runHisPush, type HisPushJob } from './modules/his/push-job';
import {
  runInpatientNotify,
  type InpatientNotifyJob,
  type SettlementRefundsJob,
} from './modules/inpatient/events';
import { runSettlementRefunds } from './modules/inpatient/service';
import { runRefundQuery, type RefundQueryJob } from './modules/refunds/service';
import { runPaymentQuery, type PaymentQueryJob } from './modules/payments/query-job';
import { sweep } from './modules/system/sweep';
import {
  runCreditDebit,
  runCreditDebitCheck,
  type CreditDebitCheckJob,
  type CreditDebitJob,
} from './modules/credit/service';
import { runCommentsPull } from './modules/comments/pull-job';
import { ensureInitialAdmin } from './modules/admin/auth-service';
import { adminRoutes } from './modules/admin/routes';
import { adminUi } from './http/admin-ui';
import { patientH5 } from './http/patient-h5';
import { WechatAuthClient } from './channels/wechat-auth/adapter';
import { WechatSubscribeClient } from './channels/wechat-subscribe';
import { runMessageSend, type MessageSendJob } from './modules/messages/service';
import { runInsuranceSync, type InsuranceSyncJob } from './modules/insurance/sync-job';
import { runInsuranceRefund, type CashRepairJob, type InsuranceRefundJob } from './modules/insurance/refunds';
import { submitRecordedRefund } from './modules/refunds/service';
import { lt } from 'drizzle-orm';
import { idempotencyKeys, openApiNonces } from './db/schema';
import { sql } from 'drizzle-orm';

/** A running bff: its URL, its dependencies (for tests and the seed), and a graceful stop. */
export interface Platform {
  url: string;
  deps: Deps;
  database: Database;
  server: Server;
  /** Stop accepting, finish in-flight requests and jobs, close the pool. */
  stop(): Promise<void>;
}

export interface StartOptions {
  /** An already opened database (main opens it first so a locked data directory fails before anything binds). */
  database?: Database;
  clock?: Clock;
  log?: Logger;
  /** Replace the reference HIS client (another HIS product). */
  his?: HisClient;
  /** Run job workers in this process (default true). */
  workers?: boolean;
  /** The sandbox's WeChat simulator: WeChat login and its OAuth page point there instead of the config's URLs. */
  sandboxWechatUrl?: string;
}

/**
 * Development secrets: when PATIENT_JWT_SECRET / SECRETS_KEY are not configured (never in production,
 * where the config refuses to boot without them) they are generated once and kept in the data directory.
 */
function devSecrets(config: Config): {
  patientJwtSecret: string;
  adminJwtSecret: string;
  secretsKey: string;
} {
  if (config.patientJwtSecret && config.adminJwtSecret && config.secretsKey)
    return {
      patientJwtSecret: config.patientJwtSecret,
      adminJwtSecret: config.adminJwtSecret,
      secretsKey: config.secretsKey,
    };
  const file = path.resolve(config.dataDir, 'dev-secrets.json');
  let stored: { patientJwtSecret?: string; adminJwtSecret?: string; secretsKey?: string } = {};
  if (existsSync(file)) stored = JSON.parse(readFileSync(file, 'utf8'));
  const out = {
    patientJwtSecret:
      config.patientJwtSecret ?? stored.patientJwtSecret ?? randomBytes(32).toString('base64url'),
    adminJwtSecret: config.adminJwtSecret ?? stored.adminJwtSecret ?? randomBytes(32).toString('base64url'),
    secretsKey: config.secretsKey ?? stored.secretsKey ?? randomBytes(32).toString('hex'),
  };
  if (
    out.patientJwtSecret !== stored.patientJwtSecret ||
    out.adminJwtSecret !== stored.adminJwtSecret ||
    out.secretsKey !== stored.secretsKey
  ) {
    mkdirSync(path.dirname(file), { recursive: true });
    writeFileSync(file, JSON.stringify(out, null, 2), { mode: 0o600 });
  }
  return out;
}

/** The composition root: config → database → job queue → adapters → modules → Koa → listening server. */
export async function startPlatform(config: Config, opts: StartOptions = {}): Promise<Platform> {
  const log = opts.log ?? createLogger(config.logLevel, {}, config.logFile);
  const clock = opts.clock ?? systemClock;
  const secretsConf = devSecrets(config);
  const database =
    opts.database ??
    (await openDatabase({
      databaseUrl: config.databaseUrl,
      dataDir: config.dataDir,
      poolMax: config.databasePoolMax,
    }));
  try {
    await database.migrate();
  } catch (e) {
    await database.close();
    throw e;
  }
  const db = database.db;
  const jobs = await startJobQueue({
    executor: database.executor,
    log,
    pollingIntervalSeconds: config.jobPollingIntervalSeconds,
  });
  const secrets = createSecretBox(secretsConf.secretsKey);
  const recorder = createOutboundRecorder(db, log);
  const metrics = createMetrics();
  const channels = new ChannelRegistry({
    db,
    secrets,
    production: config.nodeEnv === 'production',
    timeoutMs: config.outboundTimeoutMs,
    recorderFor: recorder.recorderFor,
  });
  const his = opts.his ?? new HttpHisClient(config.outboundTimeoutMs, recorder.recorderFor(null));
  const deps: Deps = {
    config,
    db,
    clock,
    log,
    jobs,
    channels,
    his,
    secrets,
    metrics,
    wechatAuth: new WechatAuthClient(
      opts.sandboxWechatUrl ?? config.wechatApiBaseUrl,
      config.outboundTimeoutMs,
      recorder.recorderFor(null),
    ),
    wechatSubscribe: new WechatSubscribeClient(
      opts.sandboxWechatUrl ?? config.wechatApiBaseUrl,
      config.outboundTimeoutMs,
      recorder.recorderFor(null),
    ),
    urls: {
      public: config.publicBaseUrl,
      wechatApi: opts.sandboxWechatUrl ?? config.wechatApiBaseUrl,
      wechatOpen: opts.sandboxWechatUrl ?? config.wechatOpenBaseUrl,
      sandboxWechatPay: opts.sandboxWechatUrl,
    },
  };

  await ensureInitialAdmin(deps);

  let shuttingDown = false;
  let inFlight = 0;
  let drained: (() => void) | undefined;
  const app = new Koa({ proxy: true });
  app.use(async (ctx, next) => {
    inFlight++;
    try {
      await next();
    } finally {
      inFlight--;
      if (inFlight === 0) drained?.();
    }
  });
  app.use(requestContext(log, metrics));
  app.use(errorHandler());
  app.use(async (ctx, next) => {
    if (shuttingDown) ctx.set('Connection', 'close');
    ctx.state.bodyLimit = config.bodyLimitBytes;
    await next();
  });
  // The admin pages (static bundle, SPA fallback) at /admin; /admin/api falls through to its router.
  app.use(adminUi());
  // The patient H5 (Taro build, client/dist/h5) at /h5, its pages routed in the browser.
  app.use(patientH5());
  for (const router of [
    systemRoutes(deps, database.ping, () => shuttingDown),
    // Before the open API: the document and its docs page are unsigned.
    openApiDocumentRoutes(config),
    openApiRoutes(deps, secretsConf.patientJwtSecret),
    patientRoutes(deps, secretsConf.patientJwtSecret),
    adminRoutes(deps, secretsConf.adminJwtSecret),
    notifyRoutes(deps),
  ]) {
    app.use(router.routes()).use(router.allowedMethods());
  }

  if (opts.workers !== false) {
    await jobs.work<PaymentQueryJob>(QUEUES.paymentQuery, (job) => runPaymentQuery(deps, job.data));
    await jobs.work<HisPushJob>(QUEUES.hisPush, (job) => runHisPush(deps, job));
    await jobs.work<RefundQueryJob>(QUEUES.refundQuery, (job) => runRefundQuery(deps, job.data));
    await jobs.work<CreditDebitJob>(QUEUES.creditDebit, (job) => runCreditDebit(deps, job.data));
    await jobs.work<CreditDebitCheckJob>(QUEUES.creditDebitCheck, (job) =>
      runCreditDebitCheck(deps, job.data),
    );
    await jobs.work<InpatientNotifyJob>(QUEUES.inpatientNotify, (job) => runInpatientNotify(deps, job));
    await jobs.work<SettlementRefundsJob>(QUEUES.settlementRefunds, (job) => runSettlementRefunds(deps, job));
    await jobs.work<MessageSendJob>(QUEUES.messageSend, (job) => runMessageSend(deps, job));
    // Medical insurance: follow settlements until final, carry out insurance refunds, repair partial payments.
    await jobs.work<InsuranceSyncJob>(QUEUES.insuranceSync, (job) => runInsuranceSync(deps, job.data));
    await jobs.work<InsuranceRefundJob>(QUEUES.insuranceRefund, (job) => runInsuranceRefund(deps, job.data));
    await jobs.work<CashRepairJob>(QUEUES.insuranceCashRepair, (job) =>
      submitRecordedRefund(deps, job.data.refundId),
    );
    await jobs.work(QUEUES.housekeeping, async () => {
      await db.delete(idempotencyKeys).where(lt(idempotencyKeys.createdAt, sql`now() - interval '24 hours'`));
      await db
        .delete(openApiNonces)
        .where(
          lt(openApiNonces.createdAt, sql`now() - make_interval(secs => ${config.openApiWindowSeconds * 2})`),
        );
      await sweep(deps);
    });
    await jobs.schedule(QUEUES.housekeeping, '* * * * *');
    // WeChat Pay order comments: the last 24 h, hourly (the stately queue and the unique key make overlaps harmless).
    await jobs.work(QUEUES.commentsPull, async () => void (await runCommentsPull(deps)));
    await jobs.schedule(QUEUES.commentsPull, '17 * * * *');
    // Reconciliation of yesterday, after the channels publish; it retries itself while statements are missing.
    await jobs.work<DailyReconJob>(QUEUES.reconDaily, async (job) => {
      await runDailyRecon(deps, job.data ?? {}, (data, after) =>
        jobs.send(QUEUES.reconDaily, data, { startAfterSeconds: after }),
      );
    });
    const [hh, mm] = config.reconDailyAt.split(':').map(Number);
    await jobs.schedule(QUEUES.reconDaily, `${mm} ${hh} * * *`);
    // The day's file to each HIS push target, enqueued by the daily run; it retries itself until the deadline.
    await jobs.work<ReconPushJob>(QUEUES.reconPush, async (job) => void (await runReconPush(deps, job.data)));
  }

  const server = app.listen(config.port, config.host);
  await new Promise<void>((resolve, reject) => {
    server.once('listening', resolve);
    server.once('error', (e: NodeJS.ErrnoException) =>
      reject(e.code === 'EADDRINUSE' ? new Error(`port ${config.port} is already in use (set PORT)`) : e),
    );
  }).catch(async (e) => {
    await jobs.stop(0);
    await database.close();
    throw e;
  });
  server.requestTimeout = 30_000;
  const port = (server.address() as AddressInfo).port;
  const url = `http://${config.host === '0.0.0.0' ? '127.0.0.1' : config.host}:${port}`;
  if (config.port === 0) deps.urls.public = url;
  log.info({ url, database: database.kind }, 'bff listening');

  let stopping: Promise<void> | undefined;
  const stop = () =>
    (stopping ??= (async () => {
      shuttingDown = true;
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      server.closeIdleConnections();
      if (inFlight > 0) {
        await Promise.race([
          new Promise<void>((r) => (drained = r)),
          new Promise((r) => setTimeout(r, config.shutdownTimeoutMs)),
        ]);
      }
      server.closeAllConnections();
      await closed;
      await jobs.stop(config.shutdownTimeoutMs);
      await recorder.flush();
      await database.close();
      log.info('bff stopped');
    })());

  return { url, deps, database, server, stop };
}
