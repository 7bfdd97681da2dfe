/**
 * Turns validated set definitions into runtimes: stateful metrics indexed by event type, and
 * derived metrics (ratio, period, peak, score, tier, threshold, topScopes) checked for
 * references and cycles. A bad reference is a coded config error at startup.
 */
import { PulseError } from '@pulse/protocol';
import type { MetricDef, SetDef } from './config.js';
import { accessor, compileWhere, type Accessor, type Matcher } from './access.js';
import { Additive, DistinctMetric, Last, Stateful, TopK, type Env } from './state.js';
import { Entity, Tally } from './entity.js';

export type DerivedDef = Extract<MetricDef, { kind: 'ratio' | 'period' | 'peak' | 'score' | 'tier' | 'threshold' | 'topScopes' | 'pick' }>;

export class SetRuntime {
  readonly scopeGet: Accessor | null;
  readonly where: Matcher | null;
  readonly stateful: Stateful[] = [];
  readonly byName = new Map<string, Stateful>();
  readonly derived = new Map<string, DerivedDef>();
  readonly byType = new Map<string, Stateful[]>();
  readonly anyType: Stateful[] = [];
  /** Metric names in declaration order (snapshot key order). */
  readonly names: string[];
  /** Values that move with the clock (windows, periods, peaks): pushed even without new events. */
  readonly timeDependent: boolean;
  global: unknown[] = [];
  scopes = new Map<string, unknown[]>();
  dirtyGlobal = false;
  readonly dirtyScopes = new Set<string>();

  constructor(
    readonly name: string,
    readonly def: SetDef,
    env: Env,
  ) {
    this.scopeGet = def.scope ? accessor(def.scope) : null;
    this.where = compileWhere(def.where);
    this.names = Object.keys(def.metrics);
    let timeDependent = false;
    for (const [mname, m] of Object.entries(def.metrics)) {
      const st = makeStateful(mname, this.stateful.length, m, env);
      if (st) {
        this.stateful.push(st);
        this.byName.set(mname, st);
        if (st.types) for (const t of st.types) {
          let list = this.byType.get(t);
          if (!list) this.byType.set(t, (list = []));
          list.push(st);
        }
        else this.anyType.push(st);
        if (st instanceof DistinctMetric && st.window) timeDependent = true;
      } else {
        this.derived.set(mname, m as DerivedDef);
        if (m.kind === 'period' || m.kind === 'peak') timeDependent = true;
      }
    }
    this.timeDependent = timeDependent;
    this.check();
    this.reset();
  }

  reset(): void {
    this.global = this.stateful.map((m) => m.create());
    this.scopes = new Map();
    this.dirtyGlobal = false;
    this.dirtyScopes.clear();
  }

  scopeStates(key: string): unknown[] {
    let s = this.scopes.get(key);
    if (!s) this.scopes.set(key, (s = this.stateful.map((m) => m.create())));
    return s;
  }

  private fail(metric: string, msg: string): never {
    throw new PulseError('INVALID_REQUEST', `Invalid metrics config: sets.${this.name}.metrics.${metric}: ${msg}`);
  }

  private check(): void {
    const refs = (d: DerivedDef): string[] =>
      d.kind === 'ratio' ? [d.numerator, d.denominator] : d.kind === 'score' ? Object.keys(d.weights) : [d.metric];
    for (const [name, d] of this.derived) {
      for (const r of refs(d)) {
        if (!this.byName.has(r) && !this.derived.has(r)) this.fail(name, `refers to unknown metric "${r}"`);
      }
      if (d.kind === 'period') {
        const m = this.byName.get(d.metric);
        if (!m || !m.granularities().includes('1d')) this.fail(name, `period needs "${d.metric}" to be a stateful metric with 1d buckets`);
      }
      if (d.kind === 'peak') {
        const m = this.byName.get(d.metric);
        if (!(m instanceof DistinctMetric) || !m.window || !m.granularities().includes('1m')) {
          this.fail(name, `peak needs "${d.metric}" to be a distinct metric with a window and 1m buckets`);
        }
      }
      if (d.kind === 'topScopes' && !this.def.scope) this.fail(name, 'topScopes needs the set to have a scope');
    }
    // Cycles among derived metrics would recurse forever at snapshot time.
    const state = new Map<string, 1 | 2>();
    const visit = (n: string, path: string[]): void => {
      const d = this.derived.get(n);
      if (!d || state.get(n) === 2) return;
      if (state.get(n) === 1) this.fail(n, `reference cycle ${[...path, n].join(' → ')}`);
      state.set(n, 1);
      for (const r of refs(d)) visit(r, [...path, n]);
      state.set(n, 2);
    };
    for (const n of this.derived.keys()) visit(n, []);
  }
}

function makeStateful(name: string, index: number, m: MetricDef, env: Env): Stateful | null {
  switch (m.kind) {
    case 'count':
    case 'sum':
      return new Additive(name, index, m, env);
    case 'distinct':
      return new DistinctMetric(name, index, m, env);
    case 'topk':
      return new TopK(name, index, m, env);
    case 'last':
      return new Last(name, index, m, env);
    case 'entity':
      return new Entity(name, index, m, env);
    case 'tally':
      return new Tally(name, index, m, env);
    default:
      return null;
  }
}
