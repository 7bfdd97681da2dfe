/** The ingest depth check (hub/normalize.ts `deeperThan`) against the plain definition of depth. */
import { describe, it, expect } from 'vitest';
import fc from 'fast-check';
import { deeperThan } from '../src/hub/normalize.js';

/** Levels of objects and arrays: a scalar has 0, `{}` and `[]` have 1. */
function depth(v: unknown): number {
  if (typeof v !== 'object' || v === null) return 0;
  const children = Array.isArray(v) ? v : Object.values(v);
  return 1 + children.reduce<number>((m, c) => Math.max(m, depth(c)), 0);
}

function nest(n: number, array: boolean): unknown {
  let v: unknown = 1;
  for (let i = 0; i < n; i++) v = array ? [v] : { a: v };
  return v;
}

describe('deeperThan', () => {
  it('says whether a JSON value nests deeper than the limit', () => {
    fc.assert(
      fc.property(fc.jsonValue({ maxDepth: 8 }), fc.integer({ min: 1, max: 10 }), (v, max) => {
        expect(deeperThan(v, max)).toBe(depth(v) > max);
      }),
      { numRuns: 2000 },
    );
  });

  it('answers for hostile depth without overflowing the stack', () => {
    for (const array of [false, true]) {
      expect(deeperThan(nest(200_000, array), 64)).toBe(true);
      expect(deeperThan(nest(64, array), 64)).toBe(false);
      expect(deeperThan(nest(65, array), 64)).toBe(true);
    }
  });
});
