/**
 * A group commit that fails (here: a real SQLite file whose segment inserts a trigger aborts,
 * installed through a second connection) answers `?wait=durable` producers UNAVAILABLE, delivers
 * nothing of the batch, and leaves its client ids free: the producer's retry with the same id is
 * accepted, stored and delivered, not answered as a duplicate of a copy that was never stored.
 */
import { describe, it, expect } from 'vitest';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { start, cleanup, ingest, NativeClient, waitFor } from './core-helpers.js';

describe('a failed commit', () => {
  it('answers UNAVAILABLE, delivers nothing, and a retry with the same id is stored', async () => {
    const pulse = await start();
    const ch = 'contract:fail';
    const db = new Database(join(pulse.dir, 'pulse.db'));
    try {
      const c = await NativeClient.open(pulse.wsUrl);
      await c.result({ op: 'subscribe', channel: ch });
      db.exec(`CREATE TABLE fail_now (x);
        CREATE TRIGGER fail_segments BEFORE INSERT ON segments WHEN (SELECT count(*) FROM fail_now) > 0
        BEGIN SELECT RAISE(ABORT, 'injected failure'); END;
        INSERT INTO fail_now VALUES (1);`);
      const failed = await ingest(pulse.url, [{ channel: ch, type: 'payment', id: 'pay-1', data: { amount: 5 } }], '?wait=durable');
      expect(failed.status).toBe(503);
      expect(failed.json.code).toBe('UNAVAILABLE');

      db.exec('DELETE FROM fail_now');
      const retry = await ingest(pulse.url, [{ channel: ch, type: 'payment', id: 'pay-1', data: { amount: 5 } }], '?wait=durable');
      expect(retry.status).toBe(200);
      expect(retry.json).toMatchObject({ accepted: 1, duplicates: 0, durable: true });
      // Stored and delivered once: the failed copy never reached the subscriber.
      await waitFor(() => c.events.filter((e) => e.channel === ch).length === 1, 'the retried event delivered');
      const h = (await c.result({ op: 'history', channel: ch })) as unknown as { events: Array<{ id: string }> };
      expect(h.events.map((e) => e.id)).toEqual(['pay-1']);
      // And now it is a duplicate.
      const again = await ingest(pulse.url, [{ channel: ch, type: 'payment', id: 'pay-1' }], '?wait=durable');
      expect(again.json).toMatchObject({ accepted: 0, duplicates: 1 });
      c.close();
    } finally {
      db.close();
      await pulse.close();
      cleanup(pulse.dir);
    }
  });

  it('does not move the content counters: the next stored value follows the last stored one', async () => {
    const pulse = await start();
    const ch = 'content:article-1';
    const db = new Database(join(pulse.dir, 'pulse.db'));
    const view = () => ingest(pulse.url, [{ channel: ch, type: 'content_view' }], '?wait=durable');
    try {
      expect((await view()).status).toBe(200);
      expect((await view()).status).toBe(200);
      db.exec(`CREATE TABLE fail_now (x);
        CREATE TRIGGER fail_segments BEFORE INSERT ON segments WHEN (SELECT count(*) FROM fail_now) > 0
        BEGIN SELECT RAISE(ABORT, 'injected failure'); END;
        INSERT INTO fail_now VALUES (1);`);
      expect((await view()).status).toBe(503);
      expect((await view()).status).toBe(503);
      db.exec('DELETE FROM fail_now');
      expect((await view()).status).toBe(200);
      const c = await NativeClient.open(pulse.wsUrl);
      const h = (await c.result({ op: 'history', channel: ch })) as unknown as { events: Array<{ data: { value: number } }> };
      // 1, 2 stored; the two failed views counted nothing; the next is 3.
      expect(h.events.map((e) => e.data.value)).toEqual([1, 2, 3]);
      c.close();
    } finally {
      db.close();
      await pulse.close();
      cleanup(pulse.dir);
    }
  });
});
