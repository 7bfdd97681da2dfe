/** HdrHistogram helpers: values are recorded in microseconds and reported in milliseconds. */
import hdr from 'hdr-histogram-js';
import type { Histogram } from 'hdr-histogram-js';

export type { Histogram };

export interface LatencySummary {
  count: number;
  p50: number;
  p99: number;
  max: number;
}

export function createHistogram(): Histogram {
  // 1 µs .. 10 min, 3 significant digits; autoResize keeps late outliers instead of throwing.
  return hdr.build({ lowestDiscernibleValue: 1, highestTrackableValue: 600_000_000, numberOfSignificantValueDigits: 3, autoResize: true });
}

/** Records a latency given in (fractional) milliseconds. Clock skew between processes can make it
 * slightly negative; such samples count as 1 µs rather than being dropped. */
export function recordMs(h: Histogram, ms: number): void {
  h.recordValue(Math.max(1, Math.round(ms * 1000)));
}

export function encode(h: Histogram): string | null {
  return h.totalCount === 0 ? null : hdr.encodeIntoCompressedBase64(h);
}

/** Merges encoded histograms from several processes into one. */
export function merge(encoded: Array<string | null>): Histogram {
  const out = createHistogram();
  for (const e of encoded) if (e) out.add(hdr.decodeFromCompressedBase64(e));
  return out;
}

export function summarize(h: Histogram): LatencySummary {
  const ms = (us: number): number => Math.round(us / 10) / 100;
  return {
    count: h.totalCount,
    p50: ms(h.getValueAtPercentile(50)),
    p99: ms(h.getValueAtPercentile(99)),
    max: ms(h.maxValue),
  };
}

/** Wall-clock milliseconds with sub-millisecond resolution, comparable across processes. */
export function wallMs(): number {
  return performance.timeOrigin + performance.now();
}
