import { PulseError, type ErrorCode } from '@pulse/protocol/errors';
import type { PulseEvent } from '@pulse/protocol/types';
import { backoffDelay, type BackoffOptions } from './backoff.js';
import type { Env } from './env.js';
import { toWsUrl, trimSlash } from './http.js';
import { PollingTransport } from './poll-transport.js';
import { SseTransport } from './sse-transport.js';
import { classifyClose, StateMachine, TRANSITION_FROM_ERROR, ERROR_FROM_TRANSITION, type ConnectionState, type StateChange, type TransitionCode } from './state.js';
import type { CloseInfo, SubscribeSpec, Transport, TransportHandlers, TransportKind } from './transport.js';
import { WebSocketTransport } from './ws-transport.js';
import { jwtExpiry } from './token.js';

export interface ConnectionOptions {
  url?: string | (() => string);
  wsUrl?: string | (() => string);
  token?: string;
  getToken?: () => string | Promise<string>;
  transports: TransportKind[];
  backoff: BackoffOptions;
  requestTimeoutMs?: number;
  renewBeforeMs?: number | false;
  upgradeProbeMs?: number;
  pollWaitMs?: number;
  pollLimit?: number;
  sseIdleTimeoutMs?: number;
  random?: () => number;
}

export interface ConnectionEvents {
  state: StateChange;
  transport: TransportKind;
  error: PulseError;
  /** The token was renewed in place over the WebSocket; `expiresAt` in ms (server's view). */
  tokenRenewed: { expiresAt: number | null };
}

/** What the connection needs from the client that owns the subscriptions. */
export interface ConnectionHost {
  /** Every subscription, for a transport that takes them all up front (SSE). */
  specs(): SubscribeSpec[];
  sinceOf(target: string, maxBytes?: number): SubscribeSpec['since'];
  /** A transport is ready (opened, or adopted after a switch): subscribe everything on it. */
  attach(t: Transport): void;
  onEvents(events: PulseEvent[]): void;
  /** The connection gave up: fail subscriptions that were never confirmed. */
  onFailed(err: PulseError): void;
  emit<K extends keyof ConnectionEvents>(name: K, value: ConnectionEvents[K]): void;
}

export type ConnectionSnapshot = { state: ConnectionState; transport: TransportKind | null; lastChange: StateChange | null };

function read(v: string | (() => string)): string {
  return typeof v === 'function' ? v() : v;
}

/** A connection up this long counts as stable: the next drop retries after the first delay again. */
const STABLE_AFTER_MS = 5_000;

/** The longest delay `setTimeout` honours; longer ones fire after 1 ms. */
const MAX_TIMER_MS = 2 ** 31 - 1;

/** The error reported when `getToken()` throws or rejects while a transport (or a probe) is being opened. */
function getTokenFailed(err: unknown): PulseError {
  return new PulseError('UNAUTHORIZED', `getToken() failed: ${err instanceof Error ? err.message : String(err)}`);
}

/**
 * One logical connection over whichever transport gets through: the state machine, transport
 * fallback and the switch back, reconnect with backoff, token refresh and renewal.
 */
export class Connection {
  private readonly machine = new StateMachine((c) => this.onStateChange(c));
  private transport_: Transport | undefined;
  private probe: WebSocketTransport | undefined;
  private probeTimer: unknown;
  /** Probes made since the current fallback transport opened. */
  private probes = 0;
  private renewTimer: unknown;
  private reconnectTimer: unknown;
  private attempt = 0;
  /** When the current transport opened; the backoff starts over only once it has stayed up. */
  private openedAt: number | undefined;
  /** Bumped by connect/disconnect so callbacks of an abandoned attempt are ignored. */
  private generation = 0;
  private cachedToken: string | undefined;
  private refreshedThisRound = false;
  private snapshot: ConnectionSnapshot = { state: 'disconnected', transport: null, lastChange: null };
  private connectedWaiters = new Set<() => void>();

  constructor(
    private readonly opts: ConnectionOptions,
    private readonly env: Env,
    private readonly host: ConnectionHost,
  ) {
    this.cachedToken = opts.token;
  }

  get state(): ConnectionState {
    return this.machine.state;
  }
  /** The open transport, if any. */
  get current(): Transport | undefined {
    return this.transport_;
  }
  /** Immutable; replaced on every change (a `useSyncExternalStore` snapshot). */
  getSnapshot = (): ConnectionSnapshot => this.snapshot;

  get baseUrl(): string {
    const fromLocation = (globalThis as { location?: { origin?: string } }).location?.origin;
    return trimSlash(this.opts.url !== undefined ? read(this.opts.url) : fromLocation ?? 'http://localhost:3002');
  }

  private wsUrl(token: string | undefined): string {
    const base = this.opts.wsUrl !== undefined ? read(this.opts.wsUrl) : `${toWsUrl(this.baseUrl)}/ws`;
    if (!token) return base;
    return `${base}${base.includes('?') ? '&' : '?'}token=${encodeURIComponent(token)}`;
  }

  private get transports(): TransportKind[] {
    return this.opts.transports;
  }
  private get backoff(): BackoffOptions {
    return this.opts.backoff;
  }

  /** Opens the connection (no-op when already open or opening with the same token). A different token reconnects with it. */
  connect(token?: string): void {
    const changed = token !== undefined && token !== this.cachedToken;
    if (token !== undefined) this.cachedToken = token;
    const s = this.machine.state;
    if (s === 'connected' || s === 'connecting' || s === 'reconnecting') {
      // Another identity (a login after connecting): the open connection still has the old one's
      // rights. Reconnect with it; subscriptions resume from their positions.
      if (changed) this.reconnect();
      return;
    }
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
    this.openedAt = undefined;
    this.env.timers.clearTimeout(this.reconnectTimer);
    this.env.timers.clearTimeout(this.probeTimer);
    this.env.timers.clearTimeout(this.renewTimer);
    this.reconnectTimer = undefined;
    this.probeTimer = undefined;
    this.transport_?.close();
    this.transport_ = undefined;
    this.probe?.close();
    this.probe = undefined;
    this.setTransportKind(null);
  }

  /** The current token: the given one, or `getToken()`'s (cached until the server rejects it). */
  async token(): Promise<string | undefined> {
    if (this.cachedToken === undefined && this.opts.getToken) this.cachedToken = await this.opts.getToken();
    return this.cachedToken;
  }

  /** Opens transport number `index` of the configured order. */
  private start(index: number): void {
    const gen = this.generation;
    this.token().then(
      (token) => {
        if (gen !== this.generation) return;
        this.transport_ = this.createTransport(this.transports[index]!, token, index);
      },
      (err: unknown) => {
        if (gen !== this.generation) return;
        this.emitError(getTokenFailed(err));
        this.scheduleReconnect('UNAUTHORIZED', 'getToken() failed');
      },
    );
  }

  private get requestTimeoutMs(): number {
    return this.opts.requestTimeoutMs ?? 10_000;
  }

  /** The handlers of a transport about to be created: `ref.t` is set to it once it exists. */
  private handlersFor(ref: { t: Transport }, index: number): TransportHandlers {
    return {
      onOpen: () => this.onOpen(ref.t),
      onEvents: (events) => this.host.onEvents(events),
      onError: (code, message) => this.onServerError(ref.t, code, message),
      onClose: (info) => this.onClose(ref.t, info, index),
    };
  }

  private createTransport(kind: TransportKind, token: string | undefined, index: number): Transport {
    const self = {} as { t: Transport };
    const handlers = this.handlersFor(self, index);
    const timeout = this.requestTimeoutMs;
    const sinceOf = (target: string, maxBytes?: number) => this.host.sinceOf(target, maxBytes);
    try {
      if (kind === 'websocket') self.t = new WebSocketTransport(this.wsUrl(token), this.env, handlers, timeout);
      else if (kind === 'sse') {
        const initial = this.host.specs();
        self.t = new SseTransport({ baseUrl: this.baseUrl, token, env: this.env, handlers, requestTimeoutMs: timeout, idleTimeoutMs: this.opts.sseIdleTimeoutMs ?? 65_000, sinceOf, initial });
      } else {
        self.t = new PollingTransport({
          baseUrl: this.baseUrl,
          token,
          env: this.env,
          handlers,
          waitMs: this.opts.pollWaitMs ?? 25_000,
          limit: this.opts.pollLimit ?? 100,
          requestTimeoutMs: this.requestTimeoutMs,
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
    if (t !== this.transport_) return;
    // Not `attempt = 0` here: a connection that opens and drops at once (a crash loop, a proxy,
    // a slow consumer dropped during its replay) would be retried at the first delay forever.
    this.openedAt = this.env.timers.now();
    this.probes = 0;
    this.refreshedThisRound = false;
    this.setTransportKind(t.kind);
    this.machine.set('connected', 'CONNECTED', `connected via ${t.kind}`);
    for (const w of this.connectedWaiters) w();
    this.connectedWaiters.clear();
    this.host.attach(t);
    this.scheduleProbe();
    this.scheduleRenewal();
  }

  /** Renews the token before it expires, over the open WebSocket (fallback transports reconnect instead). */
  private scheduleRenewal(): void {
    this.env.timers.clearTimeout(this.renewTimer);
    const t = this.transport_;
    const lead = this.opts.renewBeforeMs ?? 30_000;
    if (lead === false || !(t instanceof WebSocketTransport) || !this.opts.getToken || !this.cachedToken) return;
    const exp = jwtExpiry(this.cachedToken);
    // Unknown expiry, or a token already inside the renewal window: the 4009 path handles it.
    if (exp === null || exp - this.env.timers.now() <= lead) return;
    const gen = this.generation;
    const wait = exp - this.env.timers.now() - lead;
    // Timers fire at once past 2^31-1 ms (~24.8 days): for a longer-lived token, look again later.
    if (wait > MAX_TIMER_MS) {
      this.renewTimer = this.env.timers.setTimeout(() => {
        if (gen === this.generation && t === this.transport_) this.scheduleRenewal();
      }, MAX_TIMER_MS);
      return;
    }
    this.renewTimer = this.env.timers.setTimeout(() => void this.renew(gen, t), wait);
  }

  private async renew(gen: number, t: WebSocketTransport): Promise<void> {
    const live = () => gen === this.generation && t === this.transport_;
    try {
      const token = await this.opts.getToken!();
      if (!live()) return;
      const r = await t.request({ op: 'auth', token });
      if (!live()) return;
      this.cachedToken = token;
      this.host.emit('tokenRenewed', { expiresAt: r.expiresAt });
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
    if (t !== this.transport_) return;
    this.transport_ = undefined;
    if (this.openedAt !== undefined && this.env.timers.now() - this.openedAt >= STABLE_AFTER_MS) this.attempt = 0;
    this.openedAt = undefined;
    this.setTransportKind(null);
    this.env.timers.clearTimeout(this.probeTimer);
    // A probe still opening belongs to the connection that just ended: adopted later it would
    // bypass the state machine (and the reconnect timer would orphan it). The reconnect decides.
    const probe = this.probe;
    this.probe = undefined;
    probe?.close();
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
    if (!cls.retry) return this.fail(code, info.reason, info.errorCode);
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

  private fail(code: TransitionCode, reason: string, errorCode?: ErrorCode): void {
    this.teardown();
    this.machine.set('failed', code, reason);
    const err = new PulseError(errorCode ?? ERROR_FROM_TRANSITION[code] ?? 'UNAVAILABLE', reason);
    this.emitError(err);
    this.host.onFailed(err);
  }

  /** While on a fallback, try the WebSocket again now and then; switch over when it opens. */
  private scheduleProbe(): void {
    const t = this.transport_;
    if (!t || t.kind === 'websocket' || !this.transports.includes('websocket') || this.probe) return;
    const gen = this.generation;
    this.env.timers.clearTimeout(this.probeTimer);
    // The first probe comes soon: the WebSocket may have failed only because the server was
    // down at that moment (a restart), not because something blocks it. Later ones are spaced.
    const every = this.opts.upgradeProbeMs ?? 30_000;
    const delay = this.probes++ === 0 ? Math.min(every, Math.max(250, this.backoff.minDelay)) : every;
    this.probeTimer = this.env.timers.setTimeout(() => {
      if (gen !== this.generation || !this.transport_ || this.transport_.kind === 'websocket') return;
      this.token().then((token) => {
        if (gen !== this.generation) return;
        const self = {} as { t: WebSocketTransport };
        try {
          self.t = new WebSocketTransport(this.wsUrl(token), this.env, this.handlersFor(self, 0), this.requestTimeoutMs);
          this.probe = self.t;
        } catch {
          // No WebSocket implementation at all: nothing to probe.
        }
      }, (err: unknown) => {
        this.emitError(getTokenFailed(err));
        this.scheduleProbe();
      });
    }, delay);
  }

  private adoptProbe(t: WebSocketTransport): void {
    const old = this.transport_;
    this.probe = undefined;
    this.transport_ = t;
    this.setTransportKind(t.kind);
    // Subscribe on the new transport before closing the old one: the overlap is deduped, a gap would not be.
    this.host.attach(t);
    old?.close();
    this.scheduleRenewal();
  }

  private onServerError(t: Transport, code: ErrorCode, message: string): void {
    if (t !== this.transport_ && t !== this.probe) return;
    this.emitError(new PulseError(code, message));
  }

  private onStateChange(c: StateChange): void {
    this.snapshot = { state: c.newState, transport: this.snapshot.transport, lastChange: c };
    this.host.emit('state', c);
  }

  private setTransportKind(kind: TransportKind | null): void {
    if (this.snapshot.transport === kind) return;
    this.snapshot = { ...this.snapshot, transport: kind };
    if (kind) this.host.emit('transport', kind);
  }

  private emitError(e: PulseError): void {
    this.host.emit('error', e);
  }

  /** Resolves when connected, or rejects with `UNAVAILABLE` after `timeoutMs`. */
  whenConnected(timeoutMs = this.requestTimeoutMs): Promise<void> {
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
}
