// @vitest-environment jsdom
/**
 * Audit of issue #5: the hooks under StrictMode, and useMetrics after more than one reconnect
 * that could not recover (real servers in child processes).
 */
import { StrictMode } from 'react';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { cleanup, render, screen, waitFor } from '@testing-library/react';
import WebSocket from 'ws';
import { PulseClient, type WebSocketCtor } from '@pulse/client';
import { PulseProvider, useChannel, useConnection, useMetrics, useRealTimeAnalytics } from '../src/index.js';
import { harness, type Harness } from './helpers.js';

const servers: Harness[] = [];
beforeAll(async () => {
  servers.push(...(await Promise.all([harness(), harness(), harness()])));
});
afterAll(async () => {
  await Promise.all(servers.map((s) => s.close()));
});
afterEach(() => cleanup());

describe('StrictMode', () => {
  it('useChannel with a provider-made client: subscribed, connected, every event once', async () => {
    const h = servers[0]!;
    const seen: number[] = [];
    function Channel() {
      const { count, status, latest } = useChannel<{ n: number }>('market:strict', { max: 500 });
      const { state } = useConnection();
      if (latest && seen[seen.length - 1] !== latest.data.n) seen.push(latest.data.n);
      return (
        <p>
          <span data-testid="status">{status}</span>
          <span data-testid="state">{state}</span>
          <span data-testid="count">{count}</span>
        </p>
      );
    }
    render(
      <StrictMode>
        <PulseProvider options={{ url: h.url, WebSocket: WebSocket as unknown as WebSocketCtor }}>
          <Channel />
        </PulseProvider>
      </StrictMode>,
    );
    await waitFor(() => expect(screen.getByTestId('status').textContent).toBe('subscribed'));
    expect(screen.getByTestId('state').textContent).toBe('connected');
    await h.ingest(Array.from({ length: 200 }, (_, i) => ({ channel: 'market:strict', type: 'trade', data: { n: i + 1 } })));
    await waitFor(() => expect(screen.getByTestId('count').textContent).toBe('200'));
    // A second subscription left behind by the double mount would show in the count.
    await h.ingest([{ channel: 'market:strict', type: 'trade', data: { n: 201 } }]);
    await waitFor(() => expect(screen.getByTestId('count').textContent).toBe('201'));
  });
});

describe('useMetrics after reconnects that could not recover', () => {
  it('refetches the snapshot after every recovered: false, not only the first', async () => {
    let current = servers[0]!.url;
    let fetches = 0;
    const counting = (async (input: RequestInfo | URL, init?: RequestInit) => {
      if (String(input).includes('/v1/metrics/marketplace')) fetches++;
      return fetch(input, init);
    }) as typeof fetch;
    const client = new PulseClient({ url: () => current, WebSocket: WebSocket as unknown as WebSocketCtor, fetch: counting, backoff: { minDelay: 20, maxDelay: 100 } });
    const recoveries: Array<boolean | undefined> = [];
    client.on('subscribed', (i) => recoveries.push(i.recovered));
    function Market() {
      const { loading, values } = useMetrics('marketplace');
      return <span data-testid="loading">{String(loading && !values)}</span>;
    }
    render(
      <PulseProvider client={client}>
        <Market />
      </PulseProvider>,
    );
    await waitFor(() => expect(screen.getByTestId('loading').textContent).toBe('false'));
    await waitFor(() => expect(recoveries.length).toBe(1));
    expect(fetches).toBe(1);
    // Another server (another log: its epoch differs): the resubscription cannot recover.
    for (const [i, h] of [servers[1]!, servers[2]!].entries()) {
      current = h.url;
      client.reconnect();
      await waitFor(() => expect(recoveries.length).toBe(i + 2), { timeout: 10_000 });
      expect(recoveries[i + 1]).toBe(false);
      await waitFor(() => expect(fetches).toBe(i + 2), { timeout: 5000 });
    }
    client.disconnect();
  });
});

describe('seed 001 useRealTimeAnalytics counters', () => {
  it('keep the latest value of a content whose updates fell out of the bounded update list', async () => {
    const h = servers[0]!;
    const client = new PulseClient({ url: h.url, WebSocket: WebSocket as unknown as WebSocketCtor });
    function Counters() {
      const rt = useRealTimeAnalytics({ contentIds: ['quiet', 'busy'], maxUpdates: 5 });
      return (
        <p>
          <span data-testid="quiet">{rt.analytics.quiet?.views ?? '-'}</span>
          <span data-testid="busy">{rt.analytics.busy?.likes ?? '-'}</span>
          <span data-testid="n">{rt.updates.length}</span>
        </p>
      );
    }
    const subscribed = new Set<string>();
    client.on('subscribed', (i) => subscribed.add(i.target));
    render(
      <PulseProvider client={client}>
        <Counters />
      </PulseProvider>,
    );
    await waitFor(() => expect(subscribed.size).toBe(2));
    const post = (body: Record<string, unknown>) =>
      fetch(`${h.url}/api/analytics/trigger-update`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
    expect((await post({ contentId: 'quiet', field: 'views', increment: 42 })).status).toBe(200);
    await waitFor(() => expect(screen.getByTestId('quiet').textContent).toBe('42'));
    for (let i = 0; i < 20; i++) await post({ contentId: 'busy', field: 'likes', increment: 1 });
    await waitFor(() => expect(screen.getByTestId('busy').textContent).toBe('20'));
    expect(screen.getByTestId('n').textContent).toBe('5');
    // 'quiet' had no update since: its latest known value is still 42.
    expect(screen.getByTestId('quiet').textContent).toBe('42');
    client.disconnect();
  });
});
