import type { CampaignValues } from '@pulse/protocol';
import { useMetrics } from '../hooks.js';
import { formatInt, formatMoney, formatPercent, useThrottled } from './util.js';

export interface LiveCampaignMetricsProps {
  contractId: string;
  /** Minimum ms between visible updates (seed 000: 1000). */
  refreshInterval?: number;
}

/** Seed 000's campaign tiles: total impressions, active bids, total revenue, CTR — from `metrics:campaign:<contractId>`. */
export function LiveCampaignMetrics({ contractId, refreshInterval = 1000 }: LiveCampaignMetricsProps) {
  const m = useMetrics<CampaignValues>('campaign', contractId);
  const v = useThrottled(m.values, refreshInterval);
  const tiles: Array<[string, string, string]> = [
    ['impressions', 'Total Impressions', formatInt(v?.impressions)],
    ['activeBids', 'Active Bids', formatInt(v?.activeBids)],
    ['revenue', 'Total Revenue', formatMoney(v?.revenue)],
    ['ctr', 'Click-Through Rate (CTR)', formatPercent(v?.ctr)],
  ];
  return (
    <section className="pulse-campaign-metrics" aria-busy={m.loading}>
      {m.error && !v && <div role="alert">{m.error.message}</div>}
      {tiles.map(([key, label, value]) => (
        <div key={key} className="pulse-tile" data-metric={key}>
          <div className="pulse-tile-label">{label}</div>
          <div className="pulse-tile-value" data-testid={`campaign-${key}`}>
            {value}
          </div>
        </div>
      ))}
    </section>
  );
}
