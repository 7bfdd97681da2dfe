/**
 * Soketi (Pusher protocol on uWebSockets.js), started in-process with every listener — the
 * WebSocket/HTTP API, the metrics server and the cluster discovery (UDP) — bound to 127.0.0.1.
 *
 * The uWebSockets.js build used here silently falls back to a pure Node implementation when its
 * native binary does not load, which would make Soketi's numbers meaningless; this launcher
 * refuses to start unless the `.node` binary is mapped into the process.
 */
import { readFileSync, readdirSync, readlinkSync } from 'node:fs';
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);

function nativeUwsLoaded(): string | null {
  require('uWebSockets.js');
  const maps = readFileSync('/proc/self/maps', 'utf8');
  const line = maps.split('\n').find((l) => /uws_[a-z0-9]+_[a-z0-9]+_\d+\.node$/.test(l));
  return line ? line.split(/\s+/).pop() ?? null : null;
}

const binary = nativeUwsLoaded();
if (!binary) {
  console.error('SOKETI_NATIVE_MISSING: uWebSockets.js native binary did not load (fallback in use); refusing to benchmark Soketi');
  process.exit(3);
}
console.error(`soketi: uWebSockets.js native binary ${binary}`);

const port = Number(process.env.PORT);
const metricsPort = Number(process.env.SOKETI_METRICS_PORT);
const clusterPort = Number(process.env.SOKETI_CLUSTER_UDP_PORT);
if (![port, metricsPort, clusterPort].every((p) => Number.isInteger(p) && p > 0)) {
  throw new Error('PORT, SOKETI_METRICS_PORT and SOKETI_CLUSTER_UDP_PORT must be set');
}

const { Server } = require('@soketi/soketi') as { Server: new (o: Record<string, unknown>) => { start(): Promise<unknown> } };
const server = new Server({
  host: '127.0.0.1',
  port,
  'metrics.host': '127.0.0.1',
  'metrics.port': metricsPort,
  'cluster.hostname': '127.0.0.1',
  // Soketi passes cluster.* to node-discover, whose UDP bind address is `address` (default 0.0.0.0).
  'cluster.address': '127.0.0.1',
  'cluster.port': clusterPort,
  'cluster.unicast': ['127.0.0.1'],
  'cluster.broadcast': '127.255.255.255',
  'appManager.array.apps.0.id': process.env.SOKETI_APP_ID ?? 'bench',
  'appManager.array.apps.0.key': process.env.SOKETI_APP_KEY ?? 'benchkey',
  'appManager.array.apps.0.secret': process.env.SOKETI_APP_SECRET ?? 'benchsecret',
  // Same batches as every other peer: let one API call carry them.
  'eventLimits.maxBatchSize': Number(process.env.SOKETI_MAX_BATCH ?? 1000),
  'httpApi.acceptTraffic.memoryThreshold': 100,
  shutdownGracePeriod: 0,
});
process.on('SIGTERM', () => process.exit(0));
process.on('SIGINT', () => process.exit(0));

/** Listening TCP sockets and bound UDP sockets of this process that are not on 127.0.0.1. */
function nonLoopbackSockets(): string[] {
  const inodes = new Set<string>();
  for (const fd of readdirSync('/proc/self/fd')) {
    try {
      const m = /socket:\[(\d+)\]/.exec(readlinkSync(`/proc/self/fd/${fd}`));
      if (m) inodes.add(m[1]);
    } catch {
      // the fd closed while we looked
    }
  }
  const bad: string[] = [];
  for (const proto of ['tcp', 'udp', 'tcp6', 'udp6']) {
    for (const line of readFileSync(`/proc/self/net/${proto}`, 'utf8').split('\n').slice(1)) {
      const c = line.trim().split(/\s+/);
      if (c.length < 10 || !inodes.has(c[9])) continue;
      const listening = proto.startsWith('udp') || c[3] === '0A';
      if (listening && !c[1].startsWith('0100007F:')) bad.push(`${proto} ${c[1]}`);
    }
  }
  return bad;
}

void server.start();
// Discovery and both listeners are up within a second; anything bound beyond loopback stops the run.
setTimeout(() => {
  const bad = nonLoopbackSockets();
  if (bad.length > 0) {
    console.error(`SOKETI_NOT_LOOPBACK: sockets bound beyond 127.0.0.1: ${bad.join(', ')}`);
    process.exit(4);
  }
  console.error('soketi: every socket is bound to 127.0.0.1');
}, 1000).unref();
