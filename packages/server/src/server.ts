/**
 * Wires the parts into one server on one port: HTTP (Fastify), native and seed WebSockets,
 * Socket.IO, SSE. `startPulse` is what `main.ts`, the tests and the benchmark use.
 */
import { createServer, type Server as HttpServer } from 'node:http';
import { join, resolve } from 'node:path';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import Fastify, { LogController, type FastifyInstance } from 'fastify';
import type { Logger } from 'pino';
import type { Server as IOServer } from 'socket.io';
import { loadConfig, type Config } from './config.js';
import { createLogger } from './logger.js';
import { Telemetry } from './telemetry.js';
import { openSqliteStore } from './store/sqlite.js';
import { openPostgresStore } from './store/postgres.js';
import { Hub } from './hub/hub.js';
import { Authenticator, authOptionsFromConfig } from './auth/tokens.js';
import { ApiKeys } from './auth/keys.js';
import { guardMetricsRoutes } from './auth/http-guard.js';
import { Guard } from './limits/guard.js';
import { UpgradeRouter } from './gateways/upgrade.js';
import { attachSocketIo } from './gateways/socketio.js';
import { MetricsPusher } from './gateways/profiles/knowton.js';
import { ContentCounters } from './gateways/profiles/content.js';
import { installErrorHandler } from './http/errors.js';
import { registerIngest } from './http/ingest.js';
import { registerChannels } from './http/channels.js';
import { registerSse } from './http/sse.js';
import { registerOps } from './http/ops.js';
import { registerSeedRoutes } from './http/seed-routes.js';
import { registerDashboard } from './http/dashboard.js';
import { createMetrics, metricsOptionsFromEnv, registerMetricsRoutes } from './metrics/index.js';
import { attachSimulator } from './sources/simulate.js';
import { isOriginAllowed } from './http/origins.js';
import { watchRevocations } from './auth/revocation.js';
import type { HttpContext } from './http/context.js';
import type { Store } from './ports.js';

export interface StartOptions {
  /** Environment to read config from (defaults to process.env). */
  env?: Record<string, string | undefined>;
  /** Overrides PORT (0 = any free port). */
  port?: number;
  host?: string;
  logger?: Logger;
}

export interface PulseServer {
  port: number;
  url: string;
  wsUrl: string;
  config: Config;
  hub: Hub;
  app: FastifyInstance;
  io: IOServer;
  /** Extra 001 listener's port when ANALYTICS_WS_PORT is set. */
  analyticsPort: number | null;
  /** Stop accepting, commit and deliver what is pending, close sockets with 1012, close the store. */
  close(): Promise<void>;
}

const here = fileURLToPath(new URL('.', import.meta.url));
const version = (JSON.parse(readFileSync(join(here, '..', 'package.json'), 'utf8')) as { version: string }).version;

/** The store named by config. An unknown or unreachable driver stops the start; nothing falls back. */
export async function openStore(config: Config): Promise<Store> {
  const url = config.DATABASE_URL;
  if (url) {
    if (!/^postgres(ql)?:\/\//.test(url)) throw new Error(`DATABASE_URL must be a postgres:// or postgresql:// URL (got scheme ${url.split(':')[0]})`);
    return openPostgresStore(url, { schema: config.DATABASE_SCHEMA });
  }
  return openSqliteStore(join(resolve(config.DATA_DIR), 'pulse.db'), { sync: config.STORE_SYNC });
}

export async function startPulse(opts: StartOptions = {}): Promise<PulseServer> {
  const config = loadConfig(opts.env ?? process.env);
  const logger = opts.logger ?? createLogger(config);
  const store = await openStore(config);
  let router: UpgradeRouter | null = null;
  let io: IOServer | null = null;
  const clients = () => (router?.clientCount() ?? 0) + (io?.engine.clientsCount ?? 0);
  const telemetry: Telemetry = new Telemetry(config.METRICS_PREFIX, { clients, subscriptions: (): number => hub.subscriptionCount() });
  const hub: Hub = new Hub(config, store, logger, telemetry);
  await hub.init();
  const keys = new ApiKeys(store, { cacheMs: config.API_KEY_CACHE_MS });
  const auth = new Authenticator(authOptionsFromConfig(config, keys));
  hub.guard = new Guard(config, telemetry.limited);
  const counters = new ContentCounters(hub);
  hub.setEnricher('content', counters);

  // Live metrics: rebuilt from the store before any event is delivered, then fed every committed
  // batch; snapshots go out on `metrics:<set>` through the hub like any event.
  const metrics = createMetrics({
    store,
    config: metricsOptionsFromEnv(opts.env ?? process.env),
    publish: (channel, type, data) => void hub.publish({ channel, type, data: data as Record<string, unknown> }),
  });
  await metrics.rebuild();
  hub.addSink(metrics);
  const pusher = new MetricsPusher(hub, () => metrics.platformSnapshot());
  // A revoked key ends the connections it opened, hub sessions and metrics push clients alike
  // (checked as often as the key cache refreshes).
  const connections = {
    *[Symbol.iterator]() {
      yield* hub.sessions;
      yield* pusher.revocables();
    },
  };
  const stopRevocations = watchRevocations(keys, connections, Math.max(1000, config.API_KEY_CACHE_MS));

  let server!: HttpServer;
  const app = Fastify({
    loggerInstance: logger.child({ part: 'http' }),
    // Per-request log lines would cost more than the requests at ingest rates.
    logController: new LogController({ disableRequestLogging: true }),
    bodyLimit: config.MAX_BODY_BYTES,
    onProtoPoisoning: 'remove',
    onConstructorPoisoning: 'remove',
    serverFactory: (handler) => {
      server = createServer(handler);
      return server;
    },
  }) as unknown as FastifyInstance;
  installErrorHandler(app, telemetry);
  app.addHook('onRequest', async (req, reply) => {
    const origin = req.headers.origin;
    if (origin && isOriginAllowed(config.ALLOWED_ORIGINS, origin, req.headers.host)) {
      reply.header('Access-Control-Allow-Origin', origin);
      reply.header('Vary', 'Origin');
      reply.header('Access-Control-Allow-Headers', 'Authorization, Content-Type, Content-Encoding, Last-Event-ID');
      reply.header('Access-Control-Allow-Methods', 'GET, POST, OPTIONS');
    }
    if (req.method === 'OPTIONS') return reply.status(204).send();
  });

  const ctx: HttpContext = { hub, auth, clients, startedAt: Date.now(), version };
  registerIngest(app, ctx);
  registerChannels(app, ctx);
  registerSse(app, ctx);
  registerOps(app, ctx, { services: () => ({ redis: false, stacksWebSocket: false, store: store.kind }) });
  registerSeedRoutes(app, ctx, { simulationRunning: () => config.SIMULATE });
  registerMetricsRoutes(app, metrics);
  guardMetricsRoutes(app, ctx);
  await registerDashboard(app);
  attachSimulator(app, hub, config, logger.child({ part: 'simulate' }));

  await app.ready();
  router = new UpgradeRouter(hub, auth, pusher);
  router.listen(server);
  io = attachSocketIo(hub, auth, server);

  const host = opts.host ?? config.HOST;
  await new Promise<void>((res, rej) => {
    server.once('error', rej);
    server.listen(opts.port ?? config.PORT, host, () => res());
  });
  const addr = server.address();
  const port = typeof addr === 'object' && addr ? addr.port : 0;
  const shown = host === '0.0.0.0' || host === '::' ? '127.0.0.1' : host;

  let analytics: HttpServer | null = null;
  if (config.ANALYTICS_WS_PORT !== undefined) {
    analytics = createServer((_req, res) => {
      res.writeHead(200, { 'Content-Type': 'application/json' });
      res.end(JSON.stringify({ status: 'ok', service: 'pulse-analytics-ws' }));
    });
    router.listen(analytics, ['content']);
    await new Promise<void>((res, rej) => {
      analytics!.once('error', rej);
      analytics!.listen(config.ANALYTICS_WS_PORT, host, () => res());
    });
  }
  const aAddr = analytics?.address();

  let closing: Promise<void> | null = null;
  const pulse: PulseServer = {
    port,
    url: `http://${shown}:${port}`,
    wsUrl: `ws://${shown}:${port}`,
    config,
    hub,
    app,
    io,
    analyticsPort: typeof aAddr === 'object' && aAddr ? aAddr.port : null,
    close() {
      closing ??= (async () => {
        server.close();
        analytics?.close();
        await hub.drain();
        // After the last events reached it, before the store closes (it may write a checkpoint).
        await metrics.close();
        pusher.close();
        router!.closeAll();
        // Closing engine connections (not socket.disconnect()) makes Socket.IO clients reconnect.
        for (const sock of io!.sockets.sockets.values()) sock.conn.close();
        io!.engine.close();
        await app.close();
        stopRevocations();
        await keys.close().catch(() => undefined);
        await hub.guard?.close();
        await store.close();
        server.closeAllConnections();
      })();
      return closing;
    },
  };
  logger.info({ port, store: store.kind, skipAuth: config.SKIP_AUTH, env: config.NODE_ENV }, 'Pulse listening');
  return pulse;
}
