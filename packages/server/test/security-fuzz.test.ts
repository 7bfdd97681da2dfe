/**
 * fast-check fuzzing of every inbound message type with valid and invalid credentials: native
 * ops (including in-band `auth`), connection tokens, Socket.IO events, the seed profiles'
 * messages, and HTTP ingest bodies. Each input gets a known code or a success, the connection
 * and the server survive, and a witness keeps receiving with nothing accepted lost.
 */
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import fc from 'fast-check';
import { ERROR_CODES } from '@pulse/protocol';
import { ApiKeys } from '../src/auth/keys.js';
import { startTestServer, SioCollector, WsCollector, http, tokenFor, waitFor, TEST_SECRET, type TestServer, type Json } from './support/index.js';
import { generateToken } from '../src/index.js';
import { openNative, call, Witness } from './security-helpers.js';

const codes = new Set<string>(ERROR_CODES);
let pulse: TestServer;
let witness: Witness;
let creds: string[];

beforeAll(async () => {
  pulse = await startTestServer({
    auth: 'jwt',
    env: { SUBSCRIBE_RATE_PER_MINUTE: '0', MESSAGES_PER_SECOND: '0', INGEST_RATE_PER_SECOND: '0', MAX_SUBSCRIPTIONS_PER_CLIENT: '10000', MAX_EVENT_BYTES: '4096' },
  });
  const keys = new ApiKeys(pulse.hub.store);
  const key = (await keys.create({ name: 'fuzz', operations: ['ingest', 'publish', 'subscribe', 'read'], channels: ['market:*', 'content'] })).key;
  const revoked = await keys.create({ name: 'gone', operations: ['ingest'], channels: ['*'] });
  await keys.revoke(revoked.record.id);
  const user = await tokenFor('fuzz-user', 'SPFUZZ', 'user');
  creds = [
    user,
    await tokenFor('fuzz-admin', null, 'admin'),
    await tokenFor('fuzz-dev', null, 'developer', { organizationId: 'org-f' }),
    key,
    revoked.key,
    user.slice(0, -2) + 'xx',
    await generateToken('late', null, 'user', { secret: TEST_SECRET, expiresIn: Math.floor(Date.now() / 1000) - 5 }),
    'pk_0123456789abcdef_' + 'A'.repeat(43),
    'garbage',
  ];
  witness = await Witness.start(pulse, 'market:fuzz-witness', await tokenFor('w', null, 'developer'));
});

afterAll(async () => {
  witness?.close();
  await pulse?.stop();
});

const cred = () => fc.integer({ min: 0, max: 8 }).map((i) => creds[i]);
const json = fc.jsonValue({ maxDepth: 4 });
const channel = fc.oneof(fc.constantFrom('market:a', 'market:*', 'user:SPFUZZ', 'user:SPOTHER', 'user:*', 'u*', 'content:c1', 'global:all', 'metrics:x', '', 'a'.repeat(250)), fc.string({ maxLength: 60 }), json);
const nativeMsg = fc.record(
  {
    op: fc.constantFrom('subscribe', 'unsubscribe', 'history', 'stats', 'publish', 'ping', 'auth', 'bogus'),
    id: fc.oneof(fc.integer(), fc.string({ maxLength: 20 }), json),
    channel,
    type: fc.oneof(fc.string({ maxLength: 120 }), json),
    types: fc.oneof(fc.array(fc.string({ maxLength: 20 }), { maxLength: 3 }), json),
    since: fc.oneof(fc.record({ epoch: fc.string({ maxLength: 10 }), offset: fc.integer() }), json),
    limit: fc.oneof(fc.integer({ min: -2, max: 2000 }), json),
    data: fc.oneof(fc.dictionary(fc.constantFrom('a', '__proto__', 'constructor', 'x'), json), json),
    token: fc.oneof(cred(), fc.string({ maxLength: 50 })),
    eventId: fc.string({ maxLength: 140 }),
  },
  { requiredKeys: ['op'] },
);

describe('fuzzing', () => {
  it('native /ws: any credential at connect is a welcome or a 4001/4009 close', async () => {
    await fc.assert(
      fc.asyncProperty(fc.oneof(cred(), fc.string({ maxLength: 300 })), async (t) => {
        const c = await WsCollector.open(`${pulse.wsUrl}/ws?token=${encodeURIComponent(t)}`);
        await (c.closeCode === null ? c.next((m) => m.type === 'welcome' || m.type === 'error') : Promise.resolve());
        if (c.ofType('welcome').length === 0) {
          const { code } = await c.closed();
          expect([4001, 4009]).toContain(code);
          expect(codes.has(c.ofType('error')[0]?.code as string)).toBe(true);
        }
        c.close();
      }),
      { numRuns: 40 },
    );
    await witness.check('native connect fuzz');
  });

  it('native /ws: every op with valid and invalid tokens gets one coded answer; the connection stays', async () => {
    const conns = await Promise.all([0, 1, 2, 3].map((i) => openNative(pulse, creds[i])));
    const sent = [0, 0, 0, 0];
    const isAnswer = (m: Json) => m.type === 'reply' || m.type === 'error';
    await fc.assert(
      fc.asyncProperty(fc.integer({ min: 0, max: 3 }), fc.oneof(nativeMsg.map((m) => JSON.stringify(m)), fc.string({ maxLength: 100 })), async (i, frame) => {
        const c = conns[i];
        const from = c.mark();
        c.send(frame);
        const pong = await call(c, { op: 'ping' });
        expect(pong.type).toBe('reply');
        // Ops run concurrently (a store read may answer after the ping), so count every answer
        // this connection ever got: exactly one per frame sent, never more.
        sent[i] += 2;
        await waitFor(() => c.all(isAnswer).length >= sent[i], 'one answer per frame');
        expect(c.all(isAnswer).length).toBe(sent[i]);
        for (const a of c.all((m) => m.type === 'error', from)) expect(codes.has(a.code as string), String(a.code)).toBe(true);
        expect(c.closeCode).toBeNull();
      }),
      { numRuns: 150 },
    );
    for (const c of conns) c.close();
    await witness.check('native op fuzz');
  });

  it('Socket.IO and seed profiles: any credential at connect is a connection or a coded refusal', async () => {
    await fc.assert(
      fc.asyncProperty(fc.oneof(cred(), fc.string({ maxLength: 200 })), fc.constantFrom('/analytics', '/api/websocket/analytics', '/ws/metrics'), async (t, path) => {
        const s = SioCollector.connect(pulse.url, { auth: { token: t }, transports: ['websocket'] });
        const r = await waitFor(() => s.records.find((x) => x.event === 'connect' || x.event === 'connect_error'), 'socket.io outcome');
        if (r.event === 'connect_error') expect(codes.has(((r.args[0] as { data?: Json }).data?.code as string) ?? ''), JSON.stringify(r.args[0])).toBe(true);
        s.close();
        const w = await WsCollector.open(`${pulse.wsUrl}${path}?token=${encodeURIComponent(t)}`);
        await waitFor(() => w.messages.length > 0 || w.closeCode !== null, 'profile greeting or close');
        const err = w.ofType('error')[0];
        if (err) {
          // Seed 002 carries the code in its envelope's payload.
          expect(codes.has((path === '/api/websocket/analytics' ? (err.payload as Json).code : err.code) as string)).toBe(true);
          // 4003: a valid credential that may not read metrics, on /ws/metrics.
          expect([4001, 4003, 4009]).toContain((await w.closed()).code);
        }
        w.close();
      }),
      { numRuns: 30 },
    );
    await witness.check('socket.io connect fuzz');
  });

  it('Socket.IO: every event with any payload is acked with success or a known code', async () => {
    const socks = await Promise.all(
      [0, 1, 3].map(async (i) => {
        const s = SioCollector.connect(pulse.url, { auth: { token: creds[i] }, transports: ['websocket'] });
        await s.connected();
        return s;
      }),
    );
    const payload = fc.oneof(
      json,
      fc.record({ contractId: fc.oneof(fc.string({ maxLength: 200 }), json), eventTypes: fc.oneof(fc.array(fc.string()), json), limit: fc.oneof(fc.integer(), json) }, { requiredKeys: [] }),
      fc.record({ room: fc.oneof(fc.constantFrom('user', 'market', 'global', 'admin'), fc.string({ maxLength: 50 })), id: fc.oneof(fc.string({ maxLength: 160 }), fc.integer(), json) }, { requiredKeys: [] }),
    );
    await fc.assert(
      fc.asyncProperty(fc.integer({ min: 0, max: 2 }), fc.constantFrom('subscribe', 'unsubscribe', 'getHistory', 'getStats', 'getRooms', 'ping'), payload, async (i, event, p) => {
        const s = socks[i];
        const ack = (await s.socket.timeout(5000).emitWithAck(event, p)) as unknown;
        if (ack && typeof ack === 'object' && !Array.isArray(ack) && (ack as Json).success === false) {
          expect(codes.has((ack as Json).code as string), JSON.stringify(ack)).toBe(true);
        }
        expect(s.socket.connected).toBe(true);
      }),
      { numRuns: 120 },
    );
    // Events nobody listens for, and raw engine.io garbage, do not take the socket down.
    socks[0].socket.emit('no-such-event', { x: 1 });
    expect(((await socks[0].socket.timeout(5000).emitWithAck('ping')) as Json).type).toBe('pong');
    for (const s of socks) s.close();
    await witness.check('socket.io fuzz');
  });

  it('seed profiles (/analytics, /api/websocket/analytics, /ws/metrics): any frame gets a coded answer or none, never a crash', async () => {
    const content = await WsCollector.open(`${pulse.wsUrl}/analytics?token=${creds[2]}`);
    const vow = await WsCollector.open(`${pulse.wsUrl}/api/websocket/analytics?token=${creds[0]}`);
    const kt = await WsCollector.open(`${pulse.wsUrl}/ws/metrics?token=${creds[1]}`);
    const frame = fc.oneof(
      fc.record(
        {
          type: fc.constantFrom('subscribe', 'unsubscribe', 'ping', 'other'),
          contentIds: fc.oneof(fc.array(fc.string({ maxLength: 140 }), { maxLength: 4 }), json),
          organizationId: fc.oneof(fc.constantFrom('org-f', 'org-x'), json),
          clientId: json,
          channel,
          payload: fc.oneof(json, fc.record({ channel })),
        },
        { requiredKeys: ['type'] },
      ).map((m) => JSON.stringify(m)),
      fc.string({ maxLength: 80 }),
      json.map((v) => JSON.stringify(v)),
    );
    await fc.assert(
      fc.asyncProperty(frame, async (f) => {
        for (const c of [content, vow, kt]) {
          const from = c.mark();
          c.send(f);
          c.send({ type: 'ping' });
          await c.next((m) => m.type === 'pong', { from });
          for (const m of c.all((x) => x.type === 'error', from)) {
            const code = (m.code ?? (m.payload as Json | undefined)?.code) as string;
            expect(codes.has(code), JSON.stringify(m)).toBe(true);
          }
          expect(c.closeCode).toBeNull();
        }
      }),
      { numRuns: 80 },
    );
    for (const c of [content, vow, kt]) c.close();
    await witness.check('seed profile fuzz');
  });

  it('HTTP ingest: any body with any credential is a coded answer; accepted events are stored', async () => {
    const event = fc.record(
      {
        channel,
        type: fc.oneof(fc.string({ maxLength: 120 }), json),
        id: fc.oneof(fc.string({ maxLength: 140 }), json),
        data: fc.oneof(fc.dictionary(fc.constantFrom('a', '__proto__', 'constructor'), json), json),
        ts: fc.oneof(fc.integer(), fc.string({ maxLength: 30 }), json),
        orgId: fc.oneof(fc.constantFrom('org-f', 'org-x'), json),
      },
      { requiredKeys: [] },
    );
    const body = fc.oneof(
      event.map((e) => JSON.stringify(e)),
      fc.array(event, { maxLength: 5 }).map((a) => JSON.stringify(a)),
      json.map((v) => JSON.stringify(v)),
      fc.string({ maxLength: 200 }),
    );
    const statuses = new Set([200, 400, 401, 403, 413, 415, 429, 503]);
    await fc.assert(
      fc.asyncProperty(body, fc.option(cred(), { nil: undefined }), fc.boolean(), async (b, t, asKey) => {
        const headers: Record<string, string> = { 'content-type': 'application/json' };
        if (t) headers[asKey ? 'x-api-key' : 'authorization'] = asKey ? t : `Bearer ${t}`;
        const r = await http<Json>('POST', `${pulse.url}/v1/events?wait=durable`, { body: b, headers });
        expect(statuses.has(r.status), `${r.status} ${r.text}`).toBe(true);
        if (Array.isArray(r.body.errors)) {
          // An ingest answer (200, or 400 when nothing was accepted): per-item codes.
          for (const e of r.body.errors as Json[]) expect(codes.has(e.code as string), r.text).toBe(true);
          for (const e of r.body.events as Array<{ channel: string; epoch: string; offset: number; id: string }>) {
            // Non-durable namespaces (metric snapshots) are delivered but never stored.
            if (!pulse.hub.policy(e.channel).durable) continue;
            const stored = await pulse.hub.store.readAfter(e.channel, e.epoch, e.offset - 1, 1);
            expect(stored[0]?.id).toBe(e.id);
          }
        } else {
          expect(codes.has(r.body.code as string), r.text).toBe(true);
        }
      }),
      { numRuns: 150 },
    );
    await witness.check('ingest fuzz');
  });
});
