import { describe, it, expect } from 'vitest';
import fc from 'fast-check';
import { FrameCache } from '../src/hub/frame-cache.js';
import type { Envelope } from '../src/hub/envelope.js';

const env = (stamp: number): Envelope => ({
  event: { id: String(stamp), channel: 'a:b', type: 't', ts: 0, data: {}, offset: stamp, epoch: 'e' },
  dataJson: '{}',
  acceptedAt: 0,
  ns: 'a',
  stamp,
  durable: true,
  clientId: true,
  enc: [],
});

describe('FrameCache', () => {
  it('hits only for the very same envelopes in the same dialect', () => {
    fc.assert(
      fc.property(fc.array(fc.integer({ min: -1, max: 5 }), { minLength: 1, maxLength: 6 }), fc.array(fc.integer({ min: -1, max: 5 }), { minLength: 1, maxLength: 6 }), (a, b) => {
        const cache = new FrameCache();
        const qa = a.map(env);
        const frames = [Buffer.from('x')];
        cache.set(FrameCache.key(0, qa), 0, qa, frames);
        // (Flush never looks up an empty queue.) Same stamps, different envelope objects (e.g. replayed from the store): never a hit.
        const qb = b.map(env);
        expect(cache.get(FrameCache.key(0, qb), 0, qb)).toBeNull();
        expect(cache.get(FrameCache.key(0, qa), 0, [...qa])).toBe(frames);
        expect(cache.get(FrameCache.key(1, qa), 1, qa)).toBeNull();
      }),
    );
  });
});
