/**
 * Live metrics: `createMetrics` builds the engine from config, rebuilds it from the store, and
 * pushes coalesced snapshots; `registerMetricsRoutes` serves the queries.
 *
 * @example
 * const metrics = createMetrics({ store, config: metricsOptionsFromEnv(process.env), publish });
 * await metrics.rebuild();            // before the hub starts delivering events
 * hub.addSink(metrics);               // onEvents(events) for every committed batch
 * registerMetricsRoutes(app, metrics);
 */
import type { PulseEvent } from '@pulse/protocol';
import type { EventSink, Store } from '../ports.js';
import { loadMetricsFile, parseMetricsFile, type MetricsFile, type MetricsOptions } from './config.js';
import { MetricsEngine, type EngineDump, type Publish } from './engine.js';
import { platformSnapshot } from './platform.js';

export { MetricsEngine, type Publish } from './engine.js';
export { metricsOptionsFromEnv, loadMetricsFile, parseMetricsFile, type MetricsOptions, type MetricsFile } from './config.js';
export { platformSnapshot } from './platform.js';
export { registerMetricsRoutes } from './routes.js';
export { HyperLogLog, Distinct } from './hll.js';

export interface CreateMetricsOptions {
  store: Store;
  config?: MetricsOptions;
  now?: () => number;
  publish?: Publish;
  /** How often to write a checkpoint (ms); 0 turns periodic checkpoints off. Default 60 000. */
  checkpointMs?: number;
}

export interface Metrics extends EventSink {
  readonly engine: MetricsEngine;
  /**
   * Restore the last checkpoint (if taken under the same definitions) and replay the store after
   * it, else replay the whole store. Events delivered meanwhile are applied after, once.
   */
  rebuild(): Promise<{ fromCheckpoint: boolean; replayed: number }>;
  /** Write a checkpoint now (state + the store position it covers). */
  checkpoint(): Promise<void>;
  snapshot: MetricsEngine['snapshot'];
  value: MetricsEngine['value'];
  series: MetricsEngine['series'];
  leaderboard: MetricsEngine['leaderboard'];
  /** Seed 003 shape for `/api/v1/analytics/realtime-metrics` and `/ws/metrics`. */
  platformSnapshot(): ReturnType<typeof platformSnapshot>;
  setNames(): string[];
  /** Stop pushes and checkpoints, writing a last checkpoint; call before closing the store. */
  close(): Promise<void>;
  /** Checkpoint failures (counted; the next attempt retries). */
  readonly checkpointErrors: number;
}

const PAGE = 5000;
export const CHECKPOINT_KEY = 'metrics:checkpoint';

export function createMetrics(opts: CreateMetricsOptions): Metrics {
  const cfg = opts.config ?? {};
  let defs: MetricsFile = cfg.configPath ? loadMetricsFile(cfg.configPath) : {};
  if (cfg.definitions) defs = { ...defs, ...parseMetricsFile(cfg.definitions, 'definitions'), sets: { ...defs.sets, ...cfg.definitions.sets } };
  const engine = new MetricsEngine({ definitions: defs, timeZone: cfg.timeZone, pushMs: cfg.pushMs, now: opts.now, publish: opts.publish });
  const store = opts.store;
  const checkpointMs = opts.checkpointMs ?? 60_000;
  /** While rebuilding, live batches wait here; the scan may or may not already include them. */
  let pending: PulseEvent[] | null = null;
  /** Store position every event at or below which the last checkpoint covers. */
  let floor = 0;
  let timer: NodeJS.Timeout | null = null;
  let running: Promise<void> | null = null;
  let checkpointErrors = 0;
  let closed = false;

  /**
   * The highest seq S such that every stored event with seq ≤ S is in `heads`. Events reach the
   * engine in seq order, so "applied" is a prefix of the log: an exponential then binary search
   * over `scan(x, 1)` finds its end in O(log n) indexed reads, without reading the log.
   */
  async function findFloor(heads: Map<string, { epoch: string; offset: number }>, from: number): Promise<number> {
    const firstAfter = async (x: number) => (await store.scan(x, 1))[0];
    const done = async (x: number): Promise<boolean> => {
      const e = await firstAfter(x);
      return e === undefined || !engine.isApplied(e.event, heads);
    };
    if (await done(from)) return from;
    let lo = from; // not done: the event after lo is applied
    let step = 1024;
    let hi = lo + step;
    while (!(await done(hi))) {
      lo = hi;
      step *= 2;
      hi = lo + step;
    }
    while (hi - lo > 1) {
      const mid = Math.floor((lo + hi) / 2);
      if (await done(mid)) hi = mid;
      else lo = mid;
    }
    // hi is the smallest x whose next stored event is not applied: the seq of the last applied one.
    return hi;
  }

  async function checkpoint(): Promise<void> {
    // One at a time; a call during a running one waits for it and then takes its own.
    while (running) await running;
    running = (async () => {
      try {
        const dump = engine.dump();
        // Serialise now: the dump shares a few cells with live state that keeps changing.
        const json = JSON.stringify(dump);
        const heads = new Map(dump.heads.map(([ch, epoch, offset]) => [ch, { epoch, offset }]));
        const f = await findFloor(heads, floor);
        await store.setMeta(CHECKPOINT_KEY, `{"floor":${f},"dump":${json}}`);
        floor = f;
      } catch {
        checkpointErrors++;
      }
    })();
    try {
      await running;
    } finally {
      running = null;
    }
  }

  const metrics: Metrics = {
    engine,
    get checkpointErrors() {
      return checkpointErrors;
    },
    onEvents(events) {
      if (pending) {
        for (const e of events) pending.push(e);
        return;
      }
      engine.onEvents(events);
    },
    async rebuild() {
      pending = [];
      engine.close();
      engine.reset();
      let fromCheckpoint = false;
      let replayed = 0;
      try {
        let after = 0;
        floor = 0;
        const raw = await store.getMeta(CHECKPOINT_KEY);
        if (raw) {
          try {
            const cp = JSON.parse(raw) as { floor: number; dump: EngineDump };
            if (engine.load(cp.dump)) {
              fromCheckpoint = true;
              after = cp.floor;
            }
            floor = after;
          } catch {
            engine.reset(); // unreadable checkpoint: replay everything
          }
        }
        for (;;) {
          const page = await store.scan(after, PAGE);
          for (const { seq, event } of page) {
            after = seq;
            if (engine.isApplied(event)) continue; // covered by the checkpoint
            engine.apply(event);
            replayed++;
          }
          if (page.length < PAGE) break;
        }
        // Batches that arrived during the replay: apply those it did not include, in order.
        for (const e of pending) if (!engine.isApplied(e)) engine.apply(e);
      } finally {
        pending = null;
        engine.start();
      }
      return { fromCheckpoint, replayed };
    },
    checkpoint,
    snapshot: (...a) => engine.snapshot(...a),
    value: (...a) => engine.value(...a),
    series: (...a) => engine.series(...a),
    leaderboard: (...a) => engine.leaderboard(...a),
    platformSnapshot: () => platformSnapshot(engine),
    setNames: () => engine.setNames(),
    async close() {
      if (closed) return;
      closed = true;
      engine.close();
      if (timer) clearInterval(timer);
      timer = null;
      await checkpoint();
    },
  };
  engine.start();
  if (checkpointMs > 0) {
    timer = setInterval(() => void checkpoint(), checkpointMs);
    timer.unref();
  }
  return metrics;
}
