/**
 * End to end through a real server: metrics wired to the hub as the lead wires them
 * (sink + publish through `hub.publish`), snapshots reach a native `/ws` subscriber of
 * `metrics:content:<id>`, coalesced, and only when values change.
 */
import { describe, expect, it } from 'vitest';
import { join } from 'node:path';
import { start, cleanup, ingest, waitFor, NativeClient } from './core-helpers.js';
import { openSqliteStore } from '../src/store/sqlite.js';
import { createMetrics } from '../src/metrics/index.js';

describe('metrics pushes through the hub', () => {
  it('a subscriber of metrics:content:42 gets coalesced snapshots when values change', async () => {
    const pulse = await start();
    // `pushtest` exists only in this engine, so counts on its channel are this engine's pushes
    // alone (the server may run its own engine, publishing the built-in sets too).
    const metrics = createMetrics({
      store: openSqliteStore(join(pulse.dir, 'pulse.db')),
      config: { pushMs: 50, definitions: { sets: { pushtest: { scope: 'channelId', where: { channels: ['content:*'] }, metrics: { likes: { kind: 'count', where: { types: ['like'] } } } } } } },
      publish: (channel, type, data) => pulse.hub.publish({ channel, type, data: data as Record<string, unknown> }),
    });
    await metrics.rebuild();
    pulse.hub.addSink(metrics);
    const client = await NativeClient.open(pulse.wsUrl);
    await client.result({ op: 'subscribe', channel: 'metrics:content:42' });
    await client.result({ op: 'subscribe', channel: 'metrics:platform' });
    await client.result({ op: 'subscribe', channel: 'metrics:pushtest:42' });

    const r = await ingest(pulse.url, [1, 2, 3].map((i) => ({ channel: 'content:42', type: 'like', id: `l${i}`, userId: `u${i}` })), '?wait=durable');
    expect(r.json.accepted).toBe(3);
    const content = () => client.events.filter((e) => e.channel === 'metrics:content:42');
    const got = await waitFor(() => content().find((e) => (e.data as { values: { likes: number } }).values.likes === 3), 'likes = 3 snapshot');
    expect(got).toMatchObject({ type: 'snapshot', data: { set: 'content', scope: '42', values: { likes: 3, views: 0, score: 15, tier: 'poor', trending: false } } });
    // Three events in one request: coalesced into at most a few snapshots, the last one current.
    const own = () => client.events.filter((e) => e.channel === 'metrics:pushtest:42');
    await waitFor(() => own().some((e) => (e.data as { values: { likes: number } }).values.likes === 3), 'own set snapshot');
    expect(own().length).toBeLessThanOrEqual(3);
    expect(own().at(-1)).toMatchObject({ data: { values: { likes: 3 } } });
    await waitFor(() => client.events.some((e) => e.channel === 'metrics:platform' && (e.data as { values: { activeUsers: number } }).values.activeUsers === 3), 'platform snapshot');

    // Nothing changes for content 42 → no more pushes on its channel, even after several push
    // intervals (observed by waiting for later platform ticks, not by sleeping).
    const seenOwn = own().length;
    const platformTicks = () => client.events.filter((e) => e.channel === 'metrics:platform').length;
    await ingest(pulse.url, [{ channel: 'content:9', type: 'share', id: 's1' }], '?wait=durable');
    await waitFor(() => metrics.snapshot('content', '9').values.shares === 1, 'share counted');
    const ticks = platformTicks();
    await ingest(pulse.url, [{ channel: 'other:1', type: 'x', id: 'o1', userId: 'u99' }], '?wait=durable');
    await waitFor(() => platformTicks() > ticks, 'a later platform push');
    expect(own().length).toBe(seenOwn);

    // trigger-update's event: the hub stamps the running value (3 + 1), the metric follows it.
    await ingest(pulse.url, [{ channel: 'content:42', type: 'analytics_update', id: 'au1', data: { field: 'likes', increment: 1 } }], '?wait=durable');
    await waitFor(() => content().some((e) => (e.data as { values: { likes: number } }).values.likes === 4), 'likes = 4');
    // A restart-style rebuild from the store gives the same counters.
    const again = createMetrics({ store: openSqliteStore(join(pulse.dir, 'pulse.db')) });
    await again.rebuild();
    expect(again.snapshot('content', '42').values).toEqual(metrics.snapshot('content', '42').values);
    again.close();
    client.close();
    metrics.close();
    await pulse.close();
    cleanup(pulse.dir);
  });
});
