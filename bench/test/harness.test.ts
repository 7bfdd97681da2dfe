/**
 * The harness itself, tested against the bare ws peers (and the Socket.IO baseline, whose
 * engine.io framing the sinks parse by hand) in a tiny configuration: the generator must
 * count exactly the events the publisher got accepted — sinks by scanning frames without decoding,
 * probes by decoding — with no gaps or duplicates. No timing assertions: only counts.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { publisher, type Child } from '../lib/children.js';
import { Fleet, type FleetStats } from '../lib/fleet.js';
import type { PublishResult } from '../lib/messages.js';
import { tempLogDir, until } from './helpers.js';
import { PEERS, startPeer, type PeerName, type RunningPeer } from '../lib/peers.js';

const logDir = tempLogDir();

/** Publishes until at least `events` are due, then stops and waits for the fleet to see them all. */
async function publishAndCollect(peer: RunningPeer, fleet: Fleet, pub: Child, channels: string[], perChannel: number, events: number, padBytes: number): Promise<{ p: PublishResult; stats: FleetStats }> {
  await fleet.reset();
  await pub.request({ cmd: 'start', target: peer.def.publishTarget(peer.port, false), rate: 500, channels, padBytes, maxInflight: 1 }); // ordered: seq order = delivery order
  await until(
    () => pub.request<Record<string, number>>({ cmd: 'seqs' }),
    (s) => Object.values(s).reduce((a, b) => a + b, 0) >= events,
    'publisher progress',
  );
  const p = await pub.request<PublishResult>({ cmd: 'stop' });
  const stats = await until(() => fleet.stats(), (s) => s.events >= p.acked * perChannel, 'delivery');
  return { p, stats };
}

const VARIANTS: Array<[PeerName, 'node' | 'c']> = [
  ['ws', 'node'],
  ['ws-coalesce', 'node'],
  ['socketio', 'node'],
  ['ws', 'c'],
  ['ws-coalesce', 'c'],
  ['socketio', 'c'],
];

describe.each(VARIANTS)('generator against the %s peer, sinks read in %s', (name, readers) => {
  let peer: RunningPeer;
  let fleet: Fleet;
  let pub: Child;
  const channels = ['bench:0', 'bench:1', 'bench:2'];
  const perChannel = 4;

  beforeAll(async () => {
    peer = await startPeer(PEERS[name], { logDir, tag: `test-${name}` });
    // 12 clients: 3 decoding probes (one per channel) and 9 raw sinks in one process.
    fleet = new Fleet(channels, channels.length * perChannel, 3, 1);
    pub = publisher();
    const setup = await fleet.open(peer.def.wsUrl(peer.port), peer.def.dialect);
    expect(setup).toMatchObject({ opened: 12, failed: 0 });
    // The fan-out scenarios hand the sinks' sockets to the C reader after they subscribed.
    if (readers === 'c') expect(await fleet.handoff()).toMatchObject({ handedOff: 9, kept: 0, error: null });
  });

  afterAll(async () => {
    await Promise.all([fleet?.close(), pub?.exit()]);
    await peer?.stop();
  });

  it('counts exactly the events published, in sinks and probes', async () => {
    const { p, stats } = await publishAndCollect(peer, fleet, pub, channels, perChannel, 150, 64);
    expect(p.failed).toBe(0);
    expect(p.acked).toBeGreaterThanOrEqual(150);
    expect(stats.events).toBe(p.acked * perChannel);
    expect(stats.gaps).toBe(0);
    expect(stats.duplicates).toBe(0);
    expect(stats.closedUnexpectedly).toBe(0);
    // Probes sample every event they receive: one per channel, so the publish count.
    expect(stats.latency.count).toBe(p.acked);
    // Every probe ends on its channel's last sequence number.
    for (const c of stats.lastSeq) expect(c.seq).toBe(p.seqs[c.channel]);
    // One event per frame, except where the server coalesces.
    if (name === 'ws-coalesce') expect(stats.frames).toBeLessThanOrEqual(stats.events);
    else expect(stats.frames).toBe(stats.events);
  });

  it('counts events in frames larger than a socket read (markers split across reads)', async () => {
    const { p, stats } = await publishAndCollect(peer, fleet, pub, channels, perChannel, 40, 70_000);
    expect(p.failed).toBe(0);
    expect(stats.events).toBe(p.acked * perChannel);
    expect(stats.gaps + stats.duplicates).toBe(0);
  });
});

describe('idle connections', () => {
  it('opens handshake-only clients that stay open', async () => {
    const peer = await startPeer(PEERS.ws, { logDir, tag: 'test-idle' });
    // Idle clients are not sinks: nothing is handed to the C reader.
    const fleet = new Fleet(['bench:0'], 50, 0, 2, 'idle');
    try {
      const setup = await fleet.open(peer.def.wsUrl(peer.port), peer.def.dialect);
      expect(setup).toMatchObject({ opened: 50, failed: 0 });
      const stats = await fleet.stats();
      expect(stats.open).toBe(50);
      expect(stats.events).toBe(0);
      expect(await fleet.handoff()).toMatchObject({ handedOff: 0 });
    } finally {
      await fleet.close();
      await peer.stop();
    }
  });
});
