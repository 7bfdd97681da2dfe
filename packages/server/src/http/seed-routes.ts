/**
 * Seed 001's HTTP trigger: `POST /api/analytics/trigger-update` increments a content field and
 * broadcasts `analytics_update` with the new value; `GET` reports the broadcaster's status.
 */
import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import { PulseError } from '@pulse/protocol';
import type { HttpContext } from './context.js';
import { principalOf } from './context.js';
import { CONTENT_FIELDS } from '../gateways/profiles/content.js';
import { parseQuery } from './channels.js';
import { canIngest, ingestOrg } from '../auth/permissions.js';

const trigger = z.object({
  contentId: z.string().min(1).max(128).regex(/^[A-Za-z0-9_\-.:@~+]+$/),
  field: z.enum(CONTENT_FIELDS),
  increment: z.number().finite().min(-1e9).max(1e9).default(1),
  organizationId: z.string().min(1).max(128).optional(),
  clientId: z.string().min(1).max(128).optional(),
});

/** Open seed-001 connections (on `/analytics` and on ANALYTICS_WS_PORT), counted when asked. */
function contentClients(ctx: HttpContext): number {
  let n = 0;
  for (const s of ctx.hub.sessions) if (s.dialectName === 'content') n++;
  return n;
}

export function registerSeedRoutes(
  app: FastifyInstance,
  ctx: HttpContext,
  status: { simulationRunning: () => boolean },
): void {
  app.post('/api/analytics/trigger-update', async (req) => {
    const p = await principalOf(ctx, req);
    const b = parseQuery(trigger, req.body);
    if (!canIngest(ctx.hub.config, p, `content:${b.contentId}`)) throw new PulseError('FORBIDDEN', `Not allowed to write content:${b.contentId}`);
    await ctx.hub.guard?.admitIngest(p);
    const org = ingestOrg(p, b.organizationId);
    const data: Record<string, unknown> = { field: b.field, increment: b.increment };
    if (b.clientId) data.clientId = b.clientId;
    const item: Record<string, unknown> = { channel: `content:${b.contentId}`, type: 'analytics_update', data };
    if (org) item.orgId = org;
    if (p.authenticated && p.userId) item.userId = p.userId;
    const r = await ctx.hub.ingest([item], { source: 'trigger', principal: p, wait: 'durable' });
    if (r.errors.length) throw new PulseError('INVALID_EVENT', r.errors[0].message);
    const ev = r.events[0];
    const stored = await ctx.hub.history(ev.channel, { limit: 1, since: { epoch: ev.epoch, offset: ev.offset - 1 } });
    const value = stored.events[0]?.data.value;
    return { success: true, contentId: b.contentId, field: b.field, value, timestamp: Date.now(), offset: ev.offset };
  });

  app.get('/api/analytics/trigger-update', async (req) => {
    await principalOf(ctx, req);
    return { status: { simulationRunning: status.simulationRunning(), connectedClients: contentClients(ctx), timestamp: Date.now() } };
  });
}
