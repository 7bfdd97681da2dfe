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
import { createMetrics, MetricsEngine } from '../src/metrics/index.js';
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
    metrics.close();
    pulse = await start({}, { dir });
    metrics = createMetrics({ store: openSqliteStore(join(dir, 'pulse.db')), now: () => NOW });
    await metrics.rebuild();
    pulse.hub.addSink(metrics);
    expect(digest(metrics)).toEqual(before);
    // Re-sending the whole script after the restart changes nothing: every id is a duplicate.
    const again = await ingest(pulse.url, script.slice(0, 250), '?wait=durable');
    expect(again.json.accepted).toBe(0);
    expect(digest(metrics)).toEqual(before);
    await pulse.close();
    metrics.close();
    cleanup(dir);
  });

  it('after kill -9 every acknowledged event is counted once on rebuild', async () => {
    const dir = tempDir();
    const child = spawn(process.execPath, ['--import', 'tsx', fileURLToPath(new URL('./metrics-child.ts', import.meta.url))], {
      env: { ...process.env, DATA_DIR: dir, METRICS_TEST_NOW: String(NOW) },
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    });
    const replies: Array<{ ready?: boolean; accepted?: number; digest?: unknown; error?: string }> = [];
    child.on('message', (m) => replies.push(m as (typeof replies)[number]));
    await waitFor(() => replies.some((r) => r.ready), 'child ready', 60_000);
    const script = metricsScript(T0, 1200, 11);
    let last: unknown;
    for (let i = 0; i < 4; i++) {
      const n = replies.length;
      child.send({ events: script.slice(i * 300, i * 300 + 300) });
      const r = await waitFor(() => replies[n], `batch ${i}`, 30_000);
      expect(r.error).toBeUndefined();
      last = r.digest;
    }
    expect((last as { platform: { transactions: { total: number } } }).platform.transactions.total).toBeGreaterThan(10);
    child.kill('SIGKILL');
    await new Promise((res) => child.once('exit', res));
    const metrics = createMetrics({ store: openSqliteStore(join(dir, 'pulse.db')), now: () => NOW });
    await metrics.rebuild();
    expect(digest(metrics)).toEqual(last);
    metrics.close();
    cleanup(dir);
  });
});
