/**
 * IPC messages between the orchestrator (run.ts) and its child processes (client workers and the
 * publisher). Every request carries `rid`; the child answers with the same `rid`.
 */

/** Client wire dialects the generator speaks. `native` is Pulse's `/ws` (and the bare ws peers). */
export type Dialect = 'native' | 'socketio' | 'pusher';

/**
 * sink: counts frames, bytes and events (by scanning for a marker, without decoding).
 * probe: decodes everything, records latency and per-channel sequence gaps.
 * idle: handshake only, never subscribes (memory per connection).
 */
export type ClientKind = 'sink' | 'probe' | 'idle';

export interface OpenRequest {
  cmd: 'open';
  rid: number;
  url: string;
  dialect: Dialect;
  kind: ClientKind;
  count: number;
  /** Client i subscribes to channels[i % channels.length]. */
  channels: string[];
  /** Connections being set up at once by this worker. */
  concurrency: number;
}

export interface ReconnectRequest {
  cmd: 'reconnect';
  rid: number;
  /** Per channel, the publisher's last sequence number when reconnection starts. */
  targets: Record<string, number>;
  timeoutMs: number;
}

export type WorkerRequest =
  | OpenRequest
  | ReconnectRequest
  | { cmd: 'handoff'; rid: number }
  | { cmd: 'reset'; rid: number }
  | { cmd: 'stats'; rid: number }
  | { cmd: 'drop'; rid: number }
  | { cmd: 'exit'; rid: number };

export interface OpenResult {
  opened: number;
  failed: number;
  ms: number;
  firstError: string | null;
}

export interface WorkerStats {
  frames: number;
  bytes: number;
  events: number;
  /** Probes only: events decoded with a latency sample. */
  samples: number;
  /** Compressed HdrHistogram (microseconds), probes only. */
  histogram: string | null;
  /** Probe/recovering clients: sequence numbers skipped (gaps) and repeated. */
  gaps: number;
  duplicates: number;
  /** Per client, the highest sequence seen on its channel (probe clients only). */
  lastSeq: Array<{ channel: string; seq: number }>;
  open: number;
  closedUnexpectedly: number;
  closeCodes: Record<string, number>;
  errors: number;
  rssBytes: number;
}

export interface ReconnectResult {
  /** Clients whose subscribe reply said `recovered: true`. */
  recovered: number;
  notRecovered: number;
  failed: number;
  /** Clients that reached their channel's target sequence before the timeout. */
  caughtUp: number;
  /** Time from the start of reconnection until the last client caught up. */
  ms: number;
  /** Connection attempts that failed and were retried (as a client with backoff would). */
  retries: number;
  firstError: string | null;
}

export interface PublishStart {
  cmd: 'start';
  rid: number;
  target: PublishTarget;
  /** Events per second, over all channels (round robin). */
  rate: number;
  channels: string[];
  /** Bytes of padding in each event's data, to model a realistic payload. */
  padBytes: number;
  /**
   * Requests in flight at once (default 4). Concurrent requests may be applied in either order,
   * so a scenario that checks per-channel sequence order uses 1.
   */
  maxInflight?: number;
}

export type PublishTarget =
  /** `POST <url>` with a JSON array of `{channel, type, data}` (Pulse and the bench peers). */
  | { kind: 'json-array'; url: string }
  /** Pusher HTTP API `POST /apps/:id/batch_events`, signed (Soketi). */
  | { kind: 'pusher'; baseUrl: string; appId: string; key: string; secret: string; maxBatch: number };

export type PublisherRequest = PublishStart | { cmd: 'stop'; rid: number } | { cmd: 'seqs'; rid: number } | { cmd: 'exit'; rid: number };

export interface PublishResult {
  /** Events handed to the server (accepted with a 2xx). */
  acked: number;
  /** Events the schedule asked for. */
  due: number;
  failed: number;
  firstError: string | null;
  ms: number;
  /** Last sequence number per channel (sequence starts at 1 for each channel). */
  seqs: Record<string, number>;
  /** Compressed HdrHistogram (microseconds) of ingest latency: oldest event of a request created → 2xx answer. */
  postHistogram: string | null;
  requests: number;
}

export type Reply<T> = { rid: number; ok: true; result: T } | { rid: number; ok: false; error: string };

/** Marker counted by sinks: every event's data carries `t0` first. */
export const EVENT_MARKER = '"t0":';
/** Pusher wraps data in a JSON string, so the quote is escaped there. */
export const PUSHER_EVENT_MARKER = '\\"t0\\":';

/** Sinks handed to the C reader: how many, how many stayed in Node, and why none went if so. */
export interface HandoffResult {
  /** The reader process (its CPU counts as the generator's), or -1. */
  pid: number;
  handedOff: number;
  kept: number;
  error: string | null;
}
