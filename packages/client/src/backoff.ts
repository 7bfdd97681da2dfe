/**
 * Reconnect delays. Full jitter (AWS architecture blog, "Exponential Backoff And Jitter"): the
 * delay for attempt n is drawn uniformly from [min, min(max, min·2ⁿ)], so a fleet of clients
 * dropped by one server restart does not come back in lock-step. The floor at `min` keeps a
 * client from hammering a server that refuses it instantly.
 */
export interface BackoffOptions {
  /** Delay of the first retry, ms. */
  minDelay: number;
  /** Cap, ms. */
  maxDelay: number;
  /** Retries before the client gives up (state `failed`) and waits for `reconnect()`. Infinity = never. */
  maxAttempts: number;
  /** `full` draws in [min, ceiling]; `none` returns the ceiling (seed 003's 1, 2, 4, 8, 16 s). */
  jitter: 'full' | 'none';
}

/** Seed 000 (AdStack): "Exponential backoff (5s → 60s)", retrying forever. */
export const BACKOFF_ADSTACK: BackoffOptions = { minDelay: 5_000, maxDelay: 60_000, maxAttempts: Infinity, jitter: 'full' };
/** Seed 003 (KnowTon): 1, 2, 4, 8, 16 s, then manual reconnection. */
export const BACKOFF_KNOWTON: BackoffOptions = { minDelay: 1_000, maxDelay: 16_000, maxAttempts: 5, jitter: 'none' };
/** Default: quick first retry, capped at 30 s, never gives up. */
export const BACKOFF_DEFAULT: BackoffOptions = { minDelay: 500, maxDelay: 30_000, maxAttempts: Infinity, jitter: 'full' };

/**
 * Delay before retry number `attempt` (0-based). Pure: `random` is injected so tests can pin it.
 * @example backoffDelay(0, BACKOFF_KNOWTON) // 1000
 */
export function backoffDelay(attempt: number, opts: BackoffOptions, random: () => number = Math.random): number {
  const min = Math.max(0, opts.minDelay);
  const max = Math.max(min, opts.maxDelay);
  // 2^31 already exceeds any sane cap; clamping keeps the arithmetic finite.
  const step = Math.min(Math.max(0, Math.floor(attempt)), 31);
  const ceiling = Math.min(max, min * 2 ** step);
  if (opts.jitter === 'none') return ceiling;
  const r = random();
  const unit = r >= 0 && r < 1 ? r : 0;
  return Math.min(max, Math.round(min + unit * (ceiling - min)));
}
