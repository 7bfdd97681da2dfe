/**
 * A client id repeated when the hub's dedupe cache does not catch it (DEDUPE_CACHE_SIZE=0 here;
 * an id older than the cache, or several nodes sharing PostgreSQL, in production). A repeat within
 * one call, or across calls while the first copy is not yet committed, is a duplicate in the hub
 * at once. A copy of an id stored by an earlier commit reaches the store (in a namespace without
 * an enricher; with one, the hub asks the store first), which drops it, and the hub must skip
 * exactly that copy: the stored events are delivered live, enter the history ring and reach the
 * metric sinks, so stats and metrics agree with what was stored; the `?wait=durable` answer lists
 * the dropped copy as a duplicate; content counters never count one. Real server on port 0, real
 * SQLite file or PostgreSQL.
 */
import { describe, it, expect } from 'vitest';
import fc from 'fast-check';
import { start, cleanup, ingest, NativeClient, waitFor } from './core-helpers.js';
import { serviceUrl, uniqueSchema, dropSchema } from './services.js';

const pgUrl = serviceUrl('DATABASE_URL');

interface Backend {
  name: string;
  env(): Record<string, string>;
  dispose(env: Record<string, string>): Promise<void>;
}

const backends: Backend[] = [{ name: 'sqlite', env: () => ({}), dispose: async () => {} }];
if (pgUrl) {
  backends.push({
    name: 'postgres',
    env: () => ({ DATABASE_URL: pgUrl, DATABASE_SCHEMA: uniqueSchema() }),
    dispose: (env) => dropSchema(pgUrl, env.DATABASE_SCHEMA),
  });
}

describe.each(backends)('an id repeated when the dedupe cache misses ($name)', (backend) => {
  it('delivers, keeps and counts the stored copy, and nothing of the repeats', async () => {
    const env = { ...backend.env(), DEDUPE_CACHE_SIZE: '0' };
    const pulse = await start(env);
    const ch = 'contract:dup';
    try {
      const c = await NativeClient.open(pulse.wsUrl);
      await c.result({ op: 'subscribe', channel: ch });
      // x twice (a new id: the second copy is a duplicate in the hub), then y.
      const r1 = await ingest(
        pulse.url,
        [
          { channel: ch, type: 'impression', id: 'x', data: { copy: 1 } },
          { channel: ch, type: 'impression', id: 'x', data: { copy: 2 } },
          { channel: ch, type: 'click', id: 'y' },
        ],
        '?wait=durable',
      );
      expect(r1.json.durable).toBe(true);
      // A later commit: x twice (stored by the earlier commit: the first copy gets offset 3 and is
      // dropped by the store; the second is a duplicate in the hub), then z.
      await ingest(
        pulse.url,
        [
          { channel: ch, type: 'impression', id: 'x', data: { copy: 3 } },
          { channel: ch, type: 'impression', id: 'x', data: { copy: 4 } },
          { channel: ch, type: 'click', id: 'z' },
        ],
        '?wait=durable',
      );
      await waitFor(() => c.events.some((e) => e.id === 'z'), 'the last event');
      // The socket carries frames in order: after the ping's reply, nothing more is on its way.
      await c.result({ op: 'ping' });

      const stored = await pulse.hub.store.readAfter(ch, c.events[0].epoch, 0, 100);
      expect(stored.map((e) => [e.id, e.offset, e.data])).toEqual([
        ['x', 1, { copy: 1 }],
        ['y', 2, {}],
        ['z', 4, {}],
      ]);
      // Live: exactly the stored events, the stored copy of x.
      expect(c.events.map((e) => [e.id, e.offset, e.data])).toEqual(stored.map((e) => [e.id, e.offset, e.data]));
      // The history ring holds them too.
      const ring = pulse.hub.log.get(ch)!.entries(Date.now());
      expect(ring.map((e) => [e.event.id, e.event.offset])).toEqual([
        ['x', 1],
        ['y', 2],
        ['z', 4],
      ]);
      // Stats (from the store) and metrics (from the sinks) agree.
      const st = await c.result({ op: 'stats', channel: ch });
      expect(st).toMatchObject({ totalEvents: 3, eventsByType: { impression: 1, click: 2 } });
      const m = (await fetch(pulse.url + '/v1/metrics/campaign?scope=dup').then((r) => r.json())) as { values: Record<string, unknown> };
      expect(m.values).toMatchObject({ totalEvents: 3, impressions: 1, clicks: 2 });
      c.close();
    } finally {
      await pulse.close();
      cleanup(pulse.dir);
      await backend.dispose(env);
    }
  });
});

type Answer = {
  accepted: number;
  duplicates: number;
  events: Array<{ index: number; id: string; channel: string; offset: number }>;
  duplicateItems: Array<{ index: number; id: string }>;
  durable: boolean;
};

async function durable(url: string, items: unknown[]): Promise<Answer> {
  const r = await ingest(url, items, '?wait=durable');
  expect(r.status).toBe(200);
  return r.json as unknown as Answer;
}

type Stored = { id: string; offset: number; type: string; data: Record<string, unknown> };

/** Everything history serves for a channel, oldest first. */
async function history(url: string, ch: string): Promise<Stored[]> {
  const h = (await fetch(`${url}/v1/channels/${encodeURIComponent(ch)}/events?since=0&limit=1000`).then((r) => r.json())) as { events: Stored[] };
  return h.events;
}

async function counter(c: { get(): Promise<{ values: Array<{ value: number }> }> }): Promise<number> {
  return (await c.get()).values.reduce((n, v) => n + v.value, 0);
}

describe.each(backends)('the ?wait=durable answer when the dedupe cache misses ($name)', (backend) => {
  it('lists every repeat under duplicates, accepts what the store holds, and each listed offset is in history', async () => {
    const env = { ...backend.env(), DEDUPE_CACHE_SIZE: '0' };
    const pulse = await start(env);
    const ch = 'contract:answers';
    try {
      // a twice within one body: the second copy is a duplicate at once.
      const r1 = await durable(pulse.url, [
        { channel: ch, type: 'impression', id: 'a' },
        { channel: ch, type: 'impression', id: 'b' },
        { channel: ch, type: 'impression', id: 'a' },
        { channel: ch, type: 'click' },
      ]);
      expect(r1).toMatchObject({ accepted: 3, duplicates: 1, durable: true, duplicateItems: [{ index: 2, id: 'a' }] });
      expect(r1.events.map((e) => e.index)).toEqual([0, 1, 3]);
      // b again in a second request (stored by the first: the store drops it), and twice in this body.
      const r2 = await durable(pulse.url, [
        { channel: ch, type: 'impression', id: 'b' },
        { channel: ch, type: 'impression', id: 'c' },
        { channel: ch, type: 'impression', id: 'b' },
      ]);
      expect(r2).toMatchObject({ accepted: 1, duplicates: 2, durable: true, duplicateItems: [{ index: 0, id: 'b' }, { index: 2, id: 'b' }] });
      expect(r2.events.map((e) => [e.index, e.id])).toEqual([[1, 'c']]);

      const stored = await history(pulse.url, ch);
      expect(stored).toHaveLength(r1.accepted + r2.accepted);
      expect((await pulse.hub.stats(ch)).totalEvents).toBe(r1.accepted + r2.accepted);
      const listed = [...r1.events, ...r2.events];
      expect(stored.map((e) => [e.offset, e.id])).toEqual(listed.map((e) => [e.offset, e.id]));
      // Each item counted once: accepted ones as ingested, repeats as duplicates.
      expect(await counter(pulse.hub.telemetry.ingested)).toBe(4);
      expect(await counter(pulse.hub.telemetry.duplicates)).toBe(3);
    } finally {
      await pulse.close();
      cleanup(pulse.dir);
      await backend.dispose(env);
    }
  });
});

describe.each(backends)('content counters when the dedupe cache misses ($name)', (backend) => {
  it('stores values 1..N with no gap for repeats within a call, across calls and in concurrent calls, and continue at N+1 after a restart', async () => {
    const env = { ...backend.env(), DEDUPE_CACHE_SIZE: '0' };
    const ch = 'content:cc';
    const view = (id?: string) => ({ channel: ch, type: 'content_view', ...(id ? { id } : {}) });
    let pulse = await start(env);
    const dir = pulse.dir;
    try {
      const r1 = await durable(pulse.url, [view('v1'), view('v2'), view('v1')]);
      expect(r1).toMatchObject({ accepted: 2, duplicates: 1 });
      const r2 = await durable(pulse.url, [view('v2'), view('v3'), view()]);
      expect(r2).toMatchObject({ accepted: 2, duplicates: 1, duplicateItems: [{ index: 0, id: 'v2' }] });
      // Two calls with one new id at once: both are past the cache and both ask the store before
      // either commits; only one may count.
      const both = await Promise.all([pulse.hub.ingest([view('v4')], { wait: 'durable' }), pulse.hub.ingest([view('v4')], { wait: 'durable' })]);
      expect(both.map((r) => r.accepted).sort()).toEqual([0, 1]);
      // A copy dropped at commit would show here, in the next event's value.
      await durable(pulse.url, [view()]);
      const values = (await history(pulse.url, ch)).map((e) => e.data.value);
      expect(values).toEqual([1, 2, 3, 4, 5, 6]);

      await pulse.close();
      pulse = await start(env, { dir });
      const r3 = await durable(pulse.url, [view('v1'), view('v5')]);
      expect(r3).toMatchObject({ accepted: 1, duplicates: 1, duplicateItems: [{ index: 0, id: 'v1' }] });
      const after = await history(pulse.url, ch);
      expect(after.map((e) => e.data.value)).toEqual([1, 2, 3, 4, 5, 6, 7]);
      expect(after.map((e) => e.id).slice(-1)).toEqual(['v5']);
    } finally {
      await pulse.close();
      cleanup(dir);
      await backend.dispose(env);
    }
  });
});

describe.each(backends)('sum of accepted over durable answers, any order of repeats ($name)', (backend) => {
  it('equals the distinct ids plus the id-less items, and what the store holds', async () => {
    const env = { ...backend.env(), DEDUPE_CACHE_SIZE: '0' };
    const pulse = await start(env);
    let run = 0;
    try {
      // An item: a namespace (content has an enricher, contract none) and an id from a small pool, or none.
      const item = fc.record({ ns: fc.constantFrom('content', 'contract'), id: fc.option(fc.constantFrom('a', 'b', 'c', 'd'), { nil: null }) });
      const call = fc.array(item, { minLength: 1, maxLength: 6 });
      // Waves of calls run at once, one wave after the other.
      const waves = fc.array(fc.array(call, { minLength: 1, maxLength: 3 }), { minLength: 1, maxLength: 4 });
      await fc.assert(
        fc.asyncProperty(waves, async (ws) => {
          const p = `r${run++}`;
          const chs = { content: `content:${p}`, contract: `contract:${p}` };
          const toItem = (it: { ns: 'content' | 'contract'; id: string | null }) => ({
            channel: chs[it.ns],
            type: it.ns === 'content' ? 'content_view' : 'impression',
            ...(it.id !== null ? { id: `${p}-${it.id}` } : {}),
          });
          const answers: Answer[] = [];
          for (const wave of ws) answers.push(...(await Promise.all(wave.map((c) => durable(pulse.url, c.map(toItem))))));
          const all = ws.flat(2);
          const expected = new Set(all.filter((i) => i.id !== null).map((i) => i.id)).size + all.filter((i) => i.id === null).length;
          const accepted = answers.reduce((n, a) => n + a.accepted, 0);
          expect(accepted).toBe(expected);
          for (const a of answers) expect(a.accepted + a.duplicates).toBe(a.events.length + a.duplicateItems.length);
          const stored = [...(await history(pulse.url, chs.content)), ...(await history(pulse.url, chs.contract))];
          expect(stored).toHaveLength(expected);
          // The answers list exactly the stored events.
          const key = (e: { id: string; offset: number }) => `${e.id}@${e.offset}`;
          expect(answers.flatMap((a) => a.events.map(key)).sort()).toEqual(stored.map(key).sort());
          // The content counter has no gap.
          const values = (await history(pulse.url, chs.content)).map((e) => e.data.value);
          expect(values).toEqual(values.map((_, i) => i + 1));
        }),
        { numRuns: 25 },
      );
    } finally {
      await pulse.close();
      cleanup(pulse.dir);
      await backend.dispose(env);
    }
  }, 60_000);
});
