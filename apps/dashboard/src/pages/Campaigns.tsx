/** Seed 000: live campaign metrics, a real-time chart, leaderboards and the activity feed of one contract. */
import { useState } from 'react';
import { LiveCampaignMetrics, RealTimeChart, RealTimeLeaderboard, ActivityFeed } from '@pulse/react';
import { Card, PageHead } from '../components/ui';
import { ContractPicker } from '../components/ContractPicker';
import { CAMPAIGNS_CONTRACT } from '../demo';

const METRICS = ['impressions', 'clicks', 'revenue', 'bids', 'ctr'] as const;

export function Campaigns() {
  const [contractId, setContractId] = useState(CAMPAIGNS_CONTRACT);
  const [metric, setMetric] = useState<(typeof METRICS)[number]>('impressions');
  const [board, setBoard] = useState<'campaigns' | 'publishers'>('campaigns');
  return (
    <>
      <PageHead title="Campaigns">
        <ContractPicker value={contractId} onChange={setContractId} />
      </PageHead>
      <Card title="Live campaign metrics" id="campaign-metrics">
        <LiveCampaignMetrics key={contractId} contractId={contractId} refreshInterval={500} />
      </Card>
      <Card
        title="Real-time chart"
        actions={
          <select value={metric} onChange={(e) => setMetric(e.target.value as (typeof METRICS)[number])} aria-label="Chart metric">
            {METRICS.map((m) => (
              <option key={m}>{m}</option>
            ))}
          </select>
        }
      >
        <div className="chart" style={{ height: 260 }}>
          <RealTimeChart key={`${contractId}/${metric}`} contractId={contractId} metric={metric} timeWindow="hour" chartType="area" height={220} maxDataPoints={60} />
        </div>
      </Card>
      <div className="grid-2">
        <Card
          title="Leaderboard"
          actions={
            <select value={board} onChange={(e) => setBoard(e.target.value as 'campaigns' | 'publishers')} aria-label="Leaderboard">
              <option value="campaigns">campaigns</option>
              <option value="publishers">publishers</option>
            </select>
          }
        >
          <div className="table-box">
            <RealTimeLeaderboard contractId={contractId} type={board} scoreMetric="revenue" limit={8} />
          </div>
        </Card>
        <Card title="Activity" id="campaign-activity">
          <div className="activity-box">
            <ActivityFeed key={contractId} contractId={contractId} maxEvents={100} height={360} />
          </div>
        </Card>
      </div>
    </>
  );
}
