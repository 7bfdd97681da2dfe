/**
 * Real Pulse servers for tests: port 0, a temp DATA_DIR (a real SQLite file), silent logs.
 * `restart()` starts a fresh server on the same DATA_DIR, as a process restart would.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startPulse, generateToken, type PulseServer } from '@pulse/server';

/** JWT secret every test server is started with (tokens from `tokenFor` verify against it). */
export const TEST_SECRET = 'pulse-test-secret-0123456789abcdef';

export interface TestServerOptions {
  /** Extra environment; wins over the defaults below. */
  env?: Record<string, string>;
  /** Reuse this DATA_DIR (not removed by `stop`); default: a fresh temp dir that `stop` removes. */
  dir?: string;
  /**
   * 'dev' (default): NODE_ENV=development with SKIP_AUTH=true, so clients may connect without a
   * token (a presented token is still verified). 'jwt': SKIP_AUTH off, every client needs a token.
   */
  auth?: 'dev' | 'jwt';
  /** Listen on this port (default 0: any free port). */
  port?: number;
}

export interface TestServer extends PulseServer {
  dir: string;
  /** The environment the server was started with. */
  env: Record<string, string>;
  /**
   * Close this server and start another on the same DATA_DIR and env: on a new free port, or
   * with `samePort` on this one, so that connected clients can reconnect to the same URL.
   */
  restart(extraEnv?: Record<string, string>, opts?: { samePort?: boolean }): Promise<TestServer>;
  /** Close the server (idempotent) and remove its DATA_DIR when the helper created it. */
  stop(): Promise<void>;
}

export function tempDir(prefix = 'pulse-test-'): string {
  return mkdtempSync(join(tmpdir(), prefix));
}

export function testEnv(dir: string, opts: TestServerOptions = {}): Record<string, string> {
  return {
    NODE_ENV: 'development',
    SKIP_AUTH: opts.auth === 'jwt' ? 'false' : 'true',
    JWT_SECRET: TEST_SECRET,
    LOG_LEVEL: 'silent',
    DATA_DIR: dir,
    ...opts.env,
  };
}

export async function startTestServer(opts: TestServerOptions = {}): Promise<TestServer> {
  const owned = opts.dir === undefined;
  const dir = opts.dir ?? tempDir();
  const env = testEnv(dir, opts);
  let pulse: PulseServer;
  try {
    pulse = await startPulse({ env, port: opts.port ?? 0, host: '127.0.0.1' });
  } catch (e) {
    if (owned) rmSync(dir, { recursive: true, force: true });
    throw e;
  }
  let stopped: Promise<void> | null = null;
  const server: TestServer = Object.assign(pulse, {
    dir,
    env,
    async restart(extraEnv: Record<string, string> = {}, ropts: { samePort?: boolean } = {}): Promise<TestServer> {
      await pulse.close();
      const next = await startTestServer({ env: { ...env, ...extraEnv }, dir, port: ropts.samePort ? pulse.port : 0 });
      // The new server owns the directory's removal if this one did.
      if (owned) {
        const stopNext = next.stop.bind(next);
        next.stop = async () => {
          await stopNext();
          rmSync(dir, { recursive: true, force: true });
        };
      }
      stopped = Promise.resolve();
      return next;
    },
    stop(): Promise<void> {
      stopped ??= (async () => {
        await pulse.close();
        if (owned) rmSync(dir, { recursive: true, force: true });
      })();
      return stopped;
    },
  });
  return server;
}

/** A token signed with TEST_SECRET, through the server's own `generateToken` (a promise, as callers await it). */
export async function tokenFor(
  userId: string,
  address: string | null = null,
  role: 'user' | 'admin' | 'developer' = 'user',
  extra: { expiresIn?: string | number; organizationId?: string; secret?: string } = {},
): Promise<string> {
  return generateToken(userId, address, role, { secret: TEST_SECRET, ...extra });
}

/**
 * Closes whatever a test opened, last first, even when the test failed. Use one per file:
 * `const cleanup = new Cleanup(); afterEach(() => cleanup.run());`
 */
export class Cleanup {
  private fns: Array<() => unknown> = [];

  add<T>(value: T, fn: (v: T) => unknown): T {
    this.fns.push(() => fn(value));
    return value;
  }

  /** Register a server to stop. */
  server<T extends { stop(): Promise<void> }>(s: T): T {
    return this.add(s, (v) => v.stop());
  }

  /** Register anything with `close()` (WebSocket, socket.io-client Socket, collectors). */
  closable<T extends { close(): unknown }>(c: T): T {
    return this.add(c, (v) => v.close());
  }

  async run(): Promise<void> {
    const fns = this.fns.reverse();
    this.fns = [];
    const errors: unknown[] = [];
    for (const fn of fns) {
      try {
        await fn();
      } catch (e) {
        errors.push(e);
      }
    }
    if (errors.length) throw errors[0];
  }
}
