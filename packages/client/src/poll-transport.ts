import { PulseError } from '@pulse/protocol/errors';
import { isPattern } from '@pulse/protocol/channel';
import type { PulseEvent, Position } from '@pulse/protocol/types';
import type { Env, FetchLike } from './env.js';
import { authHeaders, fetchJson } from './http.js';
import { isEvent } from './ws-transport.js';
import { closeCodeForError, type SubscribeOutcome, type SubscribeSpec, type Transport, type TransportHandlers } from './transport.js';

interface PollReply {
  channel: string;
  events: PulseEvent[];
  position: Position | null;
  recovered: boolean;
}

export interface PollingTransportOptions {
  baseUrl: string;
  token: string | undefined;
  env: Env;
  handlers: TransportHandlers;
  /** Long-poll hold time the server is asked for, ms. */
  waitMs: number;
  /** Page size per poll. */
  limit: number;
  /**
   * A poll without an answer within its hold time plus this is given up (a half-open connection
   * would hang it for ever) and the transport closes, so the client reconnects.
   */
  requestTimeoutMs: number;
}

/**
 * Long-polling `GET /v1/channels/:channel/events`, one loop per channel: the last resort when
 * neither WebSocket nor a streaming response gets through (some proxies buffer SSE). Exact
 * channels only: the endpoint addresses one channel's log.
 */
export class PollingTransport implements Transport {
  readonly kind = 'polling' as const;
  private readonly loops = new Map<string, AbortController>();
  private opened = false;
  private closed = false;

  constructor(private readonly o: PollingTransportOptions) {
    void this.probe();
  }

  /** Opens on a successful `/health`, so the state machine can say "connected" before any subscription. */
  private async probe(): Promise<void> {
    const fetchFn = this.o.env.fetch;
    try {
      if (!fetchFn) throw new PulseError('UNAVAILABLE', 'No fetch implementation: pass options.fetch');
      const req = new AbortController();
      const timer = this.o.env.timers.setTimeout(() => req.abort(), this.o.requestTimeoutMs);
      let res: Response;
      try {
        res = await fetchFn(`${this.o.baseUrl}/health`, { headers: authHeaders(this.o.token), signal: req.signal });
      } catch (err) {
        throw req.signal.aborted ? new PulseError('UNAVAILABLE', `health check got no answer within ${this.o.requestTimeoutMs} ms`) : err;
      } finally {
        this.o.env.timers.clearTimeout(timer);
      }
      await res.body?.cancel();
      if (!res.ok) throw new PulseError('UNAVAILABLE', `health check answered ${res.status}`);
      if (this.closed) return;
      this.opened = true;
      this.o.handlers.onOpen({});
    } catch (err) {
      this.fail(err);
    }
  }

  subscribe(spec: SubscribeSpec): Promise<SubscribeOutcome> {
    if (this.closed) return Promise.reject(new PulseError('UNAVAILABLE', 'Connection closed'));
    if (isPattern(spec.target)) {
      return Promise.reject(new PulseError('INVALID_CHANNEL', `Polling cannot follow pattern ${spec.target}; it needs WebSocket or SSE`));
    }
    this.loops.get(spec.target)?.abort();
    const abort = new AbortController();
    this.loops.set(spec.target, abort);
    return new Promise<SubscribeOutcome>((resolve, reject) => {
      void this.loop(spec, abort, resolve, reject);
    });
  }

  async unsubscribe(target: string): Promise<void> {
    this.loops.get(target)?.abort();
    this.loops.delete(target);
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    for (const a of this.loops.values()) a.abort();
    this.loops.clear();
  }

  private url(channel: string, since: Position | undefined, wait: number): string {
    const q = new URLSearchParams({ limit: String(this.o.limit), wait: String(wait) });
    if (since) {
      q.set('epoch', since.epoch);
      q.set('since', String(since.offset));
    }
    return `${this.o.baseUrl}/v1/channels/${encodeURIComponent(channel)}/events?${q.toString()}`;
  }

  private async loop(
    spec: SubscribeSpec,
    abort: AbortController,
    resolve: (o: SubscribeOutcome) => void,
    reject: (e: unknown) => void,
  ): Promise<void> {
    const fetchFn = this.o.env.fetch;
    if (!fetchFn) return reject(new PulseError('UNAVAILABLE', 'No fetch implementation'));
    let first = true;
    let since = spec.since as Position | undefined;
    while (!abort.signal.aborted && !this.closed) {
      try {
        // A fresh subscription without a position asks only for the head (no backlog).
        const wait = first ? 0 : this.o.waitMs;
        const reply = await this.poll(fetchFn, this.url(spec.target, since, wait), abort.signal, wait);
        if (abort.signal.aborted || this.closed) return;
        if (first) {
          first = false;
          const outcome: SubscribeOutcome = {};
          if (since) outcome.recovered = reply.recovered;
          if (reply.position) outcome.position = reply.position;
          resolve(outcome);
          if (!since) {
            // Head only: skip the backlog the endpoint returned.
            since = reply.position ?? undefined;
            continue;
          }
        }
        const events = Array.isArray(reply.events) ? reply.events.filter(isEvent) : [];
        const last = events[events.length - 1];
        if (last) {
          this.o.handlers.onEvents(events);
          // Resume after the last event returned, not the head: a page may stop short of it.
          since = { epoch: last.epoch, offset: last.offset };
        } else if (reply.position && (!since || reply.position.epoch !== since.epoch)) {
          since = reply.position;
        }
      } catch (err) {
        if (abort.signal.aborted || this.closed) return;
        if (err instanceof PulseError && err.status >= 400 && err.status < 500 && err.code !== 'UNAUTHORIZED' && err.code !== 'TOKEN_EXPIRED') {
          // This channel is refused (FORBIDDEN, NOT_FOUND…): stop its loop, keep the others.
          this.loops.delete(spec.target);
          if (first) reject(err);
          else this.o.handlers.onError(err.code, err.message);
          return;
        }
        if (first) reject(err);
        this.fail(err);
        return;
      }
    }
  }

  /** One long-poll, aborted with the loop or after `wait` + `requestTimeoutMs` without an answer. */
  private async poll(fetchFn: FetchLike, url: string, loop: AbortSignal, wait: number): Promise<PollReply> {
    const req = new AbortController();
    const onAbort = () => req.abort();
    loop.addEventListener('abort', onAbort);
    let timedOut = false;
    const timers = this.o.env.timers;
    const timer = timers.setTimeout(() => {
      timedOut = true;
      req.abort();
    }, wait + this.o.requestTimeoutMs);
    try {
      return await fetchJson<PollReply>(fetchFn, url, { headers: authHeaders(this.o.token), signal: req.signal });
    } catch (err) {
      if (timedOut) throw new PulseError('UNAVAILABLE', `Long-poll got no answer within ${wait + this.o.requestTimeoutMs} ms`);
      throw err;
    } finally {
      timers.clearTimeout(timer);
      loop.removeEventListener('abort', onAbort);
    }
  }

  private fail(err: unknown): void {
    if (this.closed) return;
    this.close();
    const code = err instanceof PulseError ? err.code : undefined;
    this.o.handlers.onClose({
      code: closeCodeForError(code),
      reason: err instanceof Error ? err.message : String(err),
      ...(code ? { errorCode: code } : {}),
      wasOpen: this.opened,
    });
  }
}
