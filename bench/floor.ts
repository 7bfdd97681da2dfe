/**
 * `npm run bench:floor`: what one broadcast to 5,000 loopback TCP connections costs this machine's
 * kernel, with no WebSocket and no JavaScript (bench/floor/loopback-floor.c, compiled here with the
 * system's C compiler). Any server's S1 latency at light load is at least this.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const src = fileURLToPath(new URL('./floor/loopback-floor.c', import.meta.url));
const dir = mkdtempSync(path.join(os.tmpdir(), 'pulse-floor-'));
const bin = path.join(dir, 'loopback-floor');
try {
  try {
    execFileSync('cc', ['-O2', '-pthread', '-o', bin, src], { stdio: 'inherit' });
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
} finally {
  rmSync(dir, { recursive: true, force: true });
}
