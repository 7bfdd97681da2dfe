/**
 * API keys for ingest and server-side publishing. A key is `pk_<id>_<secret>`; only the SHA-256
 * of the whole key is stored, so the key is shown once, at creation. Each key is scoped to
 * operations and channel patterns, may be bound to an organisation, can be revoked, and records
 * when it was last used.
 *
 * Storage is the store's meta space (works with SQLite and PostgreSQL alike): `apikey:<id>` holds
 * the record, `apikeys` the list of ids, and `apikey:<id>:used` the last-used time — kept apart
 * so the server's last-used writes never overwrite a revocation made by `pulse keys revoke` from
 * another process. A running server sees a revocation within `cacheMs`.
 */
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import { PulseError, isValidSubscriptionTarget } from '@pulse/protocol';
import type { Store } from '../ports.js';
import { KEY_OPERATIONS, type KeyOperation, type Principal } from './principal.js';
import type { KeyVerifier } from './tokens.js';

export interface ApiKeyRecord {
  id: string;
  name: string;
  /** Hex SHA-256 of the full key string. */
  hash: string;
  operations: KeyOperation[];
  channels: string[];
  orgId: string | null;
  createdAt: number;
  revokedAt: number | null;
}

export interface ApiKeyInfo extends Omit<ApiKeyRecord, 'hash'> {
  lastUsedAt: number | null;
}

export interface CreateKeyInput {
  name: string;
  operations: readonly string[];
  channels: readonly string[];
  orgId?: string | null;
}

type MetaStore = Pick<Store, 'getMeta' | 'setMeta'>;

const KEY_RE = /^pk_([0-9a-f]{16})_([A-Za-z0-9_-]{43})$/;
const INDEX = 'apikeys';
const MAX_CACHE = 10_000;

function sha256(s: string): string {
  return createHash('sha256').update(s).digest('hex');
}

/** `*` or a subscription target (channel, bare namespace, trailing-`*` pattern). */
export function isValidKeyPattern(p: string): boolean {
  return p === '*' || isValidSubscriptionTarget(p);
}

/** Does key pattern `pattern` cover `target` (a channel, or a pattern that must lie inside it)? */
export function patternCovers(pattern: string, target: string): boolean {
  if (pattern === '*') return true;
  const tPrefix = target.endsWith('*') ? target.slice(0, -1) : null;
  if (pattern.endsWith('*')) {
    const prefix = pattern.slice(0, -1);
    return (tPrefix ?? target).startsWith(prefix);
  }
  if (!pattern.includes(':')) {
    // A bare namespace covers itself and every `ns:…` channel or pattern.
    if (target === pattern) return true;
    return (tPrefix ?? target).startsWith(pattern + ':');
  }
  return tPrefix === null && target === pattern;
}

export class ApiKeys implements KeyVerifier {
  private cache = new Map<string, { rec: ApiKeyRecord | null; at: number }>();
  private used = new Map<string, number>();
  private flushTimer: NodeJS.Timeout | null = null;
  private indexLock: Promise<void> = Promise.resolve();

  constructor(
    private store: MetaStore,
    private opts: { cacheMs?: number; lastUsedFlushMs?: number } = {},
  ) {}

  async create(input: CreateKeyInput): Promise<{ key: string; record: ApiKeyInfo }> {
    const name = input.name.trim();
    if (!name || name.length > 100) throw new PulseError('INVALID_REQUEST', 'Key name must be 1..100 characters');
    const ops = [...new Set(input.operations)];
    if (ops.length === 0) throw new PulseError('INVALID_REQUEST', `Name at least one operation: ${KEY_OPERATIONS.join(', ')}`);
    for (const o of ops) if (!(KEY_OPERATIONS as readonly string[]).includes(o)) throw new PulseError('INVALID_REQUEST', `Unknown operation ${o}; use ${KEY_OPERATIONS.join(', ')}`);
    const channels = [...new Set(input.channels)];
    if (channels.length === 0 || channels.length > 100) throw new PulseError('INVALID_REQUEST', 'Name 1..100 channel patterns (e.g. "analytics:*", or "*" for all)');
    for (const c of channels) if (!isValidKeyPattern(c)) throw new PulseError('INVALID_CHANNEL', `Invalid channel pattern ${c.slice(0, 64)}`);
    const id = randomBytes(8).toString('hex');
    const key = `pk_${id}_${randomBytes(32).toString('base64url')}`;
    const record: ApiKeyRecord = {
      id,
      name,
      hash: sha256(key),
      operations: ops as KeyOperation[],
      channels,
      orgId: input.orgId ?? null,
      createdAt: Date.now(),
      revokedAt: null,
    };
    await this.store.setMeta(`apikey:${id}`, JSON.stringify(record));
    // Index updates are read-modify-write: run them one at a time so concurrent creates keep every id.
    const update = this.indexLock.then(async () => {
      const ids = await this.ids();
      ids.push(id);
      await this.store.setMeta(INDEX, JSON.stringify(ids));
    });
    this.indexLock = update.catch(() => undefined);
    await update;
    this.cache.set(id, { rec: record, at: Date.now() });
    return { key, record: this.info(record, null) };
  }

  async list(): Promise<ApiKeyInfo[]> {
    const out: ApiKeyInfo[] = [];
    for (const id of await this.ids()) {
      const rec = await this.load(id);
      if (rec) out.push(this.info(rec, await this.lastUsed(id)));
    }
    return out;
  }

  async revoke(id: string): Promise<ApiKeyInfo> {
    const rec = await this.load(id);
    if (!rec) throw new PulseError('NOT_FOUND', `No API key ${id.slice(0, 32)}`);
    if (rec.revokedAt === null) {
      rec.revokedAt = Date.now();
      await this.store.setMeta(`apikey:${id}`, JSON.stringify(rec));
    }
    this.cache.set(id, { rec, at: Date.now() });
    return this.info(rec, await this.lastUsed(id));
  }

  /** The principal of a presented key; UNAUTHORIZED when unknown, wrong or revoked. */
  async verify(key: string): Promise<Principal> {
    const m = KEY_RE.exec(key);
    if (!m) throw new PulseError('UNAUTHORIZED', 'Malformed API key');
    const id = m[1];
    const rec = await this.cached(id);
    const want = rec ? Buffer.from(rec.hash, 'hex') : Buffer.alloc(32);
    const got = createHash('sha256').update(key).digest();
    // Compare even when the id is unknown, so timing does not tell known ids apart.
    const same = timingSafeEqual(want, got);
    if (!rec || !same) throw new PulseError('UNAUTHORIZED', 'Unknown API key');
    if (rec.revokedAt !== null) throw new PulseError('UNAUTHORIZED', 'API key revoked');
    this.markUsed(id);
    return {
      userId: `key:${id}`,
      address: null,
      role: null,
      orgId: rec.orgId,
      authenticated: true,
      devBypass: false,
      expiresAt: null,
      key: { id, operations: new Set(rec.operations), channels: rec.channels },
    };
  }

  /**
   * Whether the key with this id is still accepted (known and not revoked), as `verify` would
   * see it now: read through the same cache, so a revocation made in another process shows
   * within `cacheMs`.
   */
  async active(id: string): Promise<boolean> {
    const rec = await this.cached(id);
    return rec !== null && rec.revokedAt === null;
  }

  /** Write pending last-used times. */
  async flush(): Promise<void> {
    if (this.flushTimer) clearTimeout(this.flushTimer);
    this.flushTimer = null;
    const pending = [...this.used];
    this.used.clear();
    for (const [id, at] of pending) await this.store.setMeta(`apikey:${id}:used`, String(at));
  }

  async close(): Promise<void> {
    await this.flush();
  }

  private markUsed(id: string): void {
    this.used.set(id, Date.now());
    if (!this.flushTimer) {
      this.flushTimer = setTimeout(() => {
        this.flushTimer = null;
        void this.flush().catch(() => undefined);
      }, this.opts.lastUsedFlushMs ?? 10_000);
      this.flushTimer.unref();
    }
  }

  private async lastUsed(id: string): Promise<number | null> {
    const pending = this.used.get(id);
    if (pending !== undefined) return pending;
    const v = await this.store.getMeta(`apikey:${id}:used`);
    return v === null ? null : Number(v);
  }

  private async cached(id: string): Promise<ApiKeyRecord | null> {
    const c = this.cache.get(id);
    if (c && Date.now() - c.at < (this.opts.cacheMs ?? 5000)) return c.rec;
    const rec = await this.load(id);
    if (this.cache.size >= MAX_CACHE) this.cache.clear();
    this.cache.set(id, { rec, at: Date.now() });
    return rec;
  }

  private async load(id: string): Promise<ApiKeyRecord | null> {
    if (!/^[0-9a-f]{16}$/.test(id)) return null;
    const raw = await this.store.getMeta(`apikey:${id}`);
    if (raw === null) return null;
    return JSON.parse(raw) as ApiKeyRecord;
  }

  private async ids(): Promise<string[]> {
    const raw = await this.store.getMeta(INDEX);
    return raw ? (JSON.parse(raw) as string[]) : [];
  }

  private info(rec: ApiKeyRecord, lastUsedAt: number | null): ApiKeyInfo {
    const { hash: _hash, ...rest } = rec;
    return { ...rest, lastUsedAt };
  }
}
