/**
 * Audit of issue #5: races and long-run behaviour the other suites did not reach. Scripted
 * socket + fake timers where timing must be exact; the real server where it can be.
 */
import { afterEach, describe, expect, it, vi } from 'vitest';
import WebSocket from 'ws';
import { generateToken, type PulseServer } from '@pulse/server';
import { PulseClient } from '../src/client.js';
import type { WebSocketCtor } from '../src/env.js';
import { ScriptedSocket, last } from './scripted-socket.js';
import { devServer, seq, tempDir, until } from './helpers.js';


const cleanups: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  vi.useRealTimers();
  ScriptedSocket.all = [];
  while (cleanups.length) await cleanups.pop()!();
});

function deferred<T>(): { promise: Promise<T>; resolve(v: T): void } {
  let resolve!: (v: T) => void;
  const promise = new Promise<T>((r) => (resolve = r));
  return { promise, resolve };
}

describe('unsubscribe while a pattern resubscription is pending', () => {
  it('does not subscribe the server again to a target nobody holds', async () => {
    vi.useFakeTimers();
    const listings: Array<ReturnType<typeof deferred<Response>>> = [];
    const fetchStub = (async (url: string) => {
      if (String(url).includes('/v1/channels?prefix=')) {
        const d = deferred<Response>();
        listings.push(d);
        return d.promise;
      }
      throw new Error(`unexpected fetch ${url}`);
    }) as unknown as typeof fetch;
    const list = (channels: string[]) =>
      new Response(JSON.stringify({ channels: channels.map((channel) => ({ channel, epoch: 'e1', offset: 3 })) }), { headers: { 'content-type': 'application/json' } });
    const client = new PulseClient({ url: 'http://pulse.test', WebSocket: ScriptedSocket, fetch: fetchStub, transports: ['websocket'], backoff: { minDelay: 10, maxDelay: 10 } });
    const sub = client.subscribe('market:*', {}, () => {});
    client.connect();
    await vi.advanceTimersByTimeAsync(0);
    last().welcome();
    last().reply('subscribe', {});
    await vi.advanceTimersByTimeAsync(0);
    expect(sub.state).toBe('subscribed');
    // Baseline listing: no channels yet.
    listings[0]!.resolve(list([]));
    await vi.advanceTimersByTimeAsync(0);

    // The connection drops and comes back; the resubscription is confirmed and the pattern lists
    // its channels again (one was created meanwhile)…
    last().drop(1006);
    await vi.advanceTimersByTimeAsync(10);
    const s2 = last();
    s2.welcome();
    s2.reply('subscribe', {});
    await vi.advanceTimersByTimeAsync(0);
    expect(listings.length).toBe(2);
    // …and the app unsubscribes before that listing answers.
    sub.unsubscribe();
    expect(s2.sent.at(-1)).toMatchObject({ op: 'unsubscribe', channel: 'market:*' });
    listings[1]!.resolve(list(['market:new']));
    await vi.advanceTimersByTimeAsync(0);
    // The server must not be asked to subscribe again to what the app released.
    expect(s2.sent.at(-1)).toMatchObject({ op: 'unsubscribe', channel: 'market:*' });
    client.disconnect();
  });
});

describe('the WebSocket probe while on a fallback', () => {
  it('is abandoned when the fallback transport closes, so it cannot take over a reconnecting client', async () => {
    vi.useFakeTimers();
    let streamCtl: ReadableStreamDefaultController<Uint8Array> | undefined;
    const enc = new TextEncoder();
    const fetchStub = (async (url: string) => {
      if (String(url).includes('/v1/stream')) {
        const body = new ReadableStream<Uint8Array>({ start: (c) => void (streamCtl = c) });
        return new Response(body, { headers: { 'content-type': 'text/event-stream' } });
      }
      throw new Error(`unexpected fetch ${url}`);
    }) as unknown as typeof fetch;
    const client = new PulseClient({
      url: 'http://pulse.test',
      WebSocket: ScriptedSocket,
      fetch: fetchStub,
      transports: ['websocket', 'sse'],
      backoff: { minDelay: 1000, maxDelay: 1000 },
      upgradeProbeMs: 60_000,
    });
    client.subscribe('orders:o1', {}, () => {});
    client.connect();
    await vi.advanceTimersByTimeAsync(0);
    last().drop(1006); // the upgrade is refused: fall back to SSE
    await vi.advanceTimersByTimeAsync(0);
    streamCtl!.enqueue(enc.encode('event: subscribed\ndata: {"channel":"orders:o1"}\n\n'));
    await vi.advanceTimersByTimeAsync(0);
    expect(client.state).toBe('connected');
    expect(client.transportKind).toBe('sse');
    // The first probe comes after max(250 ms, minDelay).
    await vi.advanceTimersByTimeAsync(1000);
    const probe = last();
    expect(ScriptedSocket.all.length).toBe(2);
    // The SSE stream ends (server restart) while the probe is still opening.
    streamCtl!.close();
    await vi.advanceTimersByTimeAsync(0);
    expect(client.state).toBe('reconnecting');
    // The probe belongs to the connection that just ended: it must be gone, not adopted later
    // behind the state machine's back (the state would stay `reconnecting` on a live socket,
    // and the reconnect timer would then orphan it).
    expect(probe.readyState).toBe(3);
    await vi.advanceTimersByTimeAsync(1000);
    const fresh = last();
    expect(fresh).not.toBe(probe);
    fresh.welcome();
    await vi.advanceTimersByTimeAsync(0);
    expect(client.state).toBe('connected');
    expect(ScriptedSocket.all.filter((s) => s.readyState !== 3)).toEqual([fresh]);
    client.disconnect();
  });
});

describe('token renewal with a long-lived token (real server)', () => {
  it('does not renew at once in a loop when exp is beyond the timer range (~24.8 days)', async () => {
    const tmp = tempDir();
    cleanups.push(() => tmp.remove());
    const SECRET = 'test-secret-test-secret-test-secret';
    const server: PulseServer = await devServer(tmp.dir, { SKIP_AUTH: 'false', JWT_SECRET: SECRET });
    cleanups.push(() => server.close());
    let calls = 0;
    const getToken = async () => {
      calls++;
      return generateToken('user-long', null, 'user', { secret: SECRET, expiresIn: '30d' });
    };
    const client = new PulseClient({ url: server.url, WebSocket: WebSocket as unknown as WebSocketCtor, getToken });
    cleanups.push(() => client.disconnect());
    let renewed = 0;
    client.on('tokenRenewed', () => renewed++);
    const got: number[] = [];
    const sub = client.subscribe('market:long', {}, (e) => got.push(e.data.n as number));
    client.connect();
    await sub.ready;
    await new Promise((r) => setTimeout(r, 500));
    await server.hub.ingest(seq(1, 3).map((n) => ({ channel: 'market:long', type: 'trade', data: { n } })), { wait: 'durable' });
    await until(() => got.length === 3, 'events');
    // A token valid for 30 days needs no renewal within half a second.
    expect(renewed).toBe(0);
    expect(calls).toBe(1);
  });
});

describe('backoff when the connection flaps', () => {
  it('a connection that opens and drops at once still backs off exponentially; one that stayed up starts over', async () => {
    vi.useFakeTimers();
    const client = new PulseClient({ url: 'http://pulse.test', WebSocket: ScriptedSocket, transports: ['websocket'], backoff: { minDelay: 100, maxDelay: 10_000, jitter: 'none' } });
    client.connect();
    await vi.advanceTimersByTimeAsync(0);
    const delays: number[] = [];
    for (let i = 0; i < 5; i++) {
      const s = last();
      s.welcome();
      s.drop(1006); // accepted, then dropped at once (a proxy, a crash loop, SLOW_CONSUMER on replay)
      const before = ScriptedSocket.all.length;
      let waited = 0;
      while (ScriptedSocket.all.length === before) {
        await vi.advanceTimersByTimeAsync(10);
        waited += 10;
      }
      delays.push(waited);
    }
    expect(delays).toEqual([100, 200, 400, 800, 1600]);
    // Up for a while: the next drop retries after the first delay again.
    last().welcome();
    await vi.advanceTimersByTimeAsync(30_000);
    const before = ScriptedSocket.all.length;
    last().drop(1006);
    await vi.advanceTimersByTimeAsync(100);
    expect(ScriptedSocket.all.length).toBe(before + 1);
    client.disconnect();
  });
});

describe('connect(token) with another token while connected', () => {
  it('reconnects with the new token (seed 000: log in after connecting), resuming subscriptions', async () => {
    vi.useFakeTimers();
    const client = new PulseClient({ url: 'http://pulse.test', WebSocket: ScriptedSocket, transports: ['websocket'] });
    const got: number[] = [];
    client.subscribe('market:m1', {}, (e) => got.push(e.data.n as number));
    client.connect('token-a');
    await vi.advanceTimersByTimeAsync(0);
    const first = last();
    expect(first.url).toContain('token=token-a');
    first.welcome();
    first.reply('subscribe', { position: { epoch: 'e1', offset: 4 } });
    await vi.advanceTimersByTimeAsync(0);
    client.connect('token-a'); // the same token: nothing to do
    await vi.advanceTimersByTimeAsync(0);
    expect(ScriptedSocket.all.length).toBe(1);
    client.connect('token-b');
    await vi.advanceTimersByTimeAsync(0);
    expect(first.readyState).toBe(3);
    const second = last();
    expect(second).not.toBe(first);
    expect(second.url).toContain('token=token-b');
    second.welcome();
    await vi.advanceTimersByTimeAsync(0);
    expect(second.sent.find((m) => m.op === 'subscribe')).toMatchObject({ channel: 'market:m1', since: { epoch: 'e1', offset: 4 } });
    expect(client.state).toBe('connected');
    client.disconnect();
  });
});

describe('a silent SSE stream (half-open connection)', () => {
  it('is given up after sseIdleTimeoutMs without data or heartbeat, and reconnects', async () => {
    vi.useFakeTimers();
    const streams: Array<ReadableStreamDefaultController<Uint8Array>> = [];
    const enc = new TextEncoder();
    const fetchStub = (async (url: string) => {
      if (String(url).includes('/v1/stream')) {
        const body = new ReadableStream<Uint8Array>({ start: (c) => void streams.push(c) });
        return new Response(body, { headers: { 'content-type': 'text/event-stream' } });
      }
      throw new Error(`unexpected fetch ${url}`);
    }) as unknown as typeof fetch;
    const client = new PulseClient({ url: 'http://pulse.test', fetch: fetchStub, transports: ['sse'], backoff: { minDelay: 1000, maxDelay: 1000 } });
    const codes: string[] = [];
    client.on('state', (c) => codes.push(c.code));
    client.subscribe('orders:o1', {}, () => {});
    client.connect();
    await vi.advanceTimersByTimeAsync(0);
    streams[0]!.enqueue(enc.encode('event: subscribed\ndata: {"channel":"orders:o1"}\n\n'));
    await vi.advanceTimersByTimeAsync(0);
    expect(client.state).toBe('connected');
    // Heartbeats keep it alive…
    for (let i = 0; i < 6; i++) {
      await vi.advanceTimersByTimeAsync(25_000);
      streams[0]!.enqueue(enc.encode(': heartbeat\n\n'));
    }
    await vi.advanceTimersByTimeAsync(0);
    expect(client.state).toBe('connected');
    // …silence does not.
    await vi.advanceTimersByTimeAsync(70_000);
    expect(codes).toContain('HEARTBEAT_TIMEOUT');
    await vi.advanceTimersByTimeAsync(1000);
    expect(streams.length).toBe(2);
    client.disconnect();
  });
});
