/**
 * `entity`: things that change status (transactions, auctions). Each entity counts once, in
 * the status of its latest event by event time (ties: the later accepted), so a transaction
 * that goes pending → completed moves from one count to the other, and its amount moves into
 * the revenue buckets of the completing event's time.
 *
 * `tally`: counters that events add to and that some events set outright (seed 001's
 * `analytics_update` carries the new value).
 */
import type { EntityValue, Granularity, MetricValue } from '@pulse/protocol';
import type { MetricDef } from './config.js';
import { accessor, compileWhere, toKey, toNum, type Accessor, type Matcher } from './access.js';
import { Buckets, round, Stateful, type Env, type Tick } from './state.js';

interface EntityRec {
  status: string;
  ts: number;
  amount: number;
  /** Granularities the amount was added to (bucketStatus only). */
  mask: number;
}
interface EntityState {
  items: Map<string, EntityRec>;
  counts: Map<string, number>;
  sums: Map<string, number>;
  buckets: Buckets | null;
}

export class Entity extends Stateful<EntityState> {
  private readonly key: Accessor;
  private readonly status: Accessor;
  private readonly amount: Accessor | null;
  private readonly statusMap: Record<string, string> | null;
  private readonly bucketStatus: string | null;
  private readonly gs: readonly Granularity[];
  constructor(name: string, index: number, def: Extract<MetricDef, { kind: 'entity' }>, env: Env) {
    super(name, index, def, env);
    this.key = accessor(def.key);
    this.status = accessor(def.status);
    this.amount = def.amount ? accessor(def.amount) : null;
    this.statusMap = def.statusMap ?? null;
    this.bucketStatus = def.bucketStatus ?? null;
    this.gs = def.bucketStatus ? (def.buckets ?? []) : [];
  }
  create(): EntityState {
    return { items: new Map(), counts: new Map(), sums: new Map(), buckets: this.gs.length ? new Buckets(this.gs, this.env.clock) : null };
  }
  /** Fields are read once per event, then applied to the global and the scope state. */
  update(global: EntityState, scoped: EntityState | undefined, t: Tick): void {
    const key = toKey(this.key(t.e));
    if (key === undefined) return;
    let status = toKey(this.status(t.e));
    if (status === undefined) return;
    if (this.statusMap) status = this.statusMap[status] ?? status;
    const given = this.amount ? toNum(this.amount(t.e)) : undefined;
    this.put(global, t, key, status, given);
    if (scoped !== undefined) this.put(scoped, t, key, status, given);
  }
  private put(s: EntityState, t: Tick, key: string, status: string, given: number | undefined): void {
    const prev = s.items.get(key);
    if (prev && t.ts < prev.ts) return; // an older event: the entity's latest status stands
    // An event without an amount keeps the entity's known amount (e.g. a bare status update).
    const amount = given ?? prev?.amount ?? 0;
    if (prev) {
      s.counts.set(prev.status, s.counts.get(prev.status)! - 1);
      s.sums.set(prev.status, s.sums.get(prev.status)! - prev.amount);
      if (prev.mask) s.buckets!.retract(prev.ts, prev.mask, prev.amount);
    }
    s.counts.set(status, (s.counts.get(status) ?? 0) + 1);
    s.sums.set(status, (s.sums.get(status) ?? 0) + amount);
    let mask = 0;
    if (s.buckets && status === this.bucketStatus && !t.tooLate) mask = s.buckets.add(t.ts, t.wm, amount);
    if (prev) {
      prev.status = status;
      prev.ts = t.ts;
      prev.amount = amount;
      prev.mask = mask;
    } else s.items.set(key, { status, ts: t.ts, amount, mask });
  }
  dump(s: EntityState): unknown {
    const items: Array<[string, string, number, number, number]> = [];
    for (const [k, r] of s.items) items.push([k, r.status, r.ts, r.amount, r.mask]);
    return { i: items, c: [...s.counts], s: [...s.sums], b: s.buckets?.dump() ?? null };
  }
  load(d: { i: Array<[string, string, number, number, number]>; c: Array<[string, number]>; s: Array<[string, number]>; b: Array<Array<[number, number]>> | null }): EntityState {
    const s = this.create();
    for (const [k, status, ts, amount, mask] of d.i) s.items.set(k, { status, ts, amount, mask });
    s.counts = new Map(d.c);
    s.sums = new Map(d.s);
    if (s.buckets && d.b) s.buckets.load(d.b);
    return s;
  }
  value(s: EntityState): EntityValue {
    const byStatus: Record<string, number> = {};
    const sumByStatus: Record<string, number> = {};
    for (const [k, v] of s.counts) if (v !== 0) byStatus[k] = v;
    for (const [k, v] of s.sums) if (s.counts.get(k)) sumByStatus[k] = round(v);
    return { total: s.items.size, byStatus, sumByStatus };
  }
  granularities(): readonly Granularity[] {
    return this.gs;
  }
  bucketValue(s: EntityState, g: Granularity, idx: number): number {
    return round(s.buckets?.map(g)?.get(idx) ?? 0);
  }
}

// ---------------------------------------------------------------------------------------------

interface Rule {
  match: Matcher | null;
  types: Set<string> | null;
  add: number | Accessor | null;
  addDefault: number | undefined;
  set: Accessor | null;
}
interface TallyState {
  value: number;
  byKey: Map<string, number> | null;
}

export class Tally extends Stateful<TallyState> {
  private readonly rules: Rule[];
  private readonly by: Accessor | null;
  /** Result of the last `compute`: the new value minus the old. */
  private delta = 0;
  private deltaKey: string | undefined = undefined;
  constructor(name: string, index: number, def: Extract<MetricDef, { kind: 'tally' }>, env: Env) {
    super(name, index, def, env);
    this.by = def.by ? accessor(def.by) : null;
    this.rules = def.rules.map((r) => ({
      match: compileWhere(r.where, true),
      types: r.where?.types ? new Set(r.where.types) : null,
      add: r.add === undefined ? null : typeof r.add === 'number' ? r.add : accessor(r.add),
      addDefault: r.addDefault,
      set: r.set ? accessor(r.set) : null,
    }));
    // Index by the union of the rules' types, unless a rule takes every type.
    const all = def.rules.every((r) => r.where?.types);
    (this as { types: string[] | null }).types = all ? [...new Set(def.rules.flatMap((r) => r.where!.types!))] : null;
  }
  create(): TallyState {
    return { value: 0, byKey: this.by ? new Map() : null };
  }
  /** The scope holds the counter; the global value is the sum of the scopes (deltas), since a `set` is per counter. */
  update(global: TallyState, scoped: TallyState | undefined, t: Tick): void {
    if (scoped === undefined) {
      this.apply(global, t);
      return;
    }
    this.apply(scoped, t);
    if (this.delta === 0) return;
    if (global.byKey) global.byKey.set(this.deltaKey!, (global.byKey.get(this.deltaKey!) ?? 0) + this.delta);
    else global.value += this.delta;
  }
  private apply(s: TallyState, t: Tick): void {
    this.delta = 0;
    const e = t.e;
    for (const r of this.rules) {
      if (r.types && !r.types.has(e.type)) continue;
      if (r.match && !r.match(e)) continue;
      let key: string | undefined;
      if (s.byKey) {
        key = toKey(this.by!(e));
        if (key === undefined) return;
      }
      const old = key === undefined ? s.value : (s.byKey!.get(key) ?? 0);
      let next = old;
      const setTo = r.set ? toNum(r.set(e)) : undefined;
      if (setTo !== undefined) next = setTo;
      else if (r.add !== null) {
        const a = typeof r.add === 'number' ? r.add : (toNum(r.add(e)) ?? r.addDefault);
        if (a !== undefined) next = old + a;
      }
      if (key === undefined) s.value = next;
      else s.byKey!.set(key, next);
      this.delta = next - old;
      this.deltaKey = key;
      return; // first matching rule wins
    }
  }
  dump(s: TallyState): unknown {
    return { v: s.value, k: s.byKey ? [...s.byKey] : null };
  }
  load(d: { v: number; k: Array<[string, number]> | null }): TallyState {
    const s = this.create();
    s.value = d.v;
    if (s.byKey && d.k) for (const [k, v] of d.k) s.byKey.set(k, v);
    return s;
  }
  value(s: TallyState): MetricValue {
    if (!s.byKey) return round(s.value);
    const out: Record<string, number> = {};
    for (const [k, v] of s.byKey) out[k] = round(v);
    return out;
  }
}
