/** One contract suite for every Store driver: SQLite file and real PostgreSQL. */
import { describe, it, expect, beforeEach, afterEach } from 'vitest';
import { join } from 'node:path';
import type { PulseEvent } from '@pulse/protocol';
import { openSqliteStore, openPostgresStore, type Store } from '../src/index.js';
import type { StoreItem } from '../src/ports.js';
import { tempDir, cleanup, start, NativeClient, ingest, waitFor } from './core-helpers.js';
import { serviceUrl, uniqueSchema, dropSchema } from './services.js';

const pgUrl = serviceUrl('DATABASE_URL');

interface Driver {
  name: string;
  open(): Promise<{ store: Store; reopen(): Promise<Store>; dispose(): Promise<void> }>;
}

const drivers: Driver[] = [
  {
    name: 'sqlite',
    async open() {
      const dir = tempDir();
      const path = join(dir, 'pulse.db');
      return { store: openSqliteStore(path), reopen: async () => openSqliteStore(path), dispose: async () => cleanup(dir) };
    },
  },
];
if (pgUrl) {
  drivers.push({
    name: 'postgres',
    async open() {
      const schema = uniqueSchema();
      return {
        store: await openPostgresStore(pgUrl, { schema }),
        reopen: () => openPostgresStore(pgUrl, { schema }),
        dispose: () => dropSchema(pgUrl, schema),
      };
    },
  });
}

function ev(channel: string, offset: number, extra: Partial<PulseEvent> = {}): PulseEvent {
  return { id: `${channel}-${offset}`, channel, type: 't', ts: 1000 + offset, data: { n: offset }, offset, epoch: 'e1', ...extra };
}
const item = (e: PulseEvent, at = Date.now()) => ({ event: e, dataJson: JSON.stringify(e.data), ingestedAt: at });
/** The ids of the items a commit dropped, in the order it reports them. */
const droppedIds = (dropped: Set<StoreItem>) => [...dropped].map((it) => it.event.id);

describe.each(drivers)('Store contract: $name', (driver) => {
  let h: Awaited<ReturnType<Driver['open']>>;
  let store: Store;
  beforeEach(async () => {
    h = await driver.open();
    store = h.store;
  });
  afterEach(async () => {
    await store.close();
    await h.dispose();
  });

  it('group-commits, reports duplicates, and reads back in order', async () => {
    store.enqueue([item(ev('a:1', 1)), item(ev('a:1', 2, { userId: 'u', orgId: 'o', txId: '0x1', blockHeight: 7 })), item(ev('b:1', 1))]);
    expect(store.pending()).toBe(3);
    expect(droppedIds(await store.commit())).toEqual([]);
    expect(store.pending()).toBe(0);
    store.enqueue([item({ ...ev('a:1', 3), id: 'a:1-1' }), item(ev('a:1', 4))]);
    expect(droppedIds(await store.commit())).toEqual(['a:1-1']);
    const after = await store.readAfter('a:1', 'e1', 0, 10);
    expect(after.map((e) => e.offset)).toEqual([1, 2, 4]);
    expect(after[1]).toEqual(ev('a:1', 2, { userId: 'u', orgId: 'o', txId: '0x1', blockHeight: 7 }));
    expect((await store.readAfter('a:1', 'e1', 2, 10)).map((e) => e.offset)).toEqual([4]);
    expect((await store.readAfter('a:1', 'other', 0, 10)).length).toBe(0);
    expect((await store.latest('a:1', 2)).map((e) => e.offset)).toEqual([2, 4]);
  });

  it('keeps heads (including offsets of dropped duplicates), stats, ids and meta across a reopen', async () => {
    store.enqueue([item(ev('c:1', 1)), item({ ...ev('c:1', 2), type: 'u' }), item(ev('c:2', 1))]);
    await store.commit();
    store.enqueue([item({ ...ev('c:1', 3), id: 'c:1-1' })]);
    await store.commit();
    await store.setMeta('k', 'v1');
    await store.setMeta('k', 'v2');
    await store.close();
    store = await h.reopen();
    const heads = (await store.heads()).sort((x, y) => x.channel.localeCompare(y.channel));
    expect(heads).toEqual([
      { channel: 'c:1', epoch: 'e1', offset: 3 },
      { channel: 'c:2', epoch: 'e1', offset: 1 },
    ]);
    const st = await store.stats('c:1');
    expect(st).toMatchObject({ totalEvents: 2, eventsByType: { t: 1, u: 1 }, epoch: 'e1', offset: 3 });
    expect(await store.has('c:1-2')).toBe(true);
    expect(await store.has('nope')).toBe(false);
    expect(await store.recentIds(2)).toEqual(['c:2-1', 'c:1-2']);
    expect(await store.getMeta('k')).toBe('v2');
    expect(await store.getMeta('missing')).toBeNull();
  });

  it('checks only client-supplied ids for repeats; generated ones are stored without that check', async () => {
    const gen = (e: PulseEvent) => ({ ...item(e), dedupe: false });
    store.enqueue([gen(ev('g:1', 1)), gen(ev('g:1', 2)), item({ ...ev('g:1', 3), id: 'client-1' })]);
    expect(droppedIds(await store.commit())).toEqual([]);
    store.enqueue([item({ ...ev('g:1', 4), id: 'client-1' }), gen(ev('g:1', 5))]);
    expect(droppedIds(await store.commit())).toEqual(['client-1']);
    expect((await store.readAfter('g:1', 'e1', 0, 10)).map((e) => e.offset)).toEqual([1, 2, 3, 5]);
    expect(await store.recentIds(10)).toEqual(['client-1']);
    expect(await store.has('client-1')).toBe(true);
    // Generated ids are not in the id index: a client sending one later is not refused.
    expect(await store.storedIds(['client-1', gen(ev('g:1', 1)).event.id, 'client-2', 'client-1'])).toEqual(new Set(['client-1']));
    expect(await store.storedIds([])).toEqual(new Set());
    expect((await store.stats('g:1')).totalEvents).toBe(4);
  });

  it('commits large batches with the same duplicates, heads, stats and acceptance order as small ones; a meta write issued during one completes too', async () => {
    const n = 1000;
    const big = (from: number, to: number) =>
      Array.from({ length: to - from }, (_, i) => {
        const off = from + i + 1;
        const e = ev(off % 2 ? 'big:odd' : 'big:even', off, { type: off % 3 ? 't' : 'u', ...(off % 5 ? {} : { userId: 'u5' }) });
        return { ...item(e, 1000 + off), dedupe: off % 4 === 0 };
      });
    store.enqueue(big(0, n));
    const first = store.commit();
    // Issued while the large commit is in flight (PostgreSQL does not order meta writes after
    // commits, and nothing needs it to: this checks only that both complete).
    const meta = store.setMeta('after-big', 'yes');
    expect(droppedIds(await first)).toEqual([]);
    await meta;
    // Repeats of stored client ids (multiples of 4) inside a second large batch.
    const again = big(0, n)
      .filter((it) => it.dedupe)
      .slice(0, 10)
      .map((it) => ({ ...it, event: { ...it.event, offset: it.event.offset + 10 * n } }));
    store.enqueue([...again, ...big(n, 2 * n)]);
    expect(droppedIds(await store.commit()).sort()).toEqual(again.map((it) => it.event.id).sort());
    expect(await store.getMeta('after-big')).toBe('yes');
    const odd = await store.readAfter('big:odd', 'e1', 0, 5000);
    expect(odd.length).toBe(n);
    expect(odd[7]).toEqual(ev('big:odd', 15, { type: 'u', userId: 'u5' }));
    const heads = (await store.heads()).filter((x) => x.channel.startsWith('big:')).sort((x, y) => x.channel.localeCompare(y.channel));
    // Offsets of the dropped repeats count for the head (never reused).
    expect(heads).toEqual([
      { channel: 'big:even', epoch: 'e1', offset: 10 * n + 40 },
      { channel: 'big:odd', epoch: 'e1', offset: 2 * n - 1 },
    ]);
    const st = await store.stats('big:odd');
    expect(st.totalEvents).toBe(n);
    expect(st.eventsByType).toEqual({ t: n - Math.floor((n + 1) / 3), u: Math.floor((n + 1) / 3) });
    expect(st.lastUpdated).toBe(1000 + 2 * n - 1);
    const scanned = await store.scan(0, 3 * n);
    expect(scanned.length).toBe(2 * n);
    expect(scanned.map((s) => s.event.offset)).toEqual(Array.from({ length: 2 * n }, (_, i) => i + 1));
  });

  it('scans in acceptance order, finds the latest matching event, and prunes by namespace and age', async () => {
    store.enqueue([
      item({ ...ev('content:9', 1), data: { field: 'views', value: 1 } }, 100),
      item({ ...ev('content:9', 2), data: { field: 'likes', value: 1 } }, 100),
      item({ ...ev('content:9', 3), data: { field: 'views', value: 2 } }, 5000),
      item(ev('market:1', 1), 100),
    ]);
    await store.commit();
    const all = await store.scan(0, 10);
    expect(all.map((s) => s.event.id)).toEqual(['content:9-1', 'content:9-2', 'content:9-3', 'market:1-1']);
    expect((await store.scan(all[1].seq, 1)).map((s) => s.event.id)).toEqual(['content:9-3']);
    expect((await store.latestMatching('content:9', 'field', 'views'))?.data).toEqual({ field: 'views', value: 2 });
    expect(await store.latestMatching('content:9', 'field', 'shares')).toBeNull();
    expect(await store.prune('content', 1000)).toBe(2);
    expect((await store.scan(0, 10)).map((s) => s.event.id)).toEqual(['content:9-3', 'market:1-1']);
  });

  it('scans one commit spread over several channels in acceptance order, whatever the page size', async () => {
    const names = ['s:c', 's:a', 's:b'];
    const offs = new Map<string, number>();
    const commitRound = async (n: number, at: number) => {
      const items = Array.from({ length: n }, (_, i) => {
        const ch = names[(i * 5 + (i >> 2)) % 3];
        const off = (offs.get(ch) ?? 0) + 1;
        offs.set(ch, off);
        return item(ev(ch, off), at);
      });
      store.enqueue(items);
      await store.commit();
      return items.map((it) => it.event.id);
    };
    const accepted = [...(await commitRound(40, 100)), ...(await commitRound(1, 200)), ...(await commitRound(25, 300))];
    const all = await store.scan(0, 1000);
    expect(all.map((s) => s.event.id)).toEqual(accepted);
    for (let i = 1; i < all.length; i++) expect(all[i].seq).toBeGreaterThan(all[i - 1].seq);
    for (const page of [1, 2, 7, 40]) {
      const got: string[] = [];
      let after = 0;
      for (;;) {
        const p = await store.scan(after, page);
        expect(p.length).toBeLessThanOrEqual(page);
        if (p.length === 0) break;
        got.push(...p.map((s) => s.event.id));
        after = p[p.length - 1].seq;
      }
      expect(got).toEqual(accepted);
    }
    // Any position, not only a stored seq: the first event after it.
    for (let x = 0; x <= all[all.length - 1].seq; x++) {
      const want = all.find((s) => s.seq > x);
      expect((await store.scan(x, 1))[0]?.event.id).toBe(want?.event.id);
    }
    expect(await store.scan(all[all.length - 1].seq, 10)).toEqual([]);
  });

  it('stores an id repeated within one batch once and never reuses a seq after a prune', async () => {
    const batch = [item(ev('p:1', 1), 100), item({ ...ev('p:1', 2), id: 'p:1-1' }, 100), item(ev('p:2', 1), 100)];
    store.enqueue(batch);
    // The dropped copy itself (the second), not the id: the first copy went in.
    const dropped = await store.commit();
    expect([...dropped]).toHaveLength(1);
    expect(dropped.has(batch[1])).toBe(true);
    expect((await store.readAfter('p:1', 'e1', 0, 10)).map((e) => e.id)).toEqual(['p:1-1']);
    // Counted once; the dropped copy's offset still counts for the head.
    expect(await store.stats('p:1')).toMatchObject({ totalEvents: 1, offset: 2 });
    const before = await store.scan(0, 10);
    const top = before[before.length - 1].seq;
    expect(await store.prune('p', 1000)).toBe(2);
    expect(await store.scan(0, 10)).toEqual([]);
    expect(await store.has('p:1-1')).toBe(false);
    store.enqueue([item(ev('p:1', 3), 2000)]);
    await store.commit();
    const after = await store.scan(0, 10);
    expect(after.map((s) => s.event.id)).toEqual(['p:1-3']);
    expect(after[0].seq).toBeGreaterThan(top);
    await store.close();
    store = await h.reopen();
    expect(await store.prune('p', 3000)).toBe(1);
    store.enqueue([item(ev('p:1', 4), 4000)]);
    await store.commit();
    const again = await store.scan(0, 10);
    expect(again.map((s) => s.event.id)).toEqual(['p:1-4']);
    expect(again[0].seq).toBeGreaterThan(after[0].seq);
  });

  it('drops every copy of an id stored by an earlier commit, and only the later copies of a new one', async () => {
    store.enqueue([item(ev('r:1', 1))]);
    await store.commit();
    // r:1-1 is stored already; r:1-3 is new, and repeated (and on another channel too).
    const batch = [
      item({ ...ev('r:1', 2), id: 'r:1-1' }),
      item(ev('r:1', 3)),
      item({ ...ev('r:1', 4), id: 'r:1-1' }),
      item({ ...ev('r:1', 5), id: 'r:1-3' }),
      item({ ...ev('r:2', 3), id: 'r:1-3' }),
      item(ev('r:1', 6)),
    ];
    store.enqueue(batch);
    const dropped = await store.commit();
    expect([0, 1, 2, 3, 4, 5].filter((i) => dropped.has(batch[i]))).toEqual([0, 2, 3, 4]);
    expect(dropped.size).toBe(4);
    expect((await store.readAfter('r:1', 'e1', 0, 10)).map((e) => `${e.id}@${e.offset}`)).toEqual(['r:1-1@1', 'r:1-3@3', 'r:1-6@6']);
    expect(await store.readAfter('r:2', 'e1', 0, 10)).toEqual([]);
    expect(await store.stats('r:1')).toMatchObject({ totalEvents: 3, offset: 6 });
  });

  it('returns the latest events and the latest match across epochs in acceptance order', async () => {
    // The second epoch sorts before the first by name: the order must come from acceptance.
    store.enqueue([1, 2, 3].map((o) => item(ev('l:1', o, { epoch: 'zz', data: { k: o === 2 ? 'x' : 'y' } }))));
    await store.commit();
    store.enqueue([item(ev('l:2', 1))]);
    await store.commit();
    store.enqueue([1, 2].map((o) => item(ev('l:1', o, { id: `l:1-aa-${o}`, epoch: 'aa', data: { k: o === 1 ? 'x' : 'z' } }))));
    await store.commit();
    const ids = (es: PulseEvent[]) => es.map((e) => `${e.epoch}/${e.offset}`);
    expect(ids(await store.latest('l:1', 4))).toEqual(['zz/2', 'zz/3', 'aa/1', 'aa/2']);
    expect(ids(await store.latest('l:1', 10))).toEqual(['zz/1', 'zz/2', 'zz/3', 'aa/1', 'aa/2']);
    expect(ids(await store.latest('l:1', 1))).toEqual(['aa/2']);
    expect((await store.latestMatching('l:1', 'k', 'x'))?.epoch).toBe('aa');
    expect((await store.latestMatching('l:1', 'k', 'y'))).toMatchObject({ epoch: 'zz', offset: 3 });
    expect(await store.latestMatching('l:1', 'k', 1)).toBeNull();
    expect(await store.latestMatching('l:1', 'k.x', 'x')).toBeNull();
    expect((await store.readAfter('l:1', 'zz', 1, 10)).map((e) => e.offset)).toEqual([2, 3]);
    expect((await store.readAfter('l:1', 'aa', 0, 1)).map((e) => e.offset)).toEqual([1]);
  });

  it('keeps two epochs of a channel apart when one commit holds both, interleaved with other channels', async () => {
    store.enqueue([
      item(ev('m:1', 7, { epoch: 'old' })),
      item(ev('m:2', 1)),
      item(ev('m:1', 1, { epoch: 'new' })),
      item(ev('m:2', 2)),
      item(ev('m:1', 2, { epoch: 'new' })),
      item(ev('m:1', 3, { epoch: 'third' })),
    ]);
    await store.commit();
    const offs = (es: PulseEvent[]) => es.map((e) => `${e.epoch}/${e.offset}`);
    expect(offs(await store.readAfter('m:1', 'old', 0, 10))).toEqual(['old/7']);
    expect(offs(await store.readAfter('m:1', 'new', 0, 10))).toEqual(['new/1', 'new/2']);
    expect(offs(await store.readAfter('m:1', 'third', 0, 10))).toEqual(['third/3']);
    expect(offs(await store.readAfter('m:2', 'e1', 0, 10))).toEqual(['e1/1', 'e1/2']);
    expect(offs(await store.latest('m:1', 10))).toEqual(['old/7', 'new/1', 'new/2', 'third/3']);
    const all = await store.scan(0, 100);
    expect(all.map((x) => `${x.event.channel}@${x.event.epoch}/${x.event.offset}`)).toEqual(['m:1@old/7', 'm:2@e1/1', 'm:1@new/1', 'm:2@e1/2', 'm:1@new/2', 'm:1@third/3']);
  });
});

describe.skipIf(!pgUrl)('Pulse on PostgreSQL', () => {
  it('recovers across a restart with DATABASE_URL', async () => {
    const schema = uniqueSchema();
    const env = { DATABASE_URL: pgUrl!, DATABASE_SCHEMA: schema };
    let pulse = await start(env);
    try {
      const a = await NativeClient.open(pulse.wsUrl);
      await a.result({ op: 'subscribe', channel: 'market:pg' });
      await ingest(pulse.url, [{ channel: 'market:pg', type: 't', data: { i: 1 } }]);
      await waitFor(() => a.events.length === 1, 'one');
      const pos = a.events[0];
      const port = pulse.port;
      await pulse.close();
      pulse = await start(env, { port, dir: pulse.dir });
      await ingest(pulse.url, [2, 3].map((i) => ({ channel: 'market:pg', type: 't', data: { i } })), '?wait=durable');
      const b = await NativeClient.open(pulse.wsUrl);
      const r = await b.result({ op: 'subscribe', channel: 'market:pg', since: { epoch: pos.epoch, offset: pos.offset } });
      expect(r.recovered).toBe(true);
      await waitFor(() => b.events.length === 2, 'two');
      expect(b.events.map((e) => e.offset)).toEqual([2, 3]);
      b.close();
    } finally {
      await pulse.close();
      await dropSchema(pgUrl!, schema);
      cleanup(pulse.dir);
    }
  });
});

// Needs no PostgreSQL: nothing listens on port 1.
describe('PostgreSQL driver', () => {
  it('stops the start with a clear message when PostgreSQL is unreachable', async () => {
    await expect(start({ DATABASE_URL: 'postgresql://postgres@127.0.0.1:1/none' })).rejects.toThrow(/unreachable/);
  });
});
