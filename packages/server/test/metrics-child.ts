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
const pulse = await startPulse({ env: { ...process.env, NODE_ENV: 'development', SKIP_AUTH: 'true', LOG_LEVEL: 'silent' }, port: 0, host: '127.0.0.1' });
const metrics = createMetrics({ store: openSqliteStore(join(dir, 'pulse.db')), now: () => now });
await metrics.rebuild();
pulse.hub.addSink(metrics);
process.on('message', (msg: { events: EventInput[] }) => {
  void pulse.hub.ingest(msg.events, { wait: 'durable' }).then(
    (r) => process.send!({ accepted: r.accepted, digest: digest(metrics) }),
    (e: Error) => process.send!({ error: e.message }),
  );
});
process.send!({ ready: true });
