/**
 * The servers under test. Each is started as its own process (so its CPU and RSS can be read from
 * /proc), on free loopback ports, and torn down after each scenario.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createWriteStream, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import net from 'node:net';
import dgram from 'node:dgram';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Dialect, PublishTarget } from './messages.js';
import { serverExecPrefix } from './pin.js';
import { InspectorProfiler, inspectorUrl } from './inspector.js';

export const ROOT = fileURLToPath(new URL('../../', import.meta.url));
export const BENCH = path.join(ROOT, 'bench');

export type PeerName = 'pulse' | 'pulse-socketio' | 'socketio' | 'ws' | 'ws-coalesce' | 'soketi';
export const ALL_PEERS: PeerName[] = ['pulse', 'pulse-socketio', 'socketio', 'ws', 'ws-coalesce', 'soketi'];

export interface PeerDef {
  name: PeerName;
  label: string;
  dialect: Dialect;
  /** Channel name for index i, in the peer's naming rules (Pusher forbids ':'). */
  channel(i: number): string;
  wsUrl(port: number): string;
  publishTarget(port: number, durable: boolean): PublishTarget;
  /** Whether this peer has the feature a scenario needs (durable ingest, `since` recovery). */
  durable: boolean;
  recovery: boolean;
}

const SOKETI_APP = { appId: 'bench', key: 'benchkey', secret: 'benchsecret' };
const nativeUrl = (port: number): string => `ws://127.0.0.1:${port}/ws`;
const jsonArray = (port: number, durable: boolean): PublishTarget => ({
  kind: 'json-array',
  url: `http://127.0.0.1:${port}/v1/events${durable ? '?wait=durable' : ''}`,
});

export const PEERS: Record<PeerName, PeerDef> = {
  pulse: { name: 'pulse', label: 'Pulse (native /ws)', dialect: 'native', channel: (i) => `bench:${i}`, wsUrl: nativeUrl, publishTarget: jsonArray, durable: true, recovery: true },
  /** Pulse's own Socket.IO gateway, seed 000 profile: `subscribe{contractId}` → `contract:<id>`. */
  'pulse-socketio': {
    name: 'pulse-socketio',
    label: 'Pulse (Socket.IO, seed 000)',
    dialect: 'socketio',
    channel: (i) => `contract:bench-${i}`,
    wsUrl: (port) => `ws://127.0.0.1:${port}/socket.io/?EIO=4&transport=websocket`,
    publishTarget: jsonArray,
    durable: false, // S3 runs once, on `pulse`
    recovery: false,
  },
  socketio: {
    name: 'socketio',
    label: 'Socket.IO rooms (baseline)',
    dialect: 'socketio',
    channel: (i) => `bench:${i}`,
    wsUrl: (port) => `ws://127.0.0.1:${port}/socket.io/?EIO=4&transport=websocket`,
    publishTarget: jsonArray,
    durable: false,
    recovery: false,
  },
  ws: { name: 'ws', label: 'bare ws, frame per event', dialect: 'native', channel: (i) => `bench:${i}`, wsUrl: nativeUrl, publishTarget: jsonArray, durable: false, recovery: false },
  'ws-coalesce': { name: 'ws-coalesce', label: 'bare ws, coalesced (ceiling)', dialect: 'native', channel: (i) => `bench:${i}`, wsUrl: nativeUrl, publishTarget: jsonArray, durable: false, recovery: false },
  soketi: {
    name: 'soketi',
    label: 'Soketi (Pusher, uWS)',
    dialect: 'pusher',
    channel: (i) => `bench-${i}`,
    wsUrl: (port) => `ws://127.0.0.1:${port}/app/${SOKETI_APP.key}?protocol=7&client=js&version=8.4.0&flash=false`,
    publishTarget: (port) => ({ kind: 'pusher', baseUrl: `http://127.0.0.1:${port}`, ...SOKETI_APP, maxBatch: 1000 }),
    durable: false,
    recovery: false,
  },
};

export interface RunningPeer {
  def: PeerDef;
  pid: number;
  port: number;
  logFile: string;
  /** Present when started with `profile`: the V8 profiler of the server process. */
  profiler: InspectorProfiler | null;
  stop(): Promise<void>;
}

export function freeTcpPort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const addr = s.address();
      const port = typeof addr === 'object' && addr ? addr.port : 0;
      s.close(() => resolve(port));
    });
  });
}

function freeUdpPort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = dgram.createSocket('udp4');
    s.once('error', reject);
    s.bind(0, '127.0.0.1', () => {
      const port = s.address().port;
      s.close(() => resolve(port));
    });
  });
}

function canConnect(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const sock = net.connect(port, '127.0.0.1');
    sock.once('connect', () => {
      sock.destroy();
      resolve(true);
    });
    sock.once('error', () => resolve(false));
  });
}

export interface StartOptions {
  /** Where Pulse's sources are (the repository, or a `--pulse-ref` snapshot). */
  pulseDir?: string;
  /** Open the V8 inspector on loopback so the orchestrator can profile the load. */
  profile?: boolean;
  logDir: string;
  tag: string;
}

export async function startPeer(def: PeerDef, opts: StartOptions): Promise<RunningPeer> {
  const port = await freeTcpPort();
  const env: Record<string, string> = { ...(process.env as Record<string, string>), PORT: String(port) };
  let script: string;
  let cwd = ROOT;
  let dataDir: string | null = null;
  switch (def.name) {
    case 'pulse':
    case 'pulse-socketio':
      script = 'packages/server/src/main.ts';
      cwd = opts.pulseDir ?? ROOT;
      dataDir = mkdtempSync(path.join(os.tmpdir(), 'pulse-bench-'));
      Object.assign(env, { NODE_ENV: 'development', SKIP_AUTH: 'true', DATA_DIR: dataDir, LOG_LEVEL: 'warn' });
      break;
    case 'socketio':
      script = 'bench/peers/socketio.ts';
      break;
    case 'ws':
    case 'ws-coalesce':
      script = 'bench/peers/ws.ts';
      env.COALESCE = def.name === 'ws-coalesce' ? 'true' : 'false';
      break;
    case 'soketi':
      script = 'bench/peers/soketi.ts';
      env.SOKETI_METRICS_PORT = String(await freeTcpPort());
      env.SOKETI_CLUSTER_UDP_PORT = String(await freeUdpPort());
      break;
  }
  const nodeArgs = ['--import', 'tsx'];
  if (opts.profile) nodeArgs.push('--inspect=127.0.0.1:0');
  // Extra V8/Node flags for the server under test only (e.g. --trace-gc), from the environment.
  const extra = process.env.BENCH_SERVER_NODE_ARGS?.trim();
  if (extra) nodeArgs.push(...extra.split(/\s+/));
  mkdirSync(opts.logDir, { recursive: true });
  const logFile = path.join(opts.logDir, `${opts.tag}.log`);
  const log = createWriteStream(logFile);
  // Through a shell only to raise the soft fd limit to the hard one: 10,000 sockets need it.
  const child: ChildProcess = spawn('sh', ['-c', `ulimit -n "$(ulimit -Hn)" 2>/dev/null; exec ${serverExecPrefix()}"$0" "$@"`, process.execPath, ...nodeArgs, script], {
    cwd,
    env,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  child.stdout?.pipe(log);
  child.stderr?.pipe(log);
  let stderrHead = '';
  const onErr = (b: Buffer): void => {
    if (stderrHead.length < 4096) stderrHead += b.toString();
  };
  child.stderr?.on('data', onErr);
  let exitInfo: string | null = null;
  const exited = new Promise<void>((resolve) =>
    child.once('exit', (code, signal) => {
      exitInfo = `exit ${code ?? signal}`;
      resolve();
    }),
  );
  const deadline = Date.now() + 30_000;
  while (!(await canConnect(port))) {
    if (exitInfo) throw new Error(`${def.name} did not start (${exitInfo}); see ${logFile}`);
    if (Date.now() > deadline) {
      child.kill('SIGKILL');
      throw new Error(`${def.name} did not listen on ${port} within 30 s; see ${logFile}`);
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  let profiler: InspectorProfiler | null = null;
  if (opts.profile) {
    const url = inspectorUrl(stderrHead);
    if (!url) throw new Error(`${def.name}: no inspector URL on stderr; see ${logFile}`);
    profiler = await InspectorProfiler.connect(url);
  }
  child.stderr?.off('data', onErr);
  return {
    profiler,
    def,
    pid: child.pid ?? -1,
    port,
    logFile,
    async stop() {
      profiler?.close();
      if (!exitInfo) {
        child.kill('SIGTERM');
        const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
        await exited;
        clearTimeout(timer);
      }
      if (dataDir) rmSync(dataDir, { recursive: true, force: true });
    },
  };
}
