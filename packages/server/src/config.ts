/**
 * Configuration from the environment (and a `.env` file), validated at startup. A bad value
 * stops the start with a message naming the variable; nothing falls back silently.
 */
import { z } from 'zod';
import { readFileSync, existsSync } from 'node:fs';
import { parse as parseYaml } from 'yaml';
import { PulseError } from '@pulse/protocol';
import { SUPPORTED_ALGS } from './auth/tokens.js';

const bool = z
  .union([z.boolean(), z.enum(['true', 'false', '1', '0', 'yes', 'no', ''])], { error: 'must be true, false, 1, 0, yes or no' })
  .transform((v) => v === true || v === 'true' || v === '1' || v === 'yes');
const int = (min: number, max: number) => z.coerce.number().int().min(min).max(max);

export const namespacePolicySchema = z.object({
  /** Who may subscribe: anyone connected, authenticated users, the owner (user:<address>), admins. */
  subscribe: z.enum(['public', 'authenticated', 'owner', 'admin']).default('authenticated'),
  /** Who may publish from a socket. Server-side ingest is governed by API keys / auth instead. */
  publish: z.enum(['none', 'authenticated', 'owner', 'admin']).default('none'),
  /** Events kept in memory per channel for history and fast recovery. */
  history: z.number().int().min(0).max(100_000).optional(),
  /** How long events are kept (store and memory), in seconds; 0 = forever. */
  ttlSeconds: z.number().int().min(0).optional(),
  /** Stored durably (and so recoverable across restarts). Metric snapshots are not. */
  durable: z.boolean().default(true),
  /** Clients may resume from a position. */
  recoverable: z.boolean().default(true),
});
export type NamespacePolicy = z.infer<typeof namespacePolicySchema> & { history: number; ttlSeconds: number };

const envSchema = z.object({
  NODE_ENV: z.enum(['development', 'production', 'test']).default('development'),
  PORT: int(0, 65535).default(3002),
  HOST: z.string().min(1).default('0.0.0.0'),
  JWT_SECRET: z.string().min(1).optional(),
  /** PEM text (\n escapes allowed) or a path to a PEM file: an RSA, EC or Ed25519 public key. */
  JWT_PUBLIC_KEY: z.string().min(1).optional(),
  /** JWKS endpoint of the identity provider (cached; an unknown `kid` triggers a refetch). */
  JWKS_URL: z.string().url().optional(),
  /** Required `iss` (comma-separated list: any of them). */
  JWT_ISSUER: z.string().min(1).optional(),
  /** Required `aud` (comma-separated list: any of them). */
  JWT_AUDIENCE: z.string().min(1).optional(),
  /** Accepted `alg` values (comma-separated); default: HS256 for JWT_SECRET, the key's own for JWT_PUBLIC_KEY, RS256,ES256 for JWKS_URL. */
  JWT_ALGORITHMS: z
    .string()
    // The algorithms auth/tokens.ts implements; `none` is not one.
    .refine((v) => v.split(',').every((a) => SUPPORTED_ALGS.includes(a.trim())), `must list algorithms among ${SUPPORTED_ALGS.join(',')} (never none)`)
    .optional(),
  JWT_CLOCK_TOLERANCE_S: int(0, 300).default(0),
  JWKS_CACHE_MS: int(1000, 86_400_000).default(600_000),
  JWKS_COOLDOWN_MS: int(0, 3_600_000).default(30_000),
  /** How soon a running server notices a key revoked by `pulse keys revoke` in another process. */
  API_KEY_CACHE_MS: int(0, 3_600_000).default(5000),
  /** Plain user tokens may POST /v1/events (into channels they may read). Default: on outside production. */
  INGEST_USER_TOKENS: bool.optional(),
  SKIP_AUTH: bool.default(false),
  ALLOWED_ORIGINS: z.string().default('*'),
  REDIS_URL: z.string().url().optional(),
  REDIS_TTL: int(1, 365 * 86400).default(3600),
  DATABASE_URL: z.string().optional(),
  /** PostgreSQL schema holding Pulse's tables (lets several deployments or tests share a database). */
  DATABASE_SCHEMA: z.string().regex(/^[a-z_][a-z0-9_]{0,62}$/, 'must be a lowercase SQL identifier').default('pulse'),
  EVENT_HISTORY_LIMIT: int(0, 100_000).default(100),
  MAX_SUBSCRIPTIONS_PER_CLIENT: int(1, 100_000).default(10),
  /** New subscriptions per user (or API key) per minute, over all its connections; 0 = off. Seed 000: 10. */
  SUBSCRIBE_RATE_PER_MINUTE: int(0, 1_000_000).default(10),
  /** Client messages per connection per second (sustained), and the burst allowed; 0 = off. */
  MESSAGES_PER_SECOND: int(0, 1_000_000).default(100),
  MESSAGE_BURST: int(1, 1_000_000).default(500),
  /** Open connections from one IP address; 0 = unlimited. Default: 1000 in production, else unlimited. */
  MAX_CONNECTIONS_PER_IP: int(0, 10_000_000).optional(),
  /** HTTP ingest requests per API key or user per second, and the burst; 0 = off. */
  INGEST_RATE_PER_SECOND: int(0, 10_000_000).default(1000),
  INGEST_BURST: int(1, 10_000_000).default(2000),
  /** Deepest nesting of an event's `data`. */
  MAX_JSON_DEPTH: int(1, 64).default(32),
  LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
  LOG_DIR: z.string().optional(),
  STACKS_WS_URL: z.string().optional(),
  ANALYTICS_WS_PORT: int(0, 65535).optional(),
  DATA_DIR: z.string().default('./data'),
  METRICS_PREFIX: z.string().regex(/^[a-zA-Z_][a-zA-Z0-9_]*$/, 'must be a Prometheus name prefix').default('pulse'),
  SIMULATE: bool.default(false),
  SIMULATE_RATE: z.coerce.number().min(0).max(100_000).default(20),
  PULSE_CONFIG: z.string().optional(),
  /** Bytes a connection may have queued before it is dropped as a slow consumer. */
  MAX_BUFFERED_BYTES: int(1024, 1 << 30).default(8 * 1024 * 1024),
  MAX_FRAME_BYTES: int(256, 64 * 1024 * 1024).default(64 * 1024),
  MAX_BODY_BYTES: int(1024, 1 << 30).default(5 * 1024 * 1024),
  MAX_BATCH_EVENTS: int(1, 1_000_000).default(10_000),
  MAX_EVENT_BYTES: int(64, 16 * 1024 * 1024).default(32 * 1024),
  /** Events a recovering client may be sent; past it the answer is `recovered: false`. */
  RECOVERY_MAX_EVENTS: int(1, 10_000_000).default(10_000),
  DEDUPE_CACHE_SIZE: int(0, 50_000_000).default(100_000),
  /** Largest clock skew tolerated before a future timestamp is clamped to now, ms. */
  MAX_FUTURE_SKEW_MS: int(0, 86_400_000).default(60_000),
  HEARTBEAT_MS: int(1000, 600_000).default(25_000),
  /** A WebSocket with no subscription that has sent nothing for this long is closed (checked each heartbeat); 0 = never. */
  IDLE_TIMEOUT_MS: int(0, 86_400_000).default(300_000),
  REALTIME_METRICS_INTERVAL_MS: int(100, 3_600_000).default(5000),
  STORE_SYNC: z.enum(['normal', 'full']).default('normal'),
  SHUTDOWN_TIMEOUT_MS: int(0, 600_000).default(10_000),
});

export type Env = z.infer<typeof envSchema>;
export interface Config extends Omit<Env, 'MAX_CONNECTIONS_PER_IP' | 'INGEST_USER_TOKENS'> {
  MAX_CONNECTIONS_PER_IP: number;
  INGEST_USER_TOKENS: boolean;
  namespaces: Record<string, NamespacePolicy>;
  defaultPolicy: NamespacePolicy;
}

/** Built-in namespaces: the seeds' channels. A config file may add or override them. */
const BUILTIN_NAMESPACES: Record<string, Partial<z.input<typeof namespacePolicySchema>>> = {
  contract: { subscribe: 'authenticated' },
  content: { subscribe: 'authenticated' },
  analytics: { subscribe: 'authenticated' },
  market: { subscribe: 'authenticated' },
  creator: { subscribe: 'authenticated' },
  user: { subscribe: 'owner' },
  global: { subscribe: 'authenticated' },
  metrics: { subscribe: 'authenticated', durable: false, history: 1 },
  bench: { subscribe: 'public' },
};

// Strict: a misspelt key (`subscibe: admin`, `defaultpolicy:`) would otherwise be dropped in
// silence, leaving the namespace open to every authenticated user.
const fileSchema = z
  .object({
    namespaces: z.record(z.string().regex(/^[A-Za-z0-9_\-]+$/), namespacePolicySchema.partial().strict()).optional(),
    defaultPolicy: namespacePolicySchema.partial().strict().optional(),
  })
  .strict();

function fail(msg: string): never {
  throw new PulseError('INVALID_REQUEST', `Invalid configuration: ${msg}`);
}

function loadFile(path: string): z.infer<typeof fileSchema> {
  if (!existsSync(path)) fail(`PULSE_CONFIG file not found: ${path}`);
  const text = readFileSync(path, 'utf8');
  let raw: unknown;
  try {
    raw = path.endsWith('.json') ? JSON.parse(text) : parseYaml(text);
  } catch (e) {
    fail(`PULSE_CONFIG ${path} is not valid ${path.endsWith('.json') ? 'JSON' : 'YAML'}: ${(e as Error).message}`);
  }
  const parsed = fileSchema.safeParse(raw);
  if (!parsed.success) fail(`PULSE_CONFIG ${path}: ${parsed.error.issues.map((i) => `${i.path.join('.') || 'top level'}: ${i.message}`).join('; ')}`);
  return parsed.data;
}

/**
 * Each ALLOWED_ORIGINS entry must be an origin exactly as browsers send it (`https://app.example`,
 * `http://localhost:5173`), or `*` alone. Anything else would silently never match: a trailing
 * slash or path, a default port, upper case, a scheme-less host, a wildcard inside an entry.
 */
function checkOrigins(value: string): void {
  for (const raw of value.split(',')) {
    const o = raw.trim();
    if (!o || o === '*') continue;
    if (o.includes('*')) fail(`ALLOWED_ORIGINS: ${JSON.stringify(o)} has a wildcard inside it; list each origin (only * alone means every origin)`);
    let u: URL | null = null;
    try {
      u = new URL(o);
    } catch {
      u = null;
    }
    const special = u && (u.protocol === 'http:' || u.protocol === 'https:');
    const exact = u && (special ? u.origin === o : /^[a-z][a-z0-9+.-]*:\/\/[^/?#@]+$/.test(o));
    if (!exact) {
      const hint = special && u ? ` (did you mean ${JSON.stringify(u.origin)}?)` : '';
      fail(`ALLOWED_ORIGINS: ${JSON.stringify(o)} is not an origin; write scheme://host[:port] as browsers send it, without a path or trailing slash${hint}`);
    }
  }
}

/** Parse and check the environment. Throws a PulseError whose message names every bad variable. */
export function loadConfig(env: Record<string, string | undefined>): Config {
  const cleaned: Record<string, string> = {};
  for (const [k, v] of Object.entries(env)) if (v !== undefined && v !== '') cleaned[k] = v;
  const parsed = envSchema.safeParse(cleaned);
  if (!parsed.success) {
    fail(parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; '));
  }
  const e = parsed.data;
  checkOrigins(e.ALLOWED_ORIGINS);
  if (e.SKIP_AUTH && e.NODE_ENV !== 'development') fail('SKIP_AUTH=true is only allowed with NODE_ENV=development');
  const hasKey = Boolean(e.JWT_SECRET || e.JWT_PUBLIC_KEY || e.JWKS_URL);
  const prod = e.NODE_ENV === 'production';
  if (prod) {
    // The production posture: refuse to start rather than run open.
    if (!hasKey) fail('NODE_ENV=production requires a verification key: JWT_SECRET, JWT_PUBLIC_KEY or JWKS_URL');
    if (e.ALLOWED_ORIGINS.split(',').some((o) => o.trim() === '*')) fail('NODE_ENV=production forbids ALLOWED_ORIGINS=*; list your origins');
    if (e.JWT_SECRET && e.JWT_SECRET.length < 32) fail('NODE_ENV=production requires JWT_SECRET of at least 32 characters');
    if (e.JWKS_URL && !e.JWKS_URL.startsWith('https://')) fail('NODE_ENV=production requires an https:// JWKS_URL');
  }
  if (!e.SKIP_AUTH && !hasKey) fail('JWT_SECRET, JWT_PUBLIC_KEY or JWKS_URL is required unless SKIP_AUTH=true (development only)');
  const file = e.PULSE_CONFIG ? loadFile(e.PULSE_CONFIG) : {};
  const base = { history: e.EVENT_HISTORY_LIMIT, ttlSeconds: 0, ...file.defaultPolicy };
  const defaultPolicy = namespacePolicySchema.parse(base) as NamespacePolicy;
  const namespaces: Record<string, NamespacePolicy> = {};
  for (const [ns, p] of Object.entries({ ...BUILTIN_NAMESPACES, ...file.namespaces })) {
    namespaces[ns] = namespacePolicySchema.parse({ ...base, ...BUILTIN_NAMESPACES[ns], ...p }) as NamespacePolicy;
  }
  return {
    ...e,
    MAX_CONNECTIONS_PER_IP: e.MAX_CONNECTIONS_PER_IP ?? (prod ? 1000 : 0),
    INGEST_USER_TOKENS: e.INGEST_USER_TOKENS ?? !prod,
    namespaces,
    defaultPolicy,
  };
}
