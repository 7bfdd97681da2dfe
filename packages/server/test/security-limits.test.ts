/**
 * Limits: each refusal carries RATE_LIMITED or LIMIT_EXCEEDED with `retryAfter` (ms) and is
 * counted in /metrics. The bucket arithmetic is tested with an explicit clock; the servers with
 * real clients.
 */
import { describe, it, expect, afterEach } from 'vitest';
import { TokenBucket, MemoryLimiter } from '../src/limits/limiter.js';
import { Guard } from '../src/limits/guard.js';
import { startTestServer, Cleanup, SioCollector, WsCollector, http, tokenFor, waitFor, type Json } from './support/index.js';
import { openNative, call, metricValue } from './security-helpers.js';

const cleanup = new Cleanup();
afterEach(() => cleanup.run());

describe('token buckets', () => {
  it('allow the burst, then refuse with the exact wait, and refill with time', () => {
    const b = new TokenBucket(3, 2, 0);
    for (let i = 0; i < 3; i++) expect(b.take(1, 0).allowed).toBe(true);
    expect(b.take(1, 0)).toEqual({ allowed: false, retryAfter: 500, remaining: 0 });
    expect(b.take(1, 250)).toMatchObject({ allowed: false, retryAfter: 250 });
    expect(b.take(1, 500).allowed).toBe(true);
    expect(b.idle(500)).toBe(false);
    expect(b.idle(2000)).toBe(true);
    expect(b.take(1, 10_000_000)).toMatchObject({ allowed: true, remaining: 2 });
  });

  it('the memory limiter keys buckets by rule and key and sweeps refilled ones', async () => {
    const l = new MemoryLimiter();
    // One token per 100 s: the second take cannot be refilled in time, however slow the machine.
    const rule = { name: 'r', capacity: 1, perSecond: 0.01 };
    expect((await l.take(rule, 'a')).allowed).toBe(true);
    expect((await l.take(rule, 'a')).allowed).toBe(false);
    expect((await l.take(rule, 'b')).allowed).toBe(true);
    expect((await l.take({ ...rule, name: 'other' }, 'a')).allowed).toBe(true);
    l.sweep(Date.now() + 50_000);
    expect(l.size()).toBe(3); // half refilled: kept
    l.sweep(Date.now() + 1_000_000);
    expect(l.size()).toBe(0);
    await l.close();
  });

  it('connections per IP are counted and released once', () => {
    const g = new Guard({ SUBSCRIBE_RATE_PER_MINUTE: 0, MESSAGES_PER_SECOND: 0, MESSAGE_BURST: 1, MAX_CONNECTIONS_PER_IP: 2, INGEST_RATE_PER_SECOND: 0, INGEST_BURST: 1 }, null);
    const r1 = g.acquireConnection('1.2.3.4');
    g.acquireConnection('1.2.3.4');
    expect(() => g.acquireConnection('1.2.3.4')).toThrow(/connections/);
    expect(g.acquireConnection('5.6.7.8')).toBeTypeOf('function');
    r1();
    r1();
    expect(g.connectionsFrom('1.2.3.4')).toBe(1);
    void g.close();
  });
});

describe('limits on a running server', () => {
  it('subscriptions per user per minute (default 10), across connections and protocols', async () => {
    const pulse = cleanup.server(await startTestServer({ auth: 'jwt', env: { MAX_SUBSCRIPTIONS_PER_CLIENT: '100' } }));
    const t = await tokenFor('sub-user', null);
    const a = cleanup.closable(await openNative(pulse, t));
    for (let i = 0; i < 10; i++) expect((await call(a, { op: 'subscribe', channel: `market:s${i}` })).type).toBe('reply');
    const over = await call(a, { op: 'subscribe', channel: 'market:s10' });
    expect(over.code).toBe('RATE_LIMITED');
    expect(over.retryAfter).toBeGreaterThan(0);
    expect(over.retryAfter).toBeLessThanOrEqual(6000);
    // Re-subscribing to a channel already held is not a new subscription.
    expect((await call(a, { op: 'subscribe', channel: 'market:s1', types: ['x'] })).type).toBe('reply');
    const b = cleanup.closable(await openNative(pulse, t));
    expect((await call(b, { op: 'subscribe', channel: 'market:b' })).code).toBe('RATE_LIMITED');
    const s = cleanup.closable(SioCollector.connect(pulse.url, { auth: { token: t }, transports: ['websocket'] }));
    await s.connected();
    const ack = (await s.socket.timeout(5000).emitWithAck('subscribe', { room: 'market', id: 'sio' })) as Json;
    expect(ack).toMatchObject({ success: false, code: 'RATE_LIMITED' });
    // Another user is not affected.
    const c = cleanup.closable(await openNative(pulse, await tokenFor('other-user', null)));
    expect((await call(c, { op: 'subscribe', channel: 'market:s0' })).type).toBe('reply');
    const m = await http('GET', `${pulse.url}/metrics`, { token: await tokenFor('ops', null, 'admin') });
    expect(metricValue(m.text, 'pulse_limited_total', { limit: 'subscribe_rate' })).toBe(3);
  });

  it('messages per connection per second: RATE_LIMITED with retryAfter, on every protocol', async () => {
    const pulse = cleanup.server(await startTestServer({ env: { MESSAGES_PER_SECOND: '1', MESSAGE_BURST: '3' } }));
    const c = cleanup.closable(await openNative(pulse));
    for (let i = 0; i < 4; i++) c.send({ op: 'ping', id: i });
    await c.count((m) => m.id !== undefined || m.code === 'RATE_LIMITED', 4);
    const limited = c.all((m) => m.code === 'RATE_LIMITED');
    expect(limited).toHaveLength(1);
    expect(limited[0].retryAfter).toBeGreaterThan(0);
    // The refusal names its request, so a client's pending request is answered at once.
    expect(limited[0]).toMatchObject({ id: 3, op: 'ping' });
    expect(c.all((m) => m.id !== undefined).map((m) => m.id).sort()).toEqual([0, 1, 2, 3]);
    expect(c.closeCode).toBeNull();
    const v = cleanup.closable(await WsCollector.open(pulse.wsUrl + '/api/websocket/analytics'));
    for (let i = 0; i < 4; i++) v.send({ type: 'ping' });
    const verr = await v.next((m) => m.type === 'error');
    expect((verr.payload as Json).code).toBe('RATE_LIMITED');
    const p = cleanup.closable(await WsCollector.open(pulse.wsUrl + '/analytics'));
    for (let i = 0; i < 4; i++) p.send({ type: 'ping' });
    expect((await p.nextOfType('error')).code).toBe('RATE_LIMITED');
    const k = cleanup.closable(await WsCollector.open(pulse.wsUrl + '/ws/metrics'));
    for (let i = 0; i < 4; i++) k.send({ type: 'ping' });
    expect((await k.next((m) => m.type === 'error')).code).toBe('RATE_LIMITED');
    const s = cleanup.closable(SioCollector.connect(pulse.url, { transports: ['websocket'] }));
    await s.connected();
    const acks = await Promise.all([0, 1, 2, 3].map(() => s.socket.timeout(5000).emitWithAck('ping') as Promise<Json>));
    expect(acks.filter((a) => a.code === 'RATE_LIMITED')).toHaveLength(1);
  });

  it('connections per IP: LIMIT_EXCEEDED (4029) past MAX_CONNECTIONS_PER_IP, freed on close', async () => {
    const pulse = cleanup.server(await startTestServer({ env: { MAX_CONNECTIONS_PER_IP: '2' } }));
    const a = cleanup.closable(await openNative(pulse));
    cleanup.closable(await openNative(pulse));
    const c = cleanup.closable(await openNative(pulse));
    expect((await c.closed()).code).toBe(4029);
    expect(c.ofType('error')[0]).toMatchObject({ code: 'LIMIT_EXCEEDED' });
    expect(c.ofType('error')[0].retryAfter).toBeGreaterThan(0);
    const s = cleanup.closable(SioCollector.connect(pulse.url, { transports: ['websocket'] }));
    const r = await waitFor(() => s.records.find((x) => x.event === 'connect' || x.event === 'connect_error'), 'socket.io outcome');
    expect(r.event).toBe('connect_error');
    // SSE streams count too: 429 LIMIT_EXCEEDED with Retry-After.
    const sse = await fetch(`${pulse.url}/v1/stream?channel=market:x`);
    expect(sse.status).toBe(429);
    expect(((await sse.json()) as Json).code).toBe('LIMIT_EXCEEDED');
    expect(sse.headers.get('retry-after')).toBe('5');
    a.ws.close();
    await waitFor(async () => {
      const d = await openNative(pulse);
      const ok = d.ofType('welcome').length > 0 && d.closeCode === null;
      d.close();
      return ok;
    }, 'a slot frees after a close');
  });

  it('a connection that answers pings but never subscribes nor speaks is closed after IDLE_TIMEOUT_MS', async () => {
    const pulse = cleanup.server(await startTestServer({ env: { HEARTBEAT_MS: '1000', IDLE_TIMEOUT_MS: '1000' } }));
    const idle = cleanup.closable(await openNative(pulse));
    const idleProfile = cleanup.closable(await WsCollector.open(pulse.wsUrl + '/api/websocket/analytics'));
    const busy = cleanup.closable(await openNative(pulse));
    expect((await call(busy, { op: 'subscribe', channel: 'market:idle' })).type).toBe('reply');
    expect(await idle.closed({ timeoutMs: 10_000 })).toEqual({ code: 1000, reason: 'IDLE_TIMEOUT' });
    expect((await idleProfile.closed({ timeoutMs: 10_000 })).reason).toBe('IDLE_TIMEOUT');
    expect(busy.closeCode).toBeNull();
    expect((await call(busy, { op: 'ping' })).type).toBe('reply');
    const m = await http('GET', `${pulse.url}/metrics`);
    expect(metricValue(m.text, 'pulse_limited_total', { limit: 'idle_timeout' })).toBeGreaterThanOrEqual(2);
  });

  it('ingest requests per key: 429 RATE_LIMITED with Retry-After', async () => {
    const pulse = cleanup.server(await startTestServer({ auth: 'jwt', env: { INGEST_RATE_PER_SECOND: '1', INGEST_BURST: '2' } }));
    const t = await tokenFor('producer', null, 'developer');
    const codes: number[] = [];
    let last: { status: number; body: Json; headers: Headers } | null = null;
    for (let i = 0; i < 3; i++) {
      last = await http<Json>('POST', `${pulse.url}/v1/events`, { token: t, body: { channel: 'market:r', type: 't' } });
      codes.push(last.status);
    }
    expect(codes.slice(0, 2)).toEqual([200, 200]);
    expect(codes[2]).toBe(429);
    expect(last!.body.code).toBe('RATE_LIMITED');
    expect((last!.body.error as Json).retryAfter).toBeGreaterThan(0);
    expect(Number(last!.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
    const other = await http('POST', `${pulse.url}/v1/events`, { token: await tokenFor('producer-2', null, 'developer'), body: { channel: 'market:r', type: 't' } });
    expect(other.status).toBe(200);
  });

  it('size and shape limits: JSON depth, channel length, body size, MAX_SUBSCRIPTIONS_PER_CLIENT', async () => {
    const pulse = cleanup.server(await startTestServer({ env: { MAX_JSON_DEPTH: '5', MAX_BODY_BYTES: '2048', MAX_SUBSCRIPTIONS_PER_CLIENT: '2' } }));
    const nest = (d: number): unknown => (d <= 1 ? { leaf: 1 } : { n: nest(d - 1) });
    const ok = await http<Json>('POST', `${pulse.url}/v1/events`, { body: { channel: 'market:d', type: 't', data: nest(5) } });
    expect(ok.status).toBe(200);
    const deep = await http<Json>('POST', `${pulse.url}/v1/events`, { body: { channel: 'market:d', type: 't', data: nest(6) } });
    expect(deep.status).toBe(400);
    expect((deep.body.errors as Json[])[0].code).toBe('LIMIT_EXCEEDED');
    const arrays = await http<Json>('POST', `${pulse.url}/v1/events`, { body: '{"channel":"market:d","type":"t","data":{"a":' + '['.repeat(900) + ']'.repeat(900) + '}}' });
    expect((arrays.body.errors as Json[])[0].code).toBe('LIMIT_EXCEEDED');
    // Hostile depth (10,000 levels, under the frame and body limits) is refused, not a stack overflow.
    const deepText = '{"a":'.repeat(10_000) + '1' + '}'.repeat(10_000);
    const hostile = await http<Json>('POST', `${pulse.url}/v1/events`, { body: `{"channel":"market:d","type":"t","data":${deepText}}` });
    expect([400, 413]).toContain(hostile.status);
    expect(hostile.body.code ?? (hostile.body.errors as Json[])[0].code).toMatch(/LIMIT_EXCEEDED|BAD_JSON|PAYLOAD_TOO_LARGE/);
    const ws = cleanup.closable(await openNative(pulse));
    ws.send(`{"op":"publish","id":"deep","channel":"market:d","type":"t","data":${'{"a":'.repeat(5000)}1${'}'.repeat(5000)}}`);
    const deepAnswer = await ws.next((m) => m.type === 'error' || m.id === 'deep');
    expect(deepAnswer.code).toBe('LIMIT_EXCEEDED');
    expect((await call(ws, { op: 'ping' })).type).toBe('reply');
    const long = await http<Json>('POST', `${pulse.url}/v1/events`, { body: { channel: 'market:' + 'x'.repeat(200), type: 't' } });
    expect((long.body.errors as Json[])[0].code).toBe('INVALID_CHANNEL');
    const big = await http<Json>('POST', `${pulse.url}/v1/events`, { body: { channel: 'market:d', type: 't', data: { pad: 'x'.repeat(4000) } } });
    expect([big.status, big.body.code]).toEqual([413, 'PAYLOAD_TOO_LARGE']);
    const c = cleanup.closable(await openNative(pulse));
    await call(c, { op: 'subscribe', channel: 'market:1' });
    await call(c, { op: 'subscribe', channel: 'market:2' });
    expect((await call(c, { op: 'subscribe', channel: 'market:3' })).code).toBe('MAX_SUBSCRIPTIONS');
    const m = await http('GET', `${pulse.url}/metrics`);
    expect(metricValue(m.text, 'pulse_events_rejected_total', { code: 'LIMIT_EXCEEDED' })).toBe(3);
  });
});
