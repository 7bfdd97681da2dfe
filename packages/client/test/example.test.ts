/** The documented command-line example runs and prints ingested events. */
import { afterEach, describe, expect, it } from 'vitest';
import { spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { devServer, tempDir, until } from './helpers.js';

const cleanups: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  while (cleanups.length) await cleanups.pop()!();
});

describe('examples/tail.ts', () => {
  it('prints one JSON line per event of the channels it tails', async () => {
    const tmp = tempDir();
    cleanups.push(() => tmp.remove());
    const server = await devServer(tmp.dir);
    cleanups.push(() => server.close());
    const script = fileURLToPath(new URL('../examples/tail.ts', import.meta.url));
    const child = spawn(process.execPath, ['--import', 'tsx', script, server.url, 'market:*'], { stdio: ['ignore', 'pipe', 'pipe'] });
    cleanups.push(() => {
      child.kill('SIGINT');
    });
    const out: string[] = [];
    const err: string[] = [];
    createInterface({ input: child.stdout }).on('line', (l) => out.push(l));
    createInterface({ input: child.stderr }).on('line', (l) => err.push(l));
    await until(() => err.some((l) => l.includes('subscribed market:*')), 'subscription', 20_000);
    await server.hub.ingest([
      { channel: 'market:x', type: 'trade', data: { price: 1 } },
      { channel: 'market:y', type: 'trade', data: { price: 2 } },
    ]);
    await until(() => out.length === 2, 'two lines');
    expect(out.map((l) => JSON.parse(l) as unknown)).toEqual([
      { channel: 'market:x', offset: 1, type: 'trade', data: { price: 1 } },
      { channel: 'market:y', offset: 1, type: 'trade', data: { price: 2 } },
    ]);
    expect(err.some((l) => l.includes('connecting -> connected'))).toBe(true);
  });
});
