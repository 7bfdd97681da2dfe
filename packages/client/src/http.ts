import { PulseError, ERRORS, type ErrorCode } from '@pulse/protocol/errors';
import type { Position } from '@pulse/protocol/types';
import type { FetchLike } from './env.js';

/** Builds `Authorization` headers; the token is resolved per call so a refreshed one is used. */
export function authHeaders(token: string | undefined, extra: Record<string, string> = {}): Record<string, string> {
  return token ? { ...extra, authorization: `Bearer ${token}` } : extra;
}

/** Is `v` one of the protocol's error codes (a code from the wire may be anything)? */
export function isErrorCode(v: unknown): v is ErrorCode {
  return typeof v === 'string' && Object.prototype.hasOwnProperty.call(ERRORS, v);
}

/**
 * Turns a non-2xx response into a `PulseError` with the server's code. Accepts both
 * `{code,message}` and `{error:{code,message}}` bodies; falls back to the HTTP status.
 */
export async function errorFromResponse(res: Response): Promise<PulseError> {
  let body: unknown;
  try {
    body = await res.json();
  } catch {
    body = undefined;
  }
  const obj = (body && typeof body === 'object' ? body : {}) as Record<string, unknown>;
  const inner = (obj.error && typeof obj.error === 'object' ? obj.error : obj) as Record<string, unknown>;
  const code =
    (isErrorCode(inner.code) ? inner.code : undefined) ??
    (res.status === 401 ? 'UNAUTHORIZED' : res.status === 403 ? 'FORBIDDEN' : res.status === 404 ? 'NOT_FOUND' : res.status === 429 ? 'RATE_LIMITED' : res.status >= 500 ? 'UNAVAILABLE' : 'INVALID_REQUEST');
  const message = typeof inner.message === 'string' ? inner.message : `HTTP ${res.status}`;
  return new PulseError(code, message);
}

/** GET/POST JSON with the client's fetch; network failures become `UNAVAILABLE`. */
export async function fetchJson<T>(fetchFn: FetchLike, url: string, init: RequestInit): Promise<T> {
  let res: Response;
  try {
    res = await fetchFn(url, init);
  } catch (err) {
    if (err instanceof Error && err.name === 'AbortError') throw err;
    throw new PulseError('UNAVAILABLE', `Request to ${url} failed: ${err instanceof Error ? err.message : String(err)}`);
  }
  if (!res.ok) throw await errorFromResponse(res);
  return (await res.json()) as T;
}

/** `ws://host:port` / `wss://` from an http(s) base URL. */
export function toWsUrl(httpUrl: string): string {
  return httpUrl.replace(/^http(s?):\/\//i, (_m, s: string) => `ws${s}://`);
}

export function trimSlash(url: string): string {
  return url.endsWith('/') ? url.slice(0, -1) : url;
}

/** SSE `since` item: `<channel>@<epoch>:<offset>`. */
export function formatSince(channel: string, pos: Position): string {
  return `${channel}@${pos.epoch}:${pos.offset}`;
}
