import PgBoss from 'pg-boss';
import type { SqlExecutor, Tx } from '../db/client';
import { txExecutor } from '../db/client';
import type { Logger } from '../lib/logger';

/** Names of every job queue; each is created at boot. */
export const QUEUES = {
  /** Query a PAYING order at the channel until it is final (repairs lost notifications and crashes). */
  paymentQuery: 'payment-query',
  /** Query a refund at the channel until it is final. */
  refundQuery: 'refund-query',
  /** Push a payment result to the HIS (outbox; retried on a ~24 h curve). */
  hisPush: 'his-push',
  /** Housekeeping, every minute: the sweep (restarts dead job chains, alerts), old nonces and idempotency keys. */
  housekeeping: 'housekeeping',
  /** Hourly: pull the last day's WeChat Pay order comments (订单评价) of every account with a v2 key. */
  commentsPull: 'comments-pull',
  /** Daily, after the channels publish: download statements, run the three-way reconciliation (retries itself). */
  reconDaily: 'recon-daily',
  /** Deliver a day's reconciliation file to one HIS SFTP/FTP target (retries itself until the deadline). */
  reconPush: 'recon-push',
  /** Credit pay: debit a bill pushed for a signed patient (sign status, limit, order, debit). */
  creditDebit: 'credit-debit',
  /** Credit pay: follow one debit until final (query), then tell the patient when it failed. */
  creditDebitCheck: 'credit-debit-check',
  /** Inpatient: push a deposit paid / settlement result / reversal to the HIS (outbox; retried like his-push). */
  inpatientNotify: 'inpatient-notify',
  /** Inpatient: start, retry (new refund number) or give up (alert) the refunds a settlement or its reversal owes. */
  settlementRefunds: 'inpatient-settlement-refunds',
  /** Send one patient message on an outside channel (WeChat subscription message); retried while WeChat is busy. */
  messageSend: 'message-send',
  /** Insurance: follow an order's insurance part until final (settlement query, revoke of an abandoned quote). */
  insuranceSync: 'insurance-sync',
  /** Insurance: carry out one refund of an insurance part (6203), then its cash half; retried, then alerted. */
  insuranceRefund: 'insurance-refund',
  /** Insurance: give back a cash part paid for an order whose insurance part failed (repair refund). */
  insuranceCashRepair: 'insurance-cash-repair',
} as const;
export type QueueName = (typeof QUEUES)[keyof typeof QUEUES];

/** How long one run of a job may take before pg-boss considers its worker dead and retries it. */
const QUEUE_EXPIRY_SECONDS: Record<QueueName, number> = {
  'payment-query': 60,
  'refund-query': 60,
  'his-push': 120,
  housekeeping: 300,
  'comments-pull': 900,
  'recon-daily': 1800,
  'recon-push': 600,
  'credit-debit': 60,
  'credit-debit-check': 60,
  'inpatient-notify': 120,
  'inpatient-settlement-refunds': 120,
  'message-send': 60,
  'insurance-sync': 60,
  'insurance-refund': 60,
  'insurance-cash-repair': 60,
};

/**
 * Queues that must not run two jobs at once: `stately` keeps at most one queued and one active job, so a slow
 * run and the next cron tick (from any bff process) never pile up. Everything else is `standard`.
 */
const QUEUE_POLICY: Partial<Record<QueueName, PgBoss.QueuePolicy>> = {
  'comments-pull': 'stately',
  'recon-daily': 'stately',
  // Per singleton key (target:day): one waiting try and one running, never a pile of retry chains.
  'recon-push': 'stately',
};

/**
 * Workers per process for the busy queues (default one): each holds one job at a time, so a slow channel or
 * HIS call (up to OUTBOUND_TIMEOUT_MS) holds up only its own worker, not the whole queue.
 */
const QUEUE_WORKERS: Partial<Record<QueueName, number>> = {
  'payment-query': 4,
  'refund-query': 2,
  'his-push': 4,
};

export interface SendOptions {
  /** Delay before the job may run, in seconds. */
  startAfterSeconds?: number;
  retryLimit?: number;
  retryDelaySeconds?: number;
  retryBackoff?: boolean;
  /** pg-boss singleton key. Note: on 'standard' queues (ours) pg-boss does not enforce uniqueness by it. */
  singletonKey?: string;
}

export interface JobContext<T> {
  id: string;
  data: T;
  retryCount: number;
  retryLimit: number;
}

/**
 * The job queue on the application database (pg-boss 10). Jobs sent with a transaction exist exactly
 * when that transaction commits: state change and job are one atomic step (the outbox pattern).
 */
export interface JobQueue {
  /** Enqueues inside `tx` when given (commit → job exists; rollback → none). */
  send<T extends object>(name: QueueName, data: T, opts?: SendOptions, tx?: Tx): Promise<string | null>;
  /**
   * Runs `handler` for jobs of `name` on this process's workers (one each, more for the busy queues); a throw
   * fails the attempt and pg-boss retries per the job's options.
   */
  work<T>(name: QueueName, handler: (job: JobContext<T>) => Promise<void>): Promise<void>;
  /** Runs `name` on a cron schedule — once per tick across every bff process. */
  schedule(name: QueueName, cron: string): Promise<void>;
  /** Jobs waiting (created or retry) in a queue, for /metrics. */
  queueSize(name: QueueName): Promise<number>;
  ping(): Promise<void>;
  /** Stops fetching, waits for running handlers up to `timeoutMs`. */
  stop(timeoutMs: number): Promise<void>;
}

export async function startJobQueue(opts: {
  executor: SqlExecutor;
  log: Logger;
  pollingIntervalSeconds: number;
  /** Run maintenance and cron in this process (every process may; pg-boss coordinates through the database). */
  supervise?: boolean;
}): Promise<JobQueue> {
  const boss = new PgBoss({
    db: opts.executor as PgBoss.Db,
    schema: 'pgboss',
    supervise: opts.supervise ?? true,
    schedule: opts.supervise ?? true,
    // Maintenance fails jobs whose worker died (SIGKILL) once their expiry passes, so they are retried; the
    // default (every 120 s) added up to two minutes to that recovery. One process per interval runs it.
    maintenanceIntervalSeconds: 30,
    migrate: true,
  });
  boss.on('error', (err) => opts.log.error({ err: { message: err.message } }, 'job queue error'));
  await boss.start();
  for (const name of Object.values(QUEUES)) {
    // A job whose worker died (SIGKILL) stays active until it expires, then is retried: keep that short.
    await boss
      .createQueue(name, {
        name,
        expireInSeconds: QUEUE_EXPIRY_SECONDS[name],
        policy: QUEUE_POLICY[name] ?? 'standard',
        retryLimit: 5,
        retryDelay: 5,
        retryBackoff: true,
      })
      .catch((e: Error) => {
        // Another process created it at the same moment.
        if (!/already exists|duplicate/i.test(e.message)) throw e;
      });
  }
  const running = new Set<Promise<unknown>>();
  /** pg-boss worker loops started by {@link JobQueue.work} (see stop). */
  let workerLoops = 0;

  return {
    async send(name, data, o = {}, tx) {
      const options: PgBoss.SendOptions = {
        startAfter: o.startAfterSeconds ? new Date(Date.now() + o.startAfterSeconds * 1000) : undefined,
        retryLimit: o.retryLimit,
        retryDelay: o.retryDelaySeconds,
        retryBackoff: o.retryBackoff,
        singletonKey: o.singletonKey,
      };
      if (tx) options.db = txExecutor(tx) as PgBoss.Db;
      for (const k of Object.keys(options) as (keyof typeof options)[])
        if (options[k] === undefined) delete options[k];
      return boss.send(name, data, options);
    },
    async work<T>(name: QueueName, handler: (job: JobContext<T>) => Promise<void>) {
      for (let i = 0; i < (QUEUE_WORKERS[name] ?? 1); i++) {
        const worker: { id?: string } = {};
        workerLoops++;
        worker.id = await boss.work(
          name,
          { includeMetadata: true, pollingIntervalSeconds: opts.pollingIntervalSeconds, batchSize: 1 },
          async (jobs) => {
            try {
              for (const job of jobs) {
                const p = handler({
                  id: job.id,
                  data: job.data as T,
                  retryCount: job.retryCount,
                  retryLimit: job.retryLimit,
                });
                running.add(p);
                try {
                  await p;
                } finally {
                  running.delete(p);
                }
              }
            } finally {
              // pg-boss waits a whole polling interval after every fetch, even one that found a job: a worker
              // would drain one job per interval (a backlog after a HIS outage took hours). A worker that
              // found a job looks for the next one at once; only an idle worker waits.
              if (jobs.length > 0 && worker.id) boss.notifyWorker(worker.id);
            }
          },
        );
      }
    },
    async schedule(name, cron) {
      await boss.schedule(name, cron, {}, { tz: 'Asia/Shanghai' });
    },
    queueSize: (name) => boss.getQueueSize(name),
    async ping() {
      await opts.executor.executeSql('SELECT 1 FROM pgboss.version LIMIT 1');
    },
    async stop(timeoutMs) {
      await boss.stop({ graceful: true, wait: true, timeout: Math.max(timeoutMs, 1) });
      if (running.size)
        await Promise.race([Promise.allSettled([...running]), new Promise((r) => setTimeout(r, timeoutMs))]);
      // pg-boss's offWork looks once a second whether every worker loop has ended, and only stops looking when
      // they have; a look that comes after the host is gone (a test file torn down, a process exiting) throws.
      // The loops end as soon as their handler returns: give the poller its next look while we are still here.
      if (workerLoops > 0) await new Promise((r) => setTimeout(r, 1100));
    },
  };
}
