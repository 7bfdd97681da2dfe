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
import { MetricsEngine, type Publish } from './engine.js';
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
}

export interface Metrics extends EventSink {
  readonly engine: MetricsEngine;
  /** Replay the store into fresh state (events delivered meanwhile are applied after, once). */
  rebuild(): Promise<void>;
  snapshot: MetricsEngine['snapshot'];
  value: MetricsEngine['value'];
  series: MetricsEngine['series'];
  leaderboard: MetricsEngine['leaderboard'];
  /** Seed 003 shape for `/api/v1/analytics/realtime-metrics` and `/ws/metrics`. */
  platformSnapshot(): ReturnType<typeof platformSnapshot>;
  setNames(): string[];
  close(): void;
}

const PAGE = 5000;

export function createMetrics(opts: CreateMetricsOptions): Metrics {
  const cfg = opts.config ?? {};
  let defs: MetricsFile = cfg.configPath ? loadMetricsFile(cfg.configPath) : {};
  if (cfg.definitions) defs = { ...defs, ...parseMetricsFile(cfg.definitions, 'definitions'), sets: { ...defs.sets, ...cfg.definitions.sets } };
  const engine = new MetricsEngine({ definitions: defs, timeZone: cfg.timeZone, pushMs: cfg.pushMs, now: opts.now, publish: opts.publish });
  const store = opts.store;
  /** While rebuilding, live batches wait here; the scan may or may not already include them. */
  let pending: PulseEvent[] | null = null;

  const metrics: Metrics = {
    engine,
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
      // Per channel, the highest offset replayed: live events at or below it were in the scan.
      const heads = new Map<string, { epoch: string; offset: number }>();
      try {
        let after = 0;
        for (;;) {
          const page = await store.scan(after, PAGE);
          for (const { seq, event } of page) {
            engine.apply(event);
            heads.set(event.channel, { epoch: event.epoch, offset: event.offset });
            after = seq;
          }
          if (page.length < PAGE) break;
        }
        // Batches that arrived during the scan: apply those it did not include, in order.
        for (const e of pending) {
          const h = heads.get(e.channel);
          if (h && h.epoch === e.epoch && e.offset <= h.offset) continue;
          engine.apply(e);
        }
      } finally {
        pending = null;
        engine.start();
      }
    },
    snapshot: (...a) => engine.snapshot(...a),
    value: (...a) => engine.value(...a),
    series: (...a) => engine.series(...a),
    leaderboard: (...a) => engine.leaderboard(...a),
    platformSnapshot: () => platformSnapshot(engine),
    setNames: () => engine.setNames(),
    close: () => engine.close(),
  };
  engine.start();
  return metrics;
}
