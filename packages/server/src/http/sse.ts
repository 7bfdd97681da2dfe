/**
 * Server-Sent Events at `/v1/stream`: the same subscriptions and recovery as the native
 * protocol, for clients where WebSocket is blocked. Each event's id is `<channel>@<epoch>:<offset>`,
 * so a browser's automatic `Last-Event-ID` resumes that channel; `since=` resumes several.
 */
import type { FastifyInstance, FastifyReply } from 'fastify';
import { PulseError, isValidSubscriptionTarget, isPulseError, matches, type Position } from '@pulse/protocol';
import type { HttpContext } from './context.js';
import { principalOf } from './context.js';
import { Session } from '../hub/session.js';
import type { DialectCounters } from '../telemetry.js';
import { Dialect, nativeJson, type Envelope } from '../hub/envelope.js';
import type { Hub } from '../hub/hub.js';
import { onTokenExpiry, type Principal } from '../auth/principal.js';
import { isOriginAllowed } from './origins.js';

function sseChunk(env: Envelope): string {
  const e = env.event;
  return 'id: ' + e.channel + '@' + e.epoch + ':' + e.offset + '\nevent: event\ndata: ' + nativeJson(env) + '\n\n';
}

class SseSession extends Session {
  readonly dialectName = 'sse';
  private readonly counters: DialectCounters;
  constructor(
    private hub: Hub,
    p: Principal,
    private reply: FastifyReply,
  ) {
    super(hub, p);
    this.counters = hub.telemetry.forDialect('sse');
  }
  write(s: string): void {
    if (!this.closed) this.reply.raw.write(s);
  }
  flush(): void {
    const q = this.queue;
    this.queue = [];
    this.queueSubs = [];
    if (this.closed || q.length === 0) return;
    const raw = this.reply.raw;
    if (raw.writableLength > this.hub.config.MAX_BUFFERED_BYTES) {
      this.hub.telemetry.dropped.inc({ reason: 'slow_consumer' }, q.length);
      this.write('event: error\ndata: {"code":"SLOW_CONSUMER","message":"Connection could not keep up"}\n\n');
      this.terminate();
      return;
    }
    let out = '';
    for (const env of q) {
      let s = env.enc[Dialect.SSE];
      if (s === undefined) s = env.enc[Dialect.SSE] = sseChunk(env);
      out += s;
    }
    raw.write(out);
    this.counters.delivered.inc(q.length);
    this.counters.frames.inc();
  }
  terminate(): void {
    this.hub.detach(this);
    this.reply.raw.end();
  }
}

/** `a@e1:5,b@e2:7` → positions by channel. */
export function parsePositions(s: string | undefined): Record<string, Position> {
  const out: Record<string, Position> = {};
  if (!s) return out;
  for (const part of s.split(',').slice(0, 1000)) {
    const at = part.lastIndexOf('@');
    const colon = part.lastIndexOf(':');
    if (at <= 0 || colon <= at) continue;
    const offset = Number(part.slice(colon + 1));
    if (!Number.isSafeInteger(offset) || offset < 0) continue;
    out[part.slice(0, at)] = { epoch: part.slice(at + 1, colon), offset };
  }
  return out;
}

export function registerSse(app: FastifyInstance, ctx: HttpContext): void {
  const hub = ctx.hub;
  app.get('/v1/stream', async (req, reply) => {
    const p = await principalOf(ctx, req);
    const q = req.query as Record<string, string | string[] | undefined>;
    const raw = q.channel;
    const targets = (Array.isArray(raw) ? raw : raw ? raw.split(',') : []).map((t) => t.trim()).filter(Boolean);
    if (targets.length === 0) throw new PulseError('INVALID_REQUEST', 'Name at least one channel: ?channel=<channel or pattern>');
    if (targets.length > hub.config.MAX_SUBSCRIPTIONS_PER_CLIENT) throw new PulseError('MAX_SUBSCRIPTIONS');
    for (const t of targets) if (!isValidSubscriptionTarget(t)) throw new PulseError('INVALID_CHANNEL', `Invalid channel or pattern: ${String(t).slice(0, 64)}`);
    const typesRaw = typeof q.types === 'string' ? q.types.split(',').filter(Boolean) : null;
    const positions = parsePositions(typeof q.since === 'string' ? q.since : undefined);
    const lastId = req.headers['last-event-id'];
    if (typeof lastId === 'string') Object.assign(positions, parsePositions(lastId));

    // A stream holds a socket as long as a WebSocket does: it counts against MAX_CONNECTIONS_PER_IP.
    const release = hub.guard?.acquireConnection(req.socket.remoteAddress ?? '') ?? (() => undefined);
    reply.hijack();
    const res = reply.raw;
    const origin = req.headers.origin;
    const headers: Record<string, string> = {
      'Content-Type': 'text/event-stream; charset=utf-8',
      'Cache-Control': 'no-cache, no-transform',
      Connection: 'keep-alive',
      'X-Accel-Buffering': 'no',
    };
    if (origin && isOriginAllowed(hub.config.ALLOWED_ORIGINS, origin, req.headers.host)) {
      headers['Access-Control-Allow-Origin'] = origin;
      headers['Vary'] = 'Origin';
    }
    res.writeHead(200, headers);
    res.write('retry: 2000\n\n');
    const s = new SseSession(hub, p, reply);
    hub.attach(s);
    const hb = setInterval(() => s.write(': heartbeat\n\n'), hub.config.HEARTBEAT_MS);
    hb.unref();
    // An expired token ends the stream with a coded error; the client refreshes and resumes.
    const cancelExpiry = onTokenExpiry(p, () => {
      s.write('event: error\ndata: {"code":"TOKEN_EXPIRED","message":"Token expired"}\n\n');
      s.terminate();
    });
    req.raw.on('close', () => {
      clearInterval(hb);
      cancelExpiry();
      release();
      hub.detach(s);
    });
    for (const t of targets) {
      try {
        let since: Position | Record<string, Position> | undefined;
        const own = Object.entries(positions).filter(([c]) => matches(t, c));
        if (own.length) since = t.includes(':') && !t.endsWith('*') ? own.find(([c]) => c === t)?.[1] : Object.fromEntries(own);
        const r = await hub.subscribe(s, t, { types: typesRaw, since, dialect: Dialect.SSE });
        s.write('event: subscribed\ndata: ' + JSON.stringify(r) + '\n\n');
      } catch (e) {
        const pe = isPulseError(e) ? e : new PulseError('INTERNAL');
        s.write('event: error\ndata: ' + JSON.stringify({ code: pe.code, message: pe.message, channel: t }) + '\n\n');
      }
    }
  });
}
