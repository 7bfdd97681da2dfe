/**
 * Snapshot values: stateful metrics read their state, derived metrics are computed from other
 * metrics of the same scope, memoised per snapshot.
 */
import type { MetricScalar, MetricValue, TopEntry } from '@pulse/protocol';
import type { SetRuntime, DerivedDef } from './compile.js';
import { DistinctMetric, round, topEntries } from './state.js';
import { parseDuration, type Clock } from './time.js';

function num(v: MetricValue | undefined): number | undefined {
  return typeof v === 'number' ? v : undefined;
}
function isRecord(v: MetricValue | undefined): v is Record<string, MetricScalar> {
  return v !== null && typeof v === 'object' && !Array.isArray(v) && !('byStatus' in v);
}

export class ValueReader {
  private readonly memo = new Map<string, MetricValue>();
  constructor(
    private readonly rt: SetRuntime,
    private readonly states: unknown[],
    private readonly scope: string | null,
    private readonly now: number,
    private readonly clock: Clock,
  ) {}

  /** Whether a metric appears in this snapshot (per-scope kinds are left out of a scoped set's global one, and vice versa). */
  included(name: string): boolean {
    const d = this.rt.derived.get(name);
    if (!d) return true;
    if (d.kind === 'topScopes') return this.scope === null;
    if ((d.kind === 'score' || d.kind === 'tier' || d.kind === 'threshold') && this.rt.def.scope) return this.scope !== null;
    return true;
  }

  get(name: string): MetricValue {
    const hit = this.memo.get(name);
    if (hit !== undefined) return hit;
    const st = this.rt.byName.get(name);
    const v = st ? st.value(this.states[st.index], this.now) : this.derive(this.rt.derived.get(name)!);
    this.memo.set(name, v);
    return v;
  }

  all(): Record<string, MetricValue> {
    const out: Record<string, MetricValue> = {};
    for (const n of this.rt.names) if (this.included(n)) out[n] = this.get(n);
    return out;
  }

  private derive(d: DerivedDef): MetricValue {
    switch (d.kind) {
      case 'ratio':
        return ratio(this.get(d.numerator), this.get(d.denominator), d.scale ?? 1, d.digits ?? 4);
      case 'period': {
        const m = this.rt.byName.get(d.metric)!;
        const [from, to] = this.clock.periodDays(d.period, this.now);
        return m.rangeValue(this.states[m.index], '1d', from, to);
      }
      case 'peak': {
        const m = this.rt.byName.get(d.metric) as DistinctMetric;
        return m.peak(this.states[m.index] as Parameters<DistinctMetric['peak']>[0], this.now, parseDuration(d.over)!);
      }
      case 'score': {
        let scalar = 0;
        let rec: Record<string, number> | null = null;
        for (const [m, w] of Object.entries(d.weights)) {
          const v = this.get(m);
          if (isRecord(v)) {
            rec ??= {};
            for (const [k, x] of Object.entries(v)) if (typeof x === 'number') rec[k] = (rec[k] ?? 0) + w * x;
          } else scalar += w * (num(v) ?? 0);
        }
        if (!rec) return round(scalar, 4);
        for (const k of Object.keys(rec)) rec[k] = round(rec[k], 4);
        return rec;
      }
      case 'tier': {
        const tiers = Object.entries(d.tiers).sort((a, b) => b[1] - a[1]);
        const tierOf = (x: number): string => tiers.find(([, min]) => x >= min)?.[0] ?? d.below ?? 'none';
        return mapScalar(this.get(d.metric), tierOf);
      }
      case 'pick': {
        // Entity paths are two-level (`byStatus.completed`); a dimension key may itself contain dots.
        const v = this.get(d.metric);
        if (v === null || typeof v !== 'object' || Array.isArray(v)) return 0;
        const rec = v as unknown as Record<string, unknown>;
        if (d.path in rec) return num(rec[d.path] as MetricValue) ?? 0;
        const dot = d.path.indexOf('.');
        const inner = dot > 0 ? rec[d.path.slice(0, dot)] : undefined;
        const x = inner && typeof inner === 'object' ? (inner as Record<string, unknown>)[d.path.slice(dot + 1)] : undefined;
        return typeof x === 'number' ? x : 0;
      }
      case 'threshold':
        return mapScalar(this.get(d.metric), (x) => x >= d.min);
      case 'topScopes': {
        const entries: Array<[string, number]> = [];
        for (const [key, states] of this.rt.scopes) {
          const v = num(new ValueReader(this.rt, states, key, this.now, this.clock).get(d.metric));
          if (v !== undefined) entries.push([key, v]);
        }
        return topEntries(entries, d.k ?? 10, d.min ?? -Infinity);
      }
    }
  }
}

function mapScalar(v: MetricValue, f: (x: number) => MetricScalar): MetricValue {
  if (typeof v === 'number') return f(v);
  if (isRecord(v)) {
    const out: Record<string, MetricScalar> = {};
    for (const [k, x] of Object.entries(v)) out[k] = typeof x === 'number' ? f(x) : null;
    return out;
  }
  return null;
}

/** a / b × scale, rounded; null when b is 0 or missing. Per key when both are dimensioned. */
export function ratio(a: MetricValue, b: MetricValue, scale: number, digits: number): MetricValue {
  const one = (x: unknown, y: unknown): number | null =>
    typeof x === 'number' && typeof y === 'number' && y !== 0 ? round((x / y) * scale, digits) : null;
  if (isRecord(a) || isRecord(b)) {
    // A scalar side applies to every key (amount per order of each key).
    const at = (v: MetricValue, k: string): unknown => (isRecord(v) ? (v[k] ?? 0) : v);
    const keys = new Set([...(isRecord(a) ? Object.keys(a) : []), ...(isRecord(b) ? Object.keys(b) : [])]);
    const out: Record<string, number | null> = {};
    for (const k of keys) out[k] = one(at(a, k), at(b, k));
    return out;
  }
  return one(a, b);
}

/** Numeric entries of a value, for ranking. */
export function rankable(v: MetricValue): Array<[string, number]> | null {
  if (Array.isArray(v)) return (v as TopEntry[]).map((e) => [e.key, e.value]);
  if (isRecord(v)) {
    const out: Array<[string, number]> = [];
    for (const [k, x] of Object.entries(v)) if (typeof x === 'number') out.push([k, x]);
    return out;
  }
  return null;
}
