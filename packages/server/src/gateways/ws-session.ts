/**
 * A plain-WebSocket session. Its codec turns an envelope into a wire string (once per event and
 * dialect, cached on the envelope); batching codecs put all queued events of a flush into one
 * frame, the seed profiles send one message per event as their clients expect.
 */
import WebSocket from 'ws';
import type { Hub } from '../hub/hub.js';
import { Session } from '../hub/session.js';
import type { Envelope, DialectId } from '../hub/envelope.js';
import { FrameCache } from '../hub/frame-cache.js';
import { textFrame, sendWhole } from './ws-frame.js';
import type { DialectCounters } from '../telemetry.js';
import type { Principal } from '../auth/principal.js';
import { CLOSE_CODES, type ErrorCode } from '@pulse/protocol';

/**
 * A message the server sends on its own just before it closes a connection: `error` when the
 * client is refused (at the upgrade) or its token expired, `closing` when the server ends a
 * healthy connection (slow consumer, shutdown). `close` is the WebSocket close code that follows.
 */
export interface ControlNotice {
  kind: 'error' | 'closing';
  code: ErrorCode;
  message: string;
  close: number;
  retryAfter?: number;
}

/** A notice in one dialect's own shape (the seed clients know only their own messages). */
export type ControlFormat = (n: ControlNotice) => string;

/** Send a notice in `format`'s shape and close with its code (a socket already gone is terminated). */
export function endSocketWith(ws: WebSocket, format: ControlFormat, n: ControlNotice): void {
  try {
    ws.send(format(n));
    ws.close(n.close, n.code);
  } catch {
    ws.terminate();
  }
}

export interface WsCodec {
  readonly name: string;
  readonly dialect: DialectId;
  /** The event's wire form, or '' when this dialect does not carry it. */
  encode(env: Envelope): string;
  /** Wrap many encoded events into one frame; absent: one frame per event. */
  batch?(parts: string[]): string;
  /** Server-initiated notices in this dialect's shape. Rare: not on the delivery path. */
  control: ControlFormat;
}

/** Largest frame a batching codec builds before starting another (bytes, approximately). */
const MAX_BATCH_CHARS = 256 * 1024;
/** Marks an event this dialect does not carry. */
const EMPTY = Buffer.alloc(0);

export class WsSession extends Session {
  readonly dialectName: string;
  private readonly counters: DialectCounters;
  private tokenTimer: NodeJS.Timeout | null = null;

  constructor(
    private readonly hub: Hub,
    readonly ws: WebSocket,
    principal: Principal,
    readonly codec: WsCodec,
    readonly remote: string,
  ) {
    super(hub, principal);
    this.dialectName = codec.name;
    this.counters = hub.telemetry.forDialect(codec.name);
    this.armTokenExpiry();
  }

  /** Close the connection when the token expires, unless it is renewed first. */
  armTokenExpiry(): void {
    if (this.tokenTimer) clearTimeout(this.tokenTimer);
    this.tokenTimer = null;
    const exp = this.principal.expiresAt;
    if (exp === null) return;
    const ms = Math.max(0, exp - Date.now());
    // setTimeout caps at ~24.8 days; longer tokens are re-armed by the heartbeat.
    if (ms > 2 ** 31 - 1) return;
    this.tokenTimer = setTimeout(() => this.expire(), ms);
    this.tokenTimer.unref();
  }

  private expire(): void {
    this.endWith({ kind: 'error', code: 'TOKEN_EXPIRED', message: 'Token expired', close: CLOSE_CODES.TOKEN_EXPIRED });
  }

  /** Tell the client why, in its dialect's shape, then close with the notice's code. */
  endWith(n: ControlNotice): void {
    this.sendControl(this.codec.control(n));
    this.terminate(n.close, n.code);
  }

  /**
   * Replies and errors bypass the event queue but keep the slow-consumer bound; built whole like
   * event frames (one socket write instead of ws's header + payload writev: a reconnect storm's
   * welcome and subscribe answers were 7 % of the server's busy time as writev).
   */
  sendControl(s: string): void {
    if (this.closed || this.ws.readyState !== WebSocket.OPEN) return;
    sendWhole(this.ws, textFrame(s));
  }

  flush(): void {
    const q = this.queue;
    this.queue = [];
    this.queueSubs = [];
    if (this.closed || this.ws.readyState !== WebSocket.OPEN || q.length === 0) return;
    if (this.ws.bufferedAmount > this.hub.config.MAX_BUFFERED_BYTES) {
      this.hub.telemetry.dropped.inc({ reason: 'slow_consumer' }, q.length);
      this.endWith({ kind: 'closing', code: 'SLOW_CONSUMER', message: 'Connection could not keep up and was closed', close: CLOSE_CODES.SLOW_CONSUMER });
      return;
    }
    const d = this.codec.dialect;
    let frames = 0;
    let events = 0;
    const batch = this.codec.batch;
    if (batch) {
      const cache = this.hub.frames;
      const key = FrameCache.key(d, q);
      let out = cache.get(key, d, q);
      if (out === null) {
        out = [];
        let parts: string[] = [];
        let size = 0;
        for (let i = 0; i < q.length; i++) {
          const env = q[i];
          let s = env.enc[d];
          if (s === undefined) s = env.enc[d] = this.codec.encode(env);
          if (s === '') continue;
          parts.push(s);
          size += s.length;
          if (size >= MAX_BATCH_CHARS) {
            out.push(textFrame(batch(parts)));
            parts = [];
            size = 0;
          }
        }
        if (parts.length) out.push(textFrame(batch(parts)));
        cache.set(key, d, q, out);
      }
      for (const b of out) sendWhole(this.ws, b);
      frames = out.length;
      events = q.length;
    } else {
      for (let i = 0; i < q.length; i++) {
        const env = q[i];
        let b = env.bufs?.[d];
        if (b === undefined) {
          const s = this.codec.encode(env);
          b = s === '' ? EMPTY : textFrame(s);
          (env.bufs ??= [])[d] = b;
        }
        if (b === EMPTY) continue;
        sendWhole(this.ws, b);
        frames++;
        events++;
      }
    }
    if (events) this.counters.delivered.inc(events);
    if (frames) this.counters.frames.inc(frames);
  }

  terminate(code: number, reason: ErrorCode | string): void {
    if (this.tokenTimer) clearTimeout(this.tokenTimer);
    this.hub.detach(this);
    if (this.ws.readyState === WebSocket.OPEN || this.ws.readyState === WebSocket.CONNECTING) {
      try {
        this.ws.close(code, reason);
      } catch {
        this.ws.terminate();
      }
    }
  }

  dispose(): void {
    if (this.tokenTimer) clearTimeout(this.tokenTimer);
    this.hub.detach(this);
  }
}

/** A text frame holding a JSON object, or null (binary, not JSON, or not an object). */
export function jsonObject(data: WebSocket.RawData, isBinary: boolean): Record<string, unknown> | null {
  if (isBinary) return null;
  try {
    const v: unknown = JSON.parse(data.toString());
    return typeof v === 'object' && v !== null && !Array.isArray(v) ? (v as Record<string, unknown>) : null;
  } catch {
    return null;
  }
}
