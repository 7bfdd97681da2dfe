/**
 * The hub: one path for every event. validate → dedupe → offsets → group commit → ring →
 * fan-out into session queues → one flush per dirty session → sinks (metrics).
 *
 * Everything accepted during one event-loop turn is committed together. Delivery is a rolling
 * sweep over the connections that have something queued, a slice of a few milliseconds per
 * event-loop turn: an idle server sends at once; under load, events committed while the sweep
 * is under way join the queues of the connections it has not reached yet, so each connection
 * gets everything since its last visit in one frame, and no event waits for a whole broadcast
 * to finish before its own begins.
 */
import { randomUUID } from 'node:crypto';
import type { Logger } from 'pino';
import {
  PulseError,
  namespaceOf,
  isValidChannel,
  type EventInput,
  type IngestResult,
  type PulseEvent,
  type Position,
  type ChannelStats,
} from '@pulse/protocol';
import type { Config, NamespacePolicy } from '../config.js';
import type { Store, EventSink, StoreItem } from '../ports.js';
import type { Telemetry } from '../telemetry.js';
import type { Principal } from '../auth/principal.js';
import * as permissions from '../auth/permissions.js';
import type { Guard } from '../limits/guard.js';
import { MemoryLog } from './log.js';
import { SubscriptionIndex } from './subscriptions.js';
import type { Session } from './session.js';
import { normalizeEvent, type NormalizedInput } from './normalize.js';
import { RecentIds } from './dedupe.js';
import { FrameCache } from './frame-cache.js';
import { LogReader } from './reader.js';
import { subscribe, type SubscribeDeps, type SubscribeOptions, type SubscribeResult } from './subscribe.js';
import type { Envelope } from './envelope.js';

/**
 * Runs at acceptance, before the event gets its offset; may add derived fields to `data`.
 * `prepare` loads what `enrich` needs for a channel, returning null when it is ready already.
 * A repeated client id never reaches `enrich`: in a namespace with an enricher the hub asks the
 * store about ids its cache does not know, so every enriched event is stored unless its commit
 * fails (one node; several nodes sharing a store can still race on one id).
 */
export interface Enricher {
  enrich(input: NormalizedInput): void;
  prepare?(channel: string): Promise<void> | null;
  /**
   * A commit holding events of this channel failed: what `enrich` counted for them is not
   * stored, so the running state must be read back from the store before the channel's next event.
   */
  forget?(channel: string): void;
}

export interface IngestOptions {
  wait?: 'durable' | 'none';
  source?: string;
  principal?: Principal;
}

export type { SubscribeOptions, SubscribeResult } from './subscribe.js';

/**
 * Encodings are shared until every connection has been sent the event; then the history ring
 * keeps the event, not its wire forms (a later recovery re-encodes what it replays).
 */
function dropEncodings(envs: readonly Envelope[]): void {
  for (let i = 0; i < envs.length; i++) {
    const env = envs[i];
    if (env.enc.length) env.enc = [];
    env.bufs = undefined;
    env.sio = undefined;
  }
}

const byIndex = (a: { index: number }, b: { index: number }) => a.index - b.index;

/**
 * A durable answer after its commit: the copies the store dropped (`envs` in the order of
 * `result.events`) move from the events to the duplicates.
 */
function settle(result: IngestResult, envs: readonly Envelope[]): void {
  let any = false;
  for (let j = 0; j < envs.length && !any; j++) any = envs[j].dropped === true;
  if (!any) return;
  const events: IngestResult['events'] = [];
  for (let j = 0; j < envs.length; j++) {
    const e = result.events[j];
    if (envs[j].dropped) {
      result.accepted--;
      result.duplicates++;
      result.duplicateItems.push({ index: e.index, id: e.id });
    } else events.push(e);
  }
  result.events = events;
  result.duplicateItems.sort(byIndex);
}

/** How long one slice of the delivery sweep may run before the event loop gets a turn. */
const FLUSH_SLICE_MS = 5;

export class Hub {
  readonly log: MemoryLog;
  private readonly reader: LogReader;
  private readonly subscribeDeps: SubscribeDeps;
  readonly index = new SubscriptionIndex();
  readonly sessions = new Set<Session>();
  /** Limits (subscription rate); set by the server, absent in a bare hub. */
  guard: Guard | null = null;
  /** Frames built during the current sweep, shared by connections with identical queues. */
  readonly frames = new FrameCache();
  private readonly dedupe: RecentIds;
  /**
   * Client ids from their first sight in `ingest` until the commit that stores them has ended
   * (or the store lookup finds them stored already, or the call fails): a repeat meanwhile is a
   * duplicate whatever the cache size, and no store lookup can begin before that commit ends and
   * then let a second copy through.
   */
  private readonly inflight = new Set<string>();
  private sinks: EventSink[] = [];
  private enrichers = new Map<string, Enricher>();
  private accepted: Envelope[] = [];
  private waiters: Array<{ resolve: () => void; reject: (e: Error) => void }> = [];
  /** Sessions with something queued, in the order they were marked; `dirtyPos` is the next one. */
  private dirty: Session[] = [];
  private dirtyPos = 0;
  /** Where the current sweep ends in `dirty`: every session marked before it began. */
  private sweepEnd = 0;
  /** Envelopes committed before the current sweep began (all delivered when it ends). */
  private sweepEnvs: Envelope[] = [];
  /** Envelopes committed since. */
  private nextEnvs: Envelope[] = [];
  private flushScheduled = false;
  private fanningOut = false;
  private readonly flushSlice = () => {
    this.flushScheduled = false;
    this.flushDirty();
  };
  private scheduled = false;
  private committing = false;
  private stamp = 0;
  private closed = false;
  private retention: NodeJS.Timeout | null = null;
  private readonly scheduleCycle = () => {
    this.scheduled = false;
    void this.cycle();
  };

  constructor(
    readonly config: Config,
    readonly store: Store,
    readonly logger: Logger,
    readonly telemetry: Telemetry,
  ) {
    this.log = new MemoryLog((ch) => this.policy(ch));
    this.reader = new LogReader(this.log, store, (ch) => this.policy(ch));
    const hub = this;
    this.subscribeDeps = {
      config,
      log: this.log,
      index: this.index,
      reader: this.reader,
      logger,
      policy: (ch) => this.policy(ch),
      get guard() {
        return hub.guard;
      },
    };
    this.dedupe = new RecentIds(config.DEDUPE_CACHE_SIZE);
  }

  /** Load channel heads and recent ids so offsets continue and duplicates are caught after a restart. */
  async init(): Promise<void> {
    for (const h of await this.store.heads()) this.log.restore(h.channel, h.epoch, h.offset);
    const ids = await this.store.recentIds(this.config.DEDUPE_CACHE_SIZE);
    for (let i = ids.length - 1; i >= 0; i--) this.dedupe.add(ids[i]);
    await this.prune();
    this.retention = setInterval(() => void this.prune(), 60_000);
    this.retention.unref();
  }

  /** Delete stored events older than their namespace's TTL. Channel heads and stats stay. */
  async prune(now = Date.now()): Promise<number> {
    let n = 0;
    for (const [ns, p] of Object.entries(this.config.namespaces)) {
      if (p.ttlSeconds > 0 && p.durable) {
        try {
          n += await this.store.prune(ns, now - p.ttlSeconds * 1000);
        } catch (e) {
          this.logger.warn({ err: e, namespace: ns }, 'retention prune failed');
        }
      }
    }
    return n;
  }

  policy(channel: string): NamespacePolicy {
    return this.config.namespaces[namespaceOf(channel)] ?? this.config.defaultPolicy;
  }

  addSink(s: EventSink): void {
    this.sinks.push(s);
  }

  /** Register an enricher for a namespace (one per namespace). */
  setEnricher(namespace: string, e: Enricher): void {
    this.enrichers.set(namespace, e);
  }

  subscriptionCount(): number {
    return this.index.size();
  }

  // ---- ingest ------------------------------------------------------------------------------

  /**
   * Accept a batch of untrusted items. One bad item never drops the good ones; a repeated id is
   * neither stored nor delivered twice. With `wait: 'durable'` the promise resolves after the
   * group commit that holds these events.
   *
   * Repeats are caught here, before a copy gets an offset or an enricher's value: by the dedupe
   * cache; by the in-flight set, so a second copy within one call, or across calls while the first
   * is not yet committed, is a duplicate whatever the cache size; and, for a namespace with an
   * enricher, by one store lookup of the ids both missed, so that a copy the store would drop
   * never moves an enricher's running value. Only an id stored by an earlier commit and missed
   * by the cache (cache size 0, an id older than the cache, another node) in a namespace without
   * an enricher reaches the store, which drops it at commit.
   */
  async ingest(items: readonly unknown[], opts: IngestOptions = {}): Promise<IngestResult> {
    if (this.closed) throw new PulseError('SERVER_SHUTDOWN');
    const now = Date.now();
    const result: IngestResult = { accepted: 0, duplicates: 0, rejected: 0, events: [], duplicateItems: [], errors: [], durable: false };
    const nopts = { now, maxFutureSkewMs: this.config.MAX_FUTURE_SKEW_MS, maxEventBytes: this.config.MAX_EVENT_BYTES, maxDepth: this.config.MAX_JSON_DEPTH };
    const inflight = this.inflight;
    // The items to accept; null for a rejected item or a duplicate. Each id here is in `inflight`.
    const ok: Array<NormalizedInput | null> = new Array(items.length);
    let waits: Promise<void>[] | null = null;
    // Ids the store is asked about: items with an id in a durable namespace with an enricher.
    let lookup: string[] | null = null;
    for (let i = 0; i < items.length; i++) {
      const n = normalizeEvent(items[i], nopts);
      if (!n.ok) {
        ok[i] = null;
        result.rejected++;
        result.errors.push({ index: i, code: n.code, message: n.message });
        this.telemetry.rejected.inc({ code: n.code });
        continue;
      }
      const v = n.value;
      const id = v.id;
      if (id !== null) {
        if (this.dedupe.has(id) || inflight.has(id)) {
          ok[i] = null;
          this.duplicate(result, i, id);
          continue;
        }
        inflight.add(id);
      }
      ok[i] = v;
      const ns = namespaceOf(v.channel);
      const en = this.enrichers.get(ns);
      if (en !== undefined) {
        const w = en.prepare?.(v.channel);
        if (w) (waits ??= []).push(w);
        if (id !== null && (this.config.namespaces[ns] ?? this.config.defaultPolicy).durable) (lookup ??= []).push(id);
      }
    }
    let stored: Set<string> | null = null;
    if (waits !== null || lookup !== null) {
      try {
        [stored] = await Promise.all([lookup !== null ? this.store.storedIds(lookup) : null, ...(waits ?? [])]);
        if (this.closed) throw new PulseError('SERVER_SHUTDOWN');
      } catch (e) {
        for (const v of ok) if (v && v.id !== null) inflight.delete(v.id);
        throw e;
      }
    }
    const source = opts.source ?? 'api';
    // This call's envelopes, in the order of `result.events`, when the answer waits for the commit.
    const envs: Envelope[] | null = opts.wait === 'durable' ? [] : null;
    let anyDurable = false;
    let unordered = false;
    for (let i = 0; i < items.length; i++) {
      const v = ok[i];
      if (!v) continue;
      const id = v.id;
      if (id !== null) {
        if (stored !== null && stored.has(id)) {
          inflight.delete(id);
          this.dedupe.add(id);
          this.duplicate(result, i, id);
          unordered = true;
          continue;
        }
        this.dedupe.add(id);
      }
      const env = this.accept(v, now, source);
      if (env.durable) anyDurable = true;
      envs?.push(env);
      result.accepted++;
      result.events.push({ index: i, id: env.event.id, channel: env.event.channel, offset: env.event.offset, epoch: env.event.epoch });
    }
    if (unordered) result.duplicateItems.sort(byIndex);
    if (opts.wait === 'durable' && anyDurable) {
      await this.nextCommit();
      result.durable = true;
      // Answered after the commit, so the answer says what it did: a copy the store dropped is a
      // duplicate. Without a wait the answer goes out before the commit and lists such a copy as
      // accepted (with an offset that is never stored); the hub then neither delivers nor keeps
      // it, and the telemetry counts it as a duplicate, not as ingested (see `cycle`).
      settle(result, envs!);
    }
    return result;
  }

  private duplicate(result: IngestResult, index: number, id: string): void {
    result.duplicates++;
    result.duplicateItems.push({ index, id });
    this.telemetry.duplicates.inc();
  }

  /** Trusted internal publish (metric snapshots, sources): same path, no validation beyond the channel. */
  publish(input: EventInput): PulseEvent {
    if (!isValidChannel(input.channel)) throw new PulseError('INVALID_CHANNEL');
    const now = Date.now();
    const dataJson = JSON.stringify(input.data ?? {});
    const v: NormalizedInput = {
      channel: input.channel,
      type: input.type,
      id: input.id ?? null,
      ts: typeof input.ts === 'number' ? input.ts : now,
      dataJson,
      data: input.data ?? {},
    };
    if (input.userId) v.userId = input.userId;
    if (input.orgId) v.orgId = input.orgId;
    if (input.txId) v.txId = input.txId;
    if (input.blockHeight !== undefined) v.blockHeight = input.blockHeight;
    return this.accept(v, now, undefined).event;
  }

  private accept(v: NormalizedInput, now: number, source: string | undefined): Envelope {
    const ns = namespaceOf(v.channel);
    const en = this.enrichers.get(ns);
    if (en) {
      en.enrich(v);
      v.dataJson = JSON.stringify(v.data);
    }
    const ch = this.log.open(v.channel);
    const event: PulseEvent = { id: v.id ?? randomUUID(), channel: v.channel, type: v.type, ts: v.ts, data: v.data, offset: ch.next(), epoch: ch.epoch };
    if (v.userId !== undefined) event.userId = v.userId;
    if (v.orgId !== undefined) event.orgId = v.orgId;
    if (v.txId !== undefined) event.txId = v.txId;
    if (v.blockHeight !== undefined) event.blockHeight = v.blockHeight;
    const env: Envelope = { event, dataJson: v.dataJson, acceptedAt: now, ns, stamp: ++this.stamp, durable: (this.config.namespaces[ns] ?? this.config.defaultPolicy).durable, clientId: v.id !== null, enc: [], source, dropped: false };
    this.accepted.push(env);
    this.schedule();
    return env;
  }

  private schedule(): void {
    if (!this.scheduled && !this.committing) {
      this.scheduled = true;
      setImmediate(this.scheduleCycle);
    }
  }

  /** Resolves after the next commit (everything accepted before this call is then durable). */
  private nextCommit(): Promise<void> {
    return new Promise((resolve, reject) => {
      this.waiters.push({ resolve, reject });
      this.schedule();
    });
  }

  private async cycle(): Promise<void> {
    if (this.committing) return;
    const batch = this.accepted;
    const waiters = this.waiters;
    if (batch.length === 0 && waiters.length === 0) return;
    this.accepted = [];
    this.waiters = [];
    this.committing = true;
    // The durable envelopes' items, in batch order; the store reports the ones it dropped by
    // identity, so of an id repeated within the batch exactly the dropped copies are skipped.
    const items: StoreItem[] = [];
    let dropped: Set<StoreItem>;
    const t0 = performance.now();
    try {
      for (const env of batch) if (env.durable) items.push({ event: env.event, dataJson: env.dataJson, ingestedAt: env.acceptedAt, dedupe: env.clientId });
      if (items.length) this.store.enqueue(items);
      dropped = await this.store.commit();
      if (items.length) this.telemetry.commitLatency.observe((performance.now() - t0) / 1000);
    } catch (e) {
      // Nothing of this batch is durable, so nothing of it is delivered: clients never see an
      // event that could vanish. Producers waiting for durability get an error. Its ids are free
      // again for a retry: out of the in-flight set and out of the dedupe cache (a retry answered
      // as a duplicate of a copy that was never stored would lose the event).
      this.committing = false;
      for (const env of batch) {
        this.enrichers.get(env.ns)?.forget?.(env.event.channel);
        if (!env.clientId) continue;
        if (env.source !== undefined) this.inflight.delete(env.event.id);
        this.dedupe.delete(env.event.id);
      }
      this.logger.error({ err: e, events: batch.length }, 'store commit failed; batch dropped');
      this.telemetry.dropped.inc({ reason: 'commit_failed' }, batch.length);
      const err = new PulseError('UNAVAILABLE', 'Store commit failed');
      for (const w of waiters) w.reject(err);
      if (this.accepted.length) this.schedule();
      return;
    }
    this.committing = false;

    // The commit has ended: its ids are in the store (a lookup finds them), so they leave the
    // in-flight set. The copies the store dropped are marked (the durable answers read the mark)
    // and counted as duplicates; the ingested counter counts the others, so no copy is counted
    // twice, also when its answer went out before the commit.
    const inflight = this.inflight;
    const anyDropped = dropped.size !== 0;
    let source: string | undefined;
    let n = 0;
    // k: the next durable envelope's item (non-durable envelopes have none).
    for (let i = 0, k = 0; i < batch.length; i++) {
      const env = batch[i];
      if (env.durable && anyDropped && dropped.has(items[k++])) {
        env.dropped = true;
        this.telemetry.duplicates.inc();
      }
      if (env.source === undefined) continue;
      if (env.clientId) inflight.delete(env.event.id);
      if (env.dropped) continue;
      if (env.source !== source) {
        if (n) this.telemetry.ingested.inc({ source: source! }, n);
        source = env.source;
        n = 0;
      }
      n++;
    }
    if (n) this.telemetry.ingested.inc({ source: source! }, n);

    const delivered: PulseEvent[] = [];
    // The flush below continues the sweep; sessions marked now must not schedule another slice
    // ahead of commits already waiting for their turn.
    this.fanningOut = true;
    try {
      for (let i = 0; i < batch.length; i++) {
        const env = batch[i];
        if (env.dropped) continue;
        const ch = this.log.get(env.event.channel);
        if (ch && ch.epoch === env.event.epoch) ch.push(env);
        this.index.fanout(env);
        if (env.durable) delivered.push(env.event);
      }
    } finally {
      this.fanningOut = false;
    }
    // Frames first, so delivery latency does not include the metric roll-ups; then the sinks,
    // then the durable answers (which therefore see the metrics already updated).
    for (let i = 0; i < batch.length; i++) this.nextEnvs.push(batch[i]);
    this.flushDirty();
    if (batch.length) this.telemetry.fanoutLatency.observe((Date.now() - batch[0].acceptedAt) / 1000);
    if (delivered.length) {
      for (const s of this.sinks) {
        try {
          s.onEvents(delivered);
        } catch (e) {
          this.logger.error({ err: e }, 'event sink failed');
          this.telemetry.errors.inc({ code: 'INTERNAL' });
        }
      }
    }
    for (const w of waiters) w.resolve();
    if (this.accepted.length || this.waiters.length) this.schedule();
  }

  markDirty(s: Session): void {
    this.dirty.push(s);
    // A recovery may queue events outside a cycle; make sure a flush follows.
    if (!this.committing && !this.fanningOut) this.scheduleFlush();
  }

  private scheduleFlush(): void {
    if (!this.flushScheduled) {
      this.flushScheduled = true;
      setImmediate(this.flushSlice);
    }
  }

  /**
   * One slice of the sweep: flush queued sessions in order until `budgetMs` has passed, then
   * yield to the event loop (ingest, commits) and continue on the next turn. A session reached
   * later in the sweep sends everything committed until then.
   */
  private flushDirty(budgetMs = FLUSH_SLICE_MS): void {
    const list = this.dirty;
    const start = performance.now();
    let i = this.dirtyPos;
    while (i < list.length) {
      if (i === this.sweepEnd) this.endSweep();
      const s = list[i++];
      s.dirty = false;
      if (!s.closed) {
        try {
          s.flush();
        } catch (e) {
          this.logger.warn({ err: e, session: s.id }, 'flush failed; closing session');
          s.terminate(1011, 'INTERNAL');
        }
      }
      if ((i & 7) === 0 && performance.now() - start >= budgetMs) break;
    }
    if (i < list.length) {
      if (i >= 4096) {
        // Drop the flushed head so a list that never empties under load does not grow.
        this.dirty = list.slice(i);
        this.sweepEnd -= i;
        i = 0;
      }
      this.dirtyPos = i;
      this.scheduleFlush();
      return;
    }
    // Every queue is empty: everything committed so far has been sent.
    this.endSweep();
    dropEncodings(this.sweepEnvs);
    this.sweepEnvs = [];
    this.dirty = [];
    this.dirtyPos = 0;
    this.sweepEnd = 0;
  }

  /** The sessions marked before the current sweep began are flushed: begin the next sweep. */
  private endSweep(): void {
    // Frames are shared across the slices of a sweep: connections reached in different slices
    // often hold the same queue (everything committed since they were last visited together).
    this.frames.clear();
    dropEncodings(this.sweepEnvs);
    this.sweepEnvs = this.nextEnvs;
    this.nextEnvs = [];
    this.sweepEnd = this.dirty.length;
  }

  // ---- sessions and subscriptions ------------------------------------------------------------

  attach(s: Session): void {
    this.sessions.add(s);
  }

  detach(s: Session): void {
    if (!this.sessions.delete(s)) return;
    s.closed = true;
    for (const sub of s.subs.values()) {
      this.index.remove(sub);
      this.guard?.released(sub);
    }
    s.subs.clear();
  }

  /** May this principal read this channel (or pattern)? Rules: auth/permissions.ts. */
  canSubscribe(p: Principal, target: string): boolean {
    return permissions.canSubscribe(this.config, p, target, 'read');
  }

  canPublish(p: Principal, channel: string): boolean {
    return permissions.canPublish(this.config, p, channel);
  }

  /**
   * Subscribe a session. With `since`, the missed events are queued before any live one, each
   * exactly once; `recovered: false` says they are no longer all available. (hub/subscribe.ts)
   */
  subscribe(s: Session, target: string, o: SubscribeOptions): Promise<SubscribeResult> {
    return subscribe(this.subscribeDeps, s, target, o);
  }

  unsubscribe(s: Session, target: string): void {
    const sub = s.subs.get(target);
    if (!sub) throw new PulseError('NOT_SUBSCRIBED', `Not subscribed to ${String(target).slice(0, 200)}`);
    this.index.remove(sub);
    s.subs.delete(target);
    this.guard?.released(sub);
  }

  // ---- reads ---------------------------------------------------------------------------------

  /** Events after a position (ascending), or the latest `limit`. */
  async history(channel: string, o: { limit: number; since?: Position }): Promise<{ events: PulseEvent[]; position: Position | null; recovered?: boolean }> {
    if (!isValidChannel(channel)) throw new PulseError('INVALID_CHANNEL');
    const ch = this.log.get(channel);
    const position = ch ? { epoch: ch.epoch, offset: ch.committed } : null;
    if (o.since) {
      const r = await this.reader.after(channel, o.since, o.limit);
      return { events: r.events.map((e) => e.event), position, recovered: r.recovered };
    }
    return { events: await this.reader.latest(channel, o.limit), position };
  }

  async stats(channel: string): Promise<ChannelStats> {
    if (!isValidChannel(channel)) throw new PulseError('INVALID_CHANNEL');
    const st = await this.store.stats(channel);
    const ch = this.log.get(channel);
    if (ch) {
      st.epoch = ch.epoch;
      st.offset = ch.committed;
    }
    return st;
  }

  /** Stop accepting, commit what is pending, and deliver it. */
  async drain(): Promise<void> {
    this.closed = true;
    if (this.retention) clearInterval(this.retention);
    while (this.committing || this.accepted.length || this.waiters.length) {
      if (!this.committing) await this.cycle();
      else await new Promise((r) => setImmediate(r));
    }
    this.flushDirty(Infinity);
  }
}
