import { useEffect, useRef, useState } from 'react';
import type { MetricSeries } from '@pulse/protocol';
import { PulseError } from '@pulse/client';
import { usePulseClient } from './context.js';
import { useMetricsOf } from './hooks.js';

export interface SeriesPoint {
  /** Bucket start, ms since epoch. */
  t: number;
  v: number;
}

export interface UseSeriesOptions {
  scope?: string | null;
  /** `hour` (per minute), `day` (per hour) or a duration such as `30m`. */
  window?: string;
  maxPoints?: number;
  /** Least ms between two series fetches while snapshots stream in (default 1000). */
  refreshInterval?: number;
}

export interface SeriesResult {
  points: SeriesPoint[];
  /** `series`: buckets from the server; `gauge`: the metric has no buckets and is sampled from snapshots. */
  mode: 'series' | 'gauge';
  error: string | null;
}

/**
 * A metric's time buckets from `GET /v1/series`, refetched whenever the set's snapshot channel
 * pushes (throttled, the trailing fetch always made), so the points are the server's exactly. A
 * metric kept without buckets (a ratio such as `ctr`) is sampled from the snapshots instead.
 * @example const { points } = useSeries('campaign', 'impressions', { scope: contractId, window: 'hour' });
 */
export function useSeries(set: string, metric: string, options: UseSeriesOptions = {}): SeriesResult {
  const { scope = null, window = 'hour', maxPoints = 60, refreshInterval = 1000 } = options;
  const client = usePulseClient();
  const [points, setPoints] = useState<SeriesPoint[]>([]);
  const [mode, setMode] = useState<'series' | 'gauge'>('series');
  const [error, setError] = useState<string | null>(null);
  const m = useMetricsOf(client, set, scope);
  const lastFetch = useRef(0);
  const [tick, setTick] = useState(0);

  useEffect(() => {
    setMode('series');
    setPoints([]);
  }, [set, metric, scope, window, maxPoints]);

  useEffect(() => {
    if (mode !== 'series') return;
    let cancelled = false;
    lastFetch.current = Date.now();
    client
      .series<MetricSeries>({ set, metric, scope: scope ?? undefined, window, maxPoints })
      .then((s) => {
        if (cancelled) return;
        setPoints(s.points.slice(-maxPoints));
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
  }, [client, set, metric, scope, window, maxPoints, mode, tick]);

  const snap = m.snapshot;
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
      return next.length > maxPoints ? next.slice(next.length - maxPoints) : next;
    });
  }, [snap, mode, metric, maxPoints]);

  return { points, mode, error };
}
