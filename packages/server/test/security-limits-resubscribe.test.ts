/**
 * The subscription rate limit (SUBSCRIBE_RATE_PER_MINUTE, per identity) charges *new* channels
 * only: a channel the identity holds, or released within the limiter's window (a minute), is
 * free to take again, so a client that reconnects and subscribes again on `connect` (seed 000's
 * hook, seed 001's set, seed 004's rooms) is not refused its own subscriptions. A multi-channel
 * subscribe (seed 001 contentIds) is charged all or nothing. Real servers and real clients, plus
 * a model of the guard on an explicit clock.
 */
import { afterEach, describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { io } from 'socket.io-client';
import type { Counter } from 'prom-client';
import { Guard, type HeldSubscription } from '../src/limits/guard.js';
import { TokenBucket, type Limiter, type RateRule } from '../src/limits/limiter.js';
import type { Principal } from '../src/auth/principal.js';
import { ANONYMOUS_DEV } from '../src/auth/principal.js';
import { Cleanup, SioCollector, WsCollector, http, startTestServer, tokenFor, waitFor, type Json, type TestServer } from './support/index.js';
import { openNative, call, metricValue } from './security-helpers.js';

const cleanup = new Cleanup();
afterEach(() => cleanup.run());

const CONTRACTS = Array.from({ length: 10 }, (_, i) => `ST1PQHQKV0RJXZFY1DGX8MNSNYVE3VGZJSRTPGZGM.contract-${i}`);

async function limitedCount(s: TestServer): Promise<number> {
  const m = await http('GET', `${s.url}/metrics`, { token: await tokenFor('ops', null, 'admin') });
  return metricValue(m.text, 'pulse_limited_total', { limit: 'subscribe_rate' });
}

describe('reconnecting clients keep their subscriptions (default limit: 10 per user per minute)', () => {
  it('seed 000: a Socket.IO client holding 10 contracts whose transport drops 5 times in a minute resubscribes all 10 every time', async () => {
    const s = cleanup.server(await startTestServer({ auth: 'jwt' }));
    const token = await tokenFor('user-123', 'SP2J6ZY48GV1EZ5V2V5RB9MP66SW86PYKKNRV9EJ7', 'user');
    // The seed's hook: subscribe on every `connect` (the first one and each reconnection).
    const socket = io(s.url, { auth: { token }, reconnection: true, reconnectionDelay: 50, reconnectionDelayMax: 100, forceNew: true, transports: ['websocket'] });
    const c = cleanup.closable(new SioCollector(socket));
    socket.on('connect', () => {
      for (const contractId of CONTRACTS) socket.emit('subscribe', { contractId });
    });
    await c.connected();
    await c.count('subscribed', 10);
    for (let drop = 1; drop <= 5; drop++) {
      const from = c.mark();
      socket.io.engine.close();
      await c.next('disconnect', () => true, { from });
      await c.next('connect', () => true, { from });
      await waitFor(() => c.payloads('subscribed', from).length + c.payloads('error', from).length >= 10, `drop ${drop}: 10 answers`);
      expect(c.payloads('error', from), `drop ${drop}`).toEqual([]);
      expect(new Set(c.payloads<{ contractId: string }>('subscribed', from).map((p) => p.contractId))).toEqual(new Set(CONTRACTS));
    }
    // And it gets every contract's events after the last one.
    const from = c.mark();
    await s.hub.ingest(
      CONTRACTS.map((contractId, i) => ({ channel: `contract:${contractId}`, type: 'bid_placed', id: `after-${i}`, data: {} })),
      { wait: 'durable' },
    );
    await c.count('event', 10, () => true, { from });
    expect(await limitedCount(s)).toBe(0);
  });

  it('seed 000/004: a client that ignores acks and uses {room, id} still gets its rooms back after drops', async () => {
    const s = cleanup.server(await startTestServer({ auth: 'jwt' }));
    const token = await tokenFor('user-rooms', null, 'user');
    const rooms = Array.from({ length: 10 }, (_, i) => ({ room: 'market', id: `m${i}` }));
    const socket = io(s.url, { auth: { token }, reconnection: true, reconnectionDelay: 50, reconnectionDelayMax: 100, forceNew: true, transports: ['websocket'] });
    const c = cleanup.closable(new SioCollector(socket));
    socket.on('connect', () => {
      for (const r of rooms) socket.emit('subscribe', r);
    });
    await c.connected();
    await c.count('subscribed', 10);
    for (let drop = 1; drop <= 3; drop++) {
      const from = c.mark();
      socket.io.engine.close();
      await c.next('connect', () => true, { from });
      await waitFor(() => c.payloads('subscribed', from).length + c.payloads('error', from).length >= 10, `drop ${drop}: 10 answers`);
      expect(c.payloads('error', from), `drop ${drop}`).toEqual([]);
    }
    const from = c.mark();
    await s.hub.ingest(rooms.map((r, i) => ({ channel: `market:${r.id}`, type: 'trade', id: `t${i}`, data: {} })), { wait: 'durable' });
    // Room events are emitted under their type.
    await c.count('trade', 10, () => true, { from });
    expect(await limitedCount(s)).toBe(0);
  });

  it('a subscribe refused by MAX_SUBSCRIPTIONS is not charged to the subscription rate', async () => {
    const s = cleanup.server(await startTestServer({ auth: 'jwt', env: { MAX_SUBSCRIPTIONS_PER_CLIENT: '1', SUBSCRIBE_RATE_PER_MINUTE: '3' } }));
    const c = cleanup.closable(await openNative(s, await tokenFor('max-user', null)));
    expect((await call(c, { op: 'subscribe', channel: 'market:a' })).type).toBe('reply');
    // Full: five refusals for the count, none of them spends the rate.
    for (let i = 0; i < 5; i++) expect((await call(c, { op: 'subscribe', channel: `market:x${i}` })).code).toBe('MAX_SUBSCRIPTIONS');
    expect((await call(c, { op: 'unsubscribe', channel: 'market:a' })).type).toBe('reply');
    // Two of the three per minute are left.
    expect((await call(c, { op: 'subscribe', channel: 'market:b' })).type).toBe('reply');
    expect((await call(c, { op: 'unsubscribe', channel: 'market:b' })).type).toBe('reply');
    expect((await call(c, { op: 'subscribe', channel: 'market:c' })).type).toBe('reply');
  });

  it('native: reconnecting 5 times holding 10 channels re-subscribes all of them; new channels past the limit are still refused', async () => {
    const s = cleanup.server(await startTestServer({ auth: 'jwt', env: { MAX_SUBSCRIPTIONS_PER_CLIENT: '100' } }));
    const t = await tokenFor('native-user', null);
    const channels = Array.from({ length: 10 }, (_, i) => `market:n${i}`);
    let c = await openNative(s, t);
    for (const ch of channels) expect((await call(c, { op: 'subscribe', channel: ch })).type).toBe('reply');
    // The bucket is empty: a new channel is refused.
    expect((await call(c, { op: 'subscribe', channel: 'market:new-0' })).code).toBe('RATE_LIMITED');
    for (let i = 0; i < 5; i++) {
      c.close();
      c = cleanup.closable(await openNative(s, t));
      const answers = await Promise.all(channels.map((ch) => call(c, { op: 'subscribe', channel: ch })));
      expect(answers.map((a) => a.type), `reconnect ${i + 1}`).toEqual(channels.map(() => 'reply'));
      // Still no room for new channels; a refused one is not remembered as held.
      const over = await call(c, { op: 'subscribe', channel: 'market:new-0' });
      expect(over.code).toBe('RATE_LIMITED');
      expect(over.retryAfter).toBeGreaterThan(0);
    }
    // Churn over new channels: giving one up does not make room for another.
    expect((await call(c, { op: 'unsubscribe', channel: 'market:n0' })).type).toBe('reply');
    expect((await call(c, { op: 'subscribe', channel: 'market:new-1' })).code).toBe('RATE_LIMITED');
    // …but the one given up can be taken back.
    expect((await call(c, { op: 'subscribe', channel: 'market:n0' })).type).toBe('reply');
    // A second connection of the same user shares the same memory and the same bucket.
    const d = cleanup.closable(await openNative(s, t));
    expect((await call(d, { op: 'subscribe', channel: 'market:n5' })).type).toBe('reply');
    expect((await call(d, { op: 'subscribe', channel: 'market:new-2' })).code).toBe('RATE_LIMITED');
    // Another user's channels are new for this one.
    const e = cleanup.closable(await openNative(s, await tokenFor('other', null)));
    for (const ch of channels) expect((await call(e, { op: 'subscribe', channel: ch })).type).toBe('reply');
    expect((await call(e, { op: 'subscribe', channel: 'market:other' })).code).toBe('RATE_LIMITED');
  });
});

describe('property on a real server (native protocol, one identity per run)', () => {
  it('subscribe / unsubscribe / reconnect: refused only for a new channel with no token left; a reconnect always gets its set back', async () => {
    // 4 a minute: one token per 15 s, so a run (well under that) sees no refill.
    const SPM = 4;
    const s = cleanup.server(await startTestServer({ auth: 'jwt', env: { SUBSCRIBE_RATE_PER_MINUTE: String(SPM), MAX_SUBSCRIPTIONS_PER_CLIENT: '100', MESSAGES_PER_SECOND: '0' } }));
    const pool = ['market:p0', 'market:p1', 'market:p2', 'market:p3', 'market:p4', 'market:p5', 'market:p6'];
    type Op = { op: 'subscribe'; channel: string } | { op: 'unsubscribe'; channel: string } | { op: 'reconnect' };
    const op: fc.Arbitrary<Op> = fc.oneof(
      { weight: 5, arbitrary: fc.constantFrom(...pool).map((channel) => ({ op: 'subscribe' as const, channel })) },
      { weight: 2, arbitrary: fc.constantFrom(...pool).map((channel) => ({ op: 'unsubscribe' as const, channel })) },
      { weight: 2, arbitrary: fc.constant({ op: 'reconnect' as const }) },
    );
    let run = 0;
    await fc.assert(
      fc.asyncProperty(fc.array(op, { maxLength: 25 }), async (ops) => {
        const t = await tokenFor(`prop-${run++}`, null);
        const started = Date.now();
        let c = await openNative(s, t);
        const held = new Set<string>();
        const ever = new Set<string>();
        let tokens = SPM;
        try {
          for (const o of ops) {
            if (o.op === 'unsubscribe') {
              const r = await call(c, { op: 'unsubscribe', channel: o.channel });
              expect(r.type === 'reply').toBe(held.delete(o.channel));
            } else if (o.op === 'reconnect') {
              c.close();
              c = await openNative(s, t);
              const answers = await Promise.all([...held].map((channel) => call(c, { op: 'subscribe', channel })));
              expect(answers.map((a) => a.code ?? a.type)).toEqual([...held].map(() => 'reply'));
            } else {
              const r = await call(c, { op: 'subscribe', channel: o.channel });
              const free = held.has(o.channel) || ever.has(o.channel);
              const refill = Date.now() - started >= 14_000;
              if (free || tokens >= 1) {
                expect(r.type, `${o.channel} (free: ${free}, tokens: ${tokens})`).toBe('reply');
                if (!free) tokens--;
              } else if (!refill) {
                expect(r.code, o.channel).toBe('RATE_LIMITED');
              }
              if (r.type === 'reply') {
                held.add(o.channel);
                ever.add(o.channel);
              }
            }
          }
          // Never more new channels than the limit.
          expect(ever.size).toBeLessThanOrEqual(SPM);
        } finally {
          c.close();
        }
      }),
      { numRuns: 25 },
    );
  }, 120_000);
});

describe('seed 001 /analytics: sets of contentIds', () => {
  async function content(s: TestServer, token: string): Promise<WsCollector> {
    const c = cleanup.closable(await WsCollector.open(`${s.wsUrl}/analytics?token=${token}`));
    await c.nextOfType('connected');
    return c;
  }
  const answer = (c: WsCollector, contentIds: string[]) => c.request({ type: 'subscribe', contentIds }, (m) => m.type === 'subscribed' || m.type === 'error');
  const ids = (n: number, p = 'c') => Array.from({ length: n }, (_, i) => `${p}${i}`);

  /** Which of `all` this connection gets updates for. */
  async function delivered(s: TestServer, c: WsCollector, all: string[]): Promise<string[]> {
    const from = c.mark();
    await s.hub.ingest(
      all.map((id) => ({ channel: `content:${id}`, type: 'content_view', data: {} })),
      { wait: 'durable' },
    );
    await c.request({ type: 'ping' }, (m) => m.type === 'pong');
    // Updates for a set are sent before the pong to a later ping.
    await new Promise((r) => setTimeout(r, 50));
    return [...new Set(c.all((m) => m.type === 'analytics_update', from).map((m) => m.contentId as string))].sort();
  }

  it('switching back and forth between pages is charged once per contentId, not per change', async () => {
    const s = cleanup.server(await startTestServer({ auth: 'jwt' }));
    const c = await content(s, await tokenFor('pager', null));
    const a = ['a1', 'a2', 'a3'];
    const b = ['b1', 'b2', 'b3'];
    for (let i = 0; i < 8; i++) expect((await answer(c, i % 2 ? b : a)).type, `change ${i}`).toBe('subscribed');
    expect(await delivered(s, c, [...a, ...b])).toEqual(b);
    expect(await limitedCount(s)).toBe(0);
  });

  it('a set the limit refuses leaves the previous set whole (charged all or nothing)', async () => {
    const s = cleanup.server(await startTestServer({ auth: 'jwt' }));
    const c = await content(s, await tokenFor('setter', null));
    const first = ids(10);
    expect((await answer(c, first)).type).toBe('subscribed');
    // Half of it plus one new content: the bucket is empty, so the change is refused…
    const next = [...first.slice(0, 5), 'fresh'];
    const e = await answer(c, next);
    expect(e).toMatchObject({ type: 'error', code: 'RATE_LIMITED' });
    expect(e.retryAfter).toBeGreaterThan(0);
    // …and the previous set is still the one delivered (not its first half plus nothing).
    expect(await delivered(s, c, [...first, 'fresh'])).toEqual([...first].sort());
    // Part of the set and back again: nothing new, nothing charged.
    expect((await answer(c, first.slice(0, 5))).type).toBe('subscribed');
    expect((await answer(c, first)).type).toBe('subscribed');
    expect(await delivered(s, c, [...first, 'fresh'])).toEqual([...first].sort());
  });

  it('reconnecting 5 times with 10 contentIds resubscribes the whole set every time', async () => {
    const s = cleanup.server(await startTestServer({ auth: 'jwt' }));
    const token = await tokenFor('reconnector', null);
    const set = ids(10, 'r');
    for (let i = 0; i < 6; i++) {
      const c = await content(s, token);
      expect((await answer(c, set)).type, `connection ${i}`).toBe('subscribed');
      if (i === 5) expect(await delivered(s, c, set)).toEqual([...set].sort());
      c.close();
    }
    expect(await limitedCount(s)).toBe(0);
  });
});

/** The guard against a model, on an explicit clock. */
describe('the guard charges only channels not held within the window', () => {
  const cfg = (spm: number) => ({ SUBSCRIBE_RATE_PER_MINUTE: spm, MESSAGES_PER_SECOND: 0, MESSAGE_BURST: 1, MAX_CONNECTIONS_PER_IP: 0, INGEST_RATE_PER_SECOND: 0, INGEST_BURST: 1 });
  const user = (id: string): Principal => ({ userId: id, address: null, role: 'user', orgId: null, authenticated: true, devBypass: false, expiresAt: null });

  /** Token buckets on the test's clock; records what each take cost. */
  class ClockLimiter implements Limiter {
    readonly kind = 'clock';
    readonly charges: number[] = [];
    private buckets = new Map<string, TokenBucket>();
    constructor(private clock: { now: number }) {}
    async take(rule: RateRule, key: string, cost = 1) {
      this.charges.push(cost);
      let b = this.buckets.get(key);
      if (!b) this.buckets.set(key, (b = new TokenBucket(rule.capacity, rule.perSecond, this.clock.now)));
      return b.take(cost, this.clock.now);
    }
    async close() {}
  }

  function setup(spm: number, opts: { heldPerIdentity?: number; heldTotal?: number } = {}) {
    const clock = { now: 1_000_000 };
    const limiter = new ClockLimiter(clock);
    const limited: string[] = [];
    const counter = { inc: (l: { limit: string }) => limited.push(l.limit) } as unknown as Counter<'limit'>;
    const guard = new Guard(cfg(spm), counter, limiter, { ...opts, now: () => clock.now });
    cleanup.add(guard, (g) => g.close());
    return { clock, limiter, guard, limited };
  }

  /** A connection of `p`: what subscribe.ts and hub.ts do around the guard. */
  class Conn {
    subs = new Map<string, HeldSubscription>();
    constructor(
      private guard: Guard,
      private p: Principal,
    ) {}
    /** Subscribe to a set (all or nothing, as seed 001 does); true when admitted. */
    async subscribe(channels: string[]): Promise<boolean> {
      try {
        await this.guard.admitSubscribe(
          this.p,
          channels.filter((c) => !this.subs.has(c)),
        );
      } catch {
        return false;
      }
      for (const c of channels) {
        const old = this.subs.get(c);
        if (old) this.guard.released(old);
        const sub = { target: c, system: false, session: { principal: this.p } };
        this.subs.set(c, sub);
        this.guard.held(sub);
      }
      return true;
    }
    unsubscribe(c: string): void {
      const sub = this.subs.get(c);
      if (!sub) return;
      this.subs.delete(c);
      this.guard.released(sub);
    }
    close(): string[] {
      const held = [...this.subs.keys()];
      for (const sub of this.subs.values()) this.guard.released(sub);
      this.subs.clear();
      return held;
    }
  }

  type Op =
    | { op: 'subscribe'; channels: string[] }
    | { op: 'unsubscribe'; channel: string }
    | { op: 'reconnect' }
    | { op: 'wait'; ms: number };

  const CHANNELS = ['market:a', 'market:b', 'market:c', 'market:d', 'market:e', 'market:f', 'market:g', 'market:h'];
  const opArb: fc.Arbitrary<Op> = fc.oneof(
    { weight: 4, arbitrary: fc.uniqueArray(fc.constantFrom(...CHANNELS), { minLength: 1, maxLength: 3 }).map((channels) => ({ op: 'subscribe' as const, channels })) },
    { weight: 2, arbitrary: fc.constantFrom(...CHANNELS).map((channel) => ({ op: 'unsubscribe' as const, channel })) },
    { weight: 2, arbitrary: fc.constant({ op: 'reconnect' as const }) },
    { weight: 2, arbitrary: fc.integer({ min: 0, max: 45_000 }).map((ms) => ({ op: 'wait' as const, ms })) },
  );

  it('property: subscribe / unsubscribe / reconnect / wait for one identity', async () => {
    const SPM = 4;
    const WINDOW = 60_000;
    await fc.assert(
      fc.asyncProperty(fc.array(opArb, { maxLength: 40 }), async (ops) => {
        const { clock, limiter, guard } = setup(SPM);
        const p = user('prop');
        let conn = new Conn(guard, p);
        // Model: per channel, held now on the connection, or when it was last released.
        const heldNow = new Set<string>();
        const releasedAt = new Map<string, number>();
        let tokens = SPM;
        let tokensAt = clock.now;
        const admittedNew: Array<{ at: number; n: number }> = [];
        const recent = (c: string) => heldNow.has(c) || (releasedAt.has(c) && clock.now - releasedAt.get(c)! <= WINDOW);
        for (const o of ops) {
          if (o.op === 'wait') {
            clock.now += o.ms;
            continue;
          }
          if (o.op === 'unsubscribe') {
            if (heldNow.delete(o.channel)) releasedAt.set(o.channel, clock.now);
            conn.unsubscribe(o.channel);
            continue;
          }
          let channels: string[];
          if (o.op === 'reconnect') {
            channels = conn.close();
            for (const c of channels) {
              heldNow.delete(c);
              releasedAt.set(c, clock.now);
            }
            conn = new Conn(guard, p);
          } else {
            channels = o.channels;
          }
          const fresh = channels.filter((c) => !recent(c));
          const charged = limiter.charges.length;
          const ok = await conn.subscribe(channels);
          // Charged exactly for the channels not held within the window, in one take (or none).
          expect(limiter.charges.slice(charged)).toEqual(fresh.length ? [fresh.length] : []);
          // The model's bucket.
          tokens = Math.min(SPM, tokens + ((clock.now - tokensAt) * (SPM / 60)) / 1000); // as TokenBucket computes it
          tokensAt = clock.now;
          const allowed = fresh.length === 0 || tokens >= fresh.length;
          expect(ok).toBe(allowed);
          if (o.op === 'reconnect') expect(fresh).toEqual([]);
          if (ok) {
            if (fresh.length) {
              tokens -= fresh.length;
              admittedNew.push({ at: clock.now, n: fresh.length });
            }
            for (const c of channels) heldNow.add(c);
          }
        }
        // Never more new channels than the limit allows over any stretch of time.
        for (let i = 0; i < admittedNew.length; i++) {
          let sum = 0;
          for (let j = i; j < admittedNew.length; j++) {
            sum += admittedNew[j].n;
            expect(sum).toBeLessThanOrEqual(SPM + ((admittedNew[j].at - admittedNew[i].at) * SPM) / 60_000 + 1e-9);
          }
        }
        await guard.close();
      }),
      { numRuns: 300 },
    );
  });

  it('memory is bounded per identity and in total, swept after the window, and nothing is kept for anonymous principals', async () => {
    const { clock, guard } = setup(10, { heldPerIdentity: 16, heldTotal: 100 });
    const recent = guard.recent!;
    // SKIP_AUTH's shared anonymous principal is not charged, so nothing is remembered for it.
    const anon = new Conn(guard, ANONYMOUS_DEV);
    for (let i = 0; i < 50; i++) expect(await anon.subscribe([`market:anon${i}`])).toBe(true);
    expect(recent.size()).toBe(0);
    // One identity holding more channels than its share keeps only the last ones; nothing breaks.
    const many = new Conn(guard, user('many'));
    for (let i = 0; i < 40; i++) {
      clock.now += 6_000; // one token a refill
      expect(await many.subscribe([`market:m${i}`])).toBe(true);
    }
    expect(recent.size()).toBeLessThanOrEqual(16);
    // Many identities: the total stays bounded.
    for (let u = 0; u < 50; u++) {
      const c = new Conn(guard, user(`u${u}`));
      expect(await c.subscribe(['market:x', 'market:y', 'market:z'])).toBe(true);
      expect(recent.size()).toBeLessThanOrEqual(100);
    }
    // Released entries are forgotten a window after their release; held ones are not.
    const keep = new Conn(guard, user('keeper'));
    expect(await keep.subscribe(['market:kept'])).toBe(true);
    many.close();
    clock.now += 60_001;
    recent.sweep(clock.now);
    expect(recent.identities()).toBeLessThanOrEqual(50 + 1);
    expect(recent.has('user:keeper', 'market:kept', clock.now)).toBe(true);
    expect(recent.has('user:many', 'market:m39', clock.now)).toBe(false);
  });

  it('more new channels at once than the per-minute limit is refused with LIMIT_EXCEEDED, and nothing is charged', async () => {
    const { limiter, guard, limited } = setup(3);
    await expect(guard.admitSubscribe(user('big'), ['a:1', 'a:2', 'a:3', 'a:4'])).rejects.toMatchObject({ code: 'LIMIT_EXCEEDED' });
    expect(limiter.charges).toEqual([]);
    expect(limited).toEqual(['subscribe_rate']);
    await expect(guard.admitSubscribe(user('big'), ['a:1', 'a:2', 'a:3'])).resolves.toBeUndefined();
  });
});
