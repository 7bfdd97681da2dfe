/**
 * The metric definition format (JSON or YAML file at `METRICS_CONFIG`) and its validation.
 * Every problem becomes a `PulseError('INVALID_REQUEST')` naming the offending path, so a bad
 * file stops the start with a clear message instead of silently dropping a metric.
 */
import { readFileSync } from 'node:fs';
import { z } from 'zod';
import { parse as parseYaml } from 'yaml';
import { GRANULARITIES, PulseError } from '@pulse/protocol';
import { parseDuration } from './time.js';

/** `channel`, `channelId` (part after the namespace), `type`, `userId`, `orgId`, `txId`, `id`, or `data.<a>[.<b>…]`. */
export const fieldPath = z
  .string()
  .regex(/^(channel|channelId|type|userId|orgId|txId|id|data(\.[A-Za-z0-9_\-]+)+)$/, 'not a field path (channel, channelId, type, userId, orgId, txId, id, data.<field>)');
/** One path, or several tried in order (the first present wins). */
const field = z.union([fieldPath, z.array(fieldPath).min(1).max(8)]);
const scalar = z.union([z.string(), z.number(), z.boolean()]);
const duration = z.string().refine((s) => parseDuration(s) !== undefined, 'not a duration like 30s, 5m, 1h, 1d');
const metricName = z.string().regex(/^[A-Za-z_][A-Za-z0-9_]{0,63}$/, 'metric names are identifiers');
const granularities = z.array(z.enum(GRANULARITIES)).max(4);

export const whereSchema = z
  .object({
    types: z.array(z.string().min(1)).min(1).max(100).optional(),
    /** Exact channel names or prefixes ending in `*`. */
    channels: z.array(z.string().min(1)).min(1).max(100).optional(),
    /** Field equals a value (or one of several). */
    match: z.record(fieldPath, z.union([scalar, z.array(scalar).min(1)])).optional(),
    /** Fields that must be present (not null/undefined). */
    has: z.array(fieldPath).min(1).optional(),
  })
  .strict();

const common = { where: whereSchema.optional() };
const numberOrPath = z.union([z.number(), fieldPath]);

export const metricSchema = z.discriminatedUnion('kind', [
  z.object({ kind: z.literal('count'), ...common, by: field.optional(), buckets: granularities.optional() }).strict(),
  z.object({ kind: z.literal('sum'), ...common, field, by: field.optional(), buckets: granularities.optional() }).strict(),
  z
    .object({
      kind: z.literal('distinct'),
      ...common,
      field,
      /** Sliding window: distinct values seen in (now − window, now]. */
      window: duration.optional(),
      buckets: granularities.optional(),
      exactLimit: z.number().int().min(0).max(10_000_000).optional(),
      precision: z.number().int().min(4).max(18).optional(),
    })
    .strict(),
  z.object({ kind: z.literal('topk'), ...common, field, k: z.number().int().min(1).max(1000).optional(), maxKeys: z.number().int().min(1).max(10_000_000).optional() }).strict(),
  z.object({ kind: z.literal('last'), ...common, field, by: field.optional() }).strict(),
  z
    .object({
      kind: z.literal('entity'),
      ...common,
      key: field,
      /** A field path, or `type` to use the event type as the status. */
      status: field,
      statusMap: z.record(z.string(), z.string()).optional(),
      amount: field.optional(),
      /** Time buckets of the amount of entities in this status (e.g. revenue = completed). */
      bucketStatus: z.string().optional(),
      buckets: granularities.optional(),
    })
    .strict(),
  z
    .object({
      kind: z.literal('tally'),
      by: field.optional(),
      rules: z
        .array(
          z
            .object({
              where: whereSchema.optional(),
              add: numberOrPath.optional(),
              /** Added when `add` names a field the event lacks. */
              addDefault: z.number().optional(),
              set: fieldPath.optional(),
            })
            .strict(),
        )
        .min(1)
        .max(50),
    })
    .strict(),
  z.object({ kind: z.literal('ratio'), numerator: metricName, denominator: metricName, scale: z.number().optional(), digits: z.number().int().min(0).max(10).optional() }).strict(),
  z.object({ kind: z.literal('period'), metric: metricName, period: z.enum(['today', 'week', 'month']) }).strict(),
  z.object({ kind: z.literal('peak'), metric: metricName, over: duration }).strict(),
  z.object({ kind: z.literal('score'), weights: z.record(metricName, z.number()) }).strict(),
  z.object({ kind: z.literal('tier'), metric: metricName, tiers: z.record(z.string(), z.number()), below: z.string().optional() }).strict(),
  /** One number out of another metric's value: `byStatus.completed`, `sumByStatus.completed`, `total`, or a key of a dimensioned metric. */
  z.object({ kind: z.literal('pick'), metric: metricName, path: z.string().min(1).max(200) }).strict(),
  z.object({ kind: z.literal('threshold'), metric: metricName, min: z.number() }).strict(),
  /** Global snapshot: the top scopes by another metric (optionally only those ≥ min). */
  z.object({ kind: z.literal('topScopes'), metric: metricName, k: z.number().int().min(1).max(1000).optional(), min: z.number().optional() }).strict(),
]);

export const setSchema = z
  .object({
    /** Per-scope snapshots (`metrics:<set>:<scope>`), keyed by this field. */
    scope: fieldPath.optional(),
    where: whereSchema.optional(),
    metrics: z.record(metricName, metricSchema),
  })
  .strict();

export const contentThresholdsSchema = z
  .object({
    weights: z.object({ views: z.number(), likes: z.number(), shares: z.number(), comments: z.number() }).partial().optional(),
    tiers: z.record(z.string(), z.number()).optional(),
    trending: z.number().optional(),
  })
  .strict();

export const fileSchema = z
  .object({
    timezone: z.string().optional(),
    lateness: duration.optional(),
    maxFuture: duration.optional(),
    pushMs: z.number().int().min(10).max(3_600_000).optional(),
    /** Seed 001 performance thresholds for the built-in `content` set. */
    content: contentThresholdsSchema.optional(),
    /** Turn built-in sets off (`false`); user sets are added by name. */
    builtins: z.record(z.string(), z.boolean()).optional(),
    sets: z.record(z.string().regex(/^[A-Za-z0-9_\-]{1,64}$/), setSchema).optional(),
  })
  .strict();

export type Where = z.infer<typeof whereSchema>;
export type MetricDef = z.infer<typeof metricSchema>;
export type SetDef = z.infer<typeof setSchema>;
export type MetricsFile = z.infer<typeof fileSchema>;
export type ContentThresholds = z.infer<typeof contentThresholdsSchema>;

function fail(where: string, err: z.ZodError): never {
  const msg = err.issues.map((i) => `${[where, ...i.path.map(String)].join('.')}: ${i.message}`).join('; ');
  throw new PulseError('INVALID_REQUEST', `Invalid metrics config: ${msg}`, { details: err.issues });
}

/** Validate a parsed definition object. */
export function parseMetricsFile(input: unknown, source = 'metrics'): MetricsFile {
  const r = fileSchema.safeParse(input);
  if (!r.success) fail(source, r.error);
  return r.data;
}

/** Read and validate `path` (`.json`, else YAML — YAML is a superset of JSON). */
export function loadMetricsFile(path: string): MetricsFile {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (e) {
    throw new PulseError('INVALID_REQUEST', `Invalid metrics config: cannot read ${path}: ${(e as Error).message}`);
  }
  let raw: unknown;
  try {
    raw = path.endsWith('.json') ? JSON.parse(text) : parseYaml(text);
  } catch (e) {
    throw new PulseError('INVALID_REQUEST', `Invalid metrics config: ${path} does not parse: ${(e as Error).message}`);
  }
  return parseMetricsFile(raw ?? {}, path);
}

/** Engine options; `metricsOptionsFromEnv` reads them from the environment. */
export interface MetricsOptions {
  /** Path of the JSON/YAML definition file (`METRICS_CONFIG`). */
  configPath?: string;
  /** Already-parsed definitions (tests, embedding); merged over the file. */
  definitions?: MetricsFile;
  /** IANA zone for "today"/week/month (`METRICS_TZ`, default UTC). */
  timeZone?: string;
  /** Coalescing interval of snapshot pushes (`METRICS_PUSH_MS`, default 1000). */
  pushMs?: number;
}

export function metricsOptionsFromEnv(env: Record<string, string | undefined>): MetricsOptions {
  const o: MetricsOptions = {};
  if (env.METRICS_CONFIG) o.configPath = env.METRICS_CONFIG;
  if (env.METRICS_TZ) o.timeZone = env.METRICS_TZ;
  if (env.METRICS_PUSH_MS !== undefined && env.METRICS_PUSH_MS !== '') {
    const n = Number(env.METRICS_PUSH_MS);
    if (!Number.isInteger(n) || n < 10 || n > 3_600_000) {
      throw new PulseError('INVALID_REQUEST', 'Invalid configuration: METRICS_PUSH_MS must be an integer 10..3600000');
    }
    o.pushMs = n;
  }
  return o;
}
