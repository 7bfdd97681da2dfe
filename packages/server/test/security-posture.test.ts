/**
 * Production posture: the start is refused without a verification key, with SKIP_AUTH, or with
 * a wildcard ALLOWED_ORIGINS; CORS and the WebSocket Origin check follow ALLOWED_ORIGINS; no
 * token or secret reaches the logs; event data loses `__proto__` / `constructor` keys.
 */
import { describe, it, expect, afterEach } from 'vitest';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import WebSocket from 'ws';
import { SignJWT } from 'jose';
import { PulseError } from '@pulse/protocol';
import { loadConfig } from '../src/config.js';
import { createLogger } from '../src/logger.js';
import { ApiKeys } from '../src/auth/keys.js';
import { startTestServer, Cleanup, SioCollector, http, tempDir, tokenFor, waitFor, TEST_SECRET, type Json } from './support/index.js';
import { openNative, call } from './security-helpers.js';

const cleanup = new Cleanup();
afterEach(() => cleanup.run());

/** A token with an arbitrary role claim (e.g. Supabase's public `anon`). */
function signRole(role: string): Promise<string> {
  return new SignJWT({ sub: 'someone', role }).setProtectedHeader({ alg: 'HS256' }).setExpirationTime('1h').sign(new TextEncoder().encode(TEST_SECRET));
}

function refusal(env: Record<string, string>): string {
  try {
    loadConfig(env);
    return 'started';
  } catch (e) {
    return e instanceof PulseError ? e.message : String(e);
  }
}

describe('production refuses to start unsafely', () => {
  const prod = { NODE_ENV: 'production', JWT_SECRET: TEST_SECRET, ALLOWED_ORIGINS: 'https://app.example' };
  it.each([
    ['no verification key', { ...prod, JWT_SECRET: '' }, /verification key/],
    ['SKIP_AUTH', { ...prod, SKIP_AUTH: 'true' }, /SKIP_AUTH/],
    ['wildcard origins', { ...prod, ALLOWED_ORIGINS: '*' }, /ALLOWED_ORIGINS/],
    ['wildcard among origins', { ...prod, ALLOWED_ORIGINS: 'https://a.example, *' }, /ALLOWED_ORIGINS/],
    ['default origins (*)', { NODE_ENV: 'production', JWT_SECRET: TEST_SECRET }, /ALLOWED_ORIGINS/],
    ['a short secret', { ...prod, JWT_SECRET: 'short' }, /32 characters/],
    ['a plain-http JWKS', { ...prod, JWT_SECRET: '', JWKS_URL: 'http://id.example/jwks' }, /https/],
    ['alg none', { ...prod, JWT_ALGORITHMS: 'HS256,none' }, /JWT_ALGORITHMS/],
  ])('%s', (_name, env, why) => {
    expect(refusal(env)).toMatch(why);
  });

  it('starts with a key, listed origins and no SKIP_AUTH; production defaults are strict', () => {
    const c = loadConfig({ ...prod, JWT_SECRET: '', JWKS_URL: 'https://id.example/.well-known/jwks.json' });
    expect(c.MAX_CONNECTIONS_PER_IP).toBe(1000);
    expect(c.INGEST_USER_TOKENS).toBe(false);
    expect(loadConfig(prod).SUBSCRIBE_RATE_PER_MINUTE).toBe(10);
    expect(loadConfig({ SKIP_AUTH: 'true' }).INGEST_USER_TOKENS).toBe(true);
    expect(refusal({ NODE_ENV: 'development' })).toMatch(/JWT_SECRET, JWT_PUBLIC_KEY or JWKS_URL/);
  });
});

describe('ALLOWED_ORIGINS entries that could never match are refused at start, with the fix named', () => {
  const base = { JWT_SECRET: TEST_SECRET };
  it.each([
    ['a trailing slash', 'https://app.example/', /"https:\/\/app\.example\/" is not an origin.*did you mean "https:\/\/app\.example"/],
    ['a path', 'https://app.example/dashboard', /did you mean "https:\/\/app\.example"/],
    ['no scheme', 'app.example', /"app\.example" is not an origin/],
    ['a default port', 'https://app.example:443', /did you mean "https:\/\/app\.example"/],
    ['upper case', 'https://App.example', /did you mean "https:\/\/app\.example"/],
    ['a wildcard subdomain', 'https://*.app.example', /wildcard inside/],
    ['one bad entry among good ones', 'https://a.example, https://b.example/', /"https:\/\/b\.example\/"/],
  ])('%s', (_name, origins, why) => {
    for (const env of ['development', 'production']) expect(refusal({ ...base, NODE_ENV: env, ALLOWED_ORIGINS: origins }), env).toMatch(why);
  });

  it('accepts origins as browsers send them, and * alone outside production', () => {
    for (const ok of ['https://app.example', 'http://localhost:5173, https://admin.example:8443', 'capacitor://localhost', 'http://[::1]:3000']) {
      expect(refusal({ ...base, NODE_ENV: 'production', ALLOWED_ORIGINS: ok }), ok).toBe('started');
    }
    expect(refusal({ ...base, ALLOWED_ORIGINS: '*' })).toBe('started');
  });
});

describe('PULSE_CONFIG: a misspelt policy key stops the start instead of leaving the namespace open', () => {
  it.each([
    ['a misspelt subscribe level key', 'namespaces:\n  staff: { subscibe: admin }\n', /namespaces\.staff: Unrecognized key: "subscibe"/],
    ['a misspelt defaultPolicy', 'defaultpolicy: { subscribe: admin }\n', /top level: Unrecognized key: "defaultpolicy"/],
    ['a misspelt key in defaultPolicy', 'defaultPolicy: { subcribe: admin }\n', /defaultPolicy: Unrecognized key: "subcribe"/],
  ])('%s', (_name, yaml, why) => {
    const file = join(tempDir(), 'pulse.yaml');
    writeFileSync(file, yaml);
    expect(refusal({ JWT_SECRET: TEST_SECRET, PULSE_CONFIG: file })).toMatch(why);
  });

  it('the documented example still loads, with its levels applied', () => {
    const file = join(tempDir(), 'pulse.yaml');
    writeFileSync(file, 'namespaces:\n  staff: { subscribe: admin }\n  chat:  { subscribe: authenticated, publish: authenticated }\n  inbox: { subscribe: owner, publish: owner }\ndefaultPolicy: { subscribe: admin }\n');
    const c = loadConfig({ JWT_SECRET: TEST_SECRET, PULSE_CONFIG: file });
    expect([c.namespaces.staff.subscribe, c.namespaces.chat.publish, c.namespaces.inbox.subscribe, c.defaultPolicy.subscribe]).toEqual(['admin', 'authenticated', 'owner', 'admin']);
    expect(refusal({ JWT_SECRET: TEST_SECRET, SKIP_AUTH: 'TRUE' })).toMatch(/SKIP_AUTH: must be true, false, 1, 0, yes or no/);
  });
});

describe('origins', () => {
  it('CORS headers and WebSocket / Socket.IO upgrades follow ALLOWED_ORIGINS', async () => {
    const pulse = cleanup.server(await startTestServer({ env: { ALLOWED_ORIGINS: 'https://app.example,https://admin.example' } }));
    const good = await http('GET', `${pulse.url}/health`, { headers: { origin: 'https://app.example' } });
    expect(good.headers.get('access-control-allow-origin')).toBe('https://app.example');
    const pre = await fetch(`${pulse.url}/v1/events`, { method: 'OPTIONS', headers: { origin: 'https://admin.example', 'access-control-request-method': 'POST' } });
    expect(pre.status).toBe(204);
    expect(pre.headers.get('access-control-allow-origin')).toBe('https://admin.example');
    const evil = await http('GET', `${pulse.url}/health`, { headers: { origin: 'https://evil.example' } });
    expect(evil.headers.get('access-control-allow-origin')).toBeNull();

    const status = (origin: string) =>
      new Promise<number>((resolve) => {
        const ws = new WebSocket(`${pulse.wsUrl}/ws`, { origin });
        ws.on('open', () => {
          ws.close();
          resolve(101);
        });
        ws.on('unexpected-response', (_req, res) => resolve(res.statusCode ?? 0));
        ws.on('error', () => undefined);
      });
    expect(await status('https://app.example')).toBe(101);
    expect(await status('https://evil.example')).toBe(403);

    const bad = cleanup.closable(SioCollector.connect(pulse.url, { transports: ['websocket'], extraHeaders: { origin: 'https://evil.example' } }));
    const r = await waitFor(() => bad.records.find((x) => x.event === 'connect' || x.event === 'connect_error'), 'socket.io outcome');
    expect(r.event).toBe('connect_error');
    const ok = cleanup.closable(SioCollector.connect(pulse.url, { transports: ['websocket'], extraHeaders: { origin: 'https://app.example' } }));
    await ok.connected();
  });
});

describe('origins: a page Pulse serves itself', () => {
  it('in production, the dashboard (same origin as the server) may open sockets though its origin is not listed; other origins may not', async () => {
    const pulse = cleanup.server(await startTestServer({ auth: 'jwt', env: { NODE_ENV: 'production', ALLOWED_ORIGINS: 'https://app.example' } }));
    const token = await tokenFor('dash', null, 'developer');
    const host = new URL(pulse.url).host;
    // A browser's WebSocket always sends Origin, also to its own site: the served dashboard's is the server's own.
    const status = (origin: string, path: string, headers: Record<string, string> = {}) =>
      new Promise<number>((resolve) => {
        const ws = new WebSocket(`${pulse.wsUrl}${path}?token=${token}`, { origin, headers });
        ws.on('open', () => {
          ws.close();
          resolve(101);
        });
        ws.on('unexpected-response', (_req, res) => resolve(res.statusCode ?? 0));
        ws.on('error', () => undefined);
      });
    for (const path of ['/ws', '/ws/metrics', '/analytics', '/api/websocket/analytics']) {
      expect(await status(pulse.url, path), path).toBe(101);
      expect(await status(`https://${host}`, path), `${path} behind a TLS proxy`).toBe(101);
      expect(await status('https://evil.example', path), path).toBe(403);
      // The Origin must name the host asked for, not merely look like it.
      expect(await status(`http://${host}.evil.example`, path), path).toBe(403);
      expect(await status('https://evil.example', path, { host: 'evil.example' }), `${path}, Host forged to match`).toBe(101 /* a non-browser client may forge both: no browser protection is lost */);
    }
    const sio = cleanup.closable(SioCollector.connect(pulse.url, { auth: { token }, transports: ['websocket'], extraHeaders: { origin: pulse.url } }));
    await sio.connected();
    const bad = cleanup.closable(SioCollector.connect(pulse.url, { auth: { token }, transports: ['websocket'], extraHeaders: { origin: 'https://evil.example' } }));
    const r = await waitFor(() => bad.records.find((x) => x.event === 'connect' || x.event === 'connect_error'), 'socket.io outcome');
    expect(r.event).toBe('connect_error');
  });
});

describe('operations endpoints', () => {
  it('/status and /metrics answer admins, developers and `read *` keys, not plain users', async () => {
    const pulse = cleanup.server(await startTestServer({ auth: 'jwt' }));
    const keys = new ApiKeys(pulse.hub.store);
    const scraper = (await keys.create({ name: 'prometheus', operations: ['read'], channels: ['*'] })).key;
    const narrow = (await keys.create({ name: 'narrow', operations: ['read'], channels: ['market:*'] })).key;
    for (const path of ['/status', '/metrics']) {
      expect((await http('GET', pulse.url + path)).status, path).toBe(401);
      expect((await http('GET', pulse.url + path, { token: await tokenFor('u', null, 'user') })).status, path).toBe(403);
      expect((await http('GET', pulse.url + path, { headers: { 'x-api-key': narrow } })).status, path).toBe(403);
      expect((await http('GET', pulse.url + path, { token: await tokenFor('d', null, 'developer') })).status, path).toBe(200);
      expect((await http('GET', pulse.url + path, { token: await tokenFor('a', null, 'admin') })).status, path).toBe(200);
      expect((await http('GET', pulse.url + path, { headers: { 'x-api-key': scraper } })).status, path).toBe(200);
    }
  });
});

describe('metrics read API', () => {
  it('needs a credential that may read the metrics namespace', async () => {
    const pulse = cleanup.server(await startTestServer({ auth: 'jwt' }));
    const user = await tokenFor('u', null, 'user');
    for (const path of ['/v1/metrics', '/v1/series?set=platform', '/v1/leaderboard', '/api/v1/analytics/realtime-metrics']) {
      const none = await http<Json>('GET', pulse.url + path);
      expect([none.status, none.body.code], path).toEqual([401, 'UNAUTHORIZED']);
      const ok = await http<Json>('GET', pulse.url + path, { token: user });
      expect([401, 403], path).not.toContain(ok.status);
    }
    const anonRole = await signRole('anon');
    const r = await http<Json>('GET', pulse.url + '/v1/metrics', { token: anonRole });
    expect([r.status, r.body.code]).toEqual([403, 'FORBIDDEN']);
    expect((await http('GET', pulse.url + '/health')).status).toBe(200);
  });

  it('percent-encoded or otherwise spelled paths to the metrics routes are guarded too', async () => {
    const pulse = cleanup.server(await startTestServer({ auth: 'jwt', env: { NODE_ENV: 'production', ALLOWED_ORIGINS: 'https://app.example' } }));
    // The router decodes these to the metrics routes; every spelling must need a credential.
    for (const path of ['/v1/%6Detrics', '/v1/%6Detrics/platform', '/%761/metrics/platform', '/v1/metrics/', '/v1/%73eries?set=platform&metric=transactions.total', '/v1/leaderboar%64?set=platform', '/api/v1/analytics/realtime-metric%73']) {
      const none = await http<Json>('GET', pulse.url + path);
      expect([none.status, none.body.code], path).toEqual([401, 'UNAUTHORIZED']);
    }
  });
});

describe('logs', () => {
  it('redacts tokens, keys and secrets in log objects', async () => {
    const dir = tempDir();
    const log = createLogger({ LOG_LEVEL: 'trace', LOG_DIR: dir });
    log.info({ token: 'TOKEN-A', auth: { token: 'TOKEN-B' }, req: { headers: { authorization: 'Bearer TOKEN-C', cookie: 'sid=TOKEN-D' }, query: { token: 'TOKEN-E' } }, apiKey: 'TOKEN-F', JWT_SECRET: 'TOKEN-G' }, 'hello');
    log.flush();
    const text = await waitFor(() => {
      const t = readFileSync(join(dir, 'combined.log'), 'utf8');
      return t.includes('hello') ? t : null;
    }, 'log line written');
    expect(text).toContain('[redacted]');
    for (const t of 'ABCDEFG') expect(text).not.toContain(`TOKEN-${t}`);
  });

  it('a server at trace level never writes a presented token, key or the secret', async () => {
    const logDir = tempDir();
    const pulse = cleanup.server(await startTestServer({ auth: 'jwt', env: { LOG_LEVEL: 'trace', LOG_DIR: logDir } }));
    const t = await tokenFor('logged', null, 'admin');
    const { key } = await new ApiKeys(pulse.hub.store).create({ name: 'l', operations: ['ingest'], channels: ['*'] });
    const c = await openNative(pulse, t);
    await call(c, { op: 'auth', token: t });
    await call(c, { op: 'auth', token: t + 'tampered' });
    c.close();
    const bad = await openNative(pulse, t + 'x');
    await bad.closed();
    await http('GET', `${pulse.url}/status?token=${t}`);
    await http('GET', `${pulse.url}/status?token=${t}broken`);
    await http('POST', `${pulse.url}/v1/events?token=${t}`, { body: '{bad json' });
    await http('POST', `${pulse.url}/v1/events`, { headers: { 'x-api-key': key }, body: { channel: 'market:l', type: 't' } });
    await http('POST', `${pulse.url}/v1/events`, { headers: { 'x-api-key': key + 'x' }, body: { channel: 'market:l', type: 't' } });
    const s = cleanup.closable(SioCollector.connect(pulse.url, { auth: { token: t + 'nope' }, transports: ['websocket'] }));
    await s.next('connect_error');
    await pulse.stop();
    const text = await waitFor(() => {
      const x = readFileSync(join(logDir, 'combined.log'), 'utf8');
      return x.includes('Pulse listening') ? x : null;
    }, 'server log written');
    const signature = t.split('.')[2];
    expect(text).not.toContain(signature);
    expect(text).not.toContain(key.slice(20));
    expect(text).not.toContain(TEST_SECRET);
  });
});

describe('event data', () => {
  it('is stripped of __proto__ / constructor / prototype keys before it is stored or sent', async () => {
    const pulse = cleanup.server(await startTestServer());
    const c = cleanup.closable(await openNative(pulse));
    await call(c, { op: 'subscribe', channel: 'market:p' });
    const body = '{"channel":"market:p","type":"t","id":"poison-1","data":{"ok":1,"__proto__":{"polluted":"yes"},"constructor":{"prototype":{"polluted":"yes"}},"nested":{"__proto__":{"polluted":"yes"},"keep":[{"prototype":1,"fine":2}]}}}';
    const r = await http<Json>('POST', `${pulse.url}/v1/events?wait=durable`, { body });
    expect(r.status).toBe(200);
    const pub = await call(c, { op: 'publish', channel: 'market:p', type: 't', eventId: 'poison-2', data: JSON.parse('{"__proto__":{"polluted":"yes"},"constructor":1,"v":2}') });
    expect(pub.type).toBe('reply');
    const delivered = await waitFor(() => {
      const evs = c.all((m) => m.type === 'events').flatMap((m) => m.events as Json[]);
      return evs.length >= 2 ? evs : null;
    }, 'both events delivered');
    const h = await pulse.hub.store.latest('market:p', 10);
    for (const data of [...delivered.map((e) => e.data), ...h.map((e) => e.data)]) {
      const text = JSON.stringify(data);
      expect(text).not.toMatch(/__proto__|constructor|prototype/);
    }
    expect(h.map((e) => e.data)).toEqual([{ ok: 1, nested: { keep: [{ fine: 2 }] } }, { v: 2 }]);
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
  });
});
