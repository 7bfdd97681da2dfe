/**
 * `npm run bench:floor [N]`: what one broadcast to N (5,000) loopback TCP connections costs this
 * machine's kernel, with no WebSocket and no JavaScript (bench/floor/loopback-floor.c, compiled
 * here with the system's C compiler) — any server's S1 latency at light load is at least this —
 * and then what one event published over HTTP costs end to end through Pulse and through the bare
 * `ws` loops, to N subscribers read by one C thread (bench/floor/one-event.c): no load generator,
 * no probes, nothing else running, server pinned to CPU 0 and reader to the others as in the bench.
 */
import { execFileSync, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { PEERS, startPeer, type PeerName } from './lib/peers.js';
import { pinPlan, setupPinning } from './lib/pin.js';

const dir = mkdtempSync(path.join(os.tmpdir(), 'pulse-floor-'));
const bin = path.join(dir, 'loopback-floor');
const probeBin = path.join(dir, 'one-event');
const ROUNDS = 15;

interface Round {
  first: number;
  p50: number;
  p99: number;
  last: number;
}

const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const round1 = (x: number): number => Math.round(x * 10) / 10;

/** One event at a time through a server to `n` subscribers; ROUNDS rounds, 400 ms apart. */
async function oneEvent(name: PeerName, n: number): Promise<Round[]> {
  const def = PEERS[name];
  const peer = await startPeer(def, { logDir: dir, tag: `floor-${name}` });
  const plan = pinPlan();
  const probe = spawn('sh', ['-c', `ulimit -n "$(ulimit -Hn)" 2>/dev/null; exec ${plan ? `taskset -c ${plan.generator} ` : ''}"$0" "$@"`, probeBin, String(peer.port), String(n), def.channel(0)], {
    stdio: ['pipe', 'pipe', 'inherit'],
  });
  const lines = createInterface({ input: probe.stdout! })[Symbol.asyncIterator]();
  const next = async (): Promise<string> => {
    const r = await lines.next();
    if (r.done) throw new Error(`one-event probe for ${name} ended early`);
    return r.value;
  };
  const agent = new http.Agent({ keepAlive: true });
  const t = def.publishTarget(peer.port, false);
  if (t.kind !== 'json-array') throw new Error(`${name}: the one-event probe publishes JSON arrays only`);
  const target = new URL(t.url);
  const post = (body: string): Promise<void> =>
    new Promise((resolve, reject) => {
      const req = http.request(target, { method: 'POST', agent, headers: { 'content-type': 'application/json' } }, (res) => {
        res.resume();
        res.on('end', () => (res.statusCode !== undefined && res.statusCode < 300 ? resolve() : reject(new Error(`${name}: publish answered ${res.statusCode}`))));
      });
      req.on('error', reject);
      req.end(body);
    });
  const rounds: Round[] = [];
  try {
    if ((await next()) !== 'ready') throw new Error('one-event probe did not start');
    await new Promise((r) => setTimeout(r, 1500)); // subscriptions answered, buffers settled
    for (let i = 0; i < ROUNDS; i++) {
      probe.stdin!.write('go\n');
      await post(JSON.stringify([{ channel: def.channel(0), type: 'tick', data: { seq: i, pad: 'x'.repeat(64) } }]));
      const r = JSON.parse(await next()) as Round & { timeout?: boolean; received?: number };
      if (r.timeout) throw new Error(`${name}: only ${r.received} of ${n} subscribers got event ${i}`);
      rounds.push(r);
      await new Promise((res) => setTimeout(res, 400));
    }
  } finally {
    agent.destroy();
    probe.kill();
    await peer.stop();
  }
  return rounds;
}

try {
  try {
    execFileSync('cc', ['-O2', '-pthread', '-o', bin, fileURLToPath(new URL('./floor/loopback-floor.c', import.meta.url))], { stdio: 'inherit' });
    execFileSync('cc', ['-O2', '-o', probeBin, fileURLToPath(new URL('./floor/one-event.c', import.meta.url))], { stdio: 'inherit' });
  } catch {
    console.error('bench:floor needs a C compiler (cc); on Debian: apt-get install build-essential');
    process.exit(1);
  }
  const n = process.argv[2] ?? '5000';
  console.log(`loopback broadcast floor on ${os.availableParallelism()} × ${os.cpus()[0]?.model ?? 'cpu'}, ${n} connections:`);
  for (const bytes of ['200', '4000']) {
    const out = execFileSync('sh', ['-c', 'ulimit -n "$(ulimit -Hn)"; exec "$0" "$@"', bin, n, bytes, '10'], { encoding: 'utf8' });
    for (const line of out.trim().split('\n')) {
      const r = JSON.parse(line) as { connections: number; bytes: number; writerThreads: number; broadcastMsMedian: number; broadcastMsMin: number; usPerWrite: number };
      console.log(`  ${r.bytes} B, ${r.writerThreads} writer thread${r.writerThreads > 1 ? 's' : ''}: one broadcast ${r.broadcastMsMedian} ms (min ${r.broadcastMsMin}), ${r.usPerWrite} µs per write`);
    }
  }
  const plan = setupPinning(true);
  console.log(`one event published over HTTP, to ${n} subscribers of its channel (${ROUNDS} rounds; ms after the publish; ${plan ? `server on CPU ${plan.server}, reader on ${plan.generator}` : 'not pinned'}):`);
  for (const name of ['pulse', 'ws-coalesce', 'ws'] as PeerName[]) {
    const rounds = await oneEvent(name, Number(n));
    const last = rounds.map((r) => r.last);
    console.log(
      `  ${PEERS[name].label.padEnd(30)} first ${round1(median(rounds.map((r) => r.first)))}, median subscriber ${round1(median(rounds.map((r) => r.p50)))}, last ${round1(median(last))} (min ${round1(Math.min(...last))}, max ${round1(Math.max(...last))}) — medians of the rounds`,
    );
  }
} finally {
  rmSync(dir, { recursive: true, force: true });
}
