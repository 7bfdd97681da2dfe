/**
 * HTTP queries over the metric engine. Query strings are validated with the protocol's zod
 * schemas; a bad one is `INVALID_REQUEST` (400), an unknown set or metric `NOT_FOUND` (404).
 * Authentication is applied by the caller's hooks, not here.
 */
import type { FastifyInstance } from 'fastify';
import type { z } from 'zod';
import { PulseError, leaderboardQuerySchema, seriesQuerySchema, snapshotQuerySchema } from '@pulse/protocol';
import type { Metrics } from './index.js';

function parse<S extends z.ZodType>(schema: S, input: unknown): z.infer<S> {
  const r = schema.safeParse(input);
  if (!r.success) {
    const msg = r.error.issues.map((i) => `${i.path.join('.') || 'query'}: ${i.message}`).join('; ');
    throw new PulseError('INVALID_REQUEST', msg, { details: r.error.issues });
  }
  return r.data;
}

type MetricsQueries = Pick<Metrics, 'snapshot' | 'series' | 'leaderboard' | 'platformSnapshot' | 'setNames'>;

export function registerMetricsRoutes(app: FastifyInstance, metrics: MetricsQueries): void {
  app.get('/v1/metrics', async () => ({ sets: metrics.setNames() }));
  app.get<{ Params: { set: string } }>('/v1/metrics/:set', async (req) => {
    const q = parse(snapshotQuerySchema, req.query);
    return metrics.snapshot(req.params.set, q.scope ?? null);
  });
  app.get('/v1/series', async (req) => metrics.series(parse(seriesQuerySchema, req.query)));
  app.get('/v1/leaderboard', async (req) => metrics.leaderboard(parse(leaderboardQuerySchema, req.query)));
  app.get('/api/v1/analytics/realtime-metrics', async () => metrics.platformSnapshot());
}
