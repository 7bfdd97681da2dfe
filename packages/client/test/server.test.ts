/**
 * @pulse/client against the real server: recovery across a restart, SSE / polling fallback and
 * the switch back, token refresh on expiry.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { generateToken, type PulseServer } from '@pulse/server';
import { PulseClient, wsClient } from '../src/index.js';
import type { StateChange } from '../src/state.js';
import { WS, blockedClient, cleanupsAfterEach, testServer as testServerIn, devServer, ingestN, publishUntilWebSocket, seq, tempDir, until } from './helpers.js';

const cleanups = cleanupsAfterEach();



const SECRET = 'test-secret-test-secret-test-secret';

const testServer = (env?: Record<string, string>): Promise<PulseServer> => testServerIn(cleanups, env);

/** A real server that requires tokens signed with SECRET, removed after the test. */
async function jwtServer() {
  const server = await testServer({ SKIP_AUTH: 'false', JWT_SECRET: SECRET });
  return { server, secret: SECRET };
}

/**
 * A real server the test closes itself, and `restart()` to start a second one on the same data
 * dir; the second server and the dir are removed after the test.
 */
async function restartableServer(): Promise<{ first: PulseServer; restart(): Promise<PulseServer> }> {
  const tmp = tempDir();
  cleanups.push(() => tmp.remove());
  const first = await devServer(tmp.dir);
  let second: PulseServer | undefined;
  cleanups.push(async () => {
    await second?.close();
  });
  return { first, restart: async () => (second = await devServer(tmp.dir)) };
}

describe('recovery across a server restart', () => {
  it('events ingested while the client was away arrive once, in order, with recovered: true', async () => {
    const servers = await restartableServer();
    let current = servers.first;
    let second: PulseServer | undefined;
    // Events from before the subscription: never delivered, not even by a recovery.
    await ingestN(current, 'market:m0', 1, 5);
    const client = new PulseClient({ url: () => current.url, WebSocket: WS, backoff: { minDelay: 20, maxDelay: 100 } });
    cleanups.push(() => client.disconnect());
    const changes: StateChange[] = [];
    client.on('state', (c) => changes.push(c));
    const clientErrors: string[] = [];
    client.on('error', (e) => clientErrors.push(`${e.code}: ${e.message}`));
    const exact: number[] = [];
    const viaPattern: string[] = [];
    const sub = client.subscribe('market:m1', { types: ['trade'] }, (e) => exact.push(e.data.n as number));
    const infos: Array<boolean | undefined> = [];
    sub.on('subscribed', (i) => infos.push(i.recovered));
    const patternSub = client.subscribe('market:*', {}, (e) => viaPattern.push(`${e.channel}:${e.data.n as number}`));
    const patternInfos: Array<boolean | undefined> = [];
    patternSub.on('subscribed', (i) => patternInfos.push(i.recovered));
    client.connect();
    await sub.ready;
    await patternSub.ready;
    // The pattern's baseline listing (what existed at subscribe time) has arrived.
    await until(() => patternSub.channelSub.baseline !== null, 'pattern baseline');
    expect(client.transportKind).toBe('websocket');

    await ingestN(current, 'market:m1', 1, 10);
    await until(() => exact.length === 10, '10 live events');

    // Restart: the first server closes with 1012; events are ingested into the second before the
    // client can reach it (its URL still points at the closed one).
    const first = current;
    await first.close();
    await until(() => client.state === 'reconnecting', 'reconnecting');
    second = await servers.restart();
    await ingestN(second, 'market:m1', 11, 20);
    await ingestN(second, 'market:m2', 1, 3); // a channel that did not exist before the outage
    await ingestN(second, 'market:m0', 6, 7); // one that existed, with nothing delivered yet
    current = second;
    await until(() => infos.length === 2, 'resubscription');
    await ingestN(second, 'market:m1', 21, 25);
    await until(() => exact.length >= 25, '25 events');

    expect(exact).toEqual(seq(1, 25));
    expect(infos).toEqual([undefined, true]);
    expect(viaPattern.filter((s) => s.startsWith('market:m1:'))).toEqual(seq(1, 25).map((n) => `market:m1:${n}`));
    // The pattern recovered the new channel m2 and m0's events after the subscription, only those.
    await until(() => viaPattern.filter((s) => !s.startsWith('market:m1:')).length === 5, 'm0 and m2 via the pattern', 5000).catch((e: Error) => {
      throw new Error(`${e.message}: got ${JSON.stringify(viaPattern.filter((s) => !s.startsWith('market:m1:')))} infos ${JSON.stringify(patternInfos)} ports ${first.port}/${second?.port} errors ${JSON.stringify(clientErrors)} changes ${JSON.stringify(changes)}`);
    });
    expect(viaPattern.filter((s) => s.startsWith('market:m2:'))).toEqual(['market:m2:1', 'market:m2:2', 'market:m2:3']);
    expect(viaPattern.filter((s) => s.startsWith('market:m0:'))).toEqual(['market:m0:6', 'market:m0:7']);
    expect(patternInfos).toEqual([undefined, true]);
    expect(changes.some((c) => c.newState === 'reconnecting' && c.code === 'SERVER_SHUTDOWN')).toBe(true);
    expect(client.state).toBe('connected');
  });
});

describe('recovery on the fallback transports', () => {
  it.each([
    ['sse', ['websocket', 'sse']],
    ['polling', ['websocket', 'polling']],
  ] as const)('over %s: events ingested during a restart arrive once, in order', async (kind, transports) => {
    const servers = await restartableServer();
    let current = servers.first;
    let second: PulseServer | undefined;
    const client = new PulseClient({
      url: () => current.url,
      wsUrl: () => `${current.wsUrl}/blocked`,
      transports: [...transports],
      WebSocket: WS,
      pollWaitMs: 1000,
      backoff: { minDelay: 20, maxDelay: 100 },
    });
    cleanups.push(() => client.disconnect());
    const got: number[] = [];
    const infos: Array<boolean | undefined> = [];
    const sub = client.subscribe('orders:r1', {}, (e) => got.push(e.data.n as number));
    sub.on('subscribed', (i) => infos.push(i.recovered));
    client.connect();
    await sub.ready;
    expect(client.transportKind).toBe(kind);
    await ingestN(current, 'orders:r1', 1, 5);
    await until(() => got.length === 5, 'live events');
    await current.close();
    await until(() => client.state === 'reconnecting', 'reconnecting');
    second = await servers.restart();
    await ingestN(second, 'orders:r1', 6, 12);
    current = second;
    await until(() => infos.length === 2, 'resubscribed');
    await ingestN(second, 'orders:r1', 13, 15);
    await until(() => got.length >= 15, 'all events');
    expect(got).toEqual(seq(1, 15));
    expect(infos).toEqual([undefined, true]);
    expect(client.transportKind).toBe(kind);
  });
});

describe('fallback transports', () => {
  it.each([
    { kind: 'sse' as const, opts: {} },
    { kind: 'polling' as const, opts: { transports: ['websocket' as const, 'polling' as const], pollWaitMs: 200 } },
  ])('uses $kind when the WebSocket upgrade is refused, and switches back when it can, every event once and in order', async ({ kind, opts }) => {
    const server = await testServer();
    const { client, allow } = blockedClient(server, opts);
    cleanups.push(() => client.disconnect());
    const got: number[] = [];
    const sub = client.subscribe('orders:o1', {}, (e) => got.push(e.data.n as number));
    client.connect();
    await sub.ready;
    expect(client.transportKind).toBe(kind);
    await ingestN(server, 'orders:o1', 1, 20);
    await until(() => got.length === 20, `20 events over ${kind}`);

    // Let the WebSocket through and keep publishing while the client switches.
    allow();
    const n = await publishUntilWebSocket(client, 20, (k) => ingestN(server, 'orders:o1', k, k));
    await ingestN(server, 'orders:o1', n + 1, n + 10);
    await until(() => got.length === n + 10, 'all events after the switch');
    expect(got).toEqual(seq(1, n + 10));
    // history and stats work over either transport
    const hist = await sub.history(5);
    expect(hist.map((e) => e.data.n)).toEqual(seq(n + 6, n + 10));
    expect((await sub.stats()).totalEvents).toBe(n + 10);
  });

  it('falls back to HTTP long-polling when neither WebSocket nor SSE is allowed', async () => {
    const server = await testServer();
    const client = new PulseClient({
      url: server.url,
      wsUrl: `${server.wsUrl}/blocked`,
      transports: ['websocket', 'polling'],
      WebSocket: WS,
      pollWaitMs: 2000,
      upgradeProbeMs: 60_000,
    });
    cleanups.push(() => client.disconnect());
    await ingestN(server, 'orders:o2', 1, 3); // backlog before subscribing: not delivered
    const got: number[] = [];
    const sub = client.subscribe('orders:o2', {}, (e) => got.push(e.data.n as number));
    client.connect();
    await sub.ready;
    expect(client.transportKind).toBe('polling');
    await ingestN(server, 'orders:o2', 4, 8);
    await until(() => got.length === 5, 'events over polling');
    expect(got).toEqual(seq(4, 8));
    const pub = await client.publish('orders:o2', 'trade', { n: 9 });
    expect(pub.offset).toBe(9);
    await until(() => got.length === 6, 'published event');
    expect(got).toEqual(seq(4, 9));
  });
});

describe('refusals', () => {
  it('a subscription over the limit fails alone with MAX_SUBSCRIPTIONS on the WebSocket', async () => {
    const server = await testServer({ MAX_SUBSCRIPTIONS_PER_CLIENT: '2' });
    const client = new PulseClient({ url: server.url, WebSocket: WS });
    cleanups.push(() => client.disconnect());
    const subs = ['a:1', 'a:2', 'a:3'].map((c) => client.subscribe(c, {}, () => {}));
    client.connect();
    const results = await Promise.allSettled(subs.map((s) => s.ready));
    expect(results.filter((r) => r.status === 'fulfilled')).toHaveLength(2);
    const rejected = results.find((r) => r.status === 'rejected') as PromiseRejectedResult;
    expect(rejected.reason).toMatchObject({ code: 'MAX_SUBSCRIPTIONS' });
    expect(client.state).toBe('connected');
  });

  it('an SSE stream over the limit fails the connection with MAX_SUBSCRIPTIONS instead of retrying forever', async () => {
    const server = await testServer({ MAX_SUBSCRIPTIONS_PER_CLIENT: '2' });
    const client = new PulseClient({ url: server.url, wsUrl: `${server.wsUrl}/blocked`, transports: ['websocket', 'sse'], WebSocket: WS, backoff: { minDelay: 10, maxDelay: 20 } });
    cleanups.push(() => client.disconnect());
    const errors: string[] = [];
    client.on('error', (e) => errors.push(e.code));
    for (const c of ['a:1', 'a:2', 'a:3']) client.subscribe(c, {}, () => {});
    client.connect();
    await until(() => client.state === 'failed', 'failed');
    expect(errors).toContain('MAX_SUBSCRIPTIONS');
    expect(client.getSnapshot().lastChange).toMatchObject({ newState: 'failed', code: 'PROTOCOL_ERROR' });
  });
});

describe('seed 000 wsClient', () => {
  it('connect(token) opens the shared client', async () => {
    const { server, secret } = await jwtServer();
    wsClient.configure({ url: server.url, WebSocket: WS });
    cleanups.push(() => wsClient.disconnect());
    const client = wsClient.connect(await generateToken('user-9', 'SP2J6ZY48GV1EZ5V2V5RB9MP66SW86PYKKNRV9EJ7', 'user', { secret }));
    expect(client).toBe(wsClient.client);
    const got: string[] = [];
    const sub = client.subscribe('contract:ST1.campaigns', {}, (e) => got.push(e.type));
    await sub.ready;
    await server.hub.ingest([{ channel: 'contract:ST1.campaigns', type: 'campaign_created', data: {} }]);
    await until(() => got.length === 1, 'event');
    expect(got).toEqual(['campaign_created']);
  });
});

describe('tokens', () => {
  it('fetches a new token with getToken() when the old one expires, and recovers', async () => {
    const { server, secret } = await jwtServer();
    let calls = 0;
    const getToken = async () => {
      calls++;
      // The first token lives one to two seconds (exp has whole-second precision); the next ones an hour.
      return generateToken('user-1', null, 'user', { secret, expiresIn: calls === 1 ? '2s' : '1h' });
    };
    const client = new PulseClient({ url: server.url, WebSocket: WS, getToken, backoff: { minDelay: 20, maxDelay: 100 } });
    cleanups.push(() => client.disconnect());
    const changes: StateChange[] = [];
    client.on('state', (c) => changes.push(c));
    const got: number[] = [];
    const sub = client.subscribe('market:t1', {}, (e) => got.push(e.data.n as number));
    client.connect();
    await sub.ready;
    await ingestN(server, 'market:t1', 1, 3);
    await until(() => got.length === 3, 'events before expiry');
    await until(() => changes.some((c) => c.code === 'TOKEN_EXPIRED'), 'TOKEN_EXPIRED transition', 5000);
    await ingestN(server, 'market:t1', 4, 6);
    await until(() => client.state === 'connected' && got.length === 6, 'reconnected with a fresh token');
    expect(got).toEqual(seq(1, 6));
    expect(calls).toBe(2);
    expect(changes.find((c) => c.code === 'TOKEN_EXPIRED')).toMatchObject({ oldState: 'connected', newState: 'reconnecting' });
  });

  it('renews the token in place before it expires, without dropping the connection', async () => {
    const { server, secret } = await jwtServer();
    let calls = 0;
    const getToken = async () => {
      calls++;
      // exp has whole-second precision: a "5s" token lives 4 to 5 s, always past the 3.5 s lead.
      return generateToken('user-2', null, 'user', { secret, expiresIn: calls === 1 ? '5s' : '1h' });
    };
    const client = new PulseClient({ url: server.url, WebSocket: WS, getToken, renewBeforeMs: 3500 });
    cleanups.push(() => client.disconnect());
    const changes: StateChange[] = [];
    client.on('state', (c) => changes.push(c));
    const renewed: Array<number | null> = [];
    client.on('tokenRenewed', (r) => renewed.push(r.expiresAt));
    const got: number[] = [];
    const sub = client.subscribe('market:t2', {}, (e) => got.push(e.data.n as number));
    client.connect();
    await sub.ready;
    const firstExpiry = Date.now() + 5000;
    await until(() => renewed.length === 1, 'renewal');
    expect(renewed[0]).toBeGreaterThan(Date.now() + 3_000_000);
    // Past the first token's expiry the connection is still the same one.
    await until(() => Date.now() > firstExpiry + 300, 'first token expiry passed', 8000);
    await ingestN(server, 'market:t2', 1, 3);
    await until(() => got.length === 3, 'events after the old expiry');
    expect(changes.map((c) => c.newState)).toEqual(['connecting', 'connected']);
    expect(calls).toBe(2);
  });

  it('reports a getToken() that throws as UNAUTHORIZED with its message, and connects once it answers', async () => {
    const { server, secret } = await jwtServer();
    let calls = 0;
    const getToken = async () => {
      if (++calls === 1) throw new Error('vault down');
      return generateToken('user-3', null, 'user', { secret, expiresIn: '1h' });
    };
    const client = new PulseClient({ url: server.url, WebSocket: WS, getToken, backoff: { minDelay: 20, maxDelay: 100 } });
    cleanups.push(() => client.disconnect());
    const errors: Array<{ code: string; message: string }> = [];
    client.on('error', (e) => errors.push({ code: e.code, message: e.message }));
    const got: number[] = [];
    const sub = client.subscribe('market:t3', {}, (e) => got.push(e.data.n as number));
    client.connect();
    await sub.ready;
    expect(errors).toEqual([{ code: 'UNAUTHORIZED', message: 'getToken() failed: vault down' }]);
    expect(calls).toBe(2);
    await ingestN(server, 'market:t3', 1, 2);
    await until(() => got.length === 2, 'events');
  });

  it('fails with UNAUTHORIZED when the token is rejected and there is no getToken', async () => {
    const server = await testServer({ SKIP_AUTH: 'false', JWT_SECRET: 'right-secret-right-secret' });
    const bad = await generateToken('u', null, 'user', { secret: 'wrong-secret-wrong-secret' });
    const client = new PulseClient({ url: server.url, WebSocket: WS, token: bad });
    cleanups.push(() => client.disconnect());
    const errors: string[] = [];
    client.on('error', (e) => errors.push(e.code));
    client.connect();
    await until(() => client.state === 'failed', 'failed');
    expect(client.getSnapshot().lastChange).toMatchObject({ newState: 'failed', code: 'UNAUTHORIZED' });
    expect(errors).toContain('UNAUTHORIZED');
  });
});
