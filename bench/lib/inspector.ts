/**
 * CPU profiles of a server process limited to the load, through the V8 inspector: the server is
 * started with `--inspect=127.0.0.1:0`, and the orchestrator starts and stops the profiler around
 * the measured steps, so module loading and idle start-up do not drown the hot path (as they do
 * in a whole-life `--cpu-prof` of a short run).
 */
import WebSocket from 'ws';

export class InspectorProfiler {
  private nextId = 1;
  private readonly waiting = new Map<number, (result: unknown) => void>();

  private constructor(private readonly ws: WebSocket) {
    ws.on('message', (buf: Buffer) => {
      const msg = JSON.parse(buf.toString()) as { id?: number; result?: unknown; error?: { message: string } };
      if (msg.id === undefined) return;
      const w = this.waiting.get(msg.id);
      this.waiting.delete(msg.id);
      w?.(msg.error ? new Error(msg.error.message) : msg.result);
    });
  }

  static connect(url: string): Promise<InspectorProfiler> {
    return new Promise((resolve, reject) => {
      const ws = new WebSocket(url, { perMessageDeflate: false, maxPayload: 1024 * 1024 * 1024 });
      ws.once('open', () => resolve(new InspectorProfiler(ws)));
      ws.once('error', reject);
    });
  }

  private call(method: string, params: Record<string, unknown> = {}): Promise<unknown> {
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      this.waiting.set(id, (r) => (r instanceof Error ? reject(r) : resolve(r)));
      this.ws.send(JSON.stringify({ id, method, params }));
    });
  }

  async start(): Promise<void> {
    await this.call('Profiler.enable');
    await this.call('Profiler.setSamplingInterval', { interval: 500 });
    await this.call('Profiler.start');
  }

  /** Stops profiling; returns the profile in `.cpuprofile` JSON form. */
  async stop(): Promise<unknown> {
    const r = (await this.call('Profiler.stop')) as { profile: unknown };
    return r.profile;
  }

  close(): void {
    this.ws.close();
  }
}

/** Finds the inspector URL Node prints on stderr ("Debugger listening on ws://..."). */
export function inspectorUrl(stderrText: string): string | null {
  const m = /Debugger listening on (ws:\/\/\S+)/.exec(stderrText);
  return m ? m[1] : null;
}
