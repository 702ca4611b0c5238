#!/usr/bin/env node
// `npm start`: the sandbox demo. Installs dependencies on a fresh clone, builds the admin pages when needed,
// then runs the bff with every simulator on the embedded database (PGlite in ./data) and demo data. Ctrl-C
// stops it gracefully.
import { spawn, spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const tsx = path.join(root, 'node_modules', '.bin', 'tsx');

if (!existsSync(tsx)) {
  console.log('First start: installing dependencies (npm install)…');
  const r = spawnSync('npm', ['install', '--no-audit', '--no-fund'], { cwd: root, stdio: 'inherit' });
  if (r.status !== 0) process.exit(r.status ?? 1);
}

// The admin pages (/admin): built with vite when bff/admin-ui/dist is missing or older than its sources
// (a few seconds). A failed build does not stop the demo: /admin then says how to build them.
{
  const r = spawnSync(process.execPath, [path.join(root, 'scripts', 'build-admin.mjs'), '--if-stale'], {
    cwd: root,
    stdio: 'inherit',
  });
  if (r.status !== 0) console.warn('admin pages: not built; the bff runs without them (npm run build:admin)');
}

// The patient H5 (/h5): built with Taro when client/dist/h5 is missing or its sources changed (about a minute
// the first time). A failed build does not stop the demo either: /h5 then says how to build it.
{
  const r = spawnSync(
    process.execPath,
    [path.join(root, 'scripts', 'build-client.mjs'), 'h5', '--if-stale'],
    {
      cwd: root,
      stdio: 'inherit',
    },
  );
  if (r.status !== 0) console.warn('patient H5: not built; the bff runs without it (npm run build:h5)');
}

const env = { TZ: 'Asia/Shanghai', NODE_ENV: 'development', SANDBOX: '1', ...process.env };
const child = spawn(tsx, [path.join(root, 'bff', 'src', 'main.ts')], { cwd: root, env, stdio: 'inherit' });
for (const sig of ['SIGINT', 'SIGTERM']) process.on(sig, () => child.kill(sig));
child.on('exit', (code, signal) => process.exit(code ?? (signal ? 1 : 0)));
