import { MAX_SINCE_CHANNELS, matches, isPattern } from '@pulse/protocol/channel';
import { PulseError } from '@pulse/protocol/errors';
import type { PulseEvent, Position } from '@pulse/protocol/types';
import type { ChannelStats } from '@pulse/protocol';
import { Emitter } from './emitter.js';
import { PositionTracker } from './positions.js';
import type { SubscribeOutcome, SubscribeSpec } from './transport.js';

/** An event whose `data` the app has typed. The wire does not check it: validate if it matters. */
export type TypedEvent<D = Record<string, unknown>> = Omit<PulseEvent, 'data'> & { data: D };
export type EventHandler<D = Record<string, unknown>> = (event: TypedEvent<D>) => void;

export interface SubscribedInfo {
  target: string;
  /** `false`: events were missed and cannot be replayed; refetch state (history, metrics). */
  recovered: boolean | undefined;
  /** True for a resubscription after a reconnect or a transport switch. */
  resubscribed: boolean;
}

export type SubscriptionState = 'pending' | 'subscribed' | 'unsubscribed';

/** What a subscription needs from the client; keeps the two files from importing each other. */
export interface SubscriptionHost {
  history(channel: string, limit: number): Promise<PulseEvent[]>;
  stats(channel: string): Promise<ChannelStats>;
  release(sub: Subscription<never>): void;
}

interface SubscriptionEvents {
  subscribed: SubscribedInfo;
  error: PulseError;
}

/**
 * The app's handle on one `subscribe()` call. Several handles may share a target; the client
 * keeps one server subscription per target (a {@link ChannelSub}).
 */
export class Subscription<D = Record<string, unknown>> {
  private readonly emitter = new Emitter<SubscriptionEvents>();
  private _state: SubscriptionState = 'pending';
  private _recovered: boolean | undefined;
  private _error: PulseError | undefined;
  private readyResolve!: () => void;
  private readyReject!: (e: unknown) => void;
  /** Resolves at the first confirmation from the server; rejects if the first attempt fails. */
  readonly ready: Promise<void>;

  constructor(
    readonly target: string,
    readonly types: readonly string[] | undefined,
    readonly handler: EventHandler<D>,
    private readonly host: SubscriptionHost,
    /** @internal */ readonly channelSub: ChannelSub,
  ) {
    this.ready = new Promise<void>((resolve, reject) => {
      this.readyResolve = resolve;
      this.readyReject = reject;
    });
    // An app that never awaits `ready` must not get an unhandled rejection: errors also go to `on('error')`.
    this.ready.catch(() => {});
  }

  get state(): SubscriptionState {
    return this._state;
  }
  get recovered(): boolean | undefined {
    return this._recovered;
  }
  get error(): PulseError | undefined {
    return this._error;
  }

  on<K extends keyof SubscriptionEvents>(name: K, fn: (v: SubscriptionEvents[K]) => void): () => void {
    return this.emitter.on(name, fn);
  }

  /** Last position delivered on `channel` (default: the target itself). */
  position(channel: string = this.target): Position | undefined {
    return this.channelSub.positions.get(channel);
  }

  /** The latest `limit` stored events of the channel (a pattern needs `channel`). */
  history(limit = 50, channel?: string): Promise<Array<TypedEvent<D>>> {
    const ch = this.exactChannel(channel);
    return this.host.history(ch, limit) as Promise<Array<TypedEvent<D>>>;
  }

  stats(channel?: string): Promise<ChannelStats> {
    return this.host.stats(this.exactChannel(channel));
  }

  unsubscribe(): void {
    if (this._state === 'unsubscribed') return;
    this._state = 'unsubscribed';
    this.host.release(this as unknown as Subscription<never>);
    this.emitter.removeAll();
  }

  private exactChannel(channel: string | undefined): string {
    const ch = channel ?? this.target;
    // A bare namespace (`analytics`) is a channel of its own as well as the parent of `analytics:*`.
    if (ch.endsWith('*') || (channel !== undefined && !matches(this.target, channel))) {
      throw new PulseError('INVALID_CHANNEL', `history/stats need an exact channel covered by ${this.target}`);
    }
    return ch;
  }

  /** @internal */
  deliver(ev: PulseEvent): void {
    if (this._state === 'unsubscribed') return;
    if (this.types && !this.types.includes(ev.type)) return;
    this.handler(ev as TypedEvent<D>);
  }

  /** @internal */
  confirm(info: SubscribedInfo): void {
    if (this._state === 'unsubscribed') return;
    this._state = 'subscribed';
    this._recovered = info.recovered;
    this._error = undefined;
    this.readyResolve();
    this.emitter.emit('subscribed', info);
  }

  /** @internal */
  fail(err: PulseError): void {
    if (this._state === 'unsubscribed') return;
    this._error = err;
    this.readyReject(err);
    this.emitter.emit('error', err);
  }
}

/** A pattern's `since` on the WebSocket: half the server's default 64 KiB frame limit. */
export const SINCE_BUDGET_BYTES = 32 * 1024;

/** One server-side subscription (per target): positions, dedupe and the local handles. */
export class ChannelSub {
  readonly positions = new PositionTracker();
  readonly subs = new Set<Subscription<never>>();
  /** Has the server confirmed it at least once (so the next confirmation is a resubscription)? */
  confirmed = false;

  constructor(
    readonly target: string,
    /** A position the app asked to start from (first subscribe only). */
    private readonly initialSince: Position | undefined,
  ) {}

  /** Union of the handles' filters; undefined when any handle wants every type. */
  types(): string[] | undefined {
    const out = new Set<string>();
    for (const s of this.subs) {
      if (!s.types) return undefined;
      for (const t of s.types) out.add(t);
    }
    return [...out].sort();
  }

  /**
   * Set when a `since()` had to leave channels out (see there); read and cleared by the next
   * confirmation, which then reports `recovered: false`.
   */
  private sinceTruncated = false;

  /**
   * Where to resume: the tracked position(s), or the app's initial `since`. A pattern's map is
   * bounded: the server reads at most 1000 channels and refuses a frame (or URL) over its size
   * limit, which would fail every resubscription. The most recently delivered channels go first;
   * the ones left out cannot be replayed, so the confirmation says `recovered: false`.
   */
  since(maxBytes: number = SINCE_BUDGET_BYTES): SubscribeSpec['since'] {
    if (!isPattern(this.target)) return this.positions.get(this.target) ?? this.initialSince;
    // Patterns: every channel known to exist since the subscription, at its delivered position,
    // else where it stood when the pattern was subscribed (baseline), else from its start
    // (discovered after the subscription: all its events are new to this subscriber).
    const out: Record<string, Position> = {};
    let bytes = 0;
    let n = 0;
    const add = (ch: string, p: Position): void => {
      if (Object.prototype.hasOwnProperty.call(out, ch)) return;
      const cost = ch.length + p.epoch.length + 40;
      if (n >= MAX_SINCE_CHANNELS || bytes + cost > maxBytes) {
        this.sinceTruncated = true;
        return;
      }
      out[ch] = p;
      bytes += cost;
      n++;
    };
    const delivered = this.positions.entries();
    for (let i = delivered.length - 1; i >= 0; i--) add(delivered[i]![0], delivered[i]![1]);
    for (const [ch, p] of this.discovered) add(ch, p);
    if (this.baseline) for (const [ch, p] of this.baseline) add(ch, p);
    return n > 0 ? out : undefined;
  }

  /**
   * Pattern bookkeeping for recovery of channels that had no event delivered: where each
   * matching channel stood right after the first subscription (`baseline`), and channels that
   * appeared later (`discovered`, from position 0 of their epoch).
   */
  baseline: Map<string, Position> | null = null;
  readonly discovered = new Map<string, Position>();

  /** Takes a channel listing: the first becomes the baseline, later ones add new channels. */
  learnChannels(list: ReadonlyArray<{ channel: string; epoch: string; offset: number }>): void {
    const mine = list.filter((c) => matches(this.target, c.channel));
    if (!this.baseline) {
      this.baseline = new Map(mine.map((c) => [c.channel, { epoch: c.epoch, offset: c.offset }]));
      return;
    }
    for (const c of mine) {
      if (!this.baseline.has(c.channel) && !this.positions.get(c.channel)) this.discovered.set(c.channel, { epoch: c.epoch, offset: 0 });
    }
  }

  spec(): SubscribeSpec {
    return { target: this.target, types: this.types(), since: this.since() };
  }

  covers(channel: string): boolean {
    return matches(this.target, channel);
  }

  deliver(ev: PulseEvent): void {
    if (!this.positions.accept(ev)) return;
    for (const s of this.subs) s.deliver(ev);
  }

  confirm(outcome: SubscribeOutcome, sentSince: boolean): SubscribedInfo {
    // Adopt the head only for a fresh subscription: after a `since`, the replay that follows
    // the reply carries offsets at or below the head and must not be mistaken for duplicates.
    if (!sentSince && outcome.position && !isPattern(this.target)) this.positions.advance(this.target, outcome.position);
    const recovered = sentSince && this.sinceTruncated ? false : outcome.recovered;
    this.sinceTruncated = false;
    this.failed = undefined;
    const info: SubscribedInfo = { target: this.target, recovered, resubscribed: this.confirmed };
    this.confirmed = true;
    for (const s of this.subs) s.confirm(info);
    return info;
  }

  fail(err: PulseError): void {
    this.failed = err;
    for (const s of this.subs) s.fail(err);
  }

  /** The server refused the last attempt (no subscription is live for this target). */
  failed: PulseError | undefined;
}
