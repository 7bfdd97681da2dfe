/**
 * Prometheus metrics of the server itself (not the users' analytics metrics). One registry per
 * server instance so that tests running several servers in one process do not collide.
 */
import { Registry, Counter, Gauge, Histogram, collectDefaultMetrics } from 'prom-client';

export interface DialectCounters {
  delivered: { inc(n?: number): void };
  frames: { inc(n?: number): void };
}

/**
 * A count kept in a plain number on the delivery path and handed to prom-client when metrics are
 * read (the counters' `collect`), so a flush to thousands of connections never calls into it.
 */
class Tally {
  pending = 0;
  inc(n = 1): void {
    this.pending += n;
  }
}

export class Telemetry {
  readonly registry = new Registry();
  readonly connectedClients: Gauge;
  readonly activeSubscriptions: Gauge;
  readonly uptime: Gauge;
  readonly memory: Gauge<'type'>;
  readonly ingested: Counter<'source'>;
  readonly duplicates: Counter;
  readonly rejected: Counter<'code'>;
  readonly delivered: Counter<'dialect'>;
  readonly frames: Counter<'dialect'>;
  readonly dropped: Counter<'reason'>;
  readonly errors: Counter<'code'>;
  /** Requests and connections refused by a limit (limits/guard.ts), by limit. */
  readonly limited: Counter<'limit'>;
  readonly fanoutLatency: Histogram;
  readonly commitLatency: Histogram;
  private readonly started = Date.now();

  constructor(prefix: string, gauges: { clients: () => number; subscriptions: () => number }) {
    const p = prefix + '_';
    const r = [this.registry];
    this.connectedClients = new Gauge({ name: p + 'connected_clients', help: 'Open client connections', registers: r, collect() { this.set(gauges.clients()); } });
    this.activeSubscriptions = new Gauge({ name: p + 'active_subscriptions', help: 'Active subscriptions', registers: r, collect() { this.set(gauges.subscriptions()); } });
    const started = this.started;
    this.uptime = new Gauge({ name: p + 'uptime_seconds', help: 'Seconds since start', registers: r, collect() { this.set(Math.round((Date.now() - started) / 1000)); } });
    this.memory = new Gauge({
      name: p + 'memory_usage_bytes',
      help: 'Process memory by type',
      labelNames: ['type'],
      registers: r,
      collect() {
        const m = process.memoryUsage();
        this.set({ type: 'rss' }, m.rss);
        this.set({ type: 'heapTotal' }, m.heapTotal);
        this.set({ type: 'heapUsed' }, m.heapUsed);
        this.set({ type: 'external' }, m.external);
        this.set({ type: 'arrayBuffers' }, m.arrayBuffers);
      },
    });
    this.ingested = new Counter({ name: p + 'events_ingested_total', help: 'Events accepted', labelNames: ['source'], registers: r });
    this.duplicates = new Counter({ name: p + 'events_duplicate_total', help: 'Events dropped as duplicates of an earlier id', registers: r });
    this.rejected = new Counter({ name: p + 'events_rejected_total', help: 'Events rejected at ingest', labelNames: ['code'], registers: r });
    const tallies = (pick: (c: { delivered: Tally; frames: Tally }) => Tally) =>
      function (this: Counter<'dialect'>): void {
        for (const [dialect, c] of dialects) {
          const t = pick(c);
          if (t.pending) {
            this.inc({ dialect }, t.pending);
            t.pending = 0;
          }
        }
      };
    const dialects = this.dialects;
    this.delivered = new Counter({ name: p + 'events_delivered_total', help: 'Event deliveries to clients', labelNames: ['dialect'], registers: r, collect: tallies((c) => c.delivered) });
    this.frames = new Counter({ name: p + 'frames_sent_total', help: 'Frames (messages) sent to clients', labelNames: ['dialect'], registers: r, collect: tallies((c) => c.frames) });
    this.dropped = new Counter({ name: p + 'events_dropped_total', help: 'Deliveries dropped, by reason', labelNames: ['reason'], registers: r });
    this.errors = new Counter({ name: p + 'errors_total', help: 'Errors answered to clients, by code', labelNames: ['code'], registers: r });
    this.limited = new Counter({ name: p + 'limited_total', help: 'Requests, frames and connections refused by a rate or size limit, by limit', labelNames: ['limit'], registers: r });
    this.fanoutLatency = new Histogram({
      name: p + 'fanout_latency_seconds',
      help: 'Time from acceptance of an event to its frames being written',
      buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1],
      registers: r,
    });
    this.commitLatency = new Histogram({
      name: p + 'store_commit_seconds',
      help: 'Duration of one group commit',
      buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1],
      registers: r,
    });
    collectDefaultMetrics({ register: this.registry, prefix: p + 'process_' });
  }

  private readonly dialects = new Map<string, { delivered: Tally; frames: Tally }>();

  /**
   * Delivery counters of one dialect. Sessions count on every flush into plain numbers; the
   * Prometheus counters take them up when read.
   */
  forDialect(dialect: string): DialectCounters {
    let c = this.dialects.get(dialect);
    if (!c) {
      c = { delivered: new Tally(), frames: new Tally() };
      this.dialects.set(dialect, c);
      // The series exists (at 0) from the first connection of this dialect on.
      this.delivered.inc({ dialect }, 0);
      this.frames.inc({ dialect }, 0);
    }
    return c;
  }

  uptimeSeconds(): number {
    return Math.round((Date.now() - this.started) / 1000);
  }
}
