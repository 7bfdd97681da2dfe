import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startPulse, type PulseServer } from '@pulse/server';

export function tempDir(): { dir: string; remove(): void } {
  const dir = mkdtempSync(join(tmpdir(), 'pulse-client-'));
  return { dir, remove: () => rmSync(dir, { recursive: true, force: true }) };
}

export function devServer(dataDir: string, extra: Record<string, string> = {}): Promise<PulseServer> {
  return startPulse({ env: { NODE_ENV: 'development', SKIP_AUTH: 'true', DATA_DIR: dataDir, LOG_LEVEL: 'silent', ...extra }, port: 0 });
}

/** Polls `cond` until it holds (no bare sleeps: the wait ends as soon as the condition does). */
export async function until(cond: () => boolean, what: string, timeoutMs = 15_000): Promise<void> {
  const start = Date.now();
  while (!cond()) {
    if (Date.now() - start > timeoutMs) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

export const seq = (from: number, to: number) => Array.from({ length: to - from + 1 }, (_, i) => from + i);
