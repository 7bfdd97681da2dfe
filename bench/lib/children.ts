/** Orchestrator side of the IPC with client workers and the publisher (request/response by rid). */
import { fork, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import type { Reply } from './messages.js';
import { pinGenerator } from './pin.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));

type Request = { cmd: string } & Record<string, unknown>;

export class Child {
  private readonly proc: ChildProcess;
  private nextRid = 1;
  private readonly waiting = new Map<number, { resolve: (v: unknown) => void; reject: (e: Error) => void }>();
  private exited = false;

  constructor(
    readonly name: string,
    script: string,
  ) {
    this.proc = fork(fileURLToPath(new URL(script, import.meta.url)), [], {
      cwd: ROOT,
      execArgv: ['--import', 'tsx'],
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    });
    if (this.proc.pid) pinGenerator(this.proc.pid);
    this.proc.on('message', (raw) => {
      const reply = raw as Reply<unknown>;
      const w = this.waiting.get(reply.rid);
      if (!w) return;
      this.waiting.delete(reply.rid);
      if (reply.ok) w.resolve(reply.result);
      else w.reject(new Error(`${this.name}: ${reply.error}`));
    });
    this.proc.on('exit', (code, signal) => {
      this.exited = true;
      for (const w of this.waiting.values()) w.reject(new Error(`${this.name} exited (${code ?? signal})`));
      this.waiting.clear();
    });
  }

  get pid(): number {
    return this.proc.pid ?? -1;
  }

  request<T>(msg: Request): Promise<T> {
    if (this.exited) return Promise.reject(new Error(`${this.name} has exited`));
    const rid = this.nextRid++;
    return new Promise<T>((resolve, reject) => {
      this.waiting.set(rid, { resolve: resolve as (v: unknown) => void, reject });
      this.proc.send({ ...msg, rid });
    });
  }

  async exit(): Promise<void> {
    if (this.exited) return;
    const gone = new Promise<void>((r) => this.proc.once('exit', () => r()));
    await Promise.race([this.request({ cmd: 'exit' }).catch(() => undefined), new Promise((r) => setTimeout(r, 5000))]);
    const timer = setTimeout(() => this.proc.kill('SIGKILL'), 5000);
    await gone;
    clearTimeout(timer);
  }
}

export function clientWorker(name: string): Child {
  return new Child(name, '../client/worker.ts');
}

export function publisher(): Child {
  return new Child('publisher', '../client/publisher.ts');
}
