/**
 * The metric query routes behind the server's real error handler: any query string gives a
 * 200 or a coded 4xx, never a 500 (fast-check), and the answers match the engine.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import Fastify, { type FastifyInstance } from 'fastify';
import fc from 'fast-check';
import { ERROR_CODES, type PulseEvent } from '@pulse/protocol';
import { installErrorHandler } from '../src/http/errors.js';
import { Telemetry } from '../src/telemetry.js';
import { MetricsEngine, registerMetricsRoutes } from '../src/metrics/index.js';
import { engineQueries } from './metrics-script.js';

const NOW = Date.UTC(2026, 10, 25, 12);
let app: FastifyInstance;
let engine: MetricsEngine;

beforeAll(async () => {
  engine = new MetricsEngine({ now: () => NOW });
  const ev = (i: number, channel: string, type: string, data: Record<string, unknown>): PulseEvent => ({ id: `e${i}`, channel, type, ts: NOW - i * 1000, data, offset: i, epoch: 'e', userId: `u${i % 7}` });
  const events: PulseEvent[] = [];
  for (let i = 1; i <= 300; i++) {
    events.push(ev(i, 'contract:C1', i % 5 ? 'impression' : 'click', { campaignId: `c${i % 4}`, publisherId: `p${i % 3}` }));
    events.push(ev(1000 + i, `content:${i % 9}`, 'like', {}));
  }
  engine.onEvents(events);
  app = Fastify();
  installErrorHandler(app, new Telemetry('pulse_test', { clients: () => 0, subscriptions: () => 0 }));
  registerMetricsRoutes(app, engineQueries(engine));
  await app.ready();
});
afterAll(() => app.close());

const value = fc.oneof(
  fc.constantFrom('campaign', 'content', 'platform', 'nope', 'impressions', 'revenueByCampaign', 'score', 'ctr', 'C1', '3', '1m', '1h', '1d', '2m', 'hour', 'day', '90m', '-1', '0', '5000', 'desc', 'asc', ''),
  fc.string({ maxLength: 12 }),
  fc.integer({ min: -10, max: 1e7 }).map(String),
);
const query = fc.dictionary(fc.constantFrom('set', 'metric', 'scope', 'granularity', 'window', 'to', 'maxPoints', 'limit', 'order', 'junk'), value, { maxKeys: 6 });

describe('metric routes', () => {
  it('answer any query with 200 or a coded 4xx', async () => {
    await fc.assert(
      fc.asyncProperty(fc.constantFrom('/v1/series', '/v1/leaderboard', '/v1/metrics/campaign', '/v1/metrics/content', '/v1/metrics/nope'), query, async (path, q) => {
        const qs = new URLSearchParams(q).toString();
        const r = await app.inject({ method: 'GET', url: `${path}?${qs}` });
        if (r.statusCode === 200) return;
        expect([400, 404]).toContain(r.statusCode);
        const body = r.json() as { code: string; error: { code: string; message: string } };
        expect(ERROR_CODES).toContain(body.code);
        expect(body.error.code).toBe(body.code);
      }),
      { numRuns: 500 },
    );
  });

  it('answers what the engine says', async () => {
    const get = async (url: string) => (await app.inject({ method: 'GET', url })).json();
    expect(await get('/v1/metrics/campaign?scope=C1')).toEqual(JSON.parse(JSON.stringify(engine.snapshot('campaign', 'C1'))));
    const lb = await get('/v1/leaderboard?set=content&metric=likes&limit=3');
    expect(lb.rankedBy).toBe('scope');
    expect(lb.entries).toEqual([
      { rank: 1, key: '1', value: 34 },
      { rank: 2, key: '2', value: 34 },
      { rank: 3, key: '3', value: 34 },
    ]);
    const series = await get('/v1/series?set=campaign&metric=clicks&scope=C1&window=10m&granularity=1m');
    expect(series.points).toHaveLength(10);
    expect(series.points.reduce((a: number, p: { v: number }) => a + p.v, 0)).toBe(60); // every 5th of 300 events, all within 5 minutes
    expect((await app.inject({ method: 'GET', url: '/v1/series?set=campaign&metric=clicks&window=90d&granularity=1s' })).json()).toMatchObject({ code: 'INVALID_REQUEST' });
  });
});
