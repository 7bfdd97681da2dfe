/**
 * Authentication for HTTP routes that do not check it themselves: the metrics read API
 * (`/v1/metrics…`, `/v1/series`, `/v1/leaderboard`, seed 003's realtime-metrics). Their data is
 * what `metrics:<set>` channels carry, so the caller must be allowed to read that namespace.
 *
 * The check goes by the route the router matched, not by the raw URL: the router decodes
 * percent-escapes (`/v1/%6Detrics` is `/v1/metrics`), so a test on `req.url` could be walked around.
 */
import type { FastifyInstance } from 'fastify';
import { PulseError } from '@pulse/protocol';
import type { HttpContext } from '../http/context.js';
import { principalOf } from '../http/context.js';

const METRICS_ROUTES = new Set(['/v1/metrics', '/v1/metrics/:set', '/v1/series', '/v1/leaderboard', '/api/v1/analytics/realtime-metrics']);

export function guardMetricsRoutes(app: FastifyInstance, ctx: HttpContext): void {
  app.addHook('onRequest', async (req) => {
    if (req.method === 'OPTIONS' || !METRICS_ROUTES.has(req.routeOptions.url ?? '')) return;
    const p = await principalOf(ctx, req);
    if (!ctx.hub.canSubscribe(p, 'metrics:*')) throw new PulseError('FORBIDDEN', 'Not allowed to read metrics');
  });
}
