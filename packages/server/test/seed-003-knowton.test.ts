/**
 * Seed 003 (KnowTon): plain WebSocket at `/ws/metrics` pushing `{type:'metrics', data}` on
 * connect and every REALTIME_METRICS_INTERVAL_MS (5 s by default; 200 ms here), `ping` → `pong`;
 * `GET /api/v1/analytics/realtime-metrics`. The numbers come from the metrics engine; this file
 * checks the wire.
 */
import { afterEach, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { loadConfig } from '@pulse/server';
import { SignJWT } from 'jose';
import { ApiKeys } from '../src/auth/keys.js';
import { Cleanup, TEST_SECRET, WsCollector, http, postEvents, startTestServer, testEnv, tokenFor, waitFor, type Json, type TestServer } from './support/index.js';

const cleanup = new Cleanup();
afterEach(() => cleanup.run());

async function server(env: Record<string, string> = {}, auth: 'dev' | 'jwt' = 'dev'): Promise<TestServer> {
  return cleanup.server(await startTestServer({ env: { REALTIME_METRICS_INTERVAL_MS: '200', ...env }, auth }));
}

function isIso(v: unknown): boolean {
  return typeof v === 'string' && !Number.isNaN(Date.parse(v)) && new Date(v).toISOString() === v;
}

function expectMetricsFrame(m: Json): void {
  expect(Object.keys(m).sort()).toEqual(['data', 'type']);
  expect(m.type).toBe('metrics');
  expect(typeof m.data).toBe('object');
  expect(m.data).not.toBeNull();
  expect(isIso((m.data as Json).timestamp)).toBe(true);
}

/** The seed 003 response shape of the REST route (and of a full `data` object). */
function expectRealtimeMetrics(d: Json): void {
  expect(d).toMatchObject({
    revenue: { total: expect.any(Number), today: expect.any(Number), thisWeek: expect.any(Number), thisMonth: expect.any(Number) },
    activeUsers: { current: expect.any(Number), today: expect.any(Number), peak24h: expect.any(Number) },
    transactions: { total: expect.any(Number), pending: expect.any(Number), completed: expect.any(Number), failed: expect.any(Number) },
    content: { totalViews: expect.any(Number), totalPurchases: expect.any(Number), conversionRate: expect.any(Number) },
  });
  expect(isIso(d.timestamp)).toBe(true);
}

describe('seed 003 KnowTon realtime metrics', () => {
  it("runs the document's client: `new WebSocket('/ws/metrics')` gets a `metrics` push at once", async () => {
    const s = await server({ REALTIME_METRICS_INTERVAL_MS: '3600000' });
    // From the seed (URL adapted). The interval is an hour here, so the first frame is the
    // push on connect, not a tick.
    const ws = cleanup.closable(new WebSocket(`${s.wsUrl}/ws/metrics`));
    const frames: Json[] = [];
    ws.on('message', (data) => frames.push(JSON.parse(data.toString()) as Json));
    await waitFor(() => frames.length >= 1, 'first metrics frame');
    expectMetricsFrame(frames[0]);
  });

  it('pushes every 5 s unless REALTIME_METRICS_INTERVAL_MS says otherwise', () => {
    const env = testEnv('/nonexistent');
    expect(loadConfig(env).REALTIME_METRICS_INTERVAL_MS).toBe(5000);
    expect(loadConfig({ ...env, REALTIME_METRICS_INTERVAL_MS: '200' }).REALTIME_METRICS_INTERVAL_MS).toBe(200);
  });

  it('pushes `metrics` periodically to every connected client', async () => {
    const s = await server();
    const a = cleanup.closable(await WsCollector.open(`${s.wsUrl}/ws/metrics`));
    const b = cleanup.closable(await WsCollector.open(`${s.wsUrl}/ws/metrics`));
    const fa = await a.count((m) => m.type === 'metrics', 4, { timeoutMs: 10_000 });
    const fb = await b.count((m) => m.type === 'metrics', 4, { timeoutMs: 10_000 });
    for (const m of [...fa, ...fb]) expectMetricsFrame(m);
    // Each tick is a fresh snapshot: its time does not go backwards.
    const times = fa.map((m) => Date.parse((m.data as Json).timestamp as string));
    for (let i = 1; i < times.length; i++) expect(times[i]).toBeGreaterThanOrEqual(times[i - 1]);
    // A client that left is no longer written to; the others keep getting pushes.
    a.ws.close();
    await a.closed();
    const from = b.mark();
    await b.count((m) => m.type === 'metrics', 2, { from, timeoutMs: 10_000 });
  });

  it('`{type:"ping"}` is answered with `{type:"pong"}`', async () => {
    const s = await server({ REALTIME_METRICS_INTERVAL_MS: '3600000' });
    const c = cleanup.closable(await WsCollector.open(`${s.wsUrl}/ws/metrics`));
    await c.nextOfType('metrics');
    const pong = await c.request({ type: 'ping' }, (m) => m.type !== 'metrics');
    expect(pong).toEqual({ type: 'pong' });
  });

  it('anything else gets a coded error and the connection stays open', async () => {
    const s = await server({ REALTIME_METRICS_INTERVAL_MS: '3600000' });
    const c = cleanup.closable(await WsCollector.open(`${s.wsUrl}/ws/metrics`));
    await c.nextOfType('metrics');
    expect(await c.request('not json', (m) => m.type === 'error')).toMatchObject({ code: 'BAD_JSON' });
    expect(await c.request({ type: 'subscribe' }, (m) => m.type === 'error')).toMatchObject({ code: 'UNKNOWN_OP' });
    expect(await c.request({ type: 'ping' }, (m) => m.type === 'pong')).toEqual({ type: 'pong' });
  });

  it('with SKIP_AUTH off a token is needed (`?token=`); none is closed with 4001', async () => {
    const s = await server({}, 'jwt');
    const anon = cleanup.closable(new WsCollector(new WebSocket(`${s.wsUrl}/ws/metrics`)));
    expect((await anon.closed()).code).toBe(4001);
    const c = cleanup.closable(await WsCollector.open(`${s.wsUrl}/ws/metrics?token=${await tokenFor('u-3', null)}`));
    expectMetricsFrame(await c.nextOfType('metrics'));
  });

  it('GET /api/v1/analytics/realtime-metrics answers in the seed shape, as /ws/metrics pushes it', async () => {
    const s = await server();
    const r = await http<Json>('GET', `${s.url}/api/v1/analytics/realtime-metrics`);
    expect(r.status).toBe(200);
    expectRealtimeMetrics(r.body);
    const c = cleanup.closable(await WsCollector.open(`${s.wsUrl}/ws/metrics`));
    expectRealtimeMetrics((await c.nextOfType('metrics')).data as Json);
  });

  it('test transactions and views show up in the next push and in the REST answer', async () => {
    const s = await server();
    const c = cleanup.closable(await WsCollector.open(`${s.wsUrl}/ws/metrics`));
    await c.nextOfType('metrics');
    await postEvents(s.url, [
      { channel: 'platform:tx', type: 'transaction', userId: 'buyer-1', data: { transactionId: 't-1', status: 'pending', amount: 40 } },
      { channel: 'platform:tx', type: 'transaction', userId: 'buyer-1', data: { transactionId: 't-1', status: 'completed', amount: 40 } },
      { channel: 'platform:tx', type: 'transaction', userId: 'buyer-2', data: { transactionId: 't-2', status: 'failed', amount: 15.5 } },
      { channel: 'content:k1', type: 'content_view', userId: 'viewer-1', data: {} },
      { channel: 'content:k1', type: 'purchase', userId: 'buyer-1', data: {} },
    ]);
    const pushed = await c.nextOfType('metrics', (m) => ((m.data as Json).transactions as Json).total === 2, { timeoutMs: 10_000 });
    const want = {
      revenue: { total: 40, today: 40 },
      transactions: { total: 2, pending: 0, completed: 1, failed: 1 },
      content: { totalViews: 1, totalPurchases: 1 },
      activeUsers: { current: 3 },
    };
    expect(pushed.data).toMatchObject(want);
    expect((await http<Json>('GET', `${s.url}/api/v1/analytics/realtime-metrics`)).body).toMatchObject(want);
  });

  it('/ws/metrics is refused to whoever may not read metrics over HTTP (FORBIDDEN, 4003)', async () => {
    const s = await server({}, 'jwt');
    const { key } = await new ApiKeys(s.hub.store).create({ name: 'ingest-only', operations: ['ingest'], channels: ['analytics:*'] });
    // Supabase's public anon key is a JWT with role `anon`: no user rights.
    const anon = await new SignJWT({ role: 'anon' }).setProtectedHeader({ alg: 'HS256', typ: 'JWT' }).setExpirationTime('1h').sign(new TextEncoder().encode(TEST_SECRET));
    for (const token of [key, anon]) {
      expect((await http('GET', `${s.url}/api/v1/analytics/realtime-metrics`, { token })).status).toBe(403);
      const c = cleanup.closable(new WsCollector(new WebSocket(`${s.wsUrl}/ws/metrics?token=${token}`)));
      expect((await c.closed()).code).toBe(4003);
      expect(c.ofType('metrics')).toEqual([]);
      expect(c.ofType('error')).toEqual([{ type: 'error', code: 'FORBIDDEN', message: expect.any(String) }]);
    }
    // A key that may read metrics gets them on both.
    const reader = (await new ApiKeys(s.hub.store).create({ name: 'reader', operations: ['read'], channels: ['metrics:*'] })).key;
    expect((await http('GET', `${s.url}/api/v1/analytics/realtime-metrics`, { token: reader })).status).toBe(200);
    const ok = cleanup.closable(await WsCollector.open(`${s.wsUrl}/ws/metrics?token=${reader}`));
    expectMetricsFrame(await ok.nextOfType('metrics'));
  });

  it('a token that expires ends the /ws/metrics connection with TOKEN_EXPIRED (4009)', async () => {
    const s = await server({}, 'jwt');
    const token = await tokenFor('u-exp', null, 'user', { expiresIn: '2s' });
    const c = cleanup.closable(await WsCollector.open(`${s.wsUrl}/ws/metrics?token=${token}`));
    await c.nextOfType('metrics');
    expect((await c.closed({ timeoutMs: 6000 })).code).toBe(4009);
    expect(c.ofType('error')).toEqual([{ type: 'error', code: 'TOKEN_EXPIRED', message: expect.any(String) }]);
  });
});
