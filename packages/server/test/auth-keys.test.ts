/**
 * API keys: created by `pulse keys create` (the real CLI process, on the server's own store),
 * stored hashed, scoped to operations and channel patterns, organisation-bound, revocable, with
 * the last-used time recorded; accepted as `Authorization: Bearer pk_…` or `X-API-Key`. Also
 * who may ingest without a key: admins and developers always, plain users outside production.
 */
import { describe, it, expect, afterEach } from 'vitest';
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { PulseError } from '@pulse/protocol';
import { ApiKeys, patternCovers } from '../src/auth/keys.js';
import { openSqliteStore } from '../src/store/sqlite.js';
import { keysCommand } from '../src/auth/keys-cli.js';
import { startTestServer, Cleanup, SioCollector, WsCollector, tempDir, http, tokenFor, waitFor, type Json, type TestServer } from './support/index.js';
import { openNative, call } from './security-helpers.js';
import { join } from 'node:path';
import { childEnv } from './services.js';

const cleanup = new Cleanup();
afterEach(() => cleanup.run());
const BIN = fileURLToPath(new URL('../bin/pulse.js', import.meta.url));

function cli(args: string[], env: Record<string, string>): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [BIN, ...args], { env: childEnv(env), timeout: 30_000 }, (err, stdout, stderr) => {
      resolve({ code: err ? ((err as { code?: number }).code ?? 1) : 0, stdout, stderr });
    });
  });
}

async function post(pulse: TestServer, body: unknown, headers: Record<string, string>): Promise<{ status: number; body: Json }> {
  const r = await http<Json>('POST', `${pulse.url}/v1/events?wait=durable`, { body, headers });
  return { status: r.status, body: r.body };
}

describe('patterns', () => {
  it('a key pattern covers channels and narrower patterns only', () => {
    expect(patternCovers('*', 'anything:at-all')).toBe(true);
    expect(patternCovers('analytics:*', 'analytics:search')).toBe(true);
    expect(patternCovers('analytics:*', 'analytics:s*')).toBe(true);
    expect(patternCovers('analytics:*', 'analyticsx:search')).toBe(false);
    expect(patternCovers('analytics', 'analytics:search')).toBe(true);
    expect(patternCovers('analytics', 'analytics')).toBe(true);
    expect(patternCovers('analytics', 'analyticsx')).toBe(false);
    expect(patternCovers('market:a', 'market:a')).toBe(true);
    expect(patternCovers('market:a', 'market:a*')).toBe(false);
    expect(patternCovers('contract:SP1*', 'contract:SP2.x')).toBe(false);
  });
});

describe('ApiKeys on a real store', () => {
  it('stores only the hash, verifies, revokes, and records last use', async () => {
    const dir = cleanup.add(tempDir(), (d) => import('node:fs').then((fs) => fs.rmSync(d, { recursive: true, force: true })));
    const store = await openSqliteStore(join(dir, 'pulse.db'));
    cleanup.add(store, (s) => s.close());
    const keys = new ApiKeys(store, { cacheMs: 0 });
    const { key, record } = await keys.create({ name: 'ingestor', operations: ['ingest'], channels: ['analytics:*'], orgId: 'org-1' });
    expect(key).toMatch(/^pk_[0-9a-f]{16}_[A-Za-z0-9_-]{43}$/);
    expect(record).not.toHaveProperty('hash');
    const raw = JSON.parse((await store.getMeta(`apikey:${record.id}`))!) as { hash: string };
    expect(raw.hash).toBe(createHash('sha256').update(key).digest('hex'));
    // The secret is everything after `pk_<id>_` (base64url, so it may itself hold '_').
    const secret = key.slice('pk_'.length + record.id.length + 1);
    expect(secret).toHaveLength(43);
    expect(JSON.stringify(raw)).not.toContain(secret);
    const p = await keys.verify(key);
    expect(p).toMatchObject({ userId: `key:${record.id}`, orgId: 'org-1', authenticated: true, role: null });
    await keys.flush();
    const [listed] = await keys.list();
    expect(listed.lastUsedAt).toBeGreaterThan(0);
    const code = (e: unknown) => (e instanceof PulseError ? e.code : String(e));
    expect(await keys.verify(key.slice(0, -1) + (key.endsWith('A') ? 'B' : 'A')).catch(code)).toBe('UNAUTHORIZED');
    expect(await keys.verify('pk_nonsense').catch(code)).toBe('UNAUTHORIZED');
    // Another instance (as the CLI in another process is) revokes; this one sees it (cacheMs 0).
    await new ApiKeys(store).revoke(record.id);
    expect(await keys.verify(key).catch(code)).toBe('UNAUTHORIZED');
    expect(await keys.create({ name: 'bad', operations: ['delete'], channels: ['*'] }).catch(code)).toBe('INVALID_REQUEST');
    expect(await keys.create({ name: 'bad', operations: ['ingest'], channels: ['no spaces'] }).catch(code)).toBe('INVALID_CHANNEL');
    expect(await keys.revoke('0123456789abcdef').catch(code)).toBe('NOT_FOUND');
    // Concurrent creates all land in the list.
    await Promise.all([1, 2, 3, 4, 5].map((i) => keys.create({ name: `c${i}`, operations: ['read'], channels: ['*'] })));
    expect((await keys.list()).map((k) => k.name).sort()).toEqual(['c1', 'c2', 'c3', 'c4', 'c5', 'ingestor']);
  });
});

describe('keys over HTTP and sockets', () => {
  it('`pulse keys create|list|revoke` (real CLI) manage keys a running server honours', async () => {
    const pulse = cleanup.server(await startTestServer({ auth: 'jwt', env: { API_KEY_CACHE_MS: '0' } }));
    const env = { ...pulse.env, LOG_LEVEL: 'silent' };
    const created = await cli(['keys', 'create', 'backend', '--ops', 'ingest,read', '--channels', 'analytics:*,market:m1'], env);
    expect(created.code, created.stderr).toBe(0);
    const key = created.stdout.trim();
    expect(key).toMatch(/^pk_/);
    expect(created.stderr).toContain('shown once');

    // Bearer and X-API-Key both work, within scope.
    expect((await post(pulse, { channel: 'analytics:search', type: 'q', id: 'k-1' }, { authorization: `Bearer ${key}` })).status).toBe(200);
    expect((await post(pulse, { channel: 'market:m1', type: 'q', id: 'k-2' }, { 'x-api-key': key })).status).toBe(200);
    // Out of scope: another channel, or an operation the key lacks.
    const out = await post(pulse, [{ channel: 'analytics:ok', type: 'q' }, { channel: 'market:m2', type: 'q' }], { 'x-api-key': key });
    expect([out.status, out.body.code]).toEqual([403, 'FORBIDDEN']);
    expect(pulse.hub.log.get('analytics:ok')).toBeUndefined();
    const read = await http<Json>('GET', `${pulse.url}/v1/channels/analytics:search/events`, { headers: { 'x-api-key': key } });
    expect(read.status).toBe(200);
    expect((read.body.events as Json[]).map((e) => e.id)).toEqual(['k-1']);
    // A read-only key may also long-poll (the wait is a server-made subscription).
    const poll = http<Json>('GET', `${pulse.url}/v1/channels/market:m1/events?since=1&wait=10000`, { headers: { 'x-api-key': key } });
    await waitFor(() => pulse.hub.sessions.size > 0, 'long-poll waiting');
    expect((await post(pulse, { channel: 'market:m1', type: 'q', id: 'k-3' }, { 'x-api-key': key })).status).toBe(200);
    const polled = await poll;
    expect([polled.status, (polled.body.events as Json[]).map((e) => e.id)]).toEqual([200, ['k-3']]);
    const ws = cleanup.closable(await openNative(pulse, key));
    expect((await call(ws, { op: 'subscribe', channel: 'analytics:*' })).code).toBe('FORBIDDEN');
    expect((await call(ws, { op: 'publish', channel: 'analytics:x', type: 't' })).code).toBe('FORBIDDEN');

    const listed = await cli(['keys', 'list', '--json'], env);
    const [info] = JSON.parse(listed.stdout) as Array<{ id: string; name: string; revokedAt: number | null; lastUsedAt: number | null; hash?: string }>;
    expect(info).toMatchObject({ name: 'backend', revokedAt: null });
    expect(info.hash).toBeUndefined();

    const revoked = await cli(['keys', 'revoke', info.id], env);
    expect(revoked.code, revoked.stderr).toBe(0);
    const after = await post(pulse, { channel: 'analytics:search', type: 'q' }, { 'x-api-key': key });
    expect([after.status, after.body.code]).toEqual([401, 'UNAUTHORIZED']);
    expect((await cli(['keys', 'nope'], env)).code).toBe(2);
  });

  it('revoking a key (from another process, as the CLI does) ends its open connections: native 4001, SSE, Socket.IO, /ws/metrics', async () => {
    const pulse = cleanup.server(await startTestServer({ auth: 'jwt', env: { API_KEY_CACHE_MS: '200' } }));
    const { key, record } = await new ApiKeys(pulse.hub.store).create({ name: 'leaked', operations: ['subscribe', 'read'], channels: ['market:*', 'metrics:*'] });
    // Seed 003's metrics push (not a hub session).
    const pushed = cleanup.closable(await WsCollector.open(`${pulse.wsUrl}/ws/metrics?token=${key}`));
    await pushed.next((m) => m.type === 'metrics');
    const keep = (await new ApiKeys(pulse.hub.store).create({ name: 'kept', operations: ['subscribe'], channels: ['market:*'] })).key;
    const ws = cleanup.closable(await openNative(pulse, key));
    expect((await call(ws, { op: 'subscribe', channel: 'market:r' })).type).toBe('reply');
    const other = cleanup.closable(await openNative(pulse, keep));
    expect((await call(other, { op: 'subscribe', channel: 'market:r' })).type).toBe('reply');
    const sse = await fetch(`${pulse.url}/v1/stream?channel=market:r`, { headers: { 'x-api-key': key } });
    expect(sse.status).toBe(200);
    const reader = sse.body!.getReader();
    let sseText = '';
    let sseEnded = false;
    void (async () => {
      for (;;) {
        const r = await reader.read().catch(() => ({ done: true, value: undefined }));
        if (r.done) break;
        sseText += new TextDecoder().decode(r.value);
      }
      sseEnded = true;
    })();
    await waitFor(() => sseText.includes('event: subscribed'), 'SSE subscribed');
    const sio = cleanup.closable(SioCollector.connect(pulse.url, { auth: { token: key }, transports: ['websocket'] }));
    await sio.connected();

    // Revoked by another instance over the same store (the CLI in another process does this).
    await new ApiKeys(pulse.hub.store).revoke(record.id);
    const admin = await tokenFor('ops', null, 'admin');
    expect((await post(pulse, { channel: 'market:r', type: 'after', id: 'after-revoke' }, { authorization: `Bearer ${admin}` })).status).toBe(200);
    const closed = await ws.closed({ timeoutMs: 5000 });
    expect(closed.code).toBe(4001);
    await waitFor(() => sseEnded, { what: 'SSE stream ended', timeoutMs: 5000 });
    await waitFor(() => sio.records.some((r) => r.event === 'disconnect'), { what: 'Socket.IO disconnected', timeoutMs: 5000 });
    expect((await pushed.closed({ timeoutMs: 5000 })).code).toBe(4001);
    expect(pushed.all((m) => m.type === 'error').map((m) => m.code)).toEqual(['UNAUTHORIZED']);
    // The other key's connection is untouched and keeps receiving.
    await waitFor(() => other.messages.some((m) => m.type === 'events' && (m.events as Json[]).some((e) => e.id === 'after-revoke')), 'kept key still receives');
    expect(other.closeCode).toBeNull();
  });

  it('a key bound to an organisation stamps its events and cannot write into another', async () => {
    const pulse = cleanup.server(await startTestServer({ auth: 'jwt' }));
    const { key } = await new ApiKeys(pulse.hub.store).create({ name: 'org', operations: ['ingest', 'publish'], channels: ['content:*'], orgId: 'org-a' });
    expect((await post(pulse, { channel: 'content:c1', type: 'view', id: 'o-1' }, { 'x-api-key': key })).status).toBe(200);
    const h = await pulse.hub.history('content:c1', { limit: 10 });
    expect(h.events[0].orgId).toBe('org-a');
    const other = await post(pulse, { channel: 'content:c1', type: 'view', orgId: 'org-b' }, { 'x-api-key': key });
    expect([other.status, other.body.code]).toEqual([403, 'FORBIDDEN']);
    const malformed = await post(pulse, { channel: 'content:c1', type: 'view', orgId: 42 }, { 'x-api-key': key });
    expect([malformed.status, (malformed.body.errors as Json[])[0].code]).toEqual([400, 'INVALID_EVENT']);
    // Publishing from a socket with the key stamps the organisation too.
    const ws = cleanup.closable(await openNative(pulse, key));
    const r = await call(ws, { op: 'publish', channel: 'content:c1', type: 'like' });
    expect(r.type).toBe('reply');
  });

  it('production: user tokens may not ingest; developer/admin tokens and keys may', async () => {
    const pulse = cleanup.server(await startTestServer({ auth: 'jwt', env: { NODE_ENV: 'production', ALLOWED_ORIGINS: 'https://app.example' } }));
    const user = await tokenFor('u1', null, 'user');
    const dev = await tokenFor('svc', null, 'developer');
    const r = await post(pulse, { channel: 'market:p', type: 't' }, { authorization: `Bearer ${user}` });
    expect([r.status, r.body.code]).toEqual([403, 'FORBIDDEN']);
    expect((await post(pulse, { channel: 'market:p', type: 't' }, { authorization: `Bearer ${dev}` })).status).toBe(200);
    const { key } = await new ApiKeys(pulse.hub.store).create({ name: 'k', operations: ['ingest'], channels: ['market'] });
    expect((await post(pulse, { channel: 'market:p', type: 't' }, { 'x-api-key': key })).status).toBe(200);
  });

  it('development: a user token ingests only where it may read', async () => {
    const pulse = cleanup.server(await startTestServer({ auth: 'jwt' }));
    const user = await tokenFor('u1', 'SPU1', 'user');
    expect((await post(pulse, { channel: 'user:SPU1', type: 't' }, { authorization: `Bearer ${user}` })).status).toBe(200);
    const r = await post(pulse, { channel: 'user:SPVICTIM', type: 'phish' }, { authorization: `Bearer ${user}` });
    expect([r.status, r.body.code]).toEqual([403, 'FORBIDDEN']);
  });

  it('keysCommand prints usage for bad arguments', async () => {
    const errs: string[] = [];
    expect(await keysCommand(['create', 'x'], {}, () => undefined, (s) => errs.push(s))).toBe(2);
    expect(errs.join('\n')).toContain('usage');
  });
});
