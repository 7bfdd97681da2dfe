import { PulseError } from '@pulse/protocol/errors';
import { isValidSubscriptionTarget, isPattern } from '@pulse/protocol/channel';
import type { PulseEvent, Position } from '@pulse/protocol/types';
import type { ChannelStats, ClientOp, ReplyResults } from '@pulse/protocol';
import { BACKOFF_DEFAULT, type BackoffOptions } from './backoff.js';
import { Connection, type ConnectionEvents, type ConnectionSnapshot } from './connection.js';
import { Emitter } from './emitter.js';
import { defaultTimers, type Env, type FetchLike, type Timers, type WebSocketCtor } from './env.js';
import { HttpApi, type PublishResult } from './http-api.js';
import type { ConnectionState } from './state.js';
import { ChannelSub, Subscription, type EventHandler, type SubscribedInfo } from './subscription.js';
import type { SubscribeOutcome, SubscribeSpec, Transport, TransportKind } from './transport.js';
import { WebSocketTransport, type RequestBody } from './ws-transport.js';

export interface PulseClientOptions {
  /** Server base URL (`http://host:3002`). A function is read on every connect (tests, failover). */
  url?: string | (() => string);
  /** Full native WebSocket URL; default: `url` with a ws scheme plus `/ws`. */
  wsUrl?: string | (() => string);
  token?: string;
  /** Called for the first connection and again after `TOKEN_EXPIRED` / `UNAUTHORIZED`. */
  getToken?: () => string | Promise<string>;
  /** Tried in this order; the next is used when one cannot open. */
  transports?: TransportKind[];
  backoff?: Partial<BackoffOptions>;
  requestTimeoutMs?: number;
  /**
   * With `getToken`, renew the token this long before its `exp` over the open WebSocket (native
   * `auth`), so the connection is never dropped for expiry. `false`: renew only after the server
   * closes with `TOKEN_EXPIRED`.
   */
  renewBeforeMs?: number | false;
  /** While on SSE or polling, how often to try the WebSocket again, ms. */
  upgradeProbeMs?: number;
  pollWaitMs?: number;
  pollLimit?: number;
  /**
   * Give an SSE stream up (and reconnect) after this long without data or heartbeat: a half-open
   * connection never closes by itself. Keep it above twice the server's HEARTBEAT_MS (25 s by
   * default). Default 65000; 0 turns it off.
   */
  sseIdleTimeoutMs?: number;
  /**
   * Recover pattern subscriptions on channels that had nothing delivered yet, including channels
   * created while disconnected (one `GET /v1/channels?prefix=` after subscribing and after each
   * reconnect). Default true.
   */
  patternRecovery?: boolean;
  WebSocket?: WebSocketCtor;
  fetch?: FetchLike;
  timers?: Timers;
  random?: () => number;
}

/** `market:*` → `market:`; `analytics` → `analytics` (the listing is then filtered by `matches`). */
function prefixOf(target: string): string {
  return target.endsWith('*') ? target.slice(0, -1) : target;
}

export interface SubscribeOptions {
  types?: string[];
  /** Start from this position (exact channels): events after it are replayed first. */
  since?: Position;
}

interface ClientEvents extends ConnectionEvents {
  subscribed: SubscribedInfo;
}

const ALL_TRANSPORTS: TransportKind[] = ['websocket', 'sse', 'polling'];

/**
 * The Pulse client: one connection, many subscriptions, recovery across reconnects.
 * @example
 * const client = new PulseClient({ url: 'http://localhost:3002', WebSocket });
 * client.connect();
 * const sub = client.subscribe('market:*', { types: ['trade'] }, (e) => console.log(e.channel, e.data));
 */
export class PulseClient {
  private readonly emitter = new Emitter<ClientEvents>();
  private readonly channelSubs = new Map<string, ChannelSub>();
  private readonly conn: Connection;
  private readonly api: HttpApi;
  /** Whether pattern subscriptions track channel listings for recovery (needs fetch). */
  private readonly canList: boolean;
  private readonly timers: Timers;
  private readonly random: () => number;

  constructor(opts: PulseClientOptions = {}) {
    const env: Env = {
      WebSocket: opts.WebSocket ?? (globalThis as { WebSocket?: WebSocketCtor }).WebSocket,
      fetch: opts.fetch ?? (typeof globalThis.fetch === 'function' ? globalThis.fetch.bind(globalThis) : undefined),
      timers: opts.timers ?? defaultTimers,
    };
    this.conn = new Connection(
      {
        ...opts,
        backoff: { ...BACKOFF_DEFAULT, ...opts.backoff },
        transports: opts.transports?.length ? [...opts.transports] : ALL_TRANSPORTS,
      },
      env,
      {
        specs: () => [...this.channelSubs.values()].map((c) => c.spec()),
        sinceOf: (target, maxBytes) => this.channelSubs.get(target)?.since(maxBytes),
        attach: (t) => {
          for (const cs of this.channelSubs.values()) this.sendSubscribe(t, cs);
        },
        onEvents: (events) => this.onEvents(events),
        onFailed: (err) => {
          for (const cs of this.channelSubs.values()) if (!cs.confirmed) cs.fail(err);
        },
        // ConnectionEvents is a subset of ClientEvents, key for key.
        emit: (name, value) => this.emitter.emit(name, value as ClientEvents[typeof name]),
      },
    );
    this.api = new HttpApi(() => this.conn.baseUrl, () => this.conn.token(), env.fetch);
    this.canList = env.fetch !== undefined && opts.patternRecovery !== false;
    this.timers = env.timers;
    this.random = opts.random ?? Math.random;
  }

  get state(): ConnectionState {
    return this.conn.state;
  }
  get transportKind(): TransportKind | null {
    return this.conn.getSnapshot().transport;
  }
  /** `{state, transport, lastChange}`: immutable, replaced on every change (for `useSyncExternalStore`). */
  getSnapshot = (): ConnectionSnapshot => this.conn.getSnapshot();
  get baseUrl(): string {
    return this.conn.baseUrl;
  }

  on<K extends keyof ClientEvents>(name: K, fn: (v: ClientEvents[K]) => void): () => void {
    return this.emitter.on(name, fn);
  }

  /** Opens the connection (no-op when already open or opening with the same token). A different token reconnects with it. */
  connect(token?: string): void {
    this.conn.connect(token);
  }
  /** Closes and stays closed until `connect()`/`reconnect()`. Subscriptions are kept for then. */
  disconnect(): void {
    this.conn.disconnect();
  }
  /** Reconnects now with a fresh attempt budget; the way out of `failed` (seed 003). */
  reconnect(): void {
    this.conn.reconnect();
  }
  /** Resolves when connected, or rejects with `UNAVAILABLE` after `timeoutMs`. */
  whenConnected(timeoutMs?: number): Promise<void> {
    return this.conn.whenConnected(timeoutMs);
  }

  // ── subscriptions ─────────────────────────────────────────────────────────────────────────

  /**
   * Subscribes to a channel or pattern. Events arrive once each, in order per channel, across
   * reconnects; `sub.on('subscribed', i => i.recovered === false && refetch())` handles gaps.
   */
  subscribe<D = Record<string, unknown>>(target: string, options: SubscribeOptions, handler: EventHandler<D>): Subscription<D>;
  subscribe<D = Record<string, unknown>>(target: string, handler: EventHandler<D>): Subscription<D>;
  subscribe<D = Record<string, unknown>>(
    target: string,
    a: SubscribeOptions | EventHandler<D>,
    b?: EventHandler<D>,
  ): Subscription<D> {
    const options = typeof a === 'function' ? {} : a;
    const handler = (typeof a === 'function' ? a : b) as EventHandler<D>;
    if (!isValidSubscriptionTarget(target)) throw new PulseError('INVALID_CHANNEL', `Invalid channel or pattern: ${String(target)}`);
    let cs = this.channelSubs.get(target);
    const isNew = !cs;
    if (!cs) {
      cs = new ChannelSub(target, options.since);
      this.channelSubs.set(target, cs);
    }
    const before = cs.types()?.join(',');
    const sub = new Subscription<D>(target, options.types ? [...options.types] : undefined, handler, {
      history: (ch, limit) => this.history(ch, limit),
      stats: (ch) => this.stats(ch),
      release: (s) => this.release(s),
    }, cs);
    cs.subs.add(sub as unknown as Subscription<never>);
    const widened = !isNew && before !== cs.types()?.join(',');
    // A target the server refused is asked again for a new handle (else it would wait forever).
    if (this.conn.current && this.conn.state === 'connected' && (isNew || widened || cs.failed)) this.sendSubscribe(this.conn.current, cs);
    else if (!isNew && cs.confirmed) {
      // Already live with a filter that covers this one: confirm the new handle at once.
      queueMicrotask(() => sub.confirm({ target, recovered: undefined, resubscribed: false }));
    }
    return sub;
  }

  private sendSubscribe(t: Transport, cs: ChannelSub, prior?: SubscribeOutcome): void {
    const spec = cs.spec();
    t.subscribe(spec).then(
      (got) => {
        if (this.channelSubs.get(cs.target) !== cs) return;
        const outcome: SubscribeOutcome = prior?.recovered === false ? { ...got, recovered: false } : got;
        if (!prior && cs.confirmed && cs.baseline && this.canList) {
          // A pattern back after a reconnect: channels created meanwhile had no position to
          // resume from. List them now that the subscription is live (anything newer arrives
          // live) and, if there are any, subscribe once more from their start.
          this.api.channels(prefixOf(cs.target)).then(
            (list) => {
              cs.learnChannels(list);
              if (this.channelSubs.get(cs.target) !== cs) return; // released meanwhile: do not subscribe again
              if (cs.discovered.size > 0 && t === this.conn.current) this.sendSubscribe(t, cs, outcome);
              else this.confirm(cs, outcome, spec);
            },
            (err: unknown) => {
              this.emitter.emit('error', err instanceof PulseError ? err : new PulseError('UNAVAILABLE', String(err)));
              this.confirm(cs, outcome, spec);
            },
          );
          return;
        }
        this.confirm(cs, outcome, spec);
      },
      (err: unknown) => {
        if (this.channelSubs.get(cs.target) !== cs || t !== this.conn.current) return;
        const e = err instanceof PulseError ? err : new PulseError('INTERNAL', String(err));
        this.emitter.emit('error', e);
        if (e.code === 'RATE_LIMITED' || e.code === 'UNAVAILABLE') {
          // Refused for now (message or subscribe rate; a request the server dropped when rate
          // limited gets no reply and times out): try again later on the same transport, or the
          // subscription would stay dead until the next reconnect. `ready` keeps waiting.
          const delay = Math.max(e.retryAfter ?? 0, 1000) + Math.round(this.random() * 1000);
          this.timers.setTimeout(() => {
            if (this.channelSubs.get(cs.target) === cs && t === this.conn.current) this.sendSubscribe(t, cs, prior);
          }, delay);
          return;
        }
        cs.fail(e);
      },
    );
  }

  private confirm(cs: ChannelSub, outcome: SubscribeOutcome, spec: SubscribeSpec): void {
    if (this.channelSubs.get(cs.target) !== cs) return;
    const info = cs.confirm(outcome, spec.since !== undefined);
    cs.discovered.clear();
    this.emitter.emit('subscribed', info);
    // First confirmation of a pattern: note where its channels stand (see ChannelSub.baseline).
    if (!info.resubscribed && isPattern(cs.target) && !cs.baseline && this.canList) {
      this.api.channels(prefixOf(cs.target)).then(
        (list) => cs.learnChannels(list),
        (err: unknown) => this.emitter.emit('error', err instanceof PulseError ? err : new PulseError('UNAVAILABLE', String(err))),
      );
    }
  }

  private release(sub: Subscription<never>): void {
    const cs = sub.channelSub;
    cs.subs.delete(sub);
    if (cs.subs.size > 0 || this.channelSubs.get(cs.target) !== cs) return;
    this.channelSubs.delete(cs.target);
    if (this.conn.current && this.conn.state === 'connected') {
      this.conn.current.unsubscribe(cs.target).catch((err: unknown) => {
        // The server may have dropped it already (NOT_SUBSCRIBED); report anything else.
        if (!(err instanceof PulseError && err.code === 'NOT_SUBSCRIBED')) this.emitter.emit('error', err instanceof PulseError ? err : new PulseError('INTERNAL', String(err)));
      });
    }
  }

  private onEvents(events: PulseEvent[]): void {
    for (const ev of events) {
      for (const cs of this.channelSubs.values()) if (cs.covers(ev.channel)) cs.deliver(ev);
    }
  }

  // ── requests ──────────────────────────────────────────────────────────────────────────────

  /**
   * A native request over the WebSocket; `null` when there is none to use (on a fallback, or
   * not connecting at all), so the caller goes over HTTP instead.
   */
  private async ws<K extends ClientOp>(body: RequestBody<K>): Promise<ReplyResults[K] | null> {
    const s = this.conn.state;
    if (s === 'disconnected' || s === 'failed') return null;
    await this.conn.whenConnected();
    const t = this.conn.current;
    return t instanceof WebSocketTransport ? t.request(body) : null;
  }

  /** The latest `limit` events of a channel (oldest first). */
  async history(channel: string, limit = 50): Promise<PulseEvent[]> {
    const r = await this.ws({ op: 'history', channel, limit });
    return r ? r.events : this.api.history(channel, limit);
  }

  async stats(channel: string): Promise<ChannelStats> {
    return (await this.ws({ op: 'stats', channel })) ?? this.api.stats(channel);
  }

  /** Publishes one event (native `publish`, or `POST /v1/events` without a WebSocket). */
  async publish(channel: string, type: string, data: Record<string, unknown> = {}, opts: { id?: string } = {}): Promise<PublishResult> {
    const body: RequestBody<'publish'> = { op: 'publish', channel, type, data };
    if (opts.id) body.eventId = opts.id;
    return (await this.ws(body)) ?? this.api.publish(channel, type, data, opts.id);
  }

  /** `GET /v1/metrics/:set[?scope=]`: the current snapshot of a metric set (a `MetricSnapshot`). */
  metrics<T = Record<string, unknown>>(set: string, scope?: string | null): Promise<T> {
    return this.api.metrics<T>(set, scope);
  }

  /** `GET /v1/series`: a metric's time buckets (a `MetricSeries`). */
  series<T = Record<string, unknown>>(query: Record<string, string | number | undefined>): Promise<T> {
    return this.api.query<T>('/v1/series', query);
  }

  /** `GET /v1/leaderboard`: a ranked metric (a `Leaderboard`). */
  leaderboard<T = Record<string, unknown>>(query: Record<string, string | number | undefined>): Promise<T> {
    return this.api.query<T>('/v1/leaderboard', query);
  }

  /** Subscribes to a metric set's snapshot channel `metrics:<set>`. */
  subscribeMetrics<T = Record<string, unknown>>(set: string, handler: (snapshot: T, event: PulseEvent) => void, scope?: string | null): Subscription {
    return this.subscribe(scope ? `metrics:${set}:${scope}` : `metrics:${set}`, { types: ['snapshot'] }, (ev) => handler(ev.data as T, ev as PulseEvent));
  }
}

export type { PublishResult };
