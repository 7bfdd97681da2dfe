/**
 * The server's limits in one object, shared by every gateway and route. Each refusal is a
 * PulseError with `RATE_LIMITED` or `LIMIT_EXCEEDED` and a `retryAfter` in ms, and is counted
 * in `/metrics` as `<prefix>_limited_total{limit}`.
 */
import { PulseError } from '@pulse/protocol';
import type { Counter } from 'prom-client';
import type { Principal } from '../auth/principal.js';
import { MemoryLimiter, TokenBucket, type Limiter, type RateRule } from './limiter.js';

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

  constructor(
    private cfg: LimitsConfig,
    private counter: Counter<'limit'> | null,
    limiter?: Limiter,
  ) {
    this.limiter = limiter ?? new MemoryLimiter();
    const spm = cfg.SUBSCRIBE_RATE_PER_MINUTE;
    this.subscribeRule = spm > 0 ? { name: 'subscribe_rate', capacity: spm, perSecond: spm / 60 } : null;
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

  /** A new subscription (seed 000: 10 per user per minute by default). */
  async admitSubscribe(p: Principal): Promise<void> {
    const who = this.identity(p);
    if (!this.subscribeRule || who === null) return;
    const d = await this.limiter.take(this.subscribeRule, who);
    if (!d.allowed) {
      this.count('subscribe_rate');
      throw new PulseError('RATE_LIMITED', `More than ${this.cfg.SUBSCRIBE_RATE_PER_MINUTE} subscriptions per minute`, { retryAfter: d.retryAfter });
    }
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
    return this.limiter.close();
  }
}
