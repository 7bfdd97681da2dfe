import type { FastifyRequest } from 'fastify';
import type { Hub } from '../hub/hub.js';
import type { Authenticator } from '../auth/tokens.js';
import { tokenFromRequest } from '../auth/tokens.js';
import type { Principal } from '../auth/principal.js';

/** What HTTP routes share. */
export interface HttpContext {
  hub: Hub;
  auth: Authenticator;
  clients: () => number;
  startedAt: number;
  version: string;
}

/** The caller of an HTTP request; throws UNAUTHORIZED / TOKEN_EXPIRED. */
export function principalOf(ctx: HttpContext, req: FastifyRequest): Promise<Principal> {
  return ctx.auth.authenticate(tokenFromRequest(req.headers, req.url));
}
