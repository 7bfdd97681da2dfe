/**
 * Demo traffic for every seed domain: a stateful generator of plausible events (campaigns with a
 * believable click-through rate, auctions whose bids rise until they close, content whose
 * popularity is skewed, searches and filters, purchases whose transactions settle later,
 * prediction-market trades that move prices). Randomness and time are injected so tests can
 * replay a scenario exactly.
 */
import type { EventInput } from '@pulse/protocol';

/** The channels the scenario writes to, so the dashboard and the docs name the same ones. */
export const DEMO = {
  campaigns: 'contract:ST1PQHQKV0RJXZFY1DGX8MNSNYVE3VGZJSRTPGZGM.campaigns',
  auctions: 'contract:ST1PQHQKV0RJXZFY1DGX8MNSNYVE3VGZJSRTPGZGM.auctions',
  transactions: 'platform:transactions',
  search: 'analytics:search',
  filters: 'analytics:filters',
  listings: 'analytics:listings',
  sessions: 'analytics:user_sessions',
  global: 'global:all',
  content: (id: string) => `content:${id}`,
  market: (id: string) => `market:${id}`,
} as const;

export interface ScenarioOptions {
  /** Uniform in [0, 1); `Math.random` by default. */
  random?: () => number;
  now?: () => number;
}

const WEI = 10n ** 18n;
const CAMPAIGNS = ['summer-sale', 'defi-launch', 'nft-drop', 'stx-staking', 'wallet-promo', 'dao-vote'];
const PUBLISHERS = ['cryptonews', 'stackshub', 'blockdaily', 'degenweekly', 'chainwire'];
const CONTENT = Array.from({ length: 12 }, (_, i) => `content-${i + 1}`);
const SEARCH_TERMS = ['vintage watch', 'road bike', 'iphone 15', 'standing desk', 'lego', 'sneakers', 'camera lens', 'guitar', 'espresso machine', 'ps5'];
const FILTERS: Array<[string, string[]]> = [
  ['price', ['0-50', '50-200', '200-1000', '1000+']],
  ['condition', ['new', 'like_new', 'used']],
  ['category', ['electronics', 'fashion', 'home', 'sports', 'toys']],
  ['location', ['nearby', 'city', 'country']],
];
const MARKETS = [
  { id: 'm1', question: 'Will BTC close above $100k this month?' },
  { id: 'm2', question: 'Will the creator hit 1M followers by June?' },
  { id: 'm3', question: 'Will the new album top the charts?' },
  { id: 'm4', question: 'Will it rain in Lisbon on Saturday?' },
];
const ADDR_CHARS = '0123456789ABCDEFGHJKMNPQRSTVWXYZ';

interface Auction {
  id: string;
  campaignId: string;
  highest: number;
  bids: number;
  closeAfter: number;
}
interface PendingTx {
  id: string;
  amount: number;
  userId: string;
  contentId: string;
}

/** Weighted pick of what happens next; weights are per 100 actions. */
const MIX: Array<[Action, number]> = [
  ['impression', 24],
  ['click', 3],
  ['payment', 2],
  ['campaignChange', 0.5],
  ['auction', 6],
  ['contentView', 24],
  ['contentEngage', 6],
  // About 4 % of views convert, as seed 003's example numbers do.
  ['purchase', 1],
  ['settle', 1],
  ['search', 10],
  ['filter', 7],
  ['listing', 6],
  ['session', 2],
  ['trade', 8],
];
type Action =
  | 'impression'
  | 'click'
  | 'payment'
  | 'campaignChange'
  | 'auction'
  | 'contentView'
  | 'contentEngage'
  | 'purchase'
  | 'settle'
  | 'search'
  | 'filter'
  | 'listing'
  | 'session'
  | 'trade';
const MIX_TOTAL = MIX.reduce((s, [, w]) => s + w, 0);

export class Scenario {
  private readonly random: () => number;
  private readonly now: () => number;
  private seq = 0;
  private blockHeight = 150_000;
  private readonly users: string[];
  private readonly traders: string[];
  private readonly auctions: Auction[] = [];
  private readonly pending: PendingTx[] = [];
  private readonly prices = new Map<string, number>();
  private readonly sessions: string[] = [];
  private started = false;

  constructor(opts: ScenarioOptions = {}) {
    this.random = opts.random ?? Math.random;
    this.now = opts.now ?? Date.now;
    this.users = Array.from({ length: 3000 }, (_, i) => `user-${i + 1}`);
    this.traders = Array.from({ length: 40 }, () => this.address());
    for (const m of MARKETS) this.prices.set(m.id, 0.3 + this.random() * 0.4);
  }

  /** About `n` events (an action may emit two, e.g. a purchase and its transaction). */
  next(n: number): EventInput[] {
    const out: EventInput[] = [];
    if (!this.started) {
      this.started = true;
      for (const m of MARKETS) out.push(this.marketCreated(m.id, m.question));
    }
    while (out.length < n) this.act(this.pickAction(), out);
    return out;
  }

  private pickAction(): Action {
    let r = this.random() * MIX_TOTAL;
    for (const [a, w] of MIX) {
      r -= w;
      if (r < 0) return a;
    }
    return 'impression';
  }

  private act(a: Action, out: EventInput[]): void {
    switch (a) {
      case 'impression':
      case 'click':
        out.push(this.chain(DEMO.campaigns, a, { campaignId: this.skewed(CAMPAIGNS), publisherId: this.pick(PUBLISHERS) }));
        return;
      case 'payment':
        out.push(this.chain(DEMO.campaigns, 'payment_processed', { campaignId: this.skewed(CAMPAIGNS), publisherId: this.pick(PUBLISHERS), amount: this.money(5, 250) }));
        return;
      case 'campaignChange': {
        const type = this.pick(['campaign_updated', 'campaign_paused', 'campaign_resumed', 'campaign_created']);
        out.push(this.chain(DEMO.campaigns, type, { campaignId: this.pick(CAMPAIGNS), budget: this.money(1000, 20000) }));
        return;
      }
      case 'auction':
        this.auctionStep(out);
        return;
      case 'contentView': {
        const contentId = this.skewed(CONTENT);
        out.push({ channel: DEMO.content(contentId), type: 'content_view', userId: this.user(), data: { contentId, durationMs: Math.round(2000 + this.random() * 90_000) } });
        return;
      }
      case 'contentEngage': {
        const contentId = this.skewed(CONTENT);
        const type = this.pick(['like', 'like', 'like', 'share', 'comment', 'comment']);
        out.push({ channel: DEMO.content(contentId), type, userId: this.user(), data: { contentId } });
        return;
      }
      case 'purchase':
        this.purchase(out);
        return;
      case 'settle':
        this.settle(out);
        return;
      case 'search': {
        const query = this.skewed(SEARCH_TERMS);
        out.push({ channel: DEMO.search, type: 'search', userId: this.user(), data: { query, resultsCount: Math.floor(this.random() * 240), sessionId: this.session() } });
        return;
      }
      case 'filter': {
        const [filterType, values] = this.pick(FILTERS);
        out.push({ channel: DEMO.filters, type: 'filter_apply', userId: this.user(), data: { filterType, value: this.pick(values), sessionId: this.session() } });
        return;
      }
      case 'listing':
        out.push({ channel: DEMO.listings, type: 'listing_view', userId: this.user(), data: { listingId: `listing-${1 + Math.floor(this.random() ** 2 * 60)}`, sessionId: this.session() } });
        return;
      case 'session': {
        const sessionId = `s-${this.id()}`;
        this.sessions.push(sessionId);
        if (this.sessions.length > 50) this.sessions.shift();
        out.push({ channel: DEMO.sessions, type: 'session_start', userId: this.user(), data: { sessionId, device: this.pick(['mobile', 'desktop', 'tablet']) } });
        return;
      }
      case 'trade':
        out.push(this.trade());
        return;
    }
  }

  /** Auctions open, collect rising bids, and close; a handful are open at once. */
  private auctionStep(out: EventInput[]): void {
    if (this.auctions.length < 3 || (this.auctions.length < 6 && this.random() < 0.1)) {
      const a: Auction = { id: `auction-${this.id()}`, campaignId: this.pick(CAMPAIGNS), highest: Math.round(50 + this.random() * 100), bids: 0, closeAfter: 6 + Math.floor(this.random() * 14) };
      this.auctions.push(a);
      out.push(this.chain(DEMO.auctions, 'auction_created', { auctionId: a.id, campaignId: a.campaignId, reservePrice: a.highest, endsAt: this.now() + 60_000 }));
      return;
    }
    const i = Math.floor(this.random() * this.auctions.length);
    const a = this.auctions[i]!;
    if (a.bids >= a.closeAfter) {
      this.auctions.splice(i, 1);
      out.push(this.chain(DEMO.auctions, 'auction_finalized', { auctionId: a.id, campaignId: a.campaignId, winner: this.pick(PUBLISHERS), amount: a.highest, bids: a.bids }));
      return;
    }
    a.highest = Math.round((a.highest + 1 + this.random() * a.highest * 0.08) * 100) / 100;
    a.bids++;
    out.push(this.chain(DEMO.auctions, 'auction_bid_placed', { auctionId: a.id, campaignId: a.campaignId, bidder: this.pick(PUBLISHERS), amount: a.highest }));
  }

  /** A purchase starts a pending transaction; `settle` completes (or fails) it later. */
  private purchase(out: EventInput[]): void {
    const contentId = this.skewed(CONTENT);
    const userId = this.user();
    const amount = this.money(2, 80);
    const tx: PendingTx = { id: `tx-${this.id()}`, amount, userId, contentId };
    this.pending.push(tx);
    if (this.pending.length > 40) this.finish(this.pending.shift()!, out);
    out.push({ channel: DEMO.content(contentId), type: 'purchase', userId, data: { contentId, amount, transactionId: tx.id } });
    out.push({ channel: DEMO.transactions, type: 'transaction', userId, data: { transactionId: tx.id, status: 'pending', amount, contentId } });
  }

  private settle(out: EventInput[]): void {
    const tx = this.pending.shift();
    if (tx) this.finish(tx, out);
    else this.purchase(out);
  }

  private finish(tx: PendingTx, out: EventInput[]): void {
    const status = this.random() < 0.95 ? 'completed' : 'failed';
    out.push({ channel: DEMO.transactions, type: 'transaction', userId: tx.userId, data: { transactionId: tx.id, status, amount: tx.amount, contentId: tx.contentId } });
  }

  /** Seed 004's MarketTradeEvent: amounts and prices in wei strings; prices walk and stay in (0.02, 0.98). */
  private trade(): EventInput {
    const m = this.skewed(MARKETS);
    const before = this.prices.get(m.id)!;
    const direction = this.random() < 0.55 ? 'buy' : 'sell';
    const outcome = this.random() < 0.5 ? 1 : 0;
    const sign = (direction === 'buy') === (outcome === 1) ? 1 : -1;
    const yes = Math.min(0.98, Math.max(0.02, before + sign * this.random() * 0.02));
    this.prices.set(m.id, yes);
    const amount = this.money(1, 500);
    const price = outcome === 1 ? yes : 1 - yes;
    const ts = this.now();
    return {
      channel: DEMO.market(m.id),
      type: 'market:trade',
      userId: this.pick(this.traders),
      data: {
        marketId: m.id,
        tradeId: `trade-${this.id()}`,
        trader: this.pick(this.traders),
        direction,
        outcome,
        amount: toWei(amount),
        shares: toWei(amount / price),
        price: toWei(price),
        newYesPrice: toWei(yes),
        newNoPrice: toWei(1 - yes),
        timestamp: new Date(ts).toISOString(),
      },
    };
  }

  private marketCreated(id: string, question: string): EventInput {
    return {
      channel: DEMO.global,
      type: 'market:created',
      data: { marketId: id, question, creator: this.pick(this.traders), category: 'demo', endDate: new Date(this.now() + 7 * 86_400_000).toISOString(), initialPrice: toWei(this.prices.get(id)!) },
    };
  }

  /** A contract event as seed 000 shows them: with a transaction id and a block height. */
  private chain(channel: string, type: string, data: Record<string, unknown>): EventInput {
    if (this.random() < 0.1) this.blockHeight++;
    return { channel, type, userId: this.user(), txId: `0x${this.hex(64)}`, blockHeight: this.blockHeight, data };
  }

  private user(): string {
    // Few heavy users, many light ones: active-user counts then grow like a real site's.
    return this.users[Math.floor(this.random() ** 1.5 * this.users.length)]!;
  }
  private session(): string {
    return this.sessions.length ? this.pick(this.sessions) : `s-${this.id()}`;
  }
  private pick<T>(xs: readonly T[]): T {
    return xs[Math.floor(this.random() * xs.length)]!;
  }
  /** Earlier entries are picked more often (popular campaigns, content, terms). */
  private skewed<T>(xs: readonly T[]): T {
    return xs[Math.floor(this.random() ** 2 * xs.length)]!;
  }
  private money(min: number, max: number): number {
    return Math.round((min + this.random() * (max - min)) * 100) / 100;
  }
  private id(): string {
    return `${this.now().toString(36)}${(this.seq++).toString(36)}`;
  }
  private hex(n: number): string {
    let s = '';
    for (let i = 0; i < n; i++) s += Math.floor(this.random() * 16).toString(16);
    return s;
  }
  private address(): string {
    let s = 'SP';
    for (let i = 0; i < 38; i++) s += ADDR_CHARS[Math.floor(this.random() * ADDR_CHARS.length)];
    return s;
  }
}

/** A decimal amount as a wei string (18 decimals), exact to the cent-of-a-cent. */
export function toWei(x: number): string {
  return ((BigInt(Math.round(x * 1e6)) * WEI) / 1_000_000n).toString();
}
