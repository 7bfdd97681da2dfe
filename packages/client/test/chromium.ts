/**
 * Debian's Chromium via playwright-core (never downloaded), shared by the client's and the react
 * package's browser tests: where it is, whether it is there, launching it, and bundling an entry
 * for `<script>` injection.
 */
import { existsSync } from 'node:fs';
import { build, type BuildOptions } from 'esbuild';
import { chromium, type Browser } from 'playwright-core';

export const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
export const HAVE_CHROMIUM = existsSync(CHROMIUM);

/** Warns (once per calling test file) that its browser tests are skipped when there is no Chromium. */
export function warnIfNoChromium(label: string): void {
  if (!HAVE_CHROMIUM) console.warn(`[${label}] SKIPPED: no Chromium at ${CHROMIUM} (apt-get install -y chromium, or set CHROMIUM_PATH)`);
}

/** A headless Chromium. */
export function launchChromium(): Promise<Browser> {
  return chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run'],
  });
}

/** `entry` bundled as a browser IIFE exposing `globalName`; `extra` adds esbuild options (jsx, define). */
export async function browserBundle(entry: string, globalName: string, extra: BuildOptions = {}): Promise<string> {
  const r = await build({
    entryPoints: [entry],
    bundle: true,
    format: 'iife',
    globalName,
    platform: 'browser',
    target: 'es2022',
    ...extra,
    write: false,
  });
  return r.outputFiles[0]!.text;
}
