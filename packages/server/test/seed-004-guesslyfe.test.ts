/**
 * Seed 004 (GuessLyfe): Socket.IO with `auth.token`; auto-joined `user:<address>` and
 * `global:all`; `subscribe{room, id}` with ack `{success, room, message}`, `unsubscribe`,
 * `getRooms` and `ping` acks; events named by their type (`market:trade`, …) as
 * `{type, timestamp, data}`. Clients are the real `socket.io-client`, used as the document shows.
 * The last block covers the rest of the document (from today's audit): the user room named by the
 * token's wallet address claim, the `error` event a listener sees, the documented token refresh
 * after a token expires on a live socket, numeric ids, and 100 rooms per client once configured.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { io, type Socket } from 'socket.io-client';
import { SignJWT } from 'jose';
import { Cleanup, SioCollector, TEST_SECRET, postEvents, startTestServer, tokenFor, waitFor, type TestServer } from './support/index.js';

const ALICE = '0xA11CE00000000000000000000000000000000001';
const BOB = '0xB0B0000000000000000000000000000000000002';

type Envelope<T = Record<string, unknown>> = { type: string; timestamp: string; data: T };
type SubAck = { success: boolean; room?: string; message?: string; code?: string };

const cleanup = new Cleanup();
afterEach(() => cleanup.run());

async function server(env: Record<string, string> = {}): Promise<TestServer> {
  // The seed's gateway always verifies tokens: SKIP_AUTH off.
  return cleanup.server(await startTestServer({ env, auth: 'jwt' }));
}

/** The document's "Basic Connection" options (URL and token adapted); not yet connected. */
function open(s: TestServer, token: string): SioCollector {
  const socket: Socket = io(s.url, {
    auth: {
      token: token,
    },
    transports: ['websocket', 'polling'], // Try WebSocket first, fallback to polling
    reconnection: true,
    reconnectionAttempts: 5,
    reconnectionDelay: 1000,
    forceNew: true,
  });
  return cleanup.closable(new SioCollector(socket));
}

/** `open`, then wait for the connection and its `connected` message. */
async function connect(s: TestServer, token: string): Promise<SioCollector> {
  const c = open(s, token);
  await c.connected();
  await c.next('connected');
  return c;
}

function isIso(v: unknown): boolean {
  return typeof v === 'string' && !Number.isNaN(Date.parse(v)) && new Date(v).toISOString() === v;
}

function expectEnvelope(e: Envelope, type: string): void {
  expect(Object.keys(e).sort()).toEqual(['data', 'timestamp', 'type']);
  expect(e.type).toBe(type);
  expect(isIso(e.timestamp)).toBe(true);
}

const trade = {
  marketId: 'market123',
  tradeId: 'trade-1',
  trader: ALICE,
  direction: 'buy',
  outcome: 1,
  amount: '1000000000000000000',
  shares: '2000000000000000000',
  price: '500000000000000000',
  newYesPrice: '550000000000000000',
  newNoPrice: '450000000000000000',
  timestamp: '2025-01-16T10:00:00.000Z',
};

describe('seed 004 GuessLyfe over Socket.IO', () => {
  it('connects with auth.token; `connected` names the auto-joined user:<address> and global:all rooms', async () => {
    const s = await server();
    const c = await connect(s, await tokenFor('user-1', ALICE, 'user'));
    const hello = c.payloads<{ message: string; rooms: string[] }>('connected')[0];
    expect(typeof hello.message).toBe('string');
    expect(hello.message.length).toBeGreaterThan(0);
    expect([...hello.rooms].sort()).toEqual(['global:all', `user:${ALICE}`].sort());
  });

  it('subscribe acks `{success, room, message}`; room events arrive as `{type, timestamp, data}` under their name', async () => {
    const s = await server();
    const c = await connect(s, await tokenFor('user-1', ALICE, 'user'));
    const ack = await c.ack<SubAck>('subscribe', { room: 'market', id: 'market123' });
    expect(ack).toEqual({ success: true, room: 'market:market123', message: expect.any(String) });

    const received: Envelope<typeof trade>[] = [];
    // From the document's "Listening to Events".
    c.socket.on('market:trade', (event: Envelope<typeof trade>) => {
      const t = event.data;
      received.push({ ...event, data: t });
    });
    await postEvents(s.url, { channel: 'market:market123', type: 'market:trade', data: trade }, await tokenFor('svc', null, 'admin'));
    await waitFor(() => received.length === 1, 'market:trade');
    expectEnvelope(received[0], 'market:trade');
    expect(received[0].data).toEqual(trade);

    await s.hub.ingest([{ channel: 'market:market123', type: 'market:resolved', data: { marketId: 'market123', outcome: 1, reason: 'final score' } }], { wait: 'durable' });
    const resolved = await c.next<Envelope>('market:resolved');
    expectEnvelope(resolved, 'market:resolved');
    expect(resolved.data).toEqual({ marketId: 'market123', outcome: 1, reason: 'final score' });
  });

  it('subscribe without an ack (creator room, as written) still subscribes', async () => {
    const s = await server();
    const c = await connect(s, await tokenFor('user-1', ALICE, 'user'));
    c.socket.emit('subscribe', {
      room: 'creator',
      id: '0x1234...',
    });
    await waitFor(async () => (await c.ack<string[]>('getRooms')).includes('creator:0x1234...'), 'creator room joined');
    await s.hub.ingest([{ channel: 'creator:0x1234...', type: 'shares:trade', data: { creator: '0x1234...', shares: '10' } }], { wait: 'durable' });
    const e = await c.next<Envelope>('shares:trade');
    expectEnvelope(e, 'shares:trade');
    expect(e.data).toEqual({ creator: '0x1234...', shares: '10' });
  });

  it('getRooms acks the subscribed rooms; unsubscribe removes one and stops its events', async () => {
    const s = await server();
    const c = await connect(s, await tokenFor('user-1', ALICE, 'user'));
    await c.ack('subscribe', { room: 'market', id: 'market123' });
    await c.ack('subscribe', { room: 'market', id: 'm2' });
    // The document's callback form.
    const rooms = await new Promise<string[]>((resolve) => c.socket.emit('getRooms', (r: string[]) => resolve(r)));
    expect([...rooms].sort()).toEqual(['global:all', 'market:m2', 'market:market123', `user:${ALICE}`].sort());

    c.socket.emit('unsubscribe', {
      room: 'market',
      id: 'market123',
    });
    // Packets of one socket are handled in order: this answer comes after the unsubscribe.
    expect([...(await c.ack<string[]>('getRooms'))].sort()).toEqual(['global:all', 'market:m2', `user:${ALICE}`].sort());

    await s.hub.ingest(
      [
        { channel: 'market:market123', type: 'market:trade', data: { n: 1 } },
        { channel: 'market:m2', type: 'market:trade', data: { n: 2 } },
      ],
      { wait: 'durable' },
    );
    await c.next<Envelope>('market:trade', (e) => e.data.n === 2);
    expect(c.payloads<Envelope>('market:trade').map((e) => e.data.n)).toEqual([2]);

    // With an ack, unsubscribing from a room not held says NOT_SUBSCRIBED.
    const nack = await c.ack<SubAck>('unsubscribe', { room: 'market', id: 'market123' });
    expect(nack).toMatchObject({ success: false, code: 'NOT_SUBSCRIBED', message: expect.any(String) });
    const yes = await c.ack<SubAck>('unsubscribe', { room: 'market', id: 'm2' });
    expect(yes).toMatchObject({ success: true, room: 'market:m2' });
  });

  it('ping acks a pong', async () => {
    const s = await server();
    const c = await connect(s, await tokenFor('user-1', ALICE, 'user'));
    // The document's "Test ping".
    const response = await new Promise<{ type: string; timestamp: string }>((resolve) => c.socket.emit('ping', resolve));
    expect(response.type).toBe('pong');
    expect(isIso(response.timestamp)).toBe(true);
  });

  it('user:<address> events reach only that user; global:all events reach everyone, without subscribing', async () => {
    const s = await server();
    const alice = await connect(s, await tokenFor('user-1', ALICE, 'user'));
    const bob = await connect(s, await tokenFor('user-2', BOB, 'user'));
    const notification = {
      notificationId: 'n-1',
      userId: 'user-1',
      type: 'trade_executed',
      title: 'Trade executed',
      message: 'You bought 2 YES shares',
      read: false,
      timestamp: '2025-01-16T10:00:01.000Z',
    };
    await postEvents(
      s.url,
      [
        { channel: `user:${ALICE}`, type: 'notification', data: notification },
        { channel: `user:${ALICE}`, type: 'dividend:available', data: { amount: '5' } },
        { channel: `user:${BOB}`, type: 'shares:unlocked', data: { shares: '3' } },
        { channel: 'global:all', type: 'market:created', data: { marketId: 'm9', question: 'Will it rain?' } },
        { channel: 'global:all', type: 'system:announcement', data: { message: 'Hello' } },
      ],
      await tokenFor('svc', null, 'admin'),
    );
    await alice.next('system:announcement');
    await bob.next('system:announcement');

    const n = alice.payloads<Envelope>('notification');
    expect(n).toHaveLength(1);
    expectEnvelope(n[0], 'notification');
    expect(n[0].data).toEqual(notification);
    expect(alice.payloads<Envelope>('dividend:available').map((e) => e.data)).toEqual([{ amount: '5' }]);
    expect(alice.payloads('shares:unlocked')).toEqual([]);
    expect(bob.payloads('notification')).toEqual([]);
    expect(bob.payloads('dividend:available')).toEqual([]);
    expect(bob.payloads<Envelope>('shares:unlocked').map((e) => e.data)).toEqual([{ shares: '3' }]);
    for (const c of [alice, bob]) {
      const created = c.payloads<Envelope>('market:created');
      expect(created).toHaveLength(1);
      expectEnvelope(created[0], 'market:created');
      expect(created[0].data).toEqual({ marketId: 'm9', question: 'Will it rain?' });
    }
  });

  it("every event of the document's table arrives under its name from each of its rooms", async () => {
    const s = await server();
    const c = await connect(s, await tokenFor('user-1', ALICE, 'user'));
    expect((await c.ack<SubAck>('subscribe', { room: 'market', id: 'm1' })).success).toBe(true);
    expect((await c.ack<SubAck>('subscribe', { room: 'creator', id: 'c1' })).success).toBe(true);
    const user = `user:${ALICE}`;
    // | Event | Rooms | from the document.
    const table: Array<[string, string[]]> = [
      ['market:created', ['global:all']],
      ['market:trade', ['market:m1', user]],
      ['market:resolved', ['market:m1', 'global:all']],
      ['shares:trade', ['creator:c1', user]],
      ['shares:unlocked', ['creator:c1', user]],
      ['dividend:available', [user]],
      ['notification', [user]],
      ['system:maintenance', ['global:all']],
      ['system:announcement', ['global:all']],
    ];
    const items = table.flatMap(([type, rooms]) => rooms.map((room) => ({ channel: room, type, data: { room } })));
    await s.hub.ingest(items, { wait: 'durable' });
    for (const [type, rooms] of table) {
      const got = await c.count<Envelope<{ room: string }>>(type, rooms.length);
      for (const e of got) expectEnvelope(e, type);
      expect(got.map((e) => e.data.room).sort()).toEqual([...rooms].sort());
    }
  });

  it("another user's room cannot be subscribed to", async () => {
    const s = await server();
    const c = await connect(s, await tokenFor('user-1', ALICE, 'user'));
    const ack = await c.ack<SubAck>('subscribe', { room: 'user', id: BOB });
    expect(ack).toMatchObject({ success: false, code: 'FORBIDDEN', message: expect.any(String) });
    expect(await c.ack<string[]>('getRooms')).not.toContain(`user:${BOB}`);
  });

  it('past MAX_SUBSCRIPTIONS_PER_CLIENT the ack says MAX_SUBSCRIPTIONS (auto-joined rooms do not count)', async () => {
    const s = await server({ MAX_SUBSCRIPTIONS_PER_CLIENT: '2' });
    const c = await connect(s, await tokenFor('user-1', ALICE, 'user'));
    expect((await c.ack<SubAck>('subscribe', { room: 'market', id: 'a' })).success).toBe(true);
    expect((await c.ack<SubAck>('subscribe', { room: 'market', id: 'b' })).success).toBe(true);
    const nack = await c.ack<SubAck>('subscribe', { room: 'market', id: 'c' });
    expect(nack).toMatchObject({ success: false, code: 'MAX_SUBSCRIPTIONS', message: expect.any(String) });
    expect([...(await c.ack<string[]>('getRooms'))].sort()).toEqual(['global:all', 'market:a', 'market:b', `user:${ALICE}`].sort());
    // Subscribing again to an auto-joined room is not a new subscription.
    expect((await c.ack<SubAck>('subscribe', { room: 'global', id: 'all' })).success).toBe(true);
    expect((await c.ack<SubAck>('subscribe', { room: 'user', id: ALICE })).success).toBe(true);
    expect((await c.ack<SubAck>('unsubscribe', { room: 'market', id: 'a' })).success).toBe(true);
    expect((await c.ack<SubAck>('subscribe', { room: 'market', id: 'c' })).success).toBe(true);
  });

  it('a bad subscribe is acked with a coded failure', async () => {
    const s = await server();
    const c = await connect(s, await tokenFor('user-1', ALICE, 'user'));
    for (const bad of [{ room: 'market' }, { room: 'bad room', id: 'x' }, 'market123', null]) {
      const nack = await c.ack<SubAck>('subscribe', bad);
      expect(nack).toMatchObject({ success: false, code: 'INVALID_MESSAGE' });
    }
  });

  it('authentication failures are `connect_error` ("Authentication failed"): no token, bad signature, expired', async () => {
    const s = await server();
    const cases: Array<[string | undefined, RegExp, string]> = [
      [undefined, /Authentication failed/, 'UNAUTHORIZED'],
      ['not-a-jwt', /Authentication failed/, 'UNAUTHORIZED'],
      [await tokenFor('user-1', ALICE, 'user', { secret: 'some-other-secret' }), /Authentication failed/, 'UNAUTHORIZED'],
      [await tokenFor('user-1', ALICE, 'user', { expiresIn: Math.floor(Date.now() / 1000) - 60 }), /Token expired/, 'TOKEN_EXPIRED'],
    ];
    for (const [token, message, code] of cases) {
      const c = cleanup.closable(SioCollector.connect(s.url, token === undefined ? {} : { auth: { token } }));
      const err = await c.next<Error & { data?: { code: string } }>('connect_error');
      expect(err.message).toMatch(message);
      expect(err.data?.code).toBe(code);
      expect(c.payloads('connect')).toEqual([]);
    }
  });

  it('with SKIP_AUTH (development) a presented token is still verified and its rooms joined', async () => {
    const s = cleanup.server(await startTestServer({ auth: 'dev' }));
    const c = await connect(s, await tokenFor('user-1', ALICE, 'user'));
    expect(c.payloads<{ rooms: string[] }>('connected')[0].rooms).toContain(`user:${ALICE}`);
    const anon = cleanup.closable(SioCollector.connect(s.url));
    await anon.connected();
    expect((await anon.next<{ rooms: string[] }>('connected')).rooms).toEqual(['global:all']);
    const forged = cleanup.closable(SioCollector.connect(s.url, { auth: { token: await tokenFor('user-1', ALICE, 'user', { secret: 'forged' }) } }));
    expect((await forged.next<Error>('connect_error')).message).toMatch(/Authentication failed/);
  });

  it('a token in the Authorization header works too', async () => {
    const s = await server();
    const token = await tokenFor('user-1', ALICE, 'user');
    const c = cleanup.closable(SioCollector.connect(s.url, { transports: ['websocket'], extraHeaders: { Authorization: `Bearer ${token}` } }));
    await c.connected();
    const hello = await c.next<{ rooms: string[] }>('connected');
    expect(hello.rooms).toContain(`user:${ALICE}`);
  });

  it('token refresh: `socket.auth = {token}; socket.disconnect().connect()` reconnects as the new user', async () => {
    const s = await server();
    const c = await connect(s, await tokenFor('user-1', ALICE, 'user'));
    const from = c.mark();
    // The document's refreshConnection(newToken).
    const socket = c.socket;
    socket.auth = { token: await tokenFor('user-2', BOB, 'user') };
    socket.disconnect().connect();
    const hello = await c.next<{ rooms: string[] }>('connected', () => true, { from });
    expect([...hello.rooms].sort()).toEqual(['global:all', `user:${BOB}`].sort());
    await s.hub.ingest([{ channel: `user:${BOB}`, type: 'notification', data: { title: 'hi bob' } }], { wait: 'durable' });
    expect((await c.next<Envelope>('notification', () => true, { from })).data).toEqual({ title: 'hi bob' });
  });

  it("the React example's default transports (long-polling first) work, emitting subscribe before connect", async () => {
    const s = await server();
    const token = await tokenFor('user-1', ALICE, 'user');
    // The "Complete React Example": io(url, { auth: { token } }) then emit at once.
    const socket = io(s.url, {
      auth: { token },
      forceNew: true,
    });
    const c = cleanup.closable(new SioCollector(socket));
    socket.emit('subscribe', {
      room: 'market',
      id: 'market123',
    });
    const trades: Array<typeof trade> = [];
    socket.on('market:trade', (event: Envelope<typeof trade>) => {
      trades.push(event.data);
    });
    await c.connected();
    await waitFor(async () => (await c.ack<string[]>('getRooms')).includes('market:market123'), 'market room joined');
    await s.hub.ingest([{ channel: 'market:market123', type: 'market:trade', data: trade }], { wait: 'durable' });
    await waitFor(() => trades.length === 1, 'trade over the default transport');
    expect(trades[0]).toEqual(trade);
    // The cleanup of the example.
    socket.emit('unsubscribe', {
      room: 'market',
      id: 'market123',
    });
    expect(await c.ack<string[]>('getRooms')).not.toContain('market:market123');
  });

  it('announces the documented heartbeat: 25 s interval, 60 s ping timeout', async () => {
    const s = await server();
    // The engine.io handshake (first polling request) carries the heartbeat settings.
    const r = await fetch(`${s.url}/socket.io/?EIO=4&transport=polling`);
    const body = await r.text();
    expect(body.startsWith('0')).toBe(true);
    const open = JSON.parse(body.slice(1)) as { pingInterval: number; pingTimeout: number };
    expect(open).toMatchObject({ pingInterval: 25_000, pingTimeout: 60_000 });
  });

  it('with polling only (the documented fallback) events still arrive', async () => {
    const s = await server();
    const c = cleanup.closable(SioCollector.connect(s.url, { auth: { token: await tokenFor('user-1', ALICE, 'user') }, transports: ['polling'] }));
    await c.connected();
    expect((await c.ack<SubAck>('subscribe', { room: 'market', id: 'market123' })).success).toBe(true);
    await s.hub.ingest([{ channel: 'market:market123', type: 'market:trade', data: trade }], { wait: 'durable' });
    expect((await c.next<Envelope>('market:trade')).data).toEqual(trade);
  });
});

/** A token as an identity service would sign it: `sub` plus a `walletAddress` claim. */
function walletToken(sub: string, walletAddress: string, expiresIn: string | number = '1h'): Promise<string> {
  return new SignJWT({ walletAddress }).setProtectedHeader({ alg: 'HS256', typ: 'JWT' }).setSubject(sub).setIssuedAt().setExpirationTime(expiresIn).sign(new TextEncoder().encode(TEST_SECRET));
}

describe('seed 004 GuessLyfe: the rest of the document', () => {
  it('a token carrying `walletAddress` auto-joins `user:<walletAddress>` and receives its notifications', async () => {
    const s = await server();
    const c = open(s, await walletToken('user-7', ALICE));
    await c.connected();
    const hello = await c.next<{ message: string; rooms: string[] }>('connected');
    expect([...hello.rooms].sort()).toEqual(['global:all', `user:${ALICE}`].sort());
    await postEvents(s.url, { channel: `user:${ALICE}`, type: 'notification', data: { notificationId: 'n1', userId: 'user-7', type: 'custom', title: 't', message: 'm', read: false, timestamp: '2025-01-16T10:00:00.000Z' } }, await tokenFor('svc', null, 'admin'));
    const n = await c.next<Envelope>('notification');
    expect(n).toMatchObject({ type: 'notification', data: { notificationId: 'n1', message: 'm' } });
  });

  it("a failed request without an ack reaches the document's `socket.on('error')` as `{message, code}`", async () => {
    const s = await server();
    const c = open(s, await tokenFor('user-1', ALICE, 'user'));
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
    const c = open(s, await walletToken('user-1', ALICE, Math.floor(Date.now() / 1000) + 4));
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
    socket.disconnect().open();
    const hello = await c.next<{ rooms: string[] }>('connected', () => true, { from });
    expect([...hello.rooms].sort()).toEqual(['global:all', `user:${ALICE}`].sort());
    await waitFor(async () => (await c.ack<string[]>('getRooms')).includes('market:market123'), 'market room joined again');
    await s.hub.ingest([{ channel: 'market:market123', type: 'market:trade', data: { tradeId: 't-new-token' } }], { wait: 'durable' });
    expect((await c.next<Envelope>('market:trade', () => true, { from })).data).toEqual({ tradeId: 't-new-token' });
  }, 30_000);

  it('requests take effect in the order sent: `getRooms` right after `subscribe` lists the room, `unsubscribe` right after removes it', async () => {
    const s = await server();
    const c = open(s, await tokenFor('user-1', ALICE, 'user'));
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
    const c = open(s, await tokenFor('user-1', ALICE, 'user'));
    await c.connected();
    expect(await c.ack<SubAck>('subscribe', { room: 'market', id: 123 })).toEqual({ success: true, room: 'market:123', message: expect.any(String) });
    await s.hub.ingest([{ channel: 'market:123', type: 'market:trade', data: { tradeId: 'n' } }], { wait: 'durable' });
    expect((await c.next<Envelope>('market:trade')).data).toEqual({ tradeId: 'n' });
  });

  it('with MAX_SUBSCRIPTIONS_PER_CLIENT=100 (the recommended rooms per client) a client holds 100 rooms besides its own two', async () => {
    const s = await server({ MAX_SUBSCRIPTIONS_PER_CLIENT: '100', SUBSCRIBE_RATE_PER_MINUTE: '200' });
    const c = open(s, await tokenFor('user-1', ALICE, 'user'));
    await c.connected();
    const acks = await Promise.all(Array.from({ length: 100 }, (_, i) => c.ack<SubAck>('subscribe', { room: i % 2 ? 'market' : 'creator', id: `r${i}` })));
    expect(acks.every((a) => a.success)).toBe(true);
    expect(await c.ack<SubAck>('subscribe', { room: 'market', id: 'one-too-many' })).toMatchObject({ success: false, code: 'MAX_SUBSCRIPTIONS' });
    expect(await c.ack<string[]>('getRooms')).toHaveLength(102);
  });
});
