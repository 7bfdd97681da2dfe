/**
 * Reads of committed events for history and recovery: from the in-memory ring when it reaches
 * back far enough, else from the store. One place decides whether what it returns starts right
 * after the asked position (`recovered`).
 */
import { namespaceOf, type Position, type PulseEvent } from '@pulse/protocol';
import type { Store } from '../ports.js';
import type { NamespacePolicy } from '../config.js';
import type { MemoryLog } from './log.js';
import type { Envelope } from './envelope.js';

export interface ReadAfter {
  events: Envelope[];
  /** True when `events` begins right after the position: nothing in between was lost. */
  recovered: boolean;
}

export class LogReader {
  constructor(
    private log: MemoryLog,
    private store: Store,
    private policy: (channel: string) => NamespacePolicy,
  ) {}

  /** Up to `limit` committed events of a channel after `pos`, ascending. */
  async after(channel: string, pos: Position, limit: number): Promise<ReadAfter> {
    const ch = this.log.get(channel);
    if (!ch) return { events: [], recovered: pos.offset === 0 };
    if (ch.epoch !== pos.epoch || pos.offset > ch.committed) return { events: [], recovered: false };
    const ring = ch.after(pos.offset, Date.now());
    if (ring !== null) return { events: ring.length > limit ? ring.slice(0, limit) : ring, recovered: true };
    if (!this.policy(channel).durable) return { events: [], recovered: false };
    const rows = await this.store.readAfter(channel, pos.epoch, pos.offset, limit);
    // The store keeps every delivered offset; a hole at the start means events were pruned.
    return { events: rows.map(envelopeFromStore), recovered: rows.length > 0 && rows[0].offset === pos.offset + 1 };
  }

  /** The latest `limit` committed events of a channel in its current epoch, ascending. */
  async latest(channel: string, limit: number): Promise<PulseEvent[]> {
    const ch = this.log.get(channel);
    if (!ch) return [];
    const ring = ch.entries(Date.now());
    if (ring.length >= limit || !this.policy(channel).durable) return ring.slice(-limit).map((e) => e.event);
    const rows = await this.store.latest(channel, limit);
    return rows.filter((e) => e.epoch === ch.epoch);
  }
}

export function envelopeFromStore(e: PulseEvent): Envelope {
  return { event: e, dataJson: JSON.stringify(e.data), acceptedAt: Date.now(), ns: namespaceOf(e.channel), stamp: -1, durable: true, clientId: true, enc: [] };
}
