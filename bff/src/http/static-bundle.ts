import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import path from 'node:path';
import type { Context, Next } from 'koa';

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
 * The Content-Security-Policy of a bundle: scripts, styles, fonts and calls only from ourselves (styles may be
 * inline: UI libraries write them at run time), images also from data: and blob:, never framed; `extra` adds or
 * replaces directives.
 */
export function contentSecurityPolicy(extra: Record<string, string> = {}): string {
  const directives: Record<string, string> = {
    'default-src': "'self'",
    'script-src': "'self'",
    'style-src': "'self' 'unsafe-inline'",
    'img-src': "'self' data: blob:",
    'font-src': "'self' data:",
    'connect-src': "'self'",
    'object-src': "'none'",
    'base-uri': "'self'",
    'frame-ancestors': "'none'",
    'form-action': "'self'",
    ...extra,
  };
  return Object.entries(directives)
    .map(([k, v]) => `${k} ${v}`)
    .join('; ');
}

/** A single-page bundle served under a prefix (the admin pages at /admin, the patient H5 at /h5). */
export interface StaticBundleOptions {
  /** `/admin`, `/h5`. */
  prefix: string;
  /** The build output: index.html and its assets. */
  dir: string;
  /** A path under the prefix that belongs to an API router and is left alone (`/admin/api`). */
  apiPrefix?: string;
  /** Folders (relative, with trailing slash) whose files are named by content hash: cached for good. */
  immutable: string[];
  /** Content-Security-Policy of the HTML. */
  csp: string;
  /** The page answered (503) when the bundle is not built: says how to build it. */
  notBuilt: string;
}

async function fileAt(p: string): Promise<{ size: number; mtime: Date } | undefined> {
  try {
    const s = await stat(p);
    return s.isFile() ? s : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Serves a built bundle at `prefix`: files of `dir`, and `index.html` for every other path under the prefix
 * (the pages route in the browser). When the bundle is missing, a page says how to build it — the bff runs on
 * without it. A missing asset is a 404 (not the page), so a stale tab fails loudly instead of parsing HTML as JS.
 */
export function staticBundle(o: StaticBundleOptions) {
  const root = path.resolve(o.dir);
  const { prefix, apiPrefix } = o;
  return async (ctx: Context, next: Next) => {
    const p = ctx.path;
    if (
      (ctx.method !== 'GET' && ctx.method !== 'HEAD') ||
      !(p === prefix || p.startsWith(`${prefix}/`)) ||
      (apiPrefix !== undefined && (p === apiPrefix || p.startsWith(`${apiPrefix}/`)))
    )
      return next();
    if (p === prefix) {
      ctx.redirect(`${prefix}/${ctx.querystring ? `?${ctx.querystring}` : ''}`);
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
      ctx.body = o.notBuilt;
      return;
    }
    let rel: string;
    try {
      rel = decodeURIComponent(p.slice(prefix.length + 1));
    } catch {
      ctx.status = 400;
      ctx.body = 'bad path';
      return;
    }
    const target = path.resolve(root, rel);
    const inside = target.startsWith(root + path.sep) && !rel.includes('\0');
    const file = inside && rel !== '' ? await fileAt(target) : undefined;
    const hashed = o.immutable.some((d) => rel.startsWith(d));
    if (file) {
      ctx.type = TYPES[path.extname(target).toLowerCase()] ?? 'application/octet-stream';
      ctx.set('Cache-Control', hashed ? 'public, max-age=31536000, immutable' : 'no-cache');
      if (ctx.type.startsWith('text/html')) ctx.set('Content-Security-Policy', o.csp);
      ctx.length = file.size;
      ctx.lastModified = file.mtime;
      ctx.body = ctx.method === 'HEAD' ? null : createReadStream(target);
      return;
    }
    if (hashed || path.extname(rel) !== '') {
      ctx.status = 404;
      ctx.body = 'not found';
      return;
    }
    ctx.type = TYPES['.html']!;
    ctx.set('Cache-Control', 'no-cache');
    ctx.set('Content-Security-Policy', o.csp);
    ctx.set('X-Frame-Options', 'DENY');
    ctx.length = indexStat.size;
    ctx.lastModified = indexStat.mtime;
    ctx.body = ctx.method === 'HEAD' ? null : createReadStream(index);
  };
}
