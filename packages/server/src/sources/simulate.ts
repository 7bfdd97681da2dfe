/**
 * The demo traffic source (`SIMULATE=true`): feeds the scenario's events through `hub.ingest`,
 * the same path as HTTP ingest, at `SIMULATE_RATE` events per second, so everything downstream
 * (store, metrics, every gateway) sees ordinary events.
 */
import type { Logger } from 'pino';
import { isPulseError, type EventInput, type IngestResult } from '@pulse/protocol';
import type { FastifyInstance } from 'fastify';
import type { Config } from '../config.js';
import { Scenario, type ScenarioOptions } from './scenario.js';

export { Scenario, DEMO, toWei } from './scenario.js';

/** What the simulator needs from the hub. */
export interface IngestTarget {
  ingest(items: readonly EventInput[], opts?: { source?: string }): Promise<IngestResult>;
}

export interface SimulatorOptions extends ScenarioOptions {
  /** Events per second (0 = paused). */
  rate: number;
  /** Ticks per second at most; low rates tick less often so each tick carries at least one event. */
  maxTicksPerSecond?: number;
  logger?: Pick<Logger, 'warn' | 'info'>;
}

export interface SimulatorStats {
  sent: number;
  accepted: number;
  rejected: number;
  failures: number;
}

export class Simulator {
  readonly stats: SimulatorStats = { sent: 0, accepted: 0, rejected: 0, failures: 0 };
  private readonly scenario: Scenario;
  private timer: NodeJS.Timeout | null = null;
  private inFlight: Promise<void> | null = null;
  /** Fractional events owed, so 2.5 events/s over 4 ticks/s is exact over time. */
  private owed = 0;
  private last = 0;

  constructor(
    private readonly hub: IngestTarget,
    private readonly opts: SimulatorOptions,
  ) {
    this.scenario = new Scenario(opts);
  }

  get running(): boolean {
    return this.timer !== null;
  }

  start(): void {
    if (this.timer || this.opts.rate <= 0) return;
    const ticks = Math.max(1, Math.min(this.opts.maxTicksPerSecond ?? 10, this.opts.rate));
    this.last = performance.now();
    this.timer = setInterval(() => this.tick(), 1000 / ticks);
    this.timer.unref();
    this.opts.logger?.info({ rate: this.opts.rate }, 'demo traffic: simulating events (SIMULATE=true)');
  }

  /** Stops ticking and waits for the batch being ingested, so a close after it finds no writer. */
  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    await this.inFlight;
  }

  /** One batch now, sized by the time since the last; returns when it is ingested. */
  private tick(): void {
    const t = performance.now();
    // A stalled event loop must not turn into a burst: owe at most one second of events.
    this.owed = Math.min(this.owed + ((t - this.last) / 1000) * this.opts.rate, Math.max(1, this.opts.rate));
    this.last = t;
    const n = Math.floor(this.owed);
    // Backpressure: if the last batch is still being ingested, the events stay owed.
    if (n < 1 || this.inFlight) return;
    this.owed -= n;
    const batch = this.scenario.next(n);
    this.stats.sent += batch.length;
    this.inFlight = this.hub
      .ingest(batch, { source: 'simulate' })
      .then(
        (r) => {
          this.stats.accepted += r.accepted;
          this.stats.rejected += r.rejected;
          if (r.rejected) this.opts.logger?.warn({ errors: r.errors.slice(0, 3) }, 'demo traffic: events rejected');
        },
        (e: unknown) => {
          // The hub closes before the HTTP app's onClose hook stops us: that is not a failure.
          if (isPulseError(e) && e.code === 'SERVER_SHUTDOWN') return void this.stop();
          this.stats.failures++;
          this.opts.logger?.warn({ err: e }, 'demo traffic: ingest failed');
        },
      )
      .finally(() => {
        this.inFlight = null;
      });
  }
}

/**
 * Starts demo traffic when `SIMULATE` is on, and stops it when the HTTP app closes.
 * @returns the simulator, or `null` when `SIMULATE` is off.
 */
export function attachSimulator(app: FastifyInstance, hub: IngestTarget, config: Pick<Config, 'SIMULATE' | 'SIMULATE_RATE'>, logger?: SimulatorOptions['logger']): Simulator | null {
  if (!config.SIMULATE) return null;
  const sim = new Simulator(hub, { rate: config.SIMULATE_RATE, logger });
  sim.start();
  app.addHook('onClose', async () => sim.stop());
  return sim;
}
