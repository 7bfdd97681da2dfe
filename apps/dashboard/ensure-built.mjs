#!/usr/bin/env node
// `npm start` / `npm run demo` run this first: build the dashboard when apps/dashboard/dist is
// missing (a fresh clone), and do nothing otherwise, so a normal start costs nothing.
import { existsSync } from 'node:fs';
import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const here = fileURLToPath(new URL('.', import.meta.url));
if (!existsSync(`${here}dist/index.html`)) {
  console.log('pulse: building the dashboard (apps/dashboard/dist is missing)…');
  try {
    execFileSync('npx', ['vite', 'build', '--logLevel', 'warn'], { cwd: here, stdio: 'inherit' });
  } catch {
    // The server still starts and serves a page that says how to build.
    console.error('pulse: the dashboard build failed; the API still starts. Run `npm run build` to see why.');
  }
}
