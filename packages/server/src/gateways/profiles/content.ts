/**
 * Seed 001 (content platform): plain WebSocket at `/analytics` (and on ANALYTICS_WS_PORT).
 * `subscribe{contentIds, organizationId, clientId}` → `content:<id>` channels scoped to the
 * organisation; events go out as `analytics_update{contentId, field, value, …}`.
 *
 * Content counters: every content event that maps to a field (views, likes, shares, comments)
 * gets `field` and the new running `value` in its data at acceptance, so the value is stored
 * with the event, is exact after a restart, and is encoded once for every subscriber.
 */
import type WebSocket from 'ws';
import { z } from 'zod';
import { channelId, PulseError, isPulseError } from '@pulse/protocol';
import type { Hub, Enricher } from '../../hub/hub.js';
import type { NormalizedInput } from '../../hub/normalize.js';
import { Dialect, type Envelope } from '../../hub/envelope.js';
import { WsSession, jsonObject, type WsCodec, type ControlFormat } from '../ws-session.js';
import type { Principal } from '../../auth/principal.js';
import * as permissions from '../../auth/permissions.js';

export const CONTENT_FIELDS = ['views', 'likes', 'shares', 'comments'] as const;
export type ContentField = (typeof CONTENT_FIELDS)[number];

/** Event types that count towards a content field. `analytics_update` names its field in data. */
export const CONTENT_TYPE_FIELDS: Record<string, ContentField> = {
  content_view: 'views',
  view: 'views',
  like: 'likes',
  share: 'shares',
  comment: 'comments',
};

function fieldOf(type: string, data: Record<string, unknown>): ContentField | null {
  if (type === 'analytics_update') {
    const f = data.field;
    return typeof f === 'string' && (CONTENT_FIELDS as readonly string[]).includes(f) ? (f as ContentField) : null;
  }
  return CONTENT_TYPE_FIELDS[type] ?? null;
}

/** Running totals per content and field, resumed from the store on first use after a restart. */
export class ContentCounters implements Enricher {
  private values = new Map<string, number>();
  private loaded = new Set<string>();
  private loading = new Map<string, Promise<void>>();
  constructor(private hub: Hub) {}

  prepare(channel: string): Promise<void> | null {
    if (this.loaded.has(channel)) return null;
    let p = this.loading.get(channel);
    if (!p) {
      p = this.load(channel).finally(() => this.loading.delete(channel));
      this.loading.set(channel, p);
    }
    return p;
  }

  private async load(channel: string): Promise<void> {
    for (const f of CONTENT_FIELDS) {
      const key = channel + '\u0000' + f;
      if (this.values.has(key)) continue;
      const e = await this.hub.store.latestMatching(channel, 'field', f);
      const v = e && typeof e.data.value === 'number' ? e.data.value : 0;
      if (!this.values.has(key)) this.values.set(key, v);
    }
    this.loaded.add(channel);
  }

  /** A commit with this channel's events failed: read its totals back from the store next time. */
  forget(channel: string): void {
    this.loaded.delete(channel);
    for (const f of CONTENT_FIELDS) this.values.delete(channel + '\u0000' + f);
  }

  get(channel: string, field: ContentField): number {
    return this.values.get(channel + '\u0000' + field) ?? 0;
  }

  /** Adds `field` and the new `value` to counting content events. */
  enrich(v: NormalizedInput): void {
    const field = fieldOf(v.type, v.data);
    if (!field) return;
    const inc = typeof v.data.increment === 'number' && Number.isFinite(v.data.increment) ? v.data.increment : 1;
    const key = v.channel + '\u0000' + field;
    const value = (this.values.get(key) ?? 0) + inc;
    this.values.set(key, value);
    v.data = { ...v.data, field, increment: inc, value };
  }
}

function encodeContent(env: Envelope): string {
  const e = env.event;
  const d = e.data;
  if (typeof d.field !== 'string' || typeof d.value !== 'number') return '';
  const m: Record<string, unknown> = { type: 'analytics_update', contentId: channelId(e.channel), field: d.field, value: d.value, timestamp: e.ts };
  if (e.orgId !== undefined) m.organizationId = e.orgId;
  if (typeof d.clientId === 'string') m.clientId = d.clientId;
  return JSON.stringify(m);
}

function errorMessage(code: string, message: string, retryAfter?: number): string {
  const m: Record<string, unknown> = { type: 'error', error: message, code, timestamp: Date.now() };
  if (retryAfter !== undefined) m.retryAfter = retryAfter;
  return JSON.stringify(m);
}

/** The document's only server notice is `error{error, timestamp}`: expiry, refusal and closing alike. */
const contentControl: ControlFormat = (n) => errorMessage(n.code, n.message, n.retryAfter);

export const contentCodec: WsCodec = { name: 'content', dialect: Dialect.CONTENT, encode: encodeContent, control: contentControl };

const subscribeMsg = z.object({
  type: z.literal('subscribe'),
  contentIds: z.array(z.string().min(1).max(128).regex(/^[A-Za-z0-9_\-.:@~+]+$/)).max(1000).optional(),
  organizationId: z.string().min(1).max(128).optional(),
  clientId: z.string().min(1).max(128).optional(),
});

function err(s: WsSession, code: string, message: string, retryAfter?: number): void {
  s.sendControl(errorMessage(code, message, retryAfter));
}

export function attachContent(hub: Hub, ws: WebSocket, principal: Principal, remote: string): WsSession {
  const s = new WsSession(hub, ws, principal, contentCodec, remote);
  hub.attach(s);
  s.sendControl(JSON.stringify({ type: 'connected', clientId: s.id, timestamp: Date.now() }));
  const gate = hub.guard?.messageGate() ?? null;
  // Subscribe waits for the limiter, so two changes sent back to back would interleave (and the
  // older set could win): each change starts when the one before it has been answered.
  const inOrder = (change: () => Promise<void>): void => {
    void s.inOrder(() =>
      change().catch((e: unknown) => {
        const pe = isPulseError(e) ? e : new PulseError('INTERNAL');
        err(s, pe.code, pe.message, pe.retryAfter);
      }),
    );
  };
  ws.on('message', (data, isBinary) => {
    const limited = gate?.take();
    if (limited) {
      err(s, limited.error.code, limited.error.message, limited.error.retryAfter);
      if (limited.close) s.terminate(4029, 'RATE_LIMITED');
      return;
    }
    const raw = jsonObject(data, isBinary);
    if (raw === null) return err(s, 'BAD_JSON', 'Message is not valid JSON');
    const type = raw.type;
    if (type === 'ping') return s.sendControl(JSON.stringify({ type: 'pong', timestamp: Date.now() }));
    if (type === 'unsubscribe') {
      return inOrder(async () => {
        for (const t of [...s.subs.keys()]) hub.unsubscribe(s, t);
        s.sendControl(JSON.stringify({ type: 'unsubscribed', timestamp: Date.now() }));
      });
    }
    if (type !== 'subscribe') return err(s, 'UNKNOWN_OP', 'Unknown message type');
    const m = subscribeMsg.safeParse(raw);
    if (!m.success) return err(s, 'INVALID_MESSAGE', m.error.issues[0].message);
    inOrder(() => subscribe(hub, s, m.data));
  });
  return s;
}

async function subscribe(hub: Hub, s: WsSession, m: z.infer<typeof subscribeMsg>): Promise<void> {
  // An organisation in the token wins over the one the client names.
  const org = s.principal.orgId ?? m.organizationId ?? null;
  if (s.principal.orgId && m.organizationId && m.organizationId !== s.principal.orgId) {
    throw new PulseError('FORBIDDEN', 'organizationId does not match your token');
  }
  const targets = m.contentIds && m.contentIds.length ? [...new Set(m.contentIds)].map((id) => `content:${id}`) : ['content:*'];
  // What can be known to fail is refused before the previous set is touched, the subscription
  // rate limit included: the new contentIds are charged together, all or nothing, and those
  // held within the last minute not at all.
  const max = hub.config.MAX_SUBSCRIPTIONS_PER_CLIENT;
  if (targets.length > max) throw new PulseError('MAX_SUBSCRIPTIONS', `Maximum ${max} subscriptions per client (contentIds: ${targets.length})`);
  permissions.orgScope(s.principal, org);
  for (const t of targets) {
    if (!permissions.canSubscribe(hub.config, s.principal, t)) throw new PulseError('FORBIDDEN', `Not allowed to subscribe to ${t}`);
  }
  if (hub.guard) {
    await hub.guard.admitSubscribe(s.principal, targets.filter((t) => !s.subs.has(t)));
    if (s.closed) throw new PulseError('UNAVAILABLE', 'Connection closed');
  }
  // A new subscribe replaces the previous set, as the seed's server does.
  for (const t of [...s.subs.keys()]) if (!targets.includes(t)) hub.unsubscribe(s, t);
  // A named client narrows delivery to its own updates (and those naming no client).
  for (const t of targets) await hub.subscribe(s, t, { dialect: Dialect.CONTENT, orgId: org, clientId: m.clientId ?? null, admitted: true });
  const reply: Record<string, unknown> = { type: 'subscribed', contentIds: m.contentIds ?? [], timestamp: Date.now() };
  if (org) reply.organizationId = org;
  if (m.clientId) reply.clientId = m.clientId;
  s.sendControl(JSON.stringify(reply));
}
