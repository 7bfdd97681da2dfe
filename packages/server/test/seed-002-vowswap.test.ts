/**
 * Seed 002 (VowSwap): plain WebSocket at `/api/websocket/analytics`; every message is
 * `{type, payload, channel, timestamp}` with an ISO timestamp; channels `analytics`,
 * `analytics:search`, `analytics:filters`, `analytics:listings`, `analytics:user_sessions`;
 * `analytics` receives every `analytics:*` event; `payload` is the event with `eventType` set.
 */
import { afterEach, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { SignJWT } from 'jose';
import { Cleanup, TEST_SECRET, WsCollector, postEvents, startTestServer, type Json, type TestServer } from './support/index.js';

const PATH = '/api/websocket/analytics';
const CHANNELS = ['analytics:search', 'analytics:filters', 'analytics:listings', 'analytics:user_sessions'] as const;

const cleanup = new Cleanup();
afterEach(() => cleanup.run());

async function server(env: Record<string, string> = {}, auth: 'dev' | 'jwt' = 'dev'): Promise<TestServer> {
  return cleanup.server(await startTestServer({ env, auth }));
}

async function client(s: TestServer, query = ''): Promise<WsCollector> {
  const c = cleanup.closable(await WsCollector.open(`${s.wsUrl}${PATH}${query}`));
  await c.nextOfType('connect');
  return c;
}

/** `subscribe(ChannelType.X)`: a WebSocketMessage of type 'subscribe' for the channel. */
function subscribe(c: WsCollector, channel: string): Promise<Json> {
  return c.request({ type: 'subscribe', channel, timestamp: new Date().toISOString() }, (m) => (m.type === 'subscribe' || m.type === 'error') && m.channel === channel);
}

/** Frames sent before now have arrived once the answer to a later ping is here. */
async function drained(c: WsCollector): Promise<void> {
  await c.request({ type: 'ping', timestamp: new Date().toISOString() }, (m) => m.type === 'pong');
}

function isIso(v: unknown): boolean {
  return typeof v === 'string' && !Number.isNaN(Date.parse(v)) && new Date(v).toISOString() === v;
}

/** Every message has the seed's WebSocketMessage shape. */
function expectMessageShape(m: Json): void {
  expect(typeof m.type).toBe('string');
  expect(isIso(m.timestamp)).toBe(true);
  if (m.channel !== undefined) expect(typeof m.channel).toBe('string');
  for (const k of Object.keys(m)) expect(['type', 'payload', 'channel', 'timestamp']).toContain(k);
}

describe('seed 002 VowSwap analytics over plain WebSocket', () => {
  it('greets with `connect` and confirms `subscribe`, in the {type, payload, channel, timestamp} shape', async () => {
    const s = await server();
    const c = await client(s);
    const hello = c.ofType('connect')[0];
    expectMessageShape(hello);
    const ack = await subscribe(c, 'analytics');
    expectMessageShape(ack);
    expect(ack).toMatchObject({ type: 'subscribe', channel: 'analytics', payload: { success: true, channel: 'analytics' } });
    // The channel may also be named inside the payload.
    const ack2 = await c.request({ type: 'subscribe', payload: { channel: 'analytics:search' }, timestamp: new Date().toISOString() }, (m) => m.type === 'subscribe' && m.channel === 'analytics:search');
    expect(ack2).toMatchObject({ payload: { success: true, channel: 'analytics:search' } });
  });

  it('`analytics` receives every analytics:* event as `analytics_update` with payload.eventType and ISO timestamps', async () => {
    const s = await server();
    const c = await client(s);
    await subscribe(c, 'analytics');
    const ts = Date.parse('2025-03-01T12:00:00.000Z');
    const events = [
      { channel: 'analytics:search', type: 'search', ts, userId: 'user-1', data: { query: 'wedding dress', resultsCount: 12 } },
      { channel: 'analytics:filters', type: 'filter_apply', ts, data: { filterType: 'price', filterValue: '100-200' } },
      { channel: 'analytics:listings', type: 'listing_view', ts, data: { listingId: 'l-9' } },
      { channel: 'analytics:user_sessions', type: 'session_start', ts, data: { sessionId: 's-1' } },
    ];
    await postEvents(s.url, events);
    await s.hub.ingest([{ channel: 'analytics', type: 'page_view', ts, data: { path: '/dashboard' } }], { wait: 'durable' });
    const got = await c.count((m) => m.type === 'analytics_update', 5);
    for (const m of got) expectMessageShape(m);
    expect(got.map((m) => [m.channel, (m.payload as Json).eventType])).toEqual([
      ['analytics:search', 'search'],
      ['analytics:filters', 'filter_apply'],
      ['analytics:listings', 'listing_view'],
      ['analytics:user_sessions', 'session_start'],
      ['analytics', 'page_view'],
    ]);
    const search = got[0].payload as Json;
    expect(search).toMatchObject({ eventType: 'search', query: 'wedding dress', resultsCount: 12, userId: 'user-1', timestamp: '2025-03-01T12:00:00.000Z' });
    expect(typeof search.id).toBe('string');
    expect(got[1].payload).toMatchObject({ eventType: 'filter_apply', filterType: 'price', filterValue: '100-200' });
  });

  it('a sub-channel receives only its own events', async () => {
    const s = await server();
    const c = await client(s);
    await subscribe(c, 'analytics:search');
    await postEvents(s.url, [
      { channel: 'analytics:filters', type: 'filter_apply', data: {} },
      { channel: 'analytics:listings', type: 'listing_view', data: {} },
      { channel: 'analytics', type: 'page_view', data: {} },
      { channel: 'analytics:search', type: 'search', data: { query: 'veil' } },
    ]);
    await c.nextOfType('analytics_update', (m) => m.channel === 'analytics:search');
    await drained(c);
    expect(c.ofType('analytics_update').map((m) => m.channel)).toEqual(['analytics:search']);
  });

  it('subscribed to `analytics` and `analytics:search`, a search event arrives once', async () => {
    const s = await server();
    const c = await client(s);
    await subscribe(c, 'analytics');
    await subscribe(c, 'analytics:search');
    await postEvents(s.url, [
      { channel: 'analytics:search', type: 'search', data: { n: 1 } },
      { channel: 'analytics:filters', type: 'filter_apply', data: { n: 2 } },
    ]);
    await c.nextOfType('analytics_update', (m) => m.channel === 'analytics:filters');
    await drained(c);
    expect(c.ofType('analytics_update').map((m) => (m.payload as Json).n)).toEqual([1, 2]);
  });

  it('unsubscribe stops delivery; unsubscribing again is an error with code NOT_SUBSCRIBED', async () => {
    const s = await server();
    const c = await client(s);
    await subscribe(c, 'analytics:search');
    const ack = await c.request({ type: 'unsubscribe', channel: 'analytics:search', timestamp: new Date().toISOString() }, (m) => m.type === 'unsubscribe' || m.type === 'error');
    expectMessageShape(ack);
    expect(ack).toMatchObject({ type: 'unsubscribe', channel: 'analytics:search', payload: { success: true } });
    const from = c.mark();
    await postEvents(s.url, { channel: 'analytics:search', type: 'search', data: {} });
    await drained(c);
    expect(c.ofType('analytics_update', from)).toEqual([]);

    const err = await c.request({ type: 'unsubscribe', channel: 'analytics:search', timestamp: new Date().toISOString() }, (m) => m.type === 'error');
    expectMessageShape(err);
    expect(err.payload).toMatchObject({ code: 'NOT_SUBSCRIBED', message: expect.any(String) });
  });

  it('past MAX_SUBSCRIPTIONS_PER_CLIENT a subscribe is an error with code MAX_SUBSCRIPTIONS', async () => {
    const s = await server({ MAX_SUBSCRIPTIONS_PER_CLIENT: '2' });
    const c = await client(s);
    expect((await subscribe(c, 'analytics:search')).type).toBe('subscribe');
    expect((await subscribe(c, 'analytics:filters')).type).toBe('subscribe');
    const err = await subscribe(c, 'analytics:listings');
    expect(err).toMatchObject({ type: 'error', channel: 'analytics:listings', payload: { code: 'MAX_SUBSCRIPTIONS', message: expect.any(String) } });
    expectMessageShape(err);
  });

  it('bad messages get a coded `error` and the connection stays usable', async () => {
    const s = await server();
    const c = await client(s);
    const cases: Array<[string, string]> = [
      ['{not json', 'BAD_JSON'],
      [JSON.stringify({ type: 'dance' }), 'UNKNOWN_OP'],
      [JSON.stringify({ type: 'subscribe' }), 'INVALID_CHANNEL'],
      [JSON.stringify({ type: 'subscribe', channel: 'bad channel!' }), 'INVALID_CHANNEL'],
    ];
    for (const [raw, code] of cases) {
      const e = await c.request(raw, (m) => m.type === 'error');
      expectMessageShape(e);
      expect((e.payload as Json).code).toBe(code);
    }
    expect((await subscribe(c, 'analytics')).type).toBe('subscribe');
  });

  it('with SKIP_AUTH off a Supabase-style JWT is required (`?token=`); none is closed with 4001', async () => {
    const s = await server({}, 'jwt');
    const anon = cleanup.closable(new WsCollector(new WebSocket(`${s.wsUrl}${PATH}`)));
    expect((await anon.closed()).code).toBe(4001);
    const supabase = await new SignJWT({ role: 'authenticated', aud: 'authenticated', email: 'a@example.com' })
      .setProtectedHeader({ alg: 'HS256', typ: 'JWT' })
      .setSubject('5b0c6f0e-1111-4222-8333-444455556666')
      .setExpirationTime('1h')
      .sign(new TextEncoder().encode(TEST_SECRET));
    const c = await client(s, `?token=${supabase}`);
    expect(c.ofType('connect')[0].payload).toMatchObject({ userId: '5b0c6f0e-1111-4222-8333-444455556666' });
    await subscribe(c, 'analytics');
    await s.hub.ingest([{ channel: 'analytics:search', type: 'search', data: {} }], { wait: 'durable' });
    expect(await c.nextOfType('analytics_update')).toMatchObject({ channel: 'analytics:search', payload: { eventType: 'search' } });
  });

  it('every channel the document lists can be subscribed to', async () => {
    const s = await server();
    const c = await client(s);
    for (const ch of ['analytics', ...CHANNELS]) expect((await subscribe(c, ch)).type).toBe('subscribe');
  });
  it('subscribe and unsubscribe take effect in the order sent, even when they arrive in one packet', async () => {
    const s = await server();
    const c = await client(s);
    const now = () => new Date().toISOString();
    // The dashboard's real-time toggle flipped quickly: on, off.
    c.sendTogether([
      { type: 'subscribe', channel: 'analytics:search', timestamp: now() },
      { type: 'unsubscribe', channel: 'analytics:search', timestamp: now() },
    ]);
    await c.count((m) => m.type === 'subscribe' || m.type === 'unsubscribe' || m.type === 'error', 2);
    expect(c.all((m) => m.type === 'subscribe' || m.type === 'unsubscribe' || m.type === 'error').map((m) => m.type)).toEqual(['subscribe', 'unsubscribe']);
    await postEvents(s.url, { channel: 'analytics:search', type: 'search', data: {} });
    await drained(c);
    expect(c.ofType('analytics_update')).toEqual([]);

    // On, off, on: subscribed at the end.
    const from = c.mark();
    c.sendTogether([
      { type: 'subscribe', channel: 'analytics:filters', timestamp: now() },
      { type: 'unsubscribe', channel: 'analytics:filters', timestamp: now() },
      { type: 'subscribe', channel: 'analytics:filters', timestamp: now() },
    ]);
    await c.count((m) => m.type === 'subscribe' || m.type === 'unsubscribe' || m.type === 'error', 3, { from });
    expect(c.all((m) => m.type === 'subscribe' || m.type === 'unsubscribe' || m.type === 'error', from).map((m) => m.type)).toEqual(['subscribe', 'unsubscribe', 'subscribe']);
    await postEvents(s.url, { channel: 'analytics:filters', type: 'filter_apply', data: {} });
    expect(await c.nextOfType('analytics_update', () => true, { from })).toMatchObject({ channel: 'analytics:filters' });
  });

  it('the channel may be the payload itself; subscribing twice is acknowledged twice and delivers once', async () => {
    const s = await server();
    const c = await client(s);
    const ack = await c.request({ type: 'subscribe', payload: 'analytics:listings', timestamp: new Date().toISOString() }, (m) => m.type === 'subscribe' || m.type === 'error');
    expect(ack).toMatchObject({ type: 'subscribe', channel: 'analytics:listings', payload: { success: true, channel: 'analytics:listings' } });
    expect(await subscribe(c, 'analytics:listings')).toMatchObject({ type: 'subscribe', payload: { success: true } });
    await postEvents(s.url, { channel: 'analytics:listings', type: 'listing_view', data: { listingId: 'l-1' } });
    await c.nextOfType('analytics_update');
    await drained(c);
    expect(c.ofType('analytics_update')).toHaveLength(1);
  });
});
