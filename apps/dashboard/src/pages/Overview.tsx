/** Seed 003's real-time metrics page: revenue, active users, transactions, content, two live charts. */
import { useRealtimeMetrics } from '@pulse/react';
import { useFeed } from '../components/use-feed';
import { Card, PageHead, Stat, Stats, SampledChart, Feed, ErrorNote } from '../components/ui';
import { fmtInt, fmtMoney, fmtPercent } from '../format';

export function Overview() {
  const { metrics: m, error } = useRealtimeMetrics();
  const tx = useFeed('platform:*', { max: 30, types: ['transaction'] });
  return (
    <>
      <PageHead title="Overview">Platform metrics (seed 003 shape), live from <code>metrics:platform</code></PageHead>
      <ErrorNote error={error} />
      <Card title="Revenue" id="revenue">
        <Stats>
          <Stat id="revenue-total" label="Total" value={fmtMoney(m?.revenue.total)} />
          <Stat id="revenue-today" label="Today" value={fmtMoney(m?.revenue.today)} />
          <Stat id="revenue-week" label="This week" value={fmtMoney(m?.revenue.thisWeek)} />
          <Stat id="revenue-month" label="This month" value={fmtMoney(m?.revenue.thisMonth)} />
        </Stats>
      </Card>
      <div className="grid-2">
        <Card title="Active users" id="active-users">
          <Stats>
            <Stat id="users-current" label="Now (5 min)" value={fmtInt(m?.activeUsers.current)} />
            <Stat id="users-today" label="Today" value={fmtInt(m?.activeUsers.today)} />
            <Stat id="users-peak" label="Peak 24 h" value={fmtInt(m?.activeUsers.peak24h)} />
          </Stats>
        </Card>
        <Card title="Content performance" id="content-performance">
          <Stats>
            <Stat id="content-views" label="Views" value={fmtInt(m?.content.totalViews)} />
            <Stat id="content-purchases" label="Purchases" value={fmtInt(m?.content.totalPurchases)} />
            <Stat id="content-conversion" label="Conversion" value={fmtPercent(m?.content.conversionRate)} />
          </Stats>
        </Card>
      </div>
      <Card title="Transactions" id="transactions">
        <Stats>
          <Stat id="tx-total" label="Total" value={fmtInt(m?.transactions.total)} />
          <Stat id="tx-pending" label="Pending" value={fmtInt(m?.transactions.pending)} tone="warn" />
          <Stat id="tx-completed" label="Completed" value={fmtInt(m?.transactions.completed)} tone="ok" />
          <Stat id="tx-failed" label="Failed" value={fmtInt(m?.transactions.failed)} tone="bad" />
        </Stats>
      </Card>
      <div className="grid-2">
        <Card title="Revenue today (last 20 samples, every 5 s)">
          <SampledChart id="chart-revenue" value={m ? m.revenue.today : null} label="revenue" color="#22c55e" />
        </Card>
        <Card title="Active users (last 20 samples, every 5 s)">
          <SampledChart id="chart-users" value={m ? m.activeUsers.current : null} label="active users" color="#3b82f6" />
        </Card>
      </div>
      <Card title="Latest transactions">
        <Feed
          id="feed-transactions"
          events={tx.events}
          height={240}
          render={(e) => {
            const d = e.data as { transactionId?: string; status?: string; amount?: number };
            return (
              <>
                <span className={`pill pill-${d.status ?? 'x'}`}>{d.status ?? '?'}</span> {fmtMoney(d.amount)} <small>{d.transactionId}</small>
              </>
            );
          }}
        />
      </Card>
    </>
  );
}
