/**
 * The embedded store: one SQLite file in WAL mode through better-sqlite3. Writes are group
 * committed: the hub enqueues everything accepted in one event-loop turn and commits it in one
 * transaction. better-sqlite3 is synchronous, so the promises here resolve at once; the port is
 * async for the PostgreSQL driver.
 *
 * Layout: events are stored in segments, one row per (channel, epoch) per commit, holding that
 * channel's events of the commit as one JSON array text. One indexed row per ~20 events instead
 * of one per event is what makes a durable event cheap (the per-event unique index on
 * (channel, epoch, off) alone cost more than everything here does now).
 *
 * - Every accepted event gets a global `seq` (acceptance order, never reused: the high-water mark
 *   lives in `store_seq`, so neither a prune nor a restart hands one out twice). A commit takes
 *   the seqs base..base+n-1 in acceptance order and splits them over its segments, so the
 *   segments of one commit overlap in seq (each event carries its own), while the segments of
 *   different commits do not. A segment's key is the seq of its first event (after a prune
 *   rewrote it, possibly lower: `scan` only needs the key to be at or below each of its seqs and
 *   at or above its commit's first); `base` is the first seq of its commit, which is what `scan`
 *   needs to find the segments that straddle a seq.
 * - Within a (channel, epoch) offsets grow in acceptance order (the hub hands them out at
 *   acceptance): a channel's segments of one epoch, in key order, hold ascending offset ranges.
 * - No index finds a channel's segments. Each segment holds `prev`, the key of its channel's
 *   previous segment (any epoch; 0 for the first), and memory holds each channel's newest key
 *   (`tails`), so a channel's segments form a chain, newest first, read by rowid lookups. An index
 *   on (channel, epoch, last_off), as this layout had, costs a random leaf page per segment: with
 *   many channels and few events per channel per commit (1,000 channels, 25-event commits: every
 *   segment one event) each commit dirtied ~25 more pages, written to the log and copied back by
 *   the WAL checkpoint — ~21–27 µs/event (sys ~10) against ~8–10 without it (pinned to one core;
 *   a larger page cache or mmap did not help: the cost is dirty pages, not reads).
 * - `marks` indexes only about every MARK_EVERY-th (32nd) segment of a channel, by
 *   (channel, epoch, last_off), and the last segment of each epoch's run once the next epoch
 *   begins; a random insert per 32 segments. The spacing is counted in memory per channel; after
 *   a restart it is not known, so a channel's first segment then is marked (one more random insert
 *   per channel and restart): counted from zero instead, a channel with fewer than MARK_EVERY
 *   segments per process never got a mark, and a page deep in it walked the whole chain back
 *   from the tail. So no MARK_EVERY segments of a chain in a row go unmarked. `readAfter` takes the first mark of
 *   the epoch past `after` and walks back from it to where the epoch's segments reach `after`,
 *   then hops forward: from the next mark (or the tail, in the channel's current epoch) back to
 *   the hop before; so a page costs its segments plus about two marks' spacing of lookups, however
 *   deep in the history it lies. `latest` and `latestMatching` walk back from the tail across
 *   epochs; segments of one commit may overlap in seq, so a walk stops only where the chain
 *   leaves a commit (`prev` below `base`). The walks run inside SQLite as recursive CTEs.
 * - Tails change in memory only after their transaction is in (as `hwm` and the deltas below):
 *   a commit computes its new tails locally and applies them once `commitTx` returns. They are
 *   checkpointed with the heads (`channels.tail`, below), and at open the segments above the
 *   watermark, replayed anyway, move them on.
 * - Retention (`prune`) deletes whole segments, and their marks (a mark of a deleted segment moves
 *   to the nearest surviving one before it of the same epoch, so an epoch's end stays marked); a
 *   partly old segment is written back under its key and `prev`, so the chain through it holds,
 *   and its mark follows its last offset. A deleted tail moves back along the chain. A walk that
 *   meets a `prev` that is gone stops: the channel's history ends there (retention removes a
 *   channel's oldest segments, so that is where it ends anyway; a segment deleted from the middle,
 *   by ingest times out of order, cuts off what lies before it).
 * - There is no (channel, seq) index either: a second index with 100 insertion points per commit
 *   cost ~1 µs/event.
 * - `event_ids` holds the client-supplied ids only (items with `dedupe !== false`): its UNIQUE
 *   index is the duplicate check, and the table answers `has` and `recentIds`.
 * - A segment's text is `[[seq, …], event, …]`: the seqs of its events first (so `scan` can
 *   find where a seq lies by parsing a few numbers), then one array per event
 *   `[id, type, ts, offset, data, dedupe?, userId?, orgId?, txId?, blockHeight?, ingestedAt?]`
 *   where trailing defaults are left out (dedupe 1, the others null; ingestedAt only when it
 *   differs from the segment's `at`, the ingest time of its first event).
 *
 * Channel heads and tails (`channels`) and per-type counts (`channel_stats`) are checkpointed, not written
 * per commit: each commit folds its summary (summarizeBatch, as the per-commit upserts did) into
 * pending deltas in memory, and these are written at most about once a CHECKPOINT_MS, inside a
 * commit's transaction, together with `store_seq.hwm`, which is therefore the checkpoint's
 * watermark: the tables include exactly the commits up to it. Per commit they cost one upsert per
 * channel and per (channel, type) — ~2 statements per event at 100 channels — where the
 * checkpoint writes each touched row once a second. Reads (`heads`, `stats`) add the pending
 * deltas. At open the segments above the watermark (the commits after the last checkpoint; a
 * crash loses no segment) are replayed commit by commit through the same fold and written, so
 * after a crash the tables hold what the per-commit upserts would have. What the segments cannot
 * tell is written at once: a commit that drops a duplicate checkpoints in its own transaction (the
 * duplicate's offset counts for the head but is in no segment), and so does `prune` (which may
 * delete a channel's last segments), and `close`. The seq high-water mark itself is the largest of
 * `store_seq.hwm`, the segments' last seq and the ids' seq, so it needs no write per commit.
 * ("Checkpoint" alone means this one here; SQLite's copying of the write-ahead log back into the
 * file is always the WAL checkpoint, see wal-checkpointer.ts.)
 *
 * Files written by the per-event row layout (table `events`) are converted at open, in one
 * transaction, into segments of runs of up to MIGRATE_CHUNK consecutive rows (chained and marked as
 * commits are); then `events` is dropped. Files of the segment layout from before the chain (no
 * `prev`) are converted at open in one transaction: `prev` by LAG over each channel's segments by
 * seq, the marks by ROW_NUMBER (and the epochs' ends by LEAD), the tails by max(seq) per channel,
 * and `segments_after` is dropped.
 */
import Database from 'better-sqlite3';
import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import type { PulseEvent, ChannelStats } from '@pulse/protocol';
import type { Store, StoreItem, StoredEvent, ChannelHead } from '../ports.js';
import { isPlainObject } from '../hub/normalize.js';
import { channelStats, summarizeBatch } from './batch.js';
import { startWalCheckpointer } from './wal-checkpointer.js';

const SCHEMA = `
CREATE TABLE IF NOT EXISTS segments (
  seq INTEGER PRIMARY KEY,       -- seq of its first event (or less, after a prune rewrote it)
  prev INTEGER NOT NULL DEFAULT 0, -- key of the channel's previous segment (any epoch), 0 for its first
  base INTEGER NOT NULL,         -- first seq of the commit it belongs to
  last_seq INTEGER NOT NULL,
  n INTEGER NOT NULL,
  channel TEXT NOT NULL,
  epoch TEXT NOT NULL,
  first_off INTEGER NOT NULL,    -- read by nothing (written for the files that have the column)
  last_off INTEGER NOT NULL,
  at INTEGER NOT NULL,           -- ingest time of its first event (events that differ carry theirs)
  oldest_at INTEGER NOT NULL,
  newest_at INTEGER NOT NULL,    -- read by nothing (as first_off)
  events TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS segments_age ON segments(oldest_at);
CREATE TABLE IF NOT EXISTS marks (
  channel TEXT NOT NULL, epoch TEXT NOT NULL, last_off INTEGER NOT NULL, seq INTEGER NOT NULL,
  PRIMARY KEY (channel, epoch, last_off)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS event_ids (seq INTEGER PRIMARY KEY, id TEXT NOT NULL UNIQUE);
CREATE TABLE IF NOT EXISTS store_seq (one INTEGER PRIMARY KEY CHECK (one = 1), hwm INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS channels (channel TEXT PRIMARY KEY, epoch TEXT NOT NULL, head INTEGER NOT NULL, tail INTEGER NOT NULL DEFAULT 0);
CREATE TABLE IF NOT EXISTS channel_stats (
  channel TEXT NOT NULL, type TEXT NOT NULL, count INTEGER NOT NULL, last_ts INTEGER NOT NULL,
  PRIMARY KEY (channel, type)
);
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
`;

/** Rows of the old per-event table read by the migration. */
const MIGRATE_CHUNK = 1000;
/** Bytes the write-ahead log is cut back to after a checkpoint. */
const WAL_SIZE_LIMIT = 64 * 1024 * 1024;
/** Page size of a new database file (see openSqliteStore). */
const PAGE_SIZE = 16_384;
/** SQLite's automatic WAL checkpoint threshold (1,000 pages of its default 4 KiB), in bytes. */
const AUTO_CHECKPOINT_BYTES = 4000 * 1024;
/** Heads and stats are written at most about this often (plus at prune, close and duplicates). */
const CHECKPOINT_MS = 1000;
/** About every MARK_EVERY-th segment of a channel gets a row in `marks`. */
const MARK_EVERY = 32;

/** A channel's head not yet written; `reset`: the epoch changed since the last checkpoint, so the table's head no longer counts. */
interface PendingHead {
  epoch: string;
  head: number;
  reset: boolean;
}
/**
 * A channel's newest segment: its key, its epoch and last offset once known, and how many of the
 * channel's segments were written since its last mark (MARK_EVERY - 1 when not known: after a
 * restart, so that the next one is marked). `epoch` undefined: not looked up yet (a
 * tail read from `channels` or moved back by a prune); null: that segment is gone.
 */
interface Tail {
  seq: number;
  epoch?: string | null;
  lastOff: number;
  count: number;
}
/** Per-type counts not yet written. */
interface PendingStat {
  count: number;
  last: number;
}

/**
 * A table head with the pending one applied, as the checkpoint will write it: the rule of the
 * `channels` upsert (same epoch, the larger head; else the pending one), or the pending one alone
 * after a reset.
 */
function withPending(cur: { epoch: string; head: number } | undefined, p: PendingHead): { epoch: string; head: number } {
  if (!p.reset && cur !== undefined && cur.epoch === p.epoch) return { epoch: p.epoch, head: Math.max(cur.head, p.head) };
  return p;
}

interface SegmentRow {
  seq: number;
  prev: number;
  base: number;
  last_seq: number;
  n: number;
  channel: string;
  epoch: string;
  first_off: number;
  last_off: number;
  at: number;
  oldest_at: number;
  newest_at: number;
  events: string;
}

/** A row of a walk back along a chain: prev, base, last_seq, epoch, events. */
type Back = [number, number, number, string, string];
/** One event as stored inside a segment (see the file comment). */
type Packed = [string, string, number, number, PulseEvent['data'], (0 | 1)?, (string | null)?, (string | null)?, (string | null)?, (number | null)?, number?];
/** A parsed segment: its seqs, then its events (event i has seqs[i - 1]). */
type Unpacked = [number[], ...Packed[]];

/** A segment being built. */
interface Builder {
  channel: string;
  epoch: string;
  text: string;
  seqs: string;
  seq: number;
  lastSeq: number;
  n: number;
  firstOff: number;
  lastOff: number;
  at: number;
  oldest: number;
  newest: number;
}

/** A finite number as JSON (non-finite ones become null, as JSON.stringify does). */
function num(n: number): string {
  return Number.isFinite(n) ? '' + n : 'null';
}
/** Strings that need no escaping in JSON (ids, types): quoting them is ~2x cheaper than JSON.stringify. */
const PLAIN = /^[\w:.\-]*$/;
function quote(s: string): string {
  return PLAIN.test(s) ? '"' + s + '"' : JSON.stringify(s);
}
function str(s: string | null | undefined): string {
  return s === undefined || s === null ? 'null' : quote(s);
}

function toEvent(seg: { channel: string; epoch: string }, p: Packed): PulseEvent {
  const e: PulseEvent = { id: p[0], channel: seg.channel, type: p[1], ts: p[2], data: p[4], offset: p[3], epoch: seg.epoch };
  if (p.length > 6) {
    if (p[6] != null) e.userId = p[6];
    if (p[7] != null) e.orgId = p[7];
    if (p[8] != null) e.txId = p[8];
    if (p[9] != null) e.blockHeight = p[9];
  }
  return e;
}

const isDedupe = (p: Packed) => p.length <= 5 || p[5] !== 0;
/** A packed event's ingest time: its own if it differs from its segment's `at`. */
const ingestedAt = (seg: { at: number }, p: Packed): number => (p.length > 10 ? (p[10] as number) : seg.at);
const unpack = (r: { events: string }): Unpacked => JSON.parse(r.events) as Unpacked;
/** Only the seqs of a segment: its text starts with them, and numbers hold no ']'. */
const seqsOf = (r: { events: string }): number[] => JSON.parse(r.events.slice(1, r.events.indexOf(']') + 1)) as number[];

function newBuilder(channel: string, epoch: string, seq: number, off: number, at: number): Builder {
  return { channel, epoch, text: '', seqs: '', seq, lastSeq: seq, n: 0, firstOff: off, lastOff: off, at, oldest: at, newest: at };
}

/**
 * Add one event with its seq, packed: `[id, type, ts, offset, data, dedupe?, userId?, orgId?,
 * txId?, blockHeight?, ingestedAt?]` with `dataJson` spliced in as is and trailing defaults left
 * out (its ingest time only if it differs from the segment's `at`).
 */
function append(
  b: Builder,
  seq: number,
  id: string,
  type: string,
  ts: number,
  off: number,
  dataJson: string,
  dedupe: boolean,
  userId: string | null | undefined,
  orgId: string | null | undefined,
  txId: string | null | undefined,
  blockHeight: number | null | undefined,
  at: number,
): void {
  let s = '[' + quote(id) + ',' + quote(type) + ',' + num(ts) + ',' + off + ',' + dataJson;
  const hasBh = blockHeight !== undefined && blockHeight !== null;
  const last = at !== b.at ? 10 : hasBh ? 9 : txId != null ? 8 : orgId != null ? 7 : userId != null ? 6 : dedupe ? 4 : 5;
  if (last >= 5) s += dedupe ? ',1' : ',0';
  if (last >= 6) s += ',' + str(userId);
  if (last >= 7) s += ',' + str(orgId);
  if (last >= 8) s += ',' + str(txId);
  if (last >= 9) s += ',' + (hasBh ? num(blockHeight) : 'null');
  if (last >= 10) s += ',' + at;
  const packed = s + ']';
  if (b.n === 0) {
    b.text = packed;
    b.seqs = '' + seq;
  } else {
    b.text = b.text + ',' + packed;
    b.seqs = b.seqs + ',' + seq;
  }
  b.n++;
  b.lastSeq = seq;
  b.lastOff = off;
  if (at < b.oldest) b.oldest = at;
  if (at > b.newest) b.newest = at;
}

/**
 * The segments of one commit (or one chunk of the migration): one builder per (channel, epoch).
 * Found by the channel string (the channel's first epoch in the commit), so no key is built and
 * hashed per event; another epoch of a channel within one commit (rare: a reset) gets its own
 * builder in `others`.
 */
class CommitSegments {
  private readonly byChannel = new Map<string, Builder>();
  private others: Builder[] | null = null;
  private last: Builder | null = null;
  /** The builder of the event's (channel, epoch); a new one starts at this event. */
  builder(channel: string, epoch: string, seq: number, off: number, at: number): Builder {
    let b = this.last;
    if (b !== null && b.channel === channel && b.epoch === epoch) return b;
    b = this.byChannel.get(channel) ?? null;
    if (b === null) this.byChannel.set(channel, (b = newBuilder(channel, epoch, seq, off, at)));
    else if (b.epoch !== epoch) {
      let o: Builder | null = null;
      if (this.others !== null) for (const x of this.others) if (x.channel === channel && x.epoch === epoch) o = x;
      if (o === null) (this.others ??= []).push((o = newBuilder(channel, epoch, seq, off, at)));
      b = o;
    }
    return (this.last = b);
  }
  write(writeSegment: (b: Builder, base: number) => unknown, base: number): void {
    for (const b of this.byChannel.values()) writeSegment(b, base);
    if (this.others !== null) for (const b of this.others) writeSegment(b, base);
  }
}

/**
 * `checkpointMs`: how often heads and stats are written (default CHECKPOINT_MS; 0 = every commit,
 * Infinity = only at prune, close and duplicates — for tests of the replay). `walCheckpoints`:
 * who copies the write-ahead log back into the file — a thread of its own (the default; see
 * wal-checkpointer.ts), or `inline`, SQLite's automatic checkpoint inside the commit that fills it.
 */
export function openSqliteStore(path: string, opts: { sync?: 'normal' | 'full'; checkpointMs?: number; walCheckpoints?: 'thread' | 'inline' } = {}): Store {
  const checkpointMs = opts.checkpointMs ?? CHECKPOINT_MS;
  mkdirSync(dirname(path), { recursive: true });
  const db = new Database(path);
  // 16 KiB pages (for a new file; an existing one keeps the size it was made with). A commit
  // appends its segments at the end of the table and the WAL takes every dirty page as a frame
  // (two pwrites each), which the checkpoint thread reads back and copies: with 4 KiB pages the
  // store made 0.30 pwrite and 0.10 pread calls per event (100 channels, 1,000-event commits;
  // strace), with 16 KiB 0.05 and 0.015, and its CPU per event fell by ~1 µs of ~5 in the same
  // runs. With the chain layout 100- and 300-event commits cost the same within the noise
  // (with the older per-segment index they were 25-40% dearer: every random leaf page was 4x the
  // bytes), and deep `readAfter` pages too. 64 KiB pages were dearer again (a commit rewrites its
  // last, partly filled page). cache_size stays SQLite's 2 MB (32 MB: no difference beyond the
  // noise). WAL checkpoints run on a thread (below); with `inline` they stay SQLite's.
  db.pragma(`page_size = ${PAGE_SIZE}`);
  db.pragma('journal_mode = WAL');
  // SQLite's automatic checkpoint (used at open, with `inline`, and if the thread dies) counts
  // pages: keep its 4 MiB whatever the page size.
  const pageSize = db.pragma('page_size', { simple: true }) as number;
  const autoCheckpoint = `wal_autocheckpoint = ${Math.max(1, Math.round(AUTO_CHECKPOINT_BYTES / pageSize))}`;
  db.pragma(autoCheckpoint);
  const sync = opts.sync === 'full' ? 'FULL' : 'NORMAL';
  db.pragma(`synchronous = ${sync}`);
  db.pragma('busy_timeout = 5000');
  db.exec(SCHEMA);

  const insertId = db.prepare(`INSERT OR IGNORE INTO event_ids (seq, id) VALUES (?, ?)`);
  upgradeToChain(db);
  const insertSeg = db.prepare(
    `INSERT INTO segments (seq, prev, base, last_seq, n, channel, epoch, first_off, last_off, at, oldest_at, newest_at, events)
     VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
  );
  /** One segment row of `b` under `key`, linked to `prev`, in the commit that began at `base`. */
  const insertRow = (b: Builder, key: number, prev: number, base: number) =>
    insertSeg.run(key, prev, base, b.lastSeq, b.n, b.channel, b.epoch, b.firstOff, b.lastOff, b.at, b.oldest, b.newest, '[[' + b.seqs + '],' + b.text + ']');
  const setHwm = db.prepare(`INSERT INTO store_seq (one, hwm) VALUES (1, ?) ON CONFLICT(one) DO UPDATE SET hwm = excluded.hwm`);
  const insertMark = db.prepare(`INSERT OR REPLACE INTO marks (channel, epoch, last_off, seq) VALUES (?, ?, ?, ?)`);
  /** What a walk along the chain needs of a segment (`prev` comes before the text in new files). */
  const selLink = db.prepare(`SELECT prev, epoch, last_off FROM segments WHERE seq = ?`);

  /** Each channel's newest segment as of the last transaction that is in (see the file comment). */
  const tails = new Map<string, Tail>();
  /** The tail with its epoch and last offset, looked up if not known yet. */
  const known = (t: Tail): Tail => {
    if (t.epoch !== undefined) return t;
    const s = selLink.get(t.seq) as { epoch: string; last_off: number } | undefined;
    return { seq: t.seq, epoch: s ? s.epoch : null, lastOff: s ? s.last_off : 0, count: t.count };
  };
  /**
   * Write a segment at the end of its channel's chain. `local`: the tails moved so far by this
   * transaction (over `tails`); the segment becomes its channel's tail there. Every MARK_EVERY-th
   * segment of a channel gets a mark, and so does the last one of an epoch's run once the next
   * epoch begins.
   */
  const writeSegment = (b: Builder, base: number, local: Map<string, Tail>) => {
    let t = local.get(b.channel) ?? tails.get(b.channel);
    let count = 1;
    if (t !== undefined) {
      t = known(t);
      count = t.count + 1;
      if (t.epoch != null && t.epoch !== b.epoch) insertMark.run(b.channel, t.epoch, t.lastOff, t.seq);
    }
    insertRow(b, b.seq, t?.seq ?? 0, base);
    if (count >= MARK_EVERY) {
      insertMark.run(b.channel, b.epoch, b.lastOff, b.seq);
      count = 0;
    }
    local.set(b.channel, { seq: b.seq, epoch: b.epoch, lastOff: b.lastOff, count });
  };

  const migrated = new Map<string, Tail>();
  migrate(db, (b, base) => writeSegment(b, base, migrated), insertId, setHwm);

  // A channel's head and tail are written together: a commit that moves a tail also has a head
  // for that channel (the events it stored), so the pending heads name every tail that moved.
  const upsertHead = db.prepare(
    `INSERT INTO channels (channel, epoch, head, tail) VALUES (?, ?, ?, ?)
     ON CONFLICT(channel) DO UPDATE SET epoch = excluded.epoch, tail = excluded.tail,
       head = CASE WHEN channels.epoch = excluded.epoch THEN max(channels.head, excluded.head) ELSE excluded.head END`,
  );
  const setHead = db.prepare(
    `INSERT INTO channels (channel, epoch, head, tail) VALUES (?, ?, ?, ?)
     ON CONFLICT(channel) DO UPDATE SET epoch = excluded.epoch, head = excluded.head, tail = excluded.tail`,
  );
  const upsertStats = db.prepare(
    `INSERT INTO channel_stats (channel, type, count, last_ts) VALUES (?, ?, ?, ?)
     ON CONFLICT(channel, type) DO UPDATE SET count = count + excluded.count, last_ts = max(last_ts, excluded.last_ts)`,
  );
  const setTail = db.prepare(`UPDATE channels SET tail = ? WHERE channel = ?`);
  const selText = db.prepare(`SELECT events FROM segments WHERE seq = ?`).pluck();
  // Walks along the chain inside SQLite: one statement, rows streamed newest first, and a walk
  // ends by itself at a key that is gone. Only the columns needed, as plain values: building a
  // row object of every column cost several times the lookup. A hop of readAfter goes back from
  // `from` while the segments are of the epoch, past `after` and above `stop`: their texts, or
  // only their keys.
  const hop = (text: boolean) =>
    `WITH RECURSIVE hop(seq, prev, events) AS (
       SELECT seq, prev, ${text ? 'events' : 'NULL'} FROM segments WHERE seq = @from AND seq > @stop AND epoch = @epoch AND last_off > @after
       UNION ALL
       SELECT s.seq, s.prev, ${text ? 's.events' : 'NULL'} FROM hop JOIN segments s ON s.seq = hop.prev
       WHERE s.seq > @stop AND s.epoch = @epoch AND s.last_off > @after)`;
  const selHop = db.prepare(`${hop(true)} SELECT events FROM hop`).pluck();
  const selHopKeys = db.prepare(`${hop(false)} SELECT seq FROM hop`).pluck();
  /** The chain back from a key, all epochs (latest, latestMatching: the caller stops the walk): [prev, base, last_seq, epoch, events]. */
  const selBack = db
    .prepare(
      `WITH RECURSIVE back(seq, prev, base, last_seq, epoch, events) AS (
         SELECT seq, prev, base, last_seq, epoch, events FROM segments WHERE seq = ?
         UNION ALL
         SELECT s.seq, s.prev, s.base, s.last_seq, s.epoch, s.events FROM back JOIN segments s ON s.seq = back.prev)
       SELECT prev, base, last_seq, epoch, events FROM back`,
    )
    .raw();
  const selMark = db.prepare(`SELECT last_off, seq FROM marks WHERE channel = ? AND epoch = ? AND last_off > ? ORDER BY last_off ASC LIMIT 1`);
  const delMark = db.prepare(`DELETE FROM marks WHERE channel = ? AND epoch = ? AND last_off = ? AND seq = ?`);
  const selHeads = db.prepare(`SELECT channel, epoch, head AS offset FROM channels`);
  const selStats = db.prepare(`SELECT type, count, last_ts FROM channel_stats WHERE channel = ?`);
  const selHead = db.prepare(`SELECT epoch, head FROM channels WHERE channel = ?`);
  const selHas = db.prepare(`SELECT 1 FROM event_ids WHERE id = ?`);
  const selRecent = db.prepare(`SELECT id FROM event_ids ORDER BY seq DESC LIMIT ?`);
  const selBase = db.prepare(`SELECT base FROM segments WHERE seq <= ? ORDER BY seq DESC LIMIT 1`).pluck();
  const selScan = db.prepare(`SELECT * FROM segments WHERE seq >= ? AND last_seq > ? ORDER BY seq ASC`);
  const getMeta = db.prepare(`SELECT value FROM meta WHERE key = ?`);
  const setMeta = db.prepare(`INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value`);
  const selPrune = db.prepare(`SELECT * FROM segments WHERE oldest_at < ? AND channel >= ? AND channel < ?`);
  const delSeg = db.prepare(`DELETE FROM segments WHERE seq = ?`);
  const delId = db.prepare(`DELETE FROM event_ids WHERE seq = ?`);

  /** The checkpoint's watermark: `channels` and `channel_stats` include the commits up to this seq. */
  const watermark = (db.prepare(`SELECT hwm FROM store_seq`).pluck().get() as number | undefined) ?? 0;
  /** The last seq handed out. */
  let hwm = Math.max(
    watermark,
    (db.prepare(`SELECT max(last_seq) FROM segments`).pluck().get() as number | null) ?? 0,
    (db.prepare(`SELECT max(seq) FROM event_ids`).pluck().get() as number | null) ?? 0,
  );

  let queue: StoreItem[] = [];
  for (const r of db.prepare(`SELECT channel, tail FROM channels WHERE tail > 0`).iterate() as IterableIterator<{ channel: string; tail: number }>)
    tails.set(r.channel, { seq: r.tail, lastOff: 0, count: MARK_EVERY - 1 });

  // Checkpointed heads and stats (see the file comment).
  let pendHeads = new Map<string, PendingHead>();
  let pendStats = new Map<string, Map<string, PendingStat>>();
  let lastCheckpoint = Date.now();
  /** Fold one commit's summary into the pending deltas. */
  const addSummary = (heads: Map<string, { epoch: string; head: number }>, stats: Array<{ channel: string; type: string; count: number; last: number }>) => {
    for (const [channel, h] of heads) {
      const p = pendHeads.get(channel);
      if (p === undefined) pendHeads.set(channel, { epoch: h.epoch, head: h.head, reset: false });
      else if (p.epoch === h.epoch) {
        if (h.head > p.head) p.head = h.head;
      } else {
        p.epoch = h.epoch;
        p.head = h.head;
        p.reset = true;
      }
    }
    for (const st of stats) {
      let m = pendStats.get(st.channel);
      if (m === undefined) pendStats.set(st.channel, (m = new Map()));
      const p = m.get(st.type);
      if (p === undefined) m.set(st.type, { count: st.count, last: st.last });
      else {
        p.count += st.count;
        if (st.last > p.last) p.last = st.last;
      }
    }
  };
  /** A channel's newest segment key, with the tails `moved` by a transaction not yet in. */
  const tailOf = (channel: string, moved?: Map<string, Tail>): number => (moved?.get(channel) ?? tails.get(channel))?.seq ?? 0;
  /**
   * Write the pending deltas (with each channel's tail) and the watermark `upTo`; inside a
   * transaction, whose own moved tails are `moved`. The deltas are cleared by `checkpointed` once
   * it is in.
   */
  const writeCheckpoint = (upTo: number, moved?: Map<string, Tail>) => {
    for (const [channel, h] of pendHeads) (h.reset ? setHead : upsertHead).run(channel, h.epoch, h.head, tailOf(channel, moved));
    for (const [channel, m] of pendStats) for (const [type, st] of m) upsertStats.run(channel, type, st.count, st.last);
    setHwm.run(upTo);
  };
  const checkpointed = () => {
    pendHeads = new Map();
    pendStats = new Map();
    lastCheckpoint = Date.now();
  };

  const commitTx = db.transaction((items: StoreItem[], now: number) => {
    const base = hwm + 1;
    let seq = hwm;
    let ignored: Set<number> | null = null;
    const segs = new CommitSegments();
    const moved = new Map<string, Tail>();
    for (let i = 0; i < items.length; i++) {
      const it = items[i];
      const e = it.event;
      const dedupe = it.dedupe !== false;
      if (dedupe && insertId.run(seq + 1, e.id).changes === 0) {
        (ignored ??= new Set()).add(i);
        continue;
      }
      seq++;
      const b = segs.builder(e.channel, e.epoch, seq, e.offset, it.ingestedAt);
      append(b, seq, e.id, e.type, e.ts, e.offset, it.dataJson, dedupe, e.userId, e.orgId, e.txId, e.blockHeight, it.ingestedAt);
    }
    segs.write((b, base) => writeSegment(b, base, moved), base);
    const sum = summarizeBatch(items, ignored === null ? () => true : (i) => !ignored.has(i));
    // A dropped duplicate's offset counts for the head but is in no segment: checkpoint now.
    const checkpoint = ignored !== null || now - lastCheckpoint >= checkpointMs;
    if (checkpoint) {
      // The pending deltas, then this commit's summary as the per-commit upserts wrote it.
      writeCheckpoint(seq, moved);
      for (const [channel, h] of sum.heads) upsertHead.run(channel, h.epoch, h.head, tailOf(channel, moved));
      for (const st of sum.stats) upsertStats.run(st.channel, st.type, st.count, st.last);
    }
    return { sum, seq, checkpoint, moved };
  });
  const checkpointTx = db.transaction(() => writeCheckpoint(hwm));
  /** Write the pending deltas now, if there are any (after the replay, at close). */
  const flushCheckpoint = () => {
    if (pendHeads.size === 0 && pendStats.size === 0) return;
    checkpointTx();
    checkpointed();
  };

  // The commits after the checkpoint (the process died, or a file from before checkpoints had
  // none): replay each, its events in seq order, through the fold a commit uses, and write the
  // result. Such commits dropped no duplicate (that checkpoints at once), so every event counts.
  {
    const selReplay = db.prepare(`SELECT seq, base, channel, epoch, last_off, at, events FROM segments WHERE seq > ? ORDER BY seq ASC`);
    let base = -1;
    let evs: Array<{ seq: number; item: StoreItem }> = [];
    const fold = () => {
      evs.sort((x, y) => x.seq - y.seq);
      const sum = summarizeBatch(
        evs.map((x) => x.item),
        () => true,
      );
      addSummary(sum.heads, sum.stats);
      evs = [];
    };
    for (const r of selReplay.iterate(watermark) as IterableIterator<SegmentRow>) {
      if (r.base !== base && evs.length > 0) fold();
      base = r.base;
      // In seq order: the channel's last one is its tail.
      tails.set(r.channel, { seq: r.seq, epoch: r.epoch, lastOff: r.last_off, count: MARK_EVERY - 1 });
      const a = unpack(r);
      for (let i = 1; i < a.length; i++) {
        const p = a[i] as Packed;
        const event: PulseEvent = { id: p[0], channel: r.channel, type: p[1], ts: p[2], data: {}, offset: p[3], epoch: r.epoch };
        evs.push({ seq: a[0][i - 1], item: { event, dataJson: '', ingestedAt: ingestedAt(r, p) } });
      }
    }
    if (evs.length > 0) fold();
    flushCheckpoint();
  }
  // From here on the log is copied back by a thread of its own (the writes at open above used
  // SQLite's automatic checkpoint).
  let closed = false;
  const wal =
    opts.walCheckpoints === 'inline' || path === ':memory:'
      ? null
      : startWalCheckpointer(path, sync, pageSize, {
          checkpointHere: () => db.pragma('wal_checkpoint(PASSIVE)'),
          fallBack: () => db.pragma(autoCheckpoint),
          onError: (message) => process.emitWarning(`SQLite WAL checkpoint failed: ${message}`),
        });
  if (wal) db.pragma('wal_autocheckpoint = 0');
  // Once the log has been copied back and reused from its start, it is cut back to this size
  // (without a limit it keeps the size of its longest stretch between checkpoints).
  db.pragma(`journal_size_limit = ${WAL_SIZE_LIMIT}`);

  /** Commit; memory (hwm, the deltas) changes only once the transaction is in, so a failed commit leaves no trace. */
  const runCommit = (items: StoreItem[]): Set<StoreItem> => {
    const r = commitTx(items, Date.now());
    hwm = r.seq;
    for (const [channel, t] of r.moved) tails.set(channel, t);
    if (r.checkpoint) checkpointed();
    else addSummary(r.sum.heads, r.sum.stats);
    wal?.wrote();
    return r.sum.dropped;
  };

  const pruneTx = db.transaction((namespace: string, beforeTs: number) => {
    // A channel whose last segments go keeps its head: checkpoint first, in this transaction.
    writeCheckpoint(hwm);
    let removed = 0;
    const rows = selPrune.all(beforeTs, namespace + ':', namespace + ';') as SegmentRow[];
    /** The segments deleted whole, by key; and those of them that had a mark. */
    const gone = new Map<number, SegmentRow>();
    const unmarked: SegmentRow[] = [];
    for (const r of rows) {
      const a = unpack(r);
      const seqs = a[0];
      // The part younger than the cutoff, if any, is written back as a new segment.
      let b: Builder | null = null;
      for (let i = 1; i < a.length; i++) {
        const p = a[i] as Packed;
        const seq = seqs[i - 1];
        const at = ingestedAt(r, p);
        if (at < beforeTs) {
          removed++;
          if (isDedupe(p)) delId.run(seq);
        } else {
          b ??= newBuilder(r.channel, r.epoch, seq, p[3], at);
          append(b, seq, p[0], p[1], p[2], p[3], JSON.stringify(p[4]), isDedupe(p), p[6], p[7], p[8], p[9], at);
        }
      }
      delSeg.run(r.seq);
      const marked = delMark.run(r.channel, r.epoch, r.last_off, r.seq).changes > 0;
      if (b !== null) {
        // Written back under its key (at or below each of its seqs, all `scan` needs) and with its
        // `prev`, so the chain through it holds; its mark follows its last offset.
        insertRow(b, r.seq, r.prev, r.base);
        if (marked) insertMark.run(r.channel, r.epoch, b.lastOff, r.seq);
      } else {
        gone.set(r.seq, r);
        if (marked) unmarked.push(r);
      }
    }
    /** The nearest segment at or before `key` along the chain that this prune did not delete (0: none). */
    const survivor = (key: number): number => {
      for (let g = gone.get(key); g !== undefined; g = gone.get(key)) key = g.prev;
      return key;
    };
    // A deleted mark moves to the nearest segment before it of the same epoch, so the last segment
    // of an epoch's run stays marked (readAfter relies on that).
    for (const r of unmarked) {
      const k = survivor(r.prev);
      const s = k > 0 ? (selLink.get(k) as { epoch: string; last_off: number } | undefined) : undefined;
      if (s !== undefined && s.epoch === r.epoch) insertMark.run(r.channel, r.epoch, s.last_off, k);
    }
    // A tail that was deleted moves back along the chain (written now: the checkpoint is above).
    const moved = new Map<string, Tail>();
    for (const r of gone.values()) {
      const t = tails.get(r.channel);
      if (t === undefined || t.seq !== r.seq || moved.has(r.channel)) continue;
      const k = survivor(r.prev);
      setTail.run(k, r.channel);
      moved.set(r.channel, { seq: k, lastOff: 0, count: t.count });
    }
    return { removed, moved };
  });

  return {
    kind: 'sqlite',
    enqueue(items) {
      for (const it of items) queue.push(it);
    },
    pending: () => queue.length,
    async commit() {
      if (queue.length === 0) return new Set<StoreItem>();
      const items = queue;
      queue = [];
      return runCommit(items);
    },
    async readAfter(channel, epoch, after, limit) {
      // Hops along the chain (see the file comment): from the first mark of the epoch past `after`
      // (or the tail, if none) back to where the epoch's segments reach `after`, then from each
      // next mark (or the tail) back to the hop before; each hop's segments are read oldest first.
      const out: PulseEvent[] = [];
      if (limit <= 0) return out;
      const seg = { channel, epoch };
      const take = (events: string) => {
        const a = JSON.parse(events) as Unpacked;
        for (let j = 1; j < a.length; j++) if ((a[j] as Packed)[3] > after) out.push(toEvent(seg, a[j] as Packed));
      };
      let mark = selMark.get(channel, epoch, after) as { last_off: number; seq: number } | undefined;
      let stop = 0; // the key the last hop started from: this one walks back to just above it
      let low = after; // the offset this hop starts above
      for (;;) {
        let from: number;
        let high: number;
        if (mark !== undefined) {
          from = mark.seq;
          high = mark.last_off;
        } else {
          // Past the epoch's last mark: only its current run (at the tail) can have segments there.
          const t = tails.get(channel);
          if (t === undefined) break;
          const k = known(t);
          if (k !== t && k.epoch !== null) tails.set(channel, k);
          if (k.epoch !== epoch) break;
          from = k.seq;
          high = k.lastOff;
        }
        const params = { from, stop, epoch, after };
        // A hop holds at most high - low events (offsets grow within a run): when all of them are
        // wanted, its whole rows come in the walk itself; else the walk gives the keys, and only
        // the oldest segments are read, up to the limit.
        if (high - low <= limit - out.length) {
          const texts = selHop.all(params) as string[];
          for (let i = texts.length - 1; i >= 0 && out.length < limit; i--) take(texts[i]);
        } else {
          const keys = selHopKeys.all(params) as number[];
          for (let i = keys.length - 1; i >= 0 && out.length < limit; i--) take(selText.get(keys[i]) as string);
        }
        if (out.length >= limit || mark === undefined) break;
        stop = mark.seq;
        low = mark.last_off;
        mark = selMark.get(channel, epoch, mark.last_off) as { last_off: number; seq: number } | undefined;
      }
      return out.length > limit ? out.slice(0, limit) : out;
    },
    async latest(channel, limit) {
      // Newest first along the chain (all epochs, by key); segments of one commit may overlap in
      // seq, so the walk ends only where the chain leaves a commit (prev below the base).
      const t = tails.get(channel);
      if (limit <= 0 || t === undefined) return [];
      const got: StoredEvent[] = [];
      for (const [prev, base, , epoch, events] of selBack.iterate(t.seq) as IterableIterator<Back>) {
        const a = JSON.parse(events) as Unpacked;
        const seg = { channel, epoch };
        for (let i = 1; i < a.length; i++) got.push({ seq: a[0][i - 1], event: toEvent(seg, a[i] as Packed) });
        if (got.length >= limit && prev < base) break;
      }
      got.sort((x, y) => y.seq - x.seq);
      return got.slice(0, limit).reverse().map((s) => s.event);
    },
    async heads() {
      const rows = selHeads.all() as ChannelHead[];
      if (pendHeads.size === 0) return rows;
      const seen = new Set<string>();
      for (const r of rows) {
        const p = pendHeads.get(r.channel);
        if (p === undefined) continue;
        seen.add(r.channel);
        const h = withPending({ epoch: r.epoch, head: r.offset }, p);
        r.epoch = h.epoch;
        r.offset = h.head;
      }
      for (const [channel, p] of pendHeads) if (!seen.has(channel)) rows.push({ channel, epoch: p.epoch, offset: p.head });
      return rows;
    },
    async stats(channel): Promise<ChannelStats> {
      const rows = selStats.all(channel) as Array<{ type: string; count: number; last_ts: number }>;
      let head = selHead.get(channel) as { epoch: string; head: number } | undefined;
      const ph = pendHeads.get(channel);
      if (ph !== undefined) head = withPending(head, ph);
      const ps = pendStats.get(channel);
      if (ps !== undefined) {
        const left = new Map(ps);
        for (const r of rows) {
          const p = left.get(r.type);
          if (p === undefined) continue;
          left.delete(r.type);
          r.count += p.count;
          if (p.last > r.last_ts) r.last_ts = p.last;
        }
        for (const [type, p] of left) rows.push({ type, count: p.count, last_ts: p.last });
      }
      return channelStats(channel, rows, head);
    },
    async latestMatching(channel, key, value) {
      if (!/^[A-Za-z0-9_]+$/.test(key)) return null;
      // Newest first along the chain; the first match is the newest unless a segment of the same
      // commit further back holds a newer one (as in `latest`).
      const t = tails.get(channel);
      if (t === undefined) return null;
      let best: { seq: number; epoch: string; p: Packed } | null = null;
      for (const [prev, base, lastSeq, epoch, events] of selBack.iterate(t.seq) as IterableIterator<Back>) {
        if (best === null || lastSeq > best.seq) {
          const a = JSON.parse(events) as Unpacked;
          for (let i = a.length - 1; i >= 1; i--) {
            const p = a[i] as Packed;
            const d = p[4] as unknown;
            if (isPlainObject(d) && Object.hasOwn(d, key) && d[key] === value) {
              if (best === null || a[0][i - 1] > best.seq) best = { seq: a[0][i - 1], epoch, p };
              break;
            }
          }
        }
        if (best !== null && prev < base) break;
      }
      return best ? toEvent({ channel, epoch: best.epoch }, best.p) : null;
    },
    async has(id) {
      return selHas.get(id) !== undefined;
    },
    async storedIds(ids) {
      const out = new Set<string>();
      for (const id of ids) if (selHas.get(id) !== undefined) out.add(id);
      return out;
    },
    async recentIds(limit) {
      return (selRecent.all(limit) as Array<{ id: string }>).map((r) => r.id);
    },
    async scan(afterSeq, limit): Promise<StoredEvent[]> {
      const out: StoredEvent[] = [];
      if (limit <= 0) return out;
      // Segments of earlier commits end below the base of the commit holding the segment that
      // starts at or below afterSeq; from that base on, segments come in first-seq order, and
      // every buffered event below the next segment's first seq is final.
      const from = (selBase.get(afterSeq) as number | undefined) ?? afterSeq + 1;
      // Buffered: seqs with where to find the event; a segment is parsed in full only when one
      // of its events is returned.
      interface Ref {
        seq: number;
        r: SegmentRow;
        i: number;
      }
      let pending: Ref[] = [];
      const parsed = new Map<SegmentRow, Unpacked>();
      const emit = (x: Ref) => {
        let a = parsed.get(x.r);
        if (a === undefined) parsed.set(x.r, (a = unpack(x.r)));
        out.push({ seq: x.seq, event: toEvent(x.r, a[x.i] as Packed) });
      };
      const flush = (below: number, max: number) => {
        pending.sort((x, y) => x.seq - y.seq);
        let k = 0;
        while (k < pending.length && pending[k].seq < below && out.length < max) emit(pending[k++]);
        pending = k === pending.length ? [] : pending.slice(k);
      };
      let base = -1;
      let low = Infinity; // the smallest buffered seq
      for (const r of selScan.iterate(from, afterSeq) as IterableIterator<SegmentRow>) {
        // Sort only when a new commit begins (all of the last one is final) or when enough is
        // buffered, some of it below this segment's first seq, that this could end the scan.
        if (pending.length > 0 && (r.base !== base || (pending.length >= limit - out.length && low < r.seq))) {
          flush(r.seq, limit);
          if (out.length >= limit) break;
          if (r.base !== base) parsed.clear(); // all of the last commit is out
          low = pending.length ? pending[0].seq : Infinity;
        }
        base = r.base;
        const seqs = seqsOf(r);
        for (let i = 0; i < seqs.length; i++) {
          const q = seqs[i];
          if (q <= afterSeq) continue;
          pending.push({ seq: q, r, i: i + 1 });
          if (q < low) low = q;
        }
      }
      flush(Infinity, limit);
      return out.length > limit ? out.slice(0, limit) : out;
    },
    async getMeta(key) {
      const r = getMeta.get(key) as { value: string } | undefined;
      return r ? r.value : null;
    },
    async setMeta(key, value) {
      setMeta.run(key, value);
      wal?.wrote();
    },
    async prune(namespace, beforeTs) {
      const { removed, moved } = pruneTx(namespace, beforeTs);
      for (const [channel, t] of moved) {
        if (t.seq === 0) tails.delete(channel);
        else tails.set(channel, t);
      }
      checkpointed();
      wal?.wrote();
      return removed;
    },
    async close() {
      if (closed) return;
      if (queue.length) runCommit(queue.splice(0));
      flushCheckpoint();
      closed = true;
      // The thread's connection closes first, so this one is the last: it checkpoints the whole
      // log and removes it.
      await wal?.close();
      db.close();
    },
  };
}

/**
 * Convert a file of the per-event row layout (table `events`) in one transaction: runs of up to
 * MIGRATE_CHUNK consecutive rows become one pseudo-commit (one segment per channel and epoch),
 * client ids move to `event_ids`, the seq high-water mark carries over, and `events` is dropped.
 */
function migrate(
  db: Database.Database,
  writeSegment: (b: Builder, base: number) => unknown,
  insertId: Database.Statement,
  setHwm: Database.Statement,
): void {
  const cols = db.prepare(`SELECT name FROM pragma_table_info('events')`).pluck().all() as string[];
  if (cols.length === 0) return;
  const hasDedupe = cols.includes('dedupe');
  interface OldRow {
    seq: number;
    id: string;
    dedupe: number;
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
    ingested_at: number;
  }
  const page = db.prepare(
    `SELECT seq, id, ${hasDedupe ? 'dedupe' : '1 AS dedupe'}, channel, type, ts, off, epoch, data, user_id, org_id, tx_id, block_height, ingested_at
     FROM events WHERE seq > ? ORDER BY seq ASC LIMIT ${MIGRATE_CHUNK}`,
  );
  db.transaction(() => {
    let after = 0;
    for (;;) {
      const rows = page.all(after) as OldRow[];
      if (rows.length === 0) break;
      const base = rows[0].seq;
      const segs = new CommitSegments();
      for (const r of rows) {
        const b = segs.builder(r.channel, r.epoch, r.seq, r.off, r.ingested_at);
        const dedupe = r.dedupe !== 0;
        if (dedupe) insertId.run(r.seq, r.id);
        append(b, r.seq, r.id, r.type, r.ts, r.off, r.data, dedupe, r.user_id, r.org_id, r.tx_id, r.block_height, r.ingested_at);
      }
      segs.write(writeSegment, base);
      after = rows[rows.length - 1].seq;
    }
    // AUTOINCREMENT never reused a seq, even of deleted rows: neither do we.
    const auto = (db.prepare(`SELECT seq FROM sqlite_sequence WHERE name = 'events'`).pluck().get() as number | undefined) ?? 0;
    const hwm = Math.max(auto, after, (db.prepare(`SELECT hwm FROM store_seq`).pluck().get() as number | undefined) ?? 0);
    if (hwm > 0) setHwm.run(hwm);
    db.exec('DROP TABLE events');
    db.exec(TAILS_FROM_SEGMENTS);
  })();
}

/**
 * Each channel's newest segment into `channels.tail`; a channel with segments but no row (its
 * commits are all after the checkpoint, to be replayed) gets one with its last segment's offset
 * as head, which the replay then raises as it would have.
 */
const TAILS_FROM_SEGMENTS = `
INSERT INTO channels (channel, epoch, head, tail)
SELECT channel, epoch, last_off, seq FROM segments WHERE seq IN (SELECT max(seq) FROM segments GROUP BY channel)
ON CONFLICT(channel) DO UPDATE SET tail = excluded.tail`;

/**
 * Convert a file of the segment layout from before the chain (segments without `prev`, indexed
 * by `segments_after`) in one transaction: link each channel's segments by seq, mark every
 * MARK_EVERY-th one and the last of each epoch's run, store the tails, and drop the index. Files of
 * the per-event layout (and new ones) get the `channels.tail` column here too.
 */
function upgradeToChain(db: Database.Database): void {
  const columns = (table: string) => db.prepare(`SELECT name FROM pragma_table_info(?)`).pluck().all(table) as string[];
  const hasTail = columns('channels').includes('tail');
  const hasPrev = columns('segments').includes('prev');
  if (hasTail && hasPrev) return;
  db.transaction(() => {
    if (!hasTail) db.exec(`ALTER TABLE channels ADD COLUMN tail INTEGER NOT NULL DEFAULT 0`);
    if (hasPrev) return;
    db.exec(`
ALTER TABLE segments ADD COLUMN prev INTEGER NOT NULL DEFAULT 0;
UPDATE segments SET prev = l.prev
  FROM (SELECT seq, LAG(seq, 1, 0) OVER (PARTITION BY channel ORDER BY seq) AS prev FROM segments) AS l
  WHERE segments.seq = l.seq AND l.prev <> 0;
INSERT OR REPLACE INTO marks (channel, epoch, last_off, seq)
  SELECT channel, epoch, last_off, seq FROM (
    SELECT channel, epoch, last_off, seq, ROW_NUMBER() OVER w AS rn, LEAD(epoch) OVER w AS next_epoch
    FROM segments WINDOW w AS (PARTITION BY channel ORDER BY seq)
  ) WHERE rn % ${MARK_EVERY} = 0 OR next_epoch <> epoch;
${TAILS_FROM_SEGMENTS};
DROP INDEX IF EXISTS segments_after;
`);
  })();
}
