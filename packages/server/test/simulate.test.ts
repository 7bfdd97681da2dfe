/**
 * Demo traffic: a real server with SIMULATE=true feeds every seed domain through the normal
 * ingest path — events land in the store (read back over HTTP) and reach a subscribed native
 * WebSocket client. The scenario itself is checked with seeded randomness.
 */
import { afterEach, describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { Scenario, DEMO, toWei } from '../src/sources/simulate.js';
import { startTestServer, waitFor, http, WsCollector, type TestServer } from './support/index.js';
import { rng as seeded } from './metrics-script.js';

describe('scenario', () => {
  it('covers every seed domain with the event types the metric sets read', () => {
    let t = 1_700_000_000_000;
    const s = new Scenario({ random: seeded(1), now: () => (t += 50) });
    const events = s.next(3000);
    const types = new Set(events.map((e) => `${e.channel.split(':')[0]}/${e.type}`));
    for (const want of [
      'contract/impression',
      'contract/click',
      'contract/payment_processed',
      'contract/auction_created',
      'contract/auction_bid_placed',
      'contract/auction_finalized',
      'content/content_view',
      'content/like',
      'content/purchase',
      'platform/transaction',
      'analytics/search',
      'analytics/filter_apply',
      'analytics/listing_view',
      'analytics/session_start',
      'market/market:trade',
      'global/market:created',
    ]) {
      expect(types, want).toContain(want);
    }
    // Clicks are a plausible fraction of impressions (the CTR card must look real).
    const imp = events.filter((e) => e.type === 'impression').length;
    const clk = events.filter((e) => e.type === 'click').length;
    expect(clk / imp).toBeGreaterThan(0.03);
    expect(clk / imp).toBeLessThan(0.3);
  });

  it('replays exactly with the same seed and clock', () => {
    const run = () => {
      let t = 1_700_000_000_000;
      return new Scenario({ random: seeded(42), now: () => (t += 7) }).next(500);
    };
    expect(run()).toEqual(run());
  });

  it('keeps auction bids rising and transactions settling once', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 2 ** 31 }), (seed) => {
        const events = new Scenario({ random: seeded(seed) }).next(1500);
        const highest = new Map<string, number>();
        const settled = new Set<string>();
        for (const e of events) {
          const d = e.data as Record<string, unknown>;
          if (e.type === 'auction_bid_placed') {
            const id = d.auctionId as string;
            expect(d.amount as number).toBeGreaterThan(highest.get(id) ?? 0);
            highest.set(id, d.amount as number);
          }
          if (e.type === 'transaction' && d.status !== 'pending') {
            expect(settled.has(d.transactionId as string)).toBe(false);
            settled.add(d.transactionId as string);
          }
          if (e.type === 'market:trade') {
            const yes = Number(BigInt(d.newYesPrice as string) / 10n ** 12n) / 1e6;
            expect(yes).toBeGreaterThanOrEqual(0.02);
            expect(yes).toBeLessThanOrEqual(0.98);
          }
        }
      }),
      { numRuns: 25 },
    );
  });

  it('writes wei amounts exactly', () => {
    expect(toWei(1)).toBe('1000000000000000000');
    expect(toWei(0.25)).toBe('250000000000000000');
    expect(toWei(12.34)).toBe('12340000000000000000');
  });
});

describe('SIMULATE=true on a real server', () => {
  let server: TestServer | null = null;
  afterEach(async () => {
    await server?.stop();
    server = null;
  });

  it('ingests demo events for every domain: stored, and pushed to a subscribed client', async () => {
    server = await startTestServer({ env: { SIMULATE: 'true', SIMULATE_RATE: '400' } });
    const ws = await WsCollector.open(`${server.wsUrl}/ws`);
    const patterns = ['contract:*', 'content:*', 'analytics:*', 'market:*', 'platform:*'];
    patterns.forEach((channel, i) => ws.send({ op: 'subscribe', id: `s${i}`, channel }));
    const seen = new Set<string>();
    await waitFor(
      () => {
        for (const m of ws.messages) {
          if (m.type !== 'events') continue;
          for (const e of m.events as Array<{ channel: string }>) seen.add(e.channel.split(':')[0]!);
        }
        return ['contract', 'content', 'analytics', 'market', 'platform'].every((ns) => seen.has(ns));
      },
      { what: 'simulated events on every namespace', timeoutMs: 10_000 },
    );
    // The same events are in the store: read them back through the polling API.
    for (const channel of [DEMO.campaigns, DEMO.search, DEMO.transactions]) {
      const r = await waitFor(
        async () => {
          const res = await http<{ events: Array<{ type: string }> }>('GET', `${server!.url}/v1/channels/${encodeURIComponent(channel)}/events?limit=50`);
          return res.status === 200 && res.body.events.length > 0 ? res.body : null;
        },
        { what: `stored events on ${channel}`, timeoutMs: 10_000 },
      );
      expect(r.events.length).toBeGreaterThan(0);
    }
    // They went through ingest like any other source.
    const prom = await http('GET', `${server.url}/metrics`);
    expect(prom.text).toMatch(/pulse_events_ingested_total\{source="simulate"\} [1-9]/);
    // …and every generated event was valid.
    expect(prom.text).not.toMatch(/pulse_events_rejected_total\{[^}]*\} [1-9]/);
    ws.ws.close();
  });

  it('is off by default', async () => {
    server = await startTestServer();
    const prom = await http('GET', `${server.url}/metrics`);
    expect(prom.text).not.toMatch(/source="simulate"/);
    const ch = await http<{ channels: unknown[] }>('GET', `${server.url}/v1/channels`);
    expect(ch.body.channels).toEqual([]);
  });
});
