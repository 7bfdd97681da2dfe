/**
 * Seed 003 (KnowTon): plain WebSocket at `/ws/metrics`, pushing `{type:'metrics', data}` on
 * connect and every REALTIME_METRICS_INTERVAL_MS (5 s); `{type:'ping'}` → `{type:'pong'}`.
 * The snapshot is computed and encoded once per tick for all connections.
 *
 * The pushes are what `metrics:*` and `GET /api/v1/analytics/realtime-metrics` serve, so the
 * same principals may read them (others are closed with 4003), and a token that expires ends the
 * connection (4009) as it does on every other socket.
 */
import WebSocket from 'ws';
import { CLOSE_CODES } from '@pulse/protocol';
import type { Hub } from '../../hub/hub.js';
import { onTokenExpiry, type Principal } from '../../auth/principal.js';
import { endSocketWith, jsonObject, type ControlFormat, type ControlNotice } from '../ws-session.js';
import type { Revocable } from '../../auth/revocation.js';

export type PlatformSnapshot = () => unknown;

/**
 * The document defines only `metrics` and `pong`; every notice on this socket (refusal, expiry,
 * slow consumer, shutdown, rate limit) is one `error{code, message}` before the close.
 */
export const knowtonControl: ControlFormat = (n) => {
  const m: Record<string, unknown> = { type: 'error', code: n.code, message: n.message };
  if (n.retryAfter !== undefined) m.retryAfter = n.retryAfter;
  return JSON.stringify(m);
};

function endWith(ws: WebSocket, n: ControlNotice): void {
  endSocketWith(ws, knowtonControl, n);
}

export class MetricsPusher {
  /** The connected clients, each with its principal (for the API-key revocation watcher). */
  private readonly clients = new Map<WebSocket, Revocable>();
  private timer: NodeJS.Timeout | null = null;
  constructor(
    private hub: Hub,
    private snapshot: PlatformSnapshot,
  ) {}

  private frame(): string {
    return JSON.stringify({ type: 'metrics', data: this.snapshot() });
  }

  attach(ws: WebSocket, principal: Principal): void {
    if (!this.hub.canSubscribe(principal, 'metrics:*')) {
      endWith(ws, { kind: 'error', code: 'FORBIDDEN', message: 'Not allowed to read metrics', close: CLOSE_CODES.FORBIDDEN });
      return;
    }
    const cancelExpiry = onTokenExpiry(principal, () =>
      endWith(ws, { kind: 'error', code: 'TOKEN_EXPIRED', message: 'Token expired', close: CLOSE_CODES.TOKEN_EXPIRED }),
    );
    this.clients.set(ws, {
      principal,
      terminate: () => endWith(ws, { kind: 'error', code: 'UNAUTHORIZED', message: 'Credential revoked', close: CLOSE_CODES.UNAUTHORIZED }),
    });
    ws.send(this.frame());
    const gate = this.hub.guard?.messageGate() ?? null;
    ws.on('message', (data, isBinary) => {
      const limited = gate?.take();
      if (limited) {
        ws.send(knowtonControl({ kind: 'error', code: limited.error.code, message: limited.error.message, retryAfter: limited.error.retryAfter, close: CLOSE_CODES.RATE_LIMITED }));
        if (limited.close) ws.close(CLOSE_CODES.RATE_LIMITED, 'RATE_LIMITED');
        return;
      }
      const msg = jsonObject(data, isBinary);
      const type = msg?.type;
      if (type === 'ping') ws.send(JSON.stringify({ type: 'pong' }));
      else ws.send(JSON.stringify({ type: 'error', code: msg === null ? 'BAD_JSON' : 'UNKNOWN_OP', message: 'Only ping is accepted here' }));
    });
    ws.on('close', () => {
      cancelExpiry();
      this.clients.delete(ws);
    });
    if (!this.timer) {
      this.timer = setInterval(() => this.tick(), this.hub.config.REALTIME_METRICS_INTERVAL_MS);
      this.timer.unref();
    }
  }

  /** The connected push clients, as the revocation watcher sees them. */
  revocables(): Iterable<Revocable> {
    return this.clients.values();
  }

  private tick(): void {
    if (this.clients.size === 0) return;
    const f = this.frame();
    for (const ws of this.clients.keys()) {
      if (ws.readyState !== WebSocket.OPEN) continue;
      if (ws.bufferedAmount > this.hub.config.MAX_BUFFERED_BYTES) {
        endWith(ws, { kind: 'closing', code: 'SLOW_CONSUMER', message: 'Connection could not keep up and was closed', close: CLOSE_CODES.SLOW_CONSUMER });
        continue;
      }
      ws.send(f);
    }
    this.hub.telemetry.frames.inc({ dialect: 'knowton' }, this.clients.size);
  }

  close(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
  }
}
