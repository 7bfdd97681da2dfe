/**
 * Reconnect timing and recovery bookkeeping, with vitest fake timers and an in-process scripted
 * WebSocket (the one place a stand-in is used: real sockets cannot run on fake time). The same
 * behaviour is checked against the real server in server.test.ts.
 */
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import fc from 'fast-check';
import { ERROR_CODES, PulseError, isValidSubscriptionTarget } from '@pulse/protocol';
import { PulseClient } from '../src/client.js';
import { BACKOFF_KNOWTON } from '../src/backoff.js';
import type { StateChange } from '../src/state.js';
import { ScriptedSocket, last } from './scripted-socket.js';

const ev = (offset: number, epoch = 'e1', channel = 'market:m1') => ({
  id: `id${offset}`,
  channel,
  type: 'trade',
  ts: 0,
  data: { n: offset },
  offset,
  epoch,
});

beforeEach(() => {
  ScriptedSocket.all = [];
  vi.useFakeTimers();
});
afterEach(() => {
  vi.useRealTimers();
});

/** The next socket opens exactly `delay` ms from now (fake time): not at `delay - 1`, but at `delay`. */
async function expectRetryAfter(delay: number): Promise<void> {
  const before = ScriptedSocket.all.length;
  await vi.advanceTimersByTimeAsync(delay - 1);
  expect(ScriptedSocket.all.length).toBe(before);
  await vi.advanceTimersByTimeAsync(1);
  expect(ScriptedSocket.all.length).toBe(before + 1);
}

describe('reconnect with backoff (fake timers)', () => {
  it("seed 003: retries after 1, 2, 4, 8, 16 s, then fails until reconnect()", async () => {
    const changes: StateChange[] = [];
    const c = new PulseClient({ url: 'http://pulse.test', WebSocket: ScriptedSocket, transports: ['websocket'], backoff: BACKOFF_KNOWTON });
    c.on('state', (s) => changes.push(s));
    c.connect();
    await vi.advanceTimersByTimeAsync(0);
    expect(ScriptedSocket.all).toHaveLength(1);
    last().drop();
    expect(c.state).toBe('reconnecting');
    for (const delay of [1000, 2000, 4000, 8000, 16000]) {
      await expectRetryAfter(delay);
      last().drop();
    }
    expect(c.state).toBe('failed');
    expect(changes[changes.length - 1]).toMatchObject({ oldState: 'reconnecting', newState: 'failed', code: 'MAX_ATTEMPTS' });
    await vi.advanceTimersByTimeAsync(120_000);
    expect(ScriptedSocket.all).toHaveLength(6);

    c.reconnect();
    await vi.advanceTimersByTimeAsync(0);
    expect(ScriptedSocket.all).toHaveLength(7);
    last().welcome();
    expect(c.state).toBe('connected');
    expect(changes.map((s) => `${s.newState}:${s.code}`)).toEqual([
      'connecting:CONNECT',
      'reconnecting:TRANSPORT_CLOSED',
      'failed:MAX_ATTEMPTS',
      'connecting:RECONNECT',
      'connected:CONNECTED',
    ]);
    // The budget is fresh again: the next drop waits the first delay.
    last().drop(1012, 'restart');
    expect(changes[changes.length - 1]).toMatchObject({ newState: 'reconnecting', code: 'SERVER_SHUTDOWN' });
    await vi.advanceTimersByTimeAsync(1000);
    expect(ScriptedSocket.all).toHaveLength(8);
    c.disconnect();
  });

  it('full jitter draws each delay from [min, ceiling] with the injected random', async () => {
    const c = new PulseClient({
      url: 'http://pulse.test',
      WebSocket: ScriptedSocket,
      transports: ['websocket'],
      backoff: { minDelay: 5000, maxDelay: 60000, maxAttempts: Infinity, jitter: 'full' },
      random: () => 0.5,
    });
    c.connect();
    await vi.advanceTimersByTimeAsync(0);
    last().drop();
    // attempt 0: ceiling 5000 → 5000; attempt 1: 5000 + 0.5·5000; attempt 2: 5000 + 0.5·15000
    for (const delay of [5000, 7500, 12500]) {
      await expectRetryAfter(delay);
      last().drop();
    }
    c.disconnect();
    expect(c.state).toBe('disconnected');
  });
});

describe('recovery bookkeeping', () => {
  it('resubscribes with since = last delivered position and delivers the replay once', async () => {
    const c = new PulseClient({ url: 'http://pulse.test', WebSocket: ScriptedSocket, transports: ['websocket'], backoff: BACKOFF_KNOWTON });
    const got: number[] = [];
    const infos: unknown[] = [];
    const sub = c.subscribe('market:m1', { types: ['trade'] }, (e) => got.push(e.offset));
    sub.on('subscribed', (i) => infos.push(i));
    c.connect();
    await vi.advanceTimersByTimeAsync(0);
    last().welcome();
    expect(last().sent[0]).toMatchObject({ op: 'subscribe', channel: 'market:m1', types: ['trade'] });
    expect(last().sent[0]!.since).toBeUndefined();
    last().reply('subscribe', { channel: 'market:m1', types: ['trade'], position: { epoch: 'e1', offset: 2 } });
    await vi.advanceTimersByTimeAsync(0);
    last().push({ type: 'events', events: [ev(3), ev(4)] });
    last().drop(1012, 'restart');
    await vi.advanceTimersByTimeAsync(1000);
    last().welcome();
    expect(last().sent[0]).toMatchObject({ op: 'subscribe', channel: 'market:m1', since: { epoch: 'e1', offset: 4 } });
    last().reply('subscribe', { channel: 'market:m1', types: ['trade'], recovered: true, position: { epoch: 'e1', offset: 6 } });
    // A replay that overlaps what was delivered (4) and a live push that overlaps the replay (6).
    last().push({ type: 'events', events: [ev(4), ev(5), ev(6)] });
    last().push({ type: 'events', events: [ev(6), ev(7)] });
    await vi.advanceTimersByTimeAsync(0);
    expect(got).toEqual([3, 4, 5, 6, 7]);
    expect(infos).toEqual([
      { target: 'market:m1', recovered: undefined, resubscribed: false },
      { target: 'market:m1', recovered: true, resubscribed: true },
    ]);
    c.disconnect();
  });

  it('surfaces recovered: false', async () => {
    const c = new PulseClient({ url: 'http://pulse.test', WebSocket: ScriptedSocket, transports: ['websocket'], backoff: BACKOFF_KNOWTON });
    const sub = c.subscribe('market:m1', {}, () => {});
    c.connect();
    await vi.advanceTimersByTimeAsync(0);
    last().welcome();
    last().reply('subscribe', { channel: 'market:m1', types: null, position: { epoch: 'e1', offset: 9 } });
    await vi.advanceTimersByTimeAsync(0);
    last().drop(4008, 'SLOW_CONSUMER');
    await vi.advanceTimersByTimeAsync(1000);
    last().welcome();
    expect(last().sent[0]).toMatchObject({ since: { epoch: 'e1', offset: 9 } });
    last().reply('subscribe', { channel: 'market:m1', types: null, recovered: false });
    await vi.advanceTimersByTimeAsync(0);
    expect(sub.recovered).toBe(false);
    c.disconnect();
  });

  it('on close 4009 fetches a new token and reconnects at once', async () => {
    let n = 0;
    const getToken = vi.fn(async () => `tok${++n}`);
    const c = new PulseClient({ url: 'http://pulse.test', WebSocket: ScriptedSocket, transports: ['websocket'], getToken, backoff: BACKOFF_KNOWTON });
    c.connect();
    await vi.advanceTimersByTimeAsync(0);
    expect(last().url).toBe('ws://pulse.test/ws?token=tok1');
    last().welcome();
    last().push({ type: 'error', code: 'TOKEN_EXPIRED', message: 'Token expired' });
    last().drop(4009, 'TOKEN_EXPIRED');
    expect(c.state).toBe('reconnecting');
    expect(c.getSnapshot().lastChange).toMatchObject({ code: 'TOKEN_EXPIRED' });
    await vi.advanceTimersByTimeAsync(0);
    expect(ScriptedSocket.all).toHaveLength(2);
    expect(last().url).toBe('ws://pulse.test/ws?token=tok2');
    last().welcome();
    expect(c.state).toBe('connected');
    expect(getToken).toHaveBeenCalledTimes(2);
    c.disconnect();
  });

  it('without getToken an expired token fails the connection', async () => {
    const c = new PulseClient({ url: 'http://pulse.test', WebSocket: ScriptedSocket, transports: ['websocket'], token: 'static' });
    const errors: string[] = [];
    c.on('error', (e) => errors.push(e.code));
    c.connect();
    await vi.advanceTimersByTimeAsync(0);
    last().welcome();
    last().drop(4009, 'TOKEN_EXPIRED');
    expect(c.state).toBe('failed');
    expect(errors).toContain('TOKEN_EXPIRED');
  });

  it('times out requests with a coded error', async () => {
    const c = new PulseClient({ url: 'http://pulse.test', WebSocket: ScriptedSocket, transports: ['websocket'], requestTimeoutMs: 5000 });
    c.connect();
    await vi.advanceTimersByTimeAsync(0);
    last().welcome();
    const p = c.stats('market:m1');
    const caught = p.catch((e: unknown) => e);
    await vi.advanceTimersByTimeAsync(5000);
    expect(await caught).toMatchObject({ code: 'UNAVAILABLE' });
    c.disconnect();
  });
});

describe('heartbeat', () => {
  it('pings a quiet connection and drops a silent one (HEARTBEAT_TIMEOUT), then reconnects', async () => {
    const c = new PulseClient({ url: 'http://pulse.test', WebSocket: ScriptedSocket, transports: ['websocket'], backoff: BACKOFF_KNOWTON });
    c.connect();
    await vi.advanceTimersByTimeAsync(0);
    last().readyState = 1;
    last().push({ type: 'welcome', protocol: 1, session: 's', userId: null, serverTime: 0, heartbeatMs: 1000 });
    await vi.advanceTimersByTimeAsync(1000);
    expect(last().sent.filter((m) => m.op === 'ping')).toHaveLength(1);
    last().reply('ping', { serverTime: 1 }); // an answer keeps it alive
    await vi.advanceTimersByTimeAsync(2000);
    expect(c.state).toBe('connected');
    await vi.advanceTimersByTimeAsync(2000); // nothing at all for more than two heartbeats
    expect(c.state).toBe('reconnecting');
    expect(c.getSnapshot().lastChange).toMatchObject({ code: 'HEARTBEAT_TIMEOUT' });
    await vi.advanceTimersByTimeAsync(1000);
    expect(ScriptedSocket.all).toHaveLength(2);
    c.disconnect();
  });
});

describe('bad input', () => {
  it('subscribe() accepts valid targets and refuses anything else with INVALID_CHANNEL', () => {
    const c = new PulseClient({ url: 'http://pulse.test', WebSocket: ScriptedSocket });
    fc.assert(
      fc.property(fc.oneof(fc.string(), fc.constantFrom('market:*', 'analytics', 'a:b:c', '', '*', 'x:y z')), (target) => {
        try {
          c.subscribe(target, {}, () => {}).unsubscribe();
          expect(isValidSubscriptionTarget(target)).toBe(true);
        } catch (e) {
          expect(e).toBeInstanceOf(PulseError);
          expect((e as PulseError).code).toBe('INVALID_CHANNEL');
          expect(isValidSubscriptionTarget(target)).toBe(false);
        }
      }),
    );
  });

  it('survives arbitrary server frames: coded errors, no throw, still connected, valid events still delivered', async () => {
    const c = new PulseClient({ url: 'http://pulse.test', WebSocket: ScriptedSocket, transports: ['websocket'] });
    const codes = new Set<string>();
    c.on('error', (e) => codes.add(e.code));
    const got: number[] = [];
    c.subscribe('market:m1', {}, (e) => got.push(e.offset));
    c.connect();
    await vi.advanceTimersByTimeAsync(0);
    last().welcome();
    const frame = fc.oneof(
      fc.string(),
      fc.json(),
      fc.record({ type: fc.constantFrom('events', 'reply', 'error', 'closing', 'welcome', 'x'), events: fc.anything(), id: fc.anything(), code: fc.anything() }),
      fc.record({ type: fc.constant('events'), events: fc.array(fc.record({ channel: fc.string(), epoch: fc.anything(), offset: fc.anything() }, { requiredKeys: [] })) }),
    );
    let offset = 0;
    fc.assert(
      fc.property(frame, (f) => {
        const raw = typeof f === 'string' ? f : JSON.stringify(f);
        if (raw === undefined) return;
        expect(() => last().onmessage?.({ data: raw })).not.toThrow();
        offset++;
        last().push({ type: 'events', events: [ev(offset)] });
      }),
      { numRuns: 300 },
    );
    expect(c.state).toBe('connected');
    expect(got).toEqual(Array.from({ length: offset }, (_, i) => i + 1));
    for (const code of codes) expect(ERROR_CODES).toContain(code);
    c.disconnect();
  });
});
