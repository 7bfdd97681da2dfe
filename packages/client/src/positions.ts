import type { PulseEvent, Position } from '@pulse/protocol/types';

/**
 * Where one subscription is in each channel it covers, and the dedupe rule built on it: an
 * event is new iff its channel is unseen, its epoch differs (the log was reset), or its offset
 * is past the last one delivered. Since every transport delivers a channel in offset order from
 * the `since` it was given, this yields each event exactly once, in order, even while two
 * transports overlap during a switch or a recovery replays what a live push already brought.
 */
export class PositionTracker {
  private readonly byChannel = new Map<string, Position>();

  /** Records `ev` and returns true when it has not been delivered before. */
  accept(ev: Pick<PulseEvent, 'channel' | 'epoch' | 'offset'>): boolean {
    const cur = this.byChannel.get(ev.channel);
    if (cur && cur.epoch === ev.epoch && ev.offset <= cur.offset) return false;
    // Re-inserted so the map's order is least to most recently delivered (see ChannelSub.since).
    if (cur) this.byChannel.delete(ev.channel);
    this.byChannel.set(ev.channel, { epoch: ev.epoch, offset: ev.offset });
    return true;
  }

  /**
   * Adopts a position the server reported (the log head at subscribe time), so a reconnect
   * before the first event still recovers what was published meanwhile. Never moves back.
   */
  advance(channel: string, pos: Position): void {
    const cur = this.byChannel.get(channel);
    if (!cur || cur.epoch !== pos.epoch || pos.offset > cur.offset) this.byChannel.set(channel, { ...pos });
  }

  get(channel: string): Position | undefined {
    return this.byChannel.get(channel);
  }

  entries(): Array<[string, Position]> {
    return [...this.byChannel.entries()];
  }

  get size(): number {
    return this.byChannel.size;
  }
}
