import type { ClientOp, ReplyResults, ServerMessage } from '@pulse/protocol';
import type { PulseEvent } from '@pulse/protocol/types';
import { PulseError, type ErrorCode } from '@pulse/protocol/errors';
import type { Env, WebSocketLike } from './env.js';
import { isErrorCode } from './http.js';
import type { SubscribeOutcome, SubscribeSpec, Transport, TransportHandlers } from './transport.js';

/** A request body without the envelope fields the transport fills in. */
export type RequestBody<K extends ClientOp> = { op: K } & Record<string, unknown>;

interface Pending {
  resolve(v: unknown): void;
  reject(e: unknown): void;
  timer: unknown;
}

/** The fields delivery and dedupe rely on; anything without them cannot be placed in order. */
export function isEvent(v: unknown): v is PulseEvent {
  if (typeof v !== 'object' || v === null) return false;
  const e = v as Record<string, unknown>;
  return typeof e.channel === 'string' && typeof e.epoch === 'string' && typeof e.offset === 'number' && typeof e.type === 'string' && typeof e.data === 'object' && e.data !== null;
}

/**
 * Pulse's native protocol at `/ws`: JSON requests with ids, replies matched back to promises,
 * `events` pushes. Opens on the server's `welcome`, not on the socket's `open`, so a server that
 * accepts the upgrade and then rejects the token counts as a failed open.
 */
export class WebSocketTransport implements Transport {
  readonly kind = 'websocket' as const;
  private readonly ws: WebSocketLike;
  private readonly pending = new Map<number, Pending>();
  private nextId = 1;
  private opened = false;
  private closed = false;
  /** The server's `closing` notice, which says why the close that follows happens. */
  private closingReason: ErrorCode | undefined;
  private heartbeat: unknown;
  private heartbeatMs = 0;
  private lastMessageAt = 0;
  /** Frames that failed to parse: counted, not dropped silently. */
  parseErrors = 0;

  constructor(
    url: string,
    private readonly env: Env,
    private readonly handlers: TransportHandlers,
    private readonly requestTimeoutMs: number,
  ) {
    const Ctor = env.WebSocket;
    if (!Ctor) throw new PulseError('UNAVAILABLE', 'No WebSocket implementation: pass options.WebSocket');
    this.ws = new Ctor(url);
    this.ws.onmessage = (ev) => this.onMessage(ev.data);
    this.ws.onclose = (ev) => this.onSocketClose(ev.code, ev.reason);
    // The close event that always follows carries the information; nothing to do here.
    this.ws.onerror = () => {};
  }

  get isOpen(): boolean {
    return this.opened && !this.closed;
  }

  request<K extends ClientOp>(body: RequestBody<K>, timeoutMs = this.requestTimeoutMs): Promise<ReplyResults[K]> {
    if (!this.isOpen) return Promise.reject(new PulseError('UNAVAILABLE', 'Not connected'));
    const id = this.nextId++;
    return new Promise<ReplyResults[K]>((resolve, reject) => {
      const timer = this.env.timers.setTimeout(() => {
        this.pending.delete(id);
        reject(new PulseError('UNAVAILABLE', `Request ${body.op} timed out after ${timeoutMs} ms`));
      }, timeoutMs);
      this.pending.set(id, { resolve: resolve as (v: unknown) => void, reject, timer });
      this.ws.send(JSON.stringify({ ...body, id }));
    });
  }

  subscribe(spec: SubscribeSpec): Promise<SubscribeOutcome> {
    const body: RequestBody<'subscribe'> = { op: 'subscribe', channel: spec.target };
    if (spec.types) body.types = spec.types;
    if (spec.since) body.since = spec.since;
    return this.request(body).then((r) => {
      const out: SubscribeOutcome = {};
      if (r.recovered !== undefined) out.recovered = r.recovered;
      if (r.position) out.position = r.position;
      return out;
    });
  }

  async unsubscribe(target: string): Promise<void> {
    await this.request({ op: 'unsubscribe', channel: target });
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.cleanup(new PulseError('UNAVAILABLE', 'Connection closed'));
    try {
      this.ws.close(1000, 'client closed');
    } catch {
      // Closing a socket that is still CONNECTING throws in some implementations; it is going away either way.
    }
  }

  private cleanup(err: PulseError): void {
    if (this.heartbeat !== undefined) this.env.timers.clearTimeout(this.heartbeat);
    this.heartbeat = undefined;
    for (const p of this.pending.values()) {
      this.env.timers.clearTimeout(p.timer);
      p.reject(err);
    }
    this.pending.clear();
  }

  private onSocketClose(code: number, reason: string): void {
    if (this.closed) return;
    this.closed = true;
    this.cleanup(new PulseError('UNAVAILABLE', `Connection closed (${code})`));
    // The server names the reason in a `closing` frame or in the close reason itself.
    const errorCode = this.closingReason ?? (isErrorCode(reason) ? reason : undefined);
    this.handlers.onClose({
      code,
      reason: reason || errorCode || 'connection closed',
      ...(errorCode ? { errorCode } : {}),
      wasOpen: this.opened,
    });
  }

  private onMessage(raw: unknown): void {
    this.lastMessageAt = this.env.timers.now();
    let msg: ServerMessage;
    try {
      msg = JSON.parse(typeof raw === 'string' ? raw : String(raw)) as ServerMessage;
    } catch {
      this.parseErrors++;
      this.handlers.onError('BAD_JSON', 'Server sent a frame that is not JSON');
      return;
    }
    if (typeof msg !== 'object' || msg === null || Array.isArray(msg)) {
      this.parseErrors++;
      this.handlers.onError('INVALID_MESSAGE', 'Server sent a frame that is not a message object');
      return;
    }
    switch (msg.type) {
      case 'welcome':
        if (this.opened) return; // one per connection; a repeat must not resubscribe everything
        this.opened = true;
        this.heartbeatMs = typeof msg.heartbeatMs === 'number' ? msg.heartbeatMs : 0;
        this.scheduleHeartbeat();
        this.handlers.onOpen({ session: msg.session, userId: msg.userId, heartbeatMs: msg.heartbeatMs });
        return;
      case 'events': {
        const ok = Array.isArray(msg.events) ? msg.events.filter(isEvent) : [];
        if (ok.length !== (Array.isArray(msg.events) ? msg.events.length : -1)) {
          this.parseErrors++;
          this.handlers.onError('INVALID_MESSAGE', 'Server sent events without channel, epoch or offset');
        }
        if (ok.length > 0) this.handlers.onEvents(ok);
        return;
      }
      case 'reply': {
        const p = typeof msg.id === 'number' ? this.pending.get(msg.id) : undefined;
        if (!p) return;
        this.pending.delete(msg.id as number);
        this.env.timers.clearTimeout(p.timer);
        p.resolve(msg.result);
        return;
      }
      case 'error': {
        const code: ErrorCode = isErrorCode(msg.code) ? msg.code : 'INTERNAL';
        const p = typeof msg.id === 'number' ? this.pending.get(msg.id) : undefined;
        if (p) {
          this.pending.delete(msg.id as number);
          this.env.timers.clearTimeout(p.timer);
          p.reject(new PulseError(code, msg.message, msg.retryAfter !== undefined ? { retryAfter: msg.retryAfter } : {}));
          return;
        }
        this.handlers.onError(code, msg.message);
        return;
      }
      case 'closing':
        if (isErrorCode(msg.reason)) this.closingReason = msg.reason;
        return;
      default:
        return;
    }
  }

  /**
   * Dead-peer detection: a half-open TCP connection never fires `close`. Ping when quiet for a
   * heartbeat; give up after two heartbeats without any frame.
   */
  private scheduleHeartbeat(): void {
    if (!(this.heartbeatMs > 0)) return;
    this.heartbeat = this.env.timers.setTimeout(() => {
      if (this.closed) return;
      const quiet = this.env.timers.now() - this.lastMessageAt;
      if (quiet > this.heartbeatMs * 2) {
        this.closingReason = undefined;
        try {
          this.ws.close(4000, 'heartbeat timeout');
        } finally {
          this.onSocketClose(4000, 'heartbeat timeout');
        }
        return;
      }
      if (quiet >= this.heartbeatMs) this.request({ op: 'ping' }, this.heartbeatMs).catch(() => {});
      this.scheduleHeartbeat();
    }, this.heartbeatMs);
  }
}
