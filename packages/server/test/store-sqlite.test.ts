/** The SQLite store's segment layout: conversion of files of the per-event layout, and what only SQLite reports. */
import { describe, it, expect, afterEach } from 'vitest';
import { join } from 'node:path';
import { spawnSync } from 'node:child_process';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { existsSync, statSync } from 'node:fs';
import Database from 'better-sqlite3';
import fc from 'fast-check';
import type { PulseEvent } from '@pulse/protocol';
import { openSqliteStore } from '../src/store/sqlite.js';
import type { Store } from '../src/ports.js';
import { tempDir, cleanup } from './core-helpers.js';

/** The schema of the per-event row layout, as the store created it before segments (copied, not imported). */
const OLD_SCHEMA = `
CREATE TABLE IF NOT EXISTS events (
  seq INTEGER PRIMARY KEY AUTOINCREMENT,
  id TEXT NOT NULL,
  dedupe INTEGER NOT NULL DEFAULT 1,
  channel TEXT NOT NULL,
  type TEXT NOT NULL,
  ts INTEGER NOT NULL,
  off INTEGER NOT NULL,
  epoch TEXT NOT NULL,
  data TEXT NOT NULL,
  user_id TEXT,
  org_id TEXT,
  tx_id TEXT,
  block_height INTEGER,
  ingested_at INTEGER NOT NULL
);
CREATE UNIQUE INDEX IF NOT EXISTS events_channel_off ON events(channel, epoch, off);
CREATE UNIQUE INDEX IF NOT EXISTS events_id ON events(id) WHERE dedupe = 1;
CREATE INDEX IF NOT EXISTS events_ingested ON events(ingested_at);
CREATE TABLE IF NOT EXISTS channels (channel TEXT PRIMARY KEY, epoch TEXT NOT NULL, head INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS channel_stats (
  channel TEXT NOT NULL, type TEXT NOT NULL, count INTEGER NOT NULL, last_ts INTEGER NOT NULL,
  PRIMARY KEY (channel, type)
);
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
`;

/** The segment layout before the per-channel chain (copied, not imported): no `prev`, no `marks`, no `channels.tail`, the `segments_after` index. */
const SEGMENT_SCHEMA = `
CREATE TABLE IF NOT EXISTS segments (
  seq INTEGER PRIMARY KEY,
  base INTEGER NOT NULL,
  last_seq INTEGER NOT NULL,
  n INTEGER NOT NULL,
  channel TEXT NOT NULL,
  epoch TEXT NOT NULL,
  first_off INTEGER NOT NULL,
  last_off INTEGER NOT NULL,
  at INTEGER NOT NULL,
  oldest_at INTEGER NOT NULL,
  newest_at INTEGER NOT NULL,
  events TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS segments_after ON segments(channel, epoch, last_off);
CREATE INDEX IF NOT EXISTS segments_age ON segments(oldest_at);
CREATE TABLE IF NOT EXISTS event_ids (seq INTEGER PRIMARY KEY, id TEXT NOT NULL UNIQUE);
CREATE TABLE IF NOT EXISTS store_seq (one INTEGER PRIMARY KEY CHECK (one = 1), hwm INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS channels (channel TEXT PRIMARY KEY, epoch TEXT NOT NULL, head INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS channel_stats (
  channel TEXT NOT NULL, type TEXT NOT NULL, count INTEGER NOT NULL, last_ts INTEGER NOT NULL,
  PRIMARY KEY (channel, type)
);
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
`;

const item = (e: PulseEvent, at = Date.now(), dedupe = true) => ({ event: e, dataJson: JSON.stringify(e.data), ingestedAt: at, dedupe });

const dirs: string[] = [];
const stores: Store[] = [];
afterEach(async () => {
  for (const s of stores.splice(0)) await s.close();
  for (const d of dirs.splice(0)) cleanup(d);
});
function open(path: string, opts?: { checkpointMs?: number }): Store {
  const s = openSqliteStore(path, opts);
  stores.push(s);
  return s;
}
function newPath(): string {
  const d = tempDir();
  dirs.push(d);
  return join(d, 'pulse.db');
}

describe('SQLite store: files of the per-event row layout', () => {
  it('converts the events table at open: every event readable, ids deduplicated, scan order, seqs and offsets continue', async () => {
    const path = newPath();
    const old = new Database(path);
    old.pragma('journal_mode = WAL');
    old.exec(OLD_SCHEMA);
    const ins = old.prepare(
      `INSERT INTO events (id, channel, type, ts, off, epoch, data, user_id, org_id, tx_id, block_height, ingested_at, dedupe)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
    );
    // 2500 rows (more than one conversion chunk) over three channels, interleaved; one with every
    // optional field; every third id generated (dedupe 0); ingest times that vary within a channel.
    const chans = ['m:a', 'm:b', 'm:c'];
    const offs: Record<string, number> = {};
    const expected: Array<{ id: string; channel: string; offset: number }> = [];
    for (let i = 0; i < 2500; i++) {
      const ch = chans[(i * 7) % 3 === 0 ? 0 : i % 3];
      const off = (offs[ch] = (offs[ch] ?? 0) + 1);
      const id = i % 3 === 0 ? `gen-${i}` : `client-${i}`;
      const extra = i === 10;
      ins.run(id, ch, i % 2 ? 't' : 'u', 5000 + i, off, 'ep', JSON.stringify({ i, s: 'x"y' }), extra ? 'u1' : null, extra ? 'o1' : null, extra ? '0xab' : null, extra ? 42 : null, 1000 + i, i % 3 === 0 ? 0 : 1);
      expected.push({ id, channel: ch, offset: off });
    }
    for (const ch of chans) old.prepare(`INSERT INTO channels (channel, epoch, head) VALUES (?, 'ep', ?)`).run(ch, offs[ch]);
    old.prepare(`INSERT INTO channel_stats (channel, type, count, last_ts) VALUES ('m:a', 't', 5, 1)`).run();
    old.prepare(`INSERT INTO meta (key, value) VALUES ('k', 'v')`).run();
    // A deleted newest row: AUTOINCREMENT never handed its seq out again, and neither may we.
    ins.run('gone', 'm:z', 't', 1, 1, 'ep', '{}', null, null, null, null, 1, 1);
    old.prepare(`DELETE FROM events WHERE id = 'gone'`).run();
    const lastOldSeq = (old.prepare(`SELECT seq FROM sqlite_sequence WHERE name = 'events'`).pluck().get() as number);
    old.close();

    const store = open(path);
    const check = new Database(path, { readonly: true });
    expect(check.prepare(`SELECT count(*) FROM sqlite_master WHERE name = 'events'`).pluck().get()).toBe(0);
    check.close();

    const scanned = await store.scan(0, 10_000);
    expect(scanned.map((s) => s.event.id)).toEqual(expected.map((e) => e.id));
    expect(scanned.map((s) => s.seq)).toEqual(expected.map((_, i) => i + 1));
    const paged: string[] = [];
    for (let after = 0; ; ) {
      const p = await store.scan(after, 333);
      if (p.length === 0) break;
      paged.push(...p.map((s) => s.event.id));
      after = p[p.length - 1].seq;
    }
    expect(paged).toEqual(expected.map((e) => e.id));
    expect(scanned[10].event).toEqual({
      id: 'client-10', channel: expected[10].channel, type: 'u', ts: 5010, data: { i: 10, s: 'x"y' }, offset: expected[10].offset, epoch: 'ep',
      userId: 'u1', orgId: 'o1', txId: '0xab', blockHeight: 42,
    });
    for (const ch of chans) {
      const mine = expected.filter((e) => e.channel === ch);
      expect((await store.readAfter(ch, 'ep', 0, 10_000)).map((e) => e.id)).toEqual(mine.map((e) => e.id));
      expect((await store.readAfter(ch, 'ep', 100, 5)).map((e) => e.offset)).toEqual([101, 102, 103, 104, 105]);
      expect((await store.latest(ch, 3)).map((e) => e.id)).toEqual(mine.slice(-3).map((e) => e.id));
    }
    expect(await store.has('client-1')).toBe(true);
    expect(await store.has('gen-0')).toBe(false); // generated ids were never deduplicated
    const clientIds = expected.filter((e) => e.id.startsWith('client-')).map((e) => e.id);
    expect(await store.recentIds(3)).toEqual(clientIds.slice(-3).reverse());
    const inB = expected.flatMap((e, i) => (e.channel === 'm:b' ? [i] : []));
    expect((await store.latestMatching('m:b', 'i', inB[inB.length - 1]))?.id).toBe(expected[inB[inB.length - 1]].id);
    expect((await store.latestMatching('m:b', 'i', inB[0]))?.id).toBe(expected[inB[0]].id);
    expect(await store.latestMatching('m:b', 'i', String(inB[0]))).toBeNull();
    expect(await store.getMeta('k')).toBe('v');
    expect((await store.stats('m:a')).totalEvents).toBe(5);
    expect(await store.heads()).toEqual(expect.arrayContaining(chans.map((ch) => ({ channel: ch, epoch: 'ep', offset: offs[ch] }))));

    // New commits: old client ids are duplicates, seqs continue above the old high-water mark,
    // offsets continue after the old heads.
    const next = (ch: string, id: string): PulseEvent => ({ id, channel: ch, type: 't', ts: 1, data: { n: 1 }, offset: ++offs[ch], epoch: 'ep' });
    store.enqueue([item(next('m:a', 'client-1')), item(next('m:a', 'new-1')), item(next('m:b', 'new-2'))]);
    expect([...(await store.commit())].map((it) => it.event.id)).toEqual(['client-1']);
    const tail = await store.scan(scanned[scanned.length - 1].seq, 10);
    expect(tail.map((s) => s.event.id)).toEqual(['new-1', 'new-2']);
    expect(tail[0].seq).toBeGreaterThan(lastOldSeq);
    expect((await store.readAfter('m:a', 'ep', offs['m:a'] - 2, 10)).map((e) => e.id)).toEqual(['new-1']);
    expect(await store.recentIds(1)).toEqual(['new-2']);

    // Reopening a converted file converts nothing again.
    await store.close();
    const again = open(path);
    expect((await again.scan(0, 10_000)).length).toBe(2502);
  });

  it('converts a file from before the dedupe column (every id deduplicated)', async () => {
    const path = newPath();
    const old = new Database(path);
    old.exec(OLD_SCHEMA.replace('  dedupe INTEGER NOT NULL DEFAULT 1,\n', '').replace(' WHERE dedupe = 1', ''));
    old.prepare(`INSERT INTO events (id, channel, type, ts, off, epoch, data, ingested_at) VALUES ('a', 'q:1', 't', 1, 1, 'e', '{"v":1}', 10)`).run();
    old.close();
    const store = open(path);
    expect(await store.has('a')).toBe(true);
    expect((await store.latest('q:1', 5)).map((e) => e.data)).toEqual([{ v: 1 }]);
  });
});

describe('SQLite store: segments', () => {
  it('reports an id repeated within one batch as a duplicate and counts only the stored copy', async () => {
    const store = open(newPath());
    const e = (off: number, id: string): PulseEvent => ({ id, channel: 'd:1', type: 't', ts: off, data: {}, offset: off, epoch: 'e' });
    const batch = [item(e(1, 'x')), item(e(2, 'x')), item(e(3, 'y'))];
    store.enqueue(batch);
    // The second copy itself: the first went in.
    const dropped = [...(await store.commit())];
    expect(dropped).toHaveLength(1);
    expect(dropped[0]).toBe(batch[1]);
    expect((await store.readAfter('d:1', 'e', 0, 10)).map((x) => x.offset)).toEqual([1, 3]);
    expect((await store.stats('d:1')).totalEvents).toBe(2);
    expect((await store.stats('d:1')).offset).toBe(3);
  });

  it('keeps ids, types and fields that need JSON escaping exactly', async () => {
    const path = newPath();
    let store = open(path);
    const odd = ['a"b', 'back\\slash', 'line\nbreak', 'ünï ✓', 'tab\t', 'end\n'];
    const events: PulseEvent[] = odd.map((s, i) => ({ id: s + i, channel: 'j:1', type: s, ts: 1.5 + i, data: { s }, offset: i + 1, epoch: 'e"1', userId: s, txId: s }));
    store.enqueue(events.map((e) => item(e)));
    await store.commit();
    await store.close();
    store = open(path);
    expect(await store.readAfter('j:1', 'e"1', 0, 10)).toEqual(events);
    for (const e of events) expect(await store.has(e.id)).toBe(true);
  });

  it('prunes the older part of a segment, keeps the rest readable, and deletes the pruned ids', async () => {
    const store = open(newPath());
    const e = (off: number, extra: Partial<PulseEvent> = {}): PulseEvent => ({ id: `r-${off}`, channel: 'r:1', type: 't', ts: off, data: { off }, offset: off, epoch: 'e', ...extra });
    store.enqueue([item(e(1), 100), item(e(2, { userId: 'u' }), 100, false), item(e(3), 300), item(e(4, { blockHeight: 9 }), 200)]);
    await store.commit();
    expect(await store.prune('r', 150)).toBe(2);
    expect(await store.has('r-1')).toBe(false);
    expect(await store.has('r-3')).toBe(true);
    expect((await store.readAfter('r:1', 'e', 0, 10)).map((x) => x.offset)).toEqual([3, 4]);
    expect((await store.latest('r:1', 10))[1]).toEqual(e(4, { blockHeight: 9 }));
    expect(await store.prune('r', 250)).toBe(1);
    expect((await store.scan(0, 10)).map((s) => s.event.id)).toEqual(['r-3']);
    expect(await store.prune('r', 301)).toBe(1);
    expect(await store.scan(0, 10)).toEqual([]);
    expect(await store.recentIds(10)).toEqual([]);
  });
});

describe('SQLite store: checkpointed heads and stats', () => {
  /**
   * Random commits over a few channels: several types, client ids repeated across and within
   * commits (duplicates; in every `dupEvery`th commit), generated ids, epoch changes (c:b to e2;
   * c:c to e2 and back to e1 within three commits, offsets starting again each time), ingest times out of order.
   */
  function workload(seed: number, commits: number, dupEvery = 1) {
    let x = seed;
    const rnd = (n: number) => {
      x = (x * 48271) % 2147483647; // exact in doubles
      return x % n;
    };
    const chans = ['c:a', 'c:b', 'c:c', 'c:d'];
    const offs: Record<string, number> = {};
    const epochs: Record<string, string> = {};
    const out: Array<ReturnType<typeof item>[]> = [];
    for (let c = 0; c < commits; c++) {
      const batch: ReturnType<typeof item>[] = [];
      for (let i = 0, n = 1 + rnd(40); i < n; i++) {
        const ch = chans[rnd(chans.length)];
        if (c === Math.floor(commits / 2) && ch === 'c:b' && epochs[ch] !== 'e2') {
          epochs[ch] = 'e2'; // a new epoch: offsets start again
          offs[ch] = 0;
        }
        const flip = c === 21 ? 'e2' : c === 24 ? 'e1' : null; // between two commits with duplicates (dupEvery 10)
        if (flip !== null && ch === 'c:c' && (epochs[ch] ?? 'e1') !== flip) {
          epochs[ch] = flip;
          offs[ch] = 0;
        }
        const client = c % dupEvery === 0 && rnd(3) === 0;
        const id = client ? `id-${rnd(60)}` : `gen-${c}-${i}`;
        const e: PulseEvent = { id, channel: ch, type: `t${rnd(3)}`, ts: 1, data: { c, i }, offset: (offs[ch] = (offs[ch] ?? 0) + 1), epoch: epochs[ch] ?? 'e1' };
        batch.push(item(e, 1000 + c * 10 + rnd(15), client));
      }
      out.push(batch);
    }
    return { chans, batches: out };
  }
  const sortHeads = (h: Array<{ channel: string }>) => [...h].sort((a, b) => a.channel.localeCompare(b.channel));
  /** The reference: a store that writes heads and stats every commit, as before checkpoints. */
  const everyCommit = () => open(newPath(), { checkpointMs: 0 });

  it('reads stats and heads live between checkpoints exactly as a store that writes them every commit', async () => {
    const { chans, batches } = workload(7, 60, 10);
    const every = everyCommit();
    const path = newPath();
    const never = open(path, { checkpointMs: Infinity });
    for (const b of batches) {
      every.enqueue(b);
      never.enqueue(b);
      expect([...(await never.commit())]).toEqual([...(await every.commit())]);
      for (const ch of chans) expect(await never.stats(ch)).toEqual(await every.stats(ch));
      expect(sortHeads(await never.heads())).toEqual(sortHeads(await every.heads()));
    }
    // The deltas were in play: without duplicates in a commit, the tables lag behind.
    const { batches: clean } = workload(8, 3);
    for (const b of clean) for (const it of b) it.dedupe = false;
    const peek = new Database(path, { readonly: true });
    const count = () => peek.prepare(`SELECT coalesce(sum(count), 0) FROM channel_stats`).pluck().get() as number;
    const before = count();
    for (const b of clean) {
      never.enqueue(b);
      await never.commit();
    }
    expect(count()).toBe(before);
    peek.close();
  });

  it('after a crash (a second handle on the file, the first never closed) heads and stats are exact', async () => {
    const { chans, batches } = workload(11, 80, 10);
    const every = everyCommit();
    const path = newPath();
    // Checkpoints now and then (duplicates, a prune): the crash leaves commits on both sides of the last one.
    const crashed = openSqliteStore(path, { checkpointMs: Infinity });
    for (let i = 0; i < batches.length; i++) {
      every.enqueue(batches[i]);
      crashed.enqueue(batches[i]);
      await every.commit();
      await crashed.commit();
      if (i === 55) await crashed.prune('none', Date.now()); // a checkpoint (prune writes one)
    }
    // No duplicates in the last commits, so they are only in the segments.
    const tail = workload(12, 5).batches;
    for (const b of tail) {
      for (const it of b) it.dedupe = false;
      every.enqueue(b);
      crashed.enqueue(b);
      await every.commit();
      await crashed.commit();
    }
    const reopened = open(path);
    for (const ch of chans) expect(await reopened.stats(ch)).toEqual(await every.stats(ch));
    expect(sortHeads(await reopened.heads())).toEqual(sortHeads(await every.heads()));
    // The replay was written: a third handle (no replay left to do) reads the same from the tables.
    const peek = new Database(path, { readonly: true });
    const rows = peek.prepare(`SELECT channel, epoch, head AS offset FROM channels`).all();
    peek.close();
    expect(sortHeads(rows as Array<{ channel: string }>)).toEqual(sortHeads(await every.heads()));
  });

  it('keeps the head of a channel whose every segment is pruned before a checkpoint, also across a crash', async () => {
    const path = newPath();
    const store = openSqliteStore(path, { checkpointMs: Infinity });
    const e = (off: number): PulseEvent => ({ id: `p-${off}`, channel: 'gone:x', type: 't', ts: 1, data: { off }, offset: off, epoch: 'ep' });
    store.enqueue([1, 2, 3].map((o) => item(e(o), 1000, false)));
    await store.commit();
    store.enqueue([4, 5].map((o) => item(e(o), 1001, false)));
    await store.commit();
    expect(await store.prune('gone', Date.now())).toBe(5);
    expect(await store.readAfter('gone:x', 'ep', 0, 10)).toEqual([]);
    const reopened = open(path); // the first handle is never closed
    expect(await reopened.heads()).toEqual([{ channel: 'gone:x', epoch: 'ep', offset: 5 }]);
    const st = await reopened.stats('gone:x');
    expect([st.epoch, st.offset, st.totalEvents]).toEqual(['ep', 5, 5]);
  });

  it('keeps the offset of a dropped duplicate across a crash (it is in no segment)', async () => {
    const path = newPath();
    const store = openSqliteStore(path, { checkpointMs: Infinity });
    const e = (id: string, off: number): PulseEvent => ({ id, channel: 'd:x', type: 't', ts: 1, data: {}, offset: off, epoch: 'ep' });
    store.enqueue([item(e('a', 1)), item(e('b', 2))]);
    await store.commit();
    store.enqueue([item(e('a', 3))]);
    expect([...(await store.commit())].map((it) => it.event.id)).toEqual(['a']);
    const reopened = open(path);
    expect(await reopened.heads()).toEqual([{ channel: 'd:x', epoch: 'ep', offset: 3 }]);
    expect((await reopened.stats('d:x')).totalEvents).toBe(2);
  });
});

describe('SQLite store: WAL checkpoints on their own thread', () => {
  const ev = (i: number): PulseEvent => ({ id: `w${i}`, channel: `bench:${i % 50}`, type: 't', ts: 1, data: { pad: 'x'.repeat(1000), i }, offset: Math.floor(i / 50) + 1, epoch: 'E' });
  async function writeMB(store: Store, from: number, n: number): Promise<void> {
    for (let i = from; i < from + n; i += 100) {
      store.enqueue(Array.from({ length: 100 }, (_, k) => item(ev(i + k))));
      await store.commit();
      await new Promise((r) => setImmediate(r));
    }
  }
  const size = (p: string) => (existsSync(p) ? statSync(p).size : 0);

  it('copies the log back into the file while commits go on, and the last close removes the log', async () => {
    const path = newPath();
    const store = open(path);
    // One commit of ~5 MB, past the 1,000 pages at which SQLite's automatic checkpoint would copy
    // the log inside the commit: automatic checkpoints are off, and the thread waits DELAY_MS
    // after the commit, so the file has not grown when it returns.
    store.enqueue(Array.from({ length: 5000 }, (_, k) => item(ev(k))));
    await store.commit();
    expect(size(path)).toBeLessThan(1_000_000);
    // ~1 MB more in commits while the thread copies: the file grows only through its checkpoints.
    await writeMB(store, 5000, 1000);
    const deadline = Date.now() + 10_000;
    while (size(path) < 5_000_000 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    expect(size(path)).toBeGreaterThan(5_000_000);
    await store.close();
    stores.splice(stores.indexOf(store), 1);
    expect(existsSync(path + '-wal')).toBe(false);
    const again = open(path);
    expect((await again.readAfter('bench:7', 'E', 0, 1000)).length).toBe(120);
  });

  it('a close that is the last thing a process does finishes: exit code 0 and the log removed', async () => {
    // The thread is unreferenced while it works; during close it must hold the process open, or
    // the process ends before the last close copies the log back (Node's exit code 13: an await
    // that never settled).
    const path = newPath();
    const src = fileURLToPath(new URL('../src/store/sqlite.ts', import.meta.url));
    const script = [
      `import { openSqliteStore } from ${JSON.stringify(pathToFileURL(src).href)};`,
      `const store = openSqliteStore(${JSON.stringify(path)});`,
      `store.enqueue([{ event: { id: 'a', channel: 'c:1', type: 't', ts: 1, data: {}, offset: 1, epoch: 'E' }, dataJson: '{}', ingestedAt: 1 }]);`,
      `await store.commit();`,
      `await store.close();`,
    ].join('\n');
    const r = spawnSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], { encoding: 'utf8', timeout: 30_000 });
    expect(r.stderr).not.toMatch(/Error/);
    expect(r.status).toBe(0);
    expect(existsSync(path + '-wal')).toBe(false);
    const again = open(path);
    expect((await again.readAfter('c:1', 'E', 0, 10)).map((e) => e.id)).toEqual(['a']);
  });

  it('makes new files with 16 KiB pages; a file made with 4 KiB pages keeps them and works', async () => {
    const path = newPath();
    const store = open(path);
    await writeMB(store, 0, 500);
    await store.close();
    stores.splice(stores.indexOf(store), 1);
    const db = new Database(path, { readonly: true });
    expect(db.pragma('page_size', { simple: true })).toBe(16_384);
    db.close();

    const oldPath = newPath();
    const raw = new Database(oldPath);
    raw.pragma('page_size = 4096');
    raw.pragma('journal_mode = WAL');
    raw.exec('CREATE TABLE keep (x)');
    raw.close();
    const old = open(oldPath);
    await writeMB(old, 0, 500);
    expect((await old.readAfter('bench:7', 'E', 0, 100)).length).toBe(10);
    await old.close();
    stores.splice(stores.indexOf(old), 1);
    const check = new Database(oldPath, { readonly: true });
    expect(check.pragma('page_size', { simple: true })).toBe(4096);
    check.close();
  });

  it('inline: SQLite checkpoints inside the commits, as before', async () => {
    const path = newPath();
    const store = openSqliteStore(path, { walCheckpoints: 'inline' });
    stores.push(store);
    await writeMB(store, 0, 6000);
    // The automatic checkpoint runs every 1,000 pages, synchronously in the commit that passes it.
    expect(size(path)).toBeGreaterThan(4_000_000);
    expect(size(path + '-wal')).toBeLessThan(8_000_000);
    // Inside the commit itself: after a quiet spell, one ~5 MB commit has grown the file when it
    // returns (a thread would not have started its checkpoint yet, as the test above shows).
    await new Promise((r) => setTimeout(r, 100));
    const before = size(path);
    store.enqueue(Array.from({ length: 5000 }, (_, k) => item(ev(6000 + k))));
    await store.commit();
    expect(size(path)).toBeGreaterThan(before + 4_000_000);
  });
});

describe('SQLite store: the per-channel chain and its marks', () => {
  /** One stored event of the brute-force model, in acceptance (seq) order. */
  interface Model {
    id: string;
    channel: string;
    epoch: string;
    offset: number;
    at: number;
    v: number;
  }
  const event = (m: Model): PulseEvent => ({ id: m.id, channel: m.channel, type: 't', ts: m.offset, data: { v: m.v }, offset: m.offset, epoch: m.epoch });
  const want = {
    readAfter: (model: Model[], ch: string, ep: string, after: number, limit: number) =>
      model.filter((m) => m.channel === ch && m.epoch === ep && m.offset > after).sort((x, y) => x.offset - y.offset).slice(0, limit).map((m) => m.id),
    latest: (model: Model[], ch: string, limit: number) => (limit <= 0 ? [] : model.filter((m) => m.channel === ch).slice(-limit).map((m) => m.id)),
    matching: (model: Model[], ch: string, v: number) => model.filter((m) => m.channel === ch && m.v === v).pop()?.id ?? null,
  };
  /** Every read of the chain compared with the model, for each channel and epoch in it. */
  async function compare(store: Store, model: Model[]): Promise<void> {
    const runs = [...new Set(model.map((m) => m.channel + '|' + m.epoch))].map((s) => s.split('|') as [string, string]);
    for (const [ch, ep] of runs) {
      const max = Math.max(...model.filter((m) => m.channel === ch && m.epoch === ep).map((m) => m.offset));
      for (const after of [0, 1, 2, 31, 32, 33, 63, 64, 65, Math.floor(max / 2), max - 1, max, max + 3])
        for (const limit of [1, 5, 33, 100, 1000]) {
          const got = (await store.readAfter(ch, ep, after, limit)).map((e) => e.id);
          expect(got, `readAfter(${ch}, ${ep}, ${after}, ${limit})`).toEqual(want.readAfter(model, ch, ep, after, limit));
        }
      // Paging through the whole epoch, 7 at a time.
      const paged: string[] = [];
      for (let after = 0; ; ) {
        const p = await store.readAfter(ch, ep, after, 7);
        if (p.length === 0) break;
        paged.push(...p.map((e) => e.id));
        after = p[p.length - 1].offset;
      }
      expect(paged).toEqual(want.readAfter(model, ch, ep, 0, Infinity));
    }
    expect(await store.readAfter('k:big', 'nope', 0, 10)).toEqual([]);
    for (const ch of new Set(model.map((m) => m.channel))) {
      for (const limit of [0, 1, 2, 10, 40, 1000]) expect((await store.latest(ch, limit)).map((e) => e.id), `latest(${ch}, ${limit})`).toEqual(want.latest(model, ch, limit));
      const last = model.filter((m) => m.channel === ch).pop()!;
      expect((await store.latest(ch, 1))[0]).toEqual(event(last));
      for (let v = 0; v <= 5; v++) expect((await store.latestMatching(ch, 'v', v))?.id ?? null, `latestMatching(${ch}, ${v})`).toBe(want.matching(model, ch, v));
    }
  }

  /**
   * A workload over k:big (in every commit, so well over 3 x 32 segments; its epoch changes from
   * e1 to e2 at its `flip`th event, offsets starting again, within a commit or at its start) and
   * k:a, k:b (picked by `picks`: 0-2 k:big again, 3 k:a, 4 k:b).
   */
  function build(commits: number[][], flip: number, state = { n: 0, big: 0, offs: {} as Record<string, number>, epochs: {} as Record<string, string> }) {
    const batches: Array<ReturnType<typeof item>[]> = [];
    const model: Model[] = [];
    for (const picks of commits) {
      const batch: ReturnType<typeof item>[] = [];
      for (const p of [0, ...picks]) {
        const ch = p <= 2 ? 'k:big' : p === 3 ? 'k:a' : 'k:b';
        if (ch === 'k:big' && ++state.big === flip) {
          state.epochs[ch] = 'e2';
          state.offs[ch] = 0;
        }
        const m: Model = { id: `k-${state.n}`, channel: ch, epoch: state.epochs[ch] ?? 'e1', offset: (state.offs[ch] = (state.offs[ch] ?? 0) + 1), at: 1000 + state.n, v: (state.n * 7) % 5 };
        state.n++;
        model.push(m);
        batch.push(item(event(m), m.at, false));
      }
      batches.push(batch);
    }
    return { batches, model, state };
  }
  async function commitAll(store: Store, batches: Array<ReturnType<typeof item>[]>): Promise<void> {
    for (const b of batches) {
      store.enqueue(b);
      await store.commit();
    }
  }

  it('reads as the brute-force answer across marks, an epoch change, a reopen or a crash, and commits after it', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.array(fc.nat(4), { maxLength: 5 }), { minLength: 100, maxLength: 150 }),
        fc.array(fc.array(fc.nat(4), { maxLength: 5 }), { minLength: 1, maxLength: 40 }),
        fc.integer({ min: 1, max: 260 }),
        fc.constantFrom<'close' | 'crash'>('close', 'crash'),
        fc.constantFrom(0, 1000, Infinity),
        async (first, second, flip, how, checkpointMs) => {
          const path = newPath();
          const a = build(first, flip);
          const s1 = openSqliteStore(path, { checkpointMs, walCheckpoints: 'inline' });
          await commitAll(s1, a.batches);
          await compare(s1, a.model);
          if (how === 'close') await s1.close(); // else the first handle is never closed
          const s2 = open(path);
          await compare(s2, a.model);
          const b = build(second, flip, a.state);
          await commitAll(s2, b.batches);
          await compare(s2, [...a.model, ...b.model]);
        },
      ),
      { numRuns: 12 },
    );
  });

  it('keeps the chain through a prune that deletes whole segments and rewrites a partial one', async () => {
    const path = newPath();
    const store = open(path);
    const model: Model[] = [];
    let n = 0;
    const offs: Record<string, number> = {};
    const add = (ch: string, at: number, epoch = 'e1'): PulseEvent => {
      const m: Model = { id: `p-${n}`, channel: ch, epoch, offset: (offs[ch + epoch] = (offs[ch + epoch] ?? 0) + 1), at, v: n % 5 };
      n++;
      model.push(m);
      return event(m);
    };
    // q:big: one segment per commit, the 96th (marked), the last one partly old, with a new event
    // first and an old one last; q:gone: every segment old; q:odd: its newest segment is the
    // oldest by ingest time; q:gap: its middle segment is old.
    for (let c = 0; c < 200; c++) {
      const batch = [];
      if (c === 95) batch.push(item(add('q:big', 5000), 5000, false), item(add('q:big', 10), 10, false));
      else batch.push(item(add('q:big', 1000 + c * 10), 1000 + c * 10, false));
      if (c < 3) batch.push(item(add('q:gone', 100 + c), 100 + c, false));
      if (c === 10 || c === 11) batch.push(item(add('q:odd', 9000), 9000, false));
      if (c === 12) batch.push(item(add('q:odd', 50), 50, false));
      if (c >= 20 && c < 23) batch.push(item(add('q:gap', c === 21 ? 10 : 5000), c === 21 ? 10 : 5000, false));
      store.enqueue(batch);
      await store.commit();
    }
    const cutoff = 1000 + 96 * 10; // q:big keeps commits 96.. and the new half of commit 95
    const marked = (seq: number) => {
      const peek = new Database(path, { readonly: true });
      const r = peek.prepare(`SELECT last_off FROM marks WHERE channel = 'q:big' AND seq = ?`).pluck().get(seq) as number | undefined;
      peek.close();
      return r;
    };
    const seg95 = (await store.scan(0, 10_000)).find((s) => s.event.id === model.find((m) => m.channel === 'q:big' && m.at === 5000)!.id)!.seq;
    expect(marked(seg95)).toBe(97); // offsets 96 (new) and 97 (old)
    const removed = await store.prune('q', cutoff);
    expect(marked(seg95)).toBe(96); // the mark follows the rewritten segment's last offset
    const kept = model.filter((m) => m.at >= cutoff && m.channel !== 'q:gap');
    expect(removed).toBe(model.filter((m) => m.at < cutoff).length);
    // q:big's history now starts at the rewritten segment, whose prev is gone: the chain ends there.
    const peek = new Database(path, { readonly: true });
    expect(peek.prepare(`SELECT count(*) FROM marks WHERE channel = 'q:big' AND seq NOT IN (SELECT seq FROM segments)`).pluck().get()).toBe(0);
    expect(peek.prepare(`SELECT count(*) FROM marks WHERE channel = 'q:gone'`).pluck().get()).toBe(0);
    peek.close();
    await compare(store, kept);
    expect(await store.latest('q:gone', 5)).toEqual([]);
    // A segment gone from the middle of a chain: the channel's history ends there.
    const gap = model.filter((m) => m.channel === 'q:gap');
    expect((await store.latest('q:gap', 10)).map((e) => e.id)).toEqual([gap[2].id]);
    expect((await store.readAfter('q:gap', 'e1', 0, 10)).map((e) => e.id)).toEqual([gap[2].id]);
    expect((await store.latestMatching('q:gap', 'v', gap[0].v))?.id ?? null).toBe(gap[2].v === gap[0].v ? gap[2].id : null);
    // Commits after the prune: q:gone starts a new chain, q:odd continues from its moved-back tail.
    const after: ReturnType<typeof item>[] = [item(add('q:gone', 20000), 20000, false), item(add('q:odd', 20000), 20000, false), item(add('q:big', 20000, 'e2'), 20000, false)];
    store.enqueue(after);
    await store.commit();
    const now = model.filter((m) => m.at >= cutoff && m.channel !== 'q:gap');
    await compare(store, now);
    await store.close();
    stores.splice(stores.indexOf(store), 1);
    await compare(open(path), now);
  });

  it('converts a file of the segment layout without the chain: links, marks, tails, replay above the watermark', async () => {
    const path = newPath();
    const old = new Database(path);
    old.pragma('journal_mode = WAL');
    old.exec(SEGMENT_SCHEMA);
    const ins = old.prepare(
      `INSERT INTO segments (seq, base, last_seq, n, channel, epoch, first_off, last_off, at, oldest_at, newest_at, events) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
    );
    // Commits of 1-3 events over m:a (100 events; e1 then e2 from its 70th) and m:b; one segment
    // per (channel, epoch) per commit, as the store wrote them.
    const model: Model[] = [];
    const offs: Record<string, number> = {};
    let seq = 0;
    for (let c = 0; c < 100; c++) {
      const base = seq + 1;
      const evs: Model[] = [];
      const chans = c % 3 === 0 ? ['m:a', 'm:b', 'm:a'] : ['m:a'];
      for (const ch of chans) {
        const epoch = ch === 'm:a' && model.filter((m) => m.channel === 'm:a').length + evs.filter((m) => m.channel === 'm:a').length >= 69 ? 'e2' : 'e1';
        if (ch === 'm:a' && epoch === 'e2' && !offs['m:a:e2']) offs['m:a:e2'] = 0;
        const key = ch + ':' + epoch;
        evs.push({ id: `o-${seq + evs.length + 1}`, channel: ch, epoch, offset: (offs[key] = (offs[key] ?? 0) + 1), at: 1000 + c, v: (seq + evs.length) % 5 });
      }
      const seqs = evs.map(() => ++seq);
      const groups = new Map<string, number[]>();
      evs.forEach((m, i) => groups.set(m.channel + '|' + m.epoch, [...(groups.get(m.channel + '|' + m.epoch) ?? []), i]));
      for (const [k, idx] of groups) {
        const [ch, ep] = k.split('|');
        const text = '[[' + idx.map((i) => seqs[i]).join(',') + '],' + idx.map((i) => `["${evs[i].id}","t",${evs[i].offset},${evs[i].offset},{"v":${evs[i].v}},0]`).join(',') + ']';
        const f = evs[idx[0]], l = evs[idx[idx.length - 1]];
        ins.run(seqs[idx[0]], base, seqs[idx[idx.length - 1]], idx.length, ch, ep, f.offset, l.offset, f.at, f.at, l.at, text);
      }
      model.push(...evs);
    }
    // Checkpointed up to commit 80's last seq: the rest is replayed at open.
    const watermark = seq - 20 - 7 * 2; // commits 81..99: 19 single-event commits and 6 of three
    const upTo = model.slice(0, watermark);
    for (const ch of ['m:a', 'm:b']) {
      const last = upTo.filter((m) => m.channel === ch).pop()!;
      old.prepare(`INSERT INTO channels (channel, epoch, head) VALUES (?, ?, ?)`).run(ch, last.epoch, last.offset);
    }
    old.prepare(`INSERT INTO store_seq (one, hwm) VALUES (1, ?)`).run(watermark);
    old.close();

    let store = open(path);
    const peek = new Database(path, { readonly: true });
    expect(peek.prepare(`SELECT count(*) FROM sqlite_master WHERE name = 'segments_after'`).pluck().get()).toBe(0);
    // m:a has 100 + 34 segments... one per commit it is in, plus one at its epoch change within a commit if any.
    const segs = peek.prepare(`SELECT seq, prev, channel FROM segments ORDER BY seq`).all() as Array<{ seq: number; prev: number; channel: string }>;
    const lastOf: Record<string, number> = {};
    for (const s of segs) {
      expect(s.prev).toBe(lastOf[s.channel] ?? 0);
      lastOf[s.channel] = s.seq;
    }
    expect(peek.prepare(`SELECT channel, tail FROM channels ORDER BY channel`).all()).toEqual([
      { channel: 'm:a', tail: lastOf['m:a'] },
      { channel: 'm:b', tail: lastOf['m:b'] },
    ]);
    const marks = peek.prepare(`SELECT epoch, seq FROM marks WHERE channel = 'm:a' ORDER BY seq`).all() as Array<{ epoch: string; seq: number }>;
    const aSegs = segs.filter((s) => s.channel === 'm:a');
    const lastE1 = aSegs.filter((s) => (peek.prepare(`SELECT epoch FROM segments WHERE seq = ?`).pluck().get(s.seq) as string) === 'e1').pop()!;
    expect(marks.map((m) => m.seq)).toEqual([...new Set([...aSegs.filter((_, i) => (i + 1) % 32 === 0).map((s) => s.seq), lastE1.seq])].sort((x, y) => x - y));
    peek.close();
    await compare(store, model);
    expect(await store.heads()).toEqual(expect.arrayContaining(['m:a', 'm:b'].map((ch) => ({ channel: ch, epoch: model.filter((m) => m.channel === ch).pop()!.epoch, offset: model.filter((m) => m.channel === ch).pop()!.offset }))));
    // New commits continue the chains; a reopen reads the same.
    const more: Model[] = [];
    for (let i = 0; i < 40; i++) more.push({ id: `new-${i}`, channel: 'm:a', epoch: 'e2', offset: ++offs['m:a:e2'], at: 5000, v: i % 5 });
    for (const m of more) {
      store.enqueue([item(event(m), m.at, false)]);
      await store.commit();
    }
    await compare(store, [...model, ...more]);
    await store.close();
    stores.splice(stores.indexOf(store), 1);
    store = open(path);
    await compare(store, [...model, ...more]);
  });

  it('marks at least every 32nd segment of a chain however often the store restarts (reopens and crashes) between fewer segments than that', async () => {
    // How many segments a channel has written since its last mark is counted in memory. Counted
    // from zero again at every open, a channel that gets fewer than 32 segments per process never
    // got a mark at all, and every readAfter below its tail walked the whole history back from it.
    const path = newPath();
    const model: Model[] = [];
    const offs: Record<string, number> = {};
    let store: Store | null = null;
    for (let run = 0; run < 12; run++) {
      // Every third run ends in a crash: its handle is never closed, and heads and tails are
      // checkpointed only at a close, so the next open replays all of that run.
      if (store !== null && run % 3 !== 0) await store.close();
      store = openSqliteStore(path, { walCheckpoints: 'inline', checkpointMs: Infinity });
      for (let c = 0; c < 20; c++) {
        const batch = [];
        for (const ch of c % 4 === 0 ? ['w:a', 'w:b'] : ['w:a']) {
          const m: Model = { id: `w-${model.length}`, channel: ch, epoch: 'e1', offset: (offs[ch] = (offs[ch] ?? 0) + 1), at: 1000 + model.length, v: model.length % 5 };
          model.push(m);
          batch.push(item(event(m), m.at, false));
        }
        store.enqueue(batch);
        await store.commit();
      }
    }
    const peek = new Database(path, { readonly: true });
    for (const ch of ['w:a', 'w:b']) {
      const segs = peek.prepare(`SELECT seq FROM segments WHERE channel = ? ORDER BY seq`).pluck().all(ch) as number[];
      const marked = new Set(peek.prepare(`SELECT seq FROM marks WHERE channel = ?`).pluck().all(ch) as number[]);
      let run = 0;
      let longest = 0;
      for (const seq of segs) {
        run = marked.has(seq) ? 0 : run + 1;
        longest = Math.max(longest, run);
      }
      expect(segs.length).toBe(model.filter((m) => m.channel === ch).length);
      expect(longest, `${ch}: the longest run of segments without a mark`).toBeLessThan(32);
    }
    peek.close();
    stores.push(store!);
    await compare(store!, model);
  });
});
