// @vitest-environment jsdom
import { useEffect, useState } from 'react';
import { createServer, type AddressInfo } from 'node:net';
/**
 * The hooks rendered with React Testing Library against a real Pulse server: values shown are
 * the ones ingested into it.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { cleanup, fireEvent, render, screen, waitFor } from '@testing-library/react';
import { QueryClient, QueryClientProvider, useQuery } from '@tanstack/react-query';
import WebSocket from 'ws';
import type { WebSocketCtor } from '@pulse/client';
import type { MarketplaceValues } from '@pulse/protocol';
import {
  PulseProvider,
  useChannel,
  useConnection,
  useMetrics,
  useRealtimeMetrics,
  useWebSocket,
  useAnalyticsWebSocket,
  useRealTimeAnalytics,
  ChannelType,
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

const ingest = (items: Array<Record<string, unknown>>) => h.ingest(items);

function Channel({ target }: { target: string }) {
  const { events, latest, count, status } = useChannel<{ n: number }>(target, { max: 100 });
  const conn = useConnection();
  return (
    <div>
      <span data-testid="state">{conn.state}</span>
      <span data-testid="transport">{conn.transport ?? '-'}</span>
      <span data-testid="status">{status}</span>
      <span data-testid="count">{count}</span>
      <span data-testid="listed">{events.length}</span>
      <span data-testid="latest">{latest ? latest.data.n : '-'}</span>
      <span data-testid="oldest">{events.length ? events[events.length - 1]!.data.n : '-'}</span>
    </div>
  );
}

describe('PulseProvider, useChannel, useConnection', () => {
  it('shows live events, bounded to the newest 100', async () => {
    render(
      <PulseProvider client={h.client}>
        <Channel target="market:r1" />
      </PulseProvider>,
    );
    await waitFor(() => expect(screen.getByTestId('status').textContent).toBe('subscribed'));
    expect(screen.getByTestId('state').textContent).toBe('connected');
    expect(screen.getByTestId('transport').textContent).toBe('websocket');
    await ingest(Array.from({ length: 150 }, (_, i) => ({ channel: 'market:r1', type: 'trade', data: { n: i + 1 } })));
    await waitFor(() => expect(screen.getByTestId('count').textContent).toBe('150'));
    expect(screen.getByTestId('latest').textContent).toBe('150');
    expect(screen.getByTestId('listed').textContent).toBe('100');
    expect(screen.getByTestId('oldest').textContent).toBe('51');
  });
});

function AdStack() {
  const { isConnected, events, latestEvent, getHistory, clearEvents, error } = useWebSocket({
    contractId: 'ST1PQ.campaigns',
    eventTypes: ['campaign_created', 'campaign_updated'],
  });
  return (
    <div>
      <p data-testid="status">Status: {isConnected ? 'Connected' : 'Disconnected'}</p>
      <p data-testid="total">Total Events: {events.length}</p>
      {latestEvent && <p data-testid="latest">Latest: {latestEvent.type} {latestEvent.contractId} {latestEvent.txId} {latestEvent.blockHeight}</p>}
      <p data-testid="error">{error ?? ''}</p>
      <button onClick={() => void getHistory(10)}>history</button>
      <button onClick={clearEvents}>clear</button>
    </div>
  );
}

describe('seed 000 useWebSocket', () => {
  it('shows the contract events it filters for, loads history and clears', async () => {
    await ingest([{ channel: 'contract:ST1PQ.campaigns', type: 'campaign_created', txId: '0xold', blockHeight: 1, data: {} }]);
    const subscribed = new Set<string>();
    const off = h.client.on('subscribed', (i) => subscribed.add(i.target));
    render(
      <PulseProvider client={h.client}>
        <AdStack />
      </PulseProvider>,
    );
    await waitFor(() => expect(screen.getByTestId('status').textContent).toBe('Status: Connected'));
    // Wait for the subscription before ingesting, so the live path is what is tested.
    await waitFor(() => expect(subscribed.has('contract:ST1PQ.campaigns')).toBe(true));
    off();
    expect(screen.getByTestId('total').textContent).toBe('Total Events: 0');
    await ingest([
      { channel: 'contract:ST1PQ.campaigns', type: 'bid_placed', data: {} },
      { channel: 'contract:ST1PQ.campaigns', type: 'campaign_updated', txId: '0xabc', blockHeight: 42, data: { budget: 5 } },
    ]);
    await waitFor(() => expect(screen.getByTestId('latest').textContent).toBe('Latest: campaign_updated ST1PQ.campaigns 0xabc 42'));
    expect(screen.getByTestId('total').textContent).toBe('Total Events: 1');
    fireEvent.click(screen.getByText('history'));
    // History brings the older campaign_created (filtered like the live stream), merged behind
    // the live event without a duplicate of it.
    await waitFor(() => expect(screen.getByTestId('total').textContent).toBe('Total Events: 2'));
    fireEvent.click(screen.getByText('clear'));
    await waitFor(() => expect(screen.getByTestId('total').textContent).toBe('Total Events: 0'));
  });
});

function VowSwap() {
  const { connectionState, analyticsEvents, subscribe } = useAnalyticsWebSocket();
  return (
    <div>
      <span data-testid="state">{connectionState}</span>
      <button onClick={() => subscribe(ChannelType.ANALYTICS)}>all</button>
      <button onClick={() => subscribe(ChannelType.SEARCH)}>search</button>
      <ul>
        {analyticsEvents.map((e) => (
          <li key={e.id} data-testid="ev">
            {e.eventType}:{String(e.term)}:{e.channel}
          </li>
        ))}
      </ul>
    </div>
  );
}

describe('seed 002 useAnalyticsWebSocket', () => {
  it('delivers an analytics:search event once although both analytics and analytics:search are subscribed', async () => {
    render(
      <PulseProvider client={h.client}>
        <VowSwap />
      </PulseProvider>,
    );
    await waitFor(() => expect(screen.getByTestId('state').textContent).toBe('connected'));
    const subscribed = new Set<string>();
    const off = h.client.on('subscribed', (i) => subscribed.add(i.target));
    fireEvent.click(screen.getByText('all'));
    fireEvent.click(screen.getByText('search'));
    await waitFor(() => expect(subscribed.size).toBe(2));
    off();
    await ingest([
      { channel: 'analytics:search', type: 'search', data: { term: 'ring' } },
      { channel: 'analytics:filters', type: 'filter_apply', data: { term: 'gold' } },
    ]);
    await waitFor(() => expect(screen.getAllByTestId('ev')).toHaveLength(2));
    expect(screen.getAllByTestId('ev').map((e) => e.textContent)).toEqual(['filter_apply:gold:analytics:filters', 'search:ring:analytics:search']);
  });
});

function Content({ onQuery }: { onQuery: () => void }) {
  const rt = useRealTimeAnalytics({ contentIds: ['c1', 'c2'] });
  const q = useQuery({
    queryKey: ['analytics', 'c1'],
    queryFn: async () => {
      onQuery();
      return 1;
    },
  });
  return (
    <div>
      <span data-testid="views">{rt.analytics.c1?.views ?? 0}</span>
      <span data-testid="likes">{rt.analytics.c2?.likes ?? 0}</span>
      <span data-testid="last">{rt.lastUpdate ? `${rt.lastUpdate.contentId}.${rt.lastUpdate.field}=${rt.lastUpdate.value}` : '-'}</span>
      <span data-testid="q">{q.status}</span>
      <span data-testid="sim">{String(rt.isSimulating)}</span>
    </div>
  );
}

describe('seed 001 useRealTimeAnalytics', () => {
  it('shows live counters and invalidates the React Query cache of updated content', async () => {
    const qc = new QueryClient();
    let fetches = 0;
    const subscribed = new Set<string>();
    const off = h.client.on('subscribed', (i) => subscribed.add(i.target));
    render(
      <QueryClientProvider client={qc}>
        <PulseProvider client={h.client} queryClient={qc}>
          <Content onQuery={() => fetches++} />
        </PulseProvider>
      </QueryClientProvider>,
    );
    await waitFor(() => expect(screen.getByTestId('q').textContent).toBe('success'));
    expect(fetches).toBe(1);
    await waitFor(() => expect(subscribed.has('content:c1') && subscribed.has('content:c2')).toBe(true));
    off();
    expect(screen.getByTestId('sim').textContent).toBe('false');
    // The seed's HTTP trigger, as its server documents it.
    const post = (body: Record<string, unknown>) =>
      fetch(`${h.url}/api/analytics/trigger-update`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
    expect((await post({ contentId: 'c1', field: 'views', increment: 1 })).status).toBe(200);
    await waitFor(() => expect(screen.getByTestId('views').textContent).toBe('1'));
    await post({ contentId: 'c1', field: 'views', increment: 5 });
    await post({ contentId: 'c2', field: 'likes', increment: 2 });
    await waitFor(() => expect(screen.getByTestId('views').textContent).toBe('6'));
    await waitFor(() => expect(screen.getByTestId('likes').textContent).toBe('2'));
    expect(screen.getByTestId('last').textContent).toBe('c2.likes=2');
    await waitFor(() => expect(fetches).toBeGreaterThan(1));
  });

  it('simulates updates when asked (simulateUpdates: true), flagged as simulated', async () => {
    function Sim() {
      const rt = useRealTimeAnalytics({ contentIds: ['s1'], simulateUpdates: true, interval: 10 });
      return (
        <div>
          <span data-testid="sim">{String(rt.isSimulating)}</span>
          <span data-testid="n">{rt.updates.length}</span>
          <span data-testid="flag">{String(rt.lastUpdate?.simulated ?? '-')}</span>
        </div>
      );
    }
    render(
      <PulseProvider client={h.client}>
        <Sim />
      </PulseProvider>,
    );
    expect(screen.getByTestId('sim').textContent).toBe('true');
    await waitFor(() => expect(Number(screen.getByTestId('n').textContent)).toBeGreaterThan(2));
    expect(screen.getByTestId('flag').textContent).toBe('true');
  });
});

describe('metric hooks', () => {
  it('useMetrics shows the fetched snapshot, then live pushes', async () => {
    function Market() {
      const { values, loading } = useMetrics<MarketplaceValues>('marketplace');
      return (
        <div>
          <span data-testid="loading">{String(loading)}</span>
          <span data-testid="searches">{values ? values.searches : '-'}</span>
          <span data-testid="top">{values?.popularSearchTerms[0]?.key ?? '-'}</span>
        </div>
      );
    }
    const before = (await (await fetch(`${h.url}/v1/metrics/marketplace`)).json()) as { values: MarketplaceValues };
    render(
      <PulseProvider client={h.client}>
        <Market />
      </PulseProvider>,
    );
    await waitFor(() => expect(screen.getByTestId('searches').textContent).toBe(String(before.values.searches)));
    await ingest([
      { channel: 'analytics:search', type: 'search', data: { term: 'diamond' } },
      { channel: 'analytics:search', type: 'search', data: { term: 'diamond' } },
      { channel: 'analytics:search', type: 'search', data: { term: 'pearl' } },
    ]);
    await waitFor(() => expect(screen.getByTestId('searches').textContent).toBe(String(before.values.searches + 3)));
    expect(screen.getByTestId('top').textContent).toBe('diamond');
  });

  it("seed 003 useRealtimeMetrics: the platform set in the seed's shape, with its own client", async () => {
    function KnowTon() {
      const { metrics, isConnected, error } = useRealtimeMetrics({ url: h.url, WebSocket: WebSocket as unknown as WebSocketCtor });
      if (error) return <div data-testid="error">{error}</div>;
      if (!metrics) return <div>Loading...</div>;
      return (
        <div>
          <h2 data-testid="today">Revenue Today: ${metrics.revenue.today}</h2>
          <p data-testid="users">Active Users: {metrics.activeUsers.current}</p>
          <p data-testid="tx">{metrics.transactions.completed}/{metrics.transactions.total}</p>
          <p data-testid="status">Status: {isConnected ? 'Live' : 'Disconnected'}</p>
        </div>
      );
    }
    render(<KnowTon />);
    await waitFor(() => expect(screen.getByTestId('status').textContent).toBe('Status: Live'));
    const base = (await (await fetch(`${h.url}/api/v1/analytics/realtime-metrics`)).json()) as { revenue: { today: number }; transactions: { completed: number; total: number } };
    await ingest([
      { channel: 'payments:k', type: 'transaction', userId: 'k1', data: { transactionId: 'k-t1', status: 'completed', amount: 12.5 } },
      { channel: 'payments:k', type: 'transaction', userId: 'k2', data: { transactionId: 'k-t2', status: 'pending', amount: 3 } },
    ]);
    await waitFor(() => expect(screen.getByTestId('today').textContent).toBe(`Revenue Today: $${base.revenue.today + 12.5}`));
    expect(screen.getByTestId('tx').textContent).toBe(`${base.transactions.completed + 1}/${base.transactions.total + 2}`);
  });

  it('seed 003 useRealtimeMetrics: gives up after its attempts, then reconnect() starts again', async () => {
    // A port that was free a moment ago: nothing listens there.
    const probe = createServer();
    await new Promise<void>((r) => probe.listen(0, '127.0.0.1', r));
    const closedPort = (probe.address() as AddressInfo).port;
    await new Promise((r) => probe.close(r));
    function Unreachable() {
      const { error, reconnect, isConnected } = useRealtimeMetrics({
        url: `http://127.0.0.1:${closedPort}`,
        WebSocket: WebSocket as unknown as WebSocketCtor,
        backoff: { minDelay: 5, maxDelay: 10, maxAttempts: 2 },
      });
      const [failures, setFailures] = useState(0);
      useEffect(() => {
        if (error?.startsWith('Connection failed')) setFailures((n) => n + 1);
      }, [error]);
      return (
        <div>
          <span data-testid="error">{error ?? ''}</span>
          <span data-testid="failures">{failures}</span>
          <span data-testid="live">{String(isConnected)}</span>
          <button onClick={reconnect}>Reconnect</button>
        </div>
      );
    }
    render(<Unreachable />);
    await waitFor(() => expect(screen.getByTestId('error').textContent).toMatch(/^Connection failed: gave up after 2 attempts/));
    expect(screen.getByTestId('failures').textContent).toBe('1');
    fireEvent.click(screen.getByText('Reconnect'));
    // A fresh budget of attempts, spent again: the error cleared and came back.
    await waitFor(() => expect(screen.getByTestId('failures').textContent).toBe('2'));
    expect(screen.getByTestId('live').textContent).toBe('false');
  });
});
