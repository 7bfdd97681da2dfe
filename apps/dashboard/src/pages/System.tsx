/**
 * The server itself: connections, subscriptions, events per second and delivery latency, read
 * from `GET /metrics` (Prometheus text, parsed here) and `GET /status`, every 2 s.
 */
import { useEffect, useRef, useState } from 'react';
import type { ChartPoint } from '@pulse/react';
import { Card, ErrorNote, EventChart, PageHead, Stat, Stats } from '../components/ui';
import { apiGet } from '../session';
import { useToken } from '../components/token';
import { buckets, diffBuckets, findPrefix, parseProm, quantile, total, type Sample } from '../prom';
import { fmtBytes, fmtDecimal, fmtDuration, fmtInt, fmtMs } from '../format';

const EVERY_MS = 2000;
const KEEP = 60;

interface Scrape {
  at: number;
  samples: Sample[];
}

interface View {
  clients: number | null;
  subscriptions: number | null;
  ingestRate: number | null;
  deliverRate: number | null;
  frameRate: number | null;
  fanoutP50: number | null;
  fanoutP99: number | null;
  commitP99: number | null;
  ingested: number | null;
  delivered: number | null;
  duplicates: number | null;
  rejected: number | null;
  dropped: number | null;
  rss: number | null;
  heap: number | null;
  uptime: number | null;
}

interface Status {
  version?: string;
  node?: string;
  environment?: string;
  store?: { kind: string; pending: number };
  channels?: number;
  auth?: { skipAuth: boolean; jwt: boolean };
  limits?: { maxSubscriptionsPerClient: number; eventHistoryLimit: number };
}

function rate(now: Scrape, before: Scrape | null, name: string): number | null {
  if (!before) return null;
  const a = total(now.samples, name);
  const b = total(before.samples, name);
  if (a === null || b === null) return null;
  return Math.max(0, (a - b) / ((now.at - before.at) / 1000));
}

function view(now: Scrape, before: Scrape | null): View {
  const p = findPrefix(now.samples) ?? 'pulse';
  const n = (name: string, where?: Record<string, string>) => total(now.samples, `${p}_${name}`, where);
  // Latency over the last interval when there was traffic in it, else since start.
  const window = (h: string) => {
    const cur = buckets(now.samples, `${p}_${h}`);
    const d = diffBuckets(cur, before ? buckets(before.samples, `${p}_${h}`) : null);
    return d.length && d[d.length - 1]!.count > 0 ? d : cur;
  };
  const fan = window('fanout_latency_seconds');
  const commit = window('store_commit_seconds');
  const ms = (s: number | null) => (s === null ? null : s * 1000);
  return {
    clients: n('connected_clients'),
    subscriptions: n('active_subscriptions'),
    ingestRate: rate(now, before, `${p}_events_ingested_total`),
    deliverRate: rate(now, before, `${p}_events_delivered_total`),
    frameRate: rate(now, before, `${p}_frames_sent_total`),
    fanoutP50: ms(quantile(0.5, fan)),
    fanoutP99: ms(quantile(0.99, fan)),
    commitP99: ms(quantile(0.99, commit)),
    ingested: n('events_ingested_total'),
    delivered: n('events_delivered_total'),
    duplicates: n('events_duplicate_total'),
    rejected: n('events_rejected_total'),
    dropped: n('events_dropped_total'),
    rss: n('memory_usage_bytes', { type: 'rss' }),
    heap: n('memory_usage_bytes', { type: 'heapUsed' }),
    uptime: n('uptime_seconds'),
  };
}

export function System() {
  const token = useToken();
  const [v, setV] = useState<View | null>(null);
  const [status, setStatus] = useState<Status | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [rates, setRates] = useState<ChartPoint[]>([]);
  const [latency, setLatency] = useState<ChartPoint[]>([]);
  const last = useRef<Scrape | null>(null);

  useEffect(() => {
    let stopped = false;
    let timer: ReturnType<typeof setTimeout> | undefined;
    const poll = async () => {
      try {
        const [text, st] = await Promise.all([apiGet('/metrics', token, 'text'), apiGet('/status', token)]);
        if (stopped) return;
        const scrape: Scrape = { at: Date.now(), samples: parseProm(text as string) };
        const next = view(scrape, last.current);
        last.current = scrape;
        setV(next);
        setStatus(st as Status);
        setError(null);
        if (next.ingestRate !== null) setRates((r) => [...r, { t: scrape.at, v: next.ingestRate! }].slice(-KEEP));
        if (next.fanoutP99 !== null) setLatency((r) => [...r, { t: scrape.at, v: next.fanoutP99! }].slice(-KEEP));
      } catch (e) {
        if (!stopped) setError(`Cannot read the server's metrics: ${(e as Error).message}`);
      }
      if (!stopped) timer = setTimeout(poll, EVERY_MS);
    };
    void poll();
    return () => {
      stopped = true;
      clearTimeout(timer);
    };
  }, [token]);

  return (
    <>
      <PageHead title="System">
        {status ? (
          <span>
            Pulse {status.version} · Node {status.node} · {status.environment} · store {status.store?.kind}
            {status.auth?.skipAuth ? ' · auth skipped (development)' : ''}
          </span>
        ) : (
          'Server telemetry from /metrics and /status, every 2 s'
        )}
      </PageHead>
      <ErrorNote error={error} />
      <Card title="Traffic" id="system-traffic">
        <Stats>
          <Stat id="sys-clients" label="Connections" value={fmtInt(v?.clients)} />
          <Stat id="sys-subscriptions" label="Subscriptions" value={fmtInt(v?.subscriptions)} />
          <Stat id="sys-ingest-rate" label="Events in / s" value={fmtDecimal(v?.ingestRate, 1)} />
          <Stat id="sys-deliver-rate" label="Deliveries / s" value={fmtDecimal(v?.deliverRate, 1)} />
          <Stat id="sys-frame-rate" label="Frames / s" value={fmtDecimal(v?.frameRate, 1)} />
        </Stats>
      </Card>
      <Card title="Delivery latency" id="system-latency">
        <Stats>
          <Stat id="sys-fanout-p50" label="Fan-out p50" value={fmtMs(v?.fanoutP50)} hint="accept → frame written" />
          <Stat id="sys-fanout-p99" label="Fan-out p99" value={fmtMs(v?.fanoutP99)} />
          <Stat id="sys-commit-p99" label="Store commit p99" value={fmtMs(v?.commitP99)} hint={status?.store ? `${status.store.pending} pending` : undefined} />
        </Stats>
      </Card>
      <div className="grid-2">
        <Card title="Events in per second">
          <EventChart id="chart-ingest-rate" points={rates} label="events/s" height={160} color="#3b82f6" />
        </Card>
        <Card title="Fan-out latency p99 (ms)">
          <EventChart id="chart-latency" points={latency} label="ms" height={160} color="#f59e0b" />
        </Card>
      </div>
      <Card title="Totals" id="system-totals">
        <Stats>
          <Stat id="sys-ingested" label="Ingested" value={fmtInt(v?.ingested)} />
          <Stat id="sys-delivered" label="Delivered" value={fmtInt(v?.delivered)} />
          <Stat id="sys-duplicates" label="Duplicates" value={fmtInt(v?.duplicates ?? 0)} />
          <Stat id="sys-rejected" label="Rejected" value={fmtInt(v?.rejected ?? 0)} tone={v?.rejected ? 'warn' : undefined} />
          <Stat id="sys-dropped" label="Dropped" value={fmtInt(v?.dropped ?? 0)} tone={v?.dropped ? 'bad' : undefined} />
          <Stat id="sys-channels" label="Channels" value={fmtInt(status?.channels)} />
          <Stat id="sys-rss" label="Memory (RSS)" value={fmtBytes(v?.rss)} hint={v?.heap ? `heap ${fmtBytes(v.heap)}` : undefined} />
          <Stat id="sys-uptime" label="Uptime" value={fmtDuration(v?.uptime)} />
        </Stats>
      </Card>
    </>
  );
}
