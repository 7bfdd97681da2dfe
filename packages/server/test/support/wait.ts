/**
 * Waiting for conditions instead of sleeping: tests poll what they expect and fail with the last
 * value seen, so a slow machine makes a test slower, never flaky.
 */

export interface WaitOptions {
  /** Names the condition in the timeout message. */
  what?: string;
  /** Give up after this many ms (default 15000: generous for a loaded CI machine; passing tests never wait it out). */
  timeoutMs?: number;
  /** Poll interval in ms (default 10). */
  intervalMs?: number;
}

function describe(v: unknown): string {
  try {
    const s = JSON.stringify(v);
    return s === undefined ? String(v) : s.length > 500 ? s.slice(0, 500) + '…' : s;
  } catch {
    return String(v);
  }
}

/**
 * Poll `fn` until it returns a truthy value (returned) or the timeout passes (throws with the
 * last value). Exceptions thrown by `fn` count as "not yet" and are reported on timeout.
 */
export async function waitFor<T>(fn: () => T | Promise<T>, opts: WaitOptions | string = {}): Promise<NonNullable<T>> {
  const o = typeof opts === 'string' ? { what: opts } : opts;
  const timeout = o.timeoutMs ?? 15_000;
  const interval = o.intervalMs ?? 10;
  const end = Date.now() + timeout;
  let last: unknown;
  for (;;) {
    try {
      const v = await fn();
      if (v) return v as NonNullable<T>;
      last = v;
    } catch (e) {
      last = e instanceof Error ? `${e.name}: ${e.message}` : e;
    }
    if (Date.now() > end) throw new Error(`timed out after ${timeout} ms waiting for ${o.what ?? 'condition'} (last: ${describe(last)})`);
    await new Promise((r) => setTimeout(r, interval));
  }
}

/** Resolve with the arguments of the next `event` on an emitter-like object, or fail after the timeout. */
export function once<A extends unknown[] = unknown[]>(
  emitter: { once(event: string, fn: (...args: A) => void): unknown; off?(event: string, fn: (...args: A) => void): unknown },
  event: string,
  opts: WaitOptions = {},
): Promise<A> {
  const timeout = opts.timeoutMs ?? 15_000;
  return new Promise<A>((resolve, reject) => {
    const fn = (...args: A) => {
      clearTimeout(timer);
      resolve(args);
    };
    const timer = setTimeout(() => {
      emitter.off?.(event, fn);
      reject(new Error(`timed out after ${timeout} ms waiting for '${event}'${opts.what ? ` (${opts.what})` : ''}`));
    }, timeout);
    emitter.once(event, fn);
  });
}
