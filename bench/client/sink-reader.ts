/**
 * Node side of the C sink reader (sink-reader.c): builds it once with the system's C compiler,
 * hands it already-subscribed sockets as file descriptors, and asks it for its counters.
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, renameSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export interface ReaderCounters {
  frames: number;
  bytes: number;
  events: number;
  closed: number;
  closeCodes: Record<string, number>;
}

/** How a dialect's application-level ping looks and what answers it. */
export interface PingRule {
  mode: 'none' | 'exact' | 'contains';
  ping: string;
  pong: string;
}

const SRC = fileURLToPath(new URL('./sink-reader.c', import.meta.url));

/** The compiled reader (cached by source hash), or null with the reason when it cannot be built. */
export function buildReader(): { bin: string } | { error: string } {
  const src = readFileSync(SRC);
  const hash = createHash('sha256').update(src).digest('hex').slice(0, 12);
  const dir = path.join(os.tmpdir(), 'pulse-bench');
  const bin = path.join(dir, `sink-reader-${hash}`);
  if (existsSync(bin)) return { bin };
  try {
    mkdirSync(dir, { recursive: true });
    const tmp = `${bin}.${process.pid}`;
    execFileSync('cc', ['-O2', '-o', tmp, SRC], { stdio: 'pipe' });
    renameSync(tmp, bin);
    return { bin };
  } catch (e) {
    return { error: `cannot build the C sink reader (cc): ${e instanceof Error ? e.message.split('\n')[0] : String(e)}` };
  }
}

const hex = (s: string | Buffer): string => Buffer.from(s).toString('hex');

export class SinkReader {
  private readonly proc: ChildProcess;
  private lines: string[] = [];
  private waiting: Array<(line: string) => void> = [];
  private buf = '';
  private exited = false;

  constructor(bin: string, fds: number[], marker: Buffer, rule: PingRule) {
    this.proc = spawn(bin, [String(fds.length), hex(marker), rule.mode, hex(rule.ping || 'x'), hex(rule.pong || 'x')], {
      stdio: ['pipe', 'pipe', 'inherit', ...fds],
    });
    this.proc.stdout!.setEncoding('utf8');
    this.proc.stdout!.on('data', (d: string) => {
      this.buf += d;
      let i: number;
      while ((i = this.buf.indexOf('\n')) !== -1) {
        const line = this.buf.slice(0, i);
        this.buf = this.buf.slice(i + 1);
        const w = this.waiting.shift();
        if (w) w(line);
        else this.lines.push(line);
      }
    });
    this.proc.on('exit', () => {
      this.exited = true;
      for (const w of this.waiting.splice(0)) w('null');
    });
  }

  get pid(): number {
    return this.proc.pid ?? -1;
  }

  async counters(): Promise<ReaderCounters | null> {
    if (this.exited) return null;
    const line = new Promise<string>((r) => this.waiting.push(r));
    this.proc.stdin!.write('s\n');
    return JSON.parse(await line) as ReaderCounters | null;
  }

  reset(): void {
    if (!this.exited) this.proc.stdin!.write('r\n');
  }

  async stop(): Promise<void> {
    if (this.exited) return;
    const gone = new Promise<void>((r) => this.proc.once('exit', () => r()));
    this.proc.kill('SIGKILL');
    await gone;
  }
}
