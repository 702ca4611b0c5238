import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import path from 'node:path';
import type { Context, Next } from 'koa';

/** Where `npm run build:admin` (vite, bff/admin-ui) writes the admin pages. */
export const ADMIN_UI_DIST = path.resolve(__dirname, '../../admin-ui/dist');

const PREFIX = '/admin';
const API_PREFIX = '/admin/api';

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.json': 'application/json; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.jpg': 'image/jpeg',
  '.ico': 'image/x-icon',
  '.woff2': 'font/woff2',
  '.woff': 'font/woff',
  '.ttf': 'font/ttf',
  '.map': 'application/json; charset=utf-8',
  '.txt': 'text/plain; charset=utf-8',
};

/**
 * The admin pages are a static bundle: scripts and styles only from ourselves (antd writes its styles
 * into <style> elements at run time, hence 'unsafe-inline' for styles only), never framed.
 */
const CSP = [
  "default-src 'self'",
  "script-src 'self'",
  "style-src 'self' 'unsafe-inline'",
  "img-src 'self' data: blob:",
  "font-src 'self' data:",
  "connect-src 'self'",
  "object-src 'none'",
  "base-uri 'self'",
  "frame-ancestors 'none'",
  "form-action 'self'",
].join('; ');

const NOT_BUILT = `<!doctype html>
<html lang="zh-CN"><head><meta charset="utf-8"><title>管理后台尚未构建</title>
<style>body{font-family:system-ui,sans-serif;max-width:40rem;margin:4rem auto;padding:0 1rem;color:#1f1f1f}
code{background:#f4f4f5;padding:.15rem .35rem;border-radius:4px}</style></head>
<body><h1>管理后台尚未构建 · Admin pages not built</h1>
<p>The admin pages are built from <code>bff/admin-ui</code> into <code>bff/admin-ui/dist</code>, which is missing.</p>
<p>Build them with <code>npm run build:admin</code> (or restart with <code>npm start</code>, which builds them when
they are missing or older than their sources), then reload this page.</p>
<p>The admin API itself is up at <code>/admin/api</code>.</p></body></html>`;

async function fileAt(p: string): Promise<{ size: number; mtime: Date } | undefined> {
  try {
    const s = await stat(p);
    return s.isFile() ? s : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Serves the built admin pages at `/admin`: files of `dir`, and `index.html` for every other path under
 * `/admin/` (the pages route in the browser). `/admin/api` is left to the API router. When the bundle is
 * missing, a page says how to build it — the bff runs on without it.
 */
export function adminUi(dir: string = ADMIN_UI_DIST) {
  const root = path.resolve(dir);
  return async (ctx: Context, next: Next) => {
    const p = ctx.path;
    if (
      (ctx.method !== 'GET' && ctx.method !== 'HEAD') ||
      !(p === PREFIX || p.startsWith(`${PREFIX}/`)) ||
      p === API_PREFIX ||
      p.startsWith(`${API_PREFIX}/`)
    )
      return next();
    if (p === PREFIX) {
      ctx.redirect(`${PREFIX}/${ctx.querystring ? `?${ctx.querystring}` : ''}`);
      return;
    }
    ctx.set('X-Content-Type-Options', 'nosniff');
    ctx.set('Referrer-Policy', 'same-origin');
    const index = path.join(root, 'index.html');
    const indexStat = await fileAt(index);
    if (!indexStat) {
      ctx.status = 503;
      ctx.set('Cache-Control', 'no-store');
      ctx.type = 'text/html; charset=utf-8';
      ctx.body = NOT_BUILT;
      return;
    }
    let rel: string;
    try {
      rel = decodeURIComponent(p.slice(PREFIX.length + 1));
    } catch {
      ctx.status = 400;
      ctx.body = 'bad path';
      return;
    }
    const target = path.resolve(root, rel);
    const inside = target.startsWith(root + path.sep) && !rel.includes('\0');
    const file = inside && rel !== '' ? await fileAt(target) : undefined;
    if (file) {
      ctx.type = TYPES[path.extname(target).toLowerCase()] ?? 'application/octet-stream';
      // Vite names everything under assets/ by content hash: cache it for good.
      ctx.set(
        'Cache-Control',
        rel.startsWith('assets/') ? 'public, max-age=31536000, immutable' : 'no-cache',
      );
      if (ctx.type.startsWith('text/html')) ctx.set('Content-Security-Policy', CSP);
      ctx.length = file.size;
      ctx.lastModified = file.mtime;
      ctx.body = ctx.method === 'HEAD' ? null : createReadStream(target);
      return;
    }
    // A missing asset is a 404 (not the page), so a stale tab fails loudly instead of parsing HTML as JS.
    if (rel.startsWith('assets/') || path.extname(rel) !== '') {
      ctx.status = 404;
      ctx.body = 'not found';
      return;
    }
    ctx.type = TYPES['.html']!;
    ctx.set('Cache-Control', 'no-cache');
    ctx.set('Content-Security-Policy', CSP);
    ctx.set('X-Frame-Options', 'DENY');
    ctx.length = indexStat.size;
    ctx.lastModified = indexStat.mtime;
    ctx.body = ctx.method === 'HEAD' ? null : createReadStream(index);
  };
}
