/**
 * The scale-out store: PostgreSQL through node-postgres. Same port, same group commit: one
 * transaction per commit, one multi-row insert through `unnest`, duplicates reported by what
 * `ON CONFLICT DO NOTHING` did not return: the items whose (channel, epoch, offset) is not among
 * the inserted rows.
 */
import pg from 'pg';
import type { PulseEvent, ChannelStats } from '@pulse/protocol';
import type { Store, StoreItem, StoredEvent, ChannelHead } from '../ports.js';
import { channelStats, summarizeBatch } from './batch.js';

interface Row {
  seq: string;
  id: string;
  channel: string;
  type: string;
  ts: string;
  off: string;
  epoch: string;
  data: Record<string, unknown>;
  user_id: string | null;
  org_id: string | null;
  tx_id: string | null;
  block_height: string | null;
}

function rowToEvent(r: Row): PulseEvent {
  const e: PulseEvent = { id: r.id, channel: r.channel, type: r.type, ts: Number(r.ts), data: r.data, offset: Number(r.off), epoch: r.epoch };
  if (r.user_id !== null) e.userId = r.user_id;
  if (r.org_id !== null) e.orgId = r.org_id;
  if (r.tx_id !== null) e.txId = r.tx_id;
  if (r.block_height !== null) e.blockHeight = Number(r.block_height);
  return e;
}

const schemaSql = (s: string) => `
CREATE SCHEMA IF NOT EXISTS ${s};
CREATE TABLE IF NOT EXISTS ${s}.events (
  seq BIGSERIAL PRIMARY KEY,
  id TEXT NOT NULL,
  channel TEXT NOT NULL,
  type TEXT NOT NULL,
  ts BIGINT NOT NULL,
  off BIGINT NOT NULL,
  epoch TEXT NOT NULL,
  data JSONB NOT NULL,
  user_id TEXT, org_id TEXT, tx_id TEXT, block_height BIGINT,
  ingested_at BIGINT NOT NULL,
  dedupe BOOLEAN NOT NULL DEFAULT true
);
ALTER TABLE ${s}.events ADD COLUMN IF NOT EXISTS dedupe BOOLEAN NOT NULL DEFAULT true;
CREATE UNIQUE INDEX IF NOT EXISTS events_channel_off ON ${s}.events(channel, epoch, off);
-- Only client-supplied ids can repeat; generated UUIDs skip the unique check.
CREATE UNIQUE INDEX IF NOT EXISTS events_id ON ${s}.events(id) WHERE dedupe;
CREATE INDEX IF NOT EXISTS events_ingested ON ${s}.events(ingested_at);
CREATE TABLE IF NOT EXISTS ${s}.channels (channel TEXT PRIMARY KEY, epoch TEXT NOT NULL, head BIGINT NOT NULL);
CREATE TABLE IF NOT EXISTS ${s}.channel_stats (channel TEXT NOT NULL, type TEXT NOT NULL, count BIGINT NOT NULL, last_ts BIGINT NOT NULL, PRIMARY KEY (channel, type));
CREATE TABLE IF NOT EXISTS ${s}.meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
`;

export async function openPostgresStore(url: string, opts: { schema?: string; poolSize?: number } = {}): Promise<Store> {
  const schema = opts.schema ?? 'pulse';
  if (!/^[a-z_][a-z0-9_]{0,62}$/.test(schema)) throw new Error(`invalid PostgreSQL schema name: ${schema}`);
  const pool = new pg.Pool({ connectionString: url, max: opts.poolSize ?? 4 });
  // A pool error on an idle client must not crash the process; the next query reports it.
  pool.on('error', () => {});
  try {
    await pool.query(schemaSql(schema));
  } catch (e) {
    await pool.end();
    throw new Error(`PostgreSQL at DATABASE_URL is unreachable or refused the schema: ${(e as Error).message}`);
  }
  const t = (name: string) => `${schema}.${name}`;
  let queue: StoreItem[] = [];
  let tail: Promise<unknown> = Promise.resolve();

  async function commitItems(items: StoreItem[]): Promise<Set<StoreItem>> {
    const c = await pool.connect();
    try {
      await c.query('BEGIN');
      const cols: unknown[][] = [[], [], [], [], [], [], [], [], [], [], [], [], []];
      for (const it of items) {
        const e = it.event;
        const v = [e.id, e.channel, e.type, e.ts, e.offset, e.epoch, it.dataJson, e.userId ?? null, e.orgId ?? null, e.txId ?? null, e.blockHeight ?? null, it.ingestedAt, it.dedupe !== false];
        for (let i = 0; i < 13; i++) cols[i].push(v[i]);
      }
      const ins = await c.query<{ channel: string; epoch: string; off: string }>(
        `INSERT INTO ${t('events')} (id, channel, type, ts, off, epoch, data, user_id, org_id, tx_id, block_height, ingested_at, dedupe)
         SELECT id, channel, type, ts, off, epoch, data::jsonb, user_id, org_id, tx_id, block_height, ingested_at, dedupe
         FROM unnest($1::text[], $2::text[], $3::text[], $4::bigint[], $5::bigint[], $6::text[], $7::text[], $8::text[], $9::text[], $10::text[], $11::bigint[], $12::bigint[], $13::boolean[])
           AS x(id, channel, type, ts, off, epoch, data, user_id, org_id, tx_id, block_height, ingested_at, dedupe)
         ON CONFLICT DO NOTHING RETURNING channel, epoch, off`,
        cols,
      );
      // Which items went in, told apart by (channel, epoch, offset), which the hub hands out once
      // (and a unique index enforces): by id, the copies of an id repeated within the batch (one
      // inserted, the others not) would look alike. Every row returned: nothing was dropped.
      let inserted: (index: number) => boolean = () => true;
      if (ins.rows.length < items.length) {
        const key = (channel: string, epoch: string, off: number | string) => channel + '\u0000' + epoch + '\u0000' + off;
        const rows = new Set(ins.rows.map((r) => key(r.channel, r.epoch, r.off)));
        inserted = (i) => {
          const e = items[i].event;
          return rows.delete(key(e.channel, e.epoch, e.offset));
        };
      }
      const { dropped, heads, stats: sv } = summarizeBatch(items, inserted);
      if (heads.size) {
        const hc = [...heads.keys()];
        await c.query(
          `INSERT INTO ${t('channels')} (channel, epoch, head) SELECT * FROM unnest($1::text[], $2::text[], $3::bigint[])
           ON CONFLICT (channel) DO UPDATE SET epoch = excluded.epoch,
             head = CASE WHEN ${t('channels')}.epoch = excluded.epoch THEN greatest(${t('channels')}.head, excluded.head) ELSE excluded.head END`,
          [hc, hc.map((k) => heads.get(k)!.epoch), hc.map((k) => heads.get(k)!.head)],
        );
      }
      if (sv.length) {
        await c.query(
          `INSERT INTO ${t('channel_stats')} (channel, type, count, last_ts) SELECT * FROM unnest($1::text[], $2::text[], $3::bigint[], $4::bigint[])
           ON CONFLICT (channel, type) DO UPDATE SET count = ${t('channel_stats')}.count + excluded.count, last_ts = greatest(${t('channel_stats')}.last_ts, excluded.last_ts)`,
          [sv.map((s) => s.channel), sv.map((s) => s.type), sv.map((s) => s.count), sv.map((s) => s.last)],
        );
      }
      await c.query('COMMIT');
      return dropped;
    } catch (e) {
      await c.query('ROLLBACK').catch(() => {});
      throw e;
    } finally {
      c.release();
    }
  }

  const store: Store = {
    kind: 'postgres',
    enqueue(items) {
      for (const it of items) queue.push(it);
    },
    pending: () => queue.length,
    commit() {
      if (queue.length === 0) return Promise.resolve(new Set<StoreItem>());
      const items = queue;
      queue = [];
      // Commits are serialised so heads and stats apply in order.
      const p = tail.then(() => commitItems(items));
      tail = p.catch(() => {});
      return p;
    },
    async readAfter(channel, epoch, after, limit) {
      const r = await pool.query<Row>(`SELECT * FROM ${t('events')} WHERE channel = $1 AND epoch = $2 AND off > $3 ORDER BY off ASC LIMIT $4`, [channel, epoch, after, limit]);
      return r.rows.map(rowToEvent);
    },
    async latest(channel, limit) {
      const r = await pool.query<Row>(`SELECT * FROM (SELECT * FROM ${t('events')} WHERE channel = $1 ORDER BY seq DESC LIMIT $2) x ORDER BY seq ASC`, [channel, limit]);
      return r.rows.map(rowToEvent);
    },
    async heads() {
      const r = await pool.query<{ channel: string; epoch: string; head: string }>(`SELECT channel, epoch, head FROM ${t('channels')}`);
      return r.rows.map((x): ChannelHead => ({ channel: x.channel, epoch: x.epoch, offset: Number(x.head) }));
    },
    async stats(channel): Promise<ChannelStats> {
      const r = await pool.query<{ type: string; count: string; last_ts: string }>(`SELECT type, count, last_ts FROM ${t('channel_stats')} WHERE channel = $1`, [channel]);
      const h = await pool.query<{ epoch: string; head: string }>(`SELECT epoch, head FROM ${t('channels')} WHERE channel = $1`, [channel]);
      return channelStats(channel, r.rows, h.rows[0]);
    },
    async latestMatching(channel, key, value) {
      if (!/^[A-Za-z0-9_]+$/.test(key)) return null;
      const r = await pool.query<Row>(`SELECT * FROM ${t('events')} WHERE channel = $1 AND data->>$2 = $3 ORDER BY seq DESC LIMIT 1`, [channel, key, String(value)]);
      return r.rows[0] ? rowToEvent(r.rows[0]) : null;
    },
    async has(id) {
      const r = await pool.query(`SELECT 1 FROM ${t('events')} WHERE id = $1 AND dedupe`, [id]);
      return (r.rowCount ?? 0) > 0;
    },
    async storedIds(ids) {
      if (ids.length === 0) return new Set<string>();
      const r = await pool.query<{ id: string }>(`SELECT id FROM ${t('events')} WHERE id = ANY($1::text[]) AND dedupe`, [ids]);
      return new Set(r.rows.map((x) => x.id));
    },
    async recentIds(limit) {
      const r = await pool.query<{ id: string }>(`SELECT id FROM ${t('events')} WHERE dedupe ORDER BY seq DESC LIMIT $1`, [limit]);
      return r.rows.map((x) => x.id);
    },
    async scan(afterSeq, limit): Promise<StoredEvent[]> {
      const r = await pool.query<Row>(`SELECT * FROM ${t('events')} WHERE seq > $1 ORDER BY seq ASC LIMIT $2`, [afterSeq, limit]);
      return r.rows.map((x) => ({ seq: Number(x.seq), event: rowToEvent(x) }));
    },
    async getMeta(key) {
      const r = await pool.query<{ value: string }>(`SELECT value FROM ${t('meta')} WHERE key = $1`, [key]);
      return r.rows[0]?.value ?? null;
    },
    async setMeta(key, value) {
      await pool.query(`INSERT INTO ${t('meta')} (key, value) VALUES ($1, $2) ON CONFLICT (key) DO UPDATE SET value = excluded.value`, [key, value]);
    },
    async prune(namespace, beforeTs) {
      const r = await pool.query(`DELETE FROM ${t('events')} WHERE channel >= $1 AND channel < $2 AND ingested_at < $3`, [namespace + ':', namespace + ';', beforeTs]);
      return r.rowCount ?? 0;
    },
    async close() {
      if (queue.length) await store.commit().catch(() => {});
      await tail;
      await pool.end();
    },
  };
  return store;
}
