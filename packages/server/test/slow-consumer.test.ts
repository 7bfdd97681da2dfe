import { describe, it, expect } from 'vitest';
import { start, cleanup, NativeClient, ingest, waitFor } from './core-helpers.js';

describe('slow consumers', () => {
  it('drops a connection that stops reading, with SLOW_CONSUMER, while others keep receiving; it can recover', async () => {
    const pulse = await start({ MAX_BUFFERED_BYTES: '65536', MAX_EVENT_BYTES: '20000' });
    try {
      const slow = await NativeClient.open(pulse.wsUrl);
      const fast = await NativeClient.open(pulse.wsUrl);
      await slow.result({ op: 'subscribe', channel: 'market:flood' });
      await fast.result({ op: 'subscribe', channel: 'market:flood' });
      // Stop reading: the kernel buffers fill, then the server's buffered bytes grow.
      (slow.ws as unknown as { _socket: { pause(): void } })._socket.pause();
      const blob = 'x'.repeat(16_000);
      let sent = 0;
      for (let round = 0; round < 200 && slow.closeCode === null; round++) {
        await ingest(pulse.url, Array.from({ length: 20 }, () => ({ channel: 'market:flood', type: 't', data: { blob } })));
        sent += 20;
        await waitFor(() => fast.events.length === sent, 'fast client keeps up');
        const text = await fetch(pulse.url + '/metrics').then((r) => r.text());
        if (/events_dropped_total\{reason="slow_consumer"\} [1-9]/.test(text)) break;
      }
      (slow.ws as unknown as { _socket: { resume(): void } })._socket.resume();
      await waitFor(() => slow.closeCode !== null, 'slow client closed', 10_000);
      expect(slow.closeCode).toBe(4008);
      expect(slow.messages.some((m) => m.type === 'closing' && m.reason === 'SLOW_CONSUMER')).toBe(true);
      expect(fast.closeCode).toBeNull();
      expect(fast.events.length).toBe(sent);

      // The dropped client reconnects from its last position and gets everything it missed.
      const last = slow.events[slow.events.length - 1] ?? { epoch: fast.events[0].epoch, offset: 0 };
      const again = await NativeClient.open(pulse.wsUrl);
      const r = await again.result({ op: 'subscribe', channel: 'market:flood', since: { epoch: last.epoch, offset: last.offset } });
      expect(r.recovered).toBe(true);
      await waitFor(() => again.events.length === sent - last.offset, 'recovered the rest', 10_000);
      fast.close();
      again.close();
    } finally {
      await pulse.close();
      cleanup(pulse.dir);
    }
  }, 60_000);
});
