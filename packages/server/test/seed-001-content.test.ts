/**
 * Seed 001 (content platform): plain WebSocket at `/analytics` (and on ANALYTICS_WS_PORT);
 * `subscribe{contentIds, organizationId, clientId}`, `unsubscribe`, `ping`; server messages
 * `connected`, `subscribed`, `analytics_update`, `pong`, `error`; `POST`/`GET
 * /api/analytics/trigger-update`. Clients are the real `ws` package, used as the document shows.
 */
import { afterEach, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { Cleanup, WsCollector, http, postEvents, startTestServer, tempDir, tokenFor, waitFor, type Json, type TestServer } from './support/index.js';
import { rmSync } from 'node:fs';

const cleanup = new Cleanup();
afterEach(() => cleanup.run());

async function server(env: Record<string, string> = {}, auth: 'dev' | 'jwt' = 'dev'): Promise<TestServer> {
  return cleanup.server(await startTestServer({ env, auth }));
}

/** Connect, wait for `connected`, subscribe as the seed's hook does, wait for `subscribed`. */
async function subscriber(s: TestServer, sub: { contentIds: string[]; organizationId?: string; clientId?: string }, token?: string): Promise<WsCollector> {
  const c = cleanup.closable(await WsCollector.open(`${s.wsUrl}/analytics${token ? `?token=${token}` : ''}`));
  await c.nextOfType('connected');
  await c.request({ type: 'subscribe', ...sub }, (m) => m.type === 'subscribed' || m.type === 'error');
  return c;
}

/** Everything this client was sent before now has arrived once the pong to a later ping is here. */
async function drained(c: WsCollector): Promise<void> {
  await c.request({ type: 'ping' }, (m) => m.type === 'pong');
}

type Update = { type: string; contentId: string; field: string; value: number; timestamp: number; organizationId?: string; clientId?: string };

function trigger(s: TestServer, body: Record<string, unknown>, token?: string) {
  return http<{ value: number } & Record<string, unknown>>('POST', `${s.url}/api/analytics/trigger-update`, { body, token });
}

describe('seed 001 content analytics over plain WebSocket', () => {
  it("runs the document's integration snippet: connect to /analytics and get `connected{clientId, timestamp}`", async () => {
    const s = await server();
    // From the seed's "Integration Tests" (URL adapted):
    const ws = cleanup.closable(new WebSocket(`${s.wsUrl}/analytics`));
    const log: unknown[] = [];
    ws.on('open', () => log.push('Connected'));
    ws.on('message', (data) => log.push(JSON.parse(data as unknown as string)));
    await waitFor(() => log.length >= 2, 'open and first message');
    expect(log[0]).toBe('Connected');
    const hello = log[1] as Json;
    expect(hello).toEqual({ type: 'connected', clientId: expect.any(String), timestamp: expect.any(Number) });
    expect((hello.clientId as string).length).toBeGreaterThan(0);
  });

  it('subscribe → `subscribed{contentIds, organizationId, clientId, timestamp}`; ping → `pong{timestamp}`', async () => {
    const s = await server();
    const c = cleanup.closable(await WsCollector.open(`${s.wsUrl}/analytics`));
    await c.nextOfType('connected');
    const sub = await c.request(
      { type: 'subscribe', contentIds: ['content-1', 'content-2'], organizationId: 'org-456', clientId: 'client-789' },
      (m) => m.type === 'subscribed' || m.type === 'error',
    );
    expect(sub).toEqual({ type: 'subscribed', contentIds: ['content-1', 'content-2'], organizationId: 'org-456', clientId: 'client-789', timestamp: expect.any(Number) });
    const pong = await c.request({ type: 'ping' }, (m) => m.type === 'pong' || m.type === 'error');
    expect(pong).toEqual({ type: 'pong', timestamp: expect.any(Number) });
  });

  it('POST /api/analytics/trigger-update increments the field and broadcasts `analytics_update` with the new value', async () => {
    const s = await server();
    const c = await subscriber(s, { contentIds: ['content-123'], organizationId: 'org-456', clientId: 'client-789' });
    // The document's fetch body.
    const body = { contentId: 'content-123', field: 'views', increment: 1, organizationId: 'org-456', clientId: 'client-789' };
    const r1 = await trigger(s, body);
    expect(r1.status).toBe(200);
    expect(r1.body.value).toBe(1);
    const u1 = (await c.nextOfType('analytics_update')) as Update;
    expect(u1).toEqual({ type: 'analytics_update', contentId: 'content-123', field: 'views', value: 1, timestamp: expect.any(Number), organizationId: 'org-456', clientId: 'client-789' });

    const r2 = await trigger(s, body);
    expect(r2.body.value).toBe(2);
    await c.nextOfType('analytics_update', (m) => m.value === 2);

    // triggerRealUpdate('content-123', 'likes', 1, 'org-456', 'client-789'): another field counts apart.
    const r3 = await trigger(s, { contentId: 'content-123', field: 'likes', increment: 1, organizationId: 'org-456', clientId: 'client-789' });
    expect(r3.body.value).toBe(1);
    const u3 = await c.nextOfType('analytics_update', (m) => m.field === 'likes');
    expect(u3).toMatchObject({ contentId: 'content-123', field: 'likes', value: 1 });

    // An increment other than 1 is added as given.
    const r4 = await trigger(s, { ...body, increment: 5 });
    expect(r4.body.value).toBe(7);
    await c.nextOfType('analytics_update', (m) => m.field === 'views' && m.value === 7);
    expect(c.ofType('analytics_update').map((m) => [m.field, m.value])).toEqual([
      ['views', 1],
      ['views', 2],
      ['likes', 1],
      ['views', 7],
    ]);
  });

  it('concurrent triggers each get their own value, broadcast in order', async () => {
    const s = await server();
    const c = await subscriber(s, { contentIds: ['hot'] });
    const n = 25;
    const answers = await Promise.all(Array.from({ length: n }, () => trigger(s, { contentId: 'hot', field: 'views' })));
    const expected = Array.from({ length: n }, (_, i) => i + 1);
    expect(answers.map((r) => r.body.value).sort((a, b) => a - b)).toEqual(expected);
    const got = await c.count((m) => m.type === 'analytics_update', n);
    expect(got.map((m) => m.value)).toEqual(expected);
  });

  it("the document's curl body (no organization) reaches a subscriber of that content", async () => {
    const s = await server();
    const c = await subscriber(s, { contentIds: ['test'] });
    const r = await http('POST', `${s.url}/api/analytics/trigger-update`, {
      body: '{"contentId":"test","field":"views","increment":1}',
      headers: { 'Content-Type': 'application/json' },
    });
    expect(r.status).toBe(200);
    const u = await c.nextOfType('analytics_update');
    expect(u).toEqual({ type: 'analytics_update', contentId: 'test', field: 'views', value: 1, timestamp: expect.any(Number) });
  });

  it('a bad trigger body is a coded 400 and changes nothing', async () => {
    const s = await server();
    for (const body of [{ contentId: 'x', field: 'bogus', increment: 1 }, { field: 'views' }, { contentId: 'x', field: 'views', increment: 'one' }]) {
      const r = await trigger(s, body);
      expect(r.status).toBe(400);
      expect((r.body as unknown as { code: string }).code).toBe('INVALID_REQUEST');
    }
    const ok = await trigger(s, { contentId: 'x', field: 'views' });
    expect(ok.body.value).toBe(1);
  });

  it('GET /api/analytics/trigger-update returns `{status{simulationRunning, connectedClients, timestamp}}`', async () => {
    const s = await server();
    const a = await subscriber(s, { contentIds: ['c1'] });
    await subscriber(s, { contentIds: ['c2'] });
    const r = await http<{ status: { simulationRunning: boolean; connectedClients: number; timestamp: number } }>('GET', `${s.url}/api/analytics/trigger-update`);
    expect(r.status).toBe(200);
    expect(r.body).toEqual({ status: { simulationRunning: false, connectedClients: 2, timestamp: expect.any(Number) } });

    a.ws.close();
    await a.closed();
    await waitFor(async () => {
      const g = await http<{ status: { connectedClients: number } }>('GET', `${s.url}/api/analytics/trigger-update`);
      return g.body.status.connectedClients === 1;
    }, 'connectedClients to drop to 1');
  });

  it('development simulation (SIMULATE=true): GET says simulationRunning and subscribers get simulated updates', async () => {
    const s = await server({ SIMULATE: 'true', SIMULATE_RATE: '200' });
    const r = await http<{ status: { simulationRunning: boolean } }>('GET', `${s.url}/api/analytics/trigger-update`);
    expect(r.body.status.simulationRunning).toBe(true);
    const c = await subscriber(s, { contentIds: ['content-1', 'content-2', 'content-3'] });
    const u = await c.nextOfType('analytics_update', () => true, { timeoutMs: 15_000 });
    expect(u).toEqual({ type: 'analytics_update', contentId: expect.stringMatching(/^content-[123]$/), field: expect.any(String), value: expect.any(Number), timestamp: expect.any(Number) });
    expect(['views', 'likes', 'shares', 'comments']).toContain(u.field);
  });

  it('an update of organization A does not reach a subscriber of organization B', async () => {
    const s = await server();
    const a = await subscriber(s, { contentIds: ['shared-1'], organizationId: 'org-A' });
    const b = await subscriber(s, { contentIds: ['shared-1'], organizationId: 'org-B' });
    await trigger(s, { contentId: 'shared-1', field: 'views', increment: 1, organizationId: 'org-A' });
    await postEvents(s.url, { channel: 'content:shared-1', type: 'like', orgId: 'org-A', data: {} });
    await trigger(s, { contentId: 'shared-1', field: 'shares', increment: 1, organizationId: 'org-B' });
    await b.nextOfType('analytics_update', (m) => m.field === 'shares');
    await drained(a);
    await drained(b);
    expect(a.ofType('analytics_update').map((m) => [m.organizationId, m.field])).toEqual([
      ['org-A', 'views'],
      ['org-A', 'likes'],
    ]);
    expect(b.ofType('analytics_update').map((m) => [m.organizationId, m.field])).toEqual([['org-B', 'shares']]);
  });

  it('client-level scoping: an update for client X does not reach a subscriber scoped to client Y', async () => {
    const s = await server();
    const x = await subscriber(s, { contentIds: ['c-1'], organizationId: 'org-1', clientId: 'client-X' });
    const y = await subscriber(s, { contentIds: ['c-1'], organizationId: 'org-1', clientId: 'client-Y' });
    const all = await subscriber(s, { contentIds: ['c-1'], organizationId: 'org-1' });
    await trigger(s, { contentId: 'c-1', field: 'views', organizationId: 'org-1', clientId: 'client-X' });
    await trigger(s, { contentId: 'c-1', field: 'likes', organizationId: 'org-1' });
    await trigger(s, { contentId: 'c-1', field: 'shares', organizationId: 'org-1', clientId: 'client-Y' });
    for (const c of [x, y, all]) await drained(c);
    const seen = (c: WsCollector) => c.ofType('analytics_update').map((m) => [m.field, m.clientId ?? null]);
    // Updates without a client go to every client of the organisation.
    expect(seen(x)).toEqual([
      ['views', 'client-X'],
      ['likes', null],
    ]);
    expect(seen(y)).toEqual([
      ['likes', null],
      ['shares', 'client-Y'],
    ]);
    // A subscriber without a client scope sees the whole organisation.
    expect(seen(all)).toEqual([
      ['views', 'client-X'],
      ['likes', null],
      ['shares', 'client-Y'],
    ]);
  });

  it('a new subscribe replaces the set of contents', async () => {
    const s = await server();
    const c = await subscriber(s, { contentIds: ['content-1', 'content-2'] });
    const sub = await c.request({ type: 'subscribe', contentIds: ['content-3'] }, (m) => m.type === 'subscribed');
    expect(sub.contentIds).toEqual(['content-3']);
    await trigger(s, { contentId: 'content-1', field: 'views' });
    await trigger(s, { contentId: 'content-3', field: 'views' });
    await c.nextOfType('analytics_update', (m) => m.contentId === 'content-3');
    await drained(c);
    expect(c.ofType('analytics_update').map((m) => m.contentId)).toEqual(['content-3']);
  });

  it("a token's organization wins: naming another one in subscribe is refused", async () => {
    const s = await server({}, 'jwt');
    const token = await tokenFor('u-1', null, 'user', { organizationId: 'org-A' });
    const c = cleanup.closable(await WsCollector.open(`${s.wsUrl}/analytics?token=${token}`));
    await c.nextOfType('connected');
    const err = await c.request({ type: 'subscribe', contentIds: ['c1'], organizationId: 'org-B' }, (m) => m.type === 'subscribed' || m.type === 'error');
    expect(err).toMatchObject({ type: 'error', error: expect.any(String), timestamp: expect.any(Number) });
    const ok = await c.request({ type: 'subscribe', contentIds: ['c1'] }, (m) => m.type === 'subscribed' || m.type === 'error');
    expect(ok).toMatchObject({ type: 'subscribed', contentIds: ['c1'], organizationId: 'org-A' });
  });

  it('content events from POST /v1/events and hub.ingest count towards their field', async () => {
    const s = await server();
    const c = await subscriber(s, { contentIds: ['c9'], organizationId: 'org-1' });
    await postEvents(s.url, [
      { channel: 'content:c9', type: 'content_view', orgId: 'org-1', data: {} },
      { channel: 'content:c9', type: 'content_view', orgId: 'org-1', data: {} },
      { channel: 'content:c9', type: 'comment', orgId: 'org-1', data: { clientId: 'client-1' } },
    ]);
    await s.hub.ingest([{ channel: 'content:c9', type: 'share', orgId: 'org-1', data: {} }], { wait: 'durable' });
    await c.count((m) => m.type === 'analytics_update', 4);
    expect(c.ofType('analytics_update').map((m) => [m.field, m.value, m.clientId ?? null])).toEqual([
      ['views', 1, null],
      ['views', 2, null],
      ['comments', 1, 'client-1'],
      ['shares', 1, null],
    ]);
  });

  it('only subscribed contents are delivered; unsubscribe stops delivery', async () => {
    const s = await server();
    const c = await subscriber(s, { contentIds: ['content-1', 'content-2'] });
    await trigger(s, { contentId: 'content-3', field: 'views' });
    await trigger(s, { contentId: 'content-2', field: 'views' });
    await c.nextOfType('analytics_update', (m) => m.contentId === 'content-2');
    expect(c.ofType('analytics_update').map((m) => m.contentId)).toEqual(['content-2']);

    c.send({ type: 'unsubscribe' });
    await drained(c);
    const from = c.mark();
    await trigger(s, { contentId: 'content-1', field: 'views' });
    await drained(c);
    expect(c.ofType('analytics_update', from)).toEqual([]);
  });

  it('bad messages get `error{error, timestamp}` and the connection stays usable', async () => {
    const s = await server();
    const c = cleanup.closable(await WsCollector.open(`${s.wsUrl}/analytics`));
    await c.nextOfType('connected');
    for (const bad of ['not json', JSON.stringify({ type: 'dance' }), JSON.stringify({ type: 'subscribe', contentIds: 'content-1' })]) {
      const e = await c.request(bad, (m) => m.type === 'error');
      expect(e).toMatchObject({ type: 'error', error: expect.any(String), timestamp: expect.any(Number) });
    }
    await drained(c);
  });

  it('the counter continues after a server restart on the same DATA_DIR', async () => {
    const dir = tempDir();
    cleanup.add(dir, (d) => rmSync(d, { recursive: true, force: true }));
    let s = cleanup.server(await startTestServer({ dir }));
    for (let i = 1; i <= 3; i++) expect((await trigger(s, { contentId: 'persist-1', field: 'views' })).body.value).toBe(i);
    s = cleanup.server(await s.restart());
    const c = await subscriber(s, { contentIds: ['persist-1'] });
    const r = await trigger(s, { contentId: 'persist-1', field: 'views' });
    expect(r.body.value).toBe(4);
    const u = await c.nextOfType('analytics_update');
    expect(u).toMatchObject({ contentId: 'persist-1', field: 'views', value: 4 });
    // Another field of the same content starts from its own stored value (none yet).
    expect((await trigger(s, { contentId: 'persist-1', field: 'likes' })).body.value).toBe(1);
  });

  it('serves the same protocol on ANALYTICS_WS_PORT, with a health answer there', async () => {
    const s = await server({ ANALYTICS_WS_PORT: '0' });
    expect(s.analyticsPort).toEqual(expect.any(Number));
    const base = `127.0.0.1:${s.analyticsPort}`;
    const health = await http<{ status: string }>('GET', `http://${base}/health`);
    expect(health.body.status).toBe('ok');
    const c = cleanup.closable(await WsCollector.open(`ws://${base}/analytics`));
    await c.nextOfType('connected');
    await c.request({ type: 'subscribe', contentIds: ['content-1'] }, (m) => m.type === 'subscribed');
    await trigger(s, { contentId: 'content-1', field: 'views' });
    expect(await c.nextOfType('analytics_update')).toMatchObject({ contentId: 'content-1', field: 'views', value: 1 });
  });

  it('without SKIP_AUTH a client needs a token (`?token=`); none is closed with 4001', async () => {
    const s = await server({}, 'jwt');
    const anon = cleanup.closable(new WsCollector(new WebSocket(`${s.wsUrl}/analytics`)));
    expect((await anon.closed()).code).toBe(4001);
    const token = await tokenFor('u-2', null);
    const c = await subscriber(s, { contentIds: ['c1'] }, token);
    expect(c.ofType('subscribed')).toHaveLength(1);
  });
  it('subscribe and unsubscribe take effect in the order sent, even when they arrive in one packet', async () => {
    const s = await server();
    const c = cleanup.closable(await WsCollector.open(`${s.wsUrl}/analytics`));
    await c.nextOfType('connected');
    // The hook re-subscribes when its contentIds change: the last set wins.
    c.sendTogether([
      { type: 'subscribe', contentIds: ['a', 'b', 'c'] },
      { type: 'subscribe', contentIds: ['d'] },
    ]);
    await c.count((m) => m.type === 'subscribed', 2);
    expect(c.ofType('subscribed').map((m) => m.contentIds)).toEqual([['a', 'b', 'c'], ['d']]);
    for (const id of ['a', 'b', 'c', 'd']) await trigger(s, { contentId: id, field: 'views' });
    await c.nextOfType('analytics_update', (m) => m.contentId === 'd');
    await drained(c);
    expect(c.ofType('analytics_update').map((m) => m.contentId)).toEqual(['d']);

    // Subscribe then unsubscribe: answered in that order, and nothing is delivered afterwards.
    const from = c.mark();
    c.sendTogether([{ type: 'subscribe', contentIds: ['e'] }, { type: 'unsubscribe' }]);
    await c.nextOfType('unsubscribed', () => true, { from });
    expect(c.all((m) => m.type === 'subscribed' || m.type === 'unsubscribed', from).map((m) => m.type)).toEqual(['subscribed', 'unsubscribed']);
    await trigger(s, { contentId: 'e', field: 'views' });
    await trigger(s, { contentId: 'd', field: 'views' });
    await drained(c);
    expect(c.ofType('analytics_update', from)).toEqual([]);
  });

  it('more contentIds than MAX_SUBSCRIPTIONS_PER_CLIENT: a MAX_SUBSCRIPTIONS error, and the previous set stays', async () => {
    const s = await server({ MAX_SUBSCRIPTIONS_PER_CLIENT: '3' });
    const c = await subscriber(s, { contentIds: ['keep-1', 'keep-2'] });
    const e = await c.request({ type: 'subscribe', contentIds: ['n-1', 'n-2', 'n-3', 'n-4'] }, (m) => m.type === 'subscribed' || m.type === 'error');
    expect(e).toMatchObject({ type: 'error', code: 'MAX_SUBSCRIPTIONS', error: expect.any(String), timestamp: expect.any(Number) });
    for (const id of ['n-1', 'keep-2']) await trigger(s, { contentId: id, field: 'views' });
    await c.nextOfType('analytics_update', (m) => m.contentId === 'keep-2');
    await drained(c);
    expect(c.ofType('analytics_update').map((m) => m.contentId)).toEqual(['keep-2']);
    // As many as the limit is fine.
    expect(await c.request({ type: 'subscribe', contentIds: ['n-1', 'n-2', 'n-3'] }, (m) => m.type === 'subscribed' || m.type === 'error')).toMatchObject({ type: 'subscribed' });
  });

  it('an organizationId the token does not carry is FORBIDDEN, and the previous set stays', async () => {
    const s = await server({}, 'jwt');
    const token = await tokenFor('u-no-org', null);
    const c = await subscriber(s, { contentIds: ['mine'] }, token);
    expect(c.ofType('subscribed')).toHaveLength(1);
    // NEXT_PUBLIC_ORGANIZATION_ID set on the client, but the token names no organization.
    const e = await c.request({ type: 'subscribe', contentIds: ['other'], organizationId: 'org-456' }, (m) => m.type === 'subscribed' || m.type === 'error');
    expect(e).toMatchObject({ type: 'error', code: 'FORBIDDEN' });
    await s.hub.ingest([{ channel: 'content:mine', type: 'like', data: {} }], { wait: 'durable' });
    expect(await c.nextOfType('analytics_update')).toMatchObject({ contentId: 'mine', field: 'likes', value: 1 });
  });

  it('`contentIds: []` subscribes to every content', async () => {
    const s = await server();
    const c = await subscriber(s, { contentIds: [] });
    expect(c.ofType('subscribed')[0]).toMatchObject({ contentIds: [] });
    await trigger(s, { contentId: 'any-1', field: 'views' });
    await trigger(s, { contentId: 'any-2', field: 'shares' });
    await c.count((m) => m.type === 'analytics_update', 2);
    expect(c.ofType('analytics_update').map((m) => [m.contentId, m.field])).toEqual([
      ['any-1', 'views'],
      ['any-2', 'shares'],
    ]);
  });
});
