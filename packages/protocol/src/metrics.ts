/**
 * Wire types of live metrics: set snapshots, time series, leaderboards, and the seed 003
 * platform shape. The server's metric engine produces these; the client, React hooks and the
 * dashboard consume them. Snapshots are pushed on `metrics:<set>[:<scope>]` channels as events
 * of type `snapshot` whose `data` is a `MetricSnapshot`.
 */
import { z } from 'zod';

/** Time-bucket sizes. `1d` follows the server's configured time zone (`METRICS_TZ`). */
export const GRANULARITIES = ['1s', '1m', '1h', '1d'] as const;
export type Granularity = (typeof GRANULARITIES)[number];

/** Event type of metric pushes on `metrics:*` channels. */
export const METRICS_SNAPSHOT_TYPE = 'snapshot';

/** Built-in metric sets (users may declare more in `METRICS_CONFIG`). */
export const BUILTIN_METRIC_SETS = ['platform', 'campaign', 'content', 'marketplace', 'markets'] as const;
export type BuiltinMetricSet = (typeof BUILTIN_METRIC_SETS)[number];

/** Channel carrying a set's snapshots: `metrics:platform`, `metrics:campaign:<contractId>`, … */
export function metricsChannel(set: string, scope?: string | null): string {
  return scope ? `metrics:${set}:${scope}` : `metrics:${set}`;
}

/** One ranked entry (top-K values, leaderboards). */
export interface TopEntry {
  key: string;
  value: number;
}

/** Value of an `entity` metric: entities counted once, in their latest status. */
export interface EntityValue {
  /** Number of distinct entities (e.g. transactions). */
  total: number;
  /** Entities per latest status. */
  byStatus: Record<string, number>;
  /** Sum of the amount field per latest status (revenue = `sumByStatus.completed`). */
  sumByStatus: Record<string, number>;
}

export type MetricScalar = number | string | boolean | null;
/**
 * A metric's value in a snapshot:
 * - number (count, sum, distinct, ratio, period, peak, last; `null` when undefined, e.g. 0/0),
 * - `Record<key, scalar>` for metrics with a dimension (`by`) or per-scope scores/tiers,
 * - `TopEntry[]` for top-K,
 * - `EntityValue` for entity metrics.
 */
export type MetricValue = MetricScalar | Record<string, MetricScalar> | TopEntry[] | EntityValue;

export interface MetricSnapshot {
  set: string;
  /** `null` for the set's global snapshot, else the scope key (contract id, content id, market id). */
  scope: string | null;
  /** When the snapshot was computed (ms since epoch, server clock). */
  ts: number;
  /** Highest event time seen by the engine (ms), `null` before the first event. */
  watermark: number | null;
  values: Record<string, MetricValue>;
}

export interface SeriesPoint {
  /** Bucket start, ms since epoch. */
  t: number;
  v: number;
}

export interface MetricSeries {
  set: string;
  metric: string;
  scope: string | null;
  granularity: Granularity;
  /** Inclusive start of the first bucket and exclusive end of the last. */
  from: number;
  to: number;
  /** One point per bucket, oldest first, zero-filled. */
  points: SeriesPoint[];
}

export interface Leaderboard {
  set: string;
  metric: string;
  scope: string | null;
  /** `by` dimension of the metric that was ranked, or `scope` when scopes were ranked. */
  rankedBy: string;
  entries: Array<TopEntry & { rank: number }>;
}

// ---------------------------------------------------------------------------------------------
// Typed views of the built-in sets' snapshot values (what `values` holds for each set).

export interface PlatformValues {
  transactions: EntityValue;
  /** Sum of completed transaction amounts (`transactions.sumByStatus.completed`). */
  revenue: number;
  revenueToday: number;
  revenueThisWeek: number;
  revenueThisMonth: number;
  activeUsers: number;
  activeUsersToday: number;
  activeUsersPeak24h: number;
  contentViews: number;
  purchases: number;
  conversionRate: number | null;
}

export interface CampaignValues {
  totalEvents: number;
  eventsByType: Record<string, number>;
  impressions: number;
  clicks: number;
  /** clicks / impressions × 100, 2 decimals; null without impressions. */
  ctr: number | null;
  revenue: number;
  bids: number;
  /** Auctions whose latest event is a placed bid (not finalized). */
  activeBids: number;
  auctions: EntityValue;
  impressionsByCampaign: Record<string, number>;
  clicksByCampaign: Record<string, number>;
  revenueByCampaign: Record<string, number>;
  bidsByCampaign: Record<string, number>;
  ctrByCampaign: Record<string, number | null>;
  impressionsByPublisher: Record<string, number>;
  clicksByPublisher: Record<string, number>;
  revenueByPublisher: Record<string, number>;
  bidsByPublisher: Record<string, number>;
  ctrByPublisher: Record<string, number | null>;
}

export interface ContentValues {
  views: number;
  likes: number;
  shares: number;
  comments: number;
  /**
   * Scoped snapshots (`metrics:content:<contentId>`) only: the content's weighted score (weights
   * from the thresholds config), its tier (`excellent` | `good` | `average` | `poor`), and whether
   * score ≥ the trending threshold.
   */
  score?: number;
  tier?: string;
  trending?: boolean;
  /** Global snapshot only: the top contents by score among those trending. */
  trendingContent?: TopEntry[];
}

export interface MarketplaceValues {
  searches: number;
  popularSearchTerms: TopEntry[];
  filterUses: number;
  popularFilters: TopEntry[];
  listingViews: number;
  topListings: TopEntry[];
  sessions: number;
  uniqueUsers: number;
}

export interface MarketsValues {
  trades: number;
  volume: number;
  lastPrice: number | null;
  lastYesPrice: number | null;
  lastNoPrice: number | null;
  traders: number;
}

/** Leaderboard metric name for seed 000's `<RealTimeLeaderboard type scoreMetric>`. */
export function campaignLeaderboardMetric(
  type: 'campaigns' | 'publishers',
  scoreMetric: 'revenue' | 'impressions' | 'ctr' | 'bids' | 'clicks',
): string {
  return `${scoreMetric}By${type === 'campaigns' ? 'Campaign' : 'Publisher'}`;
}

/** Seed 003 `GET /api/v1/analytics/realtime-metrics` and `/ws/metrics` `{type:'metrics', data}`. */
export interface RealtimeMetrics {
  revenue: { total: number; today: number; thisWeek: number; thisMonth: number };
  activeUsers: { current: number; today: number; peak24h: number };
  transactions: { total: number; pending: number; completed: number; failed: number };
  content: { totalViews: number; totalPurchases: number; conversionRate: number };
  /** ISO 8601. */
  timestamp: string;
}

// ---------------------------------------------------------------------------------------------
// HTTP query schemas (`GET /v1/metrics/:set`, `/v1/series`, `/v1/leaderboard`).

const name = z.string().min(1).max(100).regex(/^[A-Za-z0-9_\-.]+$/);
const scope = z.string().min(1).max(200).regex(/^[A-Za-z0-9_\-.:@~+]+$/);

export const snapshotQuerySchema = z.object({ scope: scope.optional() }).strict();

/** `window` accepts seed 000's `hour` (per minute) and `day` (per hour) or a duration like `30m`. */
export const seriesQuerySchema = z
  .object({
    set: name,
    metric: name,
    scope: scope.optional(),
    granularity: z.enum(GRANULARITIES).optional(),
    window: z.string().regex(/^(hour|day|\d{1,6}(s|m|h|d))$/).optional(),
    /** Inclusive end (ms); defaults to now. */
    to: z.coerce.number().int().min(0).optional(),
    maxPoints: z.coerce.number().int().min(1).max(2000).optional(),
  })
  .strict();

export const leaderboardQuerySchema = z
  .object({
    set: name,
    metric: name,
    scope: scope.optional(),
    limit: z.coerce.number().int().min(1).max(1000).optional(),
    order: z.enum(['desc', 'asc']).optional(),
  })
  .strict();

export type SnapshotQuery = z.infer<typeof snapshotQuerySchema>;
export type SeriesQuery = z.infer<typeof seriesQuerySchema>;
export type LeaderboardQuery = z.infer<typeof leaderboardQuerySchema>;
