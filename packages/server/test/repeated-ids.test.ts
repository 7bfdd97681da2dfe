/**
 * A client id repeated within one commit, when the hub's dedupe cache does not catch it
 * (DEDUPE_CACHE_SIZE=0 here; several nodes sharing PostgreSQL in production): the store keeps the
 * first copy and drops the later ones, and the hub must skip exactly those. The copy the store
 * kept is delivered live, enters the history ring and reaches the metric sinks, so stats and
 * metrics agree with what was stored. Real server on port 0, real SQLite file or PostgreSQL.
 */
import { describe, it, expect } from 'vitest';
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

describe.each(backends)('an id repeated within one commit ($name)', (backend) => {
  it('delivers, keeps and counts the copy the store kept, and nothing of the dropped ones', async () => {
    const env = { ...backend.env(), DEDUPE_CACHE_SIZE: '0' };
    const pulse = await start(env);
    const ch = 'contract:dup';
    try {
      const c = await NativeClient.open(pulse.wsUrl);
      await c.result({ op: 'subscribe', channel: ch });
      // One request is one commit: x twice (a new id: the first copy is stored), then y.
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
      // A later commit: x (stored by the earlier commit: every copy is dropped) twice, then z.
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
        ['y', 3, {}],
        ['z', 6, {}],
      ]);
      // Live: exactly the stored events, the stored copy of x.
      expect(c.events.map((e) => [e.id, e.offset, e.data])).toEqual(stored.map((e) => [e.id, e.offset, e.data]));
      // The history ring holds them too.
      const ring = pulse.hub.log.get(ch)!.entries(Date.now());
      expect(ring.map((e) => [e.event.id, e.event.offset])).toEqual([
        ['x', 1],
        ['y', 3],
        ['z', 6],
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
