/** Renders scenario results as Markdown tables (printed, and kept in bench/RESULTS.md). */
import type { ScenarioResult, StepResult } from './scenarios.js';
import { PEERS, type PeerName } from './peers.js';

const fmt = (n: number | undefined): string => (n === undefined ? '–' : n >= 10_000 ? Math.round(n).toLocaleString('en-US') : String(n));
const label = (r: ScenarioResult): string => PEERS[r.peer as PeerName]?.label ?? r.peer;

function row(cells: Array<string | number>): string {
  return `| ${cells.join(' | ')} |`;
}

function note(r: ScenarioResult, best: StepResult | null | undefined): string {
  if (r.skipped) return r.skipped;
  if (r.error) return `error: ${r.error.split('\n')[0].slice(0, 120)}`;
  const fail = r.steps?.find((s) => !s.pass);
  const failText = fail ? `next step ${fmt(fail.rate)}/s: ${fail.reason}${fail.firstTry ? ' (twice)' : ''}` : 'ladder exhausted';
  const second = (r.steps ?? []).filter((s) => s.pass && s.firstTry);
  const retried = second.length ? `; passed on a second try at ${second.map((s) => `${fmt(s.rate)}/s (first p99 ${s.firstTry?.p99} ms)`).join(', ')}` : '';
  return (best ? failText : `no rate passed (${failText})`) + retried;
}

export function renderTables(results: ScenarioResult[], p99LimitMs = 100): string {
  const out: string[] = [];
  const rate = results.filter((r) => r.scenario === 'S1' || r.scenario === 'S2');
  if (rate.length) {
    out.push(`### Fan-out (S1: one channel; S2: many channels) — highest publish rate with p99 < ${p99LimitMs} ms`, '');
    out.push(row(['scenario', 'server', 'publish ev/s', 'delivered ev/s', 'frames/s', 'ev/frame', 'p50 ms', 'p99 ms', 'max ms', 'p99 ms at 50k deliveries/s', 'server CPU %', 'generator CPU %', 'server RSS MB', 'conn setup /s', 'note']));
    out.push(row(Array(15).fill('---')));
    for (const r of rate) {
      const b = r.best;
      // The light-load point of issue 7: the step whose target is 50,000 deliveries per second.
      const light = r.steps?.find((s) => s.rate * (r.perChannel ?? 1) === 50_000);
      out.push(
        row([
          `${r.scenario} (${r.shape})`,
          label(r),
          fmt(b?.publishedPerSec),
          fmt(b?.deliveredPerSec),
          fmt(b?.framesPerSec),
          b ? b.eventsPerFrame : '–',
          b ? b.latency.p50 : '–',
          b ? b.latency.p99 : '–',
          b ? b.latency.max : '–',
          light ? `${light.latency.p99}${light.pass ? '' : ' ✗'}` : '–',
          b ? b.cpuPct : '–',
          b ? b.generatorCpuPct : '–',
          b ? b.rssMB : '–',
          fmt(r.setup?.perSec),
          note(r, b),
        ]),
      );
    }
    out.push('');
  }
  const ingest = results.filter((r) => r.scenario === 'S3');
  if (ingest.length) {
    out.push(`### S3 — durable HTTP ingest (\`POST /v1/events?wait=durable\`), highest rate with p99 < ${p99LimitMs} ms`, '');
    out.push(row(['server', 'durable ev/s', 'p50 ms', 'p99 ms', 'max ms', 'server CPU %', 'server RSS MB', 'note']));
    out.push(row(Array(8).fill('---')));
    for (const r of ingest) {
      const b = r.best;
      out.push(row([label(r), fmt(b?.publishedPerSec), b ? b.ingest.p50 : '–', b ? b.ingest.p99 : '–', b ? b.ingest.max : '–', b ? b.cpuPct : '–', b ? b.rssMB : '–', note(r, b)]));
    }
    out.push('');
  }
  const idle = results.filter((r) => r.scenario === 'S4');
  if (idle.length) {
    out.push('### S4 — idle connections (memory)', '');
    out.push(row(['server', 'connections', 'conn setup /s', 'RSS before MB', 'RSS after MB', 'KB per connection', 'note']));
    out.push(row(Array(7).fill('---')));
    for (const r of idle) {
      const i = r.idle;
      out.push(row([label(r), i ? fmt(i.connections) : '–', fmt(r.setup?.perSec), i ? i.rssBeforeMB : '–', i ? i.rssAfterMB : '–', i ? i.kbPerConnection : '–', r.error ? `error: ${r.error.slice(0, 120)}` : r.skipped ?? '']));
    }
    out.push('');
  }
  const rec = results.filter((r) => r.scenario === 'S5');
  if (rec.length) {
    out.push('### S5 — every client drops and reconnects at once, recovering with `since`', '');
    out.push(row(['server', 'shape', 'recovered', 'not recovered', 'reconnect failed', 'retried attempts', 'caught up', 'time to catch up ms', 'missing events', 'duplicates', 'note']));
    out.push(row(Array(11).fill('---')));
    for (const r of rec) {
      const x = r.recovery;
      out.push(row([label(r), r.shape, x ? x.recovered : '–', x ? x.notRecovered : '–', x ? x.failedToReconnect : '–', x ? x.retries : '–', x ? `${x.caughtUp}/${x.clients}` : '–', x ? x.ms : '–', x ? x.missing : '–', x ? x.duplicates : '–', r.error ? `error: ${r.error.slice(0, 120)}` : x?.firstError ? `first failed attempt: ${x.firstError.slice(0, 80)}` : r.skipped ?? '']));
    }
    out.push('');
  }
  return out.join('\n');
}
