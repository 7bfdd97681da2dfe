/**
 * Property tests for the seed profiles: malformed or hostile client messages on each seed's wire
 * get exactly one answer, an error carries a registered code, the connection stays open and a
 * well-formed request still works afterwards.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import fc from 'fast-check';
import WebSocket from 'ws';
import { ERROR_CODES } from '@pulse/protocol';
import { SioCollector, WsCollector, http, postEvents, startTestServer, waitFor, type Json, type TestServer } from './support/index.js';

const codes = new Set<string>(ERROR_CODES);
const jsonValue = fc.jsonValue({ maxDepth: 3 });
const text = fc.string({ maxLength: 200 });
const channelish = fc.oneof(
  fc.constantFrom('analytics', 'analytics:search', 'analytics:*', 'market:m1', 'user:someone', '', ':', 'a b', '*'),
  fc.string({ maxLength: 220 }),
  jsonValue,
);

let s: TestServer;
beforeAll(async () => {
  // A small limit so that subscribe floods reach MAX_SUBSCRIPTIONS too.
  s = await startTestServer({ env: { MAX_SUBSCRIPTIONS_PER_CLIENT: '5', REALTIME_METRICS_INTERVAL_MS: '3600000' } });
});
afterAll(() => s.stop());

/**
 * Send one raw frame, then a ping, and return the frame's answer. Replies to asynchronous
 * requests (subscribe) may come after the pong, so order is not assumed; exactly two answers
 * are (a later extra one shows up in the next exchange's count).
 */
async function exchange(c: WsCollector, frame: string, isPong: (m: Json) => boolean): Promise<Json> {
  const from = c.mark();
  c.ws.send(frame);
  c.send({ type: 'ping' });
  const answers = () => c.all((m) => m.type !== 'metrics', from);
  await waitFor(() => answers().length >= 2 && answers().some(isPong), 'answers to the frame and the ping');
  const got = answers();
  expect(got).toHaveLength(2);
  const i = got.findIndex(isPong);
  return got[i === 0 ? 1 : 0];
}

// Each property makes hundreds of round trips: the 90 s limits leave room on a loaded 2-core machine.
describe('seed profiles under hostile input', () => {
  it('001 /analytics: every frame gets one `subscribed`, `unsubscribed`, `pong` or coded `error`', async () => {
    const c = await WsCollector.open(`${s.wsUrl}/analytics`);
    await c.nextOfType('connected');
    const msg = fc.record(
      {
        type: fc.oneof(fc.constantFrom('subscribe', 'unsubscribe', 'ping', 'analytics_update', '', '__proto__'), jsonValue),
        contentIds: fc.oneof(fc.array(fc.oneof(fc.constantFrom('content-1', 'c-2'), fc.string({ maxLength: 140 })), { maxLength: 8 }), jsonValue),
        organizationId: fc.oneof(fc.string({ maxLength: 140 }), jsonValue),
        clientId: fc.oneof(fc.string({ maxLength: 140 }), jsonValue),
      },
      { requiredKeys: [] },
    );
    await fc.assert(
      fc.asyncProperty(fc.oneof(msg.map((m) => JSON.stringify(m)), text, jsonValue.map((v) => JSON.stringify(v))), async (frame) => {
        const answer = await exchange(c, frame, (m) => m.type === 'pong');
        expect(['subscribed', 'unsubscribed', 'pong', 'error']).toContain(answer.type);
        expect(typeof answer.timestamp).toBe('number');
        if (answer.type === 'error') {
          expect(typeof answer.error).toBe('string');
          expect(codes.has(answer.code as string)).toBe(true);
        }
        expect(c.closeCode).toBeNull();
      }),
      { numRuns: 200 },
    );
    // Still a working 001 connection.
    await c.request({ type: 'subscribe', contentIds: ['after-fuzz'] }, (m) => m.type === 'subscribed');
    await http('POST', `${s.url}/api/analytics/trigger-update`, { body: { contentId: 'after-fuzz', field: 'views' } });
    expect(await c.nextOfType('analytics_update', (m) => m.contentId === 'after-fuzz')).toMatchObject({ value: 1 });
    c.close();
  }, 90_000);

  it('002 /api/websocket/analytics: every frame gets one `subscribe`, `unsubscribe`, `pong` or coded `error`, with ISO time', async () => {
    const c = await WsCollector.open(`${s.wsUrl}/api/websocket/analytics`);
    await c.nextOfType('connect');
    const msg = fc.record(
      {
        type: fc.oneof(fc.constantFrom('subscribe', 'unsubscribe', 'ping', 'connect', 'analytics_update', 'error'), jsonValue),
        channel: channelish,
        payload: fc.oneof(fc.record({ channel: channelish }), jsonValue),
        timestamp: fc.oneof(fc.date({ noInvalidDate: true }).map((d) => d.toISOString()), jsonValue),
      },
      { requiredKeys: [] },
    );
    await fc.assert(
      fc.asyncProperty(fc.oneof(msg.map((m) => JSON.stringify(m)), text, jsonValue.map((v) => JSON.stringify(v))), async (frame) => {
        const answer = await exchange(c, frame, (m) => m.type === 'pong');
        expect(['subscribe', 'unsubscribe', 'pong', 'error']).toContain(answer.type);
        expect(new Date(answer.timestamp as string).toISOString()).toBe(answer.timestamp);
        if (answer.type === 'error') expect(codes.has((answer.payload as Json).code as string)).toBe(true);
        expect(c.closeCode).toBeNull();
      }),
      { numRuns: 200 },
    );
    // Drop whatever the fuzzing subscribed to, then check that delivery still works.
    const held = new Set<string>();
    for (const m of c.all((x) => x.type === 'subscribe' || x.type === 'unsubscribe')) {
      if (m.type === 'subscribe') held.add(m.channel as string);
      else held.delete(m.channel as string);
    }
    for (const t of held) await c.request({ type: 'unsubscribe', channel: t }, (m) => m.channel === t && (m.type === 'unsubscribe' || m.type === 'error'));
    const ack = await c.request({ type: 'subscribe', channel: 'analytics:filters' }, (m) => m.channel === 'analytics:filters' && (m.type === 'subscribe' || m.type === 'error'));
    expect(ack.type).toBe('subscribe');
    await postEvents(s.url, { channel: 'analytics:filters', type: 'filter_apply', data: {} });
    expect(await c.nextOfType('analytics_update', (m) => m.channel === 'analytics:filters')).toMatchObject({ payload: { eventType: 'filter_apply' } });
    c.close();
  }, 90_000);

  it('003 /ws/metrics: every frame gets `pong` or a coded `error`', async () => {
    const c = await WsCollector.open(`${s.wsUrl}/ws/metrics`);
    await c.nextOfType('metrics');
    await fc.assert(
      fc.asyncProperty(fc.oneof(fc.record({ type: fc.oneof(fc.constantFrom('ping', 'pong', 'metrics'), jsonValue) }).map((m) => JSON.stringify(m)), text, jsonValue.map((v) => JSON.stringify(v))), async (frame) => {
        const answer = await exchange(c, frame, (m) => m.type === 'pong');
        if (answer.type !== 'pong') {
          expect(answer.type).toBe('error');
          expect(codes.has(answer.code as string)).toBe(true);
        }
        expect(c.closeCode).toBeNull();
      }),
      { numRuns: 150 },
    );
    c.close();
  }, 90_000);

  it('binary garbage on the seed WebSockets gets a coded error and keeps the connection', async () => {
    for (const [path, first, isPong] of [
      ['/analytics', 'connected', (m: Json) => m.type === 'pong'],
      ['/api/websocket/analytics', 'connect', (m: Json) => m.type === 'pong'],
      ['/ws/metrics', 'metrics', (m: Json) => m.type === 'pong'],
    ] as const) {
      const c = await WsCollector.open(`${s.wsUrl}${path}`);
      await c.nextOfType(first);
      await fc.assert(
        fc.asyncProperty(fc.uint8Array({ minLength: 1, maxLength: 256 }), async (bytes) => {
          const from = c.mark();
          c.ws.send(bytes, { binary: true });
          c.send({ type: 'ping' });
          await c.next(isPong, { from });
          const errors = c.all((m) => m.type === 'error', from);
          expect(errors).toHaveLength(1);
          const code = (errors[0].code ?? (errors[0].payload as Json | undefined)?.code) as string;
          expect(codes.has(code)).toBe(true);
          expect(c.closeCode).toBeNull();
        }),
        { numRuns: 30 },
      );
      expect(c.ws.readyState).toBe(WebSocket.OPEN);
      c.close();
    }
  }, 90_000);

  it('Socket.IO (000 / 004): any payload to any request is acked or answered with a coded error', async () => {
    const c = SioCollector.connect(s.url, { transports: ['websocket'] });
    await c.connected();
    await c.next('connected');
    const event = fc.constantFrom('subscribe', 'unsubscribe', 'getHistory', 'getStats', 'getRooms', 'ping');
    const payload = fc.oneof(
      fc.record(
        {
          contractId: fc.oneof(fc.constantFrom('ST1.campaigns', 'a.b'), fc.string({ maxLength: 200 }), jsonValue),
          eventTypes: fc.oneof(fc.array(fc.string({ maxLength: 110 }), { maxLength: 4 }), jsonValue),
          limit: fc.oneof(fc.integer({ min: -10, max: 1000 }), fc.double(), jsonValue),
          room: fc.oneof(fc.constantFrom('market', 'creator', 'user', 'global'), fc.string({ maxLength: 50 }), jsonValue),
          id: fc.oneof(fc.constantFrom('market123', 'all', '0x1234...'), fc.string({ maxLength: 160 }), fc.integer(), jsonValue),
        },
        { requiredKeys: [] },
      ),
      jsonValue,
    );
    await fc.assert(
      fc.asyncProperty(event, payload, fc.boolean(), async (name, body, withAck) => {
        if (withAck) {
          const answer = (await c.ack(name, body)) as unknown;
          if (name === 'getRooms') expect(Array.isArray(answer)).toBe(true);
          else {
            expect(typeof answer).toBe('object');
            const a = answer as Json;
            if (a.success === false || a.code !== undefined) {
              expect(codes.has(a.code as string)).toBe(true);
              expect(typeof a.message).toBe('string');
            }
          }
        } else {
          const from = c.mark();
          c.socket.emit(name, body);
          // One socket's packets are handled in order: after this ack, any error has been sent.
          await c.ack('getRooms');
          for (const e of c.payloads<Json>('error', from)) {
            expect(codes.has(e.code as string)).toBe(true);
            expect(typeof e.message).toBe('string');
          }
        }
        expect(c.socket.connected).toBe(true);
      }),
      { numRuns: 200 },
    );
    // Still a working connection: the global room delivers. The fuzz may have left the
    // auto-joined room (`unsubscribe {room: 'global', id: 'all'}` is a legal request), so join it
    // again first; joining a room already held is answered the same way.
    expect(await c.ack('subscribe', { room: 'global', id: 'all' })).toMatchObject({ success: true });
    await s.hub.ingest([{ channel: 'global:all', type: 'system:announcement', data: { after: 'fuzz' } }], { wait: 'durable' });
    expect(await c.next<Json>('system:announcement', (e) => (e.data as Json).after === 'fuzz')).toMatchObject({ type: 'system:announcement' });
    c.close();
  }, 90_000);
});
