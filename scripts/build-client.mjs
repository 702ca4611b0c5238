#!/usr/bin/env node
// `npm run build:weapp` / `npm run build:h5`: builds the patient client (Taro, client/) into client/dist/weapp
// (the mini-program, opened by WeChat DevTools through project.config.json) or client/dist/h5 (served by the
// bff at /h5). `--if-stale` builds only when the sources changed since the last build: the hash of every
// source file and the build settings is kept beside the output (npm start and the tests use it, so a fresh
// clone builds once and then never again until something changes). The build goes to a temporary folder and
// replaces the output at the end, so a running bff never serves half a build.
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, readdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const client = path.join(root, 'client');
export const TARGETS = ['weapp', 'h5'];

/** What a build is made of: the client's sources and settings, and the shared files it imports at run time. */
const SOURCES = [
  path.join(client, 'src'),
  path.join(client, 'config'),
  path.join(client, 'babel.config.js'),
  path.join(client, 'package.json'),
  path.join(client, 'tsconfig.json'),
  path.join(root, 'shared', 'src', 'money.ts'),
  path.join(root, 'shared', 'src', 'id-number.ts'),
];
/** Build settings that change the output (config/index.ts reads them). */
const SETTINGS = ['HP_API_BASE', 'HP_HOSPITAL_CODE'];

function files(p) {
  if (!existsSync(p)) return [];
  if (!statSync(p).isDirectory()) return [p];
  return readdirSync(p)
    .sort()
    .flatMap((e) => files(path.join(p, e)));
}

/** The hash of the sources, the settings and the installed Taro version. */
export function sourceHash(target) {
  const h = createHash('sha256').update(`target=${target}\n`);
  for (const k of SETTINGS) h.update(`${k}=${process.env[k] ?? ''}\n`);
  const taro = path.join(root, 'node_modules', '@tarojs', 'cli', 'package.json');
  if (existsSync(taro)) h.update(`taro=${JSON.parse(readFileSync(taro, 'utf8')).version}\n`);
  for (const f of SOURCES.flatMap(files)) h.update(`${path.relative(root, f)}\n`).update(readFileSync(f));
  return h.digest('hex');
}

export const distOf = (target) => path.join(client, 'dist', target);
const stampOf = (target) => path.join(client, 'dist', `.${target}.source-hash`);

/** Why a build is needed, or null when the output is up to date. */
export function staleReason(target) {
  const entry = path.join(distOf(target), target === 'h5' ? 'index.html' : 'app.json');
  if (!existsSync(entry)) return `client/dist/${target} is missing`;
  if (!existsSync(stampOf(target)) || readFileSync(stampOf(target), 'utf8').trim() !== sourceHash(target))
    return `client/dist/${target} is older than its sources`;
  return null;
}

/** Builds one target; resolves with the milliseconds it took. */
export async function buildClient(target) {
  const hash = sourceHash(target);
  const rel = path.join('dist', `.tmp-${target}-${process.pid}`);
  const tmp = path.join(client, rel);
  const taro = path.join(root, 'node_modules', '@tarojs', 'cli', 'bin', 'taro');
  const started = Date.now();
  try {
    const out = [];
    const code = await new Promise((resolve, reject) => {
      const child = spawn(process.execPath, [taro, 'build', '--type', target], {
        cwd: client,
        env: {
          ...process.env,
          NODE_ENV: 'production',
          HP_CLIENT_OUT: rel,
          BROWSERSLIST_IGNORE_OLD_DATA: '1',
        },
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      child.stdout.on('data', (d) => out.push(d));
      child.stderr.on('data', (d) => out.push(d));
      child.on('error', reject);
      child.on('exit', resolve);
    });
    const log = Buffer.concat(out).toString('utf8');
    if (code !== 0 || !existsSync(path.join(tmp, target === 'h5' ? 'index.html' : 'app.json')))
      throw new Error(`taro build --type ${target} failed (exit ${code}):\n${log.slice(-6000)}`);
    rmSync(distOf(target), { recursive: true, force: true });
    renameSync(tmp, distOf(target));
    writeFileSync(stampOf(target), `${hash}\n`);
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
  return Date.now() - started;
}

/** Builds the targets that are stale (all of them without `ifStale`); logs what it does. */
export async function buildTargets(targets, { ifStale = false, log = console.log } = {}) {
  for (const t of targets) {
    const reason = ifStale ? staleReason(t) : 'requested';
    if (!reason) {
      log(`client ${t}: client/dist/${t} is up to date`);
      continue;
    }
    log(`client ${t}: building (${reason})…`);
    const ms = await buildClient(t);
    log(`client ${t}: built in ${(ms / 1000).toFixed(1)} s`);
  }
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const args = process.argv.slice(2);
  const targets = args.filter((a) => TARGETS.includes(a));
  try {
    await buildTargets(targets.length ? targets : TARGETS, { ifStale: args.includes('--if-stale') });
  } catch (e) {
    console.error(e instanceof Error ? e.message : e);
    process.exit(1);
  }
}
