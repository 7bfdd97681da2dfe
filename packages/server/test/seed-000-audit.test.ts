/**
 * Seed 000 (AdStack) promises not covered by seed-000-adstack.test.ts, each checked with the real
 * `socket.io-client` as the seed's document uses it: the optional `eventTypes` filter left empty,
 * events without chain data, the development user, what a client sees across a server restart
 * (auto-reconnection, resubscribing, `getHistory` for what it missed), the HTTP endpoints under
 * authentication, and that no pushed event can pose as one of the profile's own messages.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { io } from 'socket.io-client';
import { Cleanup, SioCollector, http, postEvents, startTestServer, tokenFor, waitFor, type TestServer } from './support/index.js';

const CAMPAIGNS = 'ST1PQHQKV0RJXZFY1DGX8MNSNYVE3VGZJSRTPGZGM.campaigns';
const ADDRESS = 'SP2J6ZY48GV1EZ5V2V5RB9MP66SW86PYKKNRV9EJ7';

type SeedEvent = { id: string; type: string; contractId: string; txId: string | null; blockHeight: number | null; timestamp: number; data: Record<string, unknown> };

const cleanup = new Cleanup();
afterEach(() => cleanup.run());

async function client(s: TestServer, token?: string): Promise<SioCollector> {
  const c = cleanup.closable(SioCollector.connect(s.url, token ? { auth: { token } } : {}));
  await c.connected();
  await c.next('connected');
  return c;
}

describe('seed 000 AdStack: the rest of the document', () => {
  it('`eventTypes: []` (the optional filter left empty) delivers every type', async () => {
    const s = cleanup.server(await startTestServer());
    const c = await client(s);
    c.socket.emit('subscribe', { contractId: CAMPAIGNS, eventTypes: [] });
    expect(await c.next('subscribed')).toMatchObject({ contractId: CAMPAIGNS });
    const ch = `contract:${CAMPAIGNS}`;
    await postEvents(s.url, [
      { channel: ch, type: 'campaign_created', data: { n: 1 } },
      { channel: ch, type: 'bridge_deposit', data: { n: 2 } },
      { channel: ch, type: 'governance_vote_cast', data: { n: 3 } },
    ]);
    await c.count('event', 3);
    expect(c.payloads<SeedEvent>('event').map((e) => e.type)).toEqual(['campaign_created', 'bridge_deposit', 'governance_vote_cast']);
  });

  it('an event without chain data has `txId: null` and `blockHeight: null` (the keys are always there)', async () => {
    const s = cleanup.server(await startTestServer());
    const c = await client(s);
    c.socket.emit('subscribe', { contractId: CAMPAIGNS });
    await c.next('subscribed');
    await postEvents(s.url, { channel: `contract:${CAMPAIGNS}`, type: 'payment_processed', data: { amount: 5 } });
    const e = await c.next<SeedEvent>('event');
    expect(e).toMatchObject({ type: 'payment_processed', contractId: CAMPAIGNS, txId: null, blockHeight: null, data: { amount: 5 } });
    expect(typeof e.id).toBe('string');
    expect(typeof e.timestamp).toBe('number');
  });

  it('with SKIP_AUTH in development a client without a token gets `connected` with a string userId', async () => {
    const s = cleanup.server(await startTestServer({ auth: 'dev' }));
    const c = cleanup.closable(SioCollector.connect(s.url));
    await c.connected();
    const hello = await c.next<{ message: string; socketId: string; userId: unknown; timestamp: number }>('connected');
    expect(hello).toMatchObject({ socketId: c.socket.id, timestamp: expect.any(Number), message: expect.any(String) });
    expect(typeof hello.userId).toBe('string');
  });

  it('across a server restart: the client reconnects by itself, subscribes again on `connect`, and `getHistory` returns what it missed', async () => {
    let s = cleanup.server(await startTestServer({ auth: 'jwt' }));
    const token = await tokenFor('user-123', ADDRESS, 'user');
    // "Auto-reconnection: Exponential backoff (5s → 60s)"; the hook subscribes on connect.
    const socket = io(s.url, { auth: { token }, reconnection: true, reconnectionDelay: 5000, reconnectionDelayMax: 60_000, forceNew: true });
    const c = cleanup.closable(new SioCollector(socket));
    socket.on('connect', () => socket.emit('subscribe', { contractId: CAMPAIGNS, eventTypes: ['campaign_created', 'campaign_updated'] }));
    await c.connected();
    await c.next('subscribed');
    const ch = `contract:${CAMPAIGNS}`;
    await s.hub.ingest([{ channel: ch, type: 'campaign_created', id: 'before', data: {} }], { wait: 'durable' });
    await c.next<SeedEvent>('event', (e) => e.id === 'before');

    const from = c.mark();
    s = cleanup.server(await s.restart({}, { samePort: true }));
    await c.next('disconnect', () => true, { from });
    // Published while the client waits to reconnect.
    await s.hub.ingest([{ channel: ch, type: 'campaign_updated', id: 'missed', data: {} }], { wait: 'durable' });
    const hello = await c.next<{ userId: string }>('connected', () => true, { from, timeoutMs: 20_000 });
    expect(hello.userId).toBe('user-123');
    await c.next('subscribed', () => true, { from });

    await s.hub.ingest([{ channel: ch, type: 'campaign_updated', id: 'after', txId: '0x1', blockHeight: 7, data: {} }], { wait: 'durable' });
    expect(await c.next<SeedEvent>('event', (e) => e.id === 'after', { from })).toMatchObject({ contractId: CAMPAIGNS, txId: '0x1', blockHeight: 7 });
    c.socket.emit('getHistory', { contractId: CAMPAIGNS, limit: 10 });
    const h = await c.next<{ events: SeedEvent[]; count: number }>('history', () => true, { from });
    expect(h.events.map((e) => e.id)).toEqual(['after', 'missed', 'before']);
  }, 45_000);

  it('GET /health answers without a token when auth is on; /status and /metrics take an operator credential', async () => {
    const s = cleanup.server(await startTestServer({ auth: 'jwt', env: { METRICS_PREFIX: 'adstack' } }));
    const c = await client(s, await tokenFor('user-123', ADDRESS, 'user'));
    c.socket.emit('subscribe', { contractId: CAMPAIGNS });
    await c.next('subscribed');
    // `curl http://localhost:3002/health`, as the troubleshooting section does.
    const health = await http<Record<string, any>>('GET', `${s.url}/health`);
    expect(health.status).toBe(200);
    expect(health.body).toMatchObject({ status: 'ok', services: { websocket: 1 }, metrics: { connectedClients: 1 } });
    // Deliberately stricter than the document: operations data needs credentials.
    for (const path of ['/status', '/metrics']) expect((await http('GET', `${s.url}${path}`)).status).toBe(401);
    const admin = await tokenFor('ops', null, 'admin');
    const status = await http<Record<string, any>>('GET', `${s.url}/status`, { token: admin });
    expect(status.body.contracts).toContain(CAMPAIGNS);
    const metrics = await http('GET', `${s.url}/metrics`, { token: admin });
    expect(metrics.text).toMatch(/^adstack_connected_clients 1$/m);
    expect(metrics.text).toMatch(/^adstack_active_subscriptions \d+$/m);
  });

  it('requests take effect in the order sent: `unsubscribe` right after `subscribe` leaves the contract unsubscribed', async () => {
    const s = cleanup.server(await startTestServer({ auth: 'jwt' }));
    const c = await client(s, await tokenFor('user-123', ADDRESS, 'user'));
    // As a component that mounts and unmounts at once (React StrictMode runs effects twice).
    c.socket.emit('subscribe', { contractId: CAMPAIGNS });
    c.socket.emit('unsubscribe', { contractId: CAMPAIGNS });
    c.socket.emit('subscribe', { contractId: 'ST1.auctions' });
    c.socket.emit('unsubscribe', { contractId: 'ST1.auctions' });
    c.socket.emit('subscribe', { contractId: 'ST1.auctions' });
    await c.count('unsubscribed', 2);
    await c.count('subscribed', 3);
    expect(c.payloads('error')).toEqual([]);
    await postEvents(s.url, [
      { channel: `contract:${CAMPAIGNS}`, type: 'campaign_created', data: {} },
      { channel: 'contract:ST1.auctions', type: 'auction_created', data: {} },
    ], await tokenFor('svc', null, 'admin'));
    await c.next<SeedEvent>('event', (e) => e.contractId === 'ST1.auctions');
    expect(c.payloads<SeedEvent>('event').map((e) => e.contractId)).toEqual(['ST1.auctions']);
  });

  it("no event pushed from an auto-joined room poses as one of the profile's own messages (`event`, `pong`, …)", async () => {
    const s = cleanup.server(await startTestServer());
    const c = await client(s);
    c.socket.emit('subscribe', { contractId: CAMPAIGNS });
    await c.next('subscribed');
    const from = c.mark();
    // Every socket is in `global:all` (seed 004). Types that collide with the gateway's messages:
    const names = ['event', 'subscribed', 'unsubscribed', 'history', 'stats', 'rooms', 'pong', 'connected', 'error'];
    await s.hub.ingest([...names.map((type) => ({ channel: 'global:all', type, data: { spoof: true } })), { channel: 'global:all', type: 'system:announcement', data: {} }], { wait: 'durable' });
    await postEvents(s.url, { channel: `contract:${CAMPAIGNS}`, type: 'campaign_created', id: 'real', data: {} });
    await c.next<SeedEvent>('event', (e) => e.id === 'real', { from });
    await c.next('system:announcement', () => true, { from });
    const got = c.records.slice(from).filter((r) => names.includes(r.event));
    expect(got.map((r) => [r.event, r.args[0]])).toEqual([['event', expect.objectContaining({ id: 'real', contractId: CAMPAIGNS })]]);
  });
});
