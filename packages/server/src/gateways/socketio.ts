/**
 * Socket.IO gateway serving two seed profiles on one endpoint:
 * - 000 AdStack: `subscribe{contractId, eventTypes}` → channel `contract:<contractId>`, events
 *   pushed as `event` in the seed's shape; `getHistory`, `getStats`, `error{message, code}`.
 * - 004 GuessLyfe: `subscribe{room, id}` with ack `{success, room, message}`, auto-joined
 *   `user:<address>` and `global:all`, events pushed under their type as `{type, timestamp, data}`.
 * Each event is encoded once per dialect into a Socket.IO packet and written to every matching
 * socket's engine connection.
 */
import type { Server as HttpServer } from 'node:http';
import { Server as IOServer, type Socket } from 'socket.io';
import { z } from 'zod';
import { PulseError, isPulseError, channelId, type ErrorCode } from '@pulse/protocol';
import type { Hub } from '../hub/hub.js';
import { Session, type Subscription } from '../hub/session.js';
import { FrameCache } from '../hub/frame-cache.js';
import { textFrame, sendWhole, type WholeFrameSocket } from './ws-frame.js';
import type { DialectCounters } from '../telemetry.js';
import { Dialect, type Envelope, type SioWire } from '../hub/envelope.js';
import type { Principal } from '../auth/principal.js';
import type { Authenticator } from '../auth/tokens.js';
import type { MessageGate } from '../limits/guard.js';
import { visibleEvents } from '../auth/permissions.js';
import { isOriginAllowed } from '../http/origins.js';

/**
 * Names never used for a room event on the wire: those a Socket.IO client treats specially, and
 * the gateway's own messages (a room event named `event` would reach a seed-000 client, which is
 * in `global:all` too, as a malformed contract event; `pong` / `rooms` would pose as replies).
 */
const RESERVED = new Set([
  'connect', 'connect_error', 'disconnect', 'disconnecting', 'newListener', 'removeListener', 'error',
  'connected', 'subscribed', 'unsubscribed', 'event', 'history', 'stats', 'rooms', 'pong',
]);
/** Packets queued in engine.io past this and the socket is dropped as a slow consumer. */
const MAX_ENGINE_BUFFER = 10_000;
const EMPTY = Buffer.alloc(0);
const GLOBAL_ROOM = 'global:all';

export function contractEvent(e: Envelope['event']): Record<string, unknown> {
  return {
    id: e.id,
    type: e.type,
    contractId: channelId(e.channel),
    txId: e.txId ?? null,
    blockHeight: e.blockHeight ?? null,
    timestamp: e.ts,
    data: e.data,
    offset: e.offset,
  };
}

/** `contractEvent` as JSON, around the data JSON serialised at ingest (same keys, same order). */
function encodeContract(env: Envelope): string {
  const e = env.event;
  return (
    '2["event",{"id":' + JSON.stringify(e.id) +
    ',"type":' + JSON.stringify(e.type) +
    ',"contractId":' + JSON.stringify(channelId(e.channel)) +
    ',"txId":' + (e.txId === undefined ? 'null' : JSON.stringify(e.txId)) +
    ',"blockHeight":' + (e.blockHeight === undefined ? 'null' : JSON.stringify(e.blockHeight)) +
    ',"timestamp":' + JSON.stringify(e.ts) +
    ',"data":' + env.dataJson +
    ',"offset":' + JSON.stringify(e.offset) +
    '}]'
  );
}

function encodeRoom(env: Envelope): string {
  const e = env.event;
  if (RESERVED.has(e.type)) return '';
  return '2[' + JSON.stringify(e.type) + ',{"type":' + JSON.stringify(e.type) + ',"timestamp":"' + new Date(e.ts).toISOString() + '","data":' + env.dataJson + '}]';
}

/** The engine.io message packet `4<packet>` in a complete WebSocket text frame. */
function sioFrame(packet: string): Buffer {
  return textFrame('4' + packet);
}

/**
 * A Socket.IO packet and its complete WebSocket frame, built once per event and dialect for every
 * client. Polling clients (and engine.io's own path) take `packet`; engine.io would also send
 * `opts.wsPreEncodedFrame` as is, as it does for Socket.IO's own broadcasts.
 */
function wireForm(packet: string): SioWire | null {
  if (packet === '') return null;
  return { packet, opts: { wsPreEncodedFrame: [sioFrame(packet)] } };
}

function wireOf(env: Envelope, d: number): SioWire | null {
  let w = env.sio?.[d];
  if (w === undefined) w = (env.sio ??= [])[d] = wireForm(d === Dialect.SIO_CONTRACT ? encodeContract(env) : encodeRoom(env));
  return w;
}

/** What the gateway reads of engine.io's connection (most of it outside engine.io's public types). */
interface EngineConn {
  readyState: string;
  upgrading: boolean;
  writeBuffer: unknown[];
  transport: {
    name: string;
    perMessageDeflate?: unknown;
    socket?: { readyState: number; bufferedAmount: number; _sender?: { sendFrame?: (list: Buffer[], cb?: (err?: Error) => void) => void } };
  };
  write(data: string, opts: SioWire['opts']): void;
}

/**
 * The WebSocket (ws) under an engine.io connection when a prebuilt frame may be written to it
 * directly, in order with everything engine.io sent before: the connection is open on the
 * WebSocket transport, without per-message compression, and engine.io holds no packet of its own
 * that is still waiting to be written (its `writeBuffer` is empty). Otherwise null: use engine.io.
 */
function directSocket(conn: EngineConn): (NonNullable<EngineConn['transport']['socket']> & WholeFrameSocket) | null {
  if (conn.upgrading || conn.writeBuffer.length !== 0) return null;
  const t = conn.transport;
  if (t.name !== 'websocket' || t.perMessageDeflate) return null;
  const ws = t.socket;
  if (ws === undefined || ws.readyState !== 1 || typeof ws._sender?.sendFrame !== 'function') return null;
  return ws as typeof ws & WholeFrameSocket;
}

/** Frames written together to one connection; reused, so a flush allocates nothing per event. */
const scratch: Buffer[] = [];

/**
 * One Socket.IO connection: its hub session and all its per-connection state (the handlers are
 * shared by every connection, so a connection costs this object, not a set of closures).
 */
class SocketIoSession extends Session {
  readonly dialectName = 'socketio';
  private readonly counters: DialectCounters;
  /**
   * Client messages per second (null: unlimited), made at the first message: its bucket starts
   * full either way, and an idle connection does not carry one.
   */
  private gateOf: MessageGate | null | undefined = undefined;
  expiry: NodeJS.Timeout | null = null;
  constructor(
    readonly hub: Hub,
    readonly socket: Socket,
    principal: Principal,
  ) {
    super(hub, principal);
    this.counters = hub.telemetry.forDialect('socketio');
  }

  get gate(): MessageGate | null {
    if (this.gateOf === undefined) this.gateOf = this.hub.guard?.messageGate() ?? null;
    return this.gateOf;
  }

  /** Seed 004: every client is in its own room and the global room. */
  autoRooms(): string[] {
    return this.principal.address ? [`user:${this.principal.address}`, GLOBAL_ROOM] : [GLOBAL_ROOM];
  }

  isAutoRoom(room: string): boolean {
    return room === GLOBAL_ROOM || (this.principal.address !== null && room === `user:${this.principal.address}`);
  }

  /**
   * Send everything queued. Self-contained: encodings are made on first use (whenever the hub
   * calls this), and a connection's events go out as one socket write of their prebuilt frames,
   * one Socket.IO packet per frame as the protocol requires.
   */
  flush(): void {
    const q = this.queue;
    const subs = this.queueSubs;
    this.queue = [];
    this.queueSubs = [];
    if (this.closed || q.length === 0) return;
    const conn = this.socket.conn as unknown as EngineConn;
    if (conn.readyState !== 'open') return;
    const ws = directSocket(conn);
    if (conn.writeBuffer.length > MAX_ENGINE_BUFFER || (ws !== null && ws.bufferedAmount > this.hub.config.MAX_BUFFERED_BYTES)) {
      this.hub.telemetry.dropped.inc({ reason: 'slow_consumer' }, q.length);
      this.socket.emit('error', { message: 'Connection could not keep up', code: 'SLOW_CONSUMER' });
      this.terminate(4008, 'SLOW_CONSUMER');
      return;
    }
    let n = 0;
    if (ws !== null) {
      for (let i = 0; i < q.length; i++) {
        const w = wireOf(q[i], subs[i].dialect);
        if (w !== null) scratch[n++] = w.opts.wsPreEncodedFrame[0];
      }
      if (n === 1) sendWhole(ws, scratch[0]);
      else if (n > 1) sendWhole(ws, this.joined(q, subs, n));
      scratch.fill(EMPTY, 0, n);
    } else {
      for (let i = 0; i < q.length; i++) {
        const w = wireOf(q[i], subs[i].dialect);
        if (w === null) continue;
        conn.write(w.packet, w.opts);
        n++;
      }
    }
    if (n) {
      this.counters.delivered.inc(n);
      this.counters.frames.inc(n);
    }
  }

  /**
   * The `n` frames in `scratch` as one buffer. When every queued event came through the same
   * profile, the buffer is shared through the hub's frame cache for the rest of the sweep by every
   * connection whose queue holds the very same events (with one busy room, all of them).
   */
  private joined(q: Envelope[], subs: readonly Subscription[], n: number): Buffer {
    const d = subs[0].dialect;
    for (let i = 1; i < subs.length; i++) if (subs[i].dialect !== d) return Buffer.concat(scratch.slice(0, n));
    const cache = this.hub.frames;
    const key = FrameCache.key(d, q);
    const hit = cache.get(key, d, q);
    if (hit !== null) return hit[0];
    const buf = Buffer.concat(scratch.slice(0, n));
    cache.set(key, d, q, [buf]);
    return buf;
  }

  terminate(_code: number, _reason: string): void {
    this.hub.detach(this);
    // Closing the transport (not socket.disconnect()) lets the client reconnect on its own.
    this.socket.conn.close();
  }
}

const contractSub = z.object({
  contractId: z.string().min(1).max(180).regex(/^[A-Za-z0-9_\-.:@~+]+$/),
  eventTypes: z.array(z.string().min(1).max(100)).max(100).optional(),
});
const roomSub = z.object({
  room: z.string().min(1).max(40).regex(/^[A-Za-z0-9_\-]+$/),
  id: z.union([z.string().min(1).max(150).regex(/^[A-Za-z0-9_\-.:@~+]+$/), z.number().int()]),
});
const historyReq = z.object({ contractId: contractSub.shape.contractId, limit: z.number().int().min(1).optional() });
const statsReq = z.object({ contractId: contractSub.shape.contractId });

type Ack = (r: unknown) => void;
function ackOf(args: unknown[]): Ack | null {
  const last = args[args.length - 1];
  return typeof last === 'function' ? (last as Ack) : null;
}

function expire(s: SocketIoSession): void {
  s.socket.emit('error', { message: 'Token expired', code: 'TOKEN_EXPIRED' satisfies ErrorCode });
  s.terminate(4009, 'TOKEN_EXPIRED');
}

function onDisconnect(this: Socket): void {
  const s = this.data.session as SocketIoSession;
  if (s.expiry) clearTimeout(s.expiry);
  s.hub.detach(s);
}

function fail(s: SocketIoSession, e: unknown, ack: Ack | null, extra: Record<string, unknown> = {}): void {
  const pe = isPulseError(e) ? e : new PulseError('INTERNAL');
  if (!isPulseError(e)) s.hub.logger.error({ err: e }, 'socket.io request failed');
  s.hub.telemetry.errors.inc({ code: pe.code });
  if (ack) ack({ success: false, ...extra, message: pe.message, code: pe.code });
  else s.socket.emit('error', { message: pe.message, code: pe.code });
}

const invalid = (msg: string) => new PulseError('INVALID_MESSAGE', msg);

/**
 * Every client message, for every connection (`this` is the socket): the message rate limit
 * first, then the request. Unknown events are ignored.
 */
function onMessage(this: Socket, event: string, ...args: unknown[]): void {
  const s = this.data.session as SocketIoSession | undefined;
  if (s === undefined || s.closed) return;
  const ack = ackOf(args);
  const limited = s.gate?.take();
  if (limited) {
    const pe = limited.error;
    s.hub.telemetry.errors.inc({ code: pe.code });
    if (ack) ack({ success: false, message: pe.message, code: pe.code, retryAfter: pe.retryAfter });
    else this.emit('error', { message: pe.message, code: pe.code, retryAfter: pe.retryAfter });
    if (limited.close) s.terminate(4029, 'RATE_LIMITED');
    return;
  }
  switch (event) {
    case 'subscribe':
      return void s.inOrder(() => onSubscribe(s, args[0], ack));
    case 'unsubscribe':
      return void s.inOrder(() => onUnsubscribe(s, args[0], ack));
    case 'getHistory':
      return onGetHistory(s, args[0], ack);
    case 'getStats':
      return onGetStats(s, args[0], ack);
    case 'getRooms':
      return void s.inOrder(() => {
        const rooms = [...s.subs.keys()];
        if (ack) ack(rooms);
        else s.socket.emit('rooms', rooms);
      });
    case 'ping': {
      const res = { type: 'pong', timestamp: new Date().toISOString() };
      if (ack) ack(res);
      else this.emit('pong', res);
      return;
    }
  }
}

/** Answers the request; the promise (when the answer waits for the hub) settles once it has. */
function onSubscribe(s: SocketIoSession, payload: unknown, ack: Ack | null): Promise<void> | undefined {
  const hub = s.hub;
  const c = contractSub.safeParse(payload);
  if (c.success) {
    const channel = `contract:${c.data.contractId}`;
    return hub.subscribe(s, channel, { types: c.data.eventTypes ?? null, dialect: Dialect.SIO_CONTRACT }).then(
      () => {
        const r = { contractId: c.data.contractId, eventTypes: c.data.eventTypes ?? [], timestamp: Date.now() };
        s.socket.emit('subscribed', r);
        ack?.({ success: true, room: channel, ...r });
      },
      (e) => fail(s, e, ack, { contractId: c.data.contractId }),
    );
  }
  const r = roomSub.safeParse(payload);
  if (!r.success) {
    fail(s, invalid('subscribe expects {contractId, eventTypes?} or {room, id}'), ack);
    return undefined;
  }
  const room = `${r.data.room}:${r.data.id}`;
  // Subscribing again to an auto-joined room keeps it outside the client's limit.
  return hub.subscribe(s, room, { dialect: Dialect.SIO_ROOM, system: s.isAutoRoom(room) }).then(
    () => {
      const res = { success: true, room, message: `Subscribed to ${room}` };
      if (ack) ack(res);
      else s.socket.emit('subscribed', res);
    },
    (e) => fail(s, e, ack, { room }),
  );
}

function onUnsubscribe(s: SocketIoSession, payload: unknown, ack: Ack | null): void {
  const c = contractSub.pick({ contractId: true }).safeParse(payload);
  const r = roomSub.safeParse(payload);
  const target = c.success ? `contract:${c.data.contractId}` : r.success ? `${r.data.room}:${r.data.id}` : null;
  if (!target) return fail(s, invalid('unsubscribe expects {contractId} or {room, id}'), ack);
  try {
    s.hub.unsubscribe(s, target);
    const res = c.success ? { contractId: c.data.contractId, timestamp: Date.now() } : { success: true, room: target, message: `Unsubscribed from ${target}` };
    if (ack) ack({ success: true, ...res });
    else if (c.success) s.socket.emit('unsubscribed', res);
  } catch (e) {
    fail(s, e, ack, { room: target });
  }
}

function onGetHistory(s: SocketIoSession, payload: unknown, ack: Ack | null): void {
  const h = historyReq.safeParse(payload);
  if (!h.success) return fail(s, invalid('getHistory expects {contractId, limit?}'), ack);
  const limit = Math.min(h.data.limit ?? 50, 100);
  const channel = `contract:${h.data.contractId}`;
  const principal = s.principal;
  if (!s.hub.canSubscribe(principal, channel)) return fail(s, new PulseError('FORBIDDEN'), ack);
  s.hub.history(channel, { limit }).then(
    (r) => {
      // Newest first, as the seed's Redis list returns them.
      const events = visibleEvents(principal, r.events).map(contractEvent).reverse();
      const out = { contractId: h.data.contractId, events, count: events.length, limit };
      s.socket.emit('history', out);
      ack?.(out);
    },
    (e) => fail(s, e, ack),
  );
}

function onGetStats(s: SocketIoSession, payload: unknown, ack: Ack | null): void {
  const q = statsReq.safeParse(payload);
  if (!q.success) return fail(s, invalid('getStats expects {contractId}'), ack);
  const channel = `contract:${q.data.contractId}`;
  if (!s.hub.canSubscribe(s.principal, channel)) return fail(s, new PulseError('FORBIDDEN'), ack);
  s.hub.stats(channel).then(
    (st) => {
      const out = { contractId: q.data.contractId, stats: { totalEvents: st.totalEvents, eventsByType: st.eventsByType, lastUpdated: st.lastUpdated ?? Date.now() } };
      s.socket.emit('stats', out);
      ack?.(out);
    },
    (e) => fail(s, e, ack),
  );
}

export function attachSocketIo(hub: Hub, auth: Authenticator, http: HttpServer): IOServer {
  const cfg = hub.config;
  const io = new IOServer(http, {
    serveClient: false,
    maxHttpBufferSize: cfg.MAX_FRAME_BYTES,
    pingInterval: cfg.HEARTBEAT_MS,
    // Seed 004's documented heartbeat: ping every 25 s (HEARTBEAT_MS), 60 s ping timeout.
    pingTimeout: 60_000,
    cors: { origin: (origin, cb) => cb(null, isOriginAllowed(cfg.ALLOWED_ORIGINS, origin)), credentials: true },
    allowRequest: (req, cb) => {
      if (!isOriginAllowed(cfg.ALLOWED_ORIGINS, req.headers.origin, req.headers.host)) return cb('Origin not allowed', false);
      // Handshakes only (engine.io asks for no other request): refuse past MAX_CONNECTIONS_PER_IP.
      if (hub.guard?.full(req.socket.remoteAddress ?? '')) return cb('LIMIT_EXCEEDED', false);
      cb(null, true);
    },
  });
  io.engine.on('connection', (conn: { request: { socket: { remoteAddress?: string } }; close(): void; on(ev: 'close', fn: () => void): void }) => {
    // Nothing to count without a per-address limit (the guard would hand back a no-op).
    if (!hub.guard || cfg.MAX_CONNECTIONS_PER_IP <= 0) return;
    try {
      // `close` comes once; `on` (not `once`) spares a bound wrapper per connection.
      conn.on('close', hub.guard.acquireConnection(conn.request.socket.remoteAddress ?? ''));
    } catch {
      conn.close();
    }
  });

  io.use((socket, next) => {
    const h = socket.handshake;
    const fromAuth = typeof h.auth?.token === 'string' ? (h.auth.token as string) : null;
    const header = h.headers.authorization;
    const fromHeader = typeof header === 'string' && /^Bearer\s+/i.test(header) ? header.replace(/^Bearer\s+/i, '') : null;
    const fromQuery = typeof h.query.token === 'string' ? h.query.token : null;
    auth.authenticate(fromAuth ?? fromHeader ?? fromQuery).then(
      (p) => {
        socket.data.principal = p;
        next();
      },
      (e: unknown) => {
        const pe = isPulseError(e) ? e : new PulseError('UNAUTHORIZED');
        hub.telemetry.errors.inc({ code: pe.code });
        const err = new Error(pe.code === 'TOKEN_EXPIRED' ? 'Token expired' : 'Authentication failed') as Error & { data?: unknown };
        err.data = { code: pe.code, message: pe.message };
        next(err);
      },
    );
  });

  io.on('connection', (socket) => {
    const s = new SocketIoSession(hub, socket, socket.data.principal as Principal);
    socket.data.session = s;
    hub.attach(s);
    socket.onAny(onMessage);
    socket.on('disconnect', onDisconnect);

    const principal = s.principal;
    if (principal.expiresAt !== null && principal.expiresAt - Date.now() < 2 ** 31 - 1) {
      s.expiry = setTimeout(expire, Math.max(0, principal.expiresAt - Date.now()), s);
      s.expiry.unref();
    }

    const joins = s.autoRooms().map((room) => hub.subscribe(s, room, { dialect: Dialect.SIO_ROOM, system: true }).catch(() => null));
    void Promise.all(joins).then(() => {
      socket.emit('connected', {
        message: 'Connected to Pulse real-time server',
        socketId: socket.id,
        userId: principal.userId,
        timestamp: Date.now(),
        rooms: [...s.subs.keys()],
      });
    });
  });
  return io;
}

