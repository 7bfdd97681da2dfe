/**
 * The `pulse` command.
 *   pulse                      start the server (config from the environment and .env)
 *   pulse token <userId> [address] [role] [--org ID] [--expires 24h]   print a signed token
 *   pulse keys create|list|revoke …                                     manage API keys (auth/keys-cli.ts)
 */
import 'dotenv/config';
import { startPulse, type PulseServer } from './server.js';
import { generateToken } from './auth/tokens.js';
import { keysCommand } from './auth/keys-cli.js';
import { isPulseError } from '@pulse/protocol';

async function tokenCommand(args: string[]): Promise<void> {
  const flags: Record<string, string> = {};
  const pos: string[] = [];
  for (let i = 0; i < args.length; i++) {
    if (args[i].startsWith('--')) flags[args[i].slice(2)] = args[++i] ?? '';
    else pos.push(args[i]);
  }
  const [userId, address, role] = pos;
  if (!userId) {
    console.error('usage: pulse token <userId> [address] [user|admin|developer] [--org ID] [--expires 24h]');
    process.exit(2);
  }
  if (role && !['user', 'admin', 'developer'].includes(role)) {
    console.error(`role must be user, admin or developer (got ${role})`);
    process.exit(2);
  }
  const token = await generateToken(userId, address && address !== '-' ? address : null, (role as 'user' | 'admin' | 'developer') ?? 'user', {
    organizationId: flags.org,
    expiresIn: flags.expires ?? '24h',
    // A server that checks iss / aud needs them in its tokens.
    issuer: flags.iss ?? process.env.JWT_ISSUER?.split(',')[0]?.trim(),
    audience: flags.aud ?? process.env.JWT_AUDIENCE?.split(',')[0]?.trim(),
  });
  process.stdout.write(token + '\n');
}

async function keysMain(args: string[]): Promise<void> {
  const env = { ...process.env };
  // Same zero-config defaults as the server, so the keys land in the store it will open.
  if (!env.NODE_ENV && !env.JWT_SECRET && !env.JWT_PUBLIC_KEY && !env.JWKS_URL && env.SKIP_AUTH === undefined) {
    env.NODE_ENV = 'development';
    env.SKIP_AUTH = 'true';
  }
  process.exitCode = await keysCommand(args, env);
}

async function serve(): Promise<void> {
  const env = { ...process.env };
  // `npm start` on a fresh machine: development with auth skipped, said loudly. Any explicit
  // NODE_ENV, JWT_SECRET or SKIP_AUTH turns this off.
  const zeroConfig = !env.NODE_ENV && !env.JWT_SECRET && !env.JWT_PUBLIC_KEY && !env.JWKS_URL && env.SKIP_AUTH === undefined;
  if (zeroConfig) {
    env.NODE_ENV = 'development';
    env.SKIP_AUTH = 'true';
  }
  let pulse: PulseServer;
  try {
    pulse = await startPulse({ env });
  } catch (e) {
    console.error(`pulse: cannot start: ${(e as Error).message}`);
    process.exit(1);
  }
  if (zeroConfig) {
    pulse.hub.logger.warn('No NODE_ENV / JWT_SECRET / SKIP_AUTH set: running in development with SKIP_AUTH=true. Never expose this to a network.');
  }
  console.log(`Pulse is running at ${pulse.url} (dashboard at ${pulse.url}/)`);
  let stopping = false;
  const stop = (signal: string) => {
    if (stopping) return;
    stopping = true;
    pulse.hub.logger.info({ signal }, 'shutting down');
    const t = setTimeout(() => {
      pulse.hub.logger.error('shutdown timed out');
      process.exit(1);
    }, pulse.config.SHUTDOWN_TIMEOUT_MS);
    t.unref();
    pulse.close().then(
      () => process.exit(0),
      (e) => {
        pulse.hub.logger.error({ err: e }, 'shutdown failed');
        process.exit(1);
      },
    );
  };
  process.on('SIGTERM', () => stop('SIGTERM'));
  process.on('SIGINT', () => stop('SIGINT'));
}

const [cmd, ...rest] = process.argv.slice(2);
const run = cmd === 'token' ? tokenCommand(rest) : cmd === 'keys' ? keysMain(rest) : cmd === undefined || cmd === 'start' ? serve() : Promise.reject(new Error(`unknown command ${cmd}; try: pulse [start] | pulse token | pulse keys`));
run.catch((e: unknown) => {
  console.error(`pulse: ${isPulseError(e) ? `${e.code}: ${e.message}` : (e as Error).message}`);
  process.exit(1);
});
