import { useEffect, useMemo, useRef, useState } from 'react';
import type { MetricSeries, CampaignValues } from '@pulse/protocol';
import { usePulseClient } from '../context.js';
import { useMetricsOf } from '../hooks.js';
import { Chart, type ChartPoint } from './Chart.js';

export interface RealTimeChartProps {
  contractId: string;
  /** A campaign metric: `impressions`, `clicks`, `revenue`, `bids`, `ctr`, … */
  metric?: string;
  timeWindow?: 'hour' | 'day';
  chartType?: 'area' | 'line';
  height?: number;
  maxDataPoints?: number;
}

const GRANULARITY_MS: Record<string, number> = { '1s': 1000, '1m': 60_000, '1h': 3_600_000, '1d': 86_400_000 };
/** Metrics whose snapshot value is a level, not a running total. */
const GAUGES = new Set(['ctr', 'activeBids']);

/**
 * Seed 000's chart of one campaign metric: the window's buckets from `GET /v1/series`, then kept
 * live from the `metrics:campaign:<contractId>` snapshots (the growth of a running total lands
 * in the current bucket; a level such as `ctr` replaces it).
 */
export function RealTimeChart({ contractId, metric = 'impressions', timeWindow = 'hour', chartType = 'area', height = 300, maxDataPoints = 60 }: RealTimeChartProps) {
  const client = usePulseClient();
  const [points, setPoints] = useState<ChartPoint[]>([]);
  const [granMs, setGranMs] = useState(timeWindow === 'day' ? 3_600_000 : 60_000);
  const [error, setError] = useState<string | null>(null);
  const lastTotal = useRef<number | null>(null);
  const m = useMetricsOf<CampaignValues>(client, 'campaign', contractId);

  useEffect(() => {
    let cancelled = false;
    lastTotal.current = null;
    client
      .series<MetricSeries>({ set: 'campaign', metric, scope: contractId, window: timeWindow, maxPoints: maxDataPoints })
      .then((s) => {
        if (cancelled) return;
        setGranMs(GRANULARITY_MS[s.granularity] ?? 60_000);
        setPoints(s.points.slice(-maxDataPoints));
        setError(null);
      })
      .catch((e: unknown) => {
        if (!cancelled) setError(e instanceof Error ? e.message : String(e));
      });
    return () => {
      cancelled = true;
    };
  }, [client, contractId, metric, timeWindow, maxDataPoints]);

  const snap = m.snapshot;
  useEffect(() => {
    const raw = snap?.values[metric];
    if (typeof raw !== 'number' || !snap) return;
    const prev = lastTotal.current;
    lastTotal.current = raw;
    // The first snapshot only anchors the running total: the series already counts it.
    if (prev === null && !GAUGES.has(metric)) return;
    const bucket = Math.floor(snap.ts / granMs) * granMs;
    setPoints((pts) => {
      const next = pts.slice();
      const last = next[next.length - 1];
      const add = GAUGES.has(metric) ? null : raw - (prev ?? raw);
      if (last && last.t === bucket) next[next.length - 1] = { t: bucket, v: add === null ? raw : last.v + add };
      else if (!last || bucket > last.t) next.push({ t: bucket, v: add === null ? raw : add });
      return next.length > maxDataPoints ? next.slice(next.length - maxDataPoints) : next;
    });
  }, [snap, metric, granMs, maxDataPoints]);

  const total = useMemo(() => points.reduce((a, p) => a + p.v, 0), [points]);
  return (
    <div className="pulse-realtime-chart" data-metric={metric}>
      <div className="pulse-chart-header">
        <strong>{metric}</strong> <span>({timeWindow === 'day' ? 'last 24 h' : 'last hour'})</span>{' '}
        <span data-testid="chart-total">{GAUGES.has(metric) ? (points[points.length - 1]?.v ?? '—') : total}</span>
      </div>
      {error && <div role="alert">{error}</div>}
      <Chart points={points} type={chartType} height={height} label={metric} />
    </div>
  );
}
