/**
 * Property: for random event streams (duplicates removed as the hub does, out-of-order, late
 * beyond the allowed lateness, timestamps in the future), every exact metric equals a
 * brute-force recomputation written independently here; HyperLogLog ones are within 2 %.
 * Bad metric definitions always fail with a coded error.
 */
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import type { PulseEvent } from '@pulse/protocol';
import { MetricsEngine, platformSnapshot, parseMetricsFile, HyperLogLog, type MetricsFile } from '../src/metrics/index.js';

const NOW = Date.UTC(2026, 10, 25, 0, 30, 0); // half an hour into a UTC day: late events cross midnight
const S = 1000;
const M = 60 * S;
const H = 60 * M;
const D = 24 * H;
const LATENESS = H;
const MAX_FUTURE = M;
const RET: Record<string, number> = { '1s': 600, '1m': 1500, '1h': 768, '1d': 800 };
const GMS: Record<string, number> = { '1s': S, '1m': M, '1h': H, '1d': D };

const DEFS: MetricsFile = {
  builtins: { campaign: false, content: false, marketplace: false, markets: false },
  sets: {
    p: {
      scope: 'channelId',
      metrics: {
        n: { kind: 'count', buckets: ['1s', '1m', '1h', '1d'] },
        orders: { kind: 'count', where: { types: ['order'] }, by: 'data.key', buckets: ['1m'] },
        amount: { kind: 'sum', field: 'data.amount', where: { types: ['order'] }, buckets: ['1m', '1h'] },
        users: { kind: 'distinct', field: 'userId' },
        active: { kind: 'distinct', field: 'userId', window: '5m', buckets: ['1m', '1d'] },
        activePeak: { kind: 'peak', metric: 'active', over: '2h' },
        activeToday: { kind: 'period', metric: 'active', period: 'today' },
        top: { kind: 'topk', field: 'data.key', k: 3 },
        last: { kind: 'last', field: 'data.amount', where: { types: ['order'] } },
        lastBy: { kind: 'last', field: 'data.amount', by: 'data.key' },
        tx: { kind: 'entity', where: { types: ['transaction'] }, key: 'data.tx', status: 'data.status', amount: 'data.amount', bucketStatus: 'completed', buckets: ['1m', '1d'] },
        views: { kind: 'tally', rules: [{ where: { types: ['view'] }, add: 1 }, { where: { types: ['analytics_update'] }, set: 'data.value', add: 'data.increment' }] },
        perOrder: { kind: 'ratio', numerator: 'amount', denominator: 'orders', digits: 3 },
      },
    },
  },
};

interface Raw {
  id: number;
  type: 'order' | 'view' | 'transaction' | 'analytics_update' | 'other';
  ch: number;
  dt: number; // seconds relative to NOW
  user: number | null;
  amount: number | null;
  key: number;
  tx: number;
  status: 'pending' | 'completed' | 'failed';
  value: number | null;
}

const rawArb: fc.Arbitrary<Raw> = fc.record({
  id: fc.integer({ min: 0, max: 400 }), // small range: duplicates are frequent
  type: fc.constantFrom('order', 'view', 'transaction', 'analytics_update', 'other'),
  ch: fc.integer({ min: 0, max: 2 }),
  // equal timestamps (ties go to the later event), mostly the last 10 minutes, some up to 3 h old (beyond the lateness), some minutes in the future
  dt: fc.oneof({ weight: 2, arbitrary: fc.integer({ min: -3, max: 0 }) }, { weight: 6, arbitrary: fc.integer({ min: -600, max: 0 }) }, { weight: 2, arbitrary: fc.integer({ min: -3 * 3600, max: 0 }) }, { weight: 1, arbitrary: fc.integer({ min: 0, max: 600 }) }),
  user: fc.option(fc.integer({ min: 0, max: 25 }), { nil: null }),
  amount: fc.option(fc.integer({ min: 0, max: 1000 }), { nil: null, freq: 5 }),
  key: fc.integer({ min: 0, max: 5 }),
  tx: fc.integer({ min: 0, max: 8 }),
  status: fc.constantFrom('pending', 'completed', 'failed'),
  value: fc.option(fc.integer({ min: 0, max: 500 }), { nil: null }),
});

function toEvents(raws: Raw[]): PulseEvent[] {
  const seen = new Set<number>();
  const out: PulseEvent[] = [];
  for (const r of raws) {
    if (seen.has(r.id)) continue; // the hub removes duplicates before sinks see them
    seen.add(r.id);
    const data: Record<string, unknown> = { key: `k${r.key}`, tx: `t${r.tx}`, transactionId: `t${r.tx}`, status: r.status };
    if (r.amount !== null) data.amount = r.type === 'transaction' && r.amount % 2 ? String(r.amount) : r.amount;
    if (r.type === 'analytics_update') {
      data.field = 'views';
      data.increment = 1 + (r.key % 3);
      if (r.value !== null) data.value = r.value;
    }
    out.push({
      id: `e${r.id}`,
      channel: `c:${r.ch}`,
      type: r.type === 'transaction' ? 'transaction' : r.type,
      ts: NOW + r.dt * S,
      data,
      offset: out.length + 1,
      epoch: 'e',
      ...(r.user !== null ? { userId: `u${r.user}` } : {}),
    });
  }
  return out;
}

// ------------------------------------------------------------------ brute force, independent of the engine

interface Seen {
  e: PulseEvent;
  ts: number;
  wm: number;
  tooLate: boolean;
}
function replay(events: PulseEvent[]): Seen[] {
  let wm = -Infinity;
  return events.map((e) => {
    const ts = Math.min(e.ts, NOW + MAX_FUTURE);
    wm = Math.max(wm, ts);
    return { e, ts, wm, tooLate: ts < wm - LATENESS };
  });
}
const idx = (ts: number, g: string) => Math.floor(ts / GMS[g]);
const lands = (s: Seen, g: string) => !s.tooLate && idx(s.ts, g) > idx(s.wm, g) - RET[g];
const num = (v: unknown) => (typeof v === 'number' ? v : typeof v === 'string' ? Number(v) : undefined);

function bruteSeries(seen: Seen[], g: string, n: number, weight: (s: Seen) => number | undefined): number[] {
  const wmFinal = seen.length ? seen[seen.length - 1].wm : -Infinity;
  const last = idx(NOW, g);
  const out: number[] = [];
  for (let b = last - n + 1; b <= last; b++) {
    let v = 0;
    if (b > idx(wmFinal, g) - RET[g]) for (const s of seen) if (lands(s, g) && idx(s.ts, g) === b) v += weight(s) ?? 0;
    out.push(v);
  }
  return out;
}

function bruteEntity(seen: Seen[]) {
  const recs = new Map<string, { status: string; ts: number; amount: number; landed: Set<string> }>();
  for (const s of seen) {
    if (s.e.type !== 'transaction') continue;
    const k = s.e.data.tx as string;
    const cur = recs.get(k);
    if (cur && s.ts < cur.ts) continue;
    const amount = num(s.e.data.amount) ?? cur?.amount ?? 0;
    const status = s.e.data.status as string;
    const landed = new Set(status === 'completed' ? ['1m', '1d'].filter((g) => lands(s, g)) : []);
    recs.set(k, { status, ts: s.ts, amount, landed });
  }
  const byStatus: Record<string, number> = {};
  const sumByStatus: Record<string, number> = {};
  for (const r of recs.values()) {
    byStatus[r.status] = (byStatus[r.status] ?? 0) + 1;
    sumByStatus[r.status] = (sumByStatus[r.status] ?? 0) + r.amount;
  }
  return { value: { total: recs.size, byStatus, sumByStatus }, recs };
}

function bruteActive(seen: Seen[]) {
  const lastSeen = new Map<string, number>();
  const minute = new Map<number, Set<string>>();
  const day = new Map<number, Set<string>>();
  for (const s of seen) {
    const u = s.e.userId;
    if (!u || s.tooLate) continue;
    lastSeen.set(u, Math.max(lastSeen.get(u) ?? -Infinity, s.ts));
    if (lands(s, '1m')) minute.set(idx(s.ts, '1m'), (minute.get(idx(s.ts, '1m')) ?? new Set()).add(u));
    if (lands(s, '1d')) day.set(idx(s.ts, '1d'), (day.get(idx(s.ts, '1d')) ?? new Set()).add(u));
  }
  const current = [...lastSeen.values()].filter((t) => t > NOW - 5 * M).length;
  let peak = current;
  const nowMin = idx(NOW, '1m');
  for (let m = nowMin - 120 + 1; m <= nowMin; m++) {
    const u = new Set<string>();
    for (let j = m - 4; j <= m; j++) for (const x of minute.get(j) ?? []) u.add(x);
    peak = Math.max(peak, u.size);
  }
  return { current, peak, today: day.get(idx(NOW, '1d'))?.size ?? 0 };
}

function bruteTally(seen: Seen[]): Map<string, number> {
  const v = new Map<string, number>();
  for (const { e } of seen) {
    const old = v.get(e.channel) ?? 0;
    if (e.type === 'view') v.set(e.channel, old + 1);
    else if (e.type === 'analytics_update') v.set(e.channel, typeof e.data.value === 'number' ? e.data.value : old + (e.data.increment as number));
  }
  return v;
}

function bruteScope(all: Seen[], scope: string | null) {
  const seen = scope === null ? all : all.filter((s) => s.e.channel === `c:${scope}`);
  const orders = seen.filter((s) => s.e.type === 'order');
  const byKey: Record<string, number> = {};
  for (const s of orders) byKey[s.e.data.key as string] = (byKey[s.e.data.key as string] ?? 0) + 1;
  const amount = orders.reduce((a, s) => a + (num(s.e.data.amount) ?? 0), 0);
  const keyCounts = new Map<string, number>();
  for (const s of seen) keyCounts.set(s.e.data.key as string, (keyCounts.get(s.e.data.key as string) ?? 0) + 1);
  const top = [...keyCounts].sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : 1)).slice(0, 3).map(([key, value]) => ({ key, value }));
  let last: { ts: number; v: number } | null = null;
  for (const s of orders) {
    const v = num(s.e.data.amount);
    if (v !== undefined && (!last || s.ts >= last.ts)) last = { ts: s.ts, v };
  }
  const lastBy: Record<string, { ts: number; v: number }> = {};
  for (const s of seen) {
    const v = num(s.e.data.amount);
    const k = s.e.data.key as string;
    if (v !== undefined && (!lastBy[k] || s.ts >= lastBy[k].ts)) lastBy[k] = { ts: s.ts, v };
  }
  const tally = bruteTally(seen);
  const active = bruteActive(seen);
  const perKeyRatio: Record<string, number | null> = {};
  const amountByKey: Record<string, number> = {};
  for (const k of Object.keys(byKey)) perKeyRatio[k] = null;
  return {
    values: {
      n: seen.length,
      orders: byKey,
      amount,
      users: new Set(seen.map((s) => s.e.userId).filter(Boolean)).size,
      active: active.current,
      activePeak: active.peak,
      activeToday: active.today,
      top,
      last: last ? last.v : null,
      lastBy: Object.fromEntries(Object.entries(lastBy).map(([k, x]) => [k, x.v])),
      tx: bruteEntity(seen).value,
      views: [...tally.values()].reduce((a, b) => a + b, 0),
    },
    seen,
    unused: { perKeyRatio, amountByKey },
  };
}

describe('metric engine equals brute force', () => {
  it('on random streams with duplicates, late, out-of-order and future events', () => {
    fc.assert(
      fc.property(fc.array(rawArb, { maxLength: 250, size: 'max' }), (raws) => {
        const events = toEvents(raws);
        const engine = new MetricsEngine({ now: () => NOW, definitions: parseMetricsFile(DEFS) });
        // Feed in batches and read in between: reads (and their caches) must not change the outcome.
        for (let i = 0; i < events.length; i += 40) {
          engine.onEvents(events.slice(i, i + 40));
          engine.snapshot('p');
          engine.snapshot('p', '1');
        }
        const seen = replay(events);
        for (const scope of [null, '0', '1', '2']) {
          const want = bruteScope(seen, scope);
          const got = engine.snapshot('p', scope).values;
          const { perOrder, ...rest } = got;
          expect(rest).toEqual(want.values);
          // ratio: amount / orders (orders is per key, so per key; amount is scalar → each key gets amount / count)
          const orders = want.values.orders;
          expect(perOrder).toEqual(Object.fromEntries(Object.keys(orders).map((k) => [k, Math.round((want.values.amount / orders[k]) * 1000) / 1000])));
          // series of every kept granularity, 60 points ending now
          const sc = scope ?? undefined;
          for (const g of ['1s', '1m', '1h', '1d'] as const) {
            const s = engine.series({ set: 'p', metric: 'n', scope: sc, granularity: g, window: `${60 * (GMS[g] / S)}s` });
            expect(s.points.map((p) => p.v)).toEqual(bruteSeries(want.seen, g, 60, () => 1));
          }
          for (const g of ['1m', '1h'] as const) {
            const s = engine.series({ set: 'p', metric: 'amount', scope: sc, granularity: g, window: `${60 * (GMS[g] / S)}s` });
            expect(s.points.map((p) => p.v)).toEqual(bruteSeries(want.seen.filter((x) => x.e.type === 'order'), g, 60, (x) => num(x.e.data.amount)));
          }
          const { recs } = bruteEntity(want.seen);
          for (const g of ['1m', '1d'] as const) {
            const s = engine.series({ set: 'p', metric: 'tx', scope: sc, granularity: g, window: `${60 * (GMS[g] / S)}s` });
            const wmFinal = seen.length ? seen[seen.length - 1].wm : -Infinity;
            const last = idx(NOW, g);
            const wantPts: number[] = [];
            for (let b = last - 59; b <= last; b++) {
              let v = 0;
              if (b > idx(wmFinal, g) - RET[g]) for (const r of recs.values()) if (r.status === 'completed' && r.landed.has(g) && idx(r.ts, g) === b) v += r.amount;
              wantPts.push(v);
            }
            expect(s.points.map((p) => p.v)).toEqual(wantPts);
          }
        }
      }),
      { numRuns: 150 },
    );
  }, 120_000); // a few seconds here; generous for a loaded CI machine

  it('peak of the sliding distinct equals brute force when late events revise closed minutes', () => {
    const defs: MetricsFile = { sets: { q: { metrics: { active: { kind: 'distinct', field: 'userId', window: '5m', buckets: ['1m'] }, peak: { kind: 'peak', metric: 'active', over: '2h' } } } } };
    const ev = fc.record({ id: fc.integer({ min: 0, max: 10_000 }), dt: fc.integer({ min: -7200, max: 0 }), user: fc.integer({ min: 0, max: 40 }) });
    fc.assert(
      fc.property(fc.array(ev, { maxLength: 300, size: 'max' }), fc.integer({ min: 1, max: 50 }), (raws, batch) => {
        const events = toEvents(raws.map((r) => ({ id: r.id, type: 'other', ch: 0, dt: r.dt, user: r.user, amount: null, key: 0, tx: 0, status: 'pending', value: null })));
        const engine = new MetricsEngine({ now: () => NOW, definitions: defs });
        for (let i = 0; i < events.length; i += batch) {
          engine.onEvents(events.slice(i, i + batch));
          engine.snapshot('q'); // fills the per-minute cache that later late events must invalidate
        }
        expect(engine.snapshot('q').values.peak).toBe(bruteActive(replay(events)).peak);
      }),
      { numRuns: 100 },
    );
  });

  it('the built-in platform set matches brute force on transaction streams', () => {
    fc.assert(
      fc.property(fc.array(rawArb, { maxLength: 200, size: 'max' }), (raws) => {
        const events = toEvents(raws);
        const engine = new MetricsEngine({ now: () => NOW });
        engine.onEvents(events);
        const seen = replay(events);
        const { value, recs } = bruteEntity(seen);
        const p = platformSnapshot(engine);
        const active = bruteActive(seen);
        const views = seen.filter((s) => s.e.type === 'content_view').length;
        expect(p.transactions).toEqual({ total: value.total, pending: value.byStatus.pending ?? 0, completed: value.byStatus.completed ?? 0, failed: value.byStatus.failed ?? 0 });
        expect(p.revenue.total).toBe(value.sumByStatus.completed ?? 0);
        let today = 0;
        for (const r of recs.values()) if (r.status === 'completed' && r.landed.has('1d') && idx(r.ts, '1d') === idx(NOW, '1d')) today += r.amount;
        expect(p.revenue.today).toBe(today);
        expect(p.activeUsers.current).toBe(active.current);
        expect(p.activeUsers.today).toBe(active.today);
        expect(p.content.totalViews).toBe(views);
      }),
      { numRuns: 100 },
    );
  });

  it('HyperLogLog distinct counts are within 2 % beyond the exact bound', () => {
    const defs: MetricsFile = { sets: { h: { metrics: { d: { kind: 'distinct', field: 'data.k', exactLimit: 1000, precision: 16 } } } } };
    fc.assert(
      fc.property(fc.integer({ min: 2000, max: 150_000 }), fc.integer({ min: 0, max: 1e9 }), fc.integer({ min: 1, max: 3 }), (n, salt, repeats) => {
        const engine = new MetricsEngine({ now: () => NOW, definitions: defs });
        const e: PulseEvent = { id: 'x', channel: 'h:1', type: 't', ts: NOW, data: { k: '' }, offset: 1, epoch: 'e' };
        for (let r = 0; r < repeats; r++) for (let i = 0; i < n; i++) {
          e.data = { k: `${salt}-${i}` };
          engine.apply(e);
        }
        const v = engine.snapshot('h').values.d as number;
        expect(Math.abs(v - n) / n).toBeLessThan(0.02);
      }),
      { numRuns: 12 },
    );
  });

  it('HyperLogLog at the default precision 14 stays near its 0.81 % standard error on average', () => {
    let sq = 0;
    const runs = 20;
    for (let r = 0; r < runs; r++) {
      const h = new HyperLogLog(14);
      const n = 5000 + r * 7919;
      for (let i = 0; i < n; i++) h.add(`r${r}:${i}`);
      sq += ((h.count() - n) / n) ** 2;
    }
    expect(Math.sqrt(sq / runs)).toBeLessThan(0.015);
  });
});

describe('metric definitions', () => {
  it('reject anything malformed with a coded error, never another exception', () => {
    const anyJson = fc.anything({ maxDepth: 4, withObjectString: true, withNullPrototype: false });
    const metricLike = fc.record(
      {
        kind: fc.constantFrom('count', 'sum', 'distinct', 'topk', 'ratio', 'period', 'peak', 'entity', 'tally', 'pick', 'nope'),
        field: fc.oneof(fc.constantFrom('data.x', 'userId', 'nonsense path', 'data.'), anyJson),
        where: fc.oneof(fc.constant(undefined), fc.record({ types: fc.array(fc.string()) }), anyJson),
        buckets: fc.oneof(fc.constant(['1m']), fc.array(fc.string(), { maxLength: 3 })),
        window: fc.oneof(fc.constant('5m'), fc.string()),
        metric: fc.constantFrom('a', 'b', 'missing'),
        numerator: fc.constantFrom('a', 'b'),
        denominator: fc.constantFrom('a', 'b', 'c'),
      },
      { requiredKeys: ['kind'] },
    );
    const fileLike = fc.oneof(
      anyJson,
      fc.record({ timezone: fc.oneof(fc.constant('UTC'), fc.string()), sets: fc.dictionary(fc.string({ maxLength: 8 }), fc.record({ metrics: fc.dictionary(fc.constantFrom('a', 'b', 'c', 'bad name'), metricLike) })) }, { requiredKeys: [] }),
    );
    fc.assert(
      fc.property(fileLike, (input) => {
        try {
          new MetricsEngine({ definitions: parseMetricsFile(input) });
        } catch (e) {
          expect(e).toMatchObject({ name: 'PulseError', code: 'INVALID_REQUEST' });
        }
      }),
      { numRuns: 400 },
    );
  });

  it('names the problem', () => {
    const bad = (defs: unknown) => () => new MetricsEngine({ definitions: parseMetricsFile(defs) });
    expect(bad({ sets: { s: { metrics: { r: { kind: 'ratio', numerator: 'x', denominator: 'y' } } } } })).toThrow(/sets\.s\.metrics\.r: refers to unknown metric "x"/);
    expect(bad({ sets: { s: { metrics: { a: { kind: 'ratio', numerator: 'b', denominator: 'b' }, b: { kind: 'ratio', numerator: 'a', denominator: 'a' } } } } })).toThrow(/reference cycle/);
    expect(bad({ sets: { s: { metrics: { c: { kind: 'count' }, p: { kind: 'period', metric: 'c', period: 'today' } } } } })).toThrow(/1d buckets/);
    expect(bad({ sets: { s: { metrics: { c: { kind: 'count', buckets: ['2m'] } } } } })).toThrow(/sets\.s\.metrics\.c\.buckets/);
    expect(bad({ sets: { platform: { metrics: {} } } })).toThrow(/built in/);
    expect(bad({ lateness: 'soon' })).toThrow(/lateness/);
  });
});
