import { useMemo } from 'react';
import { useSeries } from '../use-series.js';
import { Chart } from './Chart.js';

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
 * Seed 000's chart of one campaign metric over the last hour (per minute) or day (per hour),
 * kept live by the `metrics:campaign:<contractId>` pushes (see `useSeries`).
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
  const { points, mode, error } = useSeries('campaign', metric, { scope: contractId, window: timeWindow, maxPoints: maxDataPoints, refreshInterval });
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
