/**
 * Screenshots for the docs, from a real run: a Pulse server with demo traffic (SIMULATE) on a
 * free port and a temp DATA_DIR, Debian's Chromium, a wait long enough for the charts to have
 * points. Writes docs/img/dashboard-*.png.
 *
 *   node --import tsx apps/dashboard/scripts/screenshots.ts
 */
import { mkdtempSync, rmSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium, type Page } from 'playwright-core';
import { startPulse } from '@pulse/server';

const root = resolve(fileURLToPath(new URL('.', import.meta.url)), '../../..');
const out = join(root, 'docs', 'img');
const dir = mkdtempSync(join(tmpdir(), 'pulse-shots-'));
const WARMUP_MS = Number(process.env.WARMUP_MS ?? 32_000);

const pulse = await startPulse({ env: { NODE_ENV: 'development', SKIP_AUTH: 'true', LOG_LEVEL: 'warn', DATA_DIR: dir, SIMULATE: 'true', SIMULATE_RATE: '40' }, port: 0, host: '127.0.0.1' });
const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM_PATH ?? '/usr/bin/chromium',
  args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run'],
});
mkdirSync(out, { recursive: true });

async function shot(page: Page, path: string, name: string, waitMs: number): Promise<void> {
  await page.goto(pulse.url + path);
  await page.locator('.pulse-connection[data-state="connected"]').waitFor();
  await page.waitForTimeout(waitMs);
  await page.screenshot({ path: join(out, `${name}.png`) });
  console.log(`wrote docs/img/${name}.png`);
}

try {
  const desktop = await browser.newPage({ viewport: { width: 1280, height: 860 } });
  // The overview samples every 5 s: give it several points.
  await shot(desktop, '/', 'dashboard-overview', WARMUP_MS);
  await shot(desktop, '/campaigns', 'dashboard-campaigns', 6000);
  const phone = await browser.newPage({ viewport: { width: 390, height: 844 }, isMobile: true, hasTouch: true });
  await shot(phone, '/markets', 'dashboard-markets-phone', 6000);
} finally {
  await browser.close();
  await pulse.close();
  rmSync(dir, { recursive: true, force: true });
}
