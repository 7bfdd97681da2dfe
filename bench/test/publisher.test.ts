/**
 * The publisher against the real Soketi peer (Pusher `POST /apps/:id/batch_events`), with batches
 * split into requests of at most `maxBatch` events: a backlog that is not a multiple of it ends in
 * a partial request, and the publisher must count what each request carried. Decoding probes (one
 * per channel) check that Soketi delivered exactly the events counted as published.
 */
import { describe, expect, it } from 'vitest';
import { publisher } from '../lib/children.js';
import { Fleet, type FleetStats } from '../lib/fleet.js';
import type { PublishResult } from '../lib/messages.js';
import { tempLogDir, until } from './helpers.js';
import { PEERS, startPeer } from '../lib/peers.js';

const logDir = tempLogDir();

describe('publisher to Soketi (Pusher batch_events)', () => {
  it('counts the events of a partial last request as sent, not a whole maxBatch', async () => {
    const peer = await startPeer(PEERS.soketi, { logDir, tag: 'test-publisher-soketi' });
    const channels = [PEERS.soketi.channel(0), PEERS.soketi.channel(1)];
    const fleet = new Fleet(channels, channels.length, channels.length, 1);
    const pub = publisher();
    try {
      expect(await fleet.open(peer.def.wsUrl(peer.port), peer.def.dialect)).toMatchObject({ opened: 2, failed: 0 });
      await fleet.reset();
      // 3,000 ev/s in 5 ms ticks: ~15 events per batch, sent as 7 + 7 + 1 (or so): most batches end partial.
      const target = { ...peer.def.publishTarget(peer.port, false), maxBatch: 7 };
      await pub.request({ cmd: 'start', target, rate: 3000, channels, padBytes: 16, maxInflight: 1 });
      await until(
        () => pub.request<Record<string, number>>({ cmd: 'seqs' }),
        (s) => Object.values(s).reduce((a, b) => a + b, 0) >= 600,
        'publisher progress',
      );
      const p = await pub.request<PublishResult>({ cmd: 'stop' });
      expect(p.failed).toBe(0);
      // Everything due was sent (stop waits for the queue to drain), each event once.
      const sent = Object.values(p.seqs).reduce((a, b) => a + b, 0);
      expect(sent).toBe(p.due);
      expect(p.acked).toBe(sent);
      expect(p.requests).toBeGreaterThan(Math.ceil(sent / 7));
      const stats = await until<FleetStats>(() => fleet.stats(), (s) => s.events >= sent, 'delivery');
      expect(stats.events).toBe(p.acked);
      expect(stats.gaps + stats.duplicates).toBe(0);
    } finally {
      await Promise.all([fleet.close(), pub.exit()]);
      await peer.stop();
    }
  });
});
