/**
 * The built-in metric sets, written in the same definition format users write in
 * `METRICS_CONFIG` (docs/metrics.md lists the event types and fields each reads).
 */
import type { ContentThresholds, SetDef } from './config.js';

const CAMPAIGN_DIMS = { Campaign: 'data.campaignId', Publisher: 'data.publisherId' } as const;
const IMPRESSION = ['impression', 'ad_impression'];
const CLICK = ['click', 'ad_click'];
const BID = ['auction_bid_placed', 'bid_placed'];
const REVENUE = ['payment_processed'];

function campaignSet(): SetDef {
  const metrics: SetDef['metrics'] = {
    totalEvents: { kind: 'count' },
    eventsByType: { kind: 'count', by: 'type' },
    impressions: { kind: 'count', where: { types: IMPRESSION }, buckets: ['1m', '1h'] },
    clicks: { kind: 'count', where: { types: CLICK }, buckets: ['1m', '1h'] },
    ctr: { kind: 'ratio', numerator: 'clicks', denominator: 'impressions', scale: 100, digits: 2 },
    revenue: { kind: 'sum', field: 'data.amount', where: { types: REVENUE }, buckets: ['1m', '1h'] },
    bids: { kind: 'count', where: { types: BID }, buckets: ['1m', '1h'] },
    auctions: {
      kind: 'entity',
      where: { types: ['auction_created', ...BID, 'auction_finalized'] },
      key: 'data.auctionId',
      status: 'type',
      statusMap: { auction_created: 'open', auction_bid_placed: 'bidding', bid_placed: 'bidding', auction_finalized: 'finalized' },
      amount: ['data.amount', 'data.bidAmount'],
    },
    activeBids: { kind: 'pick', metric: 'auctions', path: 'byStatus.bidding' },
  };
  for (const [suffix, path] of Object.entries(CAMPAIGN_DIMS)) {
    metrics[`impressionsBy${suffix}`] = { kind: 'count', where: { types: IMPRESSION }, by: path };
    metrics[`clicksBy${suffix}`] = { kind: 'count', where: { types: CLICK }, by: path };
    metrics[`revenueBy${suffix}`] = { kind: 'sum', field: 'data.amount', where: { types: REVENUE }, by: path };
    metrics[`bidsBy${suffix}`] = { kind: 'count', where: { types: BID }, by: path };
    metrics[`ctrBy${suffix}`] = { kind: 'ratio', numerator: `clicksBy${suffix}`, denominator: `impressionsBy${suffix}`, scale: 100, digits: 2 };
  }
  return { scope: 'channelId', where: { channels: ['contract:*'] }, metrics };
}

export const DEFAULT_CONTENT_THRESHOLDS: Required<ContentThresholds> = {
  weights: { views: 1, likes: 5, shares: 10, comments: 3 },
  tiers: { excellent: 1000, good: 250, average: 50 },
  trending: 500,
};

/**
 * The hub's content enricher stamps every counting event (these types, and `analytics_update`
 * naming the field) with the running `value`; following it keeps these counters equal to what
 * the 001 profile pushes. Without a `value` (events that bypassed the enricher) an event adds
 * its `increment`, or 1.
 */
function contentCounter(field: string, types: string[]): SetDef['metrics'][string] {
  return {
    kind: 'tally',
    rules: [
      { where: { types }, set: 'data.value', add: 'data.increment', addDefault: 1 },
      { where: { types: ['analytics_update'], match: { 'data.field': field } }, set: 'data.value', add: 'data.increment', addDefault: 1 },
    ],
  };
}

function contentSet(t: ContentThresholds | undefined): SetDef {
  const weights = { ...DEFAULT_CONTENT_THRESHOLDS.weights, ...t?.weights };
  const tiers = t?.tiers ?? DEFAULT_CONTENT_THRESHOLDS.tiers;
  const trending = t?.trending ?? DEFAULT_CONTENT_THRESHOLDS.trending;
  return {
    scope: 'channelId',
    where: { channels: ['content:*'] },
    metrics: {
      views: contentCounter('views', ['content_view', 'view']),
      likes: contentCounter('likes', ['like']),
      shares: contentCounter('shares', ['share']),
      comments: contentCounter('comments', ['comment']),
      score: { kind: 'score', weights },
      tier: { kind: 'tier', metric: 'score', tiers, below: 'poor' },
      trending: { kind: 'threshold', metric: 'score', min: trending },
      trendingContent: { kind: 'topScopes', metric: 'score', k: 10, min: trending },
    },
  };
}

function platformSet(): SetDef {
  return {
    metrics: {
      transactions: {
        kind: 'entity',
        where: { types: ['transaction'] },
        key: 'data.transactionId',
        status: 'data.status',
        amount: 'data.amount',
        bucketStatus: 'completed',
        buckets: ['1h', '1d'],
      },
      revenue: { kind: 'pick', metric: 'transactions', path: 'sumByStatus.completed' },
      revenueToday: { kind: 'period', metric: 'transactions', period: 'today' },
      revenueThisWeek: { kind: 'period', metric: 'transactions', period: 'week' },
      revenueThisMonth: { kind: 'period', metric: 'transactions', period: 'month' },
      activeUsers: { kind: 'distinct', field: 'userId', window: '5m', buckets: ['1m', '1d'] },
      activeUsersToday: { kind: 'period', metric: 'activeUsers', period: 'today' },
      activeUsersPeak24h: { kind: 'peak', metric: 'activeUsers', over: '24h' },
      contentViews: { kind: 'count', where: { types: ['content_view'] }, buckets: ['1m', '1h'] },
      purchases: { kind: 'count', where: { types: ['purchase'] }, buckets: ['1m', '1h'] },
      conversionRate: { kind: 'ratio', numerator: 'purchases', denominator: 'contentViews', scale: 100, digits: 2 },
    },
  };
}

function marketplaceSet(): SetDef {
  return {
    where: { channels: ['analytics', 'analytics:*'] },
    metrics: {
      searches: { kind: 'count', where: { types: ['search'] }, buckets: ['1m', '1h'] },
      popularSearchTerms: { kind: 'topk', where: { types: ['search'] }, field: ['data.query', 'data.searchTerm', 'data.term'], k: 10 },
      filterUses: { kind: 'count', where: { types: ['filter_apply'] }, buckets: ['1m', '1h'] },
      popularFilters: { kind: 'topk', where: { types: ['filter_apply'] }, field: ['data.filterType', 'data.filterName', 'data.filter'], k: 10 },
      listingViews: { kind: 'count', where: { types: ['listing_view'] }, buckets: ['1m', '1h'] },
      topListings: { kind: 'topk', where: { types: ['listing_view'] }, field: 'data.listingId', k: 10 },
      sessions: { kind: 'distinct', field: 'data.sessionId' },
      uniqueUsers: { kind: 'distinct', field: 'userId' },
    },
  };
}

function marketsSet(): SetDef {
  const trade = { types: ['market:trade'] };
  return {
    scope: 'data.marketId',
    // Trades are also fanned out to user:<address> rooms; count each trade once, from its market channel.
    where: { channels: ['market:*'] },
    metrics: {
      trades: { kind: 'count', where: trade, buckets: ['1m', '1h'] },
      volume: { kind: 'sum', where: trade, field: 'data.amount', buckets: ['1m', '1h'] },
      lastPrice: { kind: 'last', where: trade, field: 'data.price' },
      lastYesPrice: { kind: 'last', where: trade, field: 'data.newYesPrice' },
      lastNoPrice: { kind: 'last', where: trade, field: 'data.newNoPrice' },
      traders: { kind: 'distinct', where: trade, field: 'data.trader' },
    },
  };
}

export function builtinSets(content?: ContentThresholds): Record<string, SetDef> {
  return {
    platform: platformSet(),
    campaign: campaignSet(),
    content: contentSet(content),
    marketplace: marketplaceSet(),
    markets: marketsSet(),
  };
}
