/**
 * The built-in sets against a known event script: every seed-shaped number is worked out by
 * hand in the comments, then checked through the engine, the HTTP routes (Fastify inject) and
 * the coalesced pushes.
 */
import { describe, expect, it } from 'vitest';
import Fastify from 'fastify';
import type { PulseEvent } from '@pulse/protocol';
import { MetricsEngine, platformSnapshot, registerMetricsRoutes } from '../src/metrics/index.js';
import { engineQueries } from './metrics-script.js';

const NOW = Date.UTC(2026, 10, 25, 12, 0, 0); // Wednesday 25 Nov 2026, 12:00 UTC (week began Monday 23rd)
const M = 60_000;
let seq = 0;
function ev(channel: string, type: string, ts: number, data: Record<string, unknown> = {}, userId?: string): PulseEvent {
  seq++;
  return { id: `e${seq}`, channel, type, ts, data, offset: seq, epoch: 'x', ...(userId ? { userId } : {}) };
}
const tx = (id: string, status: string, amount: number, ts: number, user: string) =>
  ev('payments:main', 'transaction', ts, { transactionId: id, status, amount }, user);

function platformScript(): PulseEvent[] {
  return [
    tx('t5', 'completed', 40, Date.UTC(2026, 9, 30, 12), 'u6'), // last month
    tx('t2', 'completed', 50, NOW - 24 * 60 * M, 'u2'), // yesterday, this week
    tx('t1', 'pending', 100, NOW - 10 * M, 'u1'),
    tx('t1', 'completed', 100, NOW - 4 * M, 'u1'),
    tx('t3', 'failed', 30, NOW - 1 * M, 'u2'),
    tx('t4', 'pending', 20, NOW - 2 * M, 'u3'),
    tx('t6', 'completed', 10, NOW - 3 * M, 'u7'),
    tx('t6', 'pending', 10, NOW - 6 * M, 'u7'), // arrives later but is older: t6 stays completed
    ev('content:1', 'content_view', NOW - 3 * M, {}, 'u1'),
    ev('content:1', 'content_view', NOW - 3 * M, {}, 'u4'),
    ev('content:2', 'content_view', NOW - 30_000, {}, 'u5'),
    ev('content:2', 'content_view', NOW - 20_000, {}, 'u4'),
    ev('shop:1', 'purchase', NOW - 2 * M, {}, 'u1'),
    // Late (20 min old, within the 1 h lateness): seven users active together at 11:40.
    ...['u8', 'u9', 'u10', 'u11', 'u12', 'u13', 'u14'].map((u) => ev('content:3', 'content_view', NOW - 20 * M, {}, u)),
  ];
}

describe('platform (seed 003)', () => {
  it('computes the realtime-metrics shape', () => {
    const engine = new MetricsEngine({ now: () => NOW });
    engine.onEvents(platformScript());
    expect(platformSnapshot(engine)).toEqual({
      // completed: t1 100 (today), t6 10 (today), t2 50 (this week), t5 40 (October)
      revenue: { total: 200, today: 110, thisWeek: 160, thisMonth: 160 },
      // last 5 min: u1 u2 u3 u4 u5 u7; today adds the seven 11:40 users; the 11:36–11:40 window holds 7
      activeUsers: { current: 6, today: 13, peak24h: 7 },
      transactions: { total: 6, pending: 1, completed: 4, failed: 1 },
      content: { totalViews: 11, totalPurchases: 1, conversionRate: 9.09 },
      timestamp: new Date(NOW).toISOString(),
    });
  });

  it('"today" follows METRICS_TZ', () => {
    // In Pacific/Kiritimati (UTC+14) 25 Nov 12:00 UTC is already 26 Nov 02:00, and yesterday's
    // 24 Nov 12:00 UTC payment falls on 25 Nov local: not today, still this week.
    const engine = new MetricsEngine({ now: () => NOW, timeZone: 'Pacific/Kiritimati' });
    engine.onEvents(platformScript());
    const p = platformSnapshot(engine);
    expect(p.revenue).toEqual({ total: 200, today: 110, thisWeek: 160, thisMonth: 160 });
    const late = new MetricsEngine({ now: () => NOW + 11 * 60 * M, timeZone: 'Pacific/Kiritimati' }); // 26 Nov 13:00 local
    late.onEvents(platformScript());
    expect(platformSnapshot(late).revenue.today).toBe(110);
    const utc = new MetricsEngine({ now: () => NOW + 13 * 60 * M }); // 26 Nov 01:00 UTC: a new day
    utc.onEvents(platformScript());
    expect(platformSnapshot(utc).revenue.today).toBe(0);
    expect(() => new MetricsEngine({ timeZone: 'Mars/Olympus' })).toThrow(expect.objectContaining({ code: 'INVALID_REQUEST' }));
  });
});

const C = 'contract:ST1PQHQKV0RJXZFY1DGX8MNSNYVE3VGZJSRTPGZGM.campaigns';
function campaignScript(): PulseEvent[] {
  const t = NOW - 5 * M;
  return [
    ev(C, 'impression', t, { campaignId: 'c1', publisherId: 'p1' }),
    ev(C, 'impression', t, { campaignId: 'c1', publisherId: 'p1' }),
    ev(C, 'impression', t + 1000, { campaignId: 'c1', publisherId: 'p2' }),
    ev(C, 'impression', t + 61_000, { campaignId: 'c2', publisherId: 'p2' }),
    ev(C, 'click', t + 2000, { campaignId: 'c1', publisherId: 'p1' }),
    ev(C, 'payment_processed', t + 3000, { campaignId: 'c1', publisherId: 'p1', amount: 25 }),
    ev(C, 'payment_processed', t + 4000, { campaignId: 'c2', publisherId: 'p2', amount: '5' }),
    ev(C, 'auction_created', t, { auctionId: 'a1' }),
    ev(C, 'auction_bid_placed', t + 1000, { auctionId: 'a1', campaignId: 'c1', amount: 3 }),
    ev(C, 'auction_bid_placed', t + 1000, { auctionId: 'a2', campaignId: 'c2', amount: 4 }),
    ev(C, 'auction_finalized', t + 5000, { auctionId: 'a2' }),
    ev('contract:other', 'impression', t, { campaignId: 'c9' }),
  ];
}

describe('campaign (seed 000)', () => {
  it('per contract: impressions, clicks, CTR, revenue, active bids; leaderboards; series', () => {
    const engine = new MetricsEngine({ now: () => NOW });
    engine.onEvents(campaignScript());
    const scope = C.slice('contract:'.length);
    const v = engine.snapshot('campaign', scope).values;
    expect(v).toMatchObject({
      totalEvents: 11,
      impressions: 4,
      clicks: 1,
      ctr: 25,
      revenue: 30,
      bids: 2,
      activeBids: 1,
      auctions: { total: 2, byStatus: { bidding: 1, finalized: 1 } },
      eventsByType: { impression: 4, click: 1, payment_processed: 2, auction_created: 1, auction_bid_placed: 2, auction_finalized: 1 },
      revenueByCampaign: { c1: 25, c2: 5 },
      ctrByCampaign: { c1: 33.33, c2: 0 },
      impressionsByPublisher: { p1: 2, p2: 2 },
    });
    expect(engine.snapshot('campaign').values.impressions).toBe(5); // global counts the other contract too
    const lb = engine.leaderboard({ set: 'campaign', metric: 'revenueByCampaign', scope, limit: 10 });
    expect(lb.entries).toEqual([
      { rank: 1, key: 'c1', value: 25 },
      { rank: 2, key: 'c2', value: 5 },
    ]);
    const contracts = engine.leaderboard({ set: 'campaign', metric: 'impressions' });
    expect(contracts.rankedBy).toBe('scope');
    expect(contracts.entries.map((e) => [e.key, e.value])).toEqual([[scope, 4], ['other', 1]]);
    const s = engine.series({ set: 'campaign', metric: 'impressions', scope, window: 'hour' });
    expect(s.granularity).toBe('1m');
    expect(s.points).toHaveLength(60);
    expect(s.points.reduce((a, p) => a + p.v, 0)).toBe(4);
    expect(s.points.find((p) => p.t === NOW - 5 * M)?.v).toBe(3);
    expect(s.points.find((p) => p.t === NOW - 4 * M)?.v).toBe(1);
    const day = engine.series({ set: 'campaign', metric: 'revenue', scope, window: 'day' });
    expect(day.granularity).toBe('1h');
    expect(day.points).toHaveLength(24);
    expect(day.points.at(-2)).toEqual({ t: NOW - 60 * M, v: 30 }); // the last point is the current hour, still empty
    expect(day.points.at(-1)).toEqual({ t: NOW, v: 0 });
  });
});

describe('content (seed 001)', () => {
  it('counts views/likes/shares/comments; analytics_update sets the value; trending score and tier', () => {
    const engine = new MetricsEngine({ now: () => NOW, definitions: { content: { tiers: { excellent: 500, good: 100, average: 20 }, trending: 100 } } });
    engine.onEvents([
      ev('content:42', 'content_view', NOW),
      ev('content:42', 'content_view', NOW),
      ev('content:42', 'like', NOW),
      ev('content:42', 'analytics_update', NOW, { field: 'views', increment: 1, value: 100 }),
      ev('content:42', 'content_view', NOW),
      ev('content:42', 'analytics_update', NOW, { field: 'likes', increment: 2 }),
      ev('content:7', 'share', NOW),
      ev('content:7', 'comment', NOW),
      ev('content:7', 'comment', NOW),
    ]);
    // 42: views 101, likes 3 → score 101 + 3×5 = 116 → good, trending (≥ 100)
    expect(engine.snapshot('content', '42').values).toEqual({ views: 101, likes: 3, shares: 0, comments: 0, score: 116, tier: 'good', trending: true });
    // 7: shares 1 ×10 + comments 2 ×3 = 16 → below every tier
    expect(engine.snapshot('content', '7').values).toMatchObject({ score: 16, tier: 'poor', trending: false });
    expect(engine.snapshot('content').values).toEqual({ views: 101, likes: 3, shares: 1, comments: 2, trendingContent: [{ key: '42', value: 116 }] });
    expect(engine.leaderboard({ set: 'content', metric: 'score' }).entries.map((e) => e.key)).toEqual(['42', '7']);
  });
});

describe('marketplace (seed 002) and markets (seed 004)', () => {
  it('popular search terms, filters, listing views, sessions', () => {
    const engine = new MetricsEngine({ now: () => NOW });
    engine.onEvents([
      ev('analytics:search', 'search', NOW, { query: 'shoes', sessionId: 's1' }, 'a'),
      ev('analytics:search', 'search', NOW, { query: 'hat', sessionId: 's1' }, 'a'),
      ev('analytics:search', 'search', NOW, { searchTerm: 'shoes', sessionId: 's2' }, 'b'),
      ev('analytics:filters', 'filter_apply', NOW, { filterType: 'price', sessionId: 's2' }),
      ev('analytics:filters', 'filter_apply', NOW, { filterType: 'price' }),
      ev('analytics:filters', 'filter_apply', NOW, { filterType: 'color' }),
      ev('analytics:listings', 'listing_view', NOW, { listingId: 'L1', sessionId: 's3' }),
      ev('analytics:listings', 'listing_view', NOW, { listingId: 'L1' }),
      ev('shop:x', 'search', NOW, { query: 'ignored' }),
    ]);
    expect(engine.snapshot('marketplace').values).toEqual({
      searches: 3,
      popularSearchTerms: [{ key: 'shoes', value: 2 }, { key: 'hat', value: 1 }],
      filterUses: 3,
      popularFilters: [{ key: 'price', value: 2 }, { key: 'color', value: 1 }],
      listingViews: 2,
      topListings: [{ key: 'L1', value: 2 }],
      sessions: 3,
      uniqueUsers: 2,
    });
  });

  it('volume, trade count, last price per market; user-room copies are not counted twice', () => {
    const engine = new MetricsEngine({ now: () => NOW });
    const trade = (marketId: string, amount: string, price: string, ts: number, trader: string) => ({ marketId, amount, price, newYesPrice: price, newNoPrice: String(1e18 - Number(price)), trader, tradeId: `${marketId}${ts}` });
    const t1 = trade('m1', '1000000000000000000', '500000000000000000', NOW - 2000, '0xA');
    engine.onEvents([
      ev('market:m1', 'market:trade', NOW - 2000, t1),
      ev('user:0xA', 'market:trade', NOW - 2000, t1),
      ev('market:m1', 'market:trade', NOW - 1000, trade('m1', '2000000000000000000', '600000000000000000', NOW - 1000, '0xB')),
      ev('market:m1', 'market:trade', NOW - 3000, trade('m1', '1000000000000000000', '100000000000000000', NOW - 3000, '0xA')), // out of order: not the last price
      ev('market:m2', 'market:trade', NOW, trade('m2', '3', '7', NOW, '0xC')),
    ]);
    expect(engine.snapshot('markets', 'm1').values).toEqual({ trades: 3, volume: 4e18, lastPrice: 6e17, lastYesPrice: 6e17, lastNoPrice: 4e17, traders: 2 });
    expect(engine.snapshot('markets').values).toMatchObject({ trades: 4, lastPrice: 7, traders: 3 });
    expect(engine.leaderboard({ set: 'markets', metric: 'volume' }).entries.map((e) => e.key)).toEqual(['m1', 'm2']);
  });
});

describe('HTTP routes and pushes', () => {
  it('serves snapshots, series, leaderboards and realtime-metrics; bad queries are coded errors', async () => {
    const engine = new MetricsEngine({ now: () => NOW });
    engine.onEvents([...platformScript(), ...campaignScript()]);
    const app = Fastify();
    app.setErrorHandler((err, _req, reply) => {
      const e = err as { status?: number; code?: string; message: string };
      reply.status(e.status ?? 500).send({ code: e.code, message: e.message });
    });
    registerMetricsRoutes(app, engineQueries(engine));
    const get = async (url: string) => {
      const r = await app.inject({ method: 'GET', url });
      return { status: r.statusCode, body: r.json() as Record<string, unknown> };
    };
    expect((await get('/api/v1/analytics/realtime-metrics')).body).toMatchObject({ revenue: { total: 200 }, transactions: { total: 6 } });
    expect((await get('/v1/metrics')).body).toEqual({ sets: ['platform', 'campaign', 'content', 'marketplace', 'markets'] });
    const scope = encodeURIComponent(C.slice('contract:'.length));
    expect((await get(`/v1/metrics/campaign?scope=${scope}`)).body).toMatchObject({ set: 'campaign', values: { impressions: 4, ctr: 25 } });
    expect((await get(`/v1/series?set=campaign&metric=impressions&scope=${scope}&window=hour`)).body).toMatchObject({ granularity: '1m' });
    expect((await get(`/v1/leaderboard?set=campaign&metric=revenueByCampaign&scope=${scope}&limit=1`)).body).toMatchObject({ entries: [{ rank: 1, key: 'c1', value: 25 }] });
    expect(await get('/v1/metrics/nope')).toMatchObject({ status: 404, body: { code: 'NOT_FOUND' } });
    expect(await get('/v1/series?set=campaign&metric=impressions&window=forever')).toMatchObject({ status: 400, body: { code: 'INVALID_REQUEST' } });
    expect(await get('/v1/series?set=campaign&metric=ctr')).toMatchObject({ status: 404, body: { code: 'NOT_FOUND' } });
    expect(await get('/v1/series?set=campaign&metric=clicksByCampaign')).toMatchObject({ status: 400, body: { code: 'INVALID_REQUEST' } });
    expect(await get('/v1/leaderboard?set=platform&metric=contentViews')).toMatchObject({ status: 400, body: { code: 'INVALID_REQUEST' } });
    expect(await get('/v1/leaderboard?set=campaign&metric=ctr&limit=0')).toMatchObject({ status: 400, body: { code: 'INVALID_REQUEST' } });
    expect(await get('/v1/metrics/campaign?scope=a&extra=1')).toMatchObject({ status: 400, body: { code: 'INVALID_REQUEST' } });
    await app.close();
  });

  it('pushes coalesced snapshots only for what changed', () => {
    let now = NOW;
    const pushed: Array<{ channel: string; type: string; data: { values: Record<string, unknown> } }> = [];
    const engine = new MetricsEngine({ now: () => now, publish: (channel, type, data) => pushed.push({ channel, type, data: data as never }) });
    engine.onEvents([ev('content:42', 'like', NOW), ev('content:42', 'like', NOW), ev('content:9', 'share', NOW)]);
    engine.flush();
    const channels = pushed.map((p) => p.channel).sort();
    // platform is time-dependent (windows) so its global snapshot goes out too
    expect(channels).toEqual(['metrics:content', 'metrics:content:42', 'metrics:content:9', 'metrics:platform'].sort());
    expect(pushed.find((p) => p.channel === 'metrics:content:42')).toMatchObject({ type: 'snapshot', data: { values: { likes: 2 } } });
    pushed.length = 0;
    engine.flush();
    expect(pushed).toEqual([]); // nothing changed
    engine.onEvents([ev('content:9', 'share', NOW)]);
    now += 1000;
    engine.flush();
    expect(pushed.map((p) => p.channel).sort()).toEqual(['metrics:content', 'metrics:content:9']);
  });

  /**
   * An engine pushing every 20 ms whose first tick has N changed campaign scopes (`contract:<prefix><i>`);
   * `onFirstPush` runs in a turn queued at the tick's first publish, before its next slice.
   */
  function manyScopes(prefix: string, onFirstPush: (engine: MetricsEngine) => void): { engine: MetricsEngine; pushed: string[]; N: number; now: number } {
    const pushed: string[] = [];
    const engine: MetricsEngine = new MetricsEngine({
      pushMs: 20,
      publish: (channel) => {
        if (pushed.length === 0) setImmediate(() => onFirstPush(engine));
        pushed.push(channel);
      },
    });
    const N = 3000;
    const now = Date.now();
    engine.onEvents(Array.from({ length: N }, (_, i) => ev(`contract:${prefix}${i}`, 'impression', now, { campaignId: 'k', publisherId: 'p' })));
    return { engine, pushed, N, now };
  }

  it('spreads a push tick over many scopes across event-loop turns, and pushes each changed scope once', async () => {
    let firstTurnBreak = -1;
    const { engine, pushed, N, now } = manyScopes('c', () => (firstTurnBreak = pushed.length));
    engine.start();
    const scoped = () => pushed.filter((c) => c.startsWith('metrics:campaign:'));
    while (scoped().length < N) await new Promise((r) => setTimeout(r, 10));
    // Another event-loop turn ran between the first and the last push of the tick.
    expect(firstTurnBreak).toBeGreaterThan(0);
    expect(firstTurnBreak).toBeLessThan(pushed.length);
    expect(new Set(scoped()).size).toBe(N);
    // An event applied after the tick marks its scope again: pushed once more, with the new value.
    engine.onEvents([ev('contract:c7', 'impression', now, { campaignId: 'k', publisherId: 'p' })]);
    while (scoped().length < N + 1) await new Promise((r) => setTimeout(r, 10));
    expect(scoped().slice(N)).toEqual(['metrics:campaign:c7']);
    expect(engine.snapshot('campaign', 'c7').values.impressions).toBe(2);
    engine.close();
  });

  it('publishes nothing once closed, also when closed between the slices of a push tick', async () => {
    let atClose = -1;
    // Closed after the first slice, before the next one (queued ahead of it).
    const { engine, pushed, N } = manyScopes('d', (e) => {
      e.close();
      atClose = pushed.length;
    });
    engine.start();
    const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
    while (atClose < 0) await sleep(10);
    expect(atClose).toBeGreaterThan(0);
    expect(atClose).toBeLessThan(N); // closed in the middle of the tick
    await sleep(100); // several push intervals, many event-loop turns
    expect(pushed.length).toBe(atClose);
  });
});
