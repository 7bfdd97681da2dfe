/**
 * Components in a real browser (Debian's Chromium via playwright-core): the uPlot chart draws on
 * a real canvas and follows ingested events; the indicator and tiles update. Skips with a message
 * without Chromium.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fileURLToPath } from 'node:url';
import type { Browser } from 'playwright-core';
import { browserBundle, HAVE_CHROMIUM, launchChromium, warnIfNoChromium } from '../../client/test/chromium.js';
import { harness, type Harness } from './helpers.js';

warnIfNoChromium('react browser test');

let h: Harness;
let browser: Browser;
let bundle: string;

beforeAll(async () => {
  if (!HAVE_CHROMIUM) return;
  h = await harness();
  bundle = await browserBundle(fileURLToPath(new URL('./browser-entry.tsx', import.meta.url)), 'PulseTest', {
    jsx: 'automatic',
    define: { 'process.env.NODE_ENV': '"production"' },
  });
  browser = await launchChromium();
});
afterAll(async () => {
  await browser?.close();
  await h?.close();
});

describe.skipIf(!HAVE_CHROMIUM)('in Chromium', () => {
  it('RealTimeChart draws with uPlot on a canvas and follows ingested impressions', async () => {
    const page = await browser.newPage({ viewport: { width: 1000, height: 800 } });
    const errors: string[] = [];
    page.on('pageerror', (e) => errors.push(e.message));
    await page.goto(`${h.url}/health`);
    await page.setContent('<div id="root"></div>');
    await page.addScriptTag({ content: bundle });
    await page.evaluate(() => (window as unknown as { PulseTest: { mount(el: HTMLElement, c: string): void } }).PulseTest.mount(document.getElementById('root')!, 'SP.browser'));
    await page.waitForSelector('.pulse-connection[data-state="connected"]');
    await page.waitForSelector('.pulse-realtime-chart canvas');
    await h.ingest(Array.from({ length: 12 }, () => ({ channel: 'contract:SP.browser', type: 'impression', data: {} })));
    await page.waitForFunction(() => document.querySelector('[data-testid="campaign-impressions"]')?.textContent === '12');
    await page.waitForFunction(() => document.querySelector('[data-testid="chart-total"]')?.textContent === '12');
    // uPlot drew something: the plot canvas has non-transparent pixels.
    const inked = await page.evaluate(() => {
      const c = document.querySelector('.pulse-realtime-chart canvas') as HTMLCanvasElement;
      const d = c.getContext('2d')!.getImageData(0, 0, c.width, c.height).data;
      let n = 0;
      for (let i = 3; i < d.length; i += 4) if (d[i]! > 0) n++;
      return n;
    });
    expect(inked).toBeGreaterThan(100);
    expect(errors).toEqual([]);
    await page.close();
  });
});
