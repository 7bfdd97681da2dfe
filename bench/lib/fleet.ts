/**
 * A fleet of client worker processes for one peer: lays clients out over channels, opens them,
 * and aggregates their counters.
 */
import { clientWorker, type Child } from './children.js';
import { merge, summarize, type LatencySummary } from './histogram.js';
import type { ClientKind, Dialect, HandoffResult, OpenResult, ReconnectResult, WorkerStats } from './messages.js';

export interface FleetStats {
  frames: number;
  bytes: number;
  events: number;
  gaps: number;
  duplicates: number;
  latency: LatencySummary;
  open: number;
  closedUnexpectedly: number;
  closeCodes: Record<string, number>;
  errors: number;
  lastSeq: Array<{ channel: string; seq: number }>;
}

export interface SetupResult {
  opened: number;
  failed: number;
  ms: number;
  perSec: number;
  firstError: string | null;
}

interface Group {
  worker: Child;
  kind: ClientKind;
  channels: string[];
}

export class Fleet {
  private readonly groups: Group[] = [];
  private readonly readers: Array<{ name: string; pid: number }> = [];

  /**
   * `total` clients, client k on channel k % channels.length; the first `probes` of them are
   * decoding probes (one process), the rest sinks (or `restKind`) split over `sinkWorkers` processes.
   */
  constructor(channels: string[], total: number, probes: number, sinkWorkers: number, restKind: ClientKind = 'sink') {
    const p = Math.min(probes, total);
    if (p > 0) this.groups.push({ worker: clientWorker('probes'), kind: 'probe', channels: Array.from({ length: p }, (_, k) => channels[k % channels.length]) });
    const rest = total - p;
    const per = Math.ceil(rest / sinkWorkers);
    for (let w = 0; w < sinkWorkers && w * per < rest; w++) {
      const from = p + w * per;
      const to = Math.min(p + rest, from + per);
      this.groups.push({ worker: clientWorker(`${restKind}s-${w}`), kind: restKind, channels: Array.from({ length: to - from }, (_, i) => channels[(from + i) % channels.length]) });
    }
  }

  /**
   * Opens the probes spread evenly through the sinks (a slice of every sink group, then one probe,
   * and so on). Servers walk a channel's subscribers in subscription order, so probes then sit at
   * evenly spaced places in each broadcast and their latencies sample the whole of it: their p99
   * approximates the p99 over every delivery, not over the first (or last) few sends.
   */
  async open(url: string, dialect: Dialect, concurrency = 100): Promise<SetupResult> {
    const t = performance.now();
    const probes = this.groups.filter((g) => g.kind === 'probe');
    const rest = this.groups.filter((g) => g.kind !== 'probe');
    const probeChannels = probes.flatMap((g) => g.channels.map((channel) => ({ g, channel })));
    const rounds = Math.max(1, probeChannels.length);
    const results: OpenResult[] = [];
    const openSlice = (g: Group, channels: string[]): Promise<OpenResult> =>
      g.worker.request<OpenResult>({ cmd: 'open', url, dialect, kind: g.kind, count: channels.length, channels, concurrency });
    for (let r = 0; r < rounds; r++) {
      const slices = rest.map((g) => {
        const from = Math.floor((g.channels.length * r) / rounds);
        const to = Math.floor((g.channels.length * (r + 1)) / rounds);
        return { g, channels: g.channels.slice(from, to) };
      });
      results.push(...(await Promise.all(slices.filter((x) => x.channels.length > 0).map((x) => openSlice(x.g, x.channels)))));
      const p = probeChannels[r];
      if (p) results.push(await openSlice(p.g, [p.channel]));
    }
    const ms = performance.now() - t;
    const opened = results.reduce((s, x) => s + x.opened, 0);
    return { opened, failed: results.reduce((s, x) => s + x.failed, 0), ms: Math.round(ms), perSec: Math.round((opened / ms) * 1000), firstError: results.find((x) => x.firstError)?.firstError ?? null };
  }

  /** Hand the sinks to C readers (see client/sink-reader.c); the probes stay in Node. */
  async handoff(): Promise<HandoffResult> {
    const sinks = this.groups.filter((g) => g.kind === 'sink');
    const all = await Promise.all(sinks.map((g) => g.worker.request<HandoffResult>({ cmd: 'handoff' })));
    all.forEach((r, i) => {
      if (r.pid > 0) this.readers.push({ name: `${sinks[i].worker.name}-reader`, pid: r.pid });
    });
    return {
      pid: -1,
      handedOff: all.reduce((s, r) => s + r.handedOff, 0),
      kept: all.reduce((s, r) => s + r.kept, 0),
      error: all.find((r) => r.error)?.error ?? null,
    };
  }

  get processes(): Array<{ name: string; pid: number }> {
    return [...this.groups.map((g) => ({ name: g.worker.name, pid: g.worker.pid })), ...this.readers];
  }

  async reset(): Promise<void> {
    await Promise.all(this.groups.map((g) => g.worker.request({ cmd: 'reset' })));
  }

  async stats(): Promise<FleetStats> {
    const all = await Promise.all(this.groups.map((g) => g.worker.request<WorkerStats>({ cmd: 'stats' })));
    const closeCodes: Record<string, number> = {};
    for (const s of all) for (const [k, v] of Object.entries(s.closeCodes)) closeCodes[k] = (closeCodes[k] ?? 0) + v;
    const sum = (f: (s: WorkerStats) => number): number => all.reduce((a, s) => a + f(s), 0);
    return {
      frames: sum((s) => s.frames),
      bytes: sum((s) => s.bytes),
      events: sum((s) => s.events),
      gaps: sum((s) => s.gaps),
      duplicates: sum((s) => s.duplicates),
      latency: summarize(merge(all.map((s) => s.histogram))),
      open: sum((s) => s.open),
      closedUnexpectedly: sum((s) => s.closedUnexpectedly),
      closeCodes,
      errors: sum((s) => s.errors),
      lastSeq: all.flatMap((s) => s.lastSeq),
    };
  }

  async drop(): Promise<void> {
    await Promise.all(this.groups.map((g) => g.worker.request({ cmd: 'drop' })));
  }

  async reconnect(targets: Record<string, number>, timeoutMs: number): Promise<ReconnectResult> {
    const all = await Promise.all(this.groups.map((g) => g.worker.request<ReconnectResult>({ cmd: 'reconnect', targets, timeoutMs })));
    return {
      recovered: all.reduce((s, r) => s + r.recovered, 0),
      notRecovered: all.reduce((s, r) => s + r.notRecovered, 0),
      failed: all.reduce((s, r) => s + r.failed, 0),
      caughtUp: all.reduce((s, r) => s + r.caughtUp, 0),
      ms: Math.round(Math.max(...all.map((r) => r.ms))),
      retries: all.reduce((s, r) => s + r.retries, 0),
      firstError: all.find((r) => r.firstError)?.firstError ?? null,
    };
  }

  async close(): Promise<void> {
    await Promise.all(this.groups.map((g) => g.worker.exit()));
  }
}
