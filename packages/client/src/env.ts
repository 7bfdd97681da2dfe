/**
 * The environment the client runs in, injectable so the same code runs in browsers, Node and
 * tests (fake timers, a `ws` WebSocket, an instrumented fetch).
 */
export interface WebSocketLike {
  readonly readyState: number;
  send(data: string): void;
  close(code?: number, reason?: string): void;
  onopen: ((ev: unknown) => void) | null;
  onmessage: ((ev: { data: unknown }) => void) | null;
  onclose: ((ev: { code: number; reason: string }) => void) | null;
  onerror: ((ev: unknown) => void) | null;
}
export type WebSocketCtor = new (url: string) => WebSocketLike;
export type FetchLike = typeof globalThis.fetch;

export interface Timers {
  setTimeout(fn: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
  now(): number;
}

/** Looks the globals up at call time, so vitest's fake timers (installed later) take effect. */
export const defaultTimers: Timers = {
  setTimeout: (fn, ms) => globalThis.setTimeout(fn, ms),
  clearTimeout: (h) => globalThis.clearTimeout(h as ReturnType<typeof setTimeout>),
  now: () => Date.now(),
};

export interface Env {
  WebSocket: WebSocketCtor | undefined;
  fetch: FetchLike | undefined;
  timers: Timers;
}
