/**
 * Starts a real Pulse server for the jsdom render tests, which cannot import the server in their
 * own realm (jsdom replaces `URL`, which the server's module setup needs). Prints one JSON line
 * `{url, wsUrl}` and runs until stdin closes.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startPulse } from '@pulse/server';

const dir = mkdtempSync(join(tmpdir(), 'pulse-react-'));
const env: Record<string, string> = { NODE_ENV: 'development', SKIP_AUTH: 'true', DATA_DIR: dir, LOG_LEVEL: 'silent' };
const extra = process.argv[2];
if (extra) Object.assign(env, JSON.parse(extra) as Record<string, string>);
const server = await startPulse({ env, port: 0 });
process.stdout.write(JSON.stringify({ url: server.url, wsUrl: server.wsUrl }) + '\n');
const stop = async () => {
  await server.close();
  rmSync(dir, { recursive: true, force: true });
  process.exit(0);
};
process.stdin.on('end', () => void stop());
process.stdin.on('close', () => void stop());
process.stdin.resume();
process.on('SIGTERM', () => void stop());
