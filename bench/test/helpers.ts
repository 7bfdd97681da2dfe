/** What the bench's own tests share: a temp dir for the peers' logs, and polling until a condition holds. */
import { afterAll } from 'vitest';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';

/** A temp dir for the peers' logs, removed after the file's tests. */
export function tempLogDir(): string {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'pulse-bench-test-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

/** Poll `read` until `ok` holds (no fixed sleeps); fail with the last value after `limitMs`. */
export async function until<T>(read: () => Promise<T>, ok: (v: T) => boolean, what: string, limitMs = 20_000): Promise<T> {
  const deadline = Date.now() + limitMs;
  for (;;) {
    const v = await read();
    if (ok(v)) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}: ${JSON.stringify(v).slice(0, 300)}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}
