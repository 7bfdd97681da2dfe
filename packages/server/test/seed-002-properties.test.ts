/**
 * Property test for seed 002's wire against a model: any sequence of `subscribe` / `unsubscribe`
 * messages sent in one packet is answered in the order sent (an unsubscribe of a channel not held
 * is a NOT_SUBSCRIBED error), and afterwards each analytics event is delivered once exactly when
 * a held channel covers it (`analytics` covers every `analytics:*`).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { WsCollector, startTestServer, type Json, type TestServer } from './support/index.js';

const TARGETS = ['analytics', 'analytics:search', 'analytics:filters', 'analytics:listings'];
const CHANNELS = ['analytics:search', 'analytics:filters', 'analytics:listings', 'analytics:user_sessions'];

let s: TestServer;
beforeAll(async () => {
  s = await startTestServer({ env: { MESSAGES_PER_SECOND: '0', REALTIME_METRICS_INTERVAL_MS: '3600000' } });
});
afterAll(() => s.stop());

const covers = (target: string, channel: string) => target === channel || channel.startsWith(target + ':');

describe('seed 002 /api/websocket/analytics against a model', () => {
  it('changes sent together are answered in order, and what is held decides what is delivered', async () => {
    const c = await WsCollector.open(`${s.wsUrl}/api/websocket/analytics`);
    await c.nextOfType('connect');
    const held = new Set<string>();
    let round = 0;
    const change = fc.record({ type: fc.constantFrom('subscribe', 'unsubscribe'), channel: fc.constantFrom(...TARGETS) });
    await fc.assert(
      fc.asyncProperty(fc.array(change, { minLength: 1, maxLength: 6 }), async (changes) => {
        round++;
        const from = c.mark();
        c.sendTogether(changes.map((x) => ({ ...x, timestamp: new Date().toISOString() })));
        const isAnswer = (m: Json) => m.type === 'subscribe' || m.type === 'unsubscribe' || m.type === 'error';
        const answers = await c.count(isAnswer, changes.length, { from });
        const expected = changes.map((x) => {
          if (x.type === 'subscribe') {
            held.add(x.channel);
            return ['subscribe', x.channel];
          }
          if (!held.delete(x.channel)) return ['error', x.channel, 'NOT_SUBSCRIBED'];
          return ['unsubscribe', x.channel];
        });
        expect(answers.map((m) => (m.type === 'error' ? [m.type, m.channel, (m.payload as Json).code] : [m.type, m.channel]))).toEqual(expected);
        const mark = c.mark();
        await s.hub.ingest(
          CHANNELS.map((channel) => ({ channel, type: 'probe', data: { round } })),
          { wait: 'durable' },
        );
        await c.request({ type: 'ping' }, (m) => m.type === 'pong');
        const got = c.all((m) => m.type === 'analytics_update', mark).map((m) => m.channel as string);
        expect(got.sort()).toEqual(CHANNELS.filter((ch) => [...held].some((t) => covers(t, ch))).sort());
        expect(c.all(isAnswer, from)).toHaveLength(changes.length);
        expect(c.closeCode).toBeNull();
      }),
      { numRuns: 60 },
    );
    c.close();
  }, 90_000);
});
