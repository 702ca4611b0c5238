import { spawnSync } from 'node:child_process';
import path from 'node:path';

/**
 * The type checker is part of the test run: jest compiles with swc, which strips types without checking
 * them, so a wrong type would otherwise pass every test. Both TypeScript projects: the platform (shared,
 * config, bff, admin pages, tests) and the patient client (its own tsconfig, Taro's types).
 */
const ROOT = path.resolve(__dirname, '..');
const TSC = path.join(ROOT, 'node_modules', 'typescript', 'bin', 'tsc');

describe.each([
  ['platform', '.'],
  ['patient client', 'client'],
])('typecheck: %s', (_name, project) => {
  it('tsc finds no errors', () => {
    const r = spawnSync(process.execPath, [TSC, '-p', project, '--noEmit'], {
      cwd: ROOT,
      encoding: 'utf8',
      // `npm test` runs jest with --experimental-vm-modules; tsc needs none of it.
      env: { ...process.env, NODE_OPTIONS: '' },
    });
    const errors = `${r.stdout}${r.stderr}`.trim();
    expect(errors).toBe('');
    expect(r.status).toBe(0);
  }, 300_000);
});
