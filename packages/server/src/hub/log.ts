/**
 * The embedded Log driver: per-channel offsets with an epoch, and a bounded ring of recent
 * committed events for history and fast recovery. Offsets are handed out at acceptance; events
 * enter the ring only after their commit, in offset order.
 */
import { randomBytes } from 'node:crypto';
import type { Envelope } from './envelope.js';

export function newEpoch(): string {
  return Date.now().toString(36) + randomBytes(3).toString('hex');
}

export class ChannelLog {
  /** Last offset handed out. */
  assigned: number;
  /** Last offset committed and visible. */
  committed: number;
  private ring: Envelope[] = [];
  private start = 0;
  constructor(
    readonly channel: string,
    public epoch: string,
    head: number,
    private capacity: number,
    private ttlMs: number,
  ) {
    this.assigned = head;
    this.committed = head;
  }

  next(): number {
    return ++this.assigned;
  }

  push(env: Envelope): void {
    if (env.event.offset > this.committed) this.committed = env.event.offset;
    if (this.capacity === 0) return;
    if (this.ring.length < this.capacity) this.ring.push(env);
    else {
      this.ring[this.start] = env;
      this.start = (this.start + 1) % this.capacity;
    }
  }

  /** Ring contents, oldest first, without expired events. */
  entries(now: number): Envelope[] {
    const n = this.ring.length;
    const out: Envelope[] = new Array(n);
    for (let i = 0; i < n; i++) out[i] = this.ring[(this.start + i) % n];
    if (this.ttlMs > 0) {
      const cut = now - this.ttlMs;
      let k = 0;
      while (k < out.length && out[k].acceptedAt < cut) k++;
      return k ? out.slice(k) : out;
    }
    return out;
  }

  /**
   * The committed events after `offset` if the ring still holds all of them, else null.
   * An empty array means nothing was missed.
   */
  after(offset: number, now: number): Envelope[] | null {
    if (offset >= this.committed) return [];
    const all = this.entries(now);
    if (all.length === 0) return null;
    // Offsets in the ring may have gaps (duplicates dropped at commit); what matters is that the
    // ring reaches back to the first offset after `offset`.
    if (all[0].event.offset > offset + 1) return null;
    let i = 0;
    while (i < all.length && all[i].event.offset <= offset) i++;
    return all.slice(i);
  }
}

export class MemoryLog {
  private channels = new Map<string, ChannelLog>();
  constructor(private policyOf: (channel: string) => { history: number; ttlSeconds: number }) {}

  get(channel: string): ChannelLog | undefined {
    return this.channels.get(channel);
  }

  /** The channel's log, created with a fresh epoch on first use. */
  open(channel: string): ChannelLog {
    let c = this.channels.get(channel);
    if (!c) {
      const p = this.policyOf(channel);
      c = new ChannelLog(channel, newEpoch(), 0, p.history, p.ttlSeconds * 1000);
      this.channels.set(channel, c);
    }
    return c;
  }

  /** Continue a channel after a restart: same epoch, offsets after the stored head. */
  restore(channel: string, epoch: string, head: number): ChannelLog {
    const p = this.policyOf(channel);
    const c = new ChannelLog(channel, epoch, head, p.history, p.ttlSeconds * 1000);
    this.channels.set(channel, c);
    return c;
  }

  size(): number {
    return this.channels.size;
  }

  names(): IterableIterator<string> {
    return this.channels.keys();
  }
}
