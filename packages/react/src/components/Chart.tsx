import { useEffect, useRef } from 'react';
import type uPlotType from 'uplot';

export interface ChartPoint {
  /** ms since epoch */
  t: number;
  v: number;
}

export interface ChartProps {
  points: readonly ChartPoint[];
  type?: 'area' | 'line';
  height?: number;
  label?: string;
  color?: string;
}

function canvasWorks(): boolean {
  try {
    return typeof document !== 'undefined' && document.createElement('canvas').getContext('2d') !== null;
  } catch {
    return false;
  }
}

/**
 * A canvas time-series chart on uPlot (≈50 KB, draws 100k points in a few ms): built once, then
 * `setData` per update, so many updates per second cost one redraw each, not a React re-render
 * of SVG nodes. uPlot is loaded lazily, so importing this package on a server does not touch
 * `window`. Where canvas is unavailable (SSR, jsdom) the points are listed as text instead.
 */
export function Chart({ points, type = 'area', height = 300, label = 'value', color = '#3b82f6' }: ChartProps) {
  const host = useRef<HTMLDivElement>(null);
  const plot = useRef<uPlotType | null>(null);
  const latest = useRef(points);
  latest.current = points;
  const hasCanvas = useRef<boolean | null>(null);
  if (hasCanvas.current === null) hasCanvas.current = canvasWorks();

  useEffect(() => {
    if (!hasCanvas.current || !host.current) return;
    let disposed = false;
    let ro: ResizeObserver | undefined;
    void import('uplot').then(({ default: UPlot }) => {
      if (disposed || !host.current) return;
      const el = host.current;
      const opts: uPlotType.Options = {
        width: el.clientWidth || 600,
        height,
        legend: { show: false },
        cursor: { drag: { x: false, y: false } },
        scales: { x: { time: true } },
        series: [{}, { label, stroke: color, width: 2, fill: type === 'area' ? `${color}33` : undefined, points: { show: false } }],
        axes: [{ stroke: '#888' }, { stroke: '#888' }],
      };
      plot.current = new UPlot(opts, toData(latest.current), el);
      if (typeof ResizeObserver === 'function') {
        ro = new ResizeObserver(() => plot.current?.setSize({ width: el.clientWidth || 600, height }));
        ro.observe(el);
      }
    });
    return () => {
      disposed = true;
      ro?.disconnect();
      plot.current?.destroy();
      plot.current = null;
    };
  }, [type, height, label, color]);

  useEffect(() => {
    plot.current?.setData(toData(points));
  }, [points]);

  const last = points[points.length - 1];
  return (
    <div className="pulse-chart" data-points={points.length} data-last={last ? last.v : ''} style={{ minHeight: height }}>
      <div ref={host} />
      {!hasCanvas.current && (
        <ol className="pulse-chart-fallback" aria-label={label}>
          {points.slice(-10).map((p) => (
            <li key={p.t}>
              {new Date(p.t).toISOString()}: {p.v}
            </li>
          ))}
        </ol>
      )}
    </div>
  );
}

function toData(points: readonly ChartPoint[]): uPlotType.AlignedData {
  // uPlot's x scale is in seconds.
  return [points.map((p) => p.t / 1000), points.map((p) => p.v)];
}
