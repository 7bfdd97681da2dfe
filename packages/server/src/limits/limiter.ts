/**
 * The `Limiter` port (DESIGN.md): token buckets by rule and key. The embedded driver keeps them
 * in memory; a Redis driver (one script doing the same arithmetic) can take its place for a
 * cluster, which is why `take` returns a promise.
 */

export interface RateRule {
  /** Label in `/metrics` and in error messages. */
  readonly name: string;
  /** Largest burst. */
  readonly capacity: number;
  /** Tokens added per second. */
  readonly perSecond: number;
}

export interface Decision {
  allowed: boolean;
  /** When refused: ms until `cost` tokens are available again. 0 when allowed. */
  retryAfter: number;
  remaining: number;
}

export interface Limiter {
  readonly kind: string;
  take(rule: RateRule, key: string, cost?: number): Promise<Decision>;
  close(): Promise<void>;
}

/** One token bucket; also used directly for per-connection limits, which never leave the process. */
export class TokenBucket {
  private tokens: number;
  private last: number;
  constructor(
    readonly capacity: number,
    readonly perSecond: number,
    now = Date.now(),
  ) {
    this.tokens = capacity;
    this.last = now;
  }

  take(cost = 1, now = Date.now()): Decision {
    const elapsed = now - this.last;
    if (elapsed > 0) {
      this.tokens = Math.min(this.capacity, this.tokens + (elapsed * this.perSecond) / 1000);
      this.last = now;
    }
    if (this.tokens >= cost) {
      this.tokens -= cost;
      return { allowed: true, retryAfter: 0, remaining: Math.floor(this.tokens) };
    }
    const missing = cost - this.tokens;
    const retryAfter = this.perSecond > 0 ? Math.max(1, Math.ceil((missing * 1000) / this.perSecond)) : Number.MAX_SAFE_INTEGER;
    return { allowed: false, retryAfter, remaining: Math.floor(this.tokens) };
  }

  /** Full again by `now` (safe to forget). */
  idle(now = Date.now()): boolean {
    return this.tokens + ((now - this.last) * this.perSecond) / 1000 >= this.capacity;
  }
}

/** Buckets in a Map; buckets that have refilled are swept so idle keys cost nothing. */
export class MemoryLimiter implements Limiter {
  readonly kind = 'memory';
  private buckets = new Map<string, TokenBucket>();
  private sweeper: NodeJS.Timeout;

  constructor(private maxKeys = 1_000_000) {
    this.sweeper = setInterval(() => this.sweep(), 60_000);
    this.sweeper.unref();
  }

  async take(rule: RateRule, key: string, cost = 1): Promise<Decision> {
    return this.takeSync(rule, key, cost);
  }

  takeSync(rule: RateRule, key: string, cost = 1): Decision {
    const k = rule.name + '\u0000' + key;
    let b = this.buckets.get(k);
    if (!b) {
      if (this.buckets.size >= this.maxKeys) this.sweep();
      b = new TokenBucket(rule.capacity, rule.perSecond);
      this.buckets.set(k, b);
    }
    return b.take(cost);
  }

  size(): number {
    return this.buckets.size;
  }

  sweep(now = Date.now()): void {
    for (const [k, b] of this.buckets) if (b.idle(now)) this.buckets.delete(k);
  }

  async close(): Promise<void> {
    clearInterval(this.sweeper);
    this.buckets.clear();
  }
}
