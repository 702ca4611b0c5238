#!/usr/bin/env node
// `npm test`: every jest test (unit and integration, against a real PostgreSQL that test/setup finds or
// starts), then one line `tests: N passed, N failed` computed from jest's JSON results. Extra arguments
// go to jest (e.g. `npm test -- test/e2e`).
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const jest = path.join(root, 'node_modules', 'jest', 'bin', 'jest.js');
if (!existsSync(jest)) {
  console.error('Dependencies are missing: run `npm install` first.');
  process.exit(1);
}
const out = path.join(mkdtempSync(path.join(os.tmpdir(), 'hp-jest-')), 'results.json');
const env = {
  ...process.env,
  TZ: 'Asia/Shanghai',
  // PGlite loads its WebAssembly through a dynamic import(), which jest's VM allows only with this flag.
  NODE_OPTIONS: [process.env.NODE_OPTIONS, '--experimental-vm-modules', '--no-warnings=ExperimentalWarning']
    .filter(Boolean)
    .join(' '),
};
const r = spawnSync(process.execPath, [jest, '--json', `--outputFile=${out}`, ...process.argv.slice(2)], {
  cwd: root,
  env,
  stdio: 'inherit',
});

let passed = 0;
let failed = 0;
let suitesFailed = 0;
try {
  const res = JSON.parse(readFileSync(out, 'utf8'));
  passed = res.numPassedTests;
  failed = res.numFailedTests;
  suitesFailed = res.numFailedTestSuites;
} catch {
  failed = Math.max(failed, 1); // jest died before writing results
}
rmSync(path.dirname(out), { recursive: true, force: true });
console.log(`tests: ${passed} passed, ${failed} failed`);
process.exit(r.status === 0 && failed === 0 && suitesFailed === 0 ? 0 : 1);
