/**
 * `--pulse-ref=<commit>`: benchmark a committed Pulse rather than the working tree (which may be
 * mid-edit). The commit is exported with `git archive` into a temp dir; its node_modules links to
 * the repository's installed packages, except the workspace links (@pulse/*), which point into
 * the snapshot so that every Pulse module comes from the commit.
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, readlinkSync, symlinkSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';

export function snapshotPulse(root: string, ref: string): { dir: string; commit: string } {
  const commit = execFileSync('git', ['rev-parse', '--short', ref], { cwd: root }).toString().trim();
  const dir = mkdtempSync(path.join(os.tmpdir(), `pulse-bench-${commit}-`));
  execFileSync('sh', ['-c', `git archive "${ref}" | tar -x -C "${dir}"`], { cwd: root });
  const modules = path.join(root, 'node_modules');
  mkdirSync(path.join(dir, 'node_modules', '@pulse'), { recursive: true });
  for (const name of readdirSync(modules)) {
    if (name === '@pulse') continue;
    symlinkSync(path.join(modules, name), path.join(dir, 'node_modules', name));
  }
  for (const name of readdirSync(path.join(modules, '@pulse'))) {
    // Same relative target (../../packages/x), now resolved inside the snapshot.
    symlinkSync(readlinkSync(path.join(modules, '@pulse', name)), path.join(dir, 'node_modules', '@pulse', name));
  }
  return { dir, commit };
}
