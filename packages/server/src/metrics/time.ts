/**
 * Event-time helpers: durations, bucket indexes, and calendar days in a configured time zone.
 * `1s`/`1m`/`1h` buckets are absolute (floor of ms); `1d` buckets are local calendar days of the
 * zone, so "today", "this week" (Monday start) and "this month" follow `METRICS_TZ`.
 */
import type { Granularity } from '@pulse/protocol';

export const SECOND = 1000;
export const MINUTE = 60 * SECOND;
export const HOUR = 60 * MINUTE;
export const DAY = 24 * HOUR;

const UNIT: Record<string, number> = { ms: 1, s: SECOND, m: MINUTE, h: HOUR, d: DAY };

/** `250ms`, `30s`, `5m`, `1h`, `7d` → ms; undefined when malformed. */
export function parseDuration(s: string): number | undefined {
  const m = /^(\d{1,9})(ms|s|m|h|d)$/.exec(s);
  return m ? Number(m[1]) * UNIT[m[2]] : undefined;
}

export const GRANULARITY_MS: Record<Granularity, number> = { '1s': SECOND, '1m': MINUTE, '1h': HOUR, '1d': DAY };

/** How many buckets each granularity keeps behind the watermark. */
export const RETENTION: Record<Granularity, number> = { '1s': 600, '1m': 1500, '1h': 24 * 32, '1d': 800 };

export class Clock {
  private readonly fmt: Intl.DateTimeFormat | null;
  private readonly offsets = new Map<number, number>();

  constructor(readonly timeZone: string) {
    // Throws RangeError on an unknown zone; config validation turns that into a coded error.
    const f = new Intl.DateTimeFormat('en-US', {
      timeZone,
      hourCycle: 'h23',
      year: 'numeric',
      month: 'numeric',
      day: 'numeric',
      hour: 'numeric',
      minute: 'numeric',
      second: 'numeric',
    });
    this.fmt = timeZone === 'UTC' || timeZone === 'Etc/UTC' ? null : f;
  }

  /** Zone offset (local − UTC) in ms at `ts`; cached per 15 minutes, the finest real offset step. */
  offset(ts: number): number {
    if (!this.fmt) return 0;
    const slot = Math.floor(ts / (15 * MINUTE));
    let off = this.offsets.get(slot);
    if (off === undefined) {
      const t = slot * 15 * MINUTE;
      const parts: Record<string, number> = {};
      for (const p of this.fmt.formatToParts(t)) if (p.type !== 'literal') parts[p.type] = Number(p.value);
      off = Date.UTC(parts.year, parts.month - 1, parts.day, parts.hour, parts.minute, parts.second) - t;
      if (this.offsets.size > 50_000) this.offsets.clear();
      this.offsets.set(slot, off);
    }
    return off;
  }

  bucket(ts: number, g: Granularity): number {
    switch (g) {
      case '1m':
        return Math.floor(ts / MINUTE);
      case '1h':
        return Math.floor(ts / HOUR);
      case '1s':
        return Math.floor(ts / SECOND);
      default:
        return Math.floor((ts + this.offset(ts)) / DAY);
    }
  }

  /** Start (UTC ms) of bucket `idx`. */
  bucketStart(idx: number, g: Granularity): number {
    if (g !== '1d') return idx * GRANULARITY_MS[g];
    const local = idx * DAY;
    return local - this.offset(local - this.offset(local));
  }

  /** Day buckets [from, to] of a calendar period containing `now`. */
  periodDays(period: 'today' | 'week' | 'month', now: number): [number, number] {
    const today = this.bucket(now, '1d');
    if (period === 'today') return [today, today];
    if (period === 'week') return [today - ((today + 3) % 7), today]; // day 0 (1970-01-01) was a Thursday
    const d = new Date(today * DAY);
    return [Math.floor(Date.UTC(d.getUTCFullYear(), d.getUTCMonth(), 1) / DAY), today];
  }
}
