// @vitest-environment jsdom
/**
 * Components rendered against a real server: channel-driven ones (feed, bidding, indicator) and
 * metric-driven ones (campaign tiles, leaderboard, chart, seed 003 widgets).
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { act, cleanup, render, screen, waitFor } from '@testing-library/react';
import {
  PulseProvider,
  ActivityFeed,
  LiveBiddingInterface,
  ConnectionIndicator,
  LiveCampaignMetrics,
  RealTimeLeaderboard,
  RealTimeChart,
  LiveRevenueCounter,
  TransactionMetrics,
  ActiveUsersDisplay,
  ContentPerformance,
  PulseToaster,
} from '../src/index.js';
import { harness, type Harness } from './helpers.js';

let h: Harness;
beforeAll(async () => {
  h = await harness();
});
afterAll(async () => {
  await h.close();
});
afterEach(() => cleanup());

function subscribedTo(target: string): () => boolean {
  const seen = new Set<string>();
  const off = h.client.on('subscribed', (i) => {
    seen.add(i.target);
    if (seen.has(target)) off();
  });
  return () => seen.has(target);
}

describe('channel components', () => {
  it('ActivityFeed lists the newest events first, bounded by maxEvents', async () => {
    const ready = subscribedTo('contract:SP1.feed');
    render(
      <PulseProvider client={h.client}>
        <ActivityFeed contractId="SP1.feed" maxEvents={5} />
      </PulseProvider>,
    );
    expect(screen.getByText('Waiting for events…')).toBeTruthy();
    await waitFor(() => expect(ready()).toBe(true));
    await h.ingest(Array.from({ length: 8 }, (_, i) => ({ channel: 'contract:SP1.feed', type: `step_${i + 1}`, txId: `0x${i}`, data: {} })));
    await waitFor(() => expect(screen.getAllByTestId('activity')).toHaveLength(5));
    await waitFor(() => expect(screen.getAllByTestId('activity')[0]!.textContent).toContain('step_8'));
    expect(screen.getAllByTestId('activity')[4]!.textContent).toContain('step_4');
  });

  it('LiveBiddingInterface tracks the highest bid, lists bids and raises a toast', async () => {
    const ready = subscribedTo('contract:SP1.auctions');
    render(
      <PulseProvider client={h.client}>
        <PulseToaster />
        <LiveBiddingInterface contractId="SP1.auctions" enableNotifications enableSound />
      </PulseProvider>,
    );
    await waitFor(() => expect(ready()).toBe(true));
    await h.ingest([
      { channel: 'contract:SP1.auctions', type: 'auction_bid_placed', data: { auctionId: 'a1', bidder: 'alice', amount: 120 } },
      { channel: 'contract:SP1.auctions', type: 'campaign_created', data: {} },
      { channel: 'contract:SP1.auctions', type: 'bid_placed', data: { auctionId: 'a1', bidder: 'bob', bidAmount: 150.5 } },
    ]);
    await waitFor(() => expect(screen.getAllByTestId('bid')).toHaveLength(2));
    expect(screen.getByTestId('highest-bid').textContent).toBe('$150.50');
    expect(screen.getByTestId('highest-bidder').textContent).toBe('bob');
    await waitFor(() => expect(screen.getByText('New highest bid: $150.50')).toBeTruthy());
    await h.ingest([{ channel: 'contract:SP1.auctions', type: 'bid_placed', data: { auctionId: 'a1', bidder: 'carol', amount: 99 } }]);
    await waitFor(() => expect(screen.getAllByTestId('bid')).toHaveLength(3));
    expect(screen.getByTestId('highest-bid').textContent).toBe('$150.50');
  });

  it('ConnectionIndicator shows live (green) and disconnected (red) with a reconnect button', async () => {
    render(
      <PulseProvider client={h.client}>
        <ConnectionIndicator />
      </PulseProvider>,
    );
    await waitFor(() => expect(screen.getByRole('status').getAttribute('data-state')).toBe('connected'));
    expect(screen.getByRole('status').textContent).toContain('Live');
    act(() => h.client.disconnect());
    await waitFor(() => expect(screen.getByRole('status').getAttribute('data-state')).toBe('disconnected'));
    expect(screen.getByRole('status').textContent).toContain('Disconnected');
    act(() => h.client.connect());
    await waitFor(() => expect(screen.getByRole('status').getAttribute('data-state')).toBe('connected'));
  });
});

describe('metric components', () => {
  it('LiveCampaignMetrics, RealTimeLeaderboard and RealTimeChart show the ingested campaign numbers', async () => {
    const contract = 'SP1.metrics';
    render(
      <PulseProvider client={h.client}>
        <LiveCampaignMetrics contractId={contract} refreshInterval={0} />
        <RealTimeLeaderboard contractId={contract} type="campaigns" scoreMetric="revenue" limit={2} />
        <RealTimeChart contractId={contract} metric="impressions" timeWindow="hour" maxDataPoints={60} refreshInterval={50} />
        <div data-testid="ctr-chart">
          <RealTimeChart contractId={contract} metric="ctr" timeWindow="hour" refreshInterval={50} />
        </div>
      </PulseProvider>,
    );
    const ch = `contract:${contract}`;
    await h.ingest([
      ...Array.from({ length: 40 }, () => ({ channel: ch, type: 'impression', data: { campaignId: 'c1' } })),
      ...Array.from({ length: 2 }, () => ({ channel: ch, type: 'click', data: { campaignId: 'c1' } })),
      { channel: ch, type: 'payment_processed', data: { campaignId: 'c1', amount: 10 } },
      { channel: ch, type: 'payment_processed', data: { campaignId: 'c2', amount: 25 } },
      { channel: ch, type: 'payment_processed', data: { campaignId: 'c3', amount: 5 } },
    ]);
    await waitFor(() => expect(screen.getByTestId('campaign-impressions').textContent).toBe('40'), { timeout: 10_000 });
    await waitFor(() => expect(screen.getByTestId('campaign-revenue').textContent).toBe('$40.00'));
    expect(screen.getByTestId('campaign-ctr').textContent).toBe('5.00%');
    await waitFor(() => expect(screen.getAllByTestId('leader').map((r) => r.textContent)).toEqual(['1c2$25.00', '2c1$10.00']));
    await waitFor(() => expect(screen.getAllByTestId('chart-total')[0]!.textContent).toBe('40'));
    // ctr has no buckets: plotted from the snapshots.
    await waitFor(() => expect(screen.getAllByTestId('chart-total')[1]!.textContent).toBe('5'));
  });

  it('seed 003 widgets show the platform set', async () => {
    render(
      <PulseProvider client={h.client}>
        <LiveRevenueCounter animationMs={0} />
        <TransactionMetrics />
        <ActiveUsersDisplay />
        <ContentPerformance />
      </PulseProvider>,
    );
    await h.ingest([
      { channel: 'payments:p', type: 'transaction', userId: 'u1', data: { transactionId: 't1', status: 'completed', amount: 30 } },
      { channel: 'payments:p', type: 'transaction', userId: 'u2', data: { transactionId: 't2', status: 'pending', amount: 5 } },
      { channel: 'content:x', type: 'content_view', userId: 'u1', data: {} },
      { channel: 'content:x', type: 'content_view', userId: 'u3', data: {} },
      { channel: 'content:x', type: 'purchase', userId: 'u3', data: {} },
    ]);
    await waitFor(() => expect(screen.getByTestId('revenue-total').textContent).toBe('$30.00'), { timeout: 10_000 });
    await waitFor(() => expect(screen.getByTestId('tx-pending').textContent).toBe('1'));
    expect(screen.getByTestId('tx-total').textContent).toBe('2');
    expect(screen.getByTestId('tx-completed').textContent).toBe('1');
    await waitFor(() => expect(screen.getByTestId('users-current').textContent).toBe('3'));
    expect(screen.getByTestId('content-views').textContent).toBe('2');
    expect(screen.getByTestId('content-conversion').textContent).toBe('50.00%');
  });
});
