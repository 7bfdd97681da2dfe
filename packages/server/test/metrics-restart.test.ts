/**
 * Restart exactness: after a clean restart or a SIGKILL, rebuilding from the SQLite store
 * gives every metric the value it had (state depends only on the stored log and its order).
 */
import { describe, expect, it } from 'vitest';
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { join } from 'node:path';
import { start, cleanup, tempDir, ingest, waitFor } from './core-helpers.js';
import { openSqliteStore } from '../src/store/sqlite.js';
import { createMetrics, MetricsEngine, CHECKPOINT_KEY } from '../src/metrics/index.js';
import { digest, metricsScript } from './metrics-script.js';

// Event times are in the past of the real clock (the hub clamps future ones); the engines read
// a fixed "now" so that both sides of a restart answer for the same instant.
const T0 = Date.now() - 60_000;
const NOW = T0 + 30_000;

describe('metrics restart', () => {
  it('a clean restart rebuilds every metric exactly from the store; old ids stay duplicates', async () => {
    const dir = tempDir();
    const script = metricsScript(T0, 1500, 7);
    let pulse = await start({}, { dir });
    let metrics = createMetrics({ store: openSqliteStore(join(dir, 'pulse.db')), now: () => NOW });
    await metrics.rebuild();
    pulse.hub.addSink(metrics);
    for (let i = 0; i < script.length; i += 250) {
      const r = await ingest(pulse.url, script.slice(i, i + 250), '?wait=durable');
      expect(r.status).toBe(200);
    }
    const before = digest(metrics);
    // Not an empty comparison: the script reached every set.
    const p = metrics.platformSnapshot();
    expect(p.transactions.total).toBeGreaterThan(10);
    expect(p.revenue.total).toBeGreaterThan(0);
    expect(metrics.snapshot('campaign', 'ST1PQHQKV0RJXZFY1DGX8MNSNYVE3VGZJSRTPGZGM.campaigns').values.impressions).toBeGreaterThan(10);
    expect(metrics.engine.lateDropped).toBeGreaterThan(0);
    // The live engine equals one fed the stored log directly.
    const direct = new MetricsEngine({ now: () => NOW });
    const store = openSqliteStore(join(dir, 'pulse.db'));
    direct.onEvents((await store.scan(0, 1_000_000)).map((s) => s.event));
    await store.close();
    expect(direct.snapshot('platform').values).toEqual(metrics.snapshot('platform').values);
    expect(direct.applied).toBe(metrics.engine.applied);

    await pulse.close();
    await metrics.close(); // writes a last checkpoint
    expect(metrics.checkpointErrors).toBe(0);
    pulse = await start({}, { dir });
    metrics = createMetrics({ store: openSqliteStore(join(dir, 'pulse.db')), now: () => NOW });
    expect(await metrics.rebuild()).toEqual({ fromCheckpoint: true, replayed: 0 });
    pulse.hub.addSink(metrics);
    expect(digest(metrics)).toEqual(before);
    // Other definitions: the checkpoint does not apply and the store is replayed.
    const other = createMetrics({ store: openSqliteStore(join(dir, 'pulse.db')), now: () => NOW, config: { definitions: { lateness: '2h' } }, checkpointMs: 0 });
    expect((await other.rebuild()).fromCheckpoint).toBe(false);
    // Without a checkpoint, a full replay gives the same as checkpoint + tail.
    const side = openSqliteStore(join(dir, 'pulse.db'));
    await side.setMeta(CHECKPOINT_KEY, '');
    const full = createMetrics({ store: side, now: () => NOW, checkpointMs: 0 });
    expect((await full.rebuild()).fromCheckpoint).toBe(false);
    expect(digest(full)).toEqual(before);
    // A damaged checkpoint is ignored, never half-applied.
    for (const bad of ['not json', '{"floor":5,"dump":null}', `{"floor":5,"dump":{"v":1,"hash":"${full.engine.defsHash}","heads":[],"sets":{"platform":{"g":[null],"s":[]}}}}`]) {
      await side.setMeta(CHECKPOINT_KEY, bad);
      const m = createMetrics({ store: side, now: () => NOW, checkpointMs: 0 });
      expect((await m.rebuild()).fromCheckpoint).toBe(false);
      expect(digest(m)).toEqual(before);
    }
    // Re-sending the whole script after the restart changes nothing: every id is a duplicate.
    const again = await ingest(pulse.url, script.slice(0, 250), '?wait=durable');
    expect(again.json.accepted).toBe(0);
    expect(digest(metrics)).toEqual(before);
    await pulse.close();
    await metrics.close();
    cleanup(dir);
  });

  it('checkpoints taken while events keep arriving, then a crash: checkpoint + tail equals the live state', async () => {
    const dir = tempDir();
    const pulse = await start({}, { dir });
    const live = createMetrics({ store: openSqliteStore(join(dir, 'pulse.db')), now: () => NOW, checkpointMs: 0 });
    await live.rebuild();
    pulse.hub.addSink(live);
    const script = metricsScript(T0, 3000, 23);
    const feeding = (async () => {
      for (let i = 0; i < script.length; i += 100) await pulse.hub.ingest(script.slice(i, i + 100), { wait: i % 300 === 0 ? 'durable' : undefined });
    })();
    let checkpoints = 0;
    let fed = false;
    void feeding.then(() => (fed = true));
    while (!fed) {
      await live.checkpoint();
      checkpoints++;
      // Let the hub's commit cycle run (SQLite answers synchronously, so this loop would not yield).
      await new Promise((r) => setImmediate(r));
    }
    await feeding;
    await pulse.hub.ingest([{ channel: 'x:1', type: 'last', id: 'last' }], { wait: 'durable' });
    expect(live.checkpointErrors).toBe(0);
    expect(checkpoints).toBeGreaterThan(1);
    // "Crash": no final checkpoint. A new engine restores the last one and replays the tail.
    const after = createMetrics({ store: openSqliteStore(join(dir, 'pulse.db')), now: () => NOW, checkpointMs: 0 });
    const how = await after.rebuild();
    expect(how.fromCheckpoint).toBe(true);
    expect(digest(after)).toEqual(digest(live));
    expect(after.engine.applied).toBe(live.engine.applied);
    await pulse.close();
    cleanup(dir);
  });

  it('after kill -9 every acknowledged event is counted once on rebuild', async () => {
    const dir = tempDir();
    const child = spawn(process.execPath, ['--import', 'tsx', fileURLToPath(new URL('./metrics-child.ts', import.meta.url))], {
      env: { ...process.env, DATA_DIR: dir, METRICS_TEST_NOW: String(NOW) },
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    });
    const replies: Array<{ ready?: boolean; accepted?: number; digest?: unknown; error?: string; checkpointed?: boolean }> = [];
    child.on('message', (m) => replies.push(m as (typeof replies)[number]));
    await waitFor(() => replies.some((r) => r.ready), 'child ready', 60_000);
    const script = metricsScript(T0, 1200, 11);
    let last: unknown;
    let afterCheckpoint = 0;
    for (let i = 0; i < 4; i++) {
      const n = replies.length;
      child.send({ events: script.slice(i * 300, i * 300 + 300) });
      const r = await waitFor(() => replies[n], `batch ${i}`, 30_000);
      expect(r.error).toBeUndefined();
      last = r.digest;
      if (i >= 2) afterCheckpoint += r.accepted!;
      if (i === 1) {
        // A checkpoint halfway: the rebuild below is checkpoint + tail.
        const m = replies.length;
        child.send({ checkpoint: true });
        expect(await waitFor(() => replies[m], 'checkpoint', 30_000)).toEqual({ checkpointed: true, errors: 0 });
      }
    }
    expect((last as { platform: { transactions: { total: number } } }).platform.transactions.total).toBeGreaterThan(10);
    child.kill('SIGKILL');
    await new Promise((res) => child.once('exit', res));
    const metrics = createMetrics({ store: openSqliteStore(join(dir, 'pulse.db')), now: () => NOW, checkpointMs: 0 });
    const how = await metrics.rebuild();
    expect(how.fromCheckpoint).toBe(true);
    expect(how.replayed).toBe(afterCheckpoint); // exactly the events accepted after the checkpoint
    expect(digest(metrics)).toEqual(last);
    await metrics.close();
    cleanup(dir);
  });
});
