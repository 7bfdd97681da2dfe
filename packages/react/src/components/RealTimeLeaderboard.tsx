import { useMemo } from 'react';
import type { CampaignValues } from '@pulse/protocol';
import { useMetrics } from '../hooks.js';
import { formatInt, formatMoney, formatPercent } from './util.js';

/**
 * Same rule as the protocol's `campaignLeaderboardMetric`, restated so the browser bundle does not
 * pull in the protocol's index (and its schema library) for one line.
 */
function leaderboardMetric(type: 'campaigns' | 'publishers', scoreMetric: string): string {
  return `${scoreMetric}By${type === 'campaigns' ? 'Campaign' : 'Publisher'}`;
}

export interface RealTimeLeaderboardProps {
  contractId: string;
  type?: 'campaigns' | 'publishers';
  scoreMetric?: 'revenue' | 'impressions' | 'ctr' | 'bids' | 'clicks';
  limit?: number;
}

/** Seed 000's leaderboard: campaigns or publishers ranked by a metric, live from the campaign snapshot. */
export function RealTimeLeaderboard({ contractId, type = 'campaigns', scoreMetric = 'revenue', limit = 10 }: RealTimeLeaderboardProps) {
  const m = useMetrics<CampaignValues>('campaign', contractId);
  const metric = leaderboardMetric(type, scoreMetric);
  const rows = useMemo(() => {
    const byKey = (m.values as Record<string, unknown> | null)?.[metric];
    if (!byKey || typeof byKey !== 'object') return [];
    return Object.entries(byKey as Record<string, number | null>)
      .filter((e): e is [string, number] => typeof e[1] === 'number')
      .sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0]))
      .slice(0, limit);
  }, [m.values, metric, limit]);
  const fmt = scoreMetric === 'revenue' ? formatMoney : scoreMetric === 'ctr' ? formatPercent : formatInt;
  return (
    <table className="pulse-leaderboard">
      <thead>
        <tr>
          <th>#</th>
          <th>{type === 'campaigns' ? 'Campaign' : 'Publisher'}</th>
          <th>{scoreMetric}</th>
        </tr>
      </thead>
      <tbody>
        {rows.map(([key, value], i) => (
          <tr key={key} data-testid="leader">
            <td>{i + 1}</td>
            <td>{key}</td>
            <td>{fmt(value)}</td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}
