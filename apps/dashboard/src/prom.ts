/**
 * A parser for the Prometheus text format served at `GET /metrics` — just what the System page
 * reads: samples with labels, and histogram quantiles estimated from cumulative buckets.
 */
export interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

const LINE = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})?\s+(\S+)/;
const LABEL = /([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g;

export function parseProm(text: string): Sample[] {
  const out: Sample[] = [];
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (!line || line.startsWith('#')) continue;
    const m = LINE.exec(line);
    if (!m) continue;
    const labels: Record<string, string> = {};
    if (m[2]) for (const l of m[2].matchAll(LABEL)) labels[l[1]!] = l[2]!.replace(/\\(.)/g, (_, c: string) => (c === 'n' ? '\n' : c));
    const value = m[3] === '+Inf' ? Infinity : m[3] === '-Inf' ? -Infinity : Number(m[3]);
    out.push({ name: m[1]!, labels, value });
  }
  return out;
}

/** The metric-name prefix (`METRICS_PREFIX`), found from the one gauge every server has. */
export function findPrefix(samples: Sample[]): string | null {
  for (const s of samples) {
    const m = /^(.*)_connected_clients$/.exec(s.name);
    if (m) return m[1]!;
  }
  return null;
}

/** Sum of every sample of `name` (all label sets), or null when absent. */
export function total(samples: Sample[], name: string, where?: Record<string, string>): number | null {
  let sum = 0;
  let seen = false;
  for (const s of samples) {
    if (s.name !== name) continue;
    if (where && Object.entries(where).some(([k, v]) => s.labels[k] !== v)) continue;
    sum += s.value;
    seen = true;
  }
  return seen ? sum : null;
}

/** Cumulative bucket counts of a histogram, by upper bound, ascending. */
export function buckets(samples: Sample[], name: string): Array<{ le: number; count: number }> {
  const out: Array<{ le: number; count: number }> = [];
  for (const s of samples) {
    if (s.name !== `${name}_bucket`) continue;
    const le = s.labels.le === '+Inf' ? Infinity : Number(s.labels.le);
    out.push({ le, count: s.value });
  }
  return out.sort((a, b) => a.le - b.le);
}

/** The difference of two cumulative bucket lists (observations between two scrapes). */
export function diffBuckets(now: Array<{ le: number; count: number }>, before: Array<{ le: number; count: number }> | null) {
  if (!before) return now;
  const prev = new Map(before.map((b) => [b.le, b.count]));
  return now.map((b) => ({ le: b.le, count: Math.max(0, b.count - (prev.get(b.le) ?? 0)) }));
}

/**
 * The q-quantile from cumulative buckets, interpolated linearly inside the bucket that holds it
 * (as PromQL's histogram_quantile does). Null without observations.
 */
export function quantile(q: number, bs: Array<{ le: number; count: number }>): number | null {
  const n = bs.length ? bs[bs.length - 1]!.count : 0;
  if (!n) return null;
  const rank = q * n;
  let prevLe = 0;
  let prevCount = 0;
  for (const b of bs) {
    if (b.count >= rank) {
      if (b.le === Infinity) return prevLe;
      const inBucket = b.count - prevCount;
      return inBucket > 0 ? prevLe + ((b.le - prevLe) * (rank - prevCount)) / inBucket : b.le;
    }
    prevLe = b.le;
    prevCount = b.count;
  }
  return prevLe;
}
