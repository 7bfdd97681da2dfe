/**
 * Seed 000 (AdStack): Socket.IO `subscribe{contractId, eventTypes}`, `unsubscribe`, `getHistory`,
 * `getStats`; server events `connected`, `subscribed`, `event`, `history`, `stats`,
 * `error{message, code}`; `/health`, `/status`, `/metrics`. Clients are the real
 * `socket.io-client`, used as the seed's document shows.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { Cleanup, SioCollector, http, postEvents, startTestServer, tokenFor, type TestServer } from './support/index.js';

const CAMPAIGNS = 'ST1PQHQKV0RJXZFY1DGX8MNSNYVE3VGZJSRTPGZGM.campaigns';
const AUCTIONS = 'ST1PQHQKV0RJXZFY1DGX8MNSNYVE3VGZJSRTPGZGM.auctions';
const ORCHESTRATOR = 'ST1PQHQKV0RJXZFY1DGX8MNSNYVE3VGZJSRTPGZGM.campaign-orchestrator';
const ADDRESS = 'SP2J6ZY48GV1EZ5V2V5RB9MP66SW86PYKKNRV9EJ7';

type SeedEvent = { id: string; type: string; contractId: string; txId: string; blockHeight: number; timestamp: number; data: Record<string, unknown> };
type ErrorMsg = { message: string; code: string };

const cleanup = new Cleanup();
afterEach(() => cleanup.run());

async function server(env: Record<string, string> = {}, auth: 'dev' | 'jwt' = 'dev'): Promise<TestServer> {
  return cleanup.server(await startTestServer({ env, auth }));
}

/** The seed's client: `io(VITE_WS_URL, { auth: { token } })`, then `subscribe`. */
async function client(s: TestServer, token?: string): Promise<SioCollector> {
  const c = cleanup.closable(SioCollector.connect(s.url, token ? { auth: { token } } : {}));
  await c.connected();
  await c.next('connected');
  return c;
}

function expectSeedEvent(e: SeedEvent): void {
  expect(Object.keys(e)).toEqual(expect.arrayContaining(['id', 'type', 'contractId', 'txId', 'blockHeight', 'timestamp', 'data']));
  expect(typeof e.id).toBe('string');
  expect(typeof e.type).toBe('string');
  expect(typeof e.contractId).toBe('string');
  expect(typeof e.timestamp).toBe('number');
  expect(typeof e.data).toBe('object');
}

describe('seed 000 AdStack over Socket.IO', () => {
  it('sends `connected{message, socketId, userId, timestamp}` with the user of the token', async () => {
    const s = await server({}, 'jwt');
    const token = await tokenFor('user-123', ADDRESS, 'user');
    const c = cleanup.closable(SioCollector.connect(s.url, { auth: { token } }));
    await c.connected();
    const hello = await c.next<{ message: string; socketId: string; userId: string; timestamp: number }>('connected');
    expect(typeof hello.message).toBe('string');
    expect(hello.message.length).toBeGreaterThan(0);
    expect(hello.socketId).toBe(c.socket.id);
    expect(hello.userId).toBe('user-123');
    expect(typeof hello.timestamp).toBe('number');
    expect(Math.abs(hello.timestamp - Date.now())).toBeLessThan(60_000);
  });

  it('refuses a connection without a valid token when SKIP_AUTH is off', async () => {
    const s = await server({}, 'jwt');
    const none = cleanup.closable(SioCollector.connect(s.url));
    await expect(none.connected()).rejects.toThrow(/Authentication failed/);
    const bad = cleanup.closable(SioCollector.connect(s.url, { auth: { token: await tokenFor('u', null, 'user', { secret: 'another-secret' }) } }));
    await expect(bad.connected()).rejects.toThrow(/Authentication failed/);
  });

  it('subscribe → `subscribed`, then every event as `event{id, type, contractId, txId, blockHeight, timestamp, data}`', async () => {
    const s = await server();
    const c = await client(s);
    const from = c.mark();
    c.socket.emit('subscribe', { contractId: CAMPAIGNS });
    const sub = await c.next<{ contractId: string }>('subscribed', () => true, { from });
    expect(sub.contractId).toBe(CAMPAIGNS);

    const ts = Date.now() - 1000;
    await postEvents(s.url, {
      channel: `contract:${CAMPAIGNS}`,
      type: 'campaign_created',
      id: 'evt-campaign-1',
      ts,
      txId: '0xabc123',
      blockHeight: 150_123,
      data: { campaignId: 7, budget: 5000 },
    });
    const e = await c.next<SeedEvent>('event');
    expectSeedEvent(e);
    expect(e).toMatchObject({
      id: 'evt-campaign-1',
      type: 'campaign_created',
      contractId: CAMPAIGNS,
      txId: '0xabc123',
      blockHeight: 150_123,
      timestamp: ts,
      data: { campaignId: 7, budget: 5000 },
    });

    // Events put in by the server's own API travel the same path.
    await s.hub.ingest([{ channel: `contract:${CAMPAIGNS}`, type: 'campaign_paused', txId: '0xdef', blockHeight: 150_124, data: { campaignId: 7 } }], { wait: 'durable' });
    const e2 = await c.next<SeedEvent>('event', (x) => x.type === 'campaign_paused');
    expectSeedEvent(e2);
    expect(e2).toMatchObject({ contractId: CAMPAIGNS, txId: '0xdef', blockHeight: 150_124, data: { campaignId: 7 } });
  });

  it('delivers only the `eventTypes` asked for', async () => {
    const s = await server();
    const c = await client(s);
    // As the useWebSocket hook's options in the seed document.
    c.socket.emit('subscribe', { contractId: CAMPAIGNS, eventTypes: ['campaign_created', 'campaign_updated'] });
    await c.next('subscribed');
    const ch = `contract:${CAMPAIGNS}`;
    await postEvents(s.url, [
      { channel: ch, type: 'auction_bid_placed', data: { n: 1 } },
      { channel: ch, type: 'campaign_updated', data: { n: 2 } },
      { channel: ch, type: 'payment_processed', data: { n: 3 } },
      { channel: ch, type: 'campaign_created', data: { n: 4 } },
    ]);
    // The last event is delivered after the others (one channel, one order): once it is here,
    // anything filtered out would have arrived before it.
    await c.next<SeedEvent>('event', (e) => e.type === 'campaign_created');
    expect(c.payloads<SeedEvent>('event').map((e) => [e.type, e.data.n])).toEqual([
      ['campaign_updated', 2],
      ['campaign_created', 4],
    ]);
  });

  it('unsubscribe stops delivery; unsubscribing again is `error{code: NOT_SUBSCRIBED}`', async () => {
    const s = await server();
    const c = await client(s);
    c.socket.emit('subscribe', { contractId: CAMPAIGNS });
    c.socket.emit('subscribe', { contractId: AUCTIONS });
    await c.count('subscribed', 2);
    c.socket.emit('unsubscribe', { contractId: CAMPAIGNS });
    // Socket.IO keeps the order of one socket's packets: a getStats answer after the
    // unsubscribe means the unsubscribe was handled.
    c.socket.emit('getStats', { contractId: AUCTIONS });
    await c.next('stats');

    const from = c.mark();
    await postEvents(s.url, [
      { channel: `contract:${CAMPAIGNS}`, type: 'campaign_updated', data: {} },
      { channel: `contract:${AUCTIONS}`, type: 'auction_created', data: {} },
    ]);
    await c.next<SeedEvent>('event', (e) => e.contractId === AUCTIONS, { from });
    expect(c.payloads<SeedEvent>('event', from).map((e) => e.contractId)).toEqual([AUCTIONS]);

    const errFrom = c.mark();
    c.socket.emit('unsubscribe', { contractId: CAMPAIGNS });
    const err = await c.next<ErrorMsg>('error', () => true, { from: errFrom });
    expect(err.code).toBe('NOT_SUBSCRIBED');
    expect(typeof err.message).toBe('string');
    expect(err.message.length).toBeGreaterThan(0);
  });

  it('past MAX_SUBSCRIPTIONS_PER_CLIENT a subscribe is `error{code: MAX_SUBSCRIPTIONS}`', async () => {
    const s = await server({ MAX_SUBSCRIPTIONS_PER_CLIENT: '3' });
    const c = await client(s);
    for (const id of ['a.c1', 'a.c2', 'a.c3']) c.socket.emit('subscribe', { contractId: id });
    await c.count('subscribed', 3);
    // Subscribing again to one already held is a renewal, not a fourth subscription.
    c.socket.emit('subscribe', { contractId: 'a.c2', eventTypes: ['bid_placed'] });
    await c.count('subscribed', 4);
    expect(c.payloads('error')).toEqual([]);

    c.socket.emit('subscribe', { contractId: 'a.c4' });
    const err = await c.next<ErrorMsg>('error');
    expect(err.code).toBe('MAX_SUBSCRIPTIONS');
    expect(typeof err.message).toBe('string');
    // The refused contract is not subscribed: its events do not arrive.
    const from = c.mark();
    await postEvents(s.url, [
      { channel: 'contract:a.c4', type: 'bid_placed', data: {} },
      { channel: 'contract:a.c1', type: 'bid_placed', data: {} },
    ]);
    await c.next<SeedEvent>('event', (e) => e.contractId === 'a.c1', { from });
    expect(c.payloads<SeedEvent>('event', from).map((e) => e.contractId)).toEqual(['a.c1']);
  });

  it('an invalid subscribe is a coded error', async () => {
    const s = await server();
    const c = await client(s);
    c.socket.emit('subscribe', { eventTypes: ['x'] });
    const err = await c.next<ErrorMsg>('error');
    expect(err.code).toBe('INVALID_MESSAGE');
    expect(typeof err.message).toBe('string');
  });

  it('getHistory answers `history{contractId, events, count, limit}`: default 50, max 100, newest first', async () => {
    const s = await server();
    const ch = `contract:${ORCHESTRATOR}`;
    const items = Array.from({ length: 120 }, (_, i) => ({ channel: ch, type: i % 2 ? 'auction_bid_placed' : 'campaign_created', id: `h-${i}`, txId: `0x${i}`, blockHeight: 1000 + i, data: { i } }));
    const r = await s.hub.ingest(items, { wait: 'durable' });
    expect(r.accepted).toBe(120);
    const c = await client(s);
    const newest = (n: number) => items.slice(-n).reverse().map((e) => e.id);

    c.socket.emit('getHistory', { contractId: ORCHESTRATOR });
    const h1 = await c.next<{ contractId: string; events: SeedEvent[]; count: number; limit: number }>('history');
    expect(h1.contractId).toBe(ORCHESTRATOR);
    expect(h1.limit).toBe(50);
    expect(h1.count).toBe(50);
    expect(h1.events.map((e) => e.id)).toEqual(newest(50));
    for (const e of h1.events) expectSeedEvent(e);
    expect(h1.events[0]).toMatchObject({ id: 'h-119', type: 'auction_bid_placed', contractId: ORCHESTRATOR, txId: '0x119', blockHeight: 1119, data: { i: 119 } });

    let from = c.mark();
    c.socket.emit('getHistory', { contractId: ORCHESTRATOR, limit: 500 });
    const h2 = await c.next<{ events: SeedEvent[]; count: number; limit: number }>('history', () => true, { from });
    expect(h2.limit).toBe(100);
    expect(h2.count).toBe(100);
    expect(h2.events.map((e) => e.id)).toEqual(newest(100));

    from = c.mark();
    c.socket.emit('getHistory', { contractId: ORCHESTRATOR, limit: 7 });
    const h3 = await c.next<{ events: SeedEvent[]; count: number; limit: number }>('history', () => true, { from });
    expect(h3).toMatchObject({ contractId: ORCHESTRATOR, count: 7, limit: 7 });
    expect(h3.events.map((e) => e.id)).toEqual(newest(7));

    // A contract with no events has an empty history, not an error.
    from = c.mark();
    c.socket.emit('getHistory', { contractId: 'nothing.here' });
    const h4 = await c.next('history', () => true, { from });
    expect(h4).toEqual({ contractId: 'nothing.here', events: [], count: 0, limit: 50 });
  });

  it('getHistory reads past the in-memory history from the store, and after a restart', async () => {
    const first = await startTestServer({ env: { EVENT_HISTORY_LIMIT: '10' } });
    cleanup.server(first);
    const ch = `contract:${AUCTIONS}`;
    const items = Array.from({ length: 60 }, (_, i) => ({ channel: ch, type: 'auction_bid_placed', id: `s-${i}`, blockHeight: i, data: { i } }));
    await first.hub.ingest(items, { wait: 'durable' });
    const newest = (n: number) => items.slice(-n).reverse().map((e) => e.id);
    const check = async (s: TestServer) => {
      const c = await client(s);
      c.socket.emit('getHistory', { contractId: AUCTIONS });
      const h = await c.next<{ events: SeedEvent[]; count: number; limit: number }>('history');
      expect(h).toMatchObject({ contractId: AUCTIONS, count: 50, limit: 50 });
      expect(h.events.map((e) => e.id)).toEqual(newest(50));
      expect(h.events[0]).toMatchObject({ blockHeight: 59, data: { i: 59 } });
      c.close();
    };
    await check(first);
    await check(cleanup.server(await first.restart()));
  });

  it('getStats answers `stats{contractId, stats{totalEvents, eventsByType, lastUpdated}}`', async () => {
    const s = await server();
    const ch = `contract:${CAMPAIGNS}`;
    await postEvents(s.url, [
      { channel: ch, type: 'campaign_created', data: {} },
      { channel: ch, type: 'campaign_created', data: {} },
      { channel: ch, type: 'campaign_created', data: {} },
      { channel: ch, type: 'auction_bid_placed', data: {} },
      { channel: ch, type: 'auction_bid_placed', data: {} },
      { channel: `contract:${AUCTIONS}`, type: 'auction_created', data: {} },
    ]);
    const c = await client(s);
    c.socket.emit('getStats', { contractId: CAMPAIGNS });
    const st = await c.next<{ contractId: string; stats: { totalEvents: number; eventsByType: Record<string, number>; lastUpdated: number } }>('stats');
    expect(st).toEqual({
      contractId: CAMPAIGNS,
      stats: { totalEvents: 5, eventsByType: { campaign_created: 3, auction_bid_placed: 2 }, lastUpdated: expect.any(Number) },
    });
    expect(Math.abs(st.stats.lastUpdated - Date.now())).toBeLessThan(60_000);
  });

  it('GET /health in the seed shape, /status, and /metrics under METRICS_PREFIX', async () => {
    const s = await server({ METRICS_PREFIX: 'adstack' });
    const c = await client(s);
    c.socket.emit('subscribe', { contractId: CAMPAIGNS });
    await c.next('subscribed');

    const health = await http<Record<string, any>>('GET', `${s.url}/health`);
    expect(health.status).toBe(200);
    expect(health.body).toMatchObject({
      status: 'ok',
      uptime: expect.any(Number),
      services: { redis: expect.any(Boolean), stacksWebSocket: expect.any(Boolean), websocket: 1 },
      metrics: { connectedClients: 1, activeSubscriptions: expect.any(Number), memoryUsage: expect.any(Object) },
    });
    expect(new Date(health.body.timestamp).toISOString()).toBe(health.body.timestamp);
    // global:all (auto-joined, seed 004) and the contract.
    expect(health.body.metrics.activeSubscriptions).toBeGreaterThanOrEqual(1);

    const status = await http<Record<string, any>>('GET', `${s.url}/status`);
    expect(status.status).toBe(200);
    expect(status.body).toMatchObject({ services: expect.any(Object), uptime: expect.any(Number) });
    // "Contract addresses" the server knows of.
    expect(status.body.contracts).toContain(CAMPAIGNS);

    const metrics = await http('GET', `${s.url}/metrics`);
    expect(metrics.status).toBe(200);
    expect(metrics.text).toMatch(/^adstack_connected_clients 1$/m);
    expect(metrics.text).toMatch(/^adstack_active_subscriptions \d+$/m);
    expect(metrics.text).toMatch(/^adstack_uptime_seconds \d+$/m);
    expect(metrics.text).toMatch(/^adstack_memory_usage_bytes\{type="rss"\} \d+$/m);
  });
});
