import path from 'node:path';
import { contentSecurityPolicy, staticBundle } from './static-bundle';

/** Where `npm run build:h5` (Taro, client/) writes the patient H5. */
export const PATIENT_H5_DIST = path.resolve(__dirname, '../../../client/dist/h5');

/**
 * The patient H5 is a static bundle calling `/api` on the same origin. Taro and NutUI set inline styles at
 * run time ('unsafe-inline' for styles only); e-invoices are shown from blob: URLs (image or PDF frame).
 * Payment pages (WeChat's H5 cashier, the sandbox's) are navigated to, never framed.
 */
const CSP = contentSecurityPolicy({ 'frame-src': "'self' blob:", 'object-src': "'self' blob:" });

const NOT_BUILT = `<!doctype html>
<html lang="zh-CN"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1">
<title>患者端尚未构建</title>
<style>body{font-family:system-ui,sans-serif;max-width:40rem;margin:4rem auto;padding:0 1rem;color:#1f1f1f}
code{background:#f4f4f5;padding:.15rem .35rem;border-radius:4px}</style></head>
<body><h1>患者端尚未构建 · Patient H5 not built</h1>
<p>The patient H5 is built from <code>client/</code> into <code>client/dist/h5</code>, which is missing.</p>
<p>Build it with <code>npm run build:h5</code> (or restart with <code>npm start</code>, which builds it when it is
missing or older than its sources), then reload this page.</p>
<p>The patient API itself is up at <code>/api</code>.</p></body></html>`;

/** Serves the built patient H5 at `/h5` (index.html for the pages' own paths, like `/h5/checkout?t=…`). */
export function patientH5(dir: string = PATIENT_H5_DIST) {
  return staticBundle({
    prefix: '/h5',
    dir,
    immutable: ['js/', 'css/', 'static/'],
    csp: CSP,
    notBuilt: NOT_BUILT,
  });
}
