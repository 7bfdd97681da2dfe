/**
 * Driving the dashboard in Debian's Chromium with playwright-core. The browser comes from the
 * system (`/usr/bin/chromium`, or `CHROMIUM_PATH`), never downloaded; without it the browser
 * tests skip and say so. The dashboard is built first when `apps/dashboard/dist` is missing.
 */
import { existsSync, mkdirSync } from 'node:fs';
import { execFileSync } from 'node:child_process';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core';
import { DASHBOARD_DIST } from '../src/http/dashboard.js';

export const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
export const HAVE_CHROMIUM = existsSync(CHROMIUM);
export const ROOT = resolve(fileURLToPath(new URL('.', import.meta.url)), '../../..');
export const ARTIFACTS = join(ROOT, 'test-artifacts', 'dashboard');

if (!HAVE_CHROMIUM) {
  console.warn(`[dashboard e2e] SKIPPED: no Chromium at ${CHROMIUM} (apt-get install -y chromium, or set CHROMIUM_PATH)`);
}

/** Builds the dashboard once when there is no build (a few seconds with Vite 8). */
export function ensureDashboardBuilt(): void {
  if (existsSync(join(DASHBOARD_DIST, 'index.html'))) return;
  execFileSync('npm', ['run', 'build', '-w', 'apps/dashboard'], { cwd: ROOT, stdio: 'inherit', timeout: 180_000 });
}

export async function launch(): Promise<Browser> {
  return chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    // The flags this machine needs: no sandbox as root, and no background calls to a network that is closed.
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run', '--disable-quic'],
  });
}

export const DESKTOP = { width: 1366, height: 900 };
export const PHONE = { width: 390, height: 844 };

/** A page that records console errors and uncaught exceptions, for "loads without errors". */
export interface WatchedPage {
  page: Page;
  context: BrowserContext;
  errors: string[];
}

export async function openPage(browser: Browser, viewport = DESKTOP): Promise<WatchedPage> {
  const context = await browser.newContext({ viewport, deviceScaleFactor: 1, isMobile: viewport.width < 500, hasTouch: viewport.width < 500 });
  // Chromium's Layout Instability API: unexpected shifts of visible content are summed in
  // window.__shift (as the CLS score is), so a test can check that live updates do not move the page.
  await context.addInitScript(() => {
    const w = window as unknown as { __shift: number };
    w.__shift = 0;
    new PerformanceObserver((list) => {
      for (const e of list.getEntries() as Array<PerformanceEntry & { value: number; hadRecentInput: boolean; sources?: Array<{ node?: Node }> }>) {
        if (e.hadRecentInput) continue;
        // Rows moving inside a list (a feed taking its newest event on top, a ranking reordering)
        // are the update itself; what must not move is everything else: cards, numbers, charts.
        const sources = e.sources ?? [];
        if (sources.length && sources.every((s) => s.node instanceof Element && s.node.closest('ol, tbody'))) continue;
        w.__shift += e.value;
        // Which elements moved, for the failure message.
        const names = (e.sources ?? []).map((s) => (s.node instanceof Element ? `${s.node.tagName.toLowerCase()}.${s.node.className}` : String(s.node?.nodeName)));
        (w as unknown as { __shifted: string[] }).__shifted = [...((w as unknown as { __shifted?: string[] }).__shifted ?? []), `${e.value.toFixed(4)} ${names.join(', ')}`].slice(-10);
      }
    }).observe({ type: 'layout-shift', buffered: true });
  });
  const page = await context.newPage();
  const errors: string[] = [];
  page.on('console', (m) => {
    if (m.type() === 'error') errors.push(`console.error: ${m.text()}`);
  });
  page.on('pageerror', (e) => errors.push(`pageerror: ${e.message}`));
  page.on('requestfailed', (r) => {
    // A WebSocket or stream torn down by navigation is not a failure of the page.
    const f = r.failure()?.errorText ?? '';
    if (!/ERR_ABORTED/.test(f)) errors.push(`requestfailed: ${r.url()} ${f}`);
  });
  page.on('response', (r) => {
    if (r.status() >= 400) errors.push(`HTTP ${r.status()}: ${r.url()}`);
  });
  return { page, context, errors };
}

export async function screenshot(page: Page, name: string): Promise<string> {
  mkdirSync(ARTIFACTS, { recursive: true });
  const path = join(ARTIFACTS, `${name}.png`);
  await page.screenshot({ path, fullPage: false });
  return path;
}

/** Text of the element with `data-testid`, trimmed. */
export async function textOf(page: Page, testId: string): Promise<string> {
  return ((await page.getByTestId(testId).first().textContent()) ?? '').trim();
}

/** Parses a formatted number ("$1,234.50", "12.5K", "—") back to a number; null for "—". */
export function numberOf(text: string): number | null {
  const t = text.replace(/[$,%\s¢]/g, '');
  if (!t || t === '—') return null;
  const m = /^(-?[\d.]+)([KMB])?$/.exec(t);
  if (!m) return null;
  const mult = m[2] === 'K' ? 1e3 : m[2] === 'M' ? 1e6 : m[2] === 'B' ? 1e9 : 1;
  return Number(m[1]) * mult;
}

/** Layout shift summed since the last reset (0 = nothing moved). */
export async function layoutShift(page: Page, reset = false): Promise<{ value: number; moved: string[] }> {
  return page.evaluate((r) => {
    const w = window as unknown as { __shift: number; __shifted?: string[] };
    const v = { value: w.__shift, moved: w.__shifted ?? [] };
    if (r) {
      w.__shift = 0;
      w.__shifted = [];
    }
    return v;
  }, reset);
}
