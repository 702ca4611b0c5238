#!/usr/bin/env node
// `npm run size`: builds the client where stale (scripts/build-client.mjs --if-stale), then measures
// - weapp_main_kb: the mini-program's main package (everything outside the subpackage roots of app.json);
// - weapp_total_kb: main package and every subpackage;
// - h5_first_js_gzip_kb: the JavaScript the H5's first screen (the bill list) loads, gzip -9: the scripts of
//   index.html, the bill page's chunk and the chunks pages share (counted whole, an upper bound).
// It ends with `size weapp_main_kb=<n> weapp_total_kb=<n> h5_first_js_gzip_kb=<n>`. Goals (issue 9): main
// package ≤ 1024 KB, first-screen JS ≤ 250 KB gzip; `--check` exits 1 when one is missed.
import { readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { gzipSync } from 'node:zlib';
import { buildTargets, distOf } from './build-client.mjs';

export const BUDGET = {
  weappMainKb: 1024,
  weappSubpackageKb: 2048,
  weappTotalKb: 20 * 1024,
  h5FirstJsGzipKb: 250,
};

function files(dir) {
  return readdirSync(dir).flatMap((e) => {
    const p = path.join(dir, e);
    return statSync(p).isDirectory() ? files(p) : [p];
  });
}
const kb = (bytes) => Math.round((bytes / 1024) * 10) / 10;

/** Sizes of the built mini-program: main package, each subpackage, total (KB). */
export function weappSizes(dir = distOf('weapp')) {
  const app = JSON.parse(readFileSync(path.join(dir, 'app.json'), 'utf8'));
  const roots = (app.subPackages ?? app.subpackages ?? []).map((s) => s.root.replace(/\/?$/, '/'));
  const sub = Object.fromEntries(roots.map((r) => [r, 0]));
  let main = 0;
  let total = 0;
  for (const f of files(dir)) {
    const rel = path.relative(dir, f).split(path.sep).join('/');
    const size = statSync(f).size;
    total += size;
    const root = roots.find((r) => rel.startsWith(r));
    if (root) sub[root] += size;
    else main += size;
  }
  return {
    mainKb: kb(main),
    totalKb: kb(total),
    subpackagesKb: Object.fromEntries(Object.entries(sub).map(([r, b]) => [r, kb(b)])),
  };
}

/** The H5's first-screen JavaScript, gzip -9 (KB), and the files counted. */
export function h5FirstScreen(dir = distOf('h5')) {
  const html = readFileSync(path.join(dir, 'index.html'), 'utf8');
  const counted = new Set([...html.matchAll(/<script[^>]+src="\/h5\/([^"]+\.js)"/g)].map((m) => m[1]));
  for (const f of readdirSync(path.join(dir, 'js')))
    if (/^(src_pages_bills_index_tsx|shared|common)\.[0-9a-f]+\.js$/.test(f)) counted.add(`js/${f}`);
  let gz = 0;
  for (const f of counted) gz += gzipSync(readFileSync(path.join(dir, f)), { level: 9 }).length;
  return { gzipKb: kb(gz), files: [...counted].sort() };
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  // `weapp` or `h5` alone measures (and builds) that target only; `--json` prints the figures as JSON (tests).
  const args = process.argv.slice(2);
  const only = args.filter((a) => a === 'weapp' || a === 'h5');
  const targets = only.length ? only : ['weapp', 'h5'];
  try {
    await buildTargets(targets, {
      ifStale: true,
      log: args.includes('--json') ? () => undefined : console.log,
    });
  } catch (e) {
    console.error(e instanceof Error ? e.message : e);
    process.exit(1);
  }
  const w = targets.includes('weapp') ? weappSizes() : undefined;
  const h = targets.includes('h5') ? h5FirstScreen() : undefined;
  if (args.includes('--json')) {
    console.log(JSON.stringify({ weapp: w, h5: h, budget: BUDGET }));
    process.exit(0);
  }
  for (const [root, size] of Object.entries(w?.subpackagesKb ?? {}))
    console.log(`weapp subpackage ${root} ${size} KB`);
  if (h) console.log(`h5 first screen: ${h.files.join(', ')}`);
  const over = [
    w && w.mainKb > BUDGET.weappMainKb && `weapp main package ${w.mainKb} KB > ${BUDGET.weappMainKb} KB`,
    h &&
      h.gzipKb > BUDGET.h5FirstJsGzipKb &&
      `h5 first-screen JS ${h.gzipKb} KB > ${BUDGET.h5FirstJsGzipKb} KB gzip`,
  ].filter(Boolean);
  for (const o of over) console.log(`over budget: ${o}`);
  console.log(
    `size weapp_main_kb=${w?.mainKb ?? '-'} weapp_total_kb=${w?.totalKb ?? '-'} h5_first_js_gzip_kb=${h?.gzipKb ?? '-'}`,
  );
  if (over.length && args.includes('--check')) process.exit(1);
}
