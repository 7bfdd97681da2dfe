import { defineConfig } from 'vite';

/**
 * No React plugin: Vite 8 compiles TSX with oxc's automatic JSX runtime on its own, and the
 * dashboard has no need for fast refresh in a production build. `npm run dev` proxies the API
 * to a Pulse server on :3002.
 */
export default defineConfig({
  root: import.meta.dirname,
  base: '/',
  oxc: { jsx: { runtime: 'automatic' } },
  build: {
    outDir: 'dist',
    emptyOutDir: true,
    chunkSizeWarningLimit: 600,
    reportCompressedSize: false,
    rolldownOptions: {
      // sonner's 'use client' matters to server components only; the dashboard has none.
      onLog(level, log, handler) {
        if (log.code === 'MODULE_LEVEL_DIRECTIVE') return;
        handler(level, log);
      },
    },
  },
  server: {
    proxy: {
      '^/(v1|api|health|status|metrics)(/|$)': 'http://127.0.0.1:3002',
      '/ws': { target: 'ws://127.0.0.1:3002', ws: true },
    },
  },
});
