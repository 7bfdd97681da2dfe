/** Seed 003's `realtime-metrics` shape, read from the built-in `platform` set. */
import type { EntityValue, PlatformValues, RealtimeMetrics } from '@pulse/protocol';
import type { MetricsEngine } from './engine.js';

export function platformSnapshot(engine: MetricsEngine, now?: number): RealtimeMetrics {
  const snap = engine.snapshot('platform', null, now);
  const v = snap.values as unknown as PlatformValues;
  const tx: EntityValue = v.transactions;
  return {
    revenue: {
      total: tx.sumByStatus.completed ?? 0,
      today: v.revenueToday,
      thisWeek: v.revenueThisWeek,
      thisMonth: v.revenueThisMonth,
    },
    activeUsers: { current: v.activeUsers, today: v.activeUsersToday, peak24h: v.activeUsersPeak24h },
    transactions: {
      total: tx.total,
      pending: tx.byStatus.pending ?? 0,
      completed: tx.byStatus.completed ?? 0,
      failed: tx.byStatus.failed ?? 0,
    },
    // The seed's client renders conversionRate with toFixed: 0 rather than null without views.
    content: { totalViews: v.contentViews, totalPurchases: v.purchases, conversionRate: v.conversionRate ?? 0 },
    timestamp: new Date(snap.ts).toISOString(),
  };
}
