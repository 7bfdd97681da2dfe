/** Summarises a V8 `.cpuprofile` (from `node --cpu-prof`) into its top functions by self time. */
import { readFileSync } from 'node:fs';
import path from 'node:path';

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  hitCount?: number;
}

export interface HotFunction {
  selfPct: number;
  name: string;
  where: string;
}

export interface ProfileSummary {
  /** Share of samples in which the process was busy (not idle). */
  busyPct: number;
  /** Top functions by self time, in % of busy samples. */
  functions: HotFunction[];
  /** Self time summed per file, in % of busy samples. */
  files: Array<{ selfPct: number; file: string }>;
}

/** Idle is where the process waited; leaving it out makes the shares add up over real work. */
const NOT_WORK = new Set(['(idle)', '(program)']);

export function summarizeProfile(file: string, root: string, limit = 15): ProfileSummary {
  const profile = JSON.parse(readFileSync(file, 'utf8')) as { nodes: ProfileNode[] };
  return summarize(profile, root, limit);
}

export function summarize(profile: { nodes: ProfileNode[] }, root: string, limit = 15): ProfileSummary {
  const byKey = new Map<string, { hits: number; name: string; where: string }>();
  const byFile = new Map<string, number>();
  let total = 0;
  let all = 0;
  for (const n of profile.nodes) {
    const hits = n.hitCount ?? 0;
    all += hits;
    if (NOT_WORK.has(n.callFrame.functionName)) continue;
    total += hits;
    const { functionName, url, lineNumber } = n.callFrame;
    const name = functionName || '(anonymous)';
    const rel = url.startsWith('file://') ? path.relative(root, new URL(url).pathname) : url;
    const where = rel ? `${rel}:${lineNumber + 1}` : '';
    const fileKey = rel || name;
    byFile.set(fileKey, (byFile.get(fileKey) ?? 0) + hits);
    const key = `${name}@${where}`;
    const e = byKey.get(key);
    if (e) e.hits += hits;
    else byKey.set(key, { hits, name, where });
  }
  const pct = (h: number): number => (total ? Math.round((h / total) * 1000) / 10 : 0);
  return {
    busyPct: all ? Math.round((total / all) * 1000) / 10 : 0,
    functions: [...byKey.values()]
      .sort((a, b) => b.hits - a.hits)
      .slice(0, limit)
      .map((e) => ({ selfPct: pct(e.hits), name: e.name, where: e.where })),
    files: [...byFile.entries()]
      .sort((a, b) => b[1] - a[1])
      .slice(0, 10)
      .map(([f, h]) => ({ selfPct: pct(h), file: f })),
  };
}
