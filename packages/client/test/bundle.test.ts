/**
 * The client stays small and free of runtime dependencies: bundled for browsers it pulls in no
 * schema library (zod stays on the server) and only the protocol's dependency-free files.
 */
import { describe, expect, it } from 'vitest';
import { gzipSync } from 'node:zlib';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';

describe('@pulse/client bundle', () => {
  it('bundles without zod, under 12 KB gzipped', async () => {
    const entry = fileURLToPath(new URL('../src/index.ts', import.meta.url));
    const r = await build({ entryPoints: [entry], bundle: true, minify: true, format: 'esm', platform: 'browser', target: 'es2022', write: false, metafile: true });
    const inputs = Object.keys(r.metafile.inputs);
    expect(inputs.filter((i) => i.includes('node_modules'))).toEqual([]);
    expect(inputs.filter((i) => i.includes('packages/protocol')).sort()).toEqual(['packages/protocol/src/channel.ts', 'packages/protocol/src/errors.ts'].map((p) => expect.stringContaining(p)));
    const code = r.outputFiles[0]!.contents;
    const gz = gzipSync(code, { level: 9 }).length;
    console.log(`@pulse/client: ${(code.length / 1024).toFixed(1)} KB minified, ${(gz / 1024).toFixed(1)} KB gzipped`);
    expect(gz).toBeLessThan(12 * 1024);
  });
});
