import { sql } from 'drizzle-orm';
import { openDatabase, type Database } from '../db/client';
import { createLogger } from '../lib/logger';
import { createTestDatabase } from '../../../test/setup/db';
import { QUEUES, startJobQueue, type JobQueue } from './queue';

describe('job queue: enqueue inside the caller’s transaction', () => {
  let database: Database;
  let jobs: JobQueue;
  let drop: () => Promise<void>;
  beforeAll(async () => {
    const t = await createTestDatabase();
    drop = t.drop;
    database = await openDatabase({ databaseUrl: t.url, dataDir: '/tmp', poolMax: 4 });
    jobs = await startJobQueue({
      executor: database.executor,
      log: createLogger('silent'),
      pollingIntervalSeconds: 0.5,
      supervise: false,
    });
  });
  afterAll(async () => {
    await jobs?.stop(0);
    await database?.close();
    await drop?.();
  });

  const jobsWith = async (marker: string) => {
    const r = await database.db.execute(
      sql`SELECT count(*)::int AS n FROM pgboss.job WHERE data->>'marker' = ${marker}`,
    );
    return (r as unknown as { rows: { n: number }[] }).rows[0]!.n;
  };

  it('a committed transaction leaves its job', async () => {
    await database.db.transaction(async (tx) => {
      await jobs.send(QUEUES.hisPush, { eventId: 'x', marker: 'commit' }, { startAfterSeconds: 3600 }, tx);
      // Invisible to other connections until commit.
      expect(await jobsWith('commit')).toBe(0);
    });
    expect(await jobsWith('commit')).toBe(1);
  });

  it('a rolled-back transaction leaves none', async () => {
    await expect(
      database.db.transaction(async (tx) => {
        await jobs.send(
          QUEUES.hisPush,
          { eventId: 'y', marker: 'rollback' },
          { startAfterSeconds: 3600 },
          tx,
        );
        throw new Error('boom');
      }),
    ).rejects.toThrow('boom');
    expect(await jobsWith('rollback')).toBe(0);
  });

  it('runs a job sent outside a transaction', async () => {
    const seen: string[] = [];
    await jobs.work<{ marker: string }>(QUEUES.housekeeping, async (job) => {
      seen.push(job.data.marker);
    });
    await jobs.send(QUEUES.housekeeping, { marker: 'run-me' });
    const deadline = Date.now() + 10_000;
    while (!seen.includes('run-me') && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
    expect(seen).toContain('run-me');
  });
});

describe('job queue: a handler that outlives shutdown', () => {
  it('finishes after the database closed without throwing anywhere', async () => {
    const t = await createTestDatabase();
    const database = await openDatabase({ databaseUrl: t.url, dataDir: '/tmp', poolMax: 4 });
    const jobs = await startJobQueue({
      executor: database.executor,
      log: createLogger('silent'),
      pollingIntervalSeconds: 0.5,
      supervise: false,
    });
    const stray: unknown[] = [];
    const onStray = (e: unknown) => stray.push(e);
    process.on('unhandledRejection', onStray);
    try {
      let release!: () => void;
      const started = new Promise<void>((resolveStarted) => {
        void jobs.work(QUEUES.housekeeping, () => {
          resolveStarted();
          return new Promise<void>((r) => (release = r)).then(() => {
            throw new Error('the handler fails after shutdown'); // pg-boss then records the failure
          });
        });
      });
      await jobs.send(QUEUES.housekeeping, { marker: 'late' });
      await started;
      await jobs.stop(100); // shutdown timeout passes with the handler still running
      await database.close();
      release();
      await new Promise((r) => setTimeout(r, 300));
      expect(stray).toEqual([]);
    } finally {
      process.off('unhandledRejection', onStray);
      await t.drop();
    }
  });
});
