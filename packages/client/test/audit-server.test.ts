/**
 * Audit of issue #5 against the real server: unsubscribe during a pending subscribe, a second
 * handle widening the type filter, long runs (polling switching back to the WebSocket is in
 * server.test.ts, beside SSE).
 */
import { afterEach, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { generateToken, type PulseServer } from '@pulse/server';
import { PulseClient } from '../src/client.js';
import type { WebSocketCtor } from '../src/env.js';
import { WS, blockedClient, cleanupsAfterEach, testServer as testServerIn, devServer, ingestN, publishUntilWebSocket, seq, tempDir, until } from './helpers.js';

const cleanups = cleanupsAfterEach();
const testServer = (env?: Record<string, string>): Promise<PulseServer> => testServerIn(cleanups, env);

/** The `ws` WebSocket, counting the events frames that reach the client per channel. */
function countingWs(counts: Map<string, number>): WebSocketCtor {
  return class extends (WebSocket as unknown as new (url: string) => WebSocket) {
    constructor(url: string) {
      super(url);
      this.addEventListener('message', (m) => {
        const msg = JSON.parse(String(m.data)) as { type: string; events?: Array<{ channel: string }> };
        if (msg.type === 'events') for (const e of msg.events ?? []) counts.set(e.channel, (counts.get(e.channel) ?? 0) + 1);
      });
    }
  } as unknown as WebSocketCtor;
}

describe('unsubscribe while the subscribe is pending', () => {
  it('leaves no server subscription behind, even when the subscribe recovers from the store', async () => {
    const server = await testServer({ EVENT_HISTORY_LIMIT: '10' });
    await ingestN(server, 'orders:u1', 1, 200);
    const stats = (await (await fetch(`${server.url}/v1/channels/orders:u1/stats`)).json()) as { epoch: string };
    const counts = new Map<string, number>();
    const client = new PulseClient({ url: server.url, WebSocket: countingWs(counts) });
    cleanups.push(() => client.disconnect());
    client.connect();
    await client.whenConnected();
    for (let round = 0; round < 20; round++) {
      const sub = client.subscribe('orders:u1', { since: { epoch: stats.epoch, offset: 0 } }, () => {});
      sub.unsubscribe();
    }
    const control: number[] = [];
    const c = client.subscribe('orders:c1', {}, (e) => control.push(e.data.n as number));
    await c.ready;
    await new Promise((r) => setTimeout(r, 200));
    const before = counts.get('orders:u1') ?? 0;
    await ingestN(server, 'orders:u1', 201, 210);
    await ingestN(server, 'orders:c1', 1, 1);
    await until(() => control.length === 1, 'control event');
    await new Promise((r) => setTimeout(r, 100));
    expect((counts.get('orders:u1') ?? 0) - before).toBe(0);
  });
});

describe('a second handle with other types', () => {
  it('each handle gets its own types, nothing lost; the new handle gets no events from before it subscribed', async () => {
    const server = await testServer();
    const client = new PulseClient({ url: server.url, WebSocket: WS });
    cleanups.push(() => client.disconnect());
    client.connect();
    const a: number[] = [];
    const b: number[] = [];
    const sa = client.subscribe('orders:w1', { types: ['a'] }, (e) => a.push(e.data.n as number));
    await sa.ready;
    await ingestN(server, 'orders:w1', 1, 5, 'b'); // before handle B exists
    await ingestN(server, 'orders:w1', 6, 10, 'a');
    await until(() => a.length === 5, 'a events');
    const sb = client.subscribe('orders:w1', { types: ['b'] }, (e) => b.push(e.data.n as number));
    await sb.ready;
    await ingestN(server, 'orders:w1', 11, 15, 'b');
    await ingestN(server, 'orders:w1', 16, 20, 'a');
    await until(() => a.length === 10 && b.length >= 5, 'both handles');
    expect(a).toEqual([...seq(6, 10), ...seq(16, 20)]);
    expect(b).toEqual(seq(11, 15));
  });
});

describe('a burst of subscriptions over the server\'s message rate', () => {
  it('every subscription ends up live (refused ones are retried), none silently dead', async () => {
    const server = await testServer({ MESSAGES_PER_SECOND: '100', MAX_SUBSCRIPTIONS_PER_CLIENT: '1000', SUBSCRIBE_RATE_PER_MINUTE: '0' });
    const client = new PulseClient({ url: server.url, WebSocket: WS, requestTimeoutMs: 1500 });
    cleanups.push(() => client.disconnect());
    const errors: string[] = [];
    client.on('error', (e) => errors.push(e.code));
    client.connect();
    await client.whenConnected();
    const got = new Set<string>();
    const subs = Array.from({ length: 700 }, (_, i) => client.subscribe(`burst:c${i}`, {}, (e) => got.add(e.channel)));
    await Promise.all(subs.map((s) => s.ready));
    await server.hub.ingest(subs.map((s) => ({ channel: s.target, type: 't', data: {} })), { wait: 'durable' });
    await until(() => got.size === 700, 'an event on every channel');
    expect(errors).toContain('RATE_LIMITED');
  }, 30_000);
});

describe('long runs', () => {
  it('subscribe/unsubscribe churn and many state changes leave no client-side state behind', async () => {
    const server = await testServer({ MESSAGES_PER_SECOND: '0', SUBSCRIBE_RATE_PER_MINUTE: '0', MAX_SUBSCRIPTIONS_PER_CLIENT: '1000' });
    const client = new PulseClient({ url: server.url, WebSocket: WS, backoff: { minDelay: 5, maxDelay: 10 } });
    cleanups.push(() => client.disconnect());
    client.connect();
    await client.whenConnected();
    for (let i = 0; i < 2000; i++) {
      const s = client.subscribe(`churn:c${i % 50}`, {}, () => {});
      if (i % 7 === 0) await s.ready;
      s.unsubscribe();
    }
    for (let i = 0; i < 5; i++) {
      client.reconnect();
      await client.whenConnected();
    }
    const internals = client as unknown as { channelSubs: Map<string, unknown>; conn: { connectedWaiters: Set<unknown> } };
    expect(internals.channelSubs.size).toBe(0);
    expect(internals.conn.connectedWaiters.size).toBe(0);
    const t = client['conn'].current as unknown as { pending: Map<number, unknown> };
    await until(() => t.pending.size === 0, 'no pending requests');
  });
});

describe('token expiry on the fallback transports', () => {
  it.each([['sse'], ['polling']] as const)('%s: getToken() is called again on expiry and nothing is lost or repeated', async (transport) => {
    const secret = 'test-secret-test-secret-test-secret';
    const server = await testServer({ SKIP_AUTH: 'false', JWT_SECRET: secret });
    let calls = 0;
    const getToken = async () => {
      calls++;
      return generateToken('user-f', null, 'user', { secret, expiresIn: calls === 1 ? '2s' : '1h' });
    };
    const client = new PulseClient({ url: server.url, WebSocket: WS, transports: [transport], getToken, pollWaitMs: 500, backoff: { minDelay: 20, maxDelay: 100 } });
    cleanups.push(() => client.disconnect());
    const codes: string[] = [];
    client.on('state', (c) => codes.push(c.code));
    const got: number[] = [];
    const sub = client.subscribe('market:f1', {}, (e) => got.push(e.data.n as number));
    client.connect();
    await sub.ready;
    await ingestN(server, 'market:f1', 1, 3);
    await until(() => got.length === 3, 'events before expiry');
    await until(() => calls === 2, 'a fresh token', 6000);
    await ingestN(server, 'market:f1', 4, 6);
    await until(() => client.state === 'connected' && got.length === 6, 'events after the refresh');
    expect(got).toEqual(seq(1, 6));
    expect(codes).toContain('TOKEN_EXPIRED');
    expect(client.state).toBe('connected');
  }, 20_000);
});

describe('a pattern switching from SSE back to the WebSocket', () => {
  it('every event of every channel once, in order, across the switch', async () => {
    const server = await testServer();
    const { client, allow } = blockedClient(server);
    cleanups.push(() => client.disconnect());
    const got = new Map<string, number[]>();
    const sub = client.subscribe('desk:*', {}, (e) => got.set(e.channel, [...(got.get(e.channel) ?? []), e.data.n as number]));
    client.connect();
    await sub.ready;
    expect(client.transportKind).toBe('sse');
    allow();
    const n = await publishUntilWebSocket(
      client,
      0,
      async (k) => void (await server.hub.ingest(['desk:a', 'desk:b', `desk:n${k % 3}`].map((channel) => ({ channel, type: 't', data: { n: k } })), { wait: 'durable' })),
      20,
    );
    const total = n * 3;
    await until(() => [...got.values()].reduce((a, l) => a + l.length, 0) >= total, 'every event');
    await new Promise((r) => setTimeout(r, 100));
    expect(got.get('desk:a')).toEqual(seq(1, n));
    expect(got.get('desk:b')).toEqual(seq(1, n));
    expect([...got.values()].reduce((a, l) => a + l.length, 0)).toBe(total);
  });
});

describe('a second handle on a refused target', () => {
  it('settles (is tried again) instead of staying pending forever', { timeout: 15_000 }, async () => {
    const server = await testServer({ MAX_SUBSCRIPTIONS_PER_CLIENT: '1' });
    const client = new PulseClient({ url: server.url, WebSocket: WS, requestTimeoutMs: 2000 });
    cleanups.push(() => client.disconnect());
    client.connect();
    const a = client.subscribe('orders:a', {}, () => {});
    await a.ready;
    const b1 = client.subscribe('orders:b', {}, () => {});
    await expect(b1.ready).rejects.toMatchObject({ code: 'MAX_SUBSCRIPTIONS' });
    a.unsubscribe(); // room for one now
    const got: number[] = [];
    const b2 = client.subscribe('orders:b', {}, (e) => got.push(e.data.n as number));
    await b2.ready;
    await ingestN(server, 'orders:b', 1, 2);
    await until(() => got.length === 2, 'events on the second handle');
  });
});
