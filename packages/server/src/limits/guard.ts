/**
 * The server's limits in one object, shared by every gateway and route. Each refusal is a
 * PulseError with `RATE_LIMITED` or `LIMIT_EXCEEDED` and a `retryAfter` in ms, and is counted
 * in `/metrics` as `<prefix>_limited_total{limit}`.
 */
import { PulseError } from '@pulse/protocol';
import type { Counter } from 'prom-client';
import type { Principal } from '../auth/principal.js';
import { MemoryLimiter, TokenBucket, type Limiter, type RateRule } from './limiter.js';

/** What the guard needs to know of a subscription (hub/session.ts `Subscription`). */
export interface HeldSubscription {
  readonly target: string;
  readonly system: boolean;
  readonly session: { readonly principal: Principal };
}

export interface GuardOptions {
  /** Channels remembered per identity (default: 4 × SUBSCRIBE_RATE_PER_MINUTE, within 128…4096). */
  heldPerIdentity?: number;
  /** Channels remembered in all (default 200,000); past it the least recently active identity is forgotten. */
  heldTotal?: number;
  /** Clock (ms), for tests. */
  now?: () => number;
}

interface Held {
  /** Subscriptions of this identity to this channel now. */
  count: number;
  /** When it was last taken or released (ms). */
  at: number;
}

/**
 * The channels each identity holds, or released less than `windowMs` ago: taking one of them
 * again (a reconnect, a set change in seed 001) is not a new subscription for the rate limit.
 * Memory is bounded per identity and in total. Past either bound the least recently touched
 * entries (released ones first) or identities are forgotten, which only means that taking those
 * channels again is charged, as it was before this existed. Growth is itself rate limited: an
 * identity adds released entries only by subscribing to channels it was charged for.
 */
export class RecentlyHeld {
  private byWho = new Map<string, Map<string, Held>>();
  private entries = 0;
  constructor(
    readonly windowMs: number,
    readonly perIdentity: number,
    readonly total: number,
  ) {}

  /** Held now by this identity, or released no more than `windowMs` ago. */
  has(who: string, channel: string, now: number): boolean {
    const h = this.byWho.get(who)?.get(channel);
    return h !== undefined && (h.count > 0 || now - h.at <= this.windowMs);
  }

  take(who: string, channel: string, now: number): void {
    const m = this.touch(who);
    const h = m.get(channel);
    if (h) {
      m.delete(channel);
      m.set(channel, { count: h.count + 1, at: now });
      return;
    }
    m.set(channel, { count: 1, at: now });
    this.entries++;
    if (m.size > this.perIdentity) this.evictOne(m);
    if (this.entries > this.total) this.evictIdentities(who);
  }

  release(who: string, channel: string, now: number): void {
    const m = this.byWho.get(who);
    const h = m?.get(channel);
    if (!m || !h) return;
    this.touch(who);
    m.delete(channel);
    m.set(channel, { count: Math.max(0, h.count - 1), at: now });
  }

  /** Forget what was released more than `windowMs` ago. */
  sweep(now: number): void {
    for (const [who, m] of this.byWho) {
      for (const [c, h] of m) {
        if (h.count === 0 && now - h.at > this.windowMs) {
          m.delete(c);
          this.entries--;
        }
      }
      if (m.size === 0) this.byWho.delete(who);
    }
  }

  size(): number {
    return this.entries;
  }

  identities(): number {
    return this.byWho.size;
  }

  clear(): void {
    this.byWho.clear();
    this.entries = 0;
  }

  /** The identity's map, moved to the most recently used end. */
  private touch(who: string): Map<string, Held> {
    let m = this.byWho.get(who);
    if (m) this.byWho.delete(who);
    else m = new Map();
    this.byWho.set(who, m);
    return m;
  }

  /** Drop the least recently touched entry of one identity, a released one if there is one. */
  private evictOne(m: Map<string, Held>): void {
    let victim: string | undefined;
    for (const [c, h] of m) {
      if (h.count === 0) {
        victim = c;
        break;
      }
      victim ??= c;
    }
    if (victim !== undefined) {
      m.delete(victim);
      this.entries--;
    }
  }

  /** Forget the least recently active identities (never `keep`) until the total fits. */
  private evictIdentities(keep: string): void {
    for (const [who, m] of this.byWho) {
      if (this.entries <= this.total) return;
      if (who === keep) continue;
      this.entries -= m.size;
      this.byWho.delete(who);
    }
    // Only `keep` is left and it alone is over the total (a total below perIdentity).
    const m = this.byWho.get(keep);
    while (m && this.entries > this.total && m.size > 0) {
      m.delete(m.keys().next().value as string);
      this.entries--;
    }
  }
}

export interface LimitsConfig {
  SUBSCRIBE_RATE_PER_MINUTE: number;
  MESSAGES_PER_SECOND: number;
  MESSAGE_BURST: number;
  MAX_CONNECTIONS_PER_IP: number;
  INGEST_RATE_PER_SECOND: number;
  INGEST_BURST: number;
}

export type LimitName =
  | 'subscribe_rate'
  | 'message_rate'
  | 'connections_per_ip'
  | 'ingest_rate'
  | 'frame_size'
  | 'json_depth'
  | 'idle_timeout';

/** What a gateway does with a frame over the per-connection rate. */
export type FrameVerdict = null | { error: PulseError; close: boolean };

/** Per-connection message gate: answers RATE_LIMITED, and closes a connection that keeps going. */
export class MessageGate {
  /** Refusals not yet forgiven; forgiven at the allowed message rate. */
  private debt = 0;
  private debtAt = 0;
  constructor(
    private bucket: TokenBucket | null,
    private onLimited: () => void,
  ) {}

  /** null: handle the frame. Otherwise answer `error` (or close when `close`) and drop it. */
  take(): FrameVerdict {
    if (!this.bucket) return null;
    const d = this.bucket.take();
    if (d.allowed) return null;
    this.onLimited();
    // A client that runs up a whole burst's worth of refusals faster than the allowed rate
    // forgives them is not going to slow down. (A count of refusals in a row would let a flood
    // through forever: every refill lets one message pass and would reset it.)
    const now = performance.now();
    this.debt = Math.max(0, this.debt - ((now - this.debtAt) / 1000) * this.bucket.perSecond) + 1;
    this.debtAt = now;
    const close = this.debt > this.bucket.capacity;
    return { error: new PulseError('RATE_LIMITED', `More than ${this.bucket.perSecond} messages per second`, { retryAfter: d.retryAfter }), close };
  }
}

export class Guard {
  readonly limiter: Limiter;
  private readonly subscribeRule: RateRule | null;
  private readonly ingestRule: RateRule | null;
  private readonly perIp = new Map<string, number>();
  /** Channels held lately, by identity: taking them again is free (null: no subscription limit). */
  readonly recent: RecentlyHeld | null;
  /** Which identity each tracked subscription was counted for (a principal can change on renewal). */
  private readonly holder = new WeakMap<HeldSubscription, string>();
  private readonly sweeper: NodeJS.Timeout | null;
  private readonly now: () => number;

  constructor(
    private cfg: LimitsConfig,
    private counter: Counter<'limit'> | null,
    limiter?: Limiter,
    opts: GuardOptions = {},
  ) {
    this.limiter = limiter ?? new MemoryLimiter();
    this.now = opts.now ?? Date.now;
    const spm = cfg.SUBSCRIBE_RATE_PER_MINUTE;
    this.subscribeRule = spm > 0 ? { name: 'subscribe_rate', capacity: spm, perSecond: spm / 60 } : null;
    if (this.subscribeRule) {
      // The window over which the bucket refills from empty: one minute.
      const windowMs = (this.subscribeRule.capacity / this.subscribeRule.perSecond) * 1000;
      this.recent = new RecentlyHeld(windowMs, opts.heldPerIdentity ?? Math.min(4096, Math.max(128, 4 * spm)), opts.heldTotal ?? 200_000);
      const recent = this.recent;
      this.sweeper = setInterval(() => recent.sweep(this.now()), windowMs);
      this.sweeper.unref();
    } else {
      this.recent = null;
      this.sweeper = null;
    }
    this.ingestRule = cfg.INGEST_RATE_PER_SECOND > 0 ? { name: 'ingest_rate', capacity: Math.max(cfg.INGEST_BURST, 1), perSecond: cfg.INGEST_RATE_PER_SECOND } : null;
  }

  count(limit: LimitName): void {
    this.counter?.inc({ limit });
  }

  /**
   * Who a per-identity limit is charged to. SKIP_AUTH's anonymous development principal has no
   * identity (everyone shares it), so it is not charged; per-connection limits still apply.
   */
  private identity(p: Principal): string | null {
    if (p.key) return 'key:' + p.key.id;
    if (!p.authenticated) return null;
    return 'user:' + (p.userId ?? p.address ?? 'unknown');
  }

  /**
   * New subscriptions (seed 000: 10 per user per minute by default). A channel this identity
   * holds, or released within the limiter's window (a minute), is not new: a client that
   * reconnects and subscribes again, or a seed 001 set change that keeps part of its set, is
   * charged only for the channels it did not have. The new ones are charged together, all or
   * nothing, so a refusal leaves nothing of the request admitted.
   */
  async admitSubscribe(p: Principal, channels: readonly string[]): Promise<void> {
    const who = this.identity(p);
    if (!this.subscribeRule || !this.recent || who === null) return;
    const now = this.now();
    const fresh = new Set<string>();
    for (const c of channels) if (!this.recent.has(who, c, now)) fresh.add(c);
    if (fresh.size === 0) return;
    const max = this.subscribeRule.capacity;
    if (fresh.size > max) {
      // No wait would make room for these at once.
      this.count('subscribe_rate');
      throw new PulseError('LIMIT_EXCEEDED', `${fresh.size} new subscriptions at once: more than the ${max} per minute allowed`);
    }
    const d = await this.limiter.take(this.subscribeRule, who, fresh.size);
    if (!d.allowed) {
      this.count('subscribe_rate');
      throw new PulseError('RATE_LIMITED', `More than ${max} subscriptions per minute`, { retryAfter: d.retryAfter });
    }
  }

  /** A subscription was added: its channel is held by its identity until `released`. */
  held(sub: HeldSubscription): void {
    if (!this.recent || sub.system) return;
    const who = this.identity(sub.session.principal);
    if (who === null) return;
    this.holder.set(sub, who);
    this.recent.take(who, sub.target, this.now());
  }

  /** A subscription was removed (unsubscribe, replaced, connection gone). */
  released(sub: HeldSubscription): void {
    const who = this.holder.get(sub);
    if (!this.recent || who === undefined) return;
    this.holder.delete(sub);
    this.recent.release(who, sub.target, this.now());
  }

  /** One HTTP ingest request. */
  async admitIngest(p: Principal): Promise<void> {
    const who = this.identity(p);
    if (!this.ingestRule || who === null) return;
    const d = await this.limiter.take(this.ingestRule, who);
    if (!d.allowed) {
      this.count('ingest_rate');
      throw new PulseError('RATE_LIMITED', `More than ${this.cfg.INGEST_RATE_PER_SECOND} ingest requests per second`, { retryAfter: d.retryAfter });
    }
  }

  messageGate(): MessageGate {
    const c = this.cfg;
    return new MessageGate(c.MESSAGES_PER_SECOND > 0 ? new TokenBucket(Math.max(c.MESSAGE_BURST, 1), c.MESSAGES_PER_SECOND) : null, () => this.count('message_rate'));
  }

  /**
   * Count a connection from `ip`; the returned function releases it (idempotent). Throws
   * LIMIT_EXCEEDED past MAX_CONNECTIONS_PER_IP.
   */
  acquireConnection(ip: string): () => void {
    const max = this.cfg.MAX_CONNECTIONS_PER_IP;
    if (max <= 0) return () => undefined;
    const n = this.perIp.get(ip) ?? 0;
    if (n >= max) {
      this.count('connections_per_ip');
      throw new PulseError('LIMIT_EXCEEDED', `More than ${max} connections from one address`, { retryAfter: 5000 });
    }
    this.perIp.set(ip, n + 1);
    let released = false;
    return () => {
      if (released) return;
      released = true;
      const left = (this.perIp.get(ip) ?? 1) - 1;
      if (left <= 0) this.perIp.delete(ip);
      else this.perIp.set(ip, left);
    };
  }

  /** Whether a new connection from `ip` would be refused (counted when it would). */
  full(ip: string): boolean {
    const max = this.cfg.MAX_CONNECTIONS_PER_IP;
    if (max <= 0 || (this.perIp.get(ip) ?? 0) < max) return false;
    this.count('connections_per_ip');
    return true;
  }

  connectionsFrom(ip: string): number {
    return this.perIp.get(ip) ?? 0;
  }

  close(): Promise<void> {
    if (this.sweeper) clearInterval(this.sweeper);
    this.recent?.clear();
    return this.limiter.close();
  }
}
