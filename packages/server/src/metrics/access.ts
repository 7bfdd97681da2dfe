/**
 * Compiled field accessors and filters. Definitions are compiled once at startup into plain
 * functions, so the per-event path does property reads and Set lookups only.
 */
import { channelId, type PulseEvent } from '@pulse/protocol';
import type { Where } from './config.js';

export type Accessor = (e: PulseEvent) => unknown;
export type Matcher = (e: PulseEvent) => boolean;

function one(path: string): Accessor {
  switch (path) {
    case 'channel':
      return (e) => e.channel;
    case 'channelId':
      return (e) => channelId(e.channel) || undefined;
    case 'type':
      return (e) => e.type;
    case 'userId':
      return (e) => e.userId;
    case 'orgId':
      return (e) => e.orgId;
    case 'txId':
      return (e) => e.txId;
    case 'id':
      return (e) => e.id;
  }
  const keys = path.split('.').slice(1);
  if (keys.length === 1) {
    const k = keys[0];
    return (e) => e.data[k];
  }
  return (e) => {
    let v: unknown = e.data;
    for (const k of keys) {
      if (v === null || typeof v !== 'object') return undefined;
      v = (v as Record<string, unknown>)[k];
    }
    return v;
  };
}

/** A path or a list of paths (first present value wins). */
export function accessor(spec: string | readonly string[]): Accessor {
  if (typeof spec === 'string') return one(spec);
  if (spec.length === 1) return one(spec[0]);
  const parts = spec.map(one);
  return (e) => {
    for (const p of parts) {
      const v = p(e);
      if (v !== undefined && v !== null) return v;
    }
    return undefined;
  };
}

/** Numbers, and numeric strings (wei amounts arrive as strings): float64, so huge integers lose precision. */
export function toNum(v: unknown): number | undefined {
  if (typeof v === 'number') return Number.isFinite(v) ? v : undefined;
  if (typeof v === 'string' && v.trim() !== '') {
    const n = Number(v);
    return Number.isFinite(n) ? n : undefined;
  }
  return undefined;
}

/** Dimension / distinct keys: strings and finite numbers; anything else is "absent". */
export function toKey(v: unknown): string | undefined {
  if (typeof v === 'string') return v.length > 0 ? v : undefined;
  if (typeof v === 'number' && Number.isFinite(v)) return String(v);
  if (typeof v === 'boolean') return String(v);
  return undefined;
}

export function channelMatcher(patterns: readonly string[]): Matcher {
  const exact = new Set<string>();
  const prefixes: string[] = [];
  for (const p of patterns) {
    if (p.endsWith('*')) prefixes.push(p.slice(0, -1));
    else exact.add(p);
  }
  return (e) => {
    if (exact.has(e.channel)) return true;
    for (const p of prefixes) if (e.channel.startsWith(p)) return true;
    return false;
  };
}

/**
 * Compile a `where` clause. `skipTypes` leaves the type test out when the caller already
 * indexes metrics by type. Returns null when nothing remains to test.
 */
export function compileWhere(w: Where | undefined, skipTypes = false): Matcher | null {
  if (!w) return null;
  const tests: Matcher[] = [];
  if (w.types && !skipTypes) {
    const types = new Set(w.types);
    tests.push((e) => types.has(e.type));
  }
  if (w.channels) tests.push(channelMatcher(w.channels));
  if (w.match) {
    for (const [path, want] of Object.entries(w.match)) {
      const get = accessor(path);
      if (Array.isArray(want)) {
        const s = new Set<unknown>(want);
        tests.push((e) => s.has(get(e)));
      } else tests.push((e) => get(e) === want);
    }
  }
  if (w.has) for (const path of w.has) {
    const get = accessor(path);
    tests.push((e) => {
      const v = get(e);
      return v !== undefined && v !== null;
    });
  }
  if (tests.length === 0) return null;
  if (tests.length === 1) return tests[0];
  return (e) => {
    for (const t of tests) if (!t(e)) return false;
    return true;
  };
}
