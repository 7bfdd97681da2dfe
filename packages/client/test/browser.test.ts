/**
 * @pulse/client in a real browser (Debian's Chromium via playwright-core, never downloaded): the
 * browser's own WebSocket, fetch streaming for SSE, against a real server. Skips with a message
 * when there is no Chromium.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fileURLToPath } from 'node:url';
import type { Browser, Page } from 'playwright-core';
import type { PulseServer } from '@pulse/server';
import { browserBundle, HAVE_CHROMIUM, launchChromium, warnIfNoChromium } from './chromium.js';
import { devServer, seq, tempDir } from './helpers.js';

warnIfNoChromium('client browser test');

let server: PulseServer;
let browser: Browser;
let bundle: string;
const tmp = tempDir();

beforeAll(async () => {
  if (!HAVE_CHROMIUM) return;
  server = await devServer(tmp.dir);
  bundle = await browserBundle(fileURLToPath(new URL('../src/index.ts', import.meta.url)), 'Pulse');
  browser = await launchChromium();
});
afterAll(async () => {
  await browser?.close();
  await server?.close();
  tmp.remove();
});

/** A page on the server's origin with the client bundle loaded as `window.Pulse`. */
async function page(): Promise<Page> {
  const p = await browser.newPage();
  await p.goto(`${server.url}/health`);
  await p.addScriptTag({ content: bundle });
  return p;
}

describe.skipIf(!HAVE_CHROMIUM)('in Chromium', () => {
  it("receives live events over the browser's WebSocket", async () => {
    const p = await page();
    await p.evaluate(async () => {
      const w = window as unknown as { Pulse: typeof import('../src/index.js'); got: number[]; transport: string | null };
      w.got = [];
      const client = new w.Pulse.PulseClient();
      const sub = client.subscribe('market:b1', {}, (e) => w.got.push(e.data.n as number));
      client.connect();
      await sub.ready;
      w.transport = client.transportKind;
    });
    expect(await p.evaluate(() => (window as unknown as { transport: string }).transport)).toBe('websocket');
    await server.hub.ingest(seq(1, 5).map((n) => ({ channel: 'market:b1', type: 'trade', data: { n } })));
    await p.waitForFunction(() => (window as unknown as { got: number[] }).got.length === 5);
    expect(await p.evaluate(() => (window as unknown as { got: number[] }).got)).toEqual(seq(1, 5));
    await p.close();
  });

  it('falls back to SSE (fetch streaming) when the WebSocket upgrade is refused', async () => {
    const p = await page();
    await p.evaluate(async (wsUrl) => {
      const w = window as unknown as { Pulse: typeof import('../src/index.js'); got: number[]; transport: string | null };
      w.got = [];
      const client = new w.Pulse.PulseClient({ wsUrl, upgradeProbeMs: 600_000 });
      const sub = client.subscribe('market:b2', {}, (e) => w.got.push(e.data.n as number));
      client.connect();
      await sub.ready;
      w.transport = client.transportKind;
    }, `${server.wsUrl}/blocked`);
    expect(await p.evaluate(() => (window as unknown as { transport: string }).transport)).toBe('sse');
    await server.hub.ingest(seq(1, 5).map((n) => ({ channel: 'market:b2', type: 'trade', data: { n } })));
    await p.waitForFunction(() => (window as unknown as { got: number[] }).got.length === 5);
    expect(await p.evaluate(() => (window as unknown as { got: number[] }).got)).toEqual(seq(1, 5));
    await p.close();
  });
});
