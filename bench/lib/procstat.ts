/** Server CPU and memory from /proc (Linux), read by the orchestrator without touching the server. */
import { readFileSync } from 'node:fs';
import { execFileSync } from 'node:child_process';

const CLK_TCK = Number(execFileSync('getconf', ['CLK_TCK']).toString().trim()) || 100;
const PAGE = Number(execFileSync('getconf', ['PAGESIZE']).toString().trim()) || 4096;

export interface ProcSample {
  /** user + system CPU seconds so far */
  cpuSec: number;
  rssBytes: number;
  at: number;
}

export function sample(pid: number): ProcSample {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  // Fields after the parenthesised command name (which may itself contain spaces).
  const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  const utime = Number(f[11]);
  const stime = Number(f[12]);
  const rssPages = Number(f[21]);
  return { cpuSec: (utime + stime) / CLK_TCK, rssBytes: rssPages * PAGE, at: performance.now() };
}

/** CPU use between two samples, in percent of one core. */
export function cpuPercent(a: ProcSample, b: ProcSample): number {
  const wall = (b.at - a.at) / 1000;
  return wall > 0 ? Math.round(((b.cpuSec - a.cpuSec) / wall) * 1000) / 10 : 0;
}
