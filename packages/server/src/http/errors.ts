/**
 * One error handler for every route: PulseErrors keep their code and status; Fastify's own
 * errors (bad JSON, body too large, wrong content type) are mapped to our codes.
 */
import type { FastifyInstance, FastifyError } from 'fastify';
import { PulseError, isPulseError, type ErrorCode } from '@pulse/protocol';
import type { Telemetry } from '../telemetry.js';

const FASTIFY_CODES: Record<string, ErrorCode> = {
  FST_ERR_CTP_INVALID_JSON_BODY: 'BAD_JSON',
  FST_ERR_CTP_EMPTY_JSON_BODY: 'BAD_JSON',
  FST_ERR_CTP_BODY_TOO_LARGE: 'PAYLOAD_TOO_LARGE',
  FST_ERR_CTP_INVALID_MEDIA_TYPE: 'UNSUPPORTED_MEDIA_TYPE',
  FST_ERR_CTP_INVALID_CONTENT_LENGTH: 'INVALID_REQUEST',
  FST_ERR_VALIDATION: 'INVALID_REQUEST',
};

export function toPulseError(e: unknown): PulseError {
  if (isPulseError(e)) return e;
  const fe = e as Partial<FastifyError> & { type?: string };
  if (fe && typeof fe.code === 'string' && FASTIFY_CODES[fe.code]) return new PulseError(FASTIFY_CODES[fe.code], fe.message);
  if (fe && fe.type === 'entity.too.large') return new PulseError('PAYLOAD_TOO_LARGE');
  if (fe && typeof fe.statusCode === 'number' && fe.statusCode === 400) return new PulseError('INVALID_REQUEST', fe.message);
  if (fe && (fe as { code?: string }).code === 'Z_DATA_ERROR') return new PulseError('INVALID_REQUEST', 'Body is not valid gzip');
  return new PulseError('INTERNAL');
}

export function installErrorHandler(app: FastifyInstance, telemetry: Telemetry): void {
  app.setErrorHandler((err, req, reply) => {
    const pe = toPulseError(err);
    if (pe.code === 'INTERNAL') req.log.error({ err }, 'request failed');
    telemetry.errors.inc({ code: pe.code });
    if (pe.retryAfter !== undefined) reply.header('Retry-After', String(Math.ceil(pe.retryAfter / 1000)));
    reply.status(pe.status).send({ error: pe.toJSON(), code: pe.code, message: pe.message });
  });
  app.setNotFoundHandler((req, reply) => {
    reply.status(404).send({ error: { code: 'NOT_FOUND', message: `No route ${req.method} ${req.url.split('?')[0]}` }, code: 'NOT_FOUND', message: 'Not found' });
  });
}
