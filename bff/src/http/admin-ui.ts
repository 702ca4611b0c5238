import path from 'node:path';
import { contentSecurityPolicy, staticBundle } from './static-bundle';

/** Where `npm run build:admin` (vite, bff/admin-ui) writes the admin pages. */
export const ADMIN_UI_DIST = path.resolve(__dirname, '../../admin-ui/dist');

const PREFIX = '/admin';
const API_PREFIX = '/admin/api';

/**
 * The admin pages are a static bundle: scripts and styles only from ourselves (antd writes its styles
 * into <style> elements at run time, hence 'unsafe-inline' for styles only), never framed.
 */
const CSP = contentSecurityPolicy();

const NOT_BUILT = `<!doctype html>
<html lang="zh-CN"><head><meta charset="utf-8"><title>管理后台尚未构建</title>
<style>body{font-family:system-ui,sans-serif;max-width:40rem;margin:4rem auto;padding:0 1rem;color:#1f1f1f}
code{background:#f4f4f5;padding:.15rem .35rem;border-radius:4px}</style></head>
<body><h1>管理后台尚未构建 · Admin pages not built</h1>
<p>The admin pages are built from <code>bff/admin-ui</code> into <code>bff/admin-ui/dist</code>, which is missing.</p>
<p>Build them with <code>npm run build:admin</code> (or restart with <code>npm start</code>, which builds them when
they are missing or older than their sources), then reload this page.</p>
<p>The admin API itself is up at <code>/admin/api</code>.</p></body></html>`;

/**
 * Serves the built admin pages at `/admin`: files of `dir`, and `index.html` for every other path under
 * `/admin/` (the pages route in the browser). `/admin/api` is left to the API router. When the bundle is
 * missing, a page says how to build it — the bff runs on without it.
 */
export function adminUi(dir: string = ADMIN_UI_DIST) {
  // Vite names everything under assets/ by content hash.
  return staticBundle({
    prefix: PREFIX,
    dir,
    apiPrefix: API_PREFIX,
    immutable: ['assets/'],
    csp: CSP,
    notBuilt: NOT_BUILT,
  });
}
