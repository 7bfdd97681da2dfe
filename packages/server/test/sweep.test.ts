/**
 * The delivery sweep: under load the hub flushes connections in slices of a few milliseconds and
 * lets the event loop run between them, so an event committed while a broadcast is under way
 * joins the queues of the connections not reached yet (one frame with both) instead of waiting
 * for the whole broadcast to end. Sessions here are real hub sessions whose flush records what it
 * was given and takes a millisecond, so one broadcast spans several slices on any machine.
 */
import { describe, it, expect, afterAll } from 'vitest';
import { Session } from '../src/hub/session.js';
import { Dialect } from '../src/hub/envelope.js';
import { ANONYMOUS_DEV } from '../src/auth/principal.js';
import type { Hub } from '../src/hub/hub.js';
import { start, cleanup, waitFor, NativeClient } from './core-helpers.js';

class RecordingSession extends Session {
  readonly dialectName = 'test';
  /** Offsets handed to each flush. */
  readonly flushes: number[][] = [];
  onFlush: (() => void) | null = null;
  constructor(hub: Hub) {
    super(hub, ANONYMOUS_DEV);
  }
  flush(): void {
    const q = this.queue;
    this.queue = [];
    this.queueSubs = [];
    this.flushes.push(q.map((e) => e.event.offset));
    const until = performance.now() + 1;
    while (performance.now() < until) {
      /* a slow connection write: forces the sweep into several slices */
    }
    const f = this.onFlush;
    this.onFlush = null;
    f?.();
  }
  terminate(): void {
    this.closed = true;
  }
  get received(): number[] {
    return this.flushes.flat();
  }
}

describe('delivery sweep', () => {
  const dirs: string[] = [];
  afterAll(() => dirs.forEach(cleanup));

  it('an event committed mid-broadcast reaches the connections not yet flushed in the same frame; everyone gets everything once, in order', async () => {
    const pulse = await start();
    dirs.push(pulse.dir);
    try {
      const hub = pulse.hub;
      const native = await NativeClient.open(pulse.url);
      await native.result({ op: 'subscribe', channel: 'sweep:one' });
      const sessions: RecordingSession[] = [];
      for (let i = 0; i < 200; i++) {
        const s = new RecordingSession(hub);
        hub.attach(s);
        await hub.subscribe(s, 'sweep:one', { dialect: Dialect.NATIVE });
        sessions.push(s);
      }
      // The first event starts a broadcast of ~200 ms; during the first session's flush a second
      // event is ingested, which the hub commits (in a worker or a database, asynchronously)
      // while that broadcast is still under way.
      sessions[0].onFlush = () => void hub.ingest([{ channel: 'sweep:one', type: 't', data: { n: 2 } }]);
      await hub.ingest([{ channel: 'sweep:one', type: 't', data: { n: 1 } }]);
      await waitFor(() => sessions.every((s) => s.received.length === 2), 'every session has both events');
      await waitFor(() => native.events.length === 2, 'native client has both events');

      for (const s of sessions) expect(s.received).toEqual([1, 2]);
      expect(native.events.map((e) => e.offset)).toEqual([1, 2]);
      // The first session got them in two flushes; those reached after the second commit, in
      // one: the second event did not wait for the first broadcast to finish.
      expect(sessions[0].flushes).toEqual([[1], [2]]);
      const together = sessions.filter((s) => s.flushes.length === 1);
      expect(together.length).toBeGreaterThan(0);
      for (const s of together) expect(s.flushes).toEqual([[1, 2]]);

      // Once everyone has been sent them, the ring keeps the events, not their encodings.
      await waitFor(() => {
        const ring = hub.log.get('sweep:one')?.entries(Date.now()) ?? [];
        return ring.length === 2 && ring.every((e) => e.enc.length === 0 && e.bufs === undefined);
      }, 'encodings dropped after the sweep');
      native.close();
    } finally {
      await pulse.close();
    }
  });
});
