/**
 * A Pulse process with metrics wired to its hub, driven over IPC by metrics-restart.test.ts so
 * the test can SIGKILL it: each `{events}` message is ingested with wait=durable and answered
 * with the engine's digest at that moment.
 */
import { join } from 'node:path';
import type { EventInput } from '@pulse/protocol';
import { startPulse } from '../src/index.js';
import { openSqliteStore } from '../src/store/sqlite.js';
import { createMetrics } from '../src/metrics/index.js';
import { digest } from './metrics-script.js';

const dir = process.env.DATA_DIR!;
const now = Number(process.env.METRICS_TEST_NOW);
// Only what this test needs: CI sets DATABASE_URL, which this SQLite-backed run must not see.
const pulse = await startPulse({
  env: { NODE_ENV: 'development', SKIP_AUTH: 'true', JWT_SECRET: 'test-secret-for-pulse-core-0123456789', LOG_LEVEL: 'silent', DATA_DIR: dir },
  port: 0,
  host: '127.0.0.1',
});
const metrics = createMetrics({ store: openSqliteStore(join(dir, 'pulse.db')), now: () => now, checkpointMs: 0 });
await metrics.rebuild();
pulse.hub.addSink(metrics);
process.on('message', (msg: { events: EventInput[]; checkpoint?: boolean }) => {
  if (msg.checkpoint) {
    void metrics.checkpoint().then(() => process.send!({ checkpointed: true, errors: metrics.checkpointErrors }));
    return;
  }
  void pulse.hub.ingest(msg.events, { wait: 'durable' }).then(
    (r) => process.send!({ accepted: r.accepted, digest: digest(metrics) }),
    (e: Error) => process.send!({ error: e.message }),
  );
});
process.send!({ ready: true });
