/** The bench's options, the step search's second try of a step that failed on latency, and the report of it. */
import { describe, expect, it } from 'vitest';
import { parseArgs } from '../lib/config.js';
import { renderTables } from '../lib/report.js';
import { climb, judge, type ScenarioResult, type StepResult } from '../lib/scenarios.js';
import type { PublishResult } from '../lib/messages.js';

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

  it('runs a step that failed on p99 alone once more, not one that lost events, nor any with --retry=false', async () => {
    // Scripted tries per rate: 2/s fails on p99 then passes, 5/s loses events.
    const script = (): ((rate: number, again: boolean) => Promise<StepResult>) => {
      const tries: Record<number, StepResult[]> = {
        1: [step(1, 80, true)],
        2: [step(2, 130, false), step(2, 90, true)],
        5: [{ ...step(5, 50, false), reason: 'delivered 10 of 20' }, step(5, 50, true)],
      };
      return async (rate, again) => {
        const s = tries[rate]!.shift()!;
        return { ...s, reason: again ? `${s.reason} (again)` : s.reason };
      };
    };
    const run = async (argv: string[]): Promise<ScenarioResult> => {
      const r: ScenarioResult = { scenario: 'S1', peer: 'pulse', shape: 'x', steps: [], best: null };
      await climb(parseArgs(argv), 1, r, script());
      return r;
    };
    const r = await run(['--rates=1,2,5,10']);
    expect(r.steps!.map((s) => [s.rate, s.pass, s.reason, s.firstTry])).toEqual([
      [1, true, 'ok', undefined],
      [2, true, 'ok (again)', { p99: 130, reason: 'p99 130 ms > 100' }],
      [5, false, 'delivered 10 of 20', undefined],
    ]);
    expect(r.best?.rate).toBe(2);
    const off = await run(['--rates=1,2,5,10', '--retry=false']);
    expect(off.steps!.map((s) => [s.rate, s.pass, s.firstTry])).toEqual([
      [1, true, undefined],
      [2, false, undefined],
    ]);
    expect(off.best?.rate).toBe(1);
  });

  it('names latency as the reason only when nothing else failed, so only such a step is retried', () => {
    const cfg = parseArgs([]);
    const pub: PublishResult = { acked: 400, due: 400, failed: 0, firstError: null, ms: 4000, seqs: {}, postHistogram: null, requests: 80 };
    const slow = step(100, 150, false);
    expect(judge(cfg, slow, pub).reason).toBe('p99 150 ms > 100');
    expect(judge(cfg, { ...slow, publishedPerSec: 50 }, pub).reason).toBe('publisher reached only 50/s');
    expect(judge(cfg, { ...slow, delivered: 10 }, pub).reason).toBe('delivered 10 of 400');
    expect(judge(cfg, step(100, 80, true), pub)).toEqual({ pass: true, reason: 'ok' });
  });
});
