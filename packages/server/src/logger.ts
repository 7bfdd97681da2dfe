import pino, { type Logger, type StreamEntry } from 'pino';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import type { Config } from './config.js';

/** Paths whose values never reach a log line: tokens, secrets, keys. */
export const REDACT = [
  'token',
  '*.token',
  'auth.token',
  'headers.authorization',
  'req.headers.authorization',
  'req.headers.cookie',
  'req.query.token',
  'secret',
  '*.secret',
  'apiKey',
  '*.apiKey',
  'JWT_SECRET',
  '*.JWT_SECRET',
];

/** pino to stdout, and to `logs/combined.log` + `logs/error.log` under LOG_DIR when set. */
export function createLogger(config: Pick<Config, 'LOG_LEVEL' | 'LOG_DIR'>): Logger {
  const level = config.LOG_LEVEL;
  const streams: StreamEntry[] = [{ level: level === 'silent' ? 'fatal' : level, stream: pino.destination(1) }];
  if (config.LOG_DIR) {
    mkdirSync(config.LOG_DIR, { recursive: true });
    streams.push({ level: 'trace', stream: pino.destination({ dest: join(config.LOG_DIR, 'combined.log'), sync: false }) });
    streams.push({ level: 'error', stream: pino.destination({ dest: join(config.LOG_DIR, 'error.log'), sync: false }) });
  }
  return pino(
    { level, redact: { paths: REDACT, censor: '[redacted]' }, base: { service: 'pulse' } },
    pino.multistream(streams),
  );
}
