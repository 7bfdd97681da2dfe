/**
 * Property tests for seed 001's wire against a model:
 *
 * - any sequence of `subscribe{contentIds}` / `unsubscribe` sent in one packet is answered in the
 *   order sent, and afterwards exactly the contents of the last change are delivered;
 * - any body sent to `POST /api/analytics/trigger-update` is either accepted, answering the
 *   field's previous value plus its increment, or refused with a registered code and counted
 *   nowhere; the server and its subscribers carry on.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { ERROR_CODES } from '@pulse/protocol';
import { WsCollector, http, startTestServer, type Json, type TestServer } from './support/index.js';

const codes = new Set<string>(ERROR_CODES);
const POOL = ['p0', 'p1', 'p2', 'p3', 'p4'];

let s: TestServer;
beforeAll(async () => {
  // No per-connection message limit: the properties send a few hundred messages a second.
  s = await startTestServer({ env: { MESSAGES_PER_SECOND: '0', REALTIME_METRICS_INTERVAL_MS: '3600000' } });
});
afterAll(() => s.stop());

type Change = { type: 'subscribe'; contentIds: string[] } | { type: 'unsubscribe' };

const change: fc.Arbitrary<Change> = fc.oneof(
  { weight: 3, arbitrary: fc.subarray(POOL).map((contentIds): Change => ({ type: 'subscribe', contentIds })) },
  { weight: 1, arbitrary: fc.constant<Change>({ type: 'unsubscribe' }) },
);

describe('seed 001 /analytics against a model', () => {
  it('changes sent together are answered in order and the last one decides what is delivered', async () => {
    const c = await WsCollector.open(`${s.wsUrl}/analytics`);
    await c.nextOfType('connected');
    let round = 0;
    await fc.assert(
      fc.asyncProperty(fc.array(change, { minLength: 1, maxLength: 6 }), async (changes) => {
        round++;
        const from = c.mark();
        c.sendTogether(changes);
        const isAnswer = (m: Json) => m.type === 'subscribed' || m.type === 'unsubscribed' || m.type === 'error';
        const answers = await c.count(isAnswer, changes.length, { from });
        expect(answers.map((m) => m.type)).toEqual(changes.map((x) => (x.type === 'subscribe' ? 'subscribed' : 'unsubscribed')));
        // The model: the last change's set (no ids: every content; unsubscribe: none).
        let held: Set<string> = new Set();
        for (const x of changes) held = x.type === 'unsubscribe' ? new Set() : new Set(x.contentIds.length ? x.contentIds : POOL);
        const mark = c.mark();
        await s.hub.ingest(
          POOL.map((id) => ({ channel: `content:${id}`, type: 'like', data: { round } })),
          { wait: 'durable' },
        );
        await c.request({ type: 'ping' }, (m) => m.type === 'pong');
        const got = c.all((m) => m.type === 'analytics_update', mark).map((m) => m.contentId as string);
        expect(got.sort()).toEqual([...held].sort());
        expect(c.all(isAnswer, from)).toHaveLength(changes.length);
        expect(c.closeCode).toBeNull();
      }),
      { numRuns: 60 },
    );
    c.close();
  }, 90_000);

  it('trigger-update: every body is accepted with previous value + increment, or refused with a code and not counted', async () => {
    const c = await WsCollector.open(`${s.wsUrl}/analytics`);
    await c.nextOfType('connected');
    const ids = ['t0', 't1', 't2'];
    await c.request({ type: 'subscribe', contentIds: ids }, (m) => m.type === 'subscribed');
    const model = new Map<string, number>();
    const valid = fc.record(
      {
        contentId: fc.constantFrom(...ids),
        field: fc.constantFrom('views', 'likes', 'shares', 'comments'),
        increment: fc.oneof(fc.integer({ min: -1000, max: 1000 }), fc.double({ min: -1e6, max: 1e6, noNaN: true })),
        organizationId: fc.constantFrom('org-1', 'org-2'),
        clientId: fc.constantFrom('client-1', 'client-2'),
      },
      { requiredKeys: ['contentId', 'field'] },
    );
    const json = fc.jsonValue({ maxDepth: 3 });
    // Valid bodies with one key spoiled, arbitrary JSON, and text that is not JSON at all.
    const spoiled = fc.tuple(valid, fc.constantFrom('contentId', 'field', 'increment', 'organizationId', 'clientId'), json).map(([b, k, v]) => ({ ...b, [k]: v }));
    const body = fc.oneof(
      valid.map((b) => JSON.stringify(b)),
      spoiled.map((b) => JSON.stringify(b)),
      json.map((v) => JSON.stringify(v)),
      fc.string({ maxLength: 100 }),
    );
    await fc.assert(
      fc.asyncProperty(body, async (raw) => {
        const r = await http<Json>('POST', `${s.url}/api/analytics/trigger-update`, { body: raw, headers: { 'content-type': 'application/json' } });
        if (r.status === 200) {
          const b = JSON.parse(raw) as { contentId: string; field: string; increment?: number };
          const key = `${b.contentId}/${b.field}`;
          const expected = (model.get(key) ?? 0) + (b.increment ?? 1);
          expect(r.body).toMatchObject({ success: true, contentId: b.contentId, field: b.field, value: expected });
          model.set(key, expected);
          // Broadcast with the same value, to the subscriber of that content (a spoiled body can
          // name another valid content id, e.g. "-": accepted, but nobody here subscribed to it).
          if (ids.includes(b.contentId)) {
            await c.nextOfType('analytics_update', (m) => m.contentId === b.contentId && m.field === b.field && m.value === expected, { timeoutMs: 5000 });
          }
        } else {
          expect(r.status).toBe(400);
          expect(codes.has(r.body.code as string)).toBe(true);
        }
      }),
      { numRuns: 300 },
    );
    // Nothing refused was counted: an increment of 0 reads each value back.
    for (const [key, value] of model) {
      const [contentId, field] = key.split('/');
      const r = await http<Json>('POST', `${s.url}/api/analytics/trigger-update`, { body: { contentId, field, increment: 0 } });
      expect(r.body.value).toBe(value);
    }
    expect(c.closeCode).toBeNull();
    c.close();
  }, 90_000);
});
