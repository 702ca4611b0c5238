import path from 'node:path';
import { fileURLToPath } from 'node:url';
import react from '@vitejs/plugin-react';
import { defineConfig } from 'vite';

/**
 * The admin pages: React 18 + antd 5 + echarts, bundled whole (no CDN: hospital intranets have no
 * internet). Served by the bff at /admin (bff/src/http/admin-ui.ts); `npm run build:admin` builds them.
 */
const here = path.dirname(fileURLToPath(import.meta.url));

export default defineConfig({
  root: here,
  base: '/admin/',
  plugins: [react()],
  build: {
    outDir: path.resolve(here, 'dist'),
    emptyOutDir: true,
    target: 'es2020',
    chunkSizeWarningLimit: 1600,
    reportCompressedSize: false,
  },
  server: {
    // `npx vite bff/admin-ui` during development: the API from a running `npm start`.
    proxy: { '/admin/api': 'http://127.0.0.1:3000' },
  },
});
