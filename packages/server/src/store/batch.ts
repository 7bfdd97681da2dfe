import type { ChannelStats } from '@pulse/protocol';
import type { StoreItem } from '../ports.js';

export interface BatchSummary {
  /** The items not inserted (duplicates), by identity: of copies of one id, only the dropped ones. */
  dropped: Set<StoreItem>;
  /** Highest offset per channel, including offsets of dropped duplicates (never to be reused). */
  heads: Map<string, { epoch: string; head: number }>;
  /** Inserted events per channel and type, with the latest ingest time. */
  stats: Array<{ channel: string; type: string; count: number; last: number }>;
}

/**
 * What one group commit changes besides the events: channel heads and per-type counts, and which
 * items were dropped. `inserted(index)` says whether the item at `index` was stored: per item, not
 * per id, so that of an id repeated within the batch only the copies that did not go in count as
 * dropped (and the one that did is counted in the stats).
 */
export function summarizeBatch(items: readonly StoreItem[], inserted: (index: number) => boolean): BatchSummary {
  const dropped = new Set<StoreItem>();
  const heads = new Map<string, { epoch: string; head: number }>();
  // Per channel, then per type: no key string is built per event.
  const byChannel = new Map<string, Map<string, { channel: string; type: string; count: number; last: number }>>();
  const stats: Array<{ channel: string; type: string; count: number; last: number }> = [];
  for (let i = 0; i < items.length; i++) {
    const it = items[i];
    const e = it.event;
    const h = heads.get(e.channel);
    if (!h) heads.set(e.channel, { epoch: e.epoch, head: e.offset });
    else if (h.epoch !== e.epoch || h.head < e.offset) {
      // In place: one head object per channel, not one per event.
      h.epoch = e.epoch;
      h.head = e.offset;
    }
    if (!inserted(i)) {
      dropped.add(it);
      continue;
    }
    let types = byChannel.get(e.channel);
    if (types === undefined) byChannel.set(e.channel, (types = new Map()));
    const s = types.get(e.type);
    if (s) {
      s.count++;
      if (it.ingestedAt > s.last) s.last = it.ingestedAt;
    } else {
      const n = { channel: e.channel, type: e.type, count: 1, last: it.ingestedAt };
      types.set(e.type, n);
      stats.push(n);
    }
  }
  return { dropped, heads, stats };
}

/** A channel's stats from its `channel_stats` rows and `channels` head (PostgreSQL returns BIGINTs as strings). */
export function channelStats(
  channel: string,
  rows: ReadonlyArray<{ type: string; count: number | string; last_ts: number | string }>,
  head: { epoch: string; head: number | string } | undefined,
): ChannelStats {
  const eventsByType: Record<string, number> = {};
  let total = 0;
  let last: number | null = null;
  for (const r of rows) {
    const count = Number(r.count);
    const at = Number(r.last_ts);
    eventsByType[r.type] = count;
    total += count;
    if (last === null || at > last) last = at;
  }
  return { channel, totalEvents: total, eventsByType, lastUpdated: last, epoch: head?.epoch ?? null, offset: head ? Number(head.head) : 0 };
}
