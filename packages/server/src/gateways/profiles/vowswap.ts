/**
 * Seed 002 (VowSwap marketplace): plain WebSocket at `/api/websocket/analytics`. Every message
 * is `{type, payload, channel, timestamp}` with an ISO timestamp. Subscribing to `analytics`
 * receives every `analytics:*` event; the payload is the event with `eventType` set to its type.
 */
import type WebSocket from 'ws';
import { isValidSubscriptionTarget, PulseError, isPulseError } from '@pulse/protocol';
import type { Hub } from '../../hub/hub.js';
import { Dialect, type Envelope } from '../../hub/envelope.js';
import { WsSession, jsonObject, type WsCodec, type ControlFormat } from '../ws-session.js';
import type { Principal } from '../../auth/principal.js';

function iso(ms: number): string {
  return new Date(ms).toISOString();
}

function encodeVowswap(env: Envelope): string {
  const e = env.event;
  const payload: Record<string, unknown> = { ...e.data, id: e.id, eventType: e.type, offset: e.offset, epoch: e.epoch, timestamp: iso(e.ts) };
  if (e.userId !== undefined) payload.userId = e.userId;
  return JSON.stringify({ type: 'analytics_update', payload, channel: e.channel, timestamp: iso(Date.now()) });
}

function envelope(type: string, channel: string | undefined, payload: unknown): string {
  const m: Record<string, unknown> = { type, payload, timestamp: iso(Date.now()) };
  if (channel !== undefined) m.channel = channel;
  return JSON.stringify(m);
}

/**
 * The document's envelope, with its own types: `error` for an expiry or a refusal, `disconnect`
 * when the server ends the connection (slow consumer, shutdown); payload `{code, message}`.
 */
const vowswapControl: ControlFormat = (n) => {
  const payload: Record<string, unknown> = { code: n.code, message: n.message };
  if (n.retryAfter !== undefined) payload.retryAfter = n.retryAfter;
  return envelope(n.kind === 'closing' ? 'disconnect' : 'error', undefined, payload);
};

export const vowswapCodec: WsCodec = { name: 'vowswap', dialect: Dialect.VOWSWAP, encode: encodeVowswap, control: vowswapControl };

function send(s: WsSession, type: string, channel: string | undefined, payload: unknown): void {
  s.sendControl(envelope(type, channel, payload));
}

function channelOf(raw: Record<string, unknown>): string | null {
  const p = raw.payload;
  const c = raw.channel ?? (typeof p === 'object' && p !== null ? (p as Record<string, unknown>).channel : undefined) ?? (typeof p === 'string' ? p : undefined);
  return typeof c === 'string' && isValidSubscriptionTarget(c) ? c : null;
}

export function attachVowswap(hub: Hub, ws: WebSocket, principal: Principal, remote: string): WsSession {
  const s = new WsSession(hub, ws, principal, vowswapCodec, remote);
  hub.attach(s);
  send(s, 'connect', undefined, { clientId: s.id, userId: principal.userId });
  const gate = hub.guard?.messageGate() ?? null;
  ws.on('message', (data, isBinary) => {
    const limited = gate?.take();
    if (limited) {
      send(s, 'error', undefined, { code: limited.error.code, message: limited.error.message, retryAfter: limited.error.retryAfter });
      if (limited.close) s.terminate(4029, 'RATE_LIMITED');
      return;
    }
    const r = jsonObject(data, isBinary);
    if (r === null) return send(s, 'error', undefined, { code: 'BAD_JSON', message: 'Message is not valid JSON' });
    if (r.type === 'ping') return send(s, 'pong', undefined, {});
    if (r.type !== 'subscribe' && r.type !== 'unsubscribe') {
      return send(s, 'error', undefined, { code: 'UNKNOWN_OP', message: 'Expected subscribe, unsubscribe or ping' });
    }
    const channel = channelOf(r);
    if (!channel) return send(s, 'error', undefined, { code: 'INVALID_CHANNEL', message: 'channel is missing or invalid' });
    // Subscribe waits for the limiter, so an unsubscribe sent right after it would run first (and
    // fail): each change starts when the one before it has been answered.
    const change = async () => {
      if (r.type === 'subscribe') {
        await hub.subscribe(s, channel, { dialect: Dialect.VOWSWAP });
        send(s, 'subscribe', channel, { success: true, channel });
      } else {
        hub.unsubscribe(s, channel);
        send(s, 'unsubscribe', channel, { success: true, channel });
      }
    };
    void s.inOrder(() =>
      change().catch((e: unknown) => {
        const pe = isPulseError(e) ? e : new PulseError('INTERNAL');
        send(s, 'error', channel, { code: pe.code, message: pe.message });
      }),
    );
  });
  return s;
}
