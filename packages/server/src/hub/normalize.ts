/**
 * Ingest validation: turns one untrusted item (Pulse-shaped or Segment-shaped) into a checked
 * event input, or a coded reason it was refused. Never throws.
 */
import { isValidChannel, type ErrorCode } from '@pulse/protocol';

export interface NormalizedInput {
  channel: string;
  type: string;
  id: string | null;
  ts: number;
  dataJson: string;
  data: Record<string, unknown>;
  userId?: string;
  orgId?: string;
  txId?: string;
  blockHeight?: number;
}

export type Normalized = { ok: true; value: NormalizedInput } | { ok: false; code: ErrorCode; message: string };

export interface NormalizeOptions {
  now: number;
  maxFutureSkewMs: number;
  maxEventBytes: number;
  /** Deepest nesting of `data` (objects and arrays); default 32. */
  maxDepth?: number;
}

const FORBIDDEN_KEYS = new Set(['__proto__', 'constructor', 'prototype']);

function bad(code: ErrorCode, message: string): Normalized {
  return { ok: false, code, message };
}

export function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/**
 * The channel an ingest item lands in: its `channel`, or for a Segment-shaped item (`event`, no
 * `type`) its `channel`, else `properties.channel`, else `segment:track`. The one reading of it,
 * for normalizing and for the permission check before (auth/permissions.ts).
 */
export function ingestChannel(raw: Record<string, unknown>): unknown {
  if (raw.type === undefined && typeof raw.event === 'string') {
    const props = isPlainObject(raw.properties) ? raw.properties : {};
    return raw.channel ?? props.channel ?? 'segment:track';
  }
  return raw.channel;
}

function optString(v: unknown, name: string, max = 256): string | undefined | Normalized {
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'string' || v.length === 0 || v.length > max) return bad('INVALID_EVENT', `${name} must be a string of 1..${max} characters`);
  return v;
}

/** A copy without prototype-polluting keys, at any depth. */
export function stripDangerousKeys(v: unknown, depth = 0): unknown {
  if (depth > 64) return null;
  if (Array.isArray(v)) return v.map((x) => stripDangerousKeys(x, depth + 1));
  if (isPlainObject(v)) {
    const out: Record<string, unknown> = {};
    for (const k of Object.keys(v)) if (!FORBIDDEN_KEYS.has(k)) out[k] = stripDangerousKeys(v[k], depth + 1);
    return out;
  }
  return v;
}

export function parseTimestamp(v: unknown): number | null {
  if (typeof v === 'number') return Number.isFinite(v) && v >= 0 ? Math.floor(v) : null;
  if (typeof v === 'string' && v.length <= 64) {
    const n = Date.parse(v);
    return Number.isFinite(n) && n >= 0 ? n : null;
  }
  return null;
}

/**
 * Whether `v` nests deeper than `max` levels. Recursion stops at `max` + 1 levels whatever the
 * input (MAX_JSON_DEPTH is at most 64), so hostile depth cannot overflow the stack; no
 * allocation per value (this runs for every ingested event).
 */
export function deeperThan(v: unknown, max: number): boolean {
  return exceeds(v, 1, max);
}

function exceeds(x: unknown, d: number, max: number): boolean {
  if (typeof x !== 'object' || x === null) return false;
  if (d > max) return true;
  if (Array.isArray(x)) {
    for (let i = 0; i < x.length; i++) {
      const c: unknown = x[i];
      if (typeof c === 'object' && c !== null && exceeds(c, d + 1, max)) return true;
    }
    return false;
  }
  for (const k in x) {
    if (!Object.hasOwn(x, k)) continue;
    const c = (x as Record<string, unknown>)[k];
    if (typeof c === 'object' && c !== null && exceeds(c, d + 1, max)) return true;
  }
  return false;
}

/** Stands in for an NDJSON line that did not parse, so its index is reported. */
export class BadJsonLine {}

export function normalizeEvent(raw: unknown, o: NormalizeOptions): Normalized {
  if (raw instanceof BadJsonLine) return bad('BAD_JSON', 'line is not valid JSON');
  if (!isPlainObject(raw)) return bad('INVALID_EVENT', 'event must be a JSON object');
  const channel = ingestChannel(raw);
  let type: unknown = raw.type;
  let data: unknown = raw.data;
  let id: unknown = raw.id;
  let tsRaw: unknown = raw.ts;
  let userId: unknown = raw.userId;
  let ts: number | null = null;

  // Segment-shaped: { event, properties, messageId, userId | anonymousId, timestamp, sentAt }.
  if (type === undefined && typeof raw.event === 'string') {
    type = raw.event;
    data = raw.properties ?? {};
    id = raw.messageId ?? id;
    userId = raw.userId ?? raw.anonymousId;
    const t = parseTimestamp(raw.timestamp ?? raw.originalTimestamp);
    const sent = parseTimestamp(raw.sentAt);
    if ((raw.timestamp !== undefined && t === null) || (raw.sentAt !== undefined && sent === null)) {
      return bad('INVALID_EVENT', 'timestamp and sentAt must be ISO dates or epoch milliseconds');
    }
    // The device clock may be off: shift by (our receive time − its send time), as Segment does.
    if (t !== null) ts = sent !== null ? t + (o.now - sent) : t;
    tsRaw = undefined;
  }

  if (typeof channel !== 'string' || !isValidChannel(channel)) return bad('INVALID_CHANNEL', 'channel must be `namespace:id` (letters, digits, _ - . : @ ~ +), at most 200 characters');
  if (typeof type !== 'string' || type.length === 0 || type.length > 100) return bad('INVALID_EVENT', 'type must be a string of 1..100 characters');
  if (data === undefined || data === null) data = {};
  if (!isPlainObject(data)) return bad('INVALID_EVENT', 'data must be a JSON object');
  if (id !== undefined && id !== null && (typeof id !== 'string' || id.length === 0 || id.length > 128)) {
    return bad('INVALID_EVENT', 'id must be a string of 1..128 characters');
  }
  if (ts === null) {
    if (tsRaw === undefined || tsRaw === null) ts = o.now;
    else {
      ts = parseTimestamp(tsRaw);
      if (ts === null) return bad('INVALID_EVENT', 'ts must be epoch milliseconds or an ISO date');
    }
  }
  if (ts > o.now + o.maxFutureSkewMs) ts = o.now;

  const uid = optString(userId, 'userId');
  if (uid !== undefined && typeof uid !== 'string') return uid;
  const org = optString(raw.orgId, 'orgId');
  if (org !== undefined && typeof org !== 'string') return org;
  const tx = optString(raw.txId, 'txId');
  if (tx !== undefined && typeof tx !== 'string') return tx;
  let bh: number | undefined;
  if (raw.blockHeight !== undefined && raw.blockHeight !== null) {
    if (typeof raw.blockHeight !== 'number' || !Number.isSafeInteger(raw.blockHeight) || raw.blockHeight < 0) {
      return bad('INVALID_EVENT', 'blockHeight must be a non-negative integer');
    }
    bh = raw.blockHeight;
  }

  if (deeperThan(data, o.maxDepth ?? 32)) return bad('LIMIT_EXCEEDED', `data nests deeper than ${o.maxDepth ?? 32} levels`);
  let dataJson: string;
  try {
    dataJson = JSON.stringify(data);
  } catch {
    return bad('INVALID_EVENT', 'data is not serialisable');
  }
  if (dataJson.includes('"__proto__"') || dataJson.includes('"constructor"') || dataJson.includes('"prototype"')) {
    data = stripDangerousKeys(data);
    dataJson = JSON.stringify(data);
  }
  if (dataJson.length > o.maxEventBytes) return bad('PAYLOAD_TOO_LARGE', `data is larger than ${o.maxEventBytes} bytes`);

  const value: NormalizedInput = { channel, type, id: (id as string | undefined) ?? null, ts, dataJson, data: data as Record<string, unknown> };
  if (uid !== undefined) value.userId = uid;
  if (org !== undefined) value.orgId = org;
  if (tx !== undefined) value.txId = tx;
  if (bh !== undefined) value.blockHeight = bh;
  return { ok: true, value };
}
