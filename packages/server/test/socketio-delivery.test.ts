/**
 * The Socket.IO gateway's delivery path: a connection's queued events are written as prebuilt
 * frames (several in one socket write) on the WebSocket transport, and through engine.io on
 * polling. Whatever the transport, each event is its own Socket.IO packet, all arrive, in order.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { Cleanup, SioCollector, postEvents, startTestServer, waitFor } from './support/index.js';

const cleanup = new Cleanup();
afterEach(() => cleanup.run());

type SeedEvent = { id: string; type: string; contractId: string; txId: string | null; blockHeight: number | null; timestamp: number; data: { n: number; pad?: string }; offset: number };

async function client(url: string, transports: Array<'websocket' | 'polling'>): Promise<SioCollector> {
  const c = cleanup.closable(SioCollector.connect(url, { transports }));
  await c.connected();
  await c.next('connected');
  return c;
}

describe('Socket.IO gateway delivery', () => {
  it('a batch reaches WebSocket and polling clients whole and in order, one packet per event, in the seed 000 shape', async () => {
    const s = cleanup.server(await startTestServer({ env: { MAX_EVENT_BYTES: '131072' } }));
    const clients = [await client(s.url, ['websocket']), await client(s.url, ['websocket']), await client(s.url, ['websocket']), await client(s.url, ['polling'])];
    for (const c of clients) {
      const from = c.mark();
      c.socket.emit('subscribe', { contractId: 'batch.test' });
      await c.next('subscribed', () => true, { from });
    }
    // One request: committed together, so each connection flushes a queue of many events.
    // Sizes cover the three WebSocket length encodings (7-bit, 16-bit, 64-bit).
    const sizes = (n: number) => (n === 10 ? 300 : n === 20 ? 70_000 : 0);
    const batch = Array.from({ length: 120 }, (_, n) => ({
      channel: 'contract:batch.test',
      type: n % 2 ? 'bid_placed' : 'campaign_created',
      ...(n === 5 ? { txId: '0xfeed', blockHeight: 42 } : {}),
      data: sizes(n) ? { n, pad: 'é'.repeat(sizes(n)) } : { n },
    }));
    const answer = await postEvents(s.url, batch);
    for (const c of clients) {
      await waitFor(() => c.payloads('event').length >= batch.length || null, 'all events');
      const got = c.payloads<SeedEvent>('event');
      expect(got.map((e) => e.data.n)).toEqual(batch.map((_, n) => n));
      expect(got.map((e) => e.offset)).toEqual(answer.events.map((e) => e.offset));
      expect(got[5]).toEqual({
        id: answer.events[5].id,
        type: 'bid_placed',
        contractId: 'batch.test',
        txId: '0xfeed',
        blockHeight: 42,
        timestamp: got[5].timestamp,
        data: { n: 5 },
        offset: answer.events[5].offset,
      });
      expect(got[6]).toMatchObject({ txId: null, blockHeight: null, type: 'campaign_created' });
      expect(got[10].data.pad).toBe('é'.repeat(300));
      expect(got[20].data.pad).toBe('é'.repeat(70_000));
    }
  });

  it('drops a WebSocket client that stops reading (SLOW_CONSUMER) while another keeps receiving everything', async () => {
    const s = cleanup.server(await startTestServer({ env: { MAX_BUFFERED_BYTES: '65536', MAX_EVENT_BYTES: '20000' } }));
    const slow = await client(s.url, ['websocket']);
    const fast = await client(s.url, ['websocket']);
    for (const c of [slow, fast]) {
      const from = c.mark();
      c.socket.emit('subscribe', { contractId: 'flood.test' });
      await c.next('subscribed', () => true, { from });
    }
    // Stop reading: the kernel buffers fill, then the server's buffered bytes grow.
    const raw = (slow.socket.io.engine.transport as unknown as { ws: { _socket: { pause(): void; resume(): void } } }).ws._socket;
    raw.pause();
    const blob = 'x'.repeat(16_000);
    let sent = 0;
    let dropped = false;
    for (let round = 0; round < 200 && !dropped; round++) {
      await postEvents(s.url, Array.from({ length: 20 }, () => ({ channel: 'contract:flood.test', type: 't', data: { blob } })));
      sent += 20;
      await waitFor(() => fast.payloads('event').length === sent || null, 'fast client keeps up');
      const text = await fetch(s.url + '/metrics').then((r) => r.text());
      dropped = /events_dropped_total\{reason="slow_consumer"\} [1-9]/.test(text);
    }
    expect(dropped).toBe(true);
    raw.resume();
    await slow.next('disconnect');
    expect(fast.payloads('event').length).toBe(sent);
    expect(fast.socket.connected).toBe(true);
  }, 60_000);
});
