/**
 * Pulse's native protocol at `/ws`: JSON requests with ids, replies, and `events` pushes that
 * carry many events per frame.
 */
import type WebSocket from 'ws';
import {
  PulseError,
  PROTOCOL_VERSION,
  CLOSE_CODES,
  clientMessageSchema,
  isPulseError,
  type ClientMessage,
  type ErrorCode,
} from '@pulse/protocol';
import type { Hub } from '../hub/hub.js';
import { Dialect, nativeJson } from '../hub/envelope.js';
import { WsSession, type WsCodec, type ControlFormat } from './ws-session.js';
import type { Principal } from '../auth/principal.js';
import type { Authenticator } from '../auth/tokens.js';
import { visibleEvents, narrowedByRenewal } from '../auth/permissions.js';

/** `error{code, message}` (as request errors, without an id), or `closing{code: close code, reason}`. */
export const nativeControl: ControlFormat = (n) =>
  n.kind === 'closing' ? JSON.stringify({ type: 'closing', code: n.close, reason: n.code }) : errorFrame(n.code, n.message, undefined, undefined, n.retryAfter);

export const nativeCodec: WsCodec = {
  name: 'native',
  dialect: Dialect.NATIVE,
  encode: nativeJson,
  batch: (parts) => '{"type":"events","events":[' + parts.join(',') + ']}',
  control: nativeControl,
};

const KNOWN_OPS = new Set(['subscribe', 'unsubscribe', 'history', 'stats', 'publish', 'ping', 'auth']);

export function errorFrame(code: ErrorCode, message: string, id?: string | number, op?: string, retryAfter?: number): string {
  const m: Record<string, unknown> = { type: 'error', code, message };
  if (id !== undefined) m.id = id;
  if (op !== undefined) m.op = op;
  if (retryAfter !== undefined) m.retryAfter = retryAfter;
  return JSON.stringify(m);
}

/** A request's `id` and `op`, where they are well-formed, so that an error can name its request. */
function idAndOp(r: Record<string, unknown>): { id?: string | number; op?: string } {
  const id = typeof r.id === 'string' || (typeof r.id === 'number' && Number.isSafeInteger(r.id)) ? (r.id as string | number) : undefined;
  const op = typeof r.op === 'string' ? r.op.slice(0, 32) : undefined;
  return { id, op };
}

/**
 * The `id` and `op` of a frame refused before decoding (the message rate limit), so the client's
 * pending request gets its answer at once instead of timing out. Never throws.
 */
export function peekIdAndOp(data: WebSocket.RawData, isBinary: boolean): { id?: string | number; op?: string } {
  if (isBinary) return {};
  try {
    const raw: unknown = JSON.parse(data.toString());
    return typeof raw === 'object' && raw !== null && !Array.isArray(raw) ? idAndOp(raw as Record<string, unknown>) : {};
  } catch {
    return {};
  }
}

/** Parse a frame into a client message, or a coded error. Never throws. */
export function decodeNative(data: WebSocket.RawData, isBinary: boolean): { ok: true; msg: ClientMessage } | { ok: false; code: ErrorCode; message: string; id?: string | number; op?: string } {
  if (isBinary) return { ok: false, code: 'INVALID_MESSAGE', message: 'Binary frames are not supported; send JSON text' };
  let raw: unknown;
  try {
    raw = JSON.parse(data.toString());
  } catch {
    return { ok: false, code: 'BAD_JSON', message: 'Message is not valid JSON' };
  }
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) return { ok: false, code: 'INVALID_MESSAGE', message: 'Message must be a JSON object' };
  const r = raw as Record<string, unknown>;
  const { id, op } = idAndOp(r);
  if (op === undefined || !KNOWN_OPS.has(op)) {
    return { ok: false, code: 'UNKNOWN_OP', message: `Unknown op; expected one of ${[...KNOWN_OPS].join(', ')}`, id, op };
  }
  const parsed = clientMessageSchema.safeParse(raw);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    return { ok: false, code: 'INVALID_MESSAGE', message: `${issue.path.join('.') || 'message'}: ${issue.message}`, id, op };
  }
  return { ok: true, msg: parsed.data };
}

export function attachNative(hub: Hub, auth: Authenticator, ws: WebSocket, principal: Principal, remote: string): WsSession {
  const s = new WsSession(hub, ws, principal, nativeCodec, remote);
  hub.attach(s);
  s.sendControl(
    JSON.stringify({ type: 'welcome', protocol: PROTOCOL_VERSION, session: s.id, userId: principal.userId, serverTime: Date.now(), heartbeatMs: hub.config.HEARTBEAT_MS }),
  );
  const gate = hub.guard?.messageGate() ?? null;
  // Membership changes (subscribe, unsubscribe) and token renewals (auth, which changes what may
  // be subscribed) take effect and are answered in the order sent: a subscribe awaits the rate
  // limiter and recovery, so an unsubscribe right behind it would otherwise run first. history,
  // stats, publish and ping change no membership and run at once (a publish must not wait behind
  // a subscribe's recovery read; replies carry the request's id); only a pending renewal holds
  // history / stats / publish back, as their permission checks depend on it.
  let renewing: Promise<void> | null = null;
  ws.on('message', (data, isBinary) => {
    const limited = gate?.take();
    if (limited) {
      hub.telemetry.errors.inc({ code: limited.error.code });
      const r = peekIdAndOp(data, isBinary);
      s.sendControl(errorFrame(limited.error.code, limited.error.message, r.id, r.op, limited.error.retryAfter));
      if (limited.close) s.terminate(CLOSE_CODES.RATE_LIMITED, 'RATE_LIMITED');
      return;
    }
    const d = decodeNative(data, isBinary);
    if (!d.ok) {
      hub.telemetry.errors.inc({ code: d.code });
      s.sendControl(errorFrame(d.code, d.message, d.id, d.op));
      return;
    }
    const m = d.msg;
    const run = (): Promise<void> =>
      handle(hub, auth, s, m).then(
        (result) => {
          const reply: Record<string, unknown> = { type: 'reply', op: m.op, result };
          if (m.id !== undefined) reply.id = m.id;
          s.sendControl(JSON.stringify(reply));
        },
        (e: unknown) => {
          const pe = isPulseError(e) ? e : new PulseError('INTERNAL');
          if (!isPulseError(e)) hub.logger.error({ err: e, op: m.op }, 'native request failed');
          hub.telemetry.errors.inc({ code: pe.code });
          s.sendControl(errorFrame(pe.code, pe.message, m.id, m.op, pe.retryAfter));
        },
      );
    if (m.op === 'subscribe' || m.op === 'unsubscribe' || m.op === 'auth') {
      const done = s.inOrder(run);
      if (m.op === 'auth') {
        renewing = done;
        void done.then(() => {
          if (renewing === done) renewing = null;
        });
      }
    } else if (renewing !== null && m.op !== 'ping') {
      // Permission checks must see the principal of a renewal sent before this request.
      void renewing.then(() => (s.closed ? undefined : run()));
    } else {
      void run();
    }
  });
  return s;
}

async function handle(hub: Hub, auth: Authenticator, s: WsSession, m: ClientMessage): Promise<unknown> {
  switch (m.op) {
    case 'subscribe':
      return hub.subscribe(s, m.channel, { types: m.types ?? null, since: m.since, dialect: Dialect.NATIVE });
    case 'unsubscribe':
      hub.unsubscribe(s, m.channel);
      return { channel: m.channel };
    case 'history': {
      if (!hub.canSubscribe(s.principal, m.channel)) throw new PulseError('FORBIDDEN', `Not allowed to read ${m.channel}`);
      const h = await hub.history(m.channel, { limit: m.limit ?? 50, since: m.since });
      return { channel: m.channel, ...h, events: visibleEvents(s.principal, h.events) };
    }
    case 'stats':
      if (!hub.canSubscribe(s.principal, m.channel)) throw new PulseError('FORBIDDEN', `Not allowed to read ${m.channel}`);
      return hub.stats(m.channel);
    case 'publish': {
      if (!hub.canPublish(s.principal, m.channel)) throw new PulseError('FORBIDDEN', `Not allowed to publish to ${m.channel}`);
      const item: Record<string, unknown> = { channel: m.channel, type: m.type, data: m.data ?? {} };
      if (m.eventId) item.id = m.eventId;
      if (s.principal.userId && s.principal.authenticated) item.userId = s.principal.userId;
      if (s.principal.orgId) item.orgId = s.principal.orgId;
      const r = await hub.ingest([item], { source: 'socket', principal: s.principal });
      if (r.errors.length) throw new PulseError(r.errors[0].code as ErrorCode, r.errors[0].message);
      if (r.duplicates) return { id: m.eventId, channel: m.channel, duplicate: true };
      const e = r.events[0];
      return { id: e.id, channel: e.channel, offset: e.offset, epoch: e.epoch, duplicate: false };
    }
    case 'ping':
      return { serverTime: Date.now() };
    case 'auth': {
      const p = await auth.verify(m.token);
      if (s.principal.authenticated && p.userId !== s.principal.userId) throw new PulseError('FORBIDDEN', 'A renewed token must be for the same user');
      const narrowed = narrowedByRenewal(hub.config, p, s.subs.values());
      if (narrowed !== null) throw new PulseError('FORBIDDEN', `The renewed token may not receive ${narrowed} as this connection does; reconnect with it`);
      s.principal = p;
      s.armTokenExpiry();
      return { userId: p.userId, expiresAt: p.expiresAt };
    }
  }
}
