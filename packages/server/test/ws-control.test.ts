/**
 * Notices the server sends on its own before closing a plain WebSocket — token expiry, slow
 * consumer, shutdown, a refused upgrade — arrive in each profile's own shape, with the same
 * close codes everywhere:
 *
 * - native `/ws`: `error{code, message}` / `closing{code: <close code>, reason}`;
 * - seed 001 `/analytics`: the document's `error{error, timestamp}` (plus `code`) for all of them;
 * - seed 002 `/api/websocket/analytics`: the document's envelope `{type, payload, timestamp}`
 *   with an ISO time: `error` for expiry / refusal, `disconnect` when the server ends it;
 * - seed 003 `/ws/metrics`: `error{code, message}` (its document has no notice of its own).
 */
import { afterEach, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { CLOSE_CODES } from '@pulse/protocol';
import { Cleanup, WsCollector, startTestServer, tokenFor, type Json, type TestServer } from './support/index.js';

const cleanup = new Cleanup();
afterEach(() => cleanup.run());

const ISO = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/;

type Profile = 'native' | 'content' | 'vowswap' | 'knowton';
const PATH: Record<Profile, string> = { native: '/ws', content: '/analytics', vowswap: '/api/websocket/analytics', knowton: '/ws/metrics' };
const GREETING: Record<Profile, string> = { native: 'welcome', content: 'connected', vowswap: 'connect', knowton: 'metrics' };

/** The notice a profile's client expects: `kind` error (expiry, refusal) or closing (server ends it). */
function expectNotice(p: Profile, m: Json | undefined, kind: 'error' | 'closing', code: string, close: number): void {
  switch (p) {
    case 'native':
      if (kind === 'closing') expect(m).toEqual({ type: 'closing', code: close, reason: code });
      else expect(m).toMatchObject({ type: 'error', code, message: expect.any(String) });
      return;
    case 'content':
      expect(m).toMatchObject({ type: 'error', error: expect.any(String), code, timestamp: expect.any(Number) });
      expect(Object.keys(m!).sort()).toEqual(['code', 'error', 'timestamp', 'type', ...(m!.retryAfter !== undefined ? ['retryAfter'] : [])].sort());
      return;
    case 'vowswap':
      expect(m).toMatchObject({ type: kind === 'closing' ? 'disconnect' : 'error', payload: { code, message: expect.any(String) } });
      expect(m!.timestamp).toMatch(ISO);
      expect(Object.keys(m!).sort()).toEqual(['payload', 'timestamp', 'type']);
      return;
    case 'knowton':
      expect(m).toMatchObject({ type: 'error', code, message: expect.any(String) });
      return;
  }
}

/** Messages that are none of the profile's normal traffic. */
function notices(p: Profile, c: WsCollector): Json[] {
  const normal = new Set([GREETING[p], 'events', 'reply', 'subscribed', 'subscribe', 'analytics_update', 'metrics', 'pong']);
  return c.all((m) => !normal.has(m.type as string));
}

async function open(s: TestServer, p: Profile, token?: string): Promise<WsCollector> {
  const c = cleanup.closable(await WsCollector.open(`${s.wsUrl}${PATH[p]}${token ? `?token=${token}` : ''}`));
  await c.nextOfType(GREETING[p]);
  return c;
}

describe('token expiry on a live connection, in each profile’s shape (close 4009)', () => {
  for (const p of ['native', 'content', 'vowswap'] as const) {
    it(p, async () => {
      const s = cleanup.server(await startTestServer({ auth: 'jwt' }));
      const c = await open(s, p, await tokenFor(`exp-${p}`, null, 'user', { expiresIn: '2s' }));
      expect((await c.closed({ timeoutMs: 6000 })).code).toBe(CLOSE_CODES.TOKEN_EXPIRED);
      const n = notices(p, c);
      expect(n).toHaveLength(1);
      expectNotice(p, n[0], 'error', 'TOKEN_EXPIRED', CLOSE_CODES.TOKEN_EXPIRED);
    });
  }
});

describe('a refused upgrade, in each profile’s shape (close 4001)', () => {
  for (const p of ['native', 'content', 'vowswap', 'knowton'] as const) {
    it(p, async () => {
      const s = cleanup.server(await startTestServer({ auth: 'jwt' }));
      const c = cleanup.closable(new WsCollector(new WebSocket(`${s.wsUrl}${PATH[p]}`)));
      expect((await c.closed()).code).toBe(CLOSE_CODES.UNAUTHORIZED);
      expect(c.messages).toHaveLength(1);
      expectNotice(p, c.messages[0], 'error', 'UNAUTHORIZED', CLOSE_CODES.UNAUTHORIZED);
    });
  }
});

describe('shutdown, in each profile’s shape (close 1012)', () => {
  it('native, 001, 002 and 003 each get their own notice', async () => {
    const s = cleanup.server(await startTestServer());
    const profiles = ['native', 'content', 'vowswap', 'knowton'] as const;
    const conns = await Promise.all(profiles.map((p) => open(s, p)));
    await s.stop();
    for (const [i, p] of profiles.entries()) {
      const c = conns[i];
      expect((await c.closed()).code, p).toBe(CLOSE_CODES.SERVICE_RESTART);
      const n = notices(p, c);
      expect(n, p).toHaveLength(1);
      expectNotice(p, n[0], 'closing', 'SERVER_SHUTDOWN', CLOSE_CODES.SERVICE_RESTART);
    }
  });
});

describe('slow consumer, in each profile’s shape (close 4008)', () => {
  // Each profile's subscribe, and an event its dialect carries with a large body (seed 001 sends
  // contentId, field, value and clientId only: the bulk rides in clientId).
  const setup: Record<'native' | 'content' | 'vowswap', { sub: Json; event: (blob: string) => Json; subscribed: string }> = {
    native: { sub: { op: 'subscribe', channel: 'market:flood', id: 1 }, event: (blob) => ({ channel: 'market:flood', type: 't', data: { blob } }), subscribed: 'reply' },
    content: { sub: { type: 'subscribe', contentIds: ['flood'] }, event: (blob) => ({ channel: 'content:flood', type: 'view', data: { clientId: blob } }), subscribed: 'subscribed' },
    vowswap: { sub: { type: 'subscribe', channel: 'analytics:flood' }, event: (blob) => ({ channel: 'analytics:flood', type: 'search', data: { blob } }), subscribed: 'subscribe' },
  };
  for (const p of ['native', 'content', 'vowswap'] as const) {
    it(p, async () => {
      const s = cleanup.server(await startTestServer({ env: { MAX_BUFFERED_BYTES: '65536', MAX_EVENT_BYTES: '20000', MESSAGES_PER_SECOND: '0' } }));
      const c = await open(s, p);
      await c.request(setup[p].sub, (m) => m.type === setup[p].subscribed);
      // Stop reading: the kernel buffers fill, then the server's buffered bytes grow.
      const sock = (c.ws as unknown as { _socket: { pause(): void; resume(): void } })._socket;
      sock.pause();
      const blob = 'x'.repeat(16_000);
      for (let round = 0; round < 400; round++) {
        await s.hub.ingest(
          Array.from({ length: 20 }, () => setup[p].event(blob)),
          { wait: 'durable' },
        );
        const text = await fetch(s.url + '/metrics').then((r) => r.text());
        if (/events_dropped_total\{reason="slow_consumer"\} [1-9]/.test(text)) break;
      }
      sock.resume();
      expect((await c.closed({ timeoutMs: 10_000 })).code).toBe(CLOSE_CODES.SLOW_CONSUMER);
      const n = notices(p, c);
      expect(n).toHaveLength(1);
      expectNotice(p, n[0], 'closing', 'SLOW_CONSUMER', CLOSE_CODES.SLOW_CONSUMER);
    }, 60_000);
  }
});
