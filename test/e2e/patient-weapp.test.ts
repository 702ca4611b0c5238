import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { projectConfigJson, weappProject } from '@hp/config';

/**
 * The mini-program build checked without WeChat DevTools (which needs a desktop and a logged-in account):
 * project.config.json, app.json pages and subpackages, every page's files, usingComponents, `node --check` on
 * every script, every WXML and WXSS compiled with WeChat's own wcc / wcsc (npm miniprogram-compiler, Linux
 * binaries), and the package sizes against their budget. The build is made here when stale (cached by a hash
 * of its sources, scripts/build-client.mjs).
 */
const ROOT = path.resolve(__dirname, '../..');
const DIST = path.join(ROOT, 'client', 'dist', 'weapp');

const wcc = require('miniprogram-compiler/src/wcc') as (
  root: string,
  files: string[],
  wxs: string[],
  o?: { maxBuffer?: number },
) => string;

const wcsc = require('miniprogram-compiler/src/wcsc') as (
  root: string,
  files: string[],
  o?: { maxBuffer?: number },
) => Record<string, string> | Error;

function files(dir: string): string[] {
  return readdirSync(dir).flatMap((e) => {
    const p = path.join(dir, e);
    return statSync(p).isDirectory() ? files(p) : [path.relative(DIST, p).split(path.sep).join('/')];
  });
}
const json = (rel: string) => JSON.parse(readFileSync(path.join(DIST, rel), 'utf8'));

jest.setTimeout(240_000);

describe('the WeChat mini-program build', () => {
  let all: string[];
  beforeAll(() => {
    const build = spawnSync(
      process.execPath,
      [path.join(ROOT, 'scripts', 'build-client.mjs'), 'weapp', '--if-stale'],
      { cwd: ROOT, encoding: 'utf8', timeout: 420_000 },
    );
    if (build.status !== 0)
      throw new Error(`building the mini-program failed:\n${build.stdout}\n${build.stderr}`);
    all = files(DIST);
  }, 450_000);

  it('project.config.json at the repository root opens the weapp output in WeChat DevTools', () => {
    const project = JSON.parse(readFileSync(path.join(ROOT, 'project.config.json'), 'utf8'));
    expect(project.appid).toMatch(/^(wx[0-9a-f]{16}|touristappid)$/);
    expect(project.compileType).toBe('miniprogram');
    // What `npm run weapp:project` writes for this appid, and the folder the build fills.
    expect(project).toEqual(
      projectConfigJson(weappProject({ WEAPP_APPID: project.appid === 'touristappid' ? '' : project.appid })),
    );
    expect(existsSync(path.join(ROOT, project.miniprogramRoot, 'app.json'))).toBe(true);
  });

  it('app.json: the pages of the main package and the subpackages, each with its js, json and wxml', () => {
    const app = json('app.json');
    const subs: { root: string; pages: string[] }[] = app.subPackages;
    expect(app.pages).toEqual(['pages/bills/index', 'pages/login/index']);
    expect(subs.map((s) => s.root).sort()).toEqual([
      'packages/cards',
      'packages/credit',
      'packages/inpatient',
      'packages/insurance',
      'packages/invoices',
      'packages/messages',
      'packages/orders',
      'packages/pay',
    ]);
    const pages = [...app.pages, ...subs.flatMap((s) => s.pages.map((p) => `${s.root}/${p}`))];
    for (const page of pages)
      for (const ext of ['js', 'json', 'wxml'])
        expect([page, ext, all.includes(`${page}.${ext}`)]).toEqual([page, ext, true]);
    // No main-package page lives under a subpackage root; preloads name real subpackages.
    for (const p of app.pages) expect(subs.some((s) => p.startsWith(`${s.root}/`))).toBe(false);
    for (const rule of Object.values(app.preloadRule ?? {}) as { packages: string[] }[])
      for (const root of rule.packages) expect(subs.map((s) => s.root)).toContain(root);
    // A subpackage's scripts stay inside it (requiring another subpackage's file fails on a device).
    for (const s of subs)
      for (const f of all.filter((x) => x.startsWith(`${s.root}/`) && x.endsWith('.js'))) {
        const src = readFileSync(path.join(DIST, f), 'utf8');
        for (const other of subs.filter((o) => o !== s))
          expect([f, src.includes(`${other.root}/sub-`)]).toEqual([f, false]);
      }
  });

  it('every usingComponents entry resolves to a component with its files', () => {
    let checked = 0;
    for (const f of all.filter((x) => x.endsWith('.json') && x !== 'app.json')) {
      const using: Record<string, string> = json(f).usingComponents ?? {};
      for (const [tag, ref] of Object.entries(using)) {
        if (ref.startsWith('plugin://')) continue;
        const base = ref.startsWith('/') ? ref.slice(1) : path.posix.join(path.posix.dirname(f), ref);
        for (const ext of ['js', 'json', 'wxml'])
          expect([f, tag, `${base}.${ext}`, all.includes(`${base}.${ext}`)]).toEqual([
            f,
            tag,
            `${base}.${ext}`,
            true,
          ]);
        expect([f, tag, json(`${base}.json`).component]).toEqual([f, tag, true]);
        checked++;
      }
    }
    expect(checked).toBeGreaterThan(0);
  });

  it('every script parses (node --check)', () => {
    const scripts = all.filter((f) => f.endsWith('.js'));
    expect(scripts.length).toBeGreaterThan(10);
    for (const f of scripts) {
      const r = spawnSync(process.execPath, ['--check', path.join(DIST, f)], { encoding: 'utf8' });
      expect([f, r.status, r.stderr]).toEqual([f, 0, '']);
    }
  });

  it('every WXML and WXSS compiles with WeChat’s wcc and wcsc (which do catch a broken template)', () => {
    // The compilers are real: a broken template is refused.
    const tmp = mkdtempSync(path.join(os.tmpdir(), 'hp-wcc-'));
    try {
      writeFileSync(path.join(tmp, 'bad.wxml'), '<view>{{a}</view><view');
      expect(() => wcc(tmp, ['bad'], [])).toThrow(/bad\.wxml/);
      writeFileSync(path.join(tmp, 'bad.wxss'), '.a { color: red; ');
      expect(wcsc(tmp, ['bad'])).toBeInstanceOf(Error);
    } finally {
      rmSync(tmp, { recursive: true, force: true });
    }
    const wxml = all.filter((f) => f.endsWith('.wxml')).map((f) => f.slice(0, -5));
    const wxs = all.filter((f) => f.endsWith('.wxs'));
    const js = wcc(DIST, wxml, wxs, { maxBuffer: 64 * 1024 * 1024 });
    expect(js).toContain('$gwx');
    const wxss = all.filter((f) => f.endsWith('.wxss')).map((f) => f.slice(0, -5));
    const css = wcsc(DIST, wxss, { maxBuffer: 64 * 1024 * 1024 });
    if (css instanceof Error) throw css;
    expect(Object.keys(css).length).toBeGreaterThan(0);
  });

  it('package sizes are within budget (main ≤ 1024 KB, each subpackage ≤ 2048 KB)', () => {
    const r = spawnSync(
      process.execPath,
      [path.join(ROOT, 'scripts', 'client-size.mjs'), 'weapp', '--json'],
      {
        cwd: ROOT,
        encoding: 'utf8',
      },
    );
    expect(r.status).toBe(0);
    const { weapp, budget } = JSON.parse(r.stdout.trim().split('\n').pop()!);
    expect(weapp.mainKb).toBeGreaterThan(50);
    expect(weapp.mainKb).toBeLessThanOrEqual(budget.weappMainKb);
    expect(weapp.totalKb).toBeLessThanOrEqual(budget.weappTotalKb);
    for (const kb of Object.values(weapp.subpackagesKb) as number[])
      expect(kb).toBeLessThanOrEqual(budget.weappSubpackageKb);
  });
});
