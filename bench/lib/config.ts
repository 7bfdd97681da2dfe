/** Command-line options of `npm run bench`; `--quick` shrinks everything to about a minute. */
import { ALL_PEERS, type PeerName } from './peers.js';

export type ScenarioName = 'S1' | 'S2' | 'S3' | 'S4' | 'S5';
export const ALL_SCENARIOS: ScenarioName[] = ['S1', 'S2', 'S3', 'S4', 'S5'];

export interface BenchConfig {
  quick: boolean;
  peers: PeerName[];
  scenarios: ScenarioName[];
  /** Seconds each publish-rate step lasts. */
  stepSec: number;
  /** The latency bound of the step search. */
  p99LimitMs: number;
  /** Rate ladder multipliers within a decade (1-2-5, or 1-3 in quick mode). */
  ladder: number[];
  maxSteps: number;
  /** Fixed publish rates instead of the ladder (--rates), e.g. to profile one load. */
  rates: number[] | null;
  /** A step that fails on p99 alone is run once more before the ladder stops (--retry=false: no). */
  retry: boolean;
  probes: number;
  sinkWorkers: number;
  padBytes: number;
  s1Subscribers: number;
  s1StartRate: number;
  s2Channels: number;
  s2PerChannel: number;
  s2StartRate: number;
  s3StartRate: number;
  s4Connections: number;
  s5Clients: number;
  s5Channels: number;
  s5Rate: number;
  /** Profile the Pulse server with --cpu-prof and print its top functions. */
  profile: boolean;
  /** Also profile the other peers. */
  profileAll: boolean;
  /** Benchmark this commit of Pulse (exported to a temp dir) instead of the working tree. */
  pulseRef: string | null;
  /** Pin the server to CPU 0 and the generator to the others (taskset). */
  pin: boolean;
  /** Fan-out sinks read by the C reader after subscribing (client/sink-reader.c). */
  sinkReader: boolean;
}

/** --quick compares Pulse with the baseline and the ceiling only, to stay near a minute. */
const QUICK_PEERS: PeerName[] = ['pulse', 'socketio', 'ws-coalesce'];

const HELP = `usage: npm run bench -- [options]
  --quick                 small client counts, 1 s steps (about a minute)
  --peers=a,b             ${ALL_PEERS.join(',')} (default: all; --quick: ${QUICK_PEERS.join(',')})
  --scenarios=S1,S3       ${ALL_SCENARIOS.join(',')} (default: all)
  --step=<sec>            seconds per rate step
  --rates=a,b             publish exactly these rates (ev/s) instead of the ladder; still stops at the first failing one
  --retry=false           stop at the first step over the p99 bound (default: such a step runs once more, and the ladder stops if it fails again)
  --p99-limit=<ms>        the latency bound of the step search (100)
  --s1-subs=<n>           S1 subscribers on the one channel (5000)
  --s2-channels=<n> --s2-per-channel=<n>   S2 shape (1000 x 5)
  --s4-conns=<n>          S4 idle connections (10000)
  --s5-clients=<n> --s5-channels=<n> --s5-rate=<ev/s>   S5 shape (5000 over 50 channels at 200 ev/s)
  --probes=<n>            decoding probe clients per fan-out scenario (20)
  --sink-workers=<n>      sink processes (2)
  --pad=<bytes>           padding in each event's data (64)
  --profile               CPU-profile the Pulse server during each scenario's load (V8 inspector) and print its top functions
  --profile-all           profile every peer
  --sink-reader=false     fan-out sinks keep reading in Node instead of handing their sockets to the C reader
  --pin=false             do not pin the server to CPU 0 and the load generator to the other CPUs (taskset)
  --pulse-ref=<commit>    benchmark a committed Pulse (git archive to a temp dir), not the working tree
`;

export function parseArgs(argv: string[]): BenchConfig {
  const flags = new Map<string, string>();
  for (const a of argv) {
    if (a === '--help' || a === '-h') {
      process.stdout.write(HELP);
      process.exit(0);
    }
    const m = /^--([a-z0-9-]+)(?:=(.*))?$/.exec(a);
    if (!m) throw new Error(`unknown argument ${a}\n${HELP}`);
    flags.set(m[1], m[2] ?? 'true');
  }
  const quick = flags.get('quick') === 'true';
  const num = (name: string, full: number, q: number): number => {
    const v = flags.get(name);
    if (v === undefined) return quick ? q : full;
    const n = Number(v);
    if (!Number.isFinite(n) || n <= 0) throw new Error(`--${name} must be a positive number`);
    return n;
  };
  const list = <T extends string>(name: string, all: T[], dflt: T[] = all): T[] => {
    const v = flags.get(name);
    if (!v) return dflt;
    const items = v.split(',').map((s) => s.trim()) as T[];
    for (const i of items) if (!all.includes(i)) throw new Error(`--${name}: unknown ${i}; choose from ${all.join(',')}`);
    return items;
  };
  const known = new Set(['quick', 'peers', 'scenarios', 'step', 'p99-limit', 's1-subs', 's2-channels', 's2-per-channel', 's4-conns', 's5-clients', 's5-channels', 's5-rate', 'probes', 'sink-workers', 'pad', 'profile', 'profile-all', 'pulse-ref', 'pin', 'sink-reader', 'rates', 'retry']);
  for (const k of flags.keys()) if (!known.has(k)) throw new Error(`unknown option --${k}\n${HELP}`);
  return {
    quick,
    peers: list('peers', ALL_PEERS, quick ? QUICK_PEERS : ALL_PEERS),
    scenarios: list('scenarios', ALL_SCENARIOS),
    stepSec: num('step', 4, 1),
    p99LimitMs: num('p99-limit', 100, 100),
    ladder: quick ? [1, 3] : [1, 2, 5],
    maxSteps: quick ? 5 : 12,
    rates: flags.has('rates')
      ? (flags.get('rates') ?? '').split(',').map((r) => {
          const n = Number(r);
          if (!Number.isFinite(n) || n <= 0) throw new Error('--rates must be positive numbers, comma-separated');
          return n;
        })
      : null,
    retry: flags.get('retry') !== 'false',
    probes: num('probes', 20, 5),
    sinkWorkers: num('sink-workers', 2, 1),
    padBytes: num('pad', 64, 64),
    s1Subscribers: num('s1-subs', 5000, 500),
    // Low starts so that even a contended machine yields a passing step; the ladder passes through
    // 50,000 deliveries/s (S1: 10 ev/s x 5,000; S2: 10,000 ev/s x 5), the light-load point.
    s1StartRate: quick ? 100 : 1,
    s2Channels: num('s2-channels', 1000, 100),
    s2PerChannel: num('s2-per-channel', 5, 5),
    s2StartRate: quick ? 3000 : 200,
    s3StartRate: quick ? 3000 : 200,
    s4Connections: num('s4-conns', 10000, 1000),
    s5Clients: num('s5-clients', 5000, 500),
    s5Channels: num('s5-channels', 50, 10),
    s5Rate: num('s5-rate', 200, 200),
    profile: flags.get('profile') === 'true' || flags.get('profile-all') === 'true',
    profileAll: flags.get('profile-all') === 'true',
    pulseRef: flags.get('pulse-ref') ?? null,
    pin: flags.get('pin') !== 'false',
    sinkReader: flags.get('sink-reader') !== 'false',
  };
}

/** The rate ladder: start, then the ladder's multipliers decade by decade. */
export function rateLadder(start: number, ladder: number[], maxSteps: number): number[] {
  const out: number[] = [];
  let decade = 10 ** Math.floor(Math.log10(start));
  while (out.length < maxSteps) {
    for (const m of ladder) {
      const r = m * decade;
      if (r >= start && out.length < maxSteps) out.push(r);
    }
    decade *= 10;
  }
  return out;
}
