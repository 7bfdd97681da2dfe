/**
 * Property tests for the Socket.IO wire of seeds 000 (AdStack) and 004 (GuessLyfe), stricter than
 * the Socket.IO property of seed-fuzz.test.ts:
 * - without an ack, every request gets exactly one answer of its own kind (`subscribed`,
 *   `history`, `stats`, `rooms`, `pong`, or seed 000's `error{message, code}` with a registered
 *   code and no other keys but `retryAfter`); `unsubscribe` at most one; unknown events none;
 * - with an ack, the ack has the documented shape of its request or `{success: false, message, code}`;
 * - payloads include binary attachments, several arguments and none;
 * - raw frames on the Socket.IO WebSocket: a well-formed event packet never costs the connection;
 *   malformed framing may (the library closes that connection), never the server;
 * - nothing is ever answered with INTERNAL.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import fc from 'fast-check';
import WebSocket from 'ws';
import { ERROR_CODES } from '@pulse/protocol';
import { SioCollector, http, startTestServer, tokenFor, waitFor, type Json, type TestServer } from './support/index.js';

const codes = new Set<string>(ERROR_CODES);
const jsonValue = fc.jsonValue({ maxDepth: 3 });
const ALICE = '0xA11CE00000000000000000000000000000000001';

const requestNames = ['subscribe', 'unsubscribe', 'getHistory', 'getStats', 'getRooms', 'ping'] as const;
/** What a request without an ack is answered with, and how many answers it gets. */
const answersOf: Record<string, { names: string[]; min: number }> = {
  subscribe: { names: ['subscribed', 'error'], min: 1 },
  unsubscribe: { names: ['unsubscribed', 'error'], min: 0 },
  getHistory: { names: ['history', 'error'], min: 1 },
  getStats: { names: ['stats', 'error'], min: 1 },
  getRooms: { names: ['rooms'], min: 1 },
  ping: { names: ['pong'], min: 1 },
};

const structured = fc.record(
  {
    contractId: fc.oneof(fc.constantFrom('ST1PQHQKV0RJXZFY1DGX8MNSNYVE3VGZJSRTPGZGM.campaigns', 'a.b', ''), fc.string({ maxLength: 200 }), jsonValue),
    eventTypes: fc.oneof(fc.array(fc.oneof(fc.constantFrom('campaign_created', 'bid_placed'), fc.string({ maxLength: 110 })), { maxLength: 4 }), jsonValue),
    limit: fc.oneof(fc.integer({ min: -10, max: 1000 }), fc.double(), jsonValue),
    room: fc.oneof(fc.constantFrom('market', 'creator', 'user', 'global', 'contract'), fc.string({ maxLength: 50 }), jsonValue),
    id: fc.oneof(fc.constantFrom('market123', 'all', '0x1234...', ALICE), fc.string({ maxLength: 160 }), fc.integer(), jsonValue),
  },
  { requiredKeys: [] },
);
const arg = fc.oneof(structured, jsonValue, fc.uint8Array({ maxLength: 64 }).map((b) => Buffer.from(b)));
const args = fc.oneof(arg.map((a) => [a]), fc.array(arg, { maxLength: 3 }));

let s: TestServer;
beforeAll(async () => {
  s = await startTestServer({ env: { MAX_SUBSCRIPTIONS_PER_CLIENT: '5', MESSAGES_PER_SECOND: '100000', MESSAGE_BURST: '100000', SUBSCRIBE_RATE_PER_MINUTE: '100000' } });
});
afterAll(() => s.stop());

function expectError(e: unknown): void {
  expect(typeof e).toBe('object');
  const err = e as Json;
  expect(codes.has(err.code as string), JSON.stringify(e)).toBe(true);
  expect(typeof err.message).toBe('string');
  for (const k of Object.keys(err)) expect(['message', 'code', 'retryAfter']).toContain(k);
}

function expectAck(name: string, a: unknown): void {
  if (name === 'getRooms') {
    expect(Array.isArray(a) && a.every((r) => typeof r === 'string')).toBe(true);
    return;
  }
  if (name === 'ping') {
    expect(a).toEqual({ type: 'pong', timestamp: expect.any(String) });
    return;
  }
  expect(typeof a === 'object' && a !== null && !Array.isArray(a)).toBe(true);
  const o = a as Json;
  if (o.success === false) {
    expect(codes.has(o.code as string), JSON.stringify(o)).toBe(true);
    expect(typeof o.message).toBe('string');
    return;
  }
  if (name === 'subscribe' || name === 'unsubscribe') expect(o.success).toBe(true);
  if (name === 'subscribe') expect(typeof o.room).toBe('string');
  if (name === 'getHistory') {
    expect(Array.isArray(o.events)).toBe(true);
    expect(o.count).toBe((o.events as unknown[]).length);
    expect(o.limit as number).toBeLessThanOrEqual(100);
    expect(typeof o.contractId).toBe('string');
  }
  if (name === 'getStats') {
    expect(typeof o.contractId).toBe('string');
    expect(o.stats).toMatchObject({ totalEvents: expect.any(Number), eventsByType: expect.any(Object), lastUpdated: expect.any(Number) });
  }
}

async function internalErrors(): Promise<number> {
  const m = await http('GET', `${s.url}/metrics`);
  const line = m.text.split('\n').find((l) => l.startsWith('pulse_errors_total{code="INTERNAL"}'));
  return line ? Number(line.split(' ')[1]) : 0;
}

describe('Socket.IO wire (seeds 000 and 004) under hostile input', () => {
  it('every request is answered once, in its own shape or as a coded error; the connection stays up', async () => {
    const anon = SioCollector.connect(s.url, { transports: ['websocket'] });
    const user = SioCollector.connect(s.url, { transports: ['websocket'], auth: { token: await tokenFor('fuzz-user', ALICE, 'user') } });
    for (const c of [anon, user]) {
      await c.connected();
      await c.next('connected');
    }
    const name = fc.oneof({ weight: 6, arbitrary: fc.constantFrom(...requestNames) }, { weight: 1, arbitrary: fc.constantFrom('getstats', 'history', 'event', 'subscribed', '') });
    await fc.assert(
      fc.asyncProperty(fc.boolean(), name, args, fc.boolean(), async (asUser, event, a, withAck) => {
        const c = asUser ? user : anon;
        const known = event in answersOf;
        if (withAck && known) {
          expectAck(event, await c.ack(event, ...a));
        } else {
          const from = c.mark();
          c.socket.emit(event, ...a);
          const expected = known ? answersOf[event] : { names: [], min: 0 };
          const answers = () => c.records.slice(from).filter((r) => expected.names.includes(r.event));
          if (expected.min) await waitFor(() => answers().length >= expected.min, `an answer to ${event}`);
          // Requests of one socket are handled in order: what this request sends is out by now.
          await c.ack('getRooms');
          const got = c.records.slice(from);
          expect(got.every((r) => expected.names.includes(r.event)), JSON.stringify(got)).toBe(true);
          expect(got.length).toBeLessThanOrEqual(1);
          expect(got.length).toBeGreaterThanOrEqual(expected.min);
          for (const r of got) if (r.event === 'error') expectError(r.args[0]);
        }
        expect(c.socket.connected).toBe(true);
      }),
      { numRuns: 250 },
    );
    expect(await internalErrors()).toBe(0);
    anon.close();
    user.close();
  }, 90_000);

  it('subscribe / unsubscribe sent back to back take effect in the order sent (a model of the held rooms)', async () => {
    const c = SioCollector.connect(s.url, { transports: ['websocket'], auth: { token: await tokenFor('order-user', ALICE, 'user') } });
    await c.connected();
    await c.next('connected');
    const targets: Array<[string, Json]> = [
      ['contract:a.1', { contractId: 'a.1' }],
      ['contract:a.2', { contractId: 'a.2', eventTypes: ['bid_placed'] }],
      ['market:1', { room: 'market', id: '1' }],
      ['creator:c', { room: 'creator', id: 'c' }],
      ['global:all', { room: 'global', id: 'all' }],
    ];
    const op = fc.tuple(fc.boolean(), fc.integer({ min: 0, max: targets.length - 1 }));
    await fc.assert(
      fc.asyncProperty(fc.array(op, { minLength: 1, maxLength: 12 }), async (ops) => {
        const held = new Set(await c.ack<string[]>('getRooms'));
        const from = c.mark();
        let refusals = 0;
        for (const [sub, i] of ops) {
          const [room, body] = targets[i];
          c.socket.emit(sub ? 'subscribe' : 'unsubscribe', body);
          if (sub) held.add(room);
          else if (!held.delete(room)) refusals++;
        }
        expect(new Set(await c.ack<string[]>('getRooms'))).toEqual(held);
        await waitFor(() => c.payloads('subscribed', from).length === ops.filter(([sub]) => sub).length, 'every subscribe answered');
        expect(c.payloads<Json>('error', from).map((e) => e.code)).toEqual(Array(refusals).fill('NOT_SUBSCRIBED'));
      }),
      { numRuns: 60 },
    );
    c.close();
  }, 90_000);

  it('raw frames on the Socket.IO WebSocket: well-formed event packets keep the connection, nothing takes the server down', async () => {
    let raw: { ws: WebSocket; msgs: string[]; closed: boolean } | null = null;
    const open = async () => {
      const ws = new WebSocket(`${s.wsUrl}/socket.io/?EIO=4&transport=websocket`);
      const r = { ws, msgs: [] as string[], closed: false };
      ws.on('message', (d) => r.msgs.push(d.toString()));
      ws.on('close', () => (r.closed = true));
      await waitFor(() => r.msgs.some((m) => m.startsWith('0{')), 'engine.io open');
      ws.send('40');
      await waitFor(() => r.msgs.some((m) => m.startsWith('42["connected"')), 'socket.io connected');
      return r;
    };
    const witness = SioCollector.connect(s.url, { transports: ['websocket'] });
    await witness.connected();
    const reserved = new Set(['connect', 'connect_error', 'disconnect', 'disconnecting', 'newListener', 'removeListener']);
    const eventName = fc.oneof(fc.constantFrom(...requestNames, 'nope'), fc.string({ maxLength: 30 })).filter((n) => !reserved.has(n));
    const wellFormed = fc.tuple(eventName, fc.array(fc.oneof(structured, jsonValue), { maxLength: 3 }), fc.option(fc.nat({ max: 10_000 }), { nil: undefined })).map(([n, a, id]) => ({ frame: '42' + (id ?? '') + JSON.stringify([n, ...a]), wellFormed: true }));
    const garbage = fc.oneof(fc.string({ maxLength: 120 }), fc.string({ maxLength: 120 }).map((x) => '4' + x), fc.string({ maxLength: 120 }).map((x) => '42' + x)).map((frame) => ({ frame, wellFormed: false }));
    let pingId = 100_000;
    await fc.assert(
      fc.asyncProperty(fc.oneof(wellFormed, garbage), async ({ frame, wellFormed: ok }) => {
        if (raw === null || raw.closed) raw = await open();
        const r = raw;
        const from = r.msgs.length;
        r.ws.send(frame);
        if (!ok && frame.startsWith('41')) {
          // A Socket.IO DISCONNECT packet: the client left the namespace by protocol, the transport
          // stays open and nothing answers on it any more; start over on a new connection.
          r.ws.close();
          raw = null;
          return;
        }
        const id = pingId++;
        r.ws.send(`42${id}["ping"]`);
        await waitFor(() => r.closed || r.msgs.slice(from).some((m) => m.startsWith(`43${id}[`)), 'ping ack or close');
        if (ok) expect(r.closed, frame).toBe(false);
        for (const m of r.msgs.slice(from)) {
          if (m.startsWith('42["error",')) expectError((JSON.parse(m.slice(2)) as unknown[])[1]);
        }
      }),
      { numRuns: 200 },
    );
    (raw as { ws: WebSocket } | null)?.ws.close();
    expect(((await witness.ack('ping')) as Json).type).toBe('pong');
    expect((await http('GET', `${s.url}/health`)).status).toBe(200);
    expect(await internalErrors()).toBe(0);
    witness.close();
  }, 90_000);
});
