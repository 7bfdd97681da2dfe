/**
 * Helpers of the core tests, built on the shared ones in ./support (server env, temp dirs, waits);
 * what is added here is a native `/ws` client that answers requests by id.
 */
import { rmSync } from 'node:fs';
import WebSocket from 'ws';
import { startPulse, type PulseServer } from '../src/index.js';
import { tempDir, testEnv, TEST_SECRET, waitFor as waitForShared } from './support/index.js';

export { tempDir };
export const SECRET = TEST_SECRET;

/** A real server on port 0 (SKIP_AUTH development unless `env` says otherwise) with a temp DATA_DIR. */
export async function start(env: Record<string, string> = {}, opts: { dir?: string; port?: number } = {}): Promise<PulseServer & { dir: string }> {
  const dir = opts.dir ?? tempDir();
  const pulse = await startPulse({ env: testEnv(dir, { env }), port: opts.port ?? 0, host: '127.0.0.1' });
  return Object.assign(pulse, { dir });
}

export function cleanup(dir: string): void {
  rmSync(dir, { recursive: true, force: true });
}

/** Poll a condition until it holds (no fixed sleeps). */
export function waitFor<T>(fn: () => T | Promise<T>, what = 'condition', ms = 15_000): Promise<NonNullable<T>> {
  return waitForShared(fn, { what, timeoutMs: ms });
}

type Msg = Record<string, unknown> & { type: string };

/** A native `/ws` client that records every message and answers requests by id. */
export class NativeClient {
  readonly messages: Msg[] = [];
  readonly events: Array<Record<string, unknown> & { channel: string; offset: number; epoch: string; type: string }> = [];
  closeCode: number | null = null;
  private nextId = 1;
  private constructor(readonly ws: WebSocket) {
    ws.on('message', (d) => {
      const m = JSON.parse(d.toString()) as Msg;
      this.messages.push(m);
      if (m.type === 'events') this.events.push(...(m.events as NativeClient['events']));
    });
    ws.on('close', (code) => (this.closeCode = code));
  }

  static async open(url: string, token?: string): Promise<NativeClient> {
    const ws = new WebSocket(url + '/ws' + (token ? `?token=${token}` : ''));
    const c = new NativeClient(ws);
    await new Promise<void>((res, rej) => {
      ws.once('open', () => res());
      ws.once('error', rej);
    });
    await waitFor(() => c.messages.length > 0 || c.closeCode !== null, 'welcome');
    return c;
  }

  async request(body: Record<string, unknown>): Promise<Msg> {
    const id = this.nextId++;
    this.ws.send(JSON.stringify({ ...body, id }));
    return waitFor(() => this.messages.find((m) => m.id === id && (m.type === 'reply' || m.type === 'error')), `reply to ${String(body.op)}`);
  }

  async result(body: Record<string, unknown>): Promise<Record<string, unknown>> {
    const r = await this.request(body);
    if (r.type === 'error') throw new Error(`${String(r.code)}: ${String(r.message)}`);
    return r.result as Record<string, unknown>;
  }

  close(): void {
    this.ws.close();
  }
}

export async function ingest(url: string, body: unknown, query = '', headers: Record<string, string> = {}): Promise<{ status: number; json: Record<string, unknown> }> {
  const res = await fetch(url + '/v1/events' + query, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body: typeof body === 'string' || body instanceof Uint8Array ? (body as string) : JSON.stringify(body),
  });
  return { status: res.status, json: (await res.json()) as Record<string, unknown> };
}
