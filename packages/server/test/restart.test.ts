import { describe, it, expect } from 'vitest';
import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { start, cleanup, tempDir, NativeClient, waitFor, ingest } from './core-helpers.js';
import { childEnv } from './services.js';

const main = fileURLToPath(new URL('../src/main.ts', import.meta.url));

/** Run Pulse as a real process (so it can be killed with SIGKILL) and wait for its URL. */
async function spawnPulse(dir: string): Promise<{ child: ChildProcess; url: string }> {
  const child = spawn(process.execPath, ['--import', 'tsx', main], {
    env: childEnv({ NODE_ENV: 'development', SKIP_AUTH: 'true', DATA_DIR: dir, PORT: '0', HOST: '127.0.0.1', LOG_LEVEL: 'warn' }),
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  child.stdout!.on('data', (d) => (out += d));
  child.stderr!.on('data', (d) => (out += d));
  const url = await waitFor(() => /running at (http:\/\/[^\s]+) /.exec(out)?.[1], 'pulse process to start', 60_000);
  return { child, url };
}

describe('restart', () => {
  it('after a clean restart offsets continue, history is intact and clients recover what they missed', async () => {
    const dir = tempDir();
    let pulse = await start({}, { dir });
    const a = await NativeClient.open(pulse.wsUrl);
    await a.result({ op: 'subscribe', channel: 'market:r1' });
    await ingest(pulse.url, [1, 2, 3].map((i) => ({ channel: 'market:r1', type: 't', data: { i }, id: `r1-${i}` })));
    await waitFor(() => a.events.length === 3, 'three');
    const last = a.events[2];
    // Events accepted right before shutdown are committed and delivered by the drain.
    await ingest(pulse.url, [{ channel: 'market:r1', type: 't', data: { i: 4 }, id: 'r1-4' }]);
    const port = pulse.port;
    await pulse.close();
    await waitFor(() => a.closeCode !== null, 'close');
    expect(a.closeCode).toBe(1012);
    expect(a.events.map((e) => (e.data as { i: number }).i)).toEqual([1, 2, 3, 4]);

    pulse = await start({}, { dir, port });
    await ingest(pulse.url, [5, 6].map((i) => ({ channel: 'market:r1', type: 't', data: { i }, id: `r1-${i}` })));
    // A repeated id from before the restart is still a duplicate.
    const dup = await ingest(pulse.url, [{ channel: 'market:r1', type: 't', data: { i: 1 }, id: 'r1-1' }]);
    expect(dup.json.duplicates).toBe(1);
    const b = await NativeClient.open(pulse.wsUrl);
    const r = await b.result({ op: 'subscribe', channel: 'market:r1', since: { epoch: last.epoch, offset: last.offset } });
    expect(r.recovered).toBe(true);
    await waitFor(() => b.events.length === 3, 'missed three');
    expect(b.events.map((e) => [e.offset, (e.data as { i: number }).i])).toEqual([
      [4, 4],
      [5, 5],
      [6, 6],
    ]);
    expect(b.events.every((e) => e.epoch === last.epoch)).toBe(true);
    const h = await b.result({ op: 'history', channel: 'market:r1', limit: 100 });
    expect((h.events as unknown[]).length).toBe(6);
    b.close();
    await pulse.close();
    cleanup(dir);
  });

  it('after kill -9, every event acknowledged with wait=durable survives and offsets are not reused', async () => {
    const dir = tempDir();
    const first = await spawnPulse(dir);
    const acks: Array<{ offset: number; epoch: string }> = [];
    for (let b = 0; b < 5; b++) {
      const r = await ingest(first.url, Array.from({ length: 20 }, (_, i) => ({ channel: 'market:k9', type: 't', data: { n: b * 20 + i } })), '?wait=durable');
      expect(r.json.durable).toBe(true);
      acks.push(...(r.json.events as Array<{ offset: number; epoch: string }>));
    }
    first.child.kill('SIGKILL');
    await new Promise((r) => first.child.once('exit', r));

    const second = await spawnPulse(dir);
    try {
      const res = await fetch(`${second.url}/v1/channels/market:k9/events?since=0&epoch=${acks[0].epoch}&limit=1000`);
      const body = (await res.json()) as { events: Array<{ offset: number; data: { n: number } }>; recovered: boolean };
      expect(body.recovered).toBe(true);
      expect(body.events.map((e) => e.data.n)).toEqual(Array.from({ length: 100 }, (_, i) => i));
      const next = await ingest(second.url, [{ channel: 'market:k9', type: 't', data: { n: 100 } }], '?wait=durable');
      const ev = (next.json.events as Array<{ offset: number; epoch: string }>)[0];
      expect(ev.epoch).toBe(acks[0].epoch);
      expect(ev.offset).toBe(101);
    } finally {
      second.child.kill('SIGTERM');
      await new Promise((r) => second.child.once('exit', r));
      cleanup(dir);
    }
  }, 180_000);
});
