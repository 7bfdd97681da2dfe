/**
 * Long-polling over a connection that stops answering (a half-open connection: a NAT or proxy
 * that dropped it without a reset). A TCP proxy in front of the real server is frozen: it keeps
 * every socket open and forwards nothing. The client must give the poll up after its hold time
 * plus `requestTimeoutMs`, reconnect, and once the path works again deliver every event once,
 * in order.
 */
import { describe, expect, it } from 'vitest';
import net from 'node:net';
import type { StateChange } from '../src/state.js';
import { PulseClient } from '../src/client.js';
import { cleanupsAfterEach, ingestN, seq, testServer, until } from './helpers.js';

const cleanups = cleanupsAfterEach();

/** A TCP proxy to `port` that can be frozen (sockets held open, nothing forwarded) and thawed. */
async function freezableProxy(port: number): Promise<{ url: string; freeze(): void; thaw(): void; close(): Promise<void> }> {
  let frozen = false;
  const held = new Set<net.Socket>();
  const server = net.createServer((client) => {
    held.add(client);
    client.on('close', () => held.delete(client));
    client.on('error', () => {});
    if (frozen) return; // accepted, never answered
    const upstream = net.connect(port, '127.0.0.1');
    held.add(upstream);
    upstream.on('close', () => held.delete(upstream));
    upstream.on('error', () => client.destroy());
    client.on('data', (d) => {
      if (!frozen) upstream.write(d);
    });
    upstream.on('data', (d) => {
      if (!frozen) client.write(d);
    });
    client.on('close', () => upstream.destroy());
    upstream.on('close', () => client.destroy());
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  const addr = server.address() as net.AddressInfo;
  return {
    url: `http://127.0.0.1:${addr.port}`,
    freeze: () => (frozen = true),
    thaw: () => {
      // What was held while frozen is broken for good: drop it, as the network finally would.
      frozen = false;
      for (const s of held) s.destroy();
    },
    close: () => {
      for (const s of held) s.destroy();
      return new Promise((r) => server.close(() => r()));
    },
  };
}

describe('long-polling through a connection that stops answering', () => {
  it('gives the poll up, reconnects, and delivers every event once, in order, when the path works again', async () => {
    const server = await testServer(cleanups);
    const proxy = await freezableProxy(Number(new URL(server.url).port));
    cleanups.push(() => proxy.close());
    const client = new PulseClient({
      url: proxy.url,
      transports: ['polling'],
      pollWaitMs: 200,
      requestTimeoutMs: 500,
      backoff: { minDelay: 50, maxDelay: 200 },
    });
    cleanups.push(() => client.disconnect());
    const states: StateChange[] = [];
    client.on('state', (c) => states.push(c));
    const got: number[] = [];
    const sub = client.subscribe('orders:h1', {}, (e) => got.push(e.data.n as number));
    client.connect();
    await sub.ready;
    await ingestN(server, 'orders:h1', 1, 5);
    await until(() => got.length === 5, 'events before the freeze');

    proxy.freeze();
    const frozenAt = states.length;
    await ingestN(server, 'orders:h1', 6, 10);
    // Without a timeout the poll would hang for ever; with one the client notices within about
    // waitMs + requestTimeoutMs and starts reconnecting.
    await until(() => states.slice(frozenAt).some((c) => c.newState === 'reconnecting'), 'the client noticing the dead connection', 5_000);
    expect(got).toEqual(seq(1, 5));

    proxy.thaw();
    await until(() => got.length === 10, 'the events published while frozen');
    await ingestN(server, 'orders:h1', 11, 12);
    await until(() => got.length === 12, 'events after the reconnect');
    expect(got).toEqual(seq(1, 12));
    expect(client.state).toBe('connected');
  }, 30_000);
});
