/**
 * Real Redis / PostgreSQL for tests. Without REDIS_URL / DATABASE_URL a developer run skips
 * those tests and says so; CI sets PULSE_REQUIRE_SERVICES=1, and then a missing URL fails.
 */
import pg from 'pg';

export function serviceUrl(name: 'DATABASE_URL' | 'REDIS_URL'): string | null {
  const url = process.env[name];
  if (url) return url;
  if (process.env.PULSE_REQUIRE_SERVICES === '1') throw new Error(`${name} is required in CI (PULSE_REQUIRE_SERVICES=1) but is not set`);
  console.warn(`[pulse tests] ${name} is not set: skipping the tests that need it. Set ${name} to run them.`);
  return null;
}

export function uniqueSchema(prefix = 'pulse_t'): string {
  return `${prefix}_${process.pid}_${Math.random().toString(36).slice(2, 8)}`;
}

/** Drop a schema made with `uniqueSchema` and everything in it. */
export async function dropSchema(url: string, schema: string): Promise<void> {
  const c = new pg.Client({ connectionString: url });
  await c.connect();
  try {
    await c.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
  } finally {
    await c.end();
  }
}

/**
 * The environment for a child Pulse process: this process's, without the store selection that
 * CI exports for the PostgreSQL tests (a child meant to use a SQLite DATA_DIR must not silently
 * share one PostgreSQL schema across runs), plus `extra`.
 */
export function childEnv(extra: Record<string, string>): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env };
  delete env.DATABASE_URL;
  delete env.DATABASE_SCHEMA;
  return { ...env, ...extra };
}
