import { PulseError, type ErrorCode } from '@pulse/protocol/errors';
import { isValidSubscriptionTarget } from '@pulse/protocol/channel';
import type { PulseEvent, Position } from '@pulse/protocol/types';
import type { ChannelStats, ClientOp, ReplyResults } from '@pulse/protocol';
import { backoffDelay, BACKOFF_DEFAULT, type BackoffOptions } from './backoff.js';
import { Emitter } from './emitter.js';
import { defaultTimers, type Env, type FetchLike, type Timers, type WebSocketCtor } from './env.js';
import { toWsUrl, trimSlash } from './http.js';
import { HttpApi, type PublishResult } from './http-api.js';
import { PollingTransport } from './poll-transport.js';
import { SseTransport } from './sse-transport.js';
import { classifyClose, StateMachine, TRANSITION_FROM_ERROR, ERROR_FROM_TRANSITION, type ConnectionState, type StateChange, type TransitionCode } from './state.js';
import { ChannelSub, Subscription, type EventHandler, type SubscribedInfo } from './subscription.js';
import type { CloseInfo, Transport, TransportHandlers, TransportKind } from './transport.js';
import { WebSocketTransport, type RequestBody } from './ws-transport.js';
import { jwtExpiry } from './token.js';

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
  WebSocket?: WebSocketCtor;
  fetch?: FetchLike;
  timers?: Timers;
  random?: () => number;
}

export interface SubscribeOptions {
  types?: string[];
  /** Start from this position (exact channels): events after it are replayed first. */
  since?: Position;
}


interface ClientEvents {
  state: StateChange;
  transport: TransportKind;
  subscribed: SubscribedInfo;
  error: PulseError;
  /** The token was renewed in place over the WebSocket; `expiresAt` in ms (server's view). */
  tokenRenewed: { expiresAt: number | null };
}

type Snapshot = { state: ConnectionState; transport: TransportKind | null; lastChange: StateChange | null };

function read(v: string | (() => string)): string {
  return typeof v === 'function' ? v() : v;
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
  private readonly machine = new StateMachine((c) => this.onStateChange(c));
  private readonly env: Env;
  private readonly backoff: BackoffOptions;
  private readonly channelSubs = new Map<string, ChannelSub>();
  private readonly transports: TransportKind[];
  private transport: Transport | undefined;
  private probe: WebSocketTransport | undefined;
  private probeTimer: unknown;
  private renewTimer: unknown;
  private reconnectTimer: unknown;
  private attempt = 0;
  /** Bumped by connect/disconnect so callbacks of an abandoned attempt are ignored. */
  private generation = 0;
  private cachedToken: string | undefined;
  private refreshedThisRound = false;
  private snapshot: Snapshot = { state: 'disconnected', transport: null, lastChange: null };
  private connectedWaiters = new Set<() => void>();
  private readonly api: HttpApi;

  constructor(private readonly opts: PulseClientOptions = {}) {
    this.env = {
      WebSocket: opts.WebSocket ?? (globalThis as { WebSocket?: WebSocketCtor }).WebSocket,
      fetch: opts.fetch ?? (typeof globalThis.fetch === 'function' ? globalThis.fetch.bind(globalThis) : undefined),
      timers: opts.timers ?? defaultTimers,
    };
    this.backoff = { ...BACKOFF_DEFAULT, ...opts.backoff };
    this.transports = opts.transports?.length ? [...opts.transports] : ALL_TRANSPORTS;
    this.cachedToken = opts.token;
    this.api = new HttpApi(() => this.baseUrl, () => this.token(), this.env.fetch);
  }

  get state(): ConnectionState {
    return this.machine.state;
  }
  get transportKind(): TransportKind | null {
    return this.snapshot.transport;
  }
  /** Immutable; replaced on every change (a `useSyncExternalStore` snapshot). */
  getSnapshot = (): Snapshot => this.snapshot;

  on<K extends keyof ClientEvents>(name: K, fn: (v: ClientEvents[K]) => void): () => void {
    return this.emitter.on(name, fn);
  }

  get baseUrl(): string {
    const fromLocation = (globalThis as { location?: { origin?: string } }).location?.origin;
    return trimSlash(this.opts.url !== undefined ? read(this.opts.url) : fromLocation ?? 'http://localhost:3002');
  }

  private wsUrl(token: string | undefined): string {
    const base = this.opts.wsUrl !== undefined ? read(this.opts.wsUrl) : `${toWsUrl(this.baseUrl)}/ws`;
    if (!token) return base;
    return `${base}${base.includes('?') ? '&' : '?'}token=${encodeURIComponent(token)}`;
  }

  // ── connection ────────────────────────────────────────────────────────────────────────────

  /** Opens the connection (no-op when already open or opening). A token given here replaces the old one. */
  connect(token?: string): void {
    if (token !== undefined) this.cachedToken = token;
    const s = this.machine.state;
    if (s === 'connected' || s === 'connecting' || s === 'reconnecting') return;
    this.attempt = 0;
    this.refreshedThisRound = false;
    this.machine.set('connecting', 'CONNECT', 'connect() called');
    this.start(0);
  }

  /** Closes and stays closed until `connect()`/`reconnect()`. Subscriptions are kept for then. */
  disconnect(): void {
    this.teardown();
    if (this.machine.state !== 'disconnected') this.machine.set('disconnected', 'DISCONNECT', 'disconnect() called');
  }

  /** Reconnects now with a fresh attempt budget; the way out of `failed` (seed 003). */
  reconnect(): void {
    this.teardown();
    const s = this.machine.state;
    if (s === 'connected') this.machine.set('reconnecting', 'RECONNECT', 'reconnect() called');
    else if (s === 'disconnected' || s === 'failed') this.machine.set('connecting', 'RECONNECT', 'reconnect() called');
    this.attempt = 0;
    this.refreshedThisRound = false;
    this.start(0);
  }

  private teardown(): void {
    this.generation++;
    this.env.timers.clearTimeout(this.reconnectTimer);
    this.env.timers.clearTimeout(this.probeTimer);
    this.env.timers.clearTimeout(this.renewTimer);
    this.reconnectTimer = undefined;
    this.probeTimer = undefined;
    this.transport?.close();
    this.transport = undefined;
    this.probe?.close();
    this.probe = undefined;
    this.setTransportKind(null);
  }

  private async token(): Promise<string | undefined> {
    if (this.cachedToken === undefined && this.opts.getToken) this.cachedToken = await this.opts.getToken();
    return this.cachedToken;
  }

  /** Opens transport number `index` of the configured order. */
  private start(index: number): void {
    const gen = this.generation;
    this.token().then(
      (token) => {
        if (gen !== this.generation) return;
        this.transport = this.createTransport(this.transports[index]!, token, index);
      },
      (err: unknown) => {
        if (gen !== this.generation) return;
        this.emitError(new PulseError('UNAUTHORIZED', `getToken() failed: ${err instanceof Error ? err.message : String(err)}`));
        this.scheduleReconnect('UNAUTHORIZED', 'getToken() failed');
      },
    );
  }

  private createTransport(kind: TransportKind, token: string | undefined, index: number): Transport {
    const self = {} as { t: Transport };
    const handlers: TransportHandlers = {
      onOpen: () => this.onOpen(self.t),
      onEvents: (events) => this.onEvents(events),
      onError: (code, message) => this.onServerError(self.t, code, message),
      onClose: (info) => this.onClose(self.t, info, index),
    };
    const timeout = this.opts.requestTimeoutMs ?? 10_000;
    const sinceOf = (target: string) => this.channelSubs.get(target)?.since();
    try {
      if (kind === 'websocket') self.t = new WebSocketTransport(this.wsUrl(token), this.env, handlers, timeout);
      else if (kind === 'sse') {
        const initial = [...this.channelSubs.values()].map((c) => c.spec());
        self.t = new SseTransport({ baseUrl: this.baseUrl, token, env: this.env, handlers, requestTimeoutMs: timeout, sinceOf, initial });
      } else {
        self.t = new PollingTransport({
          baseUrl: this.baseUrl,
          token,
          env: this.env,
          handlers,
          waitMs: this.opts.pollWaitMs ?? 25_000,
          limit: this.opts.pollLimit ?? 100,
        });
      }
    } catch (err) {
      // No implementation for this transport here (e.g. no WebSocket in old Node): try the next.
      const e = err instanceof PulseError ? err : new PulseError('UNAVAILABLE', String(err));
      this.emitError(e);
      const dead: Transport = { kind, subscribe: () => Promise.reject(e), unsubscribe: async () => {}, close: () => {} };
      queueMicrotask(() => this.onClose(dead, { code: 1006, reason: e.message, wasOpen: false }, index));
      self.t = dead;
    }
    return self.t;
  }

  private onOpen(t: Transport): void {
    if (t === this.probe) return this.adoptProbe(this.probe);
    if (t !== this.transport) return;
    this.attempt = 0;
    this.refreshedThisRound = false;
    this.setTransportKind(t.kind);
    this.machine.set('connected', 'CONNECTED', `connected via ${t.kind}`);
    for (const w of this.connectedWaiters) w();
    this.connectedWaiters.clear();
    for (const cs of this.channelSubs.values()) this.sendSubscribe(t, cs);
    this.scheduleProbe();
    this.scheduleRenewal();
  }

  /** Renews the token before it expires, over the open WebSocket (fallback transports reconnect instead). */
  private scheduleRenewal(): void {
    this.env.timers.clearTimeout(this.renewTimer);
    const t = this.transport;
    const lead = this.opts.renewBeforeMs ?? 30_000;
    if (lead === false || !(t instanceof WebSocketTransport) || !this.opts.getToken || !this.cachedToken) return;
    const exp = jwtExpiry(this.cachedToken);
    // Unknown expiry, or a token already inside the renewal window: the 4009 path handles it.
    if (exp === null || exp - this.env.timers.now() <= lead) return;
    const gen = this.generation;
    this.renewTimer = this.env.timers.setTimeout(() => void this.renew(gen, t), exp - this.env.timers.now() - lead);
  }

  private async renew(gen: number, t: WebSocketTransport): Promise<void> {
    const live = () => gen === this.generation && t === this.transport;
    try {
      const token = await this.opts.getToken!();
      if (!live()) return;
      const r = await t.request({ op: 'auth', token });
      if (!live()) return;
      this.cachedToken = token;
      this.emitter.emit('tokenRenewed', { expiresAt: r.expiresAt });
      this.scheduleRenewal();
    } catch (err) {
      // Not fatal: when the old token expires the server closes with 4009 and the client
      // reconnects with a fresh one. Reported so it is visible.
      if (live()) this.emitError(err instanceof PulseError ? err : new PulseError('UNAUTHORIZED', `token renewal failed: ${String(err)}`));
    }
  }

  private onClose(t: Transport, info: CloseInfo, index: number): void {
    if (t === this.probe) {
      this.probe = undefined;
      this.scheduleProbe();
      return;
    }
    if (t !== this.transport) return;
    this.transport = undefined;
    this.setTransportKind(null);
    this.env.timers.clearTimeout(this.probeTimer);
    this.env.timers.clearTimeout(this.renewTimer);
    const cls = classifyClose(info.code);
    const code: TransitionCode = info.errorCode && info.errorCode in TRANSITION_FROM_ERROR ? TRANSITION_FROM_ERROR[info.errorCode]! : cls.code;
    const refresh = cls.refreshToken || code === 'TOKEN_EXPIRED' || code === 'UNAUTHORIZED';
    if (refresh) {
      if (!this.opts.getToken) return this.fail(code, `${info.reason} (no getToken to refresh with)`);
      this.cachedToken = undefined;
      if (!this.refreshedThisRound) {
        // First rejection of this token: fetch a new one and retry at once, no backoff.
        this.refreshedThisRound = true;
        this.toReconnecting(code, info.reason);
        this.start(0);
        return;
      }
      if (code === 'UNAUTHORIZED') return this.fail(code, `${info.reason} (even with a fresh token)`);
    }
    if (!cls.retry) return this.fail(code, info.reason);
    if (!info.wasOpen && index + 1 < this.transports.length) {
      // This transport cannot get through (upgrade refused, no streaming): fall back now.
      this.start(index + 1);
      return;
    }
    this.scheduleReconnect(code, info.reason);
  }

  private toReconnecting(code: TransitionCode, reason: string): void {
    const s = this.machine.state;
    if (s === 'connected' || s === 'connecting') this.machine.set('reconnecting', code, reason);
  }

  private scheduleReconnect(code: TransitionCode, reason: string): void {
    this.toReconnecting(code, reason);
    if (this.attempt >= this.backoff.maxAttempts) {
      return this.fail('MAX_ATTEMPTS', `gave up after ${this.attempt} attempts; call reconnect() (last: ${reason})`);
    }
    const delay = backoffDelay(this.attempt, this.backoff, this.opts.random);
    this.attempt++;
    const gen = this.generation;
    this.reconnectTimer = this.env.timers.setTimeout(() => {
      if (gen === this.generation) this.start(0);
    }, delay);
  }

  private fail(code: TransitionCode, reason: string): void {
    this.teardown();
    this.machine.set('failed', code, reason);
    this.emitError(new PulseError(ERROR_FROM_TRANSITION[code] ?? 'UNAVAILABLE', reason));
    for (const cs of this.channelSubs.values()) if (!cs.confirmed) cs.fail(new PulseError(ERROR_FROM_TRANSITION[code] ?? 'UNAVAILABLE', reason));
  }

  /** While on a fallback, try the WebSocket again now and then; switch over when it opens. */
  private scheduleProbe(): void {
    const t = this.transport;
    if (!t || t.kind === 'websocket' || !this.transports.includes('websocket') || this.probe) return;
    const gen = this.generation;
    this.env.timers.clearTimeout(this.probeTimer);
    this.probeTimer = this.env.timers.setTimeout(() => {
      if (gen !== this.generation || !this.transport || this.transport.kind === 'websocket') return;
      void this.token().then((token) => {
        if (gen !== this.generation) return;
        const self = {} as { t: WebSocketTransport };
        try {
          self.t = new WebSocketTransport(
            this.wsUrl(token),
            this.env,
            {
              onOpen: () => this.onOpen(self.t),
              onEvents: (events) => this.onEvents(events),
              onError: (code, message) => this.onServerError(self.t, code, message),
              onClose: (info) => this.onClose(self.t, info, 0),
            },
            this.opts.requestTimeoutMs ?? 10_000,
          );
          this.probe = self.t;
        } catch {
          // No WebSocket implementation at all: nothing to probe.
        }
      });
    }, this.opts.upgradeProbeMs ?? 30_000);
  }

  private adoptProbe(t: WebSocketTransport): void {
    const old = this.transport;
    this.probe = undefined;
    this.transport = t;
    this.setTransportKind(t.kind);
    // Subscribe on the new transport before closing the old one: the overlap is deduped, a gap would not be.
    for (const cs of this.channelSubs.values()) this.sendSubscribe(t, cs);
    old?.close();
    this.scheduleRenewal();
  }

  private onServerError(t: Transport, code: ErrorCode, message: string): void {
    if (t !== this.transport && t !== this.probe) return;
    this.emitError(new PulseError(code, message));
  }

  private onStateChange(c: StateChange): void {
    this.snapshot = { state: c.newState, transport: this.snapshot.transport, lastChange: c };
    this.emitter.emit('state', c);
  }

  private setTransportKind(kind: TransportKind | null): void {
    if (this.snapshot.transport === kind) return;
    this.snapshot = { ...this.snapshot, transport: kind };
    if (kind) this.emitter.emit('transport', kind);
  }

  private emitError(e: PulseError): void {
    this.emitter.emit('error', e);
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
    if (this.transport && this.machine.state === 'connected' && (isNew || widened)) this.sendSubscribe(this.transport, cs);
    else if (!isNew && cs.confirmed) {
      // Already live with a filter that covers this one: confirm the new handle at once.
      queueMicrotask(() => sub.confirm({ target, recovered: undefined, resubscribed: false }));
    }
    return sub;
  }

  private sendSubscribe(t: Transport, cs: ChannelSub): void {
    const spec = cs.spec();
    t.subscribe(spec).then(
      (outcome) => {
        if (this.channelSubs.get(cs.target) !== cs) return;
        const info = cs.confirm(outcome, spec.since !== undefined);
        this.emitter.emit('subscribed', info);
      },
      (err: unknown) => {
        if (this.channelSubs.get(cs.target) !== cs || t !== this.transport) return;
        const e = err instanceof PulseError ? err : new PulseError('INTERNAL', String(err));
        cs.fail(e);
        this.emitError(e);
      },
    );
  }

  private release(sub: Subscription<never>): void {
    const cs = sub.channelSub;
    cs.subs.delete(sub);
    if (cs.subs.size > 0 || this.channelSubs.get(cs.target) !== cs) return;
    this.channelSubs.delete(cs.target);
    if (this.transport && this.machine.state === 'connected') {
      this.transport.unsubscribe(cs.target).catch((err: unknown) => {
        // The server may have dropped it already (NOT_SUBSCRIBED); report anything else.
        if (!(err instanceof PulseError && err.code === 'NOT_SUBSCRIBED')) this.emitError(err instanceof PulseError ? err : new PulseError('INTERNAL', String(err)));
      });
    }
  }

  private onEvents(events: PulseEvent[]): void {
    for (const ev of events) {
      for (const cs of this.channelSubs.values()) if (cs.covers(ev.channel)) cs.deliver(ev);
    }
  }

  // ── requests ──────────────────────────────────────────────────────────────────────────────

  /** Resolves when connected, or rejects with `UNAVAILABLE` after `timeoutMs`. */
  whenConnected(timeoutMs = this.opts.requestTimeoutMs ?? 10_000): Promise<void> {
    if (this.machine.state === 'connected') return Promise.resolve();
    return new Promise<void>((resolve, reject) => {
      const done = () => {
        this.env.timers.clearTimeout(timer);
        resolve();
      };
      const timer = this.env.timers.setTimeout(() => {
        this.connectedWaiters.delete(done);
        reject(new PulseError('UNAVAILABLE', `Not connected after ${timeoutMs} ms`));
      }, timeoutMs);
      this.connectedWaiters.add(done);
    });
  }

  /**
   * A native request over the WebSocket; `null` when there is none to use (on a fallback, or
   * not connecting at all), so the caller goes over HTTP instead.
   */
  private async ws<K extends ClientOp>(body: RequestBody<K>): Promise<ReplyResults[K] | null> {
    const s = this.machine.state;
    if (s === 'disconnected' || s === 'failed') return null;
    await this.whenConnected();
    const t = this.transport;
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
