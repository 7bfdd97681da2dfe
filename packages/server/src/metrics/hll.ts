/**
 * HyperLogLog with Ertl's improved estimator ("New cardinality estimation algorithms for
 * HyperLogLog sketches", 2017, algorithm 6): accurate over the whole range without the bias
 * tables of HLL++, so one small class serves every distinct metric. Standard error is about
 * 1.04 / sqrt(2^precision) (0.81 % at precision 14, 0.41 % at 16).
 *
 * Hash: cyrb53 (53 bits, fits a JS number exactly), so registers hold ranks up to 53 - p + 1.
 */

/** cyrb53 as two 32-bit halves; written into `HASH_OUT` to avoid allocating per key. */
const HASH_OUT = new Uint32Array(2);
export function hash53(str: string, seed = 0): void {
  let h1 = 0xdeadbeef ^ seed;
  let h2 = 0x41c6ce57 ^ seed;
  for (let i = 0; i < str.length; i++) {
    const ch = str.charCodeAt(i);
    h1 = Math.imul(h1 ^ ch, 2654435761);
    h2 = Math.imul(h2 ^ ch, 1597334677);
  }
  h1 = Math.imul(h1 ^ (h1 >>> 16), 2246822507);
  h1 ^= Math.imul(h2 ^ (h2 >>> 13), 3266489909);
  h2 = Math.imul(h2 ^ (h2 >>> 16), 2246822507);
  h2 ^= Math.imul(h1 ^ (h1 >>> 13), 3266489909);
  HASH_OUT[0] = h1 >>> 0;
  HASH_OUT[1] = (h2 >>> 0) & 0x1fffff;
}

function sigma(x: number): number {
  if (x === 1) return Infinity;
  let y = 1;
  let z = x;
  for (;;) {
    x *= x;
    const zp = z;
    z += x * y;
    y += y;
    if (z === zp) return z;
  }
}

function tau(x: number): number {
  if (x === 0 || x === 1) return 0;
  let y = 1;
  let z = 1 - x;
  for (;;) {
    x = Math.sqrt(x);
    const zp = z;
    y *= 0.5;
    z -= (1 - x) * (1 - x) * y;
    if (z === zp) return z / 3;
  }
}

export class HyperLogLog {
  readonly p: number;
  readonly registers: Uint8Array;

  constructor(p = 14, registers?: Uint8Array) {
    if (!Number.isInteger(p) || p < 4 || p > 18) throw new RangeError('HyperLogLog precision must be 4..18');
    this.p = p;
    this.registers = registers ?? new Uint8Array(1 << p);
  }

  /** Returns whether a register changed. */
  add(key: string): boolean {
    hash53(key);
    const p = this.p;
    const lo = HASH_OUT[0];
    const hi = HASH_OUT[1];
    const idx = lo & ((1 << p) - 1);
    // Rank = leading zeros of the remaining 53 - p bits (hi: 21 bits, then lo >>> p) + 1.
    const rank = hi !== 0 ? Math.clz32(hi) - 10 : 21 - p + Math.clz32(lo >>> p) + 1;
    if (rank <= this.registers[idx]) return false;
    this.registers[idx] = rank;
    return true;
  }

  merge(other: HyperLogLog): void {
    if (other.p !== this.p) throw new RangeError('cannot merge HyperLogLogs of different precision');
    const a = this.registers;
    const b = other.registers;
    for (let i = 0; i < a.length; i++) if (b[i] > a[i]) a[i] = b[i];
  }

  clone(): HyperLogLog {
    return new HyperLogLog(this.p, this.registers.slice());
  }

  count(): number {
    const m = this.registers.length;
    const q = 53 - this.p;
    const c = new Float64Array(q + 2);
    for (let i = 0; i < m; i++) c[this.registers[i]]++;
    let z = m * tau(1 - c[q + 1] / m);
    for (let k = q; k >= 1; k--) z = 0.5 * (z + c[k]);
    z += m * sigma(c[0] / m);
    return Math.round((0.5 / Math.LN2) * m * m / z);
  }
}

/**
 * Distinct values: an exact set up to `exactLimit`, then a HyperLogLog (the set is folded in and
 * dropped), so small cardinalities are exact and large ones cost a fixed 2^p bytes.
 */
export type DistinctDump = { s: string[] } | { r: string };

export class Distinct {
  private set: Set<string> | null = new Set();
  private hll: HyperLogLog | null = null;

  constructor(
    private readonly exactLimit: number,
    private readonly precision: number,
  ) {}

  /** Returns whether the value may have changed the count. */
  add(key: string): boolean {
    if (this.set) {
      const n = this.set.size;
      this.set.add(key);
      if (this.set.size === n) return false;
      if (this.set.size > this.exactLimit) this.toHll();
      return true;
    }
    return this.hll!.add(key);
  }

  get exact(): boolean {
    return this.set !== null;
  }

  count(): number {
    return this.set ? this.set.size : this.hll!.count();
  }

  private toHll(): void {
    const h = new HyperLogLog(this.precision);
    for (const k of this.set!) h.add(k);
    this.hll = h;
    this.set = null;
  }

  /** Checkpoint form: the exact values, or the HyperLogLog registers in base64. */
  dump(): DistinctDump {
    return this.set ? { s: [...this.set] } : { r: Buffer.from(this.hll!.registers).toString('base64') };
  }

  static load(d: DistinctDump, exactLimit: number, precision: number): Distinct {
    const x = new Distinct(exactLimit, precision);
    if ('s' in d) for (const k of d.s) x.add(k);
    else {
      x.set = null;
      x.hll = new HyperLogLog(precision, new Uint8Array(Buffer.from(d.r, 'base64')));
    }
    return x;
  }

  /** |a ∪ b ∪ …| — exact while every part is exact and the union stays under the limit. */
  static unionCount(parts: readonly Distinct[], exactLimit: number, precision: number): number {
    const u = new Distinct(exactLimit, precision);
    for (const d of parts) {
      if (d.set) for (const k of d.set) u.add(k);
      else {
        if (u.set) u.toHll();
        u.hll!.merge(d.hll!);
      }
    }
    return u.count();
  }
}
