/** Shared pieces of the security tests: native requests, a watcher that must keep receiving, store checks. */
import { expect } from 'vitest';
import { WsCollector, waitFor, http, type Json, type TestServer } from './support/index.js';

let nextId = 1;

/** Send a native request and wait for its reply or error. */
export async function call(c: WsCollector, body: Record<string, unknown>): Promise<Json> {
  const id = `r${nextId++}`;
  c.send({ ...body, id });
  return c.next((m) => m.id === id && (m.type === 'reply' || m.type === 'error'), { what: `answer to ${String(body.op)}` });
}

/** Open a native connection; `token` goes in `?token=`. */
export function openNative(pulse: TestServer, token?: string, path = '/ws'): Promise<WsCollector> {
  return WsCollector.open(pulse.wsUrl + path + (token ? `?token=${encodeURIComponent(token)}` : ''));
}

/**
 * A subscriber on one channel plus the ids of every event accepted into it. `check()` proves
 * the server is up, still delivers, and has lost nothing it accepted.
 */
export class Witness {
  readonly ids: string[] = [];
  private n = 0;
  private constructor(
    private pulse: TestServer,
    private channel: string,
    private client: WsCollector,
    private token: string | undefined,
  ) {}

  static async start(pulse: TestServer, channel: string, token?: string): Promise<Witness> {
    const c = await openNative(pulse, token);
    const r = await call(c, { op: 'subscribe', channel });
    expect(r.type).toBe('reply');
    return new Witness(pulse, channel, c, token);
  }

  /** Health answers, a new event is accepted durably and delivered, and the store holds every accepted event. */
  async check(label: string): Promise<void> {
    const health = await http<{ status: string }>('GET', `${this.pulse.url}/health`);
    expect(health.status, `${label}: /health`).toBe(200);
    const id = `witness-${++this.n}-${label.replace(/[^A-Za-z0-9]/g, '_').slice(0, 60)}`;
    const r = await http<{ accepted: number }>('POST', `${this.pulse.url}/v1/events?wait=durable`, { body: { channel: this.channel, type: 'tick', id }, token: this.token });
    expect(r.status, `${label}: ingest ${r.text}`).toBe(200);
    this.ids.push(id);
    await waitFor(() => this.client.messages.some((m) => m.type === 'events' && (m.events as Json[]).some((e) => e.id === id)), { what: `${label}: witness receives ${id}` });
    expect(this.client.closeCode, `${label}: witness still connected`).toBeNull();
    const head = this.pulse.hub.log.get(this.channel)!;
    const stored = await this.pulse.hub.store.readAfter(this.channel, head.epoch, 0, 100_000);
    expect(stored.map((e) => e.id), `${label}: every accepted event is in the store`).toEqual(this.ids);
  }

  close(): void {
    this.client.close();
  }
}

/** The value of one Prometheus series in `/metrics` text (0 when absent). */
export function metricValue(text: string, name: string, labels: Record<string, string> = {}): number {
  const want = Object.entries(labels).map(([k, v]) => `${k}="${v}"`);
  let total = 0;
  for (const line of text.split('\n')) {
    if (!line.startsWith(name)) continue;
    const rest = line.slice(name.length);
    if (rest[0] !== '{' && rest[0] !== ' ') continue;
    if (want.every((w) => rest.includes(w))) total += Number(line.split(' ').pop());
  }
  return total;
}
