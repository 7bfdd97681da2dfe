/**
 * The metric engine: an `EventSink` that folds every committed event into the declared sets,
 * answers snapshot / series / leaderboard queries, and pushes coalesced snapshots.
 *
 * Event time: `ts` is clamped to now + maxFuture; the watermark is the highest `ts` seen; an
 * event older than watermark − lateness still counts in totals but stays out of time buckets
 * and windows. State depends only on the events and their order, never on the wall clock, so
 * replaying the stored log rebuilds it exactly; the clock only enters when values are read
 * ("today", the last 5 minutes).
 */
import { createHash } from 'node:crypto';
import {
  PulseError,
  isValidChannel,
  metricsChannel,
  METRICS_SNAPSHOT_TYPE,
  type Granularity,
  type Leaderboard,
  type LeaderboardQuery,
  type MetricSeries,
  type MetricSnapshot,
  type PulseEvent,
  type SeriesQuery,
} from '@pulse/protocol';
import type { EventSink } from '../ports.js';
import type { MetricsFile } from './config.js';
import { builtinSets } from './builtin.js';
import { SetRuntime } from './compile.js';
import { DistinctMetric, topEntries, type Env, type Tick } from './state.js';
import { toKey } from './access.js';
import { Clock, GRANULARITY_MS, HOUR, MINUTE, parseDuration, RETENTION } from './time.js';
import { rankable, ValueReader } from './values.js';

export type Publish = (channel: string, type: string, data: unknown) => void;

/** Bump when a state's meaning or dump format changes: older checkpoints are then ignored. */
export const CHECKPOINT_VERSION = 1;

/** How long one slice of a push tick may run before the event loop gets a turn. */
const PUSH_SLICE_MS = 4;

export interface EngineDump {
  v: number;
  hash: string;
  wm: number | null;
  arrival: number;
  applied: number;
  lateDropped: number;
  heads: Array<[string, string, number]>;
  sets: Record<string, { g: unknown[]; s: Array<[string, unknown[]]> }>;
}

export interface EngineOptions {
  definitions?: MetricsFile;
  timeZone?: string;
  pushMs?: number;
  now?: () => number;
  publish?: Publish;
}

export class MetricsEngine implements EventSink {
  readonly clock: Clock;
  readonly lateness: number;
  readonly maxFuture: number;
  readonly pushMs: number;
  private readonly now: () => number;
  private readonly publish: Publish | undefined;
  private readonly sets = new Map<string, SetRuntime>();
  /** The same, as an array: the per-event loop must not allocate an iterator. */
  private setList: SetRuntime[] = [];
  private readonly tick: Tick;
  private watermark = -Infinity;
  private arrival = 0;
  private timer: NodeJS.Timeout | null = null;
  private readonly lastPushed = new Map<string, string>();
  /** Per channel, the last applied position: tells a replay which stored events are already in. */
  private heads = new Map<string, { epoch: string; offset: number }>();
  /** Identifies the definitions a checkpoint was taken under (any change forces a full replay). */
  readonly defsHash: string;
  /** Events applied since start or reset (a health figure, and the bench's sanity check). */
  applied = 0;
  /** Events that arrived later than the allowed lateness (kept out of buckets). */
  lateDropped = 0;

  constructor(opts: EngineOptions = {}) {
    const defs = opts.definitions ?? {};
    const tz = opts.timeZone ?? defs.timezone ?? 'UTC';
    try {
      this.clock = new Clock(tz);
    } catch {
      throw new PulseError('INVALID_REQUEST', `Invalid metrics config: unknown time zone "${tz}" (METRICS_TZ)`);
    }
    this.lateness = defs.lateness ? parseDuration(defs.lateness)! : HOUR;
    this.maxFuture = defs.maxFuture ? parseDuration(defs.maxFuture)! : MINUTE;
    this.pushMs = opts.pushMs ?? defs.pushMs ?? 1000;
    this.now = opts.now ?? Date.now;
    this.publish = opts.publish;
    const env: Env = { clock: this.clock, lateness: this.lateness };
    const builtins = builtinSets(defs.content);
    for (const [name, def] of Object.entries(builtins)) if (defs.builtins?.[name] !== false) this.sets.set(name, new SetRuntime(name, def, env));
    for (const [name, def] of Object.entries(defs.sets ?? {})) {
      if (builtins[name] && defs.builtins?.[name] !== false) {
        throw new PulseError('INVALID_REQUEST', `Invalid metrics config: set "${name}" is built in (turn it off with builtins.${name}: false to redefine it)`);
      }
      this.sets.set(name, new SetRuntime(name, def, env));
    }
    this.tick = { e: null as unknown as PulseEvent, ts: 0, arrival: 0, wm: 0, tooLate: false };
    this.setList = [...this.sets.values()];
    const setDefs = [...this.sets.values()].map((r) => [r.name, r.def]);
    this.defsHash = createHash('sha256')
      .update(JSON.stringify({ v: CHECKPOINT_VERSION, tz, lateness: this.lateness, maxFuture: this.maxFuture, setDefs }))
      .digest('hex')
      .slice(0, 32);
  }

  /** Whether a stored event is already folded in (same epoch, offset at or below the channel's head). */
  isApplied(e: PulseEvent, heads: ReadonlyMap<string, { epoch: string; offset: number }> = this.heads): boolean {
    const h = heads.get(e.channel);
    return h !== undefined && h.epoch === e.epoch && e.offset <= h.offset;
  }

  /** The whole state in JSON-safe form (synchronous, so it is one consistent instant). */
  dump(): EngineDump {
    const sets: EngineDump['sets'] = {};
    for (const rt of this.sets.values()) {
      const scopes: Array<[string, unknown[]]> = [];
      for (const [k, st] of rt.scopes) scopes.push([k, rt.stateful.map((m) => m.dump(st[m.index]))]);
      sets[rt.name] = { g: rt.stateful.map((m) => m.dump(rt.global[m.index])), s: scopes };
    }
    const heads: EngineDump['heads'] = [];
    for (const [ch, h] of this.heads) heads.push([ch, h.epoch, h.offset]);
    return {
      v: CHECKPOINT_VERSION,
      hash: this.defsHash,
      wm: Number.isFinite(this.watermark) ? this.watermark : null,
      arrival: this.arrival,
      applied: this.applied,
      lateDropped: this.lateDropped,
      heads,
      sets,
    };
  }

  /** Restore a dump taken under the same definitions; false (state untouched) otherwise. */
  load(d: EngineDump): boolean {
    if (d.v !== CHECKPOINT_VERSION || d.hash !== this.defsHash) return false;
    this.reset();
    for (const rt of this.sets.values()) {
      const sd = d.sets[rt.name];
      if (!sd) continue;
      rt.global = rt.stateful.map((m) => m.load(sd.g[m.index]));
      for (const [k, st] of sd.s) rt.scopes.set(k, rt.stateful.map((m) => m.load(st[m.index])));
    }
    this.watermark = d.wm ?? -Infinity;
    this.arrival = d.arrival;
    this.applied = d.applied;
    this.lateDropped = d.lateDropped;
    for (const [ch, epoch, offset] of d.heads) this.heads.set(ch, { epoch, offset });
    return true;
  }

  setNames(): string[] {
    return [...this.sets.keys()];
  }

  /** Forget all state (before a rebuild). */
  reset(): void {
    for (const s of this.sets.values()) s.reset();
    this.watermark = -Infinity;
    this.arrival = 0;
    this.applied = 0;
    this.lateDropped = 0;
    this.lastPushed.clear();
    this.heads = new Map();
  }

  onEvents(events: readonly PulseEvent[]): void {
    // One clock read per batch: the cap only needs to be as fresh as the batch.
    const cap = this.now() + this.maxFuture;
    for (let i = 0; i < events.length; i++) this.apply(events[i], cap);
  }

  apply(e: PulseEvent, cap = this.now() + this.maxFuture): void {
    const t = this.tick;
    const ts = e.ts > cap ? cap : e.ts;
    if (ts > this.watermark) this.watermark = ts;
    t.e = e;
    t.ts = ts;
    t.wm = this.watermark;
    t.arrival = ++this.arrival;
    t.tooLate = ts < this.watermark - this.lateness;
    if (t.tooLate) this.lateDropped++;
    this.applied++;
    const h = this.heads.get(e.channel);
    if (h !== undefined && h.epoch === e.epoch) h.offset = e.offset;
    else this.heads.set(e.channel, { epoch: e.epoch, offset: e.offset });
    const sets = this.setList;
    for (let si = 0; si < sets.length; si++) {
      const set = sets[si];
      if (set.where !== null && !set.where(e)) continue;
      let scopeKey: string | undefined;
      let scoped: unknown[] | undefined;
      if (set.scopeGet !== null) {
        scopeKey = toKey(set.scopeGet(e));
        if (scopeKey !== undefined) scoped = set.scopeStates(scopeKey);
      }
      let touched = false;
      const typed = set.byType.get(e.type);
      if (typed !== undefined) {
        for (let j = 0; j < typed.length; j++) {
          const m = typed[j];
          if (m.where !== null && !m.where(e)) continue;
          m.update(set.global[m.index], scoped === undefined ? undefined : scoped[m.index], t);
          touched = true;
        }
      }
      const any = set.anyType;
      for (let j = 0; j < any.length; j++) {
        const m = any[j];
        if (m.where !== null && !m.where(e)) continue;
        m.update(set.global[m.index], scoped === undefined ? undefined : scoped[m.index], t);
        touched = true;
      }
      if (touched) {
        set.dirtyGlobal = true;
        if (scopeKey !== undefined) set.dirtyScopes.add(scopeKey);
      }
    }
  }

  private runtime(set: string): SetRuntime {
    const rt = this.sets.get(set);
    if (!rt) throw new PulseError('NOT_FOUND', `Unknown metric set "${set}"`);
    return rt;
  }

  private states(rt: SetRuntime, scope: string | null | undefined): unknown[] {
    if (!scope) return rt.global;
    if (!rt.scopeGet) throw new PulseError('INVALID_REQUEST', `Metric set "${rt.name}" has no scopes`);
    // A scope with no events yet reads as zeros (a dashboard may open before the first event).
    return rt.scopes.get(scope) ?? rt.stateful.map((m) => m.create());
  }

  snapshot(set: string, scope?: string | null, now = this.now()): MetricSnapshot {
    const rt = this.runtime(set);
    const values = new ValueReader(rt, this.states(rt, scope), scope || null, now, this.clock).all();
    return { set, scope: scope || null, ts: now, watermark: Number.isFinite(this.watermark) ? this.watermark : null, values };
  }

  /** One metric's value (the lead's gateways and the 003 mapping read single values). */
  value(set: string, metric: string, scope?: string | null, now = this.now()): ReturnType<ValueReader['get']> {
    const rt = this.runtime(set);
    if (!rt.byName.has(metric) && !rt.derived.has(metric)) throw new PulseError('NOT_FOUND', `Unknown metric "${set}.${metric}"`);
    return new ValueReader(rt, this.states(rt, scope), scope || null, now, this.clock).get(metric);
  }

  series(q: SeriesQuery, now = this.now()): MetricSeries {
    const rt = this.runtime(q.set);
    const m = rt.byName.get(q.metric);
    if (!m) throw new PulseError('NOT_FOUND', `Unknown metric "${q.set}.${q.metric}"`);
    const gs = m.granularities();
    if (gs.length === 0) throw new PulseError('INVALID_REQUEST', `Metric "${q.set}.${q.metric}" keeps no time buckets`);
    let g: Granularity | undefined = q.granularity;
    let windowMs: number | undefined;
    if (q.window === 'hour') {
      windowMs = HOUR;
      g ??= '1m';
    } else if (q.window === 'day') {
      windowMs = 24 * HOUR;
      g ??= '1h';
    } else if (q.window) windowMs = parseDuration(q.window)!;
    const maxPoints = q.maxPoints ?? 1000;
    if (!g) {
      // The finest kept granularity that fits the window in maxPoints.
      g = windowMs === undefined ? gs[0] : gs.find((x) => windowMs! / GRANULARITY_MS[x] <= maxPoints);
      if (!g) throw new PulseError('INVALID_REQUEST', `window ${q.window} needs more than ${maxPoints} points at every kept granularity`);
    }
    if (!gs.includes(g)) throw new PulseError('INVALID_REQUEST', `Metric "${q.set}.${q.metric}" keeps ${gs.join(', ')} buckets, not ${g}`);
    const gms = GRANULARITY_MS[g];
    const n = Math.ceil((windowMs ?? 60 * gms) / gms);
    if (n > maxPoints || n > RETENTION[g]) throw new PulseError('INVALID_REQUEST', `window needs ${n} points; at most ${Math.min(maxPoints, RETENTION[g])} at ${g}`);
    const to = q.to ?? now;
    const last = this.clock.bucket(to, g);
    const horizon = Number.isFinite(this.watermark) ? this.clock.bucket(this.watermark, g) - RETENTION[g] : -Infinity;
    const st = this.states(rt, q.scope)[m.index];
    const points = [];
    for (let idx = last - n + 1; idx <= last; idx++) {
      points.push({ t: this.clock.bucketStart(idx, g), v: idx > horizon ? m.bucketValue(st, g, idx) : 0 });
    }
    return {
      set: q.set,
      metric: q.metric,
      scope: q.scope ?? null,
      granularity: g,
      from: points[0].t,
      to: this.clock.bucketStart(last + 1, g),
      points,
    };
  }

  leaderboard(q: LeaderboardQuery, now = this.now()): Leaderboard {
    const rt = this.runtime(q.set);
    if (!rt.byName.has(q.metric) && !rt.derived.has(q.metric)) throw new PulseError('NOT_FOUND', `Unknown metric "${q.set}.${q.metric}"`);
    const limit = q.limit ?? 10;
    const asc = q.order === 'asc';
    const reader = new ValueReader(rt, this.states(rt, q.scope), q.scope ?? null, now, this.clock);
    const own = reader.included(q.metric) ? rankable(reader.get(q.metric)) : null;
    let entries: Array<[string, number]>;
    let rankedBy: string;
    if (own) {
      entries = own;
      const def = rt.def.metrics[q.metric];
      rankedBy = 'by' in def && def.by ? String(def.by) : 'field' in def && def.field ? String(def.field) : 'key';
    } else if (rt.scopeGet && !q.scope) {
      // A scalar metric of a scoped set: rank the scopes (contents by views, markets by volume).
      entries = [];
      for (const [key, states] of rt.scopes) {
        const v = new ValueReader(rt, states, key, now, this.clock).get(q.metric);
        if (typeof v === 'number') entries.push([key, v]);
      }
      rankedBy = 'scope';
    } else throw new PulseError('INVALID_REQUEST', `Metric "${q.set}.${q.metric}" has no keys to rank`);
    const top = topEntries(entries, limit, -Infinity, asc);
    return { set: q.set, metric: q.metric, scope: q.scope ?? null, rankedBy, entries: top.map((e, i) => ({ rank: i + 1, ...e })) };
  }

  /**
   * Start coalesced pushes: every `pushMs`, the snapshots whose values changed. A tick's pushes
   * run in slices of at most PUSH_SLICE_MS with the event loop's other work (ingest, commits,
   * delivery) between them: a scoped set can hold thousands of scopes, and computing all their
   * snapshots in one go would hold every event behind it.
   */
  start(): void {
    if (this.timer || !this.publish) return;
    this.timer = setInterval(() => this.startPush(), this.pushMs);
    this.timer.unref();
  }

  /** Push changed snapshots now, in one go; returns how many were published. */
  flush(now = this.now()): number {
    if (!this.publish) return 0;
    const work = this.takeDirty(now);
    let n = 0;
    for (let i = 0; i < work.length; i++) n += this.pushIfChanged(work[i][0], work[i][1], now);
    return n;
  }

  /**
   * What a push tick must look at: every set's global snapshot when it changed (or depends on
   * the clock), and its dirty scopes. Taking them clears the dirty marks, so events applied
   * while a sliced push is under way mark their scopes again for the next tick.
   */
  private takeDirty(now: number): Array<[SetRuntime, string | null]> {
    const work: Array<[SetRuntime, string | null]> = [];
    for (const rt of this.sets.values()) {
      for (const m of rt.stateful) {
        if (!(m instanceof DistinctMetric) || !m.window) continue;
        type S = Parameters<DistinctMetric['prune']>[0];
        m.prune(rt.global[m.index] as S, now, this.watermark);
        for (const states of rt.scopes.values()) m.prune(states[m.index] as S, now, this.watermark);
      }
      if (rt.dirtyGlobal || rt.timeDependent) {
        rt.dirtyGlobal = false;
        work.push([rt, null]);
      }
      for (const scope of rt.dirtyScopes) work.push([rt, scope]);
      rt.dirtyScopes.clear();
    }
    return work;
  }

  /**
   * The next slice of a push tick under way, or null. While one is pending the next tick starts
   * no other; close() cancels it.
   */
  private nextSlice: NodeJS.Immediate | null = null;

  private startPush(): void {
    if (this.nextSlice !== null) return;
    const now = this.now();
    const work = this.takeDirty(now);
    let i = 0;
    const slice = (): void => {
      this.nextSlice = null;
      const until = performance.now() + PUSH_SLICE_MS;
      while (i < work.length) {
        this.pushIfChanged(work[i][0], work[i][1], now);
        if ((++i & 15) === 0 && performance.now() >= until) break;
      }
      // No timer: closed by a publish of this slice.
      if (i < work.length && this.timer !== null) this.nextSlice = setImmediate(slice);
    };
    slice();
  }

  private pushIfChanged(rt: SetRuntime, scope: string | null, now: number): number {
    const channel = metricsChannel(rt.name, scope);
    if (!isValidChannel(channel)) return 0; // scope keys that cannot name a channel are queryable but not pushed
    const snap = this.snapshot(rt.name, scope, now);
    const key = JSON.stringify(snap.values);
    if (this.lastPushed.get(channel) === key) return 0;
    this.lastPushed.set(channel, key);
    try {
      this.publish!(channel, METRICS_SNAPSHOT_TYPE, snap);
    } catch {
      this.publishErrors++;
    }
    return 1;
  }

  /** Publish failures (fire-and-forget: counted, never thrown into the ingest path). */
  publishErrors = 0;

  /** Stop pushing, also in the middle of a tick (what it had left is not pushed). */
  close(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    if (this.nextSlice !== null) clearImmediate(this.nextSlice);
    this.nextSlice = null;
  }
}
