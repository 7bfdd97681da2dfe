/**
 * Stateful metric kinds: count, sum, distinct, topk, last, entity, tally. Each keeps one state
 * per scope plus a global one; `update` is the per-event hot path (no closures, no JSON).
 */
import type { Granularity, MetricValue, EntityValue, TopEntry, PulseEvent, MetricScalar } from '@pulse/protocol';
import type { MetricDef } from './config.js';
import { accessor, compileWhere, toKey, toNum, type Accessor, type Matcher } from './access.js';
import { Distinct, type DistinctDump } from './hll.js';
import { RETENTION, MINUTE, parseDuration, type Clock } from './time.js';

/** The event being applied. One object, reused for every event. */
export interface Tick {
  e: PulseEvent;
  /** Event time after clamping. */
  ts: number;
  /** Acceptance order (ties of equal `ts` go to the later event). */
  arrival: number;
  /** Highest event time seen, this event included. */
  wm: number;
  /** ts < wm − lateness: counted in totals, kept out of buckets and windows. */
  tooLate: boolean;
}

export interface Env {
  clock: Clock;
  lateness: number;
}

/** Round sums for output so that add/retract sequences do not show float residue. */
export function round(x: number, digits = 8): number {
  const f = 10 ** digits;
  return Math.round(x * f) / f;
}

/** Time buckets of an additive quantity, one map per granularity. */
export class Buckets {
  readonly maps: Map<number, number>[];
  /** Per granularity, precomputed so the per-event loop does arithmetic only. */
  private readonly retention: number[];
  constructor(
    readonly gs: readonly Granularity[],
    private readonly clock: Clock,
  ) {
    this.maps = gs.map(() => new Map());
    this.retention = gs.map((g) => RETENTION[g]);
  }
  /** Adds where the bucket is within retention of the watermark; returns the mask of granularities it landed in. */
  add(ts: number, wm: number, delta: number): number {
    let mask = 0;
    const gs = this.gs;
    for (let i = 0; i < gs.length; i++) {
      const g = gs[i];
      const idx = this.clock.bucket(ts, g);
      const horizon = this.clock.bucket(wm, g) - this.retention[i];
      if (idx <= horizon) continue;
      const m = this.maps[i];
      const v = m.get(idx);
      m.set(idx, v === undefined ? delta : v + delta);
      mask |= 1 << i;
      if (m.size > this.retention[i] + 64) for (const k of m.keys()) if (k <= horizon) m.delete(k);
    }
    return mask;
  }
  /** Undo an earlier `add` (entity status changes); buckets already evicted stay gone. */
  retract(ts: number, mask: number, delta: number): void {
    for (let i = 0; i < this.gs.length; i++) {
      if (!(mask & (1 << i))) continue;
      const idx = this.clock.bucket(ts, this.gs[i]);
      const m = this.maps[i];
      const v = m.get(idx);
      if (v !== undefined) m.set(idx, v - delta);
    }
  }
  dump(): Array<Array<[number, number]>> {
    return this.maps.map((m) => [...m]);
  }
  load(d: Array<Array<[number, number]>>): this {
    d.forEach((entries, i) => {
      for (const [k, v] of entries) this.maps[i].set(k, v);
    });
    return this;
  }
  map(g: Granularity): Map<number, number> | undefined {
    const i = this.gs.indexOf(g);
    return i < 0 ? undefined : this.maps[i];
  }
}

export abstract class Stateful<S = unknown> {
  readonly types: string[] | null;
  readonly where: Matcher | null;
  constructor(
    readonly name: string,
    readonly index: number,
    readonly def: MetricDef,
    protected readonly env: Env,
  ) {
    const w = 'where' in def ? def.where : undefined;
    this.types = w?.types ?? null;
    this.where = compileWhere(w, true);
  }
  abstract create(): S;
  /**
   * Apply to the global state and, when the set is scoped, the event's scope state. Kinds read
   * the event's fields once here and apply them to both.
   */
  abstract update(global: S, scoped: S | undefined, t: Tick): void;
  abstract value(s: S, now: number): MetricValue;
  /** Checkpoint form of a state (JSON-safe) and back. */
  abstract dump(s: S): unknown;
  abstract load(d: unknown): S;
  /** Granularities with buckets (series / periods). */
  granularities(): readonly Granularity[] {
    return [];
  }
  /** Value of one bucket (series). */
  bucketValue(_s: S, _g: Granularity, _idx: number): number {
    return 0;
  }
  /** Aggregate over buckets [from, to] of granularity g (periods). */
  rangeValue(s: S, g: Granularity, from: number, to: number): number {
    let v = 0;
    for (let i = from; i <= to; i++) v += this.bucketValue(s, g, i);
    return round(v);
  }
}

// ---------------------------------------------------------------------------------------------

interface AddState {
  total: number;
  byKey: Map<string, number> | null;
  buckets: Buckets | null;
}

/** count and sum. */
export class Additive extends Stateful<AddState> {
  private readonly by: Accessor | null;
  private readonly field: Accessor | null;
  private readonly gs: readonly Granularity[];
  constructor(name: string, index: number, def: Extract<MetricDef, { kind: 'count' | 'sum' }>, env: Env) {
    super(name, index, def, env);
    this.by = def.by ? accessor(def.by) : null;
    this.field = def.kind === 'sum' ? accessor(def.field) : null;
    this.gs = def.buckets ?? [];
  }
  create(): AddState {
    return { total: 0, byKey: this.by ? new Map() : null, buckets: this.gs.length ? new Buckets(this.gs, this.env.clock) : null };
  }
  /** Fields are read and parsed once per event, then applied to the global and the scope state. */
  update(global: AddState, scoped: AddState | undefined, t: Tick): void {
    let d = 1;
    if (this.field) {
      const n = toNum(this.field(t.e));
      if (n === undefined) return;
      d = n;
    }
    let k: string | undefined;
    if (this.by) {
      k = toKey(this.by(t.e));
      if (k === undefined) return;
    }
    this.add(global, t, d, k);
    if (scoped !== undefined) this.add(scoped, t, d, k);
  }
  private add(s: AddState, t: Tick, d: number, k: string | undefined): void {
    if (s.byKey) {
      const v = s.byKey.get(k!);
      s.byKey.set(k!, v === undefined ? d : v + d);
    }
    s.total += d;
    if (s.buckets && !t.tooLate) s.buckets.add(t.ts, t.wm, d);
  }
  value(s: AddState): MetricValue {
    if (!s.byKey) return round(s.total);
    const out: Record<string, number> = {};
    for (const [k, v] of s.byKey) out[k] = round(v);
    return out;
  }
  dump(s: AddState): unknown {
    return { t: s.total, k: s.byKey ? [...s.byKey] : null, b: s.buckets?.dump() ?? null };
  }
  load(d: { t: number; k: Array<[string, number]> | null; b: Array<Array<[number, number]>> | null }): AddState {
    const s = this.create();
    s.total = d.t;
    if (s.byKey && d.k) for (const [k, v] of d.k) s.byKey.set(k, v);
    if (s.buckets && d.b) s.buckets.load(d.b);
    return s;
  }
  granularities(): readonly Granularity[] {
    return this.gs;
  }
  bucketValue(s: AddState, g: Granularity, idx: number): number {
    return round(s.buckets?.map(g)?.get(idx) ?? 0);
  }
}

// ---------------------------------------------------------------------------------------------

interface DistinctState {
  all: Distinct;
  lastSeen: Map<string, number> | null;
  buckets: Map<number, Distinct>[];
  /** peak: distinct count of the window ending at minute m, per m (invalidated by late adds). */
  peakCache: Map<number, number>;
  /** Highest cached minute: adds to later minutes (the live case) need no invalidation. */
  peakMax: number;
}

export class DistinctMetric extends Stateful<DistinctState> {
  private readonly field: Accessor;
  readonly window: number | null;
  private readonly gs: readonly Granularity[];
  readonly exactLimit: number;
  readonly precision: number;
  /** window in minutes, when the minute buckets can serve peaks. */
  private readonly windowMinutes: number;
  constructor(name: string, index: number, def: Extract<MetricDef, { kind: 'distinct' }>, env: Env) {
    super(name, index, def, env);
    this.field = accessor(def.field);
    this.window = def.window ? parseDuration(def.window)! : null;
    this.gs = def.buckets ?? [];
    this.exactLimit = def.exactLimit ?? 10_000;
    this.precision = def.precision ?? 14;
    this.windowMinutes = this.window && this.window % MINUTE === 0 ? this.window / MINUTE : 0;
  }
  create(): DistinctState {
    return {
      all: new Distinct(this.exactLimit, this.precision),
      lastSeen: this.window ? new Map() : null,
      buckets: this.gs.map(() => new Map()),
      peakCache: new Map(),
      peakMax: -Infinity,
    };
  }
  update(global: DistinctState, scoped: DistinctState | undefined, t: Tick): void {
    const k = toKey(this.field(t.e));
    if (k === undefined) return;
    this.addKey(global, t, k);
    if (scoped !== undefined) this.addKey(scoped, t, k);
  }
  private addKey(s: DistinctState, t: Tick, k: string): void {
    s.all.add(k);
    if (t.tooLate) return;
    if (s.lastSeen) {
      const prev = s.lastSeen.get(k);
      if (prev === undefined || t.ts > prev) s.lastSeen.set(k, t.ts);
    }
    const clock = this.env.clock;
    for (let i = 0; i < this.gs.length; i++) {
      const g = this.gs[i];
      const idx = clock.bucket(t.ts, g);
      const horizon = clock.bucket(t.wm, g) - RETENTION[g];
      if (idx <= horizon) continue;
      const m = s.buckets[i];
      let d = m.get(idx);
      if (!d) {
        d = new Distinct(this.exactLimit, this.precision);
        m.set(idx, d);
        if (m.size > RETENTION[g] + 64) for (const key of m.keys()) if (key <= horizon) m.delete(key);
      }
      if (d.add(k) && g === '1m' && idx <= s.peakMax) for (let j = 0; j < this.windowMinutes; j++) s.peakCache.delete(idx + j);
    }
  }
  /** Windowed: distinct values last seen in (now − window, now]; else all-time distinct. */
  value(s: DistinctState, now: number): number {
    if (!s.lastSeen) return s.all.count();
    const from = now - this.window!;
    let n = 0;
    for (const ts of s.lastSeen.values()) if (ts > from) n++;
    return n;
  }
  dump(s: DistinctState): unknown {
    return { a: s.all.dump(), l: s.lastSeen ? [...s.lastSeen] : null, b: s.buckets.map((m) => [...m].map(([k, d]) => [k, d.dump()])) };
  }
  load(d: { a: DistinctDump; l: Array<[string, number]> | null; b: Array<Array<[number, DistinctDump]>> }): DistinctState {
    const s = this.create();
    s.all = Distinct.load(d.a, this.exactLimit, this.precision);
    if (s.lastSeen && d.l) for (const [k, ts] of d.l) s.lastSeen.set(k, ts);
    d.b.forEach((entries, i) => {
      for (const [k, x] of entries) s.buckets[i].set(k, Distinct.load(x, this.exactLimit, this.precision));
    });
    return s;
  }
  /** Drop last-seen entries that can neither count nor be raised again (older than window and lateness). */
  prune(s: DistinctState, now: number, wm: number): void {
    if (!s.lastSeen) return;
    const cut = Math.min(now - this.window!, wm - this.env.lateness);
    for (const [k, ts] of s.lastSeen) if (ts <= cut) s.lastSeen.delete(k);
  }
  granularities(): readonly Granularity[] {
    return this.gs;
  }
  bucketValue(s: DistinctState, g: Granularity, idx: number): number {
    const i = this.gs.indexOf(g);
    return i < 0 ? 0 : (s.buckets[i].get(idx)?.count() ?? 0);
  }
  /** Distinct over a range of buckets: a union, not a sum. */
  rangeValue(s: DistinctState, g: Granularity, from: number, to: number): number {
    const i = this.gs.indexOf(g);
    if (i < 0) return 0;
    const parts: Distinct[] = [];
    for (let b = from; b <= to; b++) {
      const d = s.buckets[i].get(b);
      if (d) parts.push(d);
    }
    if (parts.length === 1) return parts[0].count();
    return Distinct.unionCount(parts, this.exactLimit, this.precision);
  }
  /** Peak of the windowed count over `over` ms: max over minute ends of the window's union, and now. */
  peak(s: DistinctState, now: number, over: number): number {
    let best = this.value(s, now);
    const k = this.windowMinutes;
    if (!k || !this.gs.includes('1m')) return best;
    const nowMin = Math.floor(now / MINUTE);
    const first = nowMin - Math.floor(over / MINUTE) + 1;
    for (const m of s.peakCache.keys()) if (m < first - k) s.peakCache.delete(m);
    for (let m = first; m <= nowMin; m++) {
      let v = s.peakCache.get(m);
      if (v === undefined) {
        v = this.rangeValue(s, '1m', m - k + 1, m);
        // The current minute is still filling; only closed minutes are cached.
        if (m < nowMin) {
          s.peakCache.set(m, v);
          if (m > s.peakMax) s.peakMax = m;
        }
      }
      if (v > best) best = v;
    }
    return best;
  }
}

// ---------------------------------------------------------------------------------------------

export class TopK extends Stateful<Map<string, number>> {
  private readonly field: Accessor;
  private readonly k: number;
  private readonly maxKeys: number;
  constructor(name: string, index: number, def: Extract<MetricDef, { kind: 'topk' }>, env: Env) {
    super(name, index, def, env);
    this.field = accessor(def.field);
    this.k = def.k ?? 10;
    this.maxKeys = def.maxKeys ?? 100_000;
  }
  create(): Map<string, number> {
    return new Map();
  }
  update(global: Map<string, number>, scoped: Map<string, number> | undefined, t: Tick): void {
    const key = toKey(this.field(t.e));
    if (key === undefined) return;
    this.bump(global, key);
    if (scoped !== undefined) this.bump(scoped, key);
  }
  private bump(s: Map<string, number>, key: string): void {
    const n = s.get(key);
    s.set(key, n === undefined ? 1 : n + 1);
    // Past maxKeys, forget the rarest tenth: counts stay exact for keys that stay frequent.
    if (s.size > this.maxKeys) {
      const cut = [...s.values()].sort((a, b) => a - b)[Math.floor(this.maxKeys / 10)];
      for (const [k, v] of s) if (v <= cut) s.delete(k);
    }
  }
  value(s: Map<string, number>): TopEntry[] {
    return topEntries(s, this.k);
  }
  dump(s: Map<string, number>): unknown {
    return [...s];
  }
  load(d: Array<[string, number]>): Map<string, number> {
    return new Map(d);
  }
}

/** The k largest entries, value desc then key asc (deterministic ties). */
export function topEntries(m: Iterable<[string, number]>, k: number, min = -Infinity, asc = false): TopEntry[] {
  const all: TopEntry[] = [];
  for (const [key, value] of m) if (value >= min) all.push({ key, value });
  all.sort((a, b) => (asc ? a.value - b.value : b.value - a.value) || (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
  return all.slice(0, k);
}

// ---------------------------------------------------------------------------------------------

interface LastCell {
  ts: number;
  v: MetricScalar;
}
interface LastState {
  one: LastCell | null;
  byKey: Map<string, LastCell> | null;
}

/** The value of the latest event by event time (ties: the later accepted). */
export class Last extends Stateful<LastState> {
  private readonly field: Accessor;
  private readonly by: Accessor | null;
  constructor(name: string, index: number, def: Extract<MetricDef, { kind: 'last' }>, env: Env) {
    super(name, index, def, env);
    this.field = accessor(def.field);
    this.by = def.by ? accessor(def.by) : null;
  }
  create(): LastState {
    return { one: null, byKey: this.by ? new Map() : null };
  }
  update(global: LastState, scoped: LastState | undefined, t: Tick): void {
    const raw = this.field(t.e);
    const v = toNum(raw) ?? (typeof raw === 'string' ? raw : undefined);
    if (v === undefined) return;
    let k: string | undefined;
    if (this.by) {
      k = toKey(this.by(t.e));
      if (k === undefined) return;
    }
    this.put(global, t, v, k);
    if (scoped !== undefined) this.put(scoped, t, v, k);
  }
  private put(s: LastState, t: Tick, v: MetricScalar, k: string | undefined): void {
    if (s.byKey) {
      const c = s.byKey.get(k!);
      if (!c) s.byKey.set(k!, { ts: t.ts, v });
      else if (t.ts >= c.ts) {
        c.ts = t.ts;
        c.v = v;
      }
    } else if (!s.one) s.one = { ts: t.ts, v };
    else if (t.ts >= s.one.ts) {
      s.one.ts = t.ts;
      s.one.v = v;
    }
  }
  dump(s: LastState): unknown {
    return { o: s.one, k: s.byKey ? [...s.byKey] : null };
  }
  load(d: { o: LastCell | null; k: Array<[string, LastCell]> | null }): LastState {
    const s = this.create();
    s.one = d.o;
    if (s.byKey && d.k) for (const [k, c] of d.k) s.byKey.set(k, c);
    return s;
  }
  value(s: LastState): MetricValue {
    if (!s.byKey) return s.one ? s.one.v : null;
    const out: Record<string, MetricScalar> = {};
    for (const [k, c] of s.byKey) out[k] = c.v;
    return out;
  }
}
