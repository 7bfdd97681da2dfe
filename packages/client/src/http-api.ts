import { PulseError } from '@pulse/protocol/errors';
import type { PulseEvent, EventInput, IngestResult } from '@pulse/protocol/types';
import type { ChannelStats } from '@pulse/protocol';
import type { FetchLike } from './env.js';
import { authHeaders, fetchJson, isErrorCode } from './http.js';

export interface PublishResult {
  id: string;
  channel: string;
  offset: number;
  epoch: string;
  duplicate: boolean;
}

/**
 * The HTTP side of the API, used when no WebSocket is open (fallback transports, or before
 * connecting) and for what only HTTP serves (metric snapshots).
 */
export class HttpApi {
  constructor(
    private readonly baseUrl: () => string,
    private readonly token: () => Promise<string | undefined>,
    private readonly fetchFn: FetchLike | undefined,
  ) {}

  async get<T>(path: string, init: RequestInit = {}): Promise<T> {
    if (!this.fetchFn) throw new PulseError('UNAVAILABLE', 'No fetch implementation: pass options.fetch');
    const headers = authHeaders(await this.token(), (init.headers as Record<string, string> | undefined) ?? {});
    return fetchJson<T>(this.fetchFn, `${this.baseUrl()}${path}`, { ...init, headers });
  }

  async history(channel: string, limit: number): Promise<PulseEvent[]> {
    const p = await this.get<{ events: PulseEvent[] }>(`/v1/channels/${encodeURIComponent(channel)}/events?limit=${limit}`);
    return p.events;
  }

  /** `GET /v1/channels?prefix=`: channels (that this token may read) with their log positions. */
  async channels(prefix: string, limit = 1000): Promise<Array<{ channel: string; epoch: string; offset: number }>> {
    const r = await this.get<{ channels: Array<{ channel: string; epoch: string; offset: number }> }>(
      `/v1/channels?prefix=${encodeURIComponent(prefix)}&limit=${limit}`,
    );
    return r.channels;
  }

  stats(channel: string): Promise<ChannelStats> {
    return this.get<ChannelStats>(`/v1/channels/${encodeURIComponent(channel)}/stats`);
  }

  async publish(channel: string, type: string, data: Record<string, unknown>, id: string | undefined): Promise<PublishResult> {
    const input: EventInput = { channel, type, data, ...(id ? { id } : {}) };
    const res = await this.get<IngestResult>('/v1/events', {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(input),
    });
    const err = res.errors[0];
    if (err) {
      throw new PulseError(isErrorCode(err.code) ? err.code : 'INVALID_EVENT', err.message);
    }
    const ok = res.events[0];
    if (ok) return { id: ok.id, channel: ok.channel, offset: ok.offset, epoch: ok.epoch, duplicate: false };
    // A duplicate id: the ingest answer does not repeat the stored position.
    const dup = res.duplicateItems[0];
    return { id: dup?.id ?? id ?? '', channel, offset: -1, epoch: '', duplicate: true };
  }

  query<T>(path: string, query: Record<string, string | number | undefined>): Promise<T> {
    const q = new URLSearchParams();
    for (const [k, v] of Object.entries(query)) if (v !== undefined) q.set(k, String(v));
    return this.get<T>(`${path}?${q.toString()}`);
  }

  metrics<T>(set: string, scope?: string | null): Promise<T> {
    const q = scope ? `?scope=${encodeURIComponent(scope)}` : '';
    return this.get<T>(`/v1/metrics/${encodeURIComponent(set)}${q}`);
  }
}
