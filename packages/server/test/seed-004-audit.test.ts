/**
 * Seed 004 (GuessLyfe) promises not covered by seed-004-guesslyfe.test.ts, with the real
 * `socket.io-client` used as the document shows: the user room named by the token's wallet
 * address claim, the `error` event a listener sees, the documented token refresh after a token
 * expires on a live socket, numeric ids, and the recommended 100 rooms per client once configured.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { io, type Socket } from 'socket.io-client';
import { SignJWT } from 'jose';
import { Cleanup, SioCollector, TEST_SECRET, postEvents, startTestServer, tokenFor, waitFor, type TestServer } from './support/index.js';

const ALICE = '0xA11CE00000000000000000000000000000000001';

type Envelope<T = Record<string, unknown>> = { type: string; timestamp: string; data: T };
type SubAck = { success: boolean; room?: string; message?: string; code?: string };

const cleanup = new Cleanup();
afterEach(() => cleanup.run());

async function server(env: Record<string, string> = {}): Promise<TestServer> {
  return cleanup.server(await startTestServer({ env, auth: 'jwt' }));
}

/** The document's "Basic Connection" options. */
function connect(s: TestServer, token: string): SioCollector {
  const socket: Socket = io(s.url, {
    auth: {
      token: token,
    },
    transports: ['websocket', 'polling'],
    reconnection: true,
    reconnectionAttempts: 5,
    reconnectionDelay: 1000,
    forceNew: true,
  });
  return cleanup.closable(new SioCollector(socket));
}

/** A token as an identity service would sign it: `sub` plus a `walletAddress` claim. */
function walletToken(sub: string, walletAddress: string, expiresIn: string | number = '1h'): Promise<string> {
  return new SignJWT({ walletAddress }).setProtectedHeader({ alg: 'HS256', typ: 'JWT' }).setSubject(sub).setIssuedAt().setExpirationTime(expiresIn).sign(new TextEncoder().encode(TEST_SECRET));
}

describe('seed 004 GuessLyfe: the rest of the document', () => {
  it('a token carrying `walletAddress` auto-joins `user:<walletAddress>` and receives its notifications', async () => {
    const s = await server();
    const c = connect(s, await walletToken('user-7', ALICE));
    await c.connected();
    const hello = await c.next<{ message: string; rooms: string[] }>('connected');
    expect([...hello.rooms].sort()).toEqual(['global:all', `user:${ALICE}`].sort());
    await postEvents(s.url, { channel: `user:${ALICE}`, type: 'notification', data: { notificationId: 'n1', userId: 'user-7', type: 'custom', title: 't', message: 'm', read: false, timestamp: '2025-01-16T10:00:00.000Z' } }, await tokenFor('svc', null, 'admin'));
    const n = await c.next<Envelope>('notification');
    expect(n).toMatchObject({ type: 'notification', data: { notificationId: 'n1', message: 'm' } });
  });

  it("a failed request without an ack reaches the document's `socket.on('error')` as `{message, code}`", async () => {
    const s = await server();
    const c = connect(s, await tokenFor('user-1', ALICE, 'user'));
    await c.connected();
    const errors: unknown[] = [];
    c.socket.on('error', (error: unknown) => errors.push(error));
    c.socket.emit('subscribe', { room: 'user', id: '0xB0B0000000000000000000000000000000000002' });
    c.socket.emit('subscribe', { room: 'market' });
    c.socket.emit('unsubscribe', { room: 'market', id: 'never-joined' });
    await waitFor(() => errors.length === 3, 'three errors');
    // Checks that wait for nothing are answered first: compare by code, not by order.
    const byCode = (e: unknown) => (e as { code: string }).code;
    expect([...errors].sort((a, b) => byCode(a).localeCompare(byCode(b)))).toEqual([
      { message: expect.any(String), code: 'FORBIDDEN' },
      { message: expect.any(String), code: 'INVALID_MESSAGE' },
      { message: expect.any(String), code: 'NOT_SUBSCRIBED' },
    ]);
    expect(c.socket.connected).toBe(true);
  });

  it('token expiry on a live socket, then the documented refreshConnection(newToken): rooms come back', async () => {
    const s = await server();
    const c = connect(s, await walletToken('user-1', ALICE, Math.floor(Date.now() / 1000) + 4));
    const socket = c.socket;
    socket.on('connect', () => {
      socket.emit('subscribe', { room: 'market', id: 'market123' });
    });
    await c.connected();
    await waitFor(async () => (await c.ack<string[]>('getRooms')).includes('market:market123'), 'market room joined');
    const err = await c.next<{ code: string; message: string }>('error', (e) => e.code === 'TOKEN_EXPIRED', { timeoutMs: 10_000 });
    expect(typeof err.message).toBe('string');
    // The application notices and reconnects with a new token, as the document's refreshConnection.
    const from = c.mark();
    socket.auth = { token: await walletToken('user-1', ALICE) };
    socket.disconnect().connect();
    const hello = await c.next<{ rooms: string[] }>('connected', () => true, { from });
    expect([...hello.rooms].sort()).toEqual(['global:all', `user:${ALICE}`].sort());
    await waitFor(async () => (await c.ack<string[]>('getRooms')).includes('market:market123'), 'market room joined again');
    await s.hub.ingest([{ channel: 'market:market123', type: 'market:trade', data: { tradeId: 't-new-token' } }], { wait: 'durable' });
    expect((await c.next<Envelope>('market:trade', () => true, { from })).data).toEqual({ tradeId: 't-new-token' });
  }, 30_000);

  it('requests take effect in the order sent: `getRooms` right after `subscribe` lists the room, `unsubscribe` right after removes it', async () => {
    const s = await server();
    const c = connect(s, await tokenFor('user-1', ALICE, 'user'));
    await c.connected();
    // The document's snippets back to back: subscribe (no ack), then "Get current subscriptions".
    c.socket.emit('subscribe', { room: 'market', id: 'market123' });
    const rooms = await new Promise<string[]>((resolve) => c.socket.emit('getRooms', (r: string[]) => resolve(r)));
    expect(rooms).toContain('market:market123');
    // The React example's cleanup right after its subscribe (a component unmounted at once).
    c.socket.emit('subscribe', { room: 'market', id: 'm2' });
    c.socket.emit('unsubscribe', { room: 'market', id: 'm2' });
    expect(await c.ack<string[]>('getRooms')).not.toContain('market:m2');
    await s.hub.ingest([{ channel: 'market:m2', type: 'market:trade', data: { n: 2 } }, { channel: 'market:market123', type: 'market:trade', data: { n: 1 } }], { wait: 'durable' });
    await c.next<Envelope>('market:trade', (e) => e.data.n === 1);
    expect(c.payloads<Envelope>('market:trade').map((e) => e.data.n)).toEqual([1]);
    expect(c.payloads('error')).toEqual([]);
  });

  it('a numeric id names the same room as its string form', async () => {
    const s = await server();
    const c = connect(s, await tokenFor('user-1', ALICE, 'user'));
    await c.connected();
    expect(await c.ack<SubAck>('subscribe', { room: 'market', id: 123 })).toEqual({ success: true, room: 'market:123', message: expect.any(String) });
    await s.hub.ingest([{ channel: 'market:123', type: 'market:trade', data: { tradeId: 'n' } }], { wait: 'durable' });
    expect((await c.next<Envelope>('market:trade')).data).toEqual({ tradeId: 'n' });
  });

  it('with MAX_SUBSCRIPTIONS_PER_CLIENT=100 (the recommended rooms per client) a client holds 100 rooms besides its own two', async () => {
    const s = await server({ MAX_SUBSCRIPTIONS_PER_CLIENT: '100', SUBSCRIBE_RATE_PER_MINUTE: '200' });
    const c = connect(s, await tokenFor('user-1', ALICE, 'user'));
    await c.connected();
    const acks = await Promise.all(Array.from({ length: 100 }, (_, i) => c.ack<SubAck>('subscribe', { room: i % 2 ? 'market' : 'creator', id: `r${i}` })));
    expect(acks.every((a) => a.success)).toBe(true);
    expect(await c.ack<SubAck>('subscribe', { room: 'market', id: 'one-too-many' })).toMatchObject({ success: false, code: 'MAX_SUBSCRIPTIONS' });
    expect(await c.ack<string[]>('getRooms')).toHaveLength(102);
  });
});
