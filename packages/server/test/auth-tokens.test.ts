/**
 * Token verification: HS256, RS256/ES256 from a PEM or a JWKS URL (a real local HTTP server on
 * port 0 serving keys made with jose), claim checks, algorithm pinning, claims mapping, and
 * expiry on live native and Socket.IO connections.
 */
import { describe, it, expect, beforeAll, afterAll, afterEach } from 'vitest';
import { createServer, type Server } from 'node:http';
import { generateKeyPair, exportSPKI, exportJWK, SignJWT, jwtVerify, type JWK, type CryptoKey } from 'jose';
import fc from 'fast-check';
import { PulseError } from '@pulse/protocol';
import { Authenticator, authOptionsFromConfig, generateToken } from '../src/auth/tokens.js';
import { mkdtempSync, writeFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startTestServer, SioCollector, Cleanup, waitFor, TEST_SECRET, type Json } from './support/index.js';
import { openNative, call } from './security-helpers.js';

type Pair = { publicKey: CryptoKey; privateKey: CryptoKey };

async function sign(key: CryptoKey | Uint8Array, alg: string, claims: Record<string, unknown>, o: { kid?: string; exp?: string | number; nbf?: string | number; iss?: string; aud?: string } = {}): Promise<string> {
  const j = new SignJWT(claims).setProtectedHeader({ alg, typ: 'JWT', ...(o.kid ? { kid: o.kid } : {}) }).setIssuedAt().setExpirationTime(o.exp ?? '1h');
  if (o.nbf !== undefined) j.setNotBefore(o.nbf);
  if (o.iss) j.setIssuer(o.iss);
  if (o.aud) j.setAudience(o.aud);
  return j.sign(key);
}

async function codeOf(p: Promise<unknown>): Promise<string> {
  try {
    await p;
    return 'OK';
  } catch (e) {
    return e instanceof PulseError ? e.code : `not a PulseError: ${String(e)}`;
  }
}

const hs = new TextEncoder().encode(TEST_SECRET);
let rsa: Pair;
let ec: Pair;
let rsaPem: string;
let ecPem: string;

beforeAll(async () => {
  rsa = await generateKeyPair('RS256', { extractable: true });
  ec = await generateKeyPair('ES256', { extractable: true });
  rsaPem = await exportSPKI(rsa.publicKey);
  ecPem = await exportSPKI(ec.publicKey);
});

describe('Authenticator', () => {
  it('verifies HS256, and refuses expired, not-yet-valid, wrong iss/aud, wrong key', async () => {
    const a = new Authenticator({ secret: TEST_SECRET, issuer: ['https://id.example'], audience: ['pulse'], skipAuth: false });
    const good = { iss: 'https://id.example', aud: 'pulse' };
    expect((await a.verify(await sign(hs, 'HS256', { userId: 'u1' }, good))).userId).toBe('u1');
    expect(await codeOf(a.verify(await sign(hs, 'HS256', { userId: 'u1' }, { ...good, exp: Math.floor(Date.now() / 1000) - 10 })))).toBe('TOKEN_EXPIRED');
    expect(await codeOf(a.verify(await sign(hs, 'HS256', { userId: 'u1' }, { ...good, nbf: Math.floor(Date.now() / 1000) + 3600 })))).toBe('UNAUTHORIZED');
    expect(await codeOf(a.verify(await sign(hs, 'HS256', { userId: 'u1' }, { ...good, iss: 'https://evil.example' })))).toBe('UNAUTHORIZED');
    expect(await codeOf(a.verify(await sign(hs, 'HS256', { userId: 'u1' }, { ...good, aud: 'other' })))).toBe('UNAUTHORIZED');
    expect(await codeOf(a.verify(await sign(hs, 'HS256', { userId: 'u1' }, { iss: good.iss })))).toBe('UNAUTHORIZED');
    expect(await codeOf(a.verify(await sign(new TextEncoder().encode('another-secret-0123456789abcdefgh'), 'HS256', { userId: 'u1' }, good)))).toBe('UNAUTHORIZED');
    // HS512 is not accepted unless JWT_ALGORITHMS names it.
    expect(await codeOf(a.verify(await sign(hs, 'HS512', { userId: 'u1' }, good)))).toBe('UNAUTHORIZED');
    expect(await codeOf(a.verify('not.a.jwt'))).toBe('UNAUTHORIZED');
  });

  it('JWT_CLOCK_TOLERANCE_S allows that much skew on exp and nbf, no more; a token over 8 KB is refused unread', async () => {
    const now = Math.floor(Date.now() / 1000);
    const strict = new Authenticator({ secret: TEST_SECRET, skipAuth: false });
    const lenient = new Authenticator({ secret: TEST_SECRET, clockToleranceSec: 30, skipAuth: false });
    const expired10s = await sign(hs, 'HS256', { userId: 'u' }, { exp: now - 10 });
    const early10s = await sign(hs, 'HS256', { userId: 'u' }, { nbf: now + 10 });
    const expired60s = await sign(hs, 'HS256', { userId: 'u' }, { exp: now - 60 });
    expect([await codeOf(strict.verify(expired10s)), await codeOf(strict.verify(early10s))]).toEqual(['TOKEN_EXPIRED', 'UNAUTHORIZED']);
    expect([await codeOf(lenient.verify(expired10s)), await codeOf(lenient.verify(early10s))]).toEqual(['OK', 'OK']);
    expect(await codeOf(lenient.verify(expired60s))).toBe('TOKEN_EXPIRED');
    // Validly signed either way: the size alone decides.
    const sized = (n: number) => sign(hs, 'HS256', { userId: 'u', pad: 'x'.repeat(n) });
    const small = await sized(5800);
    const big = await sized(6300);
    expect(small.length).toBeLessThanOrEqual(8192);
    expect(big.length).toBeGreaterThan(8192);
    expect(await codeOf(strict.verify(small))).toBe('OK');
    await expect(strict.verify(big)).rejects.toMatchObject({ code: 'UNAUTHORIZED', message: 'Token too long' });
  });

  it('verifies RS256 and ES256 from a PEM, with the algorithm pinned to the key', async () => {
    const r = new Authenticator({ publicKey: rsaPem, skipAuth: false });
    const e = new Authenticator({ publicKey: ecPem, skipAuth: false });
    expect((await r.verify(await sign(rsa.privateKey, 'RS256', { sub: 'rs-user' }))).userId).toBe('rs-user');
    expect((await e.verify(await sign(ec.privateKey, 'ES256', { sub: 'es-user' }))).userId).toBe('es-user');
    expect(r.algorithms()).toEqual(['RS256', 'RS384', 'RS512']);
    expect(e.algorithms()).toEqual(['ES256']);
    // A token signed by the other key pair, or claiming the other family, is refused.
    expect(await codeOf(r.verify(await sign(ec.privateKey, 'ES256', { sub: 'x' })))).toBe('UNAUTHORIZED');
    const other = await generateKeyPair('RS256');
    expect(await codeOf(r.verify(await sign(other.privateKey, 'RS256', { sub: 'x' })))).toBe('UNAUTHORIZED');
  });

  it('JWT_PUBLIC_KEY may be PEM text with \\n escapes (as .env needs) or a file path', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'pulse-pem-'));
    try {
      const file = join(dir, 'key.pem');
      writeFileSync(file, ecPem);
      const base = { JWT_CLOCK_TOLERANCE_S: 0, JWKS_CACHE_MS: 1000, JWKS_COOLDOWN_MS: 0, SKIP_AUTH: false };
      const t = await sign(ec.privateKey, 'ES256', { sub: 'pem' });
      for (const v of [ecPem.replace(/\n/g, '\\n'), file]) {
        const a = new Authenticator(authOptionsFromConfig({ ...base, JWT_PUBLIC_KEY: v }));
        expect((await a.verify(t)).userId).toBe('pem');
      }
      expect(() => authOptionsFromConfig({ ...base, JWT_PUBLIC_KEY: join(dir, 'missing.pem') })).toThrow(/JWT_PUBLIC_KEY/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('refuses alg:none and HS/RS confusion (an HS256 token keyed with the public PEM)', async () => {
    const both = new Authenticator({ secret: TEST_SECRET, publicKey: rsaPem, skipAuth: false });
    const pemOnly = new Authenticator({ publicKey: rsaPem, skipAuth: false });
    const b64 = (o: unknown) => Buffer.from(JSON.stringify(o)).toString('base64url');
    const none = `${b64({ alg: 'none' })}.${b64({ sub: 'root', role: 'admin', exp: Math.floor(Date.now() / 1000) + 60 })}.`;
    const confused = await sign(new TextEncoder().encode(rsaPem), 'HS256', { sub: 'root', role: 'admin' });
    for (const a of [both, pemOnly]) {
      expect(await codeOf(a.verify(none))).toBe('UNAUTHORIZED');
      expect(await codeOf(a.verify(confused))).toBe('UNAUTHORIZED');
    }
    expect(() => new Authenticator({ publicKey: rsaPem, algorithms: ['HS256'], skipAuth: false })).toThrow(/JWT_ALGORITHMS/);
    expect(() => new Authenticator({ publicKey: '-----BEGIN PUBLIC KEY-----\nnope\n-----END PUBLIC KEY-----', skipAuth: false })).toThrow(/JWT_PUBLIC_KEY/);
  });

  it('maps the seeds’ claim shapes: userId|sub, address|stacksAddress|walletAddress, roles, organisations', async () => {
    const a = new Authenticator({ secret: TEST_SECRET, skipAuth: false });
    const supabase = await a.verify(await sign(hs, 'HS256', { sub: 'uuid-1', role: 'authenticated', walletAddress: 'SPW', app_metadata: { organization_id: 'org-9' } }));
    expect(supabase).toMatchObject({ userId: 'uuid-1', address: 'SPW', role: 'user', orgId: 'org-9', authenticated: true });
    const custom = await a.verify(await sign(hs, 'HS256', { userId: 'u2', sub: 'ignored', stacksAddress: 'SPS', role: 'developer', org_id: 'o2' }));
    expect(custom).toMatchObject({ userId: 'u2', address: 'SPS', role: 'developer', orgId: 'o2' });
    const pulse = await a.verify(await sign(hs, 'HS256', { userId: 'u3', address: 'SPA', role: 'admin', organizationId: 'o3' }));
    expect(pulse).toMatchObject({ userId: 'u3', address: 'SPA', role: 'admin', orgId: 'o3' });
    // Supabase's public anon key: a valid signature, but no user.
    expect((await a.verify(await sign(hs, 'HS256', { role: 'anon' }))).role).toBeNull();
  });
});

describe('JWKS', () => {
  let server: Server;
  let url: string;
  let served: JWK[] = [];
  let fetches = 0;

  beforeAll(async () => {
    server = createServer((_req, res) => {
      fetches++;
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ keys: served }));
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
    const addr = server.address();
    url = `http://127.0.0.1:${typeof addr === 'object' && addr ? addr.port : 0}/.well-known/jwks.json`;
  });
  afterAll(() => new Promise<void>((r) => server.close(() => r())));

  async function jwk(p: Pair, kid: string, alg: string): Promise<JWK> {
    return { ...(await exportJWK(p.publicKey)), kid, alg, use: 'sig' };
  }

  it('verifies RS256 and ES256 by kid, caches the set, and honours rotation', async () => {
    const k1 = rsa;
    const k2 = await generateKeyPair('RS256', { extractable: true });
    served = [await jwk(k1, 'k1', 'RS256'), await jwk(ec, 'e1', 'ES256')];
    fetches = 0;
    const a = new Authenticator({ jwksUrl: url, jwksCooldownMs: 0, skipAuth: false });
    const t1 = await sign(k1.privateKey, 'RS256', { sub: 'one' }, { kid: 'k1' });
    for (let i = 0; i < 3; i++) expect((await a.verify(t1)).userId).toBe('one');
    expect((await a.verify(await sign(ec.privateKey, 'ES256', { sub: 'ec' }, { kid: 'e1' }))).userId).toBe('ec');
    expect(fetches).toBe(1);
    // Rotation: the provider now publishes k2 only. A k2 token makes the set refetch.
    served = [await jwk(k2, 'k2', 'RS256')];
    expect((await a.verify(await sign(k2.privateKey, 'RS256', { sub: 'two' }, { kid: 'k2' }))).userId).toBe('two');
    expect(fetches).toBe(2);
    expect(await codeOf(a.verify(t1))).toBe('UNAUTHORIZED');
    // HS256 is never accepted from a JWKS-only configuration.
    expect(await codeOf(a.verify(await sign(hs, 'HS256', { sub: 'x' }, { kid: 'k2' })))).toBe('UNAUTHORIZED');
  });

  it('an unreachable JWKS is UNAVAILABLE, not UNAUTHORIZED', async () => {
    const dead = createServer();
    await new Promise<void>((r) => dead.listen(0, '127.0.0.1', () => r()));
    const addr = dead.address();
    const port = typeof addr === 'object' && addr ? addr.port : 0;
    await new Promise<void>((r) => dead.close(() => r()));
    const a = new Authenticator({ jwksUrl: `http://127.0.0.1:${port}/jwks`, skipAuth: false });
    expect(await codeOf(a.verify(await sign(rsa.privateKey, 'RS256', { sub: 'x' }, { kid: 'k1' })))).toBe('UNAVAILABLE');
  });

  it('a server started with JWKS_URL accepts RS256 on native /ws and ES256 on Socket.IO', async () => {
    served = [await jwk(rsa, 'k1', 'RS256'), await jwk(ec, 'e1', 'ES256')];
    const cleanup = new Cleanup();
    try {
      const pulse = cleanup.server(await startTestServer({ auth: 'jwt', env: { JWT_SECRET: '', JWKS_URL: url, JWT_ISSUER: 'https://id.example' } }));
      const rs = await sign(rsa.privateKey, 'RS256', { sub: 'rs-user', address: 'SPRS' }, { kid: 'k1', iss: 'https://id.example' });
      const c = cleanup.closable(await openNative(pulse, rs));
      expect((await c.nextOfType('welcome')).userId).toBe('rs-user');
      expect((await call(c, { op: 'subscribe', channel: 'user:SPRS' })).type).toBe('reply');
      const es = await sign(ec.privateKey, 'ES256', { sub: 'es-user' }, { kid: 'e1', iss: 'https://id.example' });
      const s = cleanup.closable(SioCollector.connect(pulse.url, { auth: { token: es }, transports: ['websocket'] }));
      expect((await s.next<Json>('connected')).userId).toBe('es-user');
      const wrongIss = await sign(ec.privateKey, 'ES256', { sub: 'es-user' }, { kid: 'e1', iss: 'https://evil.example' });
      const bad = cleanup.closable(await openNative(pulse, wrongIss));
      expect((await bad.closed()).code).toBe(4001);
    } finally {
      await cleanup.run();
    }
  });
});

describe('expiry on a live connection', () => {
  const cleanup = new Cleanup();
  afterEach(() => cleanup.run());

  it('native: closes with 4009 TOKEN_EXPIRED; an in-band `auth` renewal keeps it open', async () => {
    const pulse = cleanup.server(await startTestServer({ auth: 'jwt' }));
    const soon = () => sign(hs, 'HS256', { userId: 'u1' }, { exp: Math.floor(Date.now() / 1000) + 2 });
    const a = cleanup.closable(await openNative(pulse, await soon()));
    const b = cleanup.closable(await openNative(pulse, await soon()));
    const renewed = await call(b, { op: 'auth', token: await sign(hs, 'HS256', { userId: 'u1' }, { exp: '1h' }) });
    expect(renewed.type).toBe('reply');
    const other = await call(b, { op: 'auth', token: await sign(hs, 'HS256', { userId: 'someone-else' }) });
    expect(other.code).toBe('FORBIDDEN');
    expect((await a.closed({ timeoutMs: 6000 })).code).toBe(4009);
    expect(a.ofType('error').some((m) => m.code === 'TOKEN_EXPIRED')).toBe(true);
    // b outlived a's expiry and still answers.
    expect((await call(b, { op: 'ping' })).type).toBe('reply');
  });

  it('native: an in-band renewal may not narrow what the connection already receives (role or organisation), so a demoted admin does not keep reading other users\' channels', async () => {
    const pulse = cleanup.server(await startTestServer({ auth: 'jwt' }));
    const tok = (claims: Record<string, unknown>) => sign(hs, 'HS256', { userId: 'boss', ...claims }, { exp: '1h' });
    const c = cleanup.closable(await openNative(pulse, await tok({ role: 'admin' })));
    expect((await call(c, { op: 'subscribe', channel: 'user:*' })).type).toBe('reply');
    // Demoted: the same user, now a plain user. The renewal is refused; the connection keeps the
    // admin token only until it expires (4009), then reconnects with what it may now read.
    const demoted = await call(c, { op: 'auth', token: await tok({ role: 'user' }) });
    expect([demoted.type, demoted.code]).toEqual(['error', 'FORBIDDEN']);
    expect(String(demoted.message)).toContain('user:*');

    // Organisation: a subscription scoped to org A is not carried over to a token for org B.
    const m = cleanup.closable(await openNative(pulse, await tok({ userId: 'member', organizationId: 'A' })));
    expect((await call(m, { op: 'subscribe', channel: 'market:org' })).type).toBe('reply');
    expect((await call(m, { op: 'auth', token: await tok({ userId: 'member', organizationId: 'B' }) })).code).toBe('FORBIDDEN');
    // Renewals that keep or widen rights pass: same claims, and a promotion to admin.
    expect((await call(m, { op: 'auth', token: await tok({ userId: 'member', organizationId: 'A' }) })).type).toBe('reply');
    expect((await call(m, { op: 'auth', token: await tok({ userId: 'member', organizationId: 'A', role: 'admin' }) })).type).toBe('reply');
    // A refused renewal changed nothing: the admin connection still receives a user's channel.
    const admin = await tok({ userId: 'ops', role: 'admin' });
    const r = await fetch(`${pulse.url}/v1/events?wait=durable`, { method: 'POST', headers: { authorization: `Bearer ${admin}`, 'content-type': 'application/json' }, body: JSON.stringify({ channel: 'user:SPX', type: 't', id: 'to-x' }) });
    expect(r.status).toBe(200);
    await waitFor(() => c.messages.some((x) => x.type === 'events' && (x.events as Json[]).some((e) => e.id === 'to-x')), 'admin connection still receives');
  });

  it('SSE: ends the stream with `event: error` TOKEN_EXPIRED', async () => {
    const pulse = cleanup.server(await startTestServer({ auth: 'jwt' }));
    const t = await sign(hs, 'HS256', { userId: 'u1' }, { exp: Math.floor(Date.now() / 1000) + 2 });
    const res = await fetch(`${pulse.url}/v1/stream?channel=market:sse&token=${t}`);
    expect(res.status).toBe(200);
    const reader = res.body!.getReader();
    let text = '';
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      text += new TextDecoder().decode(value);
    }
    expect(text).toContain('event: subscribed');
    expect(text).toMatch(/event: error\ndata: \{"code":"TOKEN_EXPIRED"/);
    await waitFor(() => pulse.hub.sessions.size === 0, 'SSE session freed');
  });

  it('Socket.IO: emits error TOKEN_EXPIRED and closes the transport', async () => {
    const pulse = cleanup.server(await startTestServer({ auth: 'jwt' }));
    const t = await sign(hs, 'HS256', { userId: 'u1' }, { exp: Math.floor(Date.now() / 1000) + 2 });
    const s = cleanup.closable(SioCollector.connect(pulse.url, { auth: { token: t }, transports: ['websocket'] }));
    await s.connected();
    const err = await s.next<Json>('error', (e) => e.code === 'TOKEN_EXPIRED', { timeoutMs: 6000 });
    expect(err.code).toBe('TOKEN_EXPIRED');
    await waitFor(() => s.records.some((r) => r.event === 'disconnect'), 'transport closed');
  });
});

describe('generateToken: synchronous, as seed 000 uses it', () => {
  const cleanup = new Cleanup();
  afterEach(() => cleanup.run());
  const ADDRESS = 'SP2J6ZY48GV1EZ5V2V5RB9MP66SW86PYKKNRV9EJ7';
  const parts = (t: string) => t.split('.').slice(0, 2).map((p) => JSON.parse(Buffer.from(p, 'base64url').toString('utf8')) as Json);

  it("returns the token itself (the seed's `const token = generateToken(userId, address, role)` with JWT_SECRET), with the same header and claims as before", async () => {
    const before = process.env.JWT_SECRET;
    process.env.JWT_SECRET = TEST_SECRET;
    let token: unknown;
    try {
      token = generateToken('user-123', ADDRESS, 'user');
    } finally {
      if (before === undefined) delete process.env.JWT_SECRET;
      else process.env.JWT_SECRET = before;
    }
    expect(typeof token).toBe('string');
    const [header, claims] = parts(token as string);
    expect(header).toEqual({ alg: 'HS256', typ: 'JWT' });
    expect(claims).toEqual({ userId: 'user-123', role: 'user', address: ADDRESS, sub: 'user-123', iat: expect.any(Number), exp: (claims.iat as number) + 24 * 3600 });
    expect(Math.abs((claims.iat as number) - Date.now() / 1000)).toBeLessThan(5);
    // The server's own verifier (jose) accepts it; awaiting it (older callers) gives the same string.
    const p = await new Authenticator({ secret: TEST_SECRET, skipAuth: false }).verify(token as string);
    expect(p).toMatchObject({ userId: 'user-123', address: ADDRESS, role: 'user', authenticated: true, expiresAt: (claims.exp as number) * 1000 });
    expect(await generateToken('x', null, 'admin', { secret: TEST_SECRET })).toMatch(/^[\w-]+\.[\w-]+\.[\w-]+$/);
    // Optional claims, and iss / aud as a server that checks them requires.
    const full = generateToken('u2', null, 'developer', { secret: TEST_SECRET, organizationId: 'org-1', issuer: 'https://id.example', audience: 'pulse', expiresIn: '15m' });
    const [, c2] = parts(full);
    expect(c2).toEqual({ userId: 'u2', role: 'developer', organizationId: 'org-1', sub: 'u2', iat: expect.any(Number), exp: (c2.iat as number) + 900, iss: 'https://id.example', aud: 'pulse' });
    const strict = new Authenticator({ secret: TEST_SECRET, issuer: ['https://id.example'], audience: ['pulse'], skipAuth: false });
    expect(await strict.verify(full)).toMatchObject({ userId: 'u2', role: 'developer', orgId: 'org-1' });
    expect(() => generateToken('u', null, 'user', { secret: '' })).toThrow(/needs a secret/);
  });

  it("expiresIn: seconds, or '30s' / '15m' / '24h' / '7d'; anything else is refused with a clear error; expiry is honoured", async () => {
    const exp = (e: string | number) => {
      const [, c] = parts(generateToken('u', null, 'user', { secret: TEST_SECRET, expiresIn: e }));
      return (c.exp as number) - (c.iat as number);
    };
    expect([exp('30s'), exp('15m'), exp('24h'), exp('7d'), exp(3600), exp(0), exp(-10)]).toEqual([30, 900, 86_400, 604_800, 3600, 0, -10]);
    // A number of 10^9 or more is an absolute exp (Unix seconds), as jose read every number before.
    const at = Math.floor(Date.now() / 1000) + 120;
    expect(parts(generateToken('u', null, 'user', { secret: TEST_SECRET, expiresIn: at }))[1].exp).toBe(at);
    for (const bad of ['2 hours', '1w', '10', '', 'h', '1.5h', '-1h', '1e3s', '24H', NaN, Infinity, 1e300, '9999999999999d'] as Array<string | number>) {
      let e: unknown = null;
      try {
        generateToken('u', null, 'user', { secret: TEST_SECRET, expiresIn: bad });
      } catch (x) {
        e = x;
      }
      expect(e, String(bad)).toBeInstanceOf(PulseError);
      expect((e as PulseError).code).toBe('INVALID_REQUEST');
      expect((e as PulseError).message).toMatch(/expiresIn/);
    }
    const a = new Authenticator({ secret: TEST_SECRET, skipAuth: false });
    expect(await codeOf(a.verify(generateToken('u', null, 'user', { secret: TEST_SECRET, expiresIn: -1 })))).toBe('TOKEN_EXPIRED');
    expect(await codeOf(a.verify(generateToken('u', null, 'user', { secret: TEST_SECRET, expiresIn: Math.floor(Date.now() / 1000) - 5 })))).toBe('TOKEN_EXPIRED');
    expect(await codeOf(a.verify(generateToken('u', null, 'user', { secret: TEST_SECRET, expiresIn: '30s' })))).toBe('OK');
  });

  it('a real server accepts it on Socket.IO and native sockets, and ends the connection when it expires', async () => {
    const pulse = cleanup.server(await startTestServer({ auth: 'jwt' }));
    const token = generateToken('user-123', ADDRESS, 'user', { secret: TEST_SECRET });
    const s = cleanup.closable(SioCollector.connect(pulse.url, { auth: { token }, transports: ['websocket'] }));
    await s.connected();
    expect(await s.next<Json>('connected')).toMatchObject({ userId: 'user-123' });
    const n = cleanup.closable(await openNative(pulse, generateToken('user-9', null, 'user', { secret: TEST_SECRET, expiresIn: 2 })));
    expect(n.ofType('welcome')[0] ?? (await n.next((m) => m.type === 'welcome'))).toMatchObject({ userId: 'user-9' });
    expect((await call(n, { op: 'subscribe', channel: 'market:tok' })).type).toBe('reply');
    expect((await n.closed({ timeoutMs: 8000 })).code).toBe(4009);
    expect(n.ofType('error').some((m) => m.code === 'TOKEN_EXPIRED')).toBe(true);
    // A token signed with another secret is refused.
    const bad = cleanup.closable(SioCollector.connect(pulse.url, { auth: { token: generateToken('x', null, 'user', { secret: 'another-secret-0123456789abcdef' }) }, transports: ['websocket'] }));
    await expect(bad.connected()).rejects.toThrow();
  });

  it('property: any claims and secret sign → verify round-trip (jose and the server), and any changed byte fails', async () => {
    const text = fc.string({ unit: 'binary', minLength: 1, maxLength: 40 });
    const input = fc.record({
      userId: text,
      address: fc.option(text, { nil: null }),
      role: fc.constantFrom('user', 'admin', 'developer') as fc.Arbitrary<'user' | 'admin' | 'developer'>,
      secret: fc.string({ unit: 'binary', minLength: 1, maxLength: 64 }),
      organizationId: fc.option(text, { nil: undefined }),
      issuer: fc.option(text, { nil: undefined }),
      audience: fc.option(text, { nil: undefined }),
      expiresIn: fc.oneof(
        fc.integer({ min: 60, max: 10 * 365 * 86_400 }),
        fc.tuple(fc.integer({ min: 2, max: 999 }), fc.constantFrom('m', 'h', 'd')).map(([n, u]) => `${n}${u}`),
      ),
      // Which byte of which part (header, claims, signature) to change, and how.
      segment: fc.integer({ min: 0, max: 2 }),
      at: fc.nat(),
      xor: fc.integer({ min: 1, max: 255 }),
    });
    await fc.assert(
      fc.asyncProperty(input, async (i) => {
        const token = generateToken(i.userId, i.address, i.role, { secret: i.secret, organizationId: i.organizationId, issuer: i.issuer, audience: i.audience, expiresIn: i.expiresIn });
        const key = new TextEncoder().encode(i.secret);
        const { payload, protectedHeader } = await jwtVerify(token, key, { algorithms: ['HS256'] });
        expect(protectedHeader).toEqual({ alg: 'HS256', typ: 'JWT' });
        const want: Record<string, unknown> = { userId: i.userId, role: i.role, sub: i.userId };
        if (i.address) want.address = i.address;
        if (i.organizationId) want.organizationId = i.organizationId;
        if (i.issuer) want.iss = i.issuer;
        if (i.audience) want.aud = i.audience;
        // Strings go through JSON and UTF-8 as jose would send them (lone surrogates become U+FFFD).
        const utf8 = (v: unknown) => (typeof v === 'string' ? new TextDecoder().decode(new TextEncoder().encode(v)) : v);
        for (const [k, v] of Object.entries(want)) expect(payload[k], k).toEqual(utf8(v));
        const duration = typeof i.expiresIn === 'number' ? i.expiresIn : Number(i.expiresIn.slice(0, -1)) * { m: 60, h: 3600, d: 86_400 }[i.expiresIn.slice(-1) as 'm' | 'h' | 'd']!;
        expect(payload.exp! - payload.iat!).toBe(duration);
        const auth = new Authenticator({ secret: i.secret, issuer: i.issuer ? [utf8(i.issuer) as string] : undefined, audience: i.audience ? [utf8(i.audience) as string] : undefined, skipAuth: false });
        expect((await auth.verify(token)).authenticated).toBe(true);
        // Change one byte of one part and re-encode: refused.
        const segs = token.split('.').map((p) => Buffer.from(p, 'base64url'));
        const seg = segs[i.segment];
        seg[i.at % seg.length] ^= i.xor;
        const tampered = segs.map((b) => b.toString('base64url')).join('.');
        expect(await codeOf(auth.verify(tampered))).toBe('UNAUTHORIZED');
        await expect(jwtVerify(tampered, key, { algorithms: ['HS256'] })).rejects.toThrow();
      }),
      { numRuns: 300 },
    );
  });
});
