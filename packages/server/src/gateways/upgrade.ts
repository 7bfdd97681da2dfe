/**
 * Routes WebSocket upgrades by path: native `/ws`, and the seed profiles. Socket.IO handles its
 * own path. The token is checked before the upgrade completes; a refused client still gets a
 * WebSocket close with a code it can act on (4001 / 4009), not a bare HTTP error.
 */
import type { IncomingMessage, Server as HttpServer } from 'node:http';
import type { Duplex } from 'node:stream';
import { WebSocketServer, type WebSocket } from 'ws';
import { CLOSE_CODES, isPulseError, PulseError } from '@pulse/protocol';
import type { Hub } from '../hub/hub.js';
import type { Authenticator } from '../auth/tokens.js';
import { tokenFromRequest } from '../auth/tokens.js';
import type { Principal } from '../auth/principal.js';
import { endSocketWith, type WsSession, type ControlFormat, type ControlNotice } from './ws-session.js';
import { attachNative, nativeCodec } from './native.js';
import { attachContent, contentCodec } from './profiles/content.js';
import { attachVowswap, vowswapCodec } from './profiles/vowswap.js';
import { knowtonControl, type MetricsPusher } from './profiles/knowton.js';
import { isOriginAllowed } from '../http/origins.js';

export type Route = 'native' | 'content' | 'vowswap' | 'knowton';

export const ROUTES: Record<string, Route> = {
  '/ws': 'native',
  '/analytics': 'content',
  '/api/websocket/analytics': 'vowswap',
  '/ws/metrics': 'knowton',
};

/** How each route words a notice it sends before closing (refusal, shutdown). */
const CONTROL: Record<Route, ControlFormat> = {
  native: nativeCodec.control,
  content: contentCodec.control,
  vowswap: vowswapCodec.control,
  knowton: knowtonControl,
};

/** Send a notice in the route's shape and close with its code. */
function endWith(ws: WebSocket, route: Route, n: ControlNotice): void {
  endSocketWith(ws, CONTROL[route], n);
}

export class UpgradeRouter {
  readonly wss: WebSocketServer;
  private heartbeat: NodeJS.Timeout;
  private sessions = new Map<WebSocket, WsSession>();
  /** The route each accepted socket came in on, for notices sent to all of them (shutdown). */
  private routes = new WeakMap<WebSocket, Route>();

  constructor(
    private hub: Hub,
    private auth: Authenticator,
    private metrics: MetricsPusher,
  ) {
    // No per-message compression: prebuilt frames (ws-frame.ts sendWhole) and ws.send replies
    // then reach the socket in call order.
    this.wss = new WebSocketServer({ noServer: true, maxPayload: hub.config.MAX_FRAME_BYTES, perMessageDeflate: false, clientTracking: true });
    // Ping every client; one that has not answered since the last round is gone.
    this.heartbeat = setInterval(() => {
      for (const ws of this.wss.clients) {
        const w = ws as WebSocket & { isAlive?: boolean; lastMessageAt?: number };
        if (w.isAlive === false) {
          w.terminate();
          continue;
        }
        // A connection that holds no subscription and has said nothing for IDLE_TIMEOUT_MS only
        // holds resources: close it (seed 003 push clients are not sessions and never idle out).
        const session = this.sessions.get(ws);
        const idle = hub.config.IDLE_TIMEOUT_MS;
        if (session && idle > 0 && session.subs.size === 0 && Date.now() - (w.lastMessageAt ?? 0) > idle) {
          hub.guard?.count('idle_timeout');
          ws.close(1000, 'IDLE_TIMEOUT');
          continue;
        }
        w.isAlive = false;
        try {
          w.ping();
        } catch {
          w.terminate();
        }
      }
    }, hub.config.HEARTBEAT_MS);
    this.heartbeat.unref();
  }

  /** Attach to an HTTP server; `only` limits the paths (the extra 001 listener serves one). */
  listen(server: HttpServer, only?: Route[]): void {
    server.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => {
      const path = (req.url ?? '/').split('?')[0];
      if (path.startsWith('/socket.io/')) return; // engine.io's own listener takes it
      const route = ROUTES[path.length > 1 && path.endsWith('/') ? path.slice(0, -1) : path];
      if (!route || (only && !only.includes(route))) {
        socket.end('HTTP/1.1 404 Not Found\r\nConnection: close\r\nContent-Length: 0\r\n\r\n');
        return;
      }
      if (!isOriginAllowed(this.hub.config.ALLOWED_ORIGINS, req.headers.origin, req.headers.host)) {
        socket.end('HTTP/1.1 403 Forbidden\r\nConnection: close\r\nContent-Length: 0\r\n\r\n');
        return;
      }
      socket.on('error', () => socket.destroy());
      let release: () => void;
      try {
        release = this.hub.guard?.acquireConnection(req.socket.remoteAddress ?? '') ?? (() => undefined);
      } catch (e) {
        const pe = isPulseError(e) ? e : new PulseError('LIMIT_EXCEEDED');
        this.hub.telemetry.errors.inc({ code: pe.code });
        this.wss.handleUpgrade(req, socket, head, (ws) => {
          this.routes.set(ws, route);
          endWith(ws, route, { kind: 'error', code: pe.code, message: pe.message, retryAfter: pe.retryAfter, close: CLOSE_CODES.RATE_LIMITED });
        });
        return;
      }
      socket.once('close', release);
      const token = tokenFromRequest(req.headers, req.url);
      this.auth.authenticate(token).then(
        (p) => this.wss.handleUpgrade(req, socket, head, (ws) => this.open(route, ws, p, req)),
        (e: unknown) => {
          const pe = isPulseError(e) ? e : new PulseError('UNAUTHORIZED');
          this.hub.telemetry.errors.inc({ code: pe.code });
          this.wss.handleUpgrade(req, socket, head, (ws) => {
            this.routes.set(ws, route);
            endWith(ws, route, { kind: 'error', code: pe.code, message: pe.message, close: pe.code === 'TOKEN_EXPIRED' ? CLOSE_CODES.TOKEN_EXPIRED : CLOSE_CODES.UNAUTHORIZED });
          });
        },
      );
    });
  }

  private open(route: Route, ws: WebSocket, p: Principal, req: IncomingMessage): void {
    this.routes.set(ws, route);
    const w = ws as WebSocket & { isAlive?: boolean; lastMessageAt?: number };
    w.isAlive = true;
    w.lastMessageAt = Date.now();
    ws.on('pong', () => (w.isAlive = true));
    ws.on('message', () => (w.lastMessageAt = Date.now()));
    ws.on('error', (e: Error & { code?: string }) => {
      // An oversized frame: ws is already closing with 1009 and saying why; let it finish.
      if (e.code === 'WS_ERR_UNSUPPORTED_MESSAGE_LENGTH') {
        this.hub.guard?.count('frame_size');
        return;
      }
      ws.terminate();
    });
    const remote = req.socket.remoteAddress ?? '';
    if (route === 'knowton') {
      this.metrics.attach(ws, p);
      return;
    }
    const s =
      route === 'native' ? attachNative(this.hub, this.auth, ws, p, remote) : route === 'content' ? attachContent(this.hub, ws, p, remote) : attachVowswap(this.hub, ws, p, remote);
    this.sessions.set(ws, s);
    ws.on('close', () => {
      this.sessions.delete(ws);
      s.dispose();
    });
  }

  clientCount(): number {
    return this.wss.clients.size;
  }

  /** Tell every client the server is restarting (1012) so it reconnects and recovers. */
  closeAll(): void {
    clearInterval(this.heartbeat);
    const n: ControlNotice = { kind: 'closing', code: 'SERVER_SHUTDOWN', message: 'Server is restarting', close: CLOSE_CODES.SERVICE_RESTART };
    for (const ws of this.wss.clients) endWith(ws, this.routes.get(ws) ?? 'native', n);
  }
}
