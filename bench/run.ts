/**
 * `npm run bench [-- --quick] [options]`: runs the scenarios against Pulse and its peers, one
 * server process at a time, prints Markdown tables and writes JSON to bench/results/.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseArgs, type ScenarioName } from './lib/config.js';
import { setupPinning } from './lib/pin.js';
import { BENCH, PEERS, ROOT, startPeer, type PeerDef, type RunningPeer } from './lib/peers.js';
import { summarize, type ProfileSummary } from './lib/profile.js';
import { snapshotPulse } from './lib/snapshot.js';
import { renderTables } from './lib/report.js';
import { runFanout, runIdle, runIngest, runRecovery, type ScenarioResult } from './lib/scenarios.js';

// Node cannot raise its own fd limit; re-run once under a shell that raises the soft limit to the
// hard one, which every worker then inherits (S4 holds 10,000 sockets).
if (process.env.PULSE_BENCH_FDS !== 'raised') {
  const r = spawnSync('sh', ['-c', 'ulimit -n "$(ulimit -Hn)" 2>/dev/null; exec "$0" "$@"', process.execPath, ...process.execArgv, ...process.argv.slice(1)], {
    stdio: 'inherit',
    env: { ...process.env, PULSE_BENCH_FDS: 'raised' },
  });
  process.exit(r.status ?? 1);
}

const cfg = parseArgs(process.argv.slice(2));
const stamp = new Date().toISOString().replace(/[:.]/g, '-');
const resultsDir = path.join(BENCH, 'results');
const logDir = path.join(resultsDir, 'logs', stamp);
const profDir = path.join(resultsDir, 'profiles', stamp);
const log = (s: string): void => void process.stdout.write(`${s}\n`);

const fdLimit = Number(spawnSync('sh', ['-c', 'ulimit -n']).stdout.toString().trim());
const machine = {
  date: new Date().toISOString(),
  nproc: os.cpus().length,
  cpu: os.cpus()[0]?.model ?? 'unknown',
  memGB: Math.round(os.totalmem() / 2 ** 30),
  node: process.version,
  fdLimit,
  loadavg: os.loadavg().map((l) => Math.round(l * 100) / 100),
  pinning: setupPinning(cfg.pin),
};
log(`pulse bench ${cfg.quick ? '(quick) ' : ''}on ${machine.nproc} × ${machine.cpu}, node ${machine.node}, fd limit ${fdLimit}, load ${machine.loadavg.join(' ')}`);
log(machine.pinning ? `pinned: server under test on CPU ${machine.pinning.server}, load generator on CPU ${machine.pinning.generator}` : 'not pinned (--pin=false, one CPU, or no taskset)');
const needFds = Math.max(cfg.s4Connections, cfg.s1Subscribers, cfg.s2Channels * cfg.s2PerChannel, cfg.s5Clients) / cfg.sinkWorkers + 1000;
if (fdLimit < needFds) log(`warning: fd limit ${fdLimit} may be too low for ${Math.round(needFds)} sockets per worker`);

let pulseDir = ROOT;
let pulseVersion = 'working tree';
if (cfg.pulseRef) {
  const snap = snapshotPulse(ROOT, cfg.pulseRef);
  pulseDir = snap.dir;
  pulseVersion = `commit ${snap.commit}`;
}
log(`Pulse under test: ${pulseVersion}${cfg.pulseRef ? ` (${pulseDir})` : ''}`);
const pulseAvailable = existsSync(path.join(pulseDir, 'packages/server/src/main.ts'));

function applicable(s: ScenarioName, p: PeerDef): string | null {
  if (p.name === 'pulse' && !pulseAvailable) return 'packages/server/src/main.ts not present yet';
  if (s === 'S3' && !p.durable) return null; // no durable ingest: not run, not listed
  if (s === 'S5' && !p.recovery) return null; // no `since` recovery
  return 'run';
}

const results: ScenarioResult[] = [];
let current: RunningPeer | null = null;
// Interrupted: stop the server under test too (workers exit when their IPC channel closes).
for (const sig of ['SIGINT', 'SIGTERM'] as const) {
  process.once(sig, () => {
    log(`\n${sig}: stopping`);
    void (current?.stop() ?? Promise.resolve()).finally(() => {
      if (cfg.pulseRef) rmSync(pulseDir, { recursive: true, force: true });
      process.exit(130);
    });
  });
}
const profiles: Array<{ tag: string; file: string } & ProfileSummary> = [];

for (const scenario of cfg.scenarios) {
  for (const name of cfg.peers) {
    const def = PEERS[name];
    const why = applicable(scenario, def);
    if (why === null) continue;
    const shapeHint = scenario;
    if (why !== 'run') {
      results.push({ scenario, peer: name, shape: shapeHint, skipped: why });
      log(`${scenario} ${def.label}: skipped (${why})`);
      continue;
    }
    log(`${scenario} ${def.label}`);
    const tag = `${scenario}-${name}`;
    const profiled = cfg.profile && (name === 'pulse' || name === 'pulse-socketio' || cfg.profileAll);
    let peer: RunningPeer | null = null;
    try {
      peer = await startPeer(def, { logDir, tag, pulseDir, profile: profiled });
      current = peer;
      // Profile the load only: start once the server is up, stop before it is torn down.
      await peer.profiler?.start();
      const r =
        scenario === 'S1' || scenario === 'S2'
          ? await runFanout(cfg, scenario, peer, log)
          : scenario === 'S3'
            ? await runIngest(cfg, peer, log)
            : scenario === 'S4'
              ? await runIdle(cfg, peer, log)
              : await runRecovery(cfg, peer, log);
      if (r.error) log(`  error: ${r.error}`);
      results.push(r);
      if (peer.profiler) {
        const profile = await peer.profiler.stop();
        mkdirSync(profDir, { recursive: true });
        const profFile = path.join(profDir, `${tag}.cpuprofile`);
        writeFileSync(profFile, JSON.stringify(profile));
        const prof = summarize(profile as Parameters<typeof summarize>[0], pulseDir, 15);
        profiles.push({ tag, file: path.relative(ROOT, profFile), ...prof });
        log(`  profile ${path.relative(ROOT, profFile)} (open in Chrome DevTools or speedscope): busy ${prof.busyPct}% of samples; top self time, % of busy:`);
        for (const f of prof.functions) log(`    ${String(f.selfPct).padStart(5)}%  ${f.name}  ${f.where}`);
        log(`  by file: ${prof.files.map((f) => `${f.file} ${f.selfPct}%`).join(', ')}`);
      }
    } catch (err) {
      const msg = err instanceof Error ? err.message : String(err);
      log(`  error: ${msg}`);
      results.push({ scenario, peer: name, shape: shapeHint, error: msg });
    } finally {
      await peer?.stop();
      current = null;
    }
  }
}

const tables = renderTables(results, cfg.p99LimitMs);
log('');
log(tables);
mkdirSync(resultsDir, { recursive: true });
const json = { machine, pulse: pulseVersion, config: cfg, results, profiles };
const file = path.join(resultsDir, `${stamp}${cfg.quick ? '-quick' : ''}.json`);
writeFileSync(file, `${JSON.stringify(json, null, 2)}\n`);
writeFileSync(path.join(resultsDir, 'latest.json'), `${JSON.stringify(json, null, 2)}\n`);
const profileText = profiles
  .map(
    (p) =>
      `#### ${p.tag}: busy ${p.busyPct}% of samples (\`${p.file}\`)\n\n| self % of busy | function | where |\n| --- | --- | --- |\n${p.functions
        .map((f) => `| ${f.selfPct} | \`${f.name}\` | ${f.where} |`)
        .join('\n')}\n\nBy file: ${p.files.map((f) => `${f.file} ${f.selfPct}%`).join(', ')}\n`,
  )
  .join('\n');
const loadEnd = os.loadavg().map((l) => Math.round(l * 100) / 100);
writeFileSync(
  path.join(resultsDir, 'latest.md'),
  `Run ${machine.date} on ${machine.nproc} × ${machine.cpu}, ${machine.memGB} GB, node ${machine.node}${cfg.quick ? ' (--quick)' : ''}; Pulse ${pulseVersion}; ` +
    `load average at start ${machine.loadavg.join(' ')}, at end ${loadEnd.join(' ')}\n\n${tables}\n${profileText ? `### Pulse CPU profiles (during the load)\n\n${profileText}` : ''}`,
);
log(`results: ${path.relative(ROOT, file)}`);
if (cfg.pulseRef) rmSync(pulseDir, { recursive: true, force: true });
