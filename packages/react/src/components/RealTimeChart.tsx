import { useEffect, useMemo, useRef, useState } from 'react';
import type { MetricSeries, CampaignValues } from '@pulse/protocol';
import { PulseError } from '@pulse/client';
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
  /** Least ms between two series fetches while snapshots stream in (default 1000). */
  refreshInterval?: number;
}

/**
 * Seed 000's chart of one campaign metric over the last hour (per minute) or day (per hour).
 * The buckets come from `GET /v1/series`; every `metrics:campaign:<contractId>` snapshot push
 * triggers a refetch, at most once per `refreshInterval`, so the chart is exactly the server's
 * series whatever the timing. A metric kept without buckets (a ratio such as `ctr`) is plotted
 * from the snapshots themselves.
 */
export function RealTimeChart({
  contractId,
  metric = 'impressions',
  timeWindow = 'hour',
  chartType = 'area',
  height = 300,
  maxDataPoints = 60,
  refreshInterval = 1000,
}: RealTimeChartProps) {
  const client = usePulseClient();
  const [points, setPoints] = useState<ChartPoint[]>([]);
  const [mode, setMode] = useState<'series' | 'gauge'>('series');
  const [error, setError] = useState<string | null>(null);
  const m = useMetricsOf<CampaignValues>(client, 'campaign', contractId);
  const lastFetch = useRef(0);
  const [tick, setTick] = useState(0);

  useEffect(() => {
    setMode('series');
    setPoints([]);
  }, [contractId, metric, timeWindow, maxDataPoints]);

  useEffect(() => {
    if (mode !== 'series') return;
    let cancelled = false;
    lastFetch.current = Date.now();
    client
      .series<MetricSeries>({ set: 'campaign', metric, scope: contractId, window: timeWindow, maxPoints: maxDataPoints })
      .then((s) => {
        if (cancelled) return;
        setPoints(s.points.slice(-maxDataPoints));
        setError(null);
      })
      .catch((e: unknown) => {
        if (cancelled) return;
        if (e instanceof PulseError && (e.code === 'NOT_FOUND' || e.code === 'INVALID_REQUEST')) setMode('gauge');
        else setError(e instanceof Error ? e.message : String(e));
      });
    return () => {
      cancelled = true;
    };
  }, [client, contractId, metric, timeWindow, maxDataPoints, mode, tick]);

  const snap = m.snapshot;
  // A snapshot arrived: refetch the series, throttled (the trailing fetch always happens).
  useEffect(() => {
    if (!snap || mode !== 'series') return;
    const wait = lastFetch.current + refreshInterval - Date.now();
    if (wait <= 0) {
      setTick((n) => n + 1);
      return;
    }
    const t = setTimeout(() => setTick((n) => n + 1), wait);
    return () => clearTimeout(t);
  }, [snap, mode, refreshInterval]);

  useEffect(() => {
    if (mode !== 'gauge' || !snap) return;
    const raw = snap.values[metric];
    if (typeof raw !== 'number') return;
    setPoints((pts) => {
      const last = pts[pts.length - 1];
      if (last && snap.ts <= last.t) return pts;
      const next = [...pts, { t: snap.ts, v: raw }];
      return next.length > maxDataPoints ? next.slice(next.length - maxDataPoints) : next;
    });
  }, [snap, mode, metric, maxDataPoints]);

  const total = useMemo(() => points.reduce((a, p) => a + p.v, 0), [points]);
  return (
    <div className="pulse-realtime-chart" data-metric={metric} data-mode={mode}>
      <div className="pulse-chart-header">
        <strong>{metric}</strong> <span>({timeWindow === 'day' ? 'last 24 h' : 'last hour'})</span>{' '}
        <span data-testid="chart-total">{mode === 'gauge' ? (points[points.length - 1]?.v ?? '—') : total}</span>
      </div>
      {error && <div role="alert">{error}</div>}
      <Chart points={points} type={chartType} height={height} label={metric} />
    </div>
  );
}
