import { PulseError, type ErrorCode } from '@pulse/protocol/errors';
import type { Position } from '@pulse/protocol/types';
import { isEvent } from './ws-transport.js';
import type { Env } from './env.js';
import { authHeaders, errorFromResponse, formatSince, isErrorCode } from './http.js';
import { SseParser, type SseMessage } from './sse-parser.js';
import { closeCodeForError, type SubscribeOutcome, type SubscribeSpec, type Transport, type TransportHandlers } from './transport.js';

interface Waiter {
  resolve(o: SubscribeOutcome): void;
  reject(e: unknown): void;
  timer: unknown;
}

/** A pattern's share of the stream URL for its `since` (URL-encoded it grows by about a fifth). */
const SSE_SINCE_BUDGET_BYTES = 6 * 1024;

function sinceKeys(s: SubscribeSpec['since']): string {
  if (!s) return '';
  if (typeof (s as Position).offset === 'number') return '.';
  return Object.keys(s).sort().join(',');
}

export interface SseTransportOptions {
  baseUrl: string;
  token: string | undefined;
  env: Env;
  handlers: TransportHandlers;
  requestTimeoutMs: number;
  /** Give the stream up after this long without any data or heartbeat (half-open TCP); 0: never. */
  idleTimeoutMs: number;
  /** Current resume point of a target, read when the stream is reopened. */
  sinceOf(target: string, maxBytes?: number): SubscribeSpec['since'];
  initial: SubscribeSpec[];
}

/**
 * Server-Sent Events over `fetch` at `GET /v1/stream`. One stream carries every subscription;
 * adding or removing one reopens the stream with each target's current position as `since`
 * (the client's dedupe drops the overlap), batched to one reopen per microtask.
 */
export class SseTransport implements Transport {
  readonly kind = 'sse' as const;
  private readonly specs = new Map<string, SubscribeSpec>();
  private readonly waiters = new Map<string, Waiter[]>();
  /** Outcomes received on the current stream, for subscribe() calls that come after them. */
  private outcomes = new Map<string, SubscribeOutcome>();
  private abort: AbortController | undefined;
  private generation = 0;
  private reopenQueued = false;
  private opened = false;
  private closed = false;
  parseErrors = 0;

  constructor(private readonly o: SseTransportOptions) {
    for (const s of o.initial) this.specs.set(s.target, s);
    this.open();
  }

  subscribe(spec: SubscribeSpec): Promise<SubscribeOutcome> {
    if (this.closed) return Promise.reject(new PulseError('UNAVAILABLE', 'Connection closed'));
    const prev = this.specs.get(spec.target);
    // The open stream serves this spec unless the filter changed or the resume point names
    // channels the stream was not opened with (a pattern's newly discovered channels).
    const same = prev && (prev.types ?? []).join(',') === (spec.types ?? []).join(',') && sinceKeys(prev.since) === sinceKeys(spec.since);
    this.specs.set(spec.target, spec);
    const done = same ? this.outcomes.get(spec.target) : undefined;
    if (done) return Promise.resolve(done);
    const p = new Promise<SubscribeOutcome>((resolve, reject) => {
      const timer = this.o.env.timers.setTimeout(() => {
        this.waiters.set(spec.target, (this.waiters.get(spec.target) ?? []).filter((w) => w.timer !== timer));
        reject(new PulseError('UNAVAILABLE', `SSE subscribe to ${spec.target} timed out`));
      }, this.o.requestTimeoutMs);
      const list = this.waiters.get(spec.target) ?? [];
      list.push({ resolve, reject, timer });
      this.waiters.set(spec.target, list);
    });
    if (!same) this.queueReopen();
    return p;
  }

  async unsubscribe(target: string): Promise<void> {
    if (!this.specs.delete(target)) return;
    this.queueReopen();
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.abort?.abort();
    this.rejectAll(new PulseError('UNAVAILABLE', 'Connection closed'));
  }

  private rejectAll(err: PulseError): void {
    for (const list of this.waiters.values()) {
      for (const w of list) {
        this.o.env.timers.clearTimeout(w.timer);
        w.reject(err);
      }
    }
    this.waiters.clear();
  }

  private queueReopen(): void {
    if (this.reopenQueued) return;
    this.reopenQueued = true;
    queueMicrotask(() => {
      this.reopenQueued = false;
      if (!this.closed) this.open();
    });
  }

  private url(): string {
    const q = new URLSearchParams();
    const since: string[] = [];
    let anyUnfiltered = false;
    const types = new Set<string>();
    for (const spec of this.specs.values()) {
      q.append('channel', spec.target);
      if (spec.types) for (const t of spec.types) types.add(t);
      else anyUnfiltered = true;
      // The whole request line must stay under the server's header limit (16 KiB in Node).
      const s = this.o.sinceOf(spec.target, SSE_SINCE_BUDGET_BYTES) ?? spec.since;
      if (s && typeof s.offset === 'number' && typeof s.epoch === 'string') since.push(formatSince(spec.target, s as Position));
      else if (s) for (const [ch, pos] of Object.entries(s as Record<string, Position>)) since.push(formatSince(ch, pos));
    }
    // One type filter per stream: the union, unless some subscription wants everything. The
    // client filters per subscription anyway.
    if (!anyUnfiltered && types.size > 0) q.set('types', [...types].join(','));
    if (since.length > 0) q.set('since', since.join(','));
    return `${this.o.baseUrl}/v1/stream?${q.toString()}`;
  }

  private open(): void {
    const fetchFn = this.o.env.fetch;
    if (!fetchFn) {
      this.fail({ code: 1006, reason: 'No fetch implementation: pass options.fetch', wasOpen: false });
      return;
    }
    this.abort?.abort();
    this.outcomes = new Map();
    const gen = ++this.generation;
    const abort = new AbortController();
    this.abort = abort;
    const url = this.specs.size > 0 ? this.url() : `${this.o.baseUrl}/health`;
    void this.run(fetchFn, url, abort, gen);
  }

  private async run(fetchFn: NonNullable<Env['fetch']>, url: string, abort: AbortController, gen: number): Promise<void> {
    const live = () => gen === this.generation && !this.closed;
    try {
      const res = await fetchFn(url, {
        headers: authHeaders(this.o.token, { accept: 'text/event-stream' }),
        signal: abort.signal,
      });
      if (!live()) return;
      if (!res.ok) {
        const err = await errorFromResponse(res);
        this.fail({ code: closeCodeForError(err.code), reason: err.message, errorCode: err.code, wasOpen: this.opened });
        return;
      }
      if (!this.opened) {
        this.opened = true;
        this.o.handlers.onOpen({});
      }
      if (this.specs.size === 0 || !res.body) {
        // The /health probe (no subscriptions yet): drain it, nothing to stream.
        await res.body?.cancel();
        return;
      }
      const parser = new SseParser((m) => {
        if (live()) this.onMessage(m);
      });
      const reader = res.body.pipeThrough(new TextDecoderStream()).getReader();
      // The server writes a heartbeat comment every HEARTBEAT_MS: silence means a dead peer.
      const timers = this.o.env.timers;
      let lastData = timers.now();
      let watchdog: unknown;
      const arm = (delay: number): void => {
        watchdog = timers.setTimeout(() => {
          if (!live()) return;
          const quiet = timers.now() - lastData;
          if (quiet < this.o.idleTimeoutMs) return arm(this.o.idleTimeoutMs - quiet);
          abort.abort();
          this.fail({ code: 4000, reason: `no data or heartbeat on the event stream for ${this.o.idleTimeoutMs} ms`, wasOpen: true });
        }, delay);
      };
      if (this.o.idleTimeoutMs > 0) arm(this.o.idleTimeoutMs);
      try {
        for (;;) {
          const { value, done } = await reader.read();
          if (!live()) {
            await reader.cancel().catch(() => {});
            return;
          }
          if (done) break;
          lastData = timers.now();
          parser.push(value);
        }
      } finally {
        timers.clearTimeout(watchdog);
      }
      this.fail({ code: 1006, reason: 'event stream ended', wasOpen: true });
    } catch (err) {
      if (!live()) return;
      this.fail({ code: 1006, reason: err instanceof Error ? err.message : String(err), wasOpen: this.opened });
    }
  }

  private onMessage(m: SseMessage): void {
    let payload: unknown;
    try {
      payload = JSON.parse(m.data);
    } catch {
      this.parseErrors++;
      this.o.handlers.onError('BAD_JSON', `SSE ${m.event} message is not JSON`);
      return;
    }
    const obj = (payload && typeof payload === 'object' ? payload : {}) as Record<string, unknown>;
    if (m.event === 'event') {
      if (isEvent(payload)) this.o.handlers.onEvents([payload]);
      else {
        this.parseErrors++;
        this.o.handlers.onError('INVALID_MESSAGE', 'SSE event without channel, epoch or offset');
      }
    } else if (m.event === 'subscribed') {
      const target = typeof obj.channel === 'string' ? obj.channel : '';
      const outcome: SubscribeOutcome = {};
      if (typeof obj.recovered === 'boolean') outcome.recovered = obj.recovered;
      if (obj.position && typeof obj.position === 'object') outcome.position = obj.position as Position;
      this.outcomes.set(target, outcome);
      const list = this.waiters.get(target) ?? [];
      this.waiters.delete(target);
      for (const w of list) {
        this.o.env.timers.clearTimeout(w.timer);
        w.resolve(outcome);
      }
    } else if (m.event === 'error') {
      // A code this client does not know (a newer server) is reported as INTERNAL, as on the other transports.
      const code: ErrorCode = isErrorCode(obj.code) ? obj.code : 'INTERNAL';
      const message = typeof obj.message === 'string' ? obj.message : code;
      if (code === 'TOKEN_EXPIRED' || code === 'UNAUTHORIZED' || code === 'SERVER_SHUTDOWN') {
        this.abort?.abort();
        this.fail({ code: closeCodeForError(code), reason: message, errorCode: code, wasOpen: true });
      } else if (typeof obj.channel === 'string' && this.waiters.has(obj.channel)) {
        // A per-subscription refusal (FORBIDDEN, INVALID_CHANNEL, MAX_SUBSCRIPTIONS): fail that one only.
        const list = this.waiters.get(obj.channel) ?? [];
        this.waiters.delete(obj.channel);
        this.specs.delete(obj.channel);
        for (const w of list) {
          this.o.env.timers.clearTimeout(w.timer);
          w.reject(new PulseError(code, message));
        }
      } else {
        this.o.handlers.onError(code, message);
      }
    }
  }

  private fail(info: Parameters<TransportHandlers['onClose']>[0]): void {
    if (this.closed) return;
    this.closed = true;
    this.rejectAll(new PulseError('UNAVAILABLE', info.reason));
    this.o.handlers.onClose(info);
  }
}
