/** The bench's options and its report of a step that failed on latency and passed on its second try. */
import { describe, expect, it } from 'vitest';
import { parseArgs } from '../lib/config.js';
import { renderTables } from '../lib/report.js';
import type { ScenarioResult, StepResult } from '../lib/scenarios.js';

function step(rate: number, p99: number, pass: boolean, firstTry?: StepResult['firstTry']): StepResult {
  const lat = { count: 100, p50: p99 / 2, p99, max: p99 };
  return {
    rate, published: rate * 4, publishedPerSec: rate, expected: rate * 4, delivered: rate * 4, deliveredPerSec: rate, framesPerSec: rate,
    eventsPerFrame: 1, mbPerSec: 1, latency: lat, ingest: lat, cpuPct: 50, generatorCpuPct: 20, generatorCpu: {}, rssMB: 100, drainMs: 0,
    closedUnexpectedly: 0, closeCodes: {}, pass, reason: pass ? 'ok' : `p99 ${p99} ms > 100`, ...(firstTry ? { firstTry } : {}),
  };
}

describe('bench options and report', () => {
  it('retries a latency failure by default, not with --retry=false; --rates fixes the rates', () => {
    expect(parseArgs([]).retry).toBe(true);
    expect(parseArgs(['--retry=false']).retry).toBe(false);
    expect(parseArgs(['--rates=10,200']).rates).toEqual([10, 200]);
    expect(parseArgs([]).rates).toBeNull();
    expect(() => parseArgs(['--rates=10,x'])).toThrow(/--rates/);
  });

  it('says which steps passed on a second try and that the last one failed twice', () => {
    const steps = [step(1, 80, true), step(2, 90, true, { p99: 130, reason: 'p99 130 ms > 100' }), step(5, 140, false, { p99: 150, reason: 'p99 150 ms > 100' })];
    const r: ScenarioResult = { scenario: 'S1', peer: 'pulse', shape: '1 ch x 5000 subs', steps, best: steps[1] };
    const md = renderTables([r]);
    expect(md).toContain('next step 5/s: p99 140 ms > 100 (twice)');
    expect(md).toContain('passed on a second try at 2/s (first p99 130 ms)');
  });
});
