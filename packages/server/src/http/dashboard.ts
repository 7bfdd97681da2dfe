/**
 * Serves the built dashboard (`apps/dashboard/dist`) at `/`. Files are served as they are; any
 * other GET that is not an API path gets `index.html`, so the dashboard's own routes
 * (`/campaigns`, `/system`, …) survive a reload. API paths keep answering NOT_FOUND in JSON.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import fastifyStatic from '@fastify/static';
import type { FastifyInstance } from 'fastify';

/** Where `npm run build` puts the dashboard. */
export const DASHBOARD_DIST = resolve(fileURLToPath(new URL('.', import.meta.url)), '../../../../apps/dashboard/dist');

/** Paths that belong to the API and gateways: never answered with the dashboard's HTML. */
const RESERVED = ['/v1', '/api', '/ws', '/socket.io', '/health', '/status', '/metrics', '/analytics'];

export function isReservedPath(path: string): boolean {
  return RESERVED.some((p) => path === p || path.startsWith(p + '/') || path.startsWith(p + '?'));
}

const NOT_BUILT = `<!doctype html><html><head><meta charset="utf-8"><title>Pulse</title></head>
<body style="font-family:system-ui;max-width:40rem;margin:4rem auto;line-height:1.5">
<h1>Pulse is running</h1><p>The dashboard has not been built. Run <code>npm run build</code>
and start Pulse again (<code>npm start</code> builds it when it is missing).</p>
<p>The API is up: <a href="/health">/health</a>, <a href="/status">/status</a>.</p></body></html>`;

export async function registerDashboard(app: FastifyInstance, opts: { root?: string } = {}): Promise<void> {
  const root = opts.root ?? DASHBOARD_DIST;
  const indexFile = join(root, 'index.html');
  const built = existsSync(indexFile);
  if (built) {
    await app.register(fastifyStatic, {
      root,
      // Routes for the files present now; the SPA fallback below takes every other GET.
      wildcard: false,
      index: false,
      cacheControl: false,
      setHeaders(res, path) {
        // Vite puts a content hash in asset names, so they never change under the same name.
        res.setHeader('Cache-Control', /[\\/]assets[\\/]/.test(path) ? 'public, max-age=31536000, immutable' : 'no-cache');
      },
    });
  }
  const html = built ? readFileSync(indexFile, 'utf8') : null;
  app.get('/*', async (req, reply) => {
    const path = req.url.split('?')[0]!;
    const last = path.slice(path.lastIndexOf('/') + 1);
    // A missing file (`/assets/x.js`) or an API path is a plain 404, not the app's HTML.
    if (isReservedPath(path) || last.includes('.')) return reply.callNotFound();
    reply.header('Cache-Control', 'no-cache').type('text/html; charset=utf-8');
    return html ?? reply.status(503).send(NOT_BUILT);
  });
}
