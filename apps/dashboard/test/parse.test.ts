/**
 * The System page's Prometheus parser and the number formats, checked against the real server's
 * `/metrics` output and with generated inputs.
 */
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { Registry, Histogram, Counter } from 'prom-client';
import { parseProm, findPrefix, total, buckets, quantile, diffBuckets } from '../src/prom';
import { weiToNumber, fmtInt, fmtMoney, fmtCents, fmtMs } from '../src/format';

describe('Prometheus text', () => {
  it('reads what prom-client writes: counters with labels, histogram buckets, the prefix', async () => {
    const r = new Registry();
    const c = new Counter({ name: 'acme_events_ingested_total', help: 'x', labelNames: ['source'], registers: [r] });
    new Counter({ name: 'acme_connected_clients', help: 'x', registers: [r] }).inc(3);
    const h = new Histogram({ name: 'acme_fanout_latency_seconds', help: 'x', buckets: [0.001, 0.01, 0.1], registers: [r] });
    c.inc({ source: 'api' }, 5);
    c.inc({ source: 'simulate' }, 7);
    for (const v of [0.0005, 0.0005, 0.005, 0.05]) h.observe(v);
    const s = parseProm(await r.metrics());
    expect(findPrefix(s)).toBe('acme');
    expect(total(s, 'acme_events_ingested_total')).toBe(12);
    expect(total(s, 'acme_events_ingested_total', { source: 'simulate' })).toBe(7);
    expect(total(s, 'acme_missing')).toBeNull();
    expect(buckets(s, 'acme_fanout_latency_seconds')).toEqual([
      { le: 0.001, count: 2 },
      { le: 0.01, count: 3 },
      { le: 0.1, count: 4 },
      { le: Infinity, count: 4 },
    ]);
    // Half the observations are ≤ 1 ms: the median is inside the first bucket.
    expect(quantile(0.5, buckets(s, 'acme_fanout_latency_seconds'))).toBeLessThanOrEqual(0.001);
  });

  it('keeps escaped label values', () => {
    const [s] = parseProm('m{a="x\\"y",b="1\\\\2"} 4\n');
    expect(s).toEqual({ name: 'm', labels: { a: 'x"y', b: '1\\2' }, value: 4 });
  });

  it('quantiles grow with q and stay within the buckets', () => {
    const bounds = [0.001, 0.01, 0.1, 1, Infinity];
    fc.assert(
      fc.property(fc.array(fc.nat(1000), { minLength: 5, maxLength: 5 }), fc.double({ min: 0, max: 1, noNaN: true }), fc.double({ min: 0, max: 1, noNaN: true }), (counts, q1, q2) => {
        let acc = 0;
        const bs = bounds.map((le, i) => ({ le, count: (acc += counts[i]!) }));
        const [lo, hi] = q1 <= q2 ? [q1, q2] : [q2, q1];
        const a = quantile(lo, bs);
        const b = quantile(hi, bs);
        if (acc === 0) return a === null && b === null;
        return a !== null && b !== null && a <= b && a >= 0 && b <= 1;
      }),
    );
  });

  it('differences of cumulative buckets are never negative (a restarted server resets counters)', () => {
    expect(diffBuckets([{ le: 1, count: 2 }], [{ le: 1, count: 9 }])).toEqual([{ le: 1, count: 0 }]);
    expect(diffBuckets([{ le: 1, count: 9 }], null)).toEqual([{ le: 1, count: 9 }]);
  });

  it('ignores comments, blank and malformed lines without throwing', () => {
    fc.assert(fc.property(fc.string(), (text) => Array.isArray(parseProm(text))));
  });
});

describe('formats', () => {
  it('wei strings to tokens, to the micro-token', () => {
    fc.assert(
      fc.property(fc.bigInt({ min: 0n, max: 10n ** 30n }), (wei) => {
        const got = weiToNumber(wei.toString())!;
        const want = Number(wei / 10n ** 12n) / 1e6;
        return Math.abs(got - want) <= Math.max(1e-6, want * 1e-12);
      }),
    );
    expect(weiToNumber('640000000000000000')).toBe(0.64);
    expect(weiToNumber('x')).toBeNull();
  });

  it('never prints NaN or Infinity', () => {
    for (const f of [fmtInt, fmtMoney, fmtCents, fmtMs]) {
      expect(f(NaN)).toBe('—');
      expect(f(Infinity)).toBe('—');
      expect(f(null)).toBe('—');
    }
    expect(fmtInt(1234)).toBe('1,234');
    expect(fmtInt(1_234_567)).toBe('1.2M');
    expect(fmtMoney(1234.5)).toBe('$1,234.50');
    expect(fmtCents(0.634)).toBe('63.4¢');
  });
});
