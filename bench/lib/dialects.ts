/**
 * Client side of each wire dialect the generator speaks, reduced to what a benchmark client needs:
 * the handshake, one subscription, and decoding pushed events. Sinks use only `control` (to answer
 * protocol pings) once subscribed; probes decode every frame with `decode`.
 */
import type { Dialect } from './messages.js';

export interface Position {
  epoch: string;
  offset: number;
}

export interface BenchEvent {
  channel: string;
  t0: number;
  seq: number;
  /** Native only: the log position, used for `since` recovery. */
  position: Position | null;
}

export type Decoded =
  | { kind: 'ready' }
  | { kind: 'subscribed'; recovered: boolean | null; position: Position | null }
  | { kind: 'events'; events: BenchEvent[] }
  | { kind: 'reply'; text: string }
  | { kind: 'error'; message: string }
  | { kind: 'other' };

export interface DialectCodec {
  /** Frame to send once the handshake is done, to subscribe (with a recovery position if known). */
  subscribe(channel: string, since: Position | null): string;
  decode(text: string): Decoded;
  /** Cheap check on a raw frame (sinks): the answer to a protocol-level ping, else null. */
  control(frame: Buffer): string | null;
  /** The same rule for the C sink reader (client/sink-reader.c), which checks frames under 64 bytes. */
  readonly pingRule: { mode: 'none' | 'exact' | 'contains'; ping: string; pong: string };
}

interface EventData {
  t0?: unknown;
  seq?: unknown;
}

function toEvent(channel: unknown, data: EventData | undefined, epoch: unknown, offset: unknown): BenchEvent | null {
  if (typeof channel !== 'string' || !data || typeof data.t0 !== 'number' || typeof data.seq !== 'number') return null;
  const position = typeof epoch === 'string' && typeof offset === 'number' ? { epoch, offset } : null;
  return { channel, t0: data.t0, seq: data.seq, position };
}

function parse(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function asPosition(v: unknown): Position | null {
  if (isRecord(v) && typeof v.epoch === 'string' && typeof v.offset === 'number') return { epoch: v.epoch, offset: v.offset };
  return null;
}

/** Pulse's `/ws` protocol; the bare ws peers speak the same subset. */
const native: DialectCodec = {
  subscribe(channel, since) {
    return JSON.stringify(since ? { op: 'subscribe', id: 1, channel, since } : { op: 'subscribe', id: 1, channel });
  },
  decode(text) {
    const msg = parse(text);
    if (!isRecord(msg)) return { kind: 'error', message: `undecodable frame: ${text.slice(0, 80)}` };
    switch (msg.type) {
      case 'welcome':
        return { kind: 'ready' };
      case 'reply': {
        if (msg.op !== 'subscribe') return { kind: 'reply', text };
        const result = isRecord(msg.result) ? msg.result : {};
        return { kind: 'subscribed', recovered: typeof result.recovered === 'boolean' ? result.recovered : null, position: asPosition(result.position) };
      }
      case 'events': {
        const out: BenchEvent[] = [];
        if (Array.isArray(msg.events))
          for (const e of msg.events) {
            if (!isRecord(e)) continue;
            const ev = toEvent(e.channel, isRecord(e.data) ? (e.data as EventData) : undefined, e.epoch, e.offset);
            if (ev) out.push(ev);
          }
        return { kind: 'events', events: out };
      }
      case 'error':
        return { kind: 'error', message: `${String(msg.code)}: ${String(msg.message)}` };
      default:
        return { kind: 'other' };
    }
  },
  control() {
    return null; // Pulse heartbeats are WebSocket pings, answered by `ws` itself.
  },
  pingRule: { mode: 'none', ping: '', pong: '' },
};

/**
 * Socket.IO spoken directly over engine.io v4 WebSocket frames, so that sinks stay cheap
 * (socket.io-client would decode every packet): `0` open → `40` connect → `42[...]` events,
 * `2`/`3` ping/pong, `43<id>[...]` acks.
 */
const socketio: DialectCodec = {
  subscribe(channel) {
    // `channel` for the bench's baseline peer; `contractId` for Pulse's seed-000 profile, which
    // maps it to `contract:<contractId>` (each ignores the other's field).
    const contractId = channel.startsWith('contract:') ? channel.slice('contract:'.length) : channel;
    return `421${JSON.stringify(['subscribe', { channel, contractId }])}`;
  },
  decode(text) {
    if (text === '2') return { kind: 'reply', text: '3' };
    if (text.startsWith('0')) return { kind: 'reply', text: '40' };
    if (text.startsWith('40')) return { kind: 'ready' };
    if (text.startsWith('43')) return { kind: 'subscribed', recovered: null, position: null };
    if (text.startsWith('44')) return { kind: 'error', message: text };
    if (text.startsWith('42')) {
      const msg = parse(text.slice(2));
      if (Array.isArray(msg) && msg[0] === 'event' && isRecord(msg[1])) {
        const e = msg[1];
        // Seed 000 events carry `contractId` instead of the channel.
        const channel = typeof e.channel === 'string' ? e.channel : typeof e.contractId === 'string' ? `contract:${e.contractId}` : undefined;
        const ev = toEvent(channel, isRecord(e.data) ? (e.data as EventData) : undefined, null, null);
        return { kind: 'events', events: ev ? [ev] : [] };
      }
    }
    return { kind: 'other' };
  },
  control(frame) {
    return frame.length === 1 && frame[0] === 0x32 ? '3' : null;
  },
  pingRule: { mode: 'exact', ping: '2', pong: '3' },
};

/** Pusher protocol 7 (Soketi). Event data is a JSON string inside the frame. */
const pusher: DialectCodec = {
  subscribe(channel) {
    return JSON.stringify({ event: 'pusher:subscribe', data: { channel } });
  },
  decode(text) {
    const msg = parse(text);
    if (!isRecord(msg)) return { kind: 'error', message: `undecodable frame: ${text.slice(0, 80)}` };
    switch (msg.event) {
      case 'pusher:connection_established':
        return { kind: 'ready' };
      case 'pusher_internal:subscription_succeeded':
        return { kind: 'subscribed', recovered: null, position: null };
      case 'pusher:ping':
        return { kind: 'reply', text: '{"event":"pusher:pong","data":{}}' };
      case 'pusher:error':
        return { kind: 'error', message: JSON.stringify(msg.data) };
      default: {
        if (typeof msg.data !== 'string') return { kind: 'other' };
        const data = parse(msg.data);
        const ev = toEvent(msg.channel, isRecord(data) ? (data as EventData) : undefined, null, null);
        return ev ? { kind: 'events', events: [ev] } : { kind: 'other' };
      }
    }
  },
  control(frame) {
    return frame.length < 64 && frame.includes('pusher:ping') ? '{"event":"pusher:pong","data":{}}' : null;
  },
  pingRule: { mode: 'contains', ping: 'pusher:ping', pong: '{"event":"pusher:pong","data":{}}' },
};

export const codecs: Record<Dialect, DialectCodec> = { native, socketio, pusher };
