import { describe, it, expect, afterAll, beforeAll } from 'vitest';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import WebSocket from 'ws';
import { start, cleanup, tempDir, ingest, NativeClient, waitFor, SECRET } from './core-helpers.js';
import { loadConfig, generateToken, type PulseServer } from '../src/index.js';

describe('configuration', () => {
  it('refuses SKIP_AUTH outside development, and names bad variables', () => {
    expect(() => loadConfig({ NODE_ENV: 'production', SKIP_AUTH: 'true', JWT_SECRET: 'x', ALLOWED_ORIGINS: 'https://a.example' })).toThrow(/SKIP_AUTH/);
    expect(() => loadConfig({ NODE_ENV: 'production', JWT_SECRET: 'x' })).toThrow(/ALLOWED_ORIGINS/);
    expect(() => loadConfig({ NODE_ENV: 'production', ALLOWED_ORIGINS: 'https://a.example' })).toThrow(/JWT_SECRET/);
    expect(() => loadConfig({ SKIP_AUTH: 'true', PORT: 'eighty' })).toThrow(/PORT/);
    expect(() => loadConfig({ SKIP_AUTH: 'true', LOG_LEVEL: 'loud' })).toThrow(/LOG_LEVEL/);
    expect(() => loadConfig({ SKIP_AUTH: 'true', PULSE_CONFIG: '/nonexistent.yaml' })).toThrow(/not found/);
    const c = loadConfig({ SKIP_AUTH: 'true' });
    expect([c.PORT, c.MAX_SUBSCRIPTIONS_PER_CLIENT, c.METRICS_PREFIX, c.EVENT_HISTORY_LIMIT]).toEqual([3002, 10, 'pulse', 100]);
  });

  it('refuses a DATABASE_URL it cannot serve rather than falling back silently', async () => {
    const dir = tempDir();
    await expect(start({ DATABASE_URL: 'mysql://nope' }, { dir })).rejects.toThrow(/DATABASE_URL/);
    cleanup(dir);
  });
});

describe('operations endpoints', () => {
  let pulse: PulseServer & { dir: string };
  let logDir: string;
  beforeAll(async () => {
    logDir = tempDir();
    pulse = await start({ METRICS_PREFIX: 'adstack', LOG_DIR: logDir, LOG_LEVEL: 'info' });
  });
  afterAll(async () => {
    await pulse.close();
    cleanup(pulse.dir);
    cleanup(logDir);
  });

  it('/health has seed 000 shape', async () => {
    const c = await NativeClient.open(pulse.wsUrl);
    await c.result({ op: 'subscribe', channel: 'contract:SP1.x' });
    const h = (await fetch(pulse.url + '/health').then((r) => r.json())) as Record<string, any>;
    expect(h.status).toBe('ok');
    expect(new Date(h.timestamp).toISOString()).toBe(h.timestamp);
    expect(typeof h.uptime).toBe('number');
    expect(h.services).toMatchObject({ websocket: 1 });
    expect(h.metrics).toMatchObject({ connectedClients: 1, activeSubscriptions: 1 });
    expect(h.metrics.memoryUsage.rss).toBeGreaterThan(0);
    c.close();
  });

  it('/metrics speaks Prometheus text under METRICS_PREFIX and counts what happens', async () => {
    const c = await NativeClient.open(pulse.wsUrl);
    await c.result({ op: 'subscribe', channel: 'market:prom' });
    await ingest(pulse.url, [{ channel: 'market:prom', type: 't' }, { channel: 'bad', type: '' }]);
    await waitFor(() => c.events.length === 1, 'delivery');
    c.ws.send('garbage');
    await c.result({ op: 'ping' });
    const text = await fetch(pulse.url + '/metrics').then((r) => r.text());
    for (const name of [
      'adstack_connected_clients 1',
      'adstack_active_subscriptions 1',
      'adstack_uptime_seconds',
      'adstack_memory_usage_bytes{type="rss"}',
      'adstack_events_ingested_total{source="http"} 1',
      'adstack_events_rejected_total{code="INVALID_EVENT"} 1',
      'adstack_events_delivered_total{dialect="native"} 1',
      'adstack_errors_total{code="BAD_JSON"} 1',
      'adstack_fanout_latency_seconds_bucket',
    ]) {
      expect(text).toContain(name);
    }
    c.close();
  });

  it('/status reports services, connections and limits without secrets', async () => {
    const s = await fetch(pulse.url + '/status').then((r) => r.text());
    const j = JSON.parse(s) as Record<string, any>;
    expect(j).toMatchObject({ status: 'ok', store: { kind: 'sqlite' }, limits: { maxSubscriptionsPerClient: 10 } });
    expect(s).not.toContain(SECRET);
  });

  it('writes combined.log and error.log under LOG_DIR', async () => {
    await waitFor(() => existsSync(join(logDir, 'combined.log')) && readFileSync(join(logDir, 'combined.log'), 'utf8').includes('Pulse listening'), 'combined.log');
    expect(existsSync(join(logDir, 'error.log'))).toBe(true);
  });
});

describe('connection auth', () => {
  let pulse: PulseServer & { dir: string };
  beforeAll(async () => {
    pulse = await start({ SKIP_AUTH: 'false' });
  });
  afterAll(async () => {
    await pulse.close();
    cleanup(pulse.dir);
  });

  const closeOf = (url: string, headers: Record<string, string> = {}) =>
    new Promise<{ code: number; msg: any }>((resolve) => {
      const ws = new WebSocket(url, { headers });
      let msg: any = null;
      ws.on('message', (d) => (msg = JSON.parse(d.toString())));
      ws.on('close', (code) => resolve({ code, msg }));
    });

  it('refuses sockets and requests without a valid token, with codes', async () => {
    expect(await closeOf(pulse.wsUrl + '/ws')).toMatchObject({ code: 4001, msg: { code: 'UNAUTHORIZED' } });
    expect(await closeOf(pulse.wsUrl + '/ws?token=not.a.jwt')).toMatchObject({ code: 4001 });
    const expired = await generateToken('u1', 'SP1', 'user', { secret: SECRET, expiresIn: Math.floor(Date.now() / 1000) - 10 });
    expect(await closeOf(pulse.wsUrl + '/ws?token=' + expired)).toMatchObject({ code: 4009, msg: { code: 'TOKEN_EXPIRED' } });
    const r = await ingest(pulse.url, [{ channel: 'market:a', type: 't' }]);
    expect([r.status, r.json.code]).toEqual([401, 'UNAUTHORIZED']);
    expect((await fetch(pulse.url + '/metrics')).status).toBe(401);
    expect((await fetch(pulse.url + '/health')).status).toBe(200);
  });

  it('takes the token from ?token= or Authorization: Bearer and puts its user into the session', async () => {
    const token = await generateToken('user-123', 'SP2J6ZY48GV1EZ5V2V5RB9MP66SW86PYKKNRV9EJ7', 'user', { secret: SECRET });
    const a = await NativeClient.open(pulse.wsUrl, token);
    expect(a.messages[0]).toMatchObject({ type: 'welcome', userId: 'user-123' });
    // Own user channel: allowed; another's: forbidden.
    await a.result({ op: 'subscribe', channel: 'user:SP2J6ZY48GV1EZ5V2V5RB9MP66SW86PYKKNRV9EJ7' });
    expect((await a.request({ op: 'subscribe', channel: 'user:SOMEONE_ELSE' })).code).toBe('FORBIDDEN');
    a.close();
    const r = await ingest(pulse.url, [{ channel: 'market:a', type: 't' }], '', { authorization: `Bearer ${token}` });
    expect(r.status).toBe(200);
  });

  it('closes a live connection when its token expires, unless renewed in-band', async () => {
    const soon = await generateToken('u2', null, 'user', { secret: SECRET, expiresIn: Math.floor(Date.now() / 1000) + 2 });
    const a = await NativeClient.open(pulse.wsUrl, soon);
    const b = await NativeClient.open(pulse.wsUrl, soon);
    const fresh = await generateToken('u2', null, 'user', { secret: SECRET, expiresIn: '1h' });
    expect(await b.result({ op: 'auth', token: fresh })).toMatchObject({ userId: 'u2' });
    await waitFor(() => a.closeCode !== null, 'expiry close', 6000);
    expect(a.closeCode).toBe(4009);
    expect(b.closeCode).toBeNull();
    b.close();
  });
});
