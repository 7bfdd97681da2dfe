/**
 * A deterministic mixed event script for the metrics restart tests (every built-in set, with
 * duplicates, late and out-of-order events), and a digest of everything the engine answers.
 * Also the seeded PRNG and the engine-backed route queries other metric tests share.
 */
import type { EventInput } from '@pulse/protocol';
import { platformSnapshot, type Metrics, type MetricsEngine, type registerMetricsRoutes } from '../src/metrics/index.js';

/** Small seeded PRNG (mulberry32): the same script on every run. */
export function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** The query side `registerMetricsRoutes` needs, answered by a bare engine. */
export function engineQueries(engine: MetricsEngine): Parameters<typeof registerMetricsRoutes>[1] {
  return {
    snapshot: (...a) => engine.snapshot(...a),
    series: (...a) => engine.series(...a),
    leaderboard: (...a) => engine.leaderboard(...a),
    platformSnapshot: () => platformSnapshot(engine),
    setNames: () => engine.setNames(),
  };
}

export const CONTRACT = 'ST1PQHQKV0RJXZFY1DGX8MNSNYVE3VGZJSRTPGZGM.campaigns';

/** `n` events ending near `t0`; ids repeat (duplicates) and some are hours old (late). */
export function metricsScript(t0: number, n: number, seed = 1): EventInput[] {
  const r = rng(seed);
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(r() * xs.length)];
  const out: EventInput[] = [];
  for (let i = 0; i < n; i++) {
    const id = `s${seed}-${Math.floor(r() * n * 0.9)}`; // ~10 % repeats
    const age = r() < 0.1 ? r() * 3 * 3_600_000 : r() * 20 * 60_000;
    const ts = Math.round(t0 - age);
    const userId = `u${Math.floor(r() * 30)}`;
    const k = Math.floor(r() * 6);
    switch (pick(['tx', 'content', 'campaign', 'market', 'search'] as const)) {
      case 'tx':
        out.push({ id, channel: 'payments:main', type: 'transaction', ts, userId, data: { transactionId: `t${k}${Math.floor(r() * 5)}`, status: pick(['pending', 'completed', 'failed']), amount: Math.floor(r() * 500) } });
        break;
      case 'content':
        out.push({ id, channel: `content:${40 + k}`, type: pick(['content_view', 'like', 'share', 'comment', 'analytics_update']), ts, userId, data: { field: 'views', increment: 1, ...(r() < 0.3 ? { value: Math.floor(r() * 100) } : {}) } });
        break;
      case 'campaign':
        out.push({ id, channel: `contract:${CONTRACT}`, type: pick(['impression', 'impression', 'click', 'payment_processed', 'auction_bid_placed', 'auction_finalized']), ts, data: { campaignId: `c${k}`, publisherId: `p${k % 3}`, amount: Math.floor(r() * 50), auctionId: `a${k}` } });
        break;
      case 'market':
        out.push({ id, channel: `market:m${k % 2}`, type: 'market:trade', ts, data: { marketId: `m${k % 2}`, amount: String(Math.floor(r() * 1e6)), price: String(Math.floor(r() * 1000)), trader: userId } });
        break;
      case 'search':
        out.push({ id, channel: 'analytics:search', type: 'search', ts, userId, data: { query: pick(['shoes', 'hat', 'ring', 'dress']), sessionId: `s${k}` } });
        break;
    }
  }
  return out;
}

/** Every set's global snapshot, the scoped ones the script touches, series and leaderboards. */
export function digest(m: Metrics): unknown {
  const snaps: Record<string, unknown> = {};
  for (const set of m.setNames()) snaps[set] = m.snapshot(set).values;
  snaps.campaignScoped = m.snapshot('campaign', CONTRACT).values;
  for (let k = 0; k < 6; k++) snaps[`content${40 + k}`] = m.snapshot('content', String(40 + k)).values;
  snaps.m0 = m.snapshot('markets', 'm0').values;
  return {
    snaps,
    platform: { ...m.platformSnapshot(), timestamp: undefined },
    series: [
      m.series({ set: 'campaign', metric: 'impressions', scope: CONTRACT, window: 'hour' }).points,
      m.series({ set: 'platform', metric: 'transactions', window: 'day' }).points,
      m.series({ set: 'markets', metric: 'volume', window: 'hour' }).points,
    ],
    leaderboards: [
      m.leaderboard({ set: 'campaign', metric: 'revenueByCampaign', scope: CONTRACT }),
      m.leaderboard({ set: 'content', metric: 'score' }),
      m.leaderboard({ set: 'markets', metric: 'volume' }),
    ],
  };
}
