import { spawnSync } from 'node:child_process';
import path from 'node:path';

/**
 * The CI-sized variant of the benchmarks: the same scripts as `npm run bench:pay` / `bench:query`, small
 * (10 connections, 2 s), checking that they run clean and print their figures. Speed is judged by the full
 * runs, not here.
 */
describe('benchmarks (CI size)', () => {
  const root = path.resolve(__dirname, '../..');
  const run = (mode: string) =>
    spawnSync(
      process.execPath,
      ['--import', 'tsx', 'test/bench/run.ts', mode, '--connections', '10', '--duration', '2'],
      {
        cwd: root,
        encoding: 'utf8',
        env: { ...process.env, NODE_OPTIONS: '', TZ: 'Asia/Shanghai' },
        timeout: 120_000,
      },
    );

  it.each(['pay', 'query'])(
    'bench:%s prints its line with no errors',
    (mode) => {
      const r = run(mode);
      expect(r.stderr).not.toMatch(/Error/);
      const line = r.stdout.trim().split('\n').pop() ?? '';
      expect(line).toMatch(
        new RegExp(
          `^bench:${mode} connections=10 rps=\\d+ p50_ms=\\d+(\\.\\d+)? p99_ms=\\d+(\\.\\d+)? errors=0 rsa_sign_per_s=\\d+$`,
        ),
      );
      expect(Number(/rps=(\d+)/.exec(line)![1])).toBeGreaterThan(0);
    },
    120_000,
  );

  it('bench:recon finds every injected difference in a small generated day, and nothing else', () => {
    const r = spawnSync(
      process.execPath,
      ['--import', 'tsx', 'test/bench/recon.ts', '--transactions', '20000', '--inject', '5'],
      {
        cwd: root,
        encoding: 'utf8',
        env: { ...process.env, NODE_OPTIONS: '', TZ: 'Asia/Shanghai' },
        timeout: 120_000,
      },
    );
    expect(r.stderr).not.toMatch(/Error/);
    const line = r.stdout.trim().split('\n').pop() ?? '';
    expect(line).toMatch(
      /^bench:recon transactions=\d+ seconds=\d+\.\d+ peak_rss_mb=\d+ injected=35 found=35 extra=0$/,
    );
  }, 120_000);
});
