/**
 * The embedded store: one SQLite file in WAL mode through better-sqlite3. Writes are group
 * committed: the hub enqueues everything accepted in one event-loop turn and commits it in one
 * transaction. better-sqlite3 is synchronous, so the promises here resolve at once; the port is
 * async for the PostgreSQL driver.
 */
import Database from 'better-sqlite3';
import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import type { PulseEvent, ChannelStats } from '@pulse/protocol';
import type { Store, StoreItem, StoredEvent, ChannelHead } from '../ports.js';
import { channelStats, summarizeBatch } from './batch.js';

interface EventRow {
  seq: number;
  id: string;
  channel: string;
  type: string;
  ts: number;
  off: number;
  epoch: string;
  data: string;
  user_id: string | null;
  org_id: string | null;
  tx_id: string | null;
  block_height: number | null;
}

const SCHEMA = `
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
-- Only client-supplied ids can repeat; generated UUIDs skip the (costly, random-key) unique check.
CREATE UNIQUE INDEX IF NOT EXISTS events_id ON events(id) WHERE dedupe = 1;
CREATE INDEX IF NOT EXISTS events_ingested ON events(ingested_at);
CREATE TABLE IF NOT EXISTS channels (channel TEXT PRIMARY KEY, epoch TEXT NOT NULL, head INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS channel_stats (
  channel TEXT NOT NULL, type TEXT NOT NULL, count INTEGER NOT NULL, last_ts INTEGER NOT NULL,
  PRIMARY KEY (channel, type)
);
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
`;

export function rowToEvent(r: EventRow): PulseEvent {
  const e: PulseEvent = { id: r.id, channel: r.channel, type: r.type, ts: r.ts, data: JSON.parse(r.data), offset: r.off, epoch: r.epoch };
  if (r.user_id !== null) e.userId = r.user_id;
  if (r.org_id !== null) e.orgId = r.org_id;
  if (r.tx_id !== null) e.txId = r.tx_id;
  if (r.block_height !== null) e.blockHeight = r.block_height;
  return e;
}

export function openSqliteStore(path: string, opts: { sync?: 'normal' | 'full' } = {}): Store {
  mkdirSync(dirname(path), { recursive: true });
  const db = new Database(path);
  db.pragma('journal_mode = WAL');
  db.pragma(`synchronous = ${opts.sync === 'full' ? 'FULL' : 'NORMAL'}`);
  db.pragma('busy_timeout = 5000');
  // Files made before the dedupe column keep their table-wide UNIQUE(id): correct, only slower.
  const cols = db.prepare(`SELECT name FROM pragma_table_info('events')`).all() as Array<{ name: string }>;
  if (cols.length && !cols.some((c) => c.name === 'dedupe')) db.exec('ALTER TABLE events ADD COLUMN dedupe INTEGER NOT NULL DEFAULT 1');
  db.exec(SCHEMA);

  const insert = db.prepare(
    `INSERT OR IGNORE INTO events (id, channel, type, ts, off, epoch, data, user_id, org_id, tx_id, block_height, ingested_at, dedupe)
     VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
  );
  const upsertHead = db.prepare(
    `INSERT INTO channels (channel, epoch, head) VALUES (?, ?, ?)
     ON CONFLICT(channel) DO UPDATE SET epoch = excluded.epoch,
       head = CASE WHEN channels.epoch = excluded.epoch THEN max(channels.head, excluded.head) ELSE excluded.head END`,
  );
  const upsertStats = db.prepare(
    `INSERT INTO channel_stats (channel, type, count, last_ts) VALUES (?, ?, ?, ?)
     ON CONFLICT(channel, type) DO UPDATE SET count = count + excluded.count, last_ts = max(last_ts, excluded.last_ts)`,
  );
  const selAfter = db.prepare(`SELECT * FROM events WHERE channel = ? AND epoch = ? AND off > ? ORDER BY off ASC LIMIT ?`);
  const selLatest = db.prepare(`SELECT * FROM (SELECT * FROM events WHERE channel = ? ORDER BY seq DESC LIMIT ?) ORDER BY seq ASC`);
  const selHeads = db.prepare(`SELECT channel, epoch, head AS offset FROM channels`);
  const selStats = db.prepare(`SELECT type, count, last_ts FROM channel_stats WHERE channel = ?`);
  const selHead = db.prepare(`SELECT epoch, head FROM channels WHERE channel = ?`);
  const selHas = db.prepare(`SELECT 1 FROM events WHERE id = ? AND dedupe = 1`);
  const selRecent = db.prepare(`SELECT id FROM events WHERE dedupe = 1 ORDER BY seq DESC LIMIT ?`);
  const selScan = db.prepare(`SELECT * FROM events WHERE seq > ? ORDER BY seq ASC LIMIT ?`);
  const selMatching = db.prepare(
    `SELECT * FROM events WHERE channel = ? AND json_extract(data, '$.' || ?) = ? ORDER BY seq DESC LIMIT 1`,
  );
  const getMeta = db.prepare(`SELECT value FROM meta WHERE key = ?`);
  const setMeta = db.prepare(`INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value`);
  const prune = db.prepare(`DELETE FROM events WHERE channel >= ? AND channel < ? AND ingested_at < ?`);

  let queue: StoreItem[] = [];

  const commitTx = db.transaction((items: StoreItem[]) => {
    const ignored = new Set<string>();
    for (const it of items) {
      const e = it.event;
      const info = insert.run(
        e.id, e.channel, e.type, e.ts, e.offset, e.epoch, it.dataJson,
        e.userId ?? null, e.orgId ?? null, e.txId ?? null, e.blockHeight ?? null, it.ingestedAt, it.dedupe === false ? 0 : 1,
      );
      if (info.changes === 0) ignored.add(e.id);
    }
    const sum = summarizeBatch(items, (id) => !ignored.has(id));
    for (const [channel, h] of sum.heads) upsertHead.run(channel, h.epoch, h.head);
    for (const st of sum.stats) upsertStats.run(st.channel, st.type, st.count, st.last);
    return sum.dups;
  });

  let closed = false;
  return {
    kind: 'sqlite',
    enqueue(items) {
      for (const it of items) queue.push(it);
    },
    pending: () => queue.length,
    async commit() {
      if (queue.length === 0) return new Set<string>();
      const items = queue;
      queue = [];
      return commitTx(items);
    },
    async readAfter(channel, epoch, after, limit) {
      return (selAfter.all(channel, epoch, after, limit) as EventRow[]).map(rowToEvent);
    },
    async latest(channel, limit) {
      return (selLatest.all(channel, limit) as EventRow[]).map(rowToEvent);
    },
    async heads() {
      return selHeads.all() as ChannelHead[];
    },
    async stats(channel): Promise<ChannelStats> {
      return channelStats(
        channel,
        selStats.all(channel) as Array<{ type: string; count: number; last_ts: number }>,
        selHead.get(channel) as { epoch: string; head: number } | undefined,
      );
    },
    async latestMatching(channel, key, value) {
      if (!/^[A-Za-z0-9_]+$/.test(key)) return null;
      const r = selMatching.get(channel, key, value) as EventRow | undefined;
      return r ? rowToEvent(r) : null;
    },
    async has(id) {
      return selHas.get(id) !== undefined;
    },
    async recentIds(limit) {
      return (selRecent.all(limit) as Array<{ id: string }>).map((r) => r.id);
    },
    async scan(afterSeq, limit): Promise<StoredEvent[]> {
      return (selScan.all(afterSeq, limit) as EventRow[]).map((r) => ({ seq: r.seq, event: rowToEvent(r) }));
    },
    async getMeta(key) {
      const r = getMeta.get(key) as { value: string } | undefined;
      return r ? r.value : null;
    },
    async setMeta(key, value) {
      setMeta.run(key, value);
    },
    async prune(namespace, beforeTs) {
      return prune.run(namespace + ':', namespace + ';', beforeTs).changes;
    },
    async close() {
      if (closed) return;
      closed = true;
      if (queue.length) commitTx(queue.splice(0));
      db.close();
    },
  };
}
