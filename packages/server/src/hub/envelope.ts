import type { PulseEvent } from '@pulse/protocol';

/**
 * An accepted event as it travels the hot path: the event, its data serialised once, and a
 * slot per wire dialect for its encoding, filled on first use and shared by every subscriber.
 */
export interface Envelope {
  event: PulseEvent;
  dataJson: string;
  acceptedAt: number;
  /** Namespace of the channel, computed once. */
  ns: string;
  /** Node-local acceptance counter; lets a session skip an event it already queued. */
  stamp: number;
  durable: boolean;
  /** The id was supplied by the producer (and so is checked for duplicates by the store). */
  clientId: boolean;
  /**
   * Set for events from `Hub.ingest` (its `source` label, for the ingested counter); such an
   * event with a client id holds that id in the hub's in-flight set until its commit ends.
   */
  source?: string;
  /** The store refused it at commit (its id was stored already): not delivered, kept or counted. */
  dropped?: boolean;
  /** Encodings by dialect id; '' means "this dialect does not carry this event". */
  enc: Array<string | undefined>;
  /** Complete WebSocket frames by dialect, for dialects that send one frame per event. */
  bufs?: Array<Buffer | undefined>;
  /** Socket.IO packets with their prebuilt WebSocket frames, by dialect; null: not carried. */
  sio?: Array<SioWire | null | undefined>;
}

export interface SioWire {
  packet: string;
  opts: { wsPreEncodedFrame: Buffer[] };
}

/** Dialect ids index `Envelope.enc`. */
export const Dialect = {
  NATIVE: 0,
  SSE: 1,
  SIO_CONTRACT: 2,
  SIO_ROOM: 3,
  CONTENT: 4,
  VOWSWAP: 5,
} as const;
export type DialectId = (typeof Dialect)[keyof typeof Dialect];

/** The native JSON of an event, built around the data JSON that was serialised at ingest. */
export function encodeEventJson(env: Envelope): string {
  const e = env.event;
  let s =
    '{"id":' + JSON.stringify(e.id) +
    ',"channel":' + JSON.stringify(e.channel) +
    ',"type":' + JSON.stringify(e.type) +
    ',"ts":' + e.ts +
    ',"offset":' + e.offset +
    ',"epoch":' + JSON.stringify(e.epoch);
  if (e.userId !== undefined) s += ',"userId":' + JSON.stringify(e.userId);
  if (e.orgId !== undefined) s += ',"orgId":' + JSON.stringify(e.orgId);
  if (e.txId !== undefined) s += ',"txId":' + JSON.stringify(e.txId);
  if (e.blockHeight !== undefined) s += ',"blockHeight":' + e.blockHeight;
  return s + ',"data":' + env.dataJson + '}';
}

export function nativeJson(env: Envelope): string {
  let s = env.enc[Dialect.NATIVE];
  if (s === undefined) s = env.enc[Dialect.NATIVE] = encodeEventJson(env);
  return s;
}
