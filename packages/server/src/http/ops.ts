/** Operations: `/health` (seed 000's shape, public), `/status` and `/metrics` (authenticated). */
import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { HttpContext } from './context.js';
import { principalOf } from './context.js';
import { PulseError } from '@pulse/protocol';
import { canOperate } from '../auth/permissions.js';

export function registerOps(app: FastifyInstance, ctx: HttpContext, extra: { services: () => Record<string, unknown> }): void {
  const hub = ctx.hub;
  const t = hub.telemetry;
  const requireOperator = async (req: FastifyRequest): Promise<void> => {
    if (!canOperate(await principalOf(ctx, req))) throw new PulseError('FORBIDDEN', 'Operations data needs an admin or developer token, or an API key with read on *');
  };

  app.get('/health', async () => {
    const clients = ctx.clients();
    return {
      status: 'ok',
      timestamp: new Date().toISOString(),
      uptime: t.uptimeSeconds(),
      services: { ...extra.services(), websocket: clients },
      metrics: { connectedClients: clients, activeSubscriptions: hub.subscriptionCount(), memoryUsage: process.memoryUsage() },
    };
  });

  app.get('/status', async (req) => {
    await requireOperator(req);
    const cfg = hub.config;
    const contracts: string[] = [];
    for (const name of hub.log.names()) if (name.startsWith('contract:') && contracts.length < 1000) contracts.push(name.slice(9));
    return {
      status: 'ok',
      version: ctx.version,
      node: process.version,
      environment: cfg.NODE_ENV,
      timestamp: new Date().toISOString(),
      uptime: t.uptimeSeconds(),
      startedAt: new Date(ctx.startedAt).toISOString(),
      services: { ...extra.services(), websocket: ctx.clients() },
      contracts,
      store: { kind: hub.store.kind, pending: hub.store.pending() },
      channels: hub.log.size(),
      connections: { clients: ctx.clients(), sessions: hub.sessions.size, subscriptions: hub.subscriptionCount() },
      limits: {
        maxSubscriptionsPerClient: cfg.MAX_SUBSCRIPTIONS_PER_CLIENT,
        eventHistoryLimit: cfg.EVENT_HISTORY_LIMIT,
        maxFrameBytes: cfg.MAX_FRAME_BYTES,
        maxBodyBytes: cfg.MAX_BODY_BYTES,
      },
      auth: { skipAuth: cfg.SKIP_AUTH, jwt: ctx.auth.configured, algorithms: ctx.auth.algorithms() },
      memory: process.memoryUsage(),
    };
  });

  app.get('/metrics', async (req, reply) => {
    await requireOperator(req);
    reply.header('Content-Type', t.registry.contentType);
    return t.registry.metrics();
  });
}
