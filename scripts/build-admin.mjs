#!/usr/bin/env node
// `npm run build:admin`: builds the admin pages (bff/admin-ui, React + antd + echarts) with vite into
// bff/admin-ui/dist, which the bff serves at /admin. `--if-stale` builds only when dist is missing or older
// than a source (npm start and the browser tests use it). The build goes to a temporary folder first and
// replaces dist at the end, so a running bff never serves half a build.
import { existsSync, readdirSync, renameSync, rmSync, statSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const ui = path.join(root, 'bff', 'admin-ui');
const dist = path.join(ui, 'dist');
const stamp = path.join(dist, 'index.html');

/** What the bundle is made of: the admin-ui sources and the shared files they import. */
const SOURCES = [
  path.join(ui, 'index.html'),
  path.join(ui, 'vite.config.ts'),
  path.join(ui, 'src'),
  path.join(root, 'shared', 'src', 'money.ts'),
];

function newest(p) {
  if (!existsSync(p)) return 0;
  const s = statSync(p);
  if (!s.isDirectory()) return s.mtimeMs;
  let m = s.mtimeMs;
  for (const e of readdirSync(p)) m = Math.max(m, newest(path.join(p, e)));
  return m;
}

/** Why a build is needed, or null when dist is up to date. */
export function staleReason() {
  if (!existsSync(stamp)) return 'bff/admin-ui/dist is missing';
  const built = statSync(stamp).mtimeMs;
  const src = Math.max(...SOURCES.map(newest));
  return src > built ? 'bff/admin-ui/dist is older than its sources' : null;
}

export async function buildAdmin() {
  const { build } = await import('vite');
  const tmp = path.join(ui, `.dist-${process.pid}`);
  const started = Date.now();
  try {
    await build({
      configFile: path.join(ui, 'vite.config.ts'),
      logLevel: 'warn',
      build: { outDir: tmp, emptyOutDir: true },
    });
    rmSync(dist, { recursive: true, force: true });
    renameSync(tmp, dist);
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
  return Date.now() - started;
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const ifStale = process.argv.includes('--if-stale');
  const reason = ifStale ? staleReason() : 'requested';
  if (!reason) {
    console.log('admin pages: bff/admin-ui/dist is up to date');
  } else {
    console.log(`admin pages: building bff/admin-ui → bff/admin-ui/dist (${reason})…`);
    try {
      const ms = await buildAdmin();
      console.log(`admin pages: built in ${(ms / 1000).toFixed(1)} s; served at /admin`);
    } catch (e) {
      console.error(`admin pages: build failed: ${e instanceof Error ? e.message : e}`);
      process.exit(1);
    }
  }
}
