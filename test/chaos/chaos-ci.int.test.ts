import { spawn } from 'node:child_process';
import path from 'node:path';

/**
 * The CI-sized chaos run: the same script as `npm run chaos`, with 300 payments, two SIGKILLs and a modest
 * concurrency (the suite shares two cores). Every process is real — simulators, two bff processes behind the
 * balancer, PostgreSQL (a clone of the tests' template) — and the run must end with nothing lost, charged or
 * refunded twice, nothing stuck and the three sides' totals equal.
 */
describe('chaos run (CI size)', () => {
  it('300 payments through drops, duplicates, late payments, HIS outages, channel timeouts and kills: nothing lost', async () => {
    const root = path.resolve(__dirname, '../..');
    const child = spawn(
      process.execPath,
      [
        '--import',
        'tsx',
        'test/chaos/run.ts',
        '--payments',
        '300',
        '--kills',
        '2',
        '--concurrency',
        '24',
        '--wait-minutes',
        '5',
      ],
      {
        cwd: root,
        env: { ...process.env, NODE_OPTIONS: '', TZ: 'Asia/Shanghai' },
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    );
    let out = '';
    let err = '';
    child.stdout!.on('data', (c: Buffer) => (out += c.toString()));
    child.stderr!.on('data', (c: Buffer) => (err += c.toString()));
    const code = await new Promise<number | null>((resolve) => child.on('exit', resolve));
    const line = out.trim().split('\n').pop() ?? '';
    const m =
      /^chaos payments=(\d+) lost=(\d+) double_charged=(\d+) double_refunded=(\d+) stuck=(\d+) totals_match=(true|false) seconds=(\d+)$/.exec(
        line,
      );
    if (!m || code !== 0)
      throw new Error(
        `chaos run failed (exit ${code}):\n${out}\n${err.length > 6000 ? `${err.slice(0, 3000)}\n…\n${err.slice(-3000)}` : err}`,
      );
    const [, payments, lost, doubleCharged, doubleRefunded, stuck, totalsMatch] = m;
    // On failure, the report above the line says what and where.
    const report = out;
    expect({ payments, lost, doubleCharged, doubleRefunded, stuck, totalsMatch, report }).toEqual({
      payments: '300',
      lost: '0',
      doubleCharged: '0',
      doubleRefunded: '0',
      stuck: '0',
      totalsMatch: 'true',
      report,
    });
  }, 900_000);
});
