import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import http from 'node:http';
import { start, cleanup, ingest, waitFor } from './core-helpers.js';
import type { PulseServer } from '../src/index.js';

let pulse: PulseServer & { dir: string };
beforeAll(async () => {
  pulse = await start({ HEARTBEAT_MS: '60000' });
});
afterAll(async () => {
  await pulse.close();
  cleanup(pulse.dir);
});

/** A raw SSE reader (node has no EventSource): parses messages as they stream in. */
function openSse(url: string, headers: Record<string, string> = {}) {
  const msgs: Array<{ event: string; id?: string; data: unknown }> = [];
  let buf = '';
  const req = http.get(url, { headers }, (res) => {
    res.setEncoding('utf8');
    res.on('data', (chunk: string) => {
      buf += chunk;
      let i: number;
      while ((i = buf.indexOf('\n\n')) >= 0) {
        const block = buf.slice(0, i);
        buf = buf.slice(i + 2);
        const m: { event: string; id?: string; data: unknown } = { event: 'message', data: null };
        let data = '';
        for (const line of block.split('\n')) {
          if (line.startsWith('event: ')) m.event = line.slice(7);
          else if (line.startsWith('id: ')) m.id = line.slice(4);
          else if (line.startsWith('data: ')) data += line.slice(6);
        }
        if (data) {
          m.data = JSON.parse(data);
          msgs.push(m);
        }
      }
    });
  });
  return { msgs, close: () => req.destroy() };
}

describe('SSE /v1/stream', () => {
  it('streams events with resumable ids and recovers with Last-Event-ID', async () => {
    const a = openSse(`${pulse.url}/v1/stream?channel=market:sse&channel=analytics`);
    await waitFor(() => a.msgs.filter((m) => m.event === 'subscribed').length === 2, 'subscribed twice');
    await ingest(pulse.url, [
      { channel: 'market:sse', type: 't', data: { i: 1 } },
      { channel: 'analytics:search', type: 'search', data: { i: 2 } },
      { channel: 'market:sse', type: 't', data: { i: 3 } },
    ]);
    await waitFor(() => a.msgs.filter((m) => m.event === 'event').length === 3, 'three events');
    const evs = a.msgs.filter((m) => m.event === 'event');
    expect(evs.map((m) => (m.data as { data: { i: number } }).data.i)).toEqual([1, 2, 3]);
    const lastSse = evs[2];
    expect(lastSse.id).toMatch(/^market:sse@[a-z0-9]+:2$/);
    a.close();
    await ingest(pulse.url, [4, 5].map((i) => ({ channel: 'market:sse', type: 't', data: { i } })));
    const b = openSse(`${pulse.url}/v1/stream?channel=market:sse`, { 'Last-Event-ID': lastSse.id! });
    await waitFor(() => b.msgs.filter((m) => m.event === 'event').length === 2, 'recovered two');
    expect(b.msgs[0]).toMatchObject({ event: 'subscribed', data: { recovered: true } });
    expect(b.msgs.filter((m) => m.event === 'event').map((m) => (m.data as { data: { i: number } }).data.i)).toEqual([4, 5]);
    b.close();
  });

  it('refuses a bad channel with a coded error', async () => {
    const r = await fetch(`${pulse.url}/v1/stream?channel=${encodeURIComponent('bad channel')}`);
    expect(r.status).toBe(400);
    expect(((await r.json()) as { code: string }).code).toBe('INVALID_CHANNEL');
  });
});

describe('HTTP polling', () => {
  it('returns missed events after a position and long-polls for the next', async () => {
    await ingest(pulse.url, [1, 2].map((i) => ({ channel: 'market:poll', type: 't', data: { i } })), '?wait=durable');
    const first = (await fetch(`${pulse.url}/v1/channels/market:poll/events?since=0`).then((r) => r.json())) as {
      events: Array<{ offset: number }>;
      position: { epoch: string; offset: number };
      recovered: boolean;
    };
    expect(first.events.map((e) => e.offset)).toEqual([1, 2]);
    expect(first.recovered).toBe(true);
    const waiting = fetch(`${pulse.url}/v1/channels/market:poll/events?since=2&epoch=${first.position.epoch}&wait=5000`).then((r) => r.json()) as Promise<{
      events: Array<{ offset: number; data: { i: number } }>;
    }>;
    await new Promise((r) => setTimeout(r, 50));
    await ingest(pulse.url, [{ channel: 'market:poll', type: 't', data: { i: 3 } }]);
    const next = await waiting;
    expect(next.events.map((e) => e.data.i)).toEqual([3]);
    const bad = await fetch(`${pulse.url}/v1/channels/market:poll/events?since=-1`);
    expect(((await bad.json()) as { code: string }).code).toBe('INVALID_REQUEST');
  });
});
