/**
 * `POST /v1/events`: one event, an array, or NDJSON; gzip allowed. The answer lists accepted,
 * duplicate and rejected items by index. `?wait=durable` answers after the group commit.
 */
import { createGunzip } from 'node:zlib';
import type { FastifyInstance } from 'fastify';
import { PulseError } from '@pulse/protocol';
import type { HttpContext } from './context.js';
import { principalOf } from './context.js';
import { BadJsonLine } from '../hub/normalize.js';
import { authorizeIngest } from '../auth/permissions.js';

export function registerIngest(app: FastifyInstance, ctx: HttpContext): void {
  const cfg = ctx.hub.config;

  app.addContentTypeParser(['application/x-ndjson', 'application/ndjson', 'application/jsonl'], { parseAs: 'string' }, (_req, body, done) => {
    const items: unknown[] = [];
    const lines = (body as string).split('\n');
    for (const line of lines) {
      const t = line.trim();
      if (!t) continue;
      try {
        items.push(JSON.parse(t));
      } catch {
        items.push(new BadJsonLine());
      }
    }
    done(null, items);
  });

  app.post('/v1/events', {
    bodyLimit: cfg.MAX_BODY_BYTES,
    preParsing: async (req, _reply, payload) => {
      const enc = req.headers['content-encoding'];
      if (enc === 'gzip') {
        delete req.headers['content-length'];
        return payload.pipe(createGunzip());
      }
      if (enc && enc !== 'identity') throw new PulseError('UNSUPPORTED_MEDIA_TYPE', `Content-Encoding ${enc} is not supported; use gzip`);
      return payload;
    },
    handler: async (req, reply) => {
      const principal = await principalOf(ctx, req);
      await ctx.hub.guard?.admitIngest(principal);
      const body = req.body;
      const raw: unknown[] = Array.isArray(body) ? body : body === undefined || body === null ? [] : [body];
      if (raw.length === 0) throw new PulseError('INVALID_REQUEST', 'No events in the body');
      if (raw.length > cfg.MAX_BATCH_EVENTS) throw new PulseError('LIMIT_EXCEEDED', `At most ${cfg.MAX_BATCH_EVENTS} events per request`);
      // Keys, roles and organisations: auth/permissions.ts. Nothing is accepted unless all may be.
      const items = authorizeIngest(cfg, principal, raw);
      const q = req.query as Record<string, string | undefined>;
      const result = await ctx.hub.ingest(items, { wait: q.wait === 'durable' ? 'durable' : 'none', source: 'http', principal });
      reply.status(result.accepted + result.duplicates === 0 ? 400 : 200);
      return result;
    },
  });
}
