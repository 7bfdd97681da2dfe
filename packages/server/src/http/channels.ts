/**
 * HTTP reads: history and long-polling (`GET /v1/channels/:channel/events`), stats, and the
 * channel list. Polling is the last-resort transport: a client passes its position and gets
 * what it missed, or waits up to `wait` ms for the next events.
 */
import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import { PulseError, isValidChannel, type Position, type PulseEvent } from '@pulse/protocol';
import type { HttpContext } from './context.js';
import { principalOf } from './context.js';
import { Session } from '../hub/session.js';
import { Dialect, type Envelope } from '../hub/envelope.js';
import type { Hub } from '../hub/hub.js';
import type { Principal } from '../auth/principal.js';
import { visibleEvents } from '../auth/permissions.js';

const query = z.object({
  since: z.coerce.number().int().min(0).optional(),
  epoch: z.string().min(1).max(64).optional(),
  limit: z.coerce.number().int().min(1).max(1000).default(100),
  wait: z.coerce.number().int().min(0).max(60_000).default(0),
});
const listQuery = z.object({ prefix: z.string().max(200).optional(), limit: z.coerce.number().int().min(1).max(10_000).default(500) });

/** A one-shot session: resolves with the first events delivered to it. */
class WaitSession extends Session {
  readonly dialectName = 'poll';
  private done: ((e: PulseEvent[]) => void) | null = null;
  readonly result: Promise<PulseEvent[]>;
  constructor(hub: Hub, p: Principal) {
    super(hub, p);
    this.result = new Promise((r) => (this.done = r));
  }
  flush(): void {
    const q: Envelope[] = this.queue;
    this.queue = [];
    this.queueSubs = [];
    if (q.length && this.done) {
      this.done(q.map((e) => e.event));
      this.done = null;
    }
  }
  terminate(): void {
    this.done?.([]);
    this.done = null;
  }
}

export function parseQuery<T extends z.ZodTypeAny>(schema: T, q: unknown): z.infer<T> {
  const r = schema.safeParse(q);
  if (!r.success) {
    const i = r.error.issues[0];
    throw new PulseError('INVALID_REQUEST', `${i.path.join('.') || 'query'}: ${i.message}`);
  }
  return r.data;
}

export function registerChannels(app: FastifyInstance, ctx: HttpContext): void {
  const hub = ctx.hub;

  app.get('/v1/channels/:channel/events', async (req) => {
    const { channel } = req.params as { channel: string };
    if (!isValidChannel(channel)) throw new PulseError('INVALID_CHANNEL');
    const p = await principalOf(ctx, req);
    if (!hub.canSubscribe(p, channel)) throw new PulseError('FORBIDDEN', `Not allowed to read ${channel}`);
    const q = parseQuery(query, req.query);
    const since: Position | undefined = q.since !== undefined ? { epoch: q.epoch ?? hub.log.get(channel)?.epoch ?? '', offset: q.since } : undefined;
    const h = await hub.history(channel, { limit: q.limit, since });
    const first = { ...h, events: visibleEvents(p, h.events) };
    if (first.events.length > 0 || q.wait === 0 || (since && first.recovered === false)) return { channel, ...first };
    // Long-poll: wait for the next event on this channel, or time out with an empty answer.
    const s = new WaitSession(hub, p);
    hub.attach(s);
    try {
      await hub.subscribe(s, channel, { dialect: Dialect.NATIVE, since, system: true });
      const timer = new Promise<PulseEvent[]>((r) => setTimeout(() => r([]), q.wait).unref());
      const closed = new Promise<PulseEvent[]>((r) => req.raw.once('close', () => r([])));
      const events = await Promise.race([s.result, timer, closed]);
      const ch = hub.log.get(channel);
      return { channel, events: events.slice(0, q.limit), position: ch ? { epoch: ch.epoch, offset: ch.committed } : null, recovered: since ? true : undefined };
    } finally {
      hub.detach(s);
    }
  });

  app.get('/v1/channels/:channel/stats', async (req) => {
    const { channel } = req.params as { channel: string };
    if (!isValidChannel(channel)) throw new PulseError('INVALID_CHANNEL');
    const p = await principalOf(ctx, req);
    if (!hub.canSubscribe(p, channel)) throw new PulseError('FORBIDDEN', `Not allowed to read ${channel}`);
    return hub.stats(channel);
  });

  app.get('/v1/channels', async (req) => {
    const p = await principalOf(ctx, req);
    const q = parseQuery(listQuery, req.query);
    const out: Array<{ channel: string; epoch: string; offset: number }> = [];
    for (const name of hub.log.names()) {
      if (q.prefix && !name.startsWith(q.prefix)) continue;
      if (!hub.canSubscribe(p, name)) continue;
      const c = hub.log.get(name)!;
      out.push({ channel: name, epoch: c.epoch, offset: c.committed });
      if (out.length >= q.limit) break;
    }
    return { channels: out };
  });
}

