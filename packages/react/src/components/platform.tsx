/** Seed 003's platform widgets: live revenue counter, active users, transactions, content performance. */
import type { ReactElement } from 'react';
import type { RealtimeMetrics } from '@pulse/protocol';
import { useRealtimeMetrics } from '../use-realtime-metrics.js';
import { formatInt, formatMoney, formatPercent, useAnimatedNumber } from './util.js';

interface WithMetrics {
  /** Metrics from a parent's `useRealtimeMetrics()`; when absent the widget subscribes itself. */
  metrics?: RealtimeMetrics | null;
}

type View<P> = (p: P & { m: RealtimeMetrics | null }) => ReactElement;

/** Subscribes only when no `metrics` prop is given (hooks cannot be called conditionally). */
function SelfFed<P>({ view: V, props }: { view: View<P>; props: P }) {
  const { metrics } = useRealtimeMetrics();
  return <V {...props} m={metrics} />;
}
function widget<P extends WithMetrics>(V: View<P>) {
  return function Widget(p: P) {
    return p.metrics !== undefined ? <V {...p} m={p.metrics} /> : <SelfFed view={V} props={p} />;
  };
}

function Tile({ id, label, value, tone }: { id: string; label: string; value: string; tone?: 'ok' | 'warn' | 'bad' }) {
  const color = tone === 'ok' ? '#16a34a' : tone === 'warn' ? '#ca8a04' : tone === 'bad' ? '#dc2626' : undefined;
  return (
    <div className="pulse-tile" data-tone={tone}>
      <div className="pulse-tile-label">{label}</div>
      <div className="pulse-tile-value" data-testid={id} style={color ? { color } : undefined}>
        {value}
      </div>
    </div>
  );
}

export const LiveRevenueCounter = widget(function LiveRevenueCounterView({ m, ...p }: WithMetrics & { animationMs?: number } & { m: RealtimeMetrics | null }) {
  const today = useAnimatedNumber(m?.revenue.today ?? 0, p.animationMs ?? 600);
  return (
    <section className="pulse-revenue">
      <Tile id="revenue-today" label="Today" value={m ? formatMoney(today) : '—'} />
      <Tile id="revenue-total" label="Total" value={formatMoney(m?.revenue.total)} />
      <Tile id="revenue-week" label="This week" value={formatMoney(m?.revenue.thisWeek)} />
      <Tile id="revenue-month" label="This month" value={formatMoney(m?.revenue.thisMonth)} />
    </section>
  );
});

export const ActiveUsersDisplay = widget(function ActiveUsersDisplayView({ m }: WithMetrics & { m: RealtimeMetrics | null }) {
  return (
    <section className="pulse-active-users">
      <Tile id="users-current" label="Active now (5 min)" value={formatInt(m?.activeUsers.current)} />
      <Tile id="users-today" label="Today" value={formatInt(m?.activeUsers.today)} />
      <Tile id="users-peak" label="Peak (24 h)" value={formatInt(m?.activeUsers.peak24h)} />
    </section>
  );
});

export const TransactionMetrics = widget(function TransactionMetricsView({ m }: WithMetrics & { m: RealtimeMetrics | null }) {
  return (
    <section className="pulse-transactions">
      <Tile id="tx-total" label="Total" value={formatInt(m?.transactions.total)} />
      <Tile id="tx-pending" label="Pending" value={formatInt(m?.transactions.pending)} tone="warn" />
      <Tile id="tx-completed" label="Completed" value={formatInt(m?.transactions.completed)} tone="ok" />
      <Tile id="tx-failed" label="Failed" value={formatInt(m?.transactions.failed)} tone="bad" />
    </section>
  );
});

export const ContentPerformance = widget(function ContentPerformanceView({ m }: WithMetrics & { m: RealtimeMetrics | null }) {
  return (
    <section className="pulse-content-performance">
      <Tile id="content-views" label="Views" value={formatInt(m?.content.totalViews)} />
      <Tile id="content-purchases" label="Purchases" value={formatInt(m?.content.totalPurchases)} />
      <Tile id="content-conversion" label="Conversion rate" value={formatPercent(m?.content.conversionRate)} />
    </section>
  );
});
