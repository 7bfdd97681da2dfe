/**
 * Native `/ws` request ordering, with real `ws` clients sending several requests in one TCP
 * write (so the server handles them back to back):
 *
 * - subscribe / unsubscribe (and auth) take effect and are answered in the order sent: a
 *   subscribe awaits the rate limiter and recovery, and an unsubscribe right behind it used to
 *   run first (NOT_SUBSCRIBED) and leave the channel subscribed — a React component mounted and
 *   unmounted at once;
 * - a model-based property: any run of subscribe / unsubscribe sent together is answered in
 *   order (an unsubscribe of a channel not held is NOT_SUBSCRIBED), and afterwards exactly the
 *   channels held by the model are delivered.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { WsCollector, startTestServer, tokenFor, type Json, type TestServer } from './support/index.js';

let s: TestServer;
beforeAll(async () => {
  // No per-connection message limit: the property sends a few hundred messages a second.
  s = await startTestServer({ auth: 'jwt', env: { MESSAGES_PER_SECOND: '0', REALTIME_METRICS_INTERVAL_MS: '3600000', MAX_SUBSCRIPTIONS_PER_CLIENT: '100', SUBSCRIBE_RATE_PER_MINUTE: '0' } });
});
afterAll(() => s.stop());

/** Send messages in one TCP write, so that the server handles them back to back. */
function sendTogether(c: WsCollector, msgs: unknown[]): void {
  const socket = (c.ws as unknown as { _socket: import('node:net').Socket })._socket;
  socket.cork();
  for (const m of msgs) c.send(m);
  socket.uncork();
}

async function open(token: string): Promise<WsCollector> {
  const c = await WsCollector.open(`${s.wsUrl}/ws?token=${token}`);
  await c.nextOfType('welcome');
  return c;
}

let nextId = 1;
const isAnswer = (m: Json) => m.type === 'reply' || m.type === 'error';

/** Ingest one event per channel, durably, then wait for a ping reply behind the deliveries. */
async function ingestAndSettle(c: WsCollector, channels: string[], round: number): Promise<void> {
  await s.hub.ingest(
    channels.map((channel) => ({ channel, type: 'tick', data: { round } })),
    { wait: 'durable' },
  );
  // Deliveries go out on the next flush; two pings make sure that flush has run.
  for (let i = 0; i < 2; i++) {
    const id = nextId++;
    await c.request({ op: 'ping', id }, (m) => m.id === id);
  }
}

function delivered(c: WsCollector, from: number): string[] {
  return c
    .all((m) => m.type === 'events', from)
    .flatMap((m) => (m.events as Array<{ channel: string }>).map((e) => e.channel));
}

describe('native /ws: membership requests of one connection take effect in the order sent', () => {
  it('subscribe then unsubscribe in one tick: answered in order, nothing delivered afterwards', async () => {
    const c = await open(await tokenFor('ord-1'));
    const from = c.mark();
    sendTogether(c, [
      { op: 'subscribe', channel: 'market:o1', id: 'a' },
      { op: 'unsubscribe', channel: 'market:o1', id: 'b' },
    ]);
    const answers = await c.count(isAnswer, 2, { from });
    expect(answers.map((m) => [m.type, m.id])).toEqual([
      ['reply', 'a'],
      ['reply', 'b'],
    ]);
    const mark = c.mark();
    await ingestAndSettle(c, ['market:o1'], 0);
    expect(delivered(c, mark)).toEqual([]);

    // Mounted, unmounted, mounted again (StrictMode): held once, delivered once.
    const from2 = c.mark();
    sendTogether(c, [
      { op: 'subscribe', channel: 'market:o1', id: 'c' },
      { op: 'unsubscribe', channel: 'market:o1', id: 'd' },
      { op: 'subscribe', channel: 'market:o1', id: 'e' },
    ]);
    expect((await c.count(isAnswer, 3, { from: from2 })).map((m) => [m.type, m.id])).toEqual([
      ['reply', 'c'],
      ['reply', 'd'],
      ['reply', 'e'],
    ]);
    const mark2 = c.mark();
    await ingestAndSettle(c, ['market:o1'], 1);
    expect(delivered(c, mark2)).toEqual(['market:o1']);
    c.close();
  });

  it('a subscribe sent right after an auth renewal is checked with the renewed token', async () => {
    // user:<id> is readable by its owner and admins; the renewal (same user) makes u an admin.
    const c = await open(await tokenFor('ord-2'));
    const admin = await tokenFor('ord-2', null, 'admin');
    const from = c.mark();
    sendTogether(c, [
      { op: 'auth', token: admin, id: 1 },
      { op: 'subscribe', channel: 'user:someone-else', id: 2 },
      { op: 'history', channel: 'user:someone-else', id: 3 },
    ]);
    const answers = await c.count(isAnswer, 3, { from });
    // The renewal is answered first; history is not ordered against the subscribe.
    expect(answers[0]).toMatchObject({ type: 'reply', id: 1 });
    expect(answers.map((m) => [m.id, m.type, m.code]).sort()).toEqual([
      [1, 'reply', undefined],
      [2, 'reply', undefined],
      [3, 'reply', undefined],
    ]);
    c.close();
  });

  it('publish and ping sent behind a subscribe are answered too, each by its id', async () => {
    // They are not ordered against membership changes (a publish must not wait for a subscribe's
    // recovery read); which reply comes first is not promised, only that each comes once.
    const c = await open(await tokenFor('ord-3', null, 'admin'));
    const from = c.mark();
    sendTogether(c, [
      { op: 'subscribe', channel: 'market:o3', id: 's' },
      { op: 'publish', channel: 'market:o3', type: 'tick', data: { n: 1 }, id: 'pub' },
      { op: 'ping', id: 'p' },
      { op: 'unsubscribe', channel: 'market:o3', id: 'u' },
    ]);
    const answers = await c.count(isAnswer, 4, { from });
    expect(answers.map((m) => [m.id, m.type]).sort()).toEqual([
      ['p', 'reply'],
      ['pub', 'reply'],
      ['s', 'reply'],
      ['u', 'reply'],
    ]);
    expect(answers.filter((m) => m.id === 's' || m.id === 'u').map((m) => m.id)).toEqual(['s', 'u']);
    c.close();
  });
});

const TARGETS = ['market:m1', 'market:m2', 'market:*', 'market'];
const CHANNELS = ['market:m1', 'market:m2', 'market:m3'];
const covers = (target: string, channel: string) =>
  target === channel || (target.endsWith('*') ? channel.startsWith(target.slice(0, -1)) : channel.startsWith(target + ':'));

describe('native /ws against a model', () => {
  it('requests sent together are answered in order, and what is held decides what is delivered', async () => {
    const c = await open(await tokenFor('ord-model'));
    const held = new Set<string>();
    let round = 0;
    const change = fc.record({ op: fc.constantFrom('subscribe', 'unsubscribe'), channel: fc.constantFrom(...TARGETS) });
    await fc.assert(
      fc.asyncProperty(fc.array(change, { minLength: 1, maxLength: 8 }), async (changes) => {
        round++;
        const from = c.mark();
        const msgs = changes.map((x) => ({ ...x, id: nextId++ }));
        sendTogether(c, msgs);
        const answers = await c.count((m) => isAnswer(m) && typeof m.id === 'number' && m.id >= msgs[0].id, msgs.length, { from });
        // The model: subscribe always succeeds (also again); unsubscribe needs the channel held.
        // (No subscribe rate limit in this server: SUBSCRIBE_RATE_PER_MINUTE=0.)
        const expected = msgs.map((x) => {
          if (x.op === 'subscribe') {
            held.add(x.channel);
            return ['reply', x.id, undefined];
          }
          if (!held.delete(x.channel)) return ['error', x.id, 'NOT_SUBSCRIBED'];
          return ['reply', x.id, undefined];
        });
        expect(answers.map((m) => [m.type, m.id, m.code])).toEqual(expected);
        const mark = c.mark();
        await ingestAndSettle(c, CHANNELS, round);
        const got = delivered(c, mark).sort();
        // Each event goes once to a connection, however many held targets cover it.
        expect(got).toEqual(CHANNELS.filter((ch) => [...held].some((t) => covers(t, ch))).sort());
        expect(c.closeCode).toBeNull();
      }),
      { numRuns: 60 },
    );
    c.close();
  }, 90_000);
});
