/** Seed 003 (KnowTon): `useRealtimeMetrics` — the seed's hook over @pulse/client. */
import { useEffect, useMemo, useState } from 'react';
import { PulseClient, BACKOFF_KNOWTON, type PulseClientOptions } from '@pulse/client';
import type { RealtimeMetrics, PlatformValues, MetricSnapshot } from '@pulse/protocol';
import { useOptionalPulseClient } from './context.js';
import { useConnectionOf, useMetricsOf } from './hooks.js';
/** Seed 003's shape from a `platform` snapshot (revenue total = completed transactions' amounts). */
export function toRealtimeMetrics(snapshot: MetricSnapshot): RealtimeMetrics {
  const v = snapshot.values as unknown as Partial<PlatformValues>;
  const tx = v.transactions ?? { total: 0, byStatus: {}, sumByStatus: {} };
  const num = (x: unknown) => (typeof x === 'number' && Number.isFinite(x) ? x : 0);
  return {
    revenue: { total: num(tx.sumByStatus.completed), today: num(v.revenueToday), thisWeek: num(v.revenueThisWeek), thisMonth: num(v.revenueThisMonth) },
    activeUsers: { current: num(v.activeUsers), today: num(v.activeUsersToday), peak24h: num(v.activeUsersPeak24h) },
    transactions: { total: num(tx.total), pending: num(tx.byStatus.pending), completed: num(tx.byStatus.completed), failed: num(tx.byStatus.failed) },
    content: { totalViews: num(v.contentViews), totalPurchases: num(v.purchases), conversionRate: num(v.conversionRate) },
    timestamp: new Date(snapshot.ts).toISOString(),
  };
}

export interface UseRealtimeMetricsResult {
  metrics: RealtimeMetrics | null;
  isConnected: boolean;
  error: string | null;
  reconnect(): void;
}

/**
 * Seed 003's hook: the `platform` metric set in seed 003's shape. Without a provider it runs its
 * own client with seed 003's backoff (1, 2, 4, 8, 16 s, then `reconnect()` by hand).
 */
export function useRealtimeMetrics(options: PulseClientOptions = {}): UseRealtimeMetricsResult {
  const shared = useOptionalPulseClient();
  // Options are read once, when the hook's own client is made (like a `useState` initialiser).
  const [own] = useState(() => (shared ? undefined : new PulseClient({ ...options, backoff: { ...BACKOFF_KNOWTON, ...options.backoff } })));
  const client = shared ?? own!;
  useEffect(() => {
    client.connect();
    return () => {
      if (own) own.disconnect();
    };
  }, [client, own]);
  const conn = useConnectionOf(client);
  const m = useMetricsOf(client, 'platform');
  const metrics = useMemo(() => (m.snapshot ? toRealtimeMetrics(m.snapshot) : null), [m.snapshot]);
  const error =
    conn.state === 'failed' ? `Connection failed: ${conn.lastChange?.reason ?? 'unknown'}` : m.error && !metrics ? m.error.message : null;
  return { metrics, isConnected: conn.isConnected, error, reconnect: conn.reconnect };
}
