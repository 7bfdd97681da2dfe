/**
 * The ports of the hub. Each is one small interface with an embedded driver and (later) a
 * scale-out driver; one shared test suite runs against every driver.
 */
import type { PulseEvent, Position, ChannelStats } from '@pulse/protocol';

/** A stored event with its node-local ingest sequence (global order of acceptance). */
export interface StoredEvent {
  seq: number;
  event: PulseEvent;
}

export interface ChannelHead {
  channel: string;
  epoch: string;
  offset: number;
}

/**
 * Durable events. Writes are group-committed: `enqueue` is cheap, `commit` writes everything
 * enqueued in one transaction. Reads see committed events only.
 */
/** What the hub hands the store: the event, its data already serialised once, and when it was accepted. */
export interface StoreItem {
  event: PulseEvent;
  dataJson: string;
  ingestedAt: number;
  /**
   * The id came from the client, so the store must refuse a second event with it. Generated
   * ids (random UUIDs) skip that unique check, which is most of an insert's cost. Default true.
   */
  dedupe?: boolean;
}

export interface Store {
  readonly kind: string;
  /** Queue events for the next commit. Returns nothing: durability is reported by `commit`. */
  enqueue(items: readonly StoreItem[]): void;
  /**
   * Write what is queued in one transaction. Returns the items that were not stored (duplicates),
   * as the objects handed to `enqueue`, so the copies of one id are told apart: an id stored by an
   * earlier commit drops every copy of it; an id new to the store and repeated within this commit
   * is stored once (its first copy) and only the later copies are returned.
   */
  commit(): Promise<Set<StoreItem>>;
  /** Number of events waiting for the next commit. */
  pending(): number;
  /** Events of a channel with offset > after (ascending), within epoch. */
  readAfter(channel: string, epoch: string, after: number, limit: number): Promise<PulseEvent[]>;
  /** The latest `limit` events of a channel, ascending. */
  latest(channel: string, limit: number): Promise<PulseEvent[]>;
  /** The head of every known channel (to continue offsets after a restart). */
  heads(): Promise<ChannelHead[]>;
  /** Counts per channel and type (seed 000 `getStats`). */
  stats(channel: string): Promise<ChannelStats>;
  /** The latest event of a channel whose `data[key]` equals `value` (seed 001 counters resume from it). */
  latestMatching(channel: string, key: string, value: string | number): Promise<PulseEvent | null>;
  /** Whether an event with this client-supplied (deduplicated) id is stored. */
  has(id: string): Promise<boolean>;
  /** Which of these client-supplied ids are stored (one lookup for a whole ingest call). */
  storedIds(ids: readonly string[]): Promise<Set<string>>;
  /** Recent client-supplied ids, newest first, to warm the dedupe cache after a restart. */
  recentIds(limit: number): Promise<string[]>;
  /**
   * Every stored event in acceptance order, after `afterSeq` (any number, not only a stored seq);
   * for rebuilding metrics. Seqs increase in acceptance order and are never handed out twice,
   * also after a prune or a restart.
   */
  scan(afterSeq: number, limit: number): Promise<StoredEvent[]>;
  /** Small key/value space for checkpoints (metrics state, reserved offsets). */
  getMeta(key: string): Promise<string | null>;
  setMeta(key: string, value: string): Promise<void>;
  /** Delete events older than `beforeTs` (ingest time) in channels of a namespace, and their ids; returns how many. */
  prune(namespace: string, beforeTs: number): Promise<number>;
  close(): Promise<void>;
}

/** Receives every accepted event after it is committed, in log order. Metrics are a sink. */
export interface EventSink {
  onEvents(events: readonly PulseEvent[]): void;
}

export type { Position };
