import { afterEach } from 'vitest';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import WebSocket from 'ws';
import { startPulse, type PulseServer } from '@pulse/server';
import { PulseClient, type PulseClientOptions } from '../src/client.js';
import type { WebSocketCtor } from '../src/env.js';

export function tempDir(): { dir: string; remove(): void } {
  const dir = mkdtempSync(join(tmpdir(), 'pulse-client-'));
  return { dir, remove: () => rmSync(dir, { recursive: true, force: true }) };
}

export function devServer(dataDir: string, extra: Record<string, string> = {}): Promise<PulseServer> {
  return startPulse({ env: { NODE_ENV: 'development', SKIP_AUTH: 'true', DATA_DIR: dataDir, LOG_LEVEL: 'silent', ...extra }, port: 0 });
}

/** Polls `cond` until it holds (no bare sleeps: the wait ends as soon as the condition does). */
export async function until(cond: () => boolean, what: string, timeoutMs = 15_000): Promise<void> {
  const start = Date.now();
  while (!cond()) {
    if (Date.now() - start > timeoutMs) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

export const seq = (from: number, to: number) => Array.from({ length: to - from + 1 }, (_, i) => from + i);

/** The `ws` package's WebSocket, typed as the client's injectable constructor. */
export const WS = WebSocket as unknown as WebSocketCtor;

/** `to - from + 1` events `{n}` of `type` on `channel`, durably (throws unless all were accepted). */
export async function ingestN(server: PulseServer, channel: string, from: number, to: number, type = 'trade'): Promise<void> {
  const r = await server.hub.ingest(seq(from, to).map((n) => ({ channel, type, data: { n } })), { wait: 'durable' });
  if (r.accepted !== to - from + 1) throw new Error(`ingest accepted ${r.accepted} of ${to - from + 1}`);
}

/**
 * A client whose WebSocket is refused (an unknown path: the server answers the upgrade with 404,
 * as a blocking proxy would) until `allow()`; it probes for the WebSocket every 100 ms.
 */
export function blockedClient(server: PulseServer, opts: Partial<PulseClientOptions> = {}): { client: PulseClient; allow(): void } {
  let refuse = true;
  const client = new PulseClient({
    url: server.url,
    wsUrl: () => (refuse ? `${server.wsUrl}/blocked` : `${server.wsUrl}/ws`),
    WebSocket: WS,
    upgradeProbeMs: 100,
    backoff: { minDelay: 20, maxDelay: 100 },
    ...opts,
  });
  return { client, allow: () => (refuse = false) };
}

/**
 * Publish with `publish(n)` for n = from+1, from+2, … every ~5 ms until the client is on the
 * WebSocket (and at least `min` times); returns the last n published.
 */
export async function publishUntilWebSocket(client: PulseClient, from: number, publish: (n: number) => Promise<void>, min = 0): Promise<number> {
  let n = from;
  while (client.transportKind !== 'websocket' || n - from < min) {
    n++;
    await publish(n);
    await new Promise((r) => setTimeout(r, 5));
  }
  return n;
}

export type Cleanups = Array<() => Promise<void> | void>;

/** A list of cleanups run last-first after each test of the file (call once, at top level). */
export function cleanupsAfterEach(): Cleanups {
  const cleanups: Cleanups = [];
  afterEach(async () => {
    while (cleanups.length) await cleanups.pop()!();
  });
  return cleanups;
}

/** A real development server on a fresh data dir, both removed by `cleanups`. */
export async function testServer(cleanups: Cleanups, env?: Record<string, string>): Promise<PulseServer> {
  const tmp = tempDir();
  cleanups.push(() => tmp.remove());
  const server = await devServer(tmp.dir, env);
  cleanups.push(() => server.close());
  return server;
}
