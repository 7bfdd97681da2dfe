import { spawn, type ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import WebSocket from 'ws';
import { PulseClient, type PulseClientOptions, type WebSocketCtor, type PulseEvent } from '@pulse/client';

export interface Harness {
  url: string;
  client: PulseClient;
  /** `POST /v1/events?wait=durable`. */
  ingest(items: Array<Record<string, unknown>>): Promise<void>;
  close(): Promise<void>;
}

const here = fileURLToPath(new globalThis.URL('.', import.meta.url).href);

/** A real server in a child process (port 0, temp DATA_DIR), and a client using the `ws` WebSocket. */
export async function harness(opts: PulseClientOptions = {}, env: Record<string, string> = {}): Promise<Harness> {
  const child: ChildProcess = spawn(process.execPath, ['--import', 'tsx', `${here}serve.ts`, JSON.stringify(env)], {
    stdio: ['pipe', 'pipe', 'inherit'],
  });
  const line = await new Promise<string>((resolve, reject) => {
    const rl = createInterface({ input: child.stdout! });
    rl.once('line', resolve);
    child.once('exit', (code) => reject(new Error(`server exited with ${code}`)));
  });
  const { url } = JSON.parse(line) as { url: string };
  const client = new PulseClient({ url, WebSocket: WebSocket as unknown as WebSocketCtor, backoff: { minDelay: 20, maxDelay: 200 }, ...opts });
  return {
    url,
    client,
    async ingest(items) {
      const r = await fetch(`${url}/v1/events?wait=durable`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(items) });
      if (!r.ok) throw new Error(`ingest failed: ${r.status} ${await r.text()}`);
    },
    async close() {
      client.disconnect();
      const exited = new Promise((r) => child.once('exit', r));
      child.stdin!.end();
      await exited;
    },
  };
}

export type { PulseEvent };
