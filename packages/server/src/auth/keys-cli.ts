/**
 * `pulse keys create|list|revoke`: manage API keys in the store the server uses (same
 * DATA_DIR / DATABASE_URL). A running server sees a new key at once and a revocation within
 * API_KEY_CACHE_MS.
 */
import { loadConfig } from '../config.js';
import { openStore } from '../server.js';
import { ApiKeys, type ApiKeyInfo } from './keys.js';

const USAGE = `usage:
  pulse keys create <name> --ops ingest[,publish,subscribe,read] --channels '<pattern>[,<pattern>…]' [--org ID]
  pulse keys list [--json]
  pulse keys revoke <id>
patterns: '*' (all), 'analytics:*', 'contract:SP123*', 'market' (namespace), 'user:SP123' (exact)`;

function parse(args: string[]): { pos: string[]; flags: Record<string, string> } {
  const flags: Record<string, string> = {};
  const pos: string[] = [];
  for (let i = 0; i < args.length; i++) {
    if (args[i].startsWith('--')) {
      const [k, v] = args[i].slice(2).split('=', 2);
      flags[k] = v ?? (args[i + 1] && !args[i + 1].startsWith('--') ? args[++i] : 'true');
    } else pos.push(args[i]);
  }
  return { pos, flags };
}

function row(k: ApiKeyInfo): string {
  const used = k.lastUsedAt ? new Date(k.lastUsedAt).toISOString() : 'never';
  const state = k.revokedAt ? `revoked ${new Date(k.revokedAt).toISOString()}` : 'active';
  return `${k.id}  ${k.name}  ops=${k.operations.join(',')}  channels=${k.channels.join(',')}${k.orgId ? `  org=${k.orgId}` : ''}  last-used=${used}  ${state}`;
}

/** Runs one `pulse keys` command; returns the process exit code. Output goes to `out`, errors to `err`. */
export async function keysCommand(
  args: string[],
  env: Record<string, string | undefined>,
  out: (s: string) => void = (s) => process.stdout.write(s + '\n'),
  err: (s: string) => void = (s) => process.stderr.write(s + '\n'),
): Promise<number> {
  const [sub, ...rest] = args;
  const { pos, flags } = parse(rest);
  if (!sub || !['create', 'list', 'revoke'].includes(sub)) {
    err(USAGE);
    return 2;
  }
  if (sub === 'create' && (!pos[0] || !flags.ops || !flags.channels)) {
    err(USAGE);
    return 2;
  }
  if (sub === 'revoke' && !pos[0]) {
    err(USAGE);
    return 2;
  }
  const config = loadConfig(env);
  const store = await openStore(config);
  const keys = new ApiKeys(store);
  try {
    if (sub === 'create') {
      const { key, record } = await keys.create({
        name: pos[0],
        operations: flags.ops.split(',').map((s) => s.trim()).filter(Boolean),
        channels: flags.channels.split(',').map((s) => s.trim()).filter(Boolean),
        orgId: flags.org ?? null,
      });
      out(key);
      err(`created ${row(record)}\nThe key is shown once; only its hash is stored.`);
    } else if (sub === 'list') {
      const list = await keys.list();
      if (flags.json) out(JSON.stringify(list));
      else for (const k of list) out(row(k));
    } else {
      out(row(await keys.revoke(pos[0])));
    }
    return 0;
  } finally {
    await store.close();
  }
}
