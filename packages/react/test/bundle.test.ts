/** @pulse/react's browser bundle carries no schema library: only the protocol's dependency-free files. */
import { describe, expect, it } from 'vitest';
import { gzipSync } from 'node:zlib';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';

describe('@pulse/react bundle', () => {
  it('bundles with react, sonner and uplot as the only externals, without zod', async () => {
    const entry = fileURLToPath(new URL('../src/index.ts', import.meta.url));
    const r = await build({
      entryPoints: [entry],
      bundle: true,
      minify: true,
      format: 'esm',
      platform: 'browser',
      target: 'es2022',
      jsx: 'automatic',
      external: ['react', 'react-dom', 'react/jsx-runtime', 'sonner', 'uplot'],
      write: false,
      metafile: true,
    });
    const inputs = Object.keys(r.metafile.inputs);
    expect(inputs.filter((i) => i.includes('node_modules') || i.includes('zod'))).toEqual([]);
    const gz = gzipSync(r.outputFiles[0]!.contents, { level: 9 }).length;
    console.log(`@pulse/react (with @pulse/client, without react/sonner/uplot): ${(gz / 1024).toFixed(1)} KB gzipped`);
    expect(gz).toBeLessThan(25 * 1024);
  });
});
