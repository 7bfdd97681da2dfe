/**
 * Audit of issue #5: a pattern subscription that has seen many channels must still come back
 * after a reconnect (real server).
 */
import { afterEach, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { PulseClient } from '../src/client.js';
import type { WebSocketCtor } from '../src/env.js';
import type { SubscribedInfo } from '../src/subscription.js';
import { devServer, tempDir, until } from './helpers.js';

const cleanups: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  while (cleanups.length) await cleanups.pop()!();
});

describe('a pattern over many channels', () => {
  it.each([['websocket'], ['sse']] as const)('%s: resubscribes after a reconnect and keeps delivering; an incomplete replay says recovered: false', async (transport) => {
    const tmp = tempDir();
    cleanups.push(() => tmp.remove());
    const server = await devServer(tmp.dir);
    cleanups.push(() => server.close());
    const client = new PulseClient({ url: server.url, WebSocket: WebSocket as unknown as WebSocketCtor, transports: [transport], backoff: { minDelay: 20, maxDelay: 100 } });
    cleanups.push(() => client.disconnect());
    const N = 1500;
    const seen = new Set<string>();
    const infos: SubscribedInfo[] = [];
    const sub = client.subscribe('fleet:*', {}, (e) => seen.add(e.channel));
    sub.on('subscribed', (i) => infos.push(i));
    client.connect();
    await sub.ready;
    const name = (i: number) => `fleet:vehicle-with-a-longish-name-${String(i).padStart(5, '0')}`;
    await server.hub.ingest(Array.from({ length: N }, (_, i) => ({ channel: name(i), type: 'pos', data: { i } })), { wait: 'durable' });
    await until(() => seen.size === N, 'one event on every channel');
    const log: string[] = [];
    client.on('state', (c) => log.push(`${c.newState}:${c.code}:${c.reason}`));
    client.on('error', (e) => log.push(`error:${e.code}:${e.message}`));
    client.reconnect();
    await until(() => infos.length === 2, 'resubscribed after reconnect', 5000);
    await server.hub.ingest([{ channel: name(N + 1), type: 'pos', data: {} }], { wait: 'durable' });
    await until(() => seen.has(name(N + 1)), 'a live event after the reconnect', 5000);
    expect(client.state).toBe('connected');
    // Not every channel's position fitted in the resubscription: the app is told to refetch.
    expect(infos[1]).toMatchObject({ resubscribed: true, recovered: false });
  });
});
