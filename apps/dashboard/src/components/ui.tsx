/** Small building blocks shared by the pages: cards, stat tiles, a live chart and an event feed. */
import { useEffect, useRef, useState, type ReactNode } from 'react';
import { Chart, type ChartPoint } from '@pulse/react';
import type { PulseEvent } from '@pulse/client';
import { fmtTime } from '../format';

export function Card({ title, children, actions, className, id }: { title?: ReactNode; children: ReactNode; actions?: ReactNode; className?: string; id?: string }) {
  return (
    <section className={`card ${className ?? ''}`} data-testid={id}>
      {(title || actions) && (
        <header className="card-head">
          {title && <h2>{title}</h2>}
          {actions && <div className="card-actions">{actions}</div>}
        </header>
      )}
      {children}
    </section>
  );
}

export function PageHead({ title, children }: { title: string; children?: ReactNode }) {
  return (
    <div className="page-head">
      <h1>{title}</h1>
      {children && <div className="page-sub">{children}</div>}
    </div>
  );
}

export type Tone = 'ok' | 'warn' | 'bad' | undefined;

/** One number with its label; the value's box has a fixed height and tabular digits, so updates never move the layout. */
export function Stat({ id, label, value, hint, tone }: { id: string; label: string; value: string; hint?: string; tone?: Tone }) {
  return (
    <div className="stat" data-tone={tone}>
      <div className="stat-label">{label}</div>
      <div className="stat-value" data-testid={id}>
        {value}
      </div>
      <div className="stat-hint">{hint ?? '\u00a0'}</div>
    </div>
  );
}

export function Stats({ children }: { children: ReactNode }) {
  return <div className="stats">{children}</div>;
}

/**
 * A chart of the last `max` samples of a value: a new point every `everyMs` (seed 003: 5 s,
 * 20 points), while the newest point follows the value between samples, so a change shows at
 * once. `data-last` carries the newest value for tests and screen readers.
 */
export function SampledChart({ id, value, label, everyMs = 5000, max = 20, height = 180, color }: { id: string; value: number | null; label: string; everyMs?: number; max?: number; height?: number; color?: string }) {
  const [points, setPoints] = useState<ChartPoint[]>([]);
  const latest = useRef(value);
  latest.current = value;
  // Follow the value in the newest point.
  useEffect(() => {
    if (value === null) return;
    setPoints((pts) => {
      if (pts.length === 0) return [{ t: Date.now(), v: value }];
      const next = pts.slice();
      next[next.length - 1] = { t: next[next.length - 1]!.t, v: value };
      return next;
    });
  }, [value]);
  // Open a new point on a fixed cadence.
  useEffect(() => {
    const timer = setInterval(() => {
      const v = latest.current;
      if (v === null) return;
      setPoints((pts) => [...pts, { t: Date.now(), v }].slice(-max));
    }, everyMs);
    return () => clearInterval(timer);
  }, [everyMs, max]);
  const last = points[points.length - 1];
  return (
    <div className="chart" data-testid={id} data-last={last ? String(last.v) : ''} data-points={points.length} style={{ height }} aria-label={label}>
      <ChartOrWait points={points} type="area" height={height} label={label} color={color} wait={`Collecting samples: one every ${everyMs / 1000} s`} />
    </div>
  );
}

/** Points from a list of events (newest first): one per event, oldest to newest. */
export function EventChart({ id, points, label, height = 180, color }: { id: string; points: ChartPoint[]; label: string; height?: number; color?: string }) {
  const last = points[points.length - 1];
  return (
    <div className="chart" data-testid={id} data-last={last ? String(last.v) : ''} data-points={points.length} style={{ height }} aria-label={label}>
      <ChartOrWait points={points} type="line" height={height} label={label} color={color} wait="Waiting for a second point" />
    </div>
  );
}

/** A line needs two points; until then a box of the same height says what it waits for (no layout jump). */
function ChartOrWait({ points, wait, ...rest }: { points: ChartPoint[]; wait: string; type: 'area' | 'line'; height: number; label: string; color?: string }) {
  if (points.length < 2) {
    return (
      <div className="chart-wait" style={{ height: rest.height }}>
        {points.length === 1 ? wait : 'No data yet'}
      </div>
    );
  }
  return <Chart points={points} {...rest} />;
}

/** A bounded list of events, newest first, in a fixed-height box. */
export function Feed({ id, events, render, height = 320, empty = 'Waiting for events…' }: { id: string; events: ReadonlyArray<PulseEvent>; render?: (e: PulseEvent) => ReactNode; height?: number; empty?: string }) {
  return (
    <ol className="feed" data-testid={id} style={{ height }} aria-live="off">
      {events.length === 0 && <li className="feed-empty">{empty}</li>}
      {events.map((e) => (
        <li key={`${e.channel}@${e.epoch}:${e.offset}`} data-offset={e.offset} data-channel={e.channel} data-event-id={e.id}>
          <time>{fmtTime(e.ts)}</time>
          <span className="feed-type">{e.type}</span>
          <span className="feed-body">{render ? render(e) : e.channel}</span>
        </li>
      ))}
    </ol>
  );
}

/** A ranked list with proportional bars (top search terms, filters, trending content). */
export function Bars({ id, rows, format = String }: { id: string; rows: Array<{ key: string; value: number }>; format?: (n: number) => string }) {
  const max = rows.reduce((m, r) => Math.max(m, r.value), 0) || 1;
  return (
    <ol className="bars" data-testid={id}>
      {rows.length === 0 && <li className="feed-empty">No data yet</li>}
      {rows.map((r) => (
        <li key={r.key}>
          <span className="bars-key" title={r.key}>
            {r.key}
          </span>
          <span className="bars-track">
            <span className="bars-fill" style={{ width: `${(r.value / max) * 100}%` }} />
          </span>
          <span className="bars-value">{format(r.value)}</span>
        </li>
      ))}
    </ol>
  );
}

export function ErrorNote({ error }: { error: { message: string } | string | null | undefined }) {
  if (!error) return null;
  return (
    <div className="note" role="alert">
      {typeof error === 'string' ? error : error.message}
    </div>
  );
}
