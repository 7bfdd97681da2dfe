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

export function topFunctions(file: string, root: string, limit = 15): HotFunction[] {
  const profile = JSON.parse(readFileSync(file, 'utf8')) as { nodes: ProfileNode[] };
  const byKey = new Map<string, { hits: number; name: string; where: string }>();
  let total = 0;
  for (const n of profile.nodes) {
    const hits = n.hitCount ?? 0;
    total += hits;
    const { functionName, url, lineNumber } = n.callFrame;
    const name = functionName || '(anonymous)';
    const rel = url.startsWith('file://') ? path.relative(root, new URL(url).pathname) : url;
    const where = rel ? `${rel}:${lineNumber + 1}` : '';
    const key = `${name}@${where}`;
    const e = byKey.get(key);
    if (e) e.hits += hits;
    else byKey.set(key, { hits, name, where });
  }
  return [...byKey.values()]
    .sort((a, b) => b.hits - a.hits)
    .slice(0, limit)
    .map((e) => ({ selfPct: total ? Math.round((e.hits / total) * 1000) / 10 : 0, name: e.name, where: e.where }));
}
