import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { gzipSync } from 'node:zlib';
import { start, cleanup, ingest, NativeClient, waitFor } from './core-helpers.js';
import type { PulseServer } from '../src/index.js';

let pulse: PulseServer & { dir: string };
beforeAll(async () => {
  pulse = await start({ MAX_BATCH_EVENTS: '50', MAX_EVENT_BYTES: '2000', MAX_BODY_BYTES: '200000' });
});
afterAll(async () => {
  await pulse.close();
  cleanup(pulse.dir);
});

describe('POST /v1/events', () => {
  it('takes one event, an array, or NDJSON, and reports each item by index', async () => {
    const one = await ingest(pulse.url, { channel: 'content:i1', type: 'like', data: {} });
    expect(one.status).toBe(200);
    expect(one.json).toMatchObject({ accepted: 1, rejected: 0 });
    const nd = [
      JSON.stringify({ channel: 'market:nd', type: 'a', id: 'nd-1' }),
      '{ not json',
      JSON.stringify({ channel: 'market:nd', type: 'b', id: 'nd-1' }),
      JSON.stringify({ channel: 'market:nd', type: 'c', data: [1] }),
      JSON.stringify({ channel: 'market:nd', type: 'd', ts: '2020-01-01T00:00:00Z' }),
    ].join('\n');
    const r = await fetch(pulse.url + '/v1/events', { method: 'POST', headers: { 'content-type': 'application/x-ndjson' }, body: nd });
    const j = (await r.json()) as Record<string, unknown>;
    expect(j).toMatchObject({ accepted: 2, duplicates: 1, rejected: 2 });
    expect(j.errors).toEqual([
      { index: 1, code: 'BAD_JSON', message: expect.any(String) },
      { index: 3, code: 'INVALID_EVENT', message: expect.any(String) },
    ]);
    expect(j.duplicateItems).toEqual([{ index: 2, id: 'nd-1' }]);
    const h = await fetch(pulse.url + '/v1/channels/market:nd/events?since=0').then((x) => x.json() as Promise<{ events: Array<{ type: string; ts: number }> }>);
    expect(h.events.map((e) => e.type)).toEqual(['a', 'd']);
    expect(h.events[1].ts).toBe(Date.parse('2020-01-01T00:00:00Z'));
  });

  it('accepts gzip bodies and refuses other encodings with a code', async () => {
    const body = gzipSync(JSON.stringify([{ channel: 'market:gz', type: 't' }, { channel: 'market:gz', type: 't' }]));
    const r = await fetch(pulse.url + '/v1/events', { method: 'POST', headers: { 'content-type': 'application/json', 'content-encoding': 'gzip' }, body });
    expect(await r.json()).toMatchObject({ accepted: 2 });
    const bad = await fetch(pulse.url + '/v1/events', { method: 'POST', headers: { 'content-type': 'application/json', 'content-encoding': 'gzip' }, body: 'plain' });
    expect(bad.status).toBe(400);
    const br = await fetch(pulse.url + '/v1/events', { method: 'POST', headers: { 'content-type': 'application/json', 'content-encoding': 'br' }, body: '{}' });
    expect(((await br.json()) as { code: string }).code).toBe('UNSUPPORTED_MEDIA_TYPE');
  });

  it('maps Segment-shaped events, correcting clock skew with sentAt and clamping the future', async () => {
    const now = Date.now();
    const skew = 60 * 60 * 1000; // the device clock runs an hour fast
    const r = await ingest(pulse.url, [
      {
        event: 'search',
        messageId: 'seg-1',
        anonymousId: 'anon-7',
        properties: { channel: 'analytics:search', query: 'rings' },
        timestamp: new Date(now + skew - 5000).toISOString(),
        sentAt: new Date(now + skew).toISOString(),
      },
      { channel: 'market:future', type: 't', ts: now + 10 * skew },
    ]);
    expect(r.json.accepted).toBe(2);
    const h = await fetch(pulse.url + '/v1/channels/analytics:search/events?since=0').then((x) => x.json() as Promise<{ events: Array<Record<string, unknown>> }>);
    const e = h.events.find((x) => x.id === 'seg-1')!;
    expect(e).toMatchObject({ type: 'search', userId: 'anon-7', data: { query: 'rings', channel: 'analytics:search' } });
    expect(Math.abs((e.ts as number) - (now - 5000))).toBeLessThan(2000);
    const f = await fetch(pulse.url + '/v1/channels/market:future/events?since=0').then((x) => x.json() as Promise<{ events: Array<{ ts: number }> }>);
    expect(f.events[0].ts).toBeLessThanOrEqual(Date.now());
  });

  it('never stores or delivers a repeated id twice, within a batch or across batches', async () => {
    const c = await NativeClient.open(pulse.wsUrl);
    await c.result({ op: 'subscribe', channel: 'market:dd' });
    const r1 = await ingest(pulse.url, [
      { channel: 'market:dd', type: 't', id: 'x' },
      { channel: 'market:dd', type: 't', id: 'x' },
      { channel: 'market:dd', type: 't', id: 'y' },
    ]);
    const r2 = await ingest(pulse.url, [{ channel: 'market:dd', type: 't', id: 'y' }]);
    expect([r1.json.accepted, r1.json.duplicates, r2.json.duplicates]).toEqual([2, 1, 1]);
    await waitFor(() => c.events.length >= 2, 'two');
    await c.result({ op: 'ping' });
    expect(c.events.map((e) => e.id)).toEqual(['x', 'y']);
    const st = await c.result({ op: 'stats', channel: 'market:dd' });
    expect(st.totalEvents).toBe(2);
    c.close();
  });

  it('answers wait=durable after the commit, and enforces batch and size limits with codes', async () => {
    const d = await ingest(pulse.url, [{ channel: 'market:dur', type: 't' }], '?wait=durable');
    expect(d.json.durable).toBe(true);
    const big = await ingest(pulse.url, Array.from({ length: 51 }, () => ({ channel: 'market:big', type: 't' })));
    expect([big.status, big.json.code]).toEqual([429, 'LIMIT_EXCEEDED']);
    const fat = await ingest(pulse.url, [{ channel: 'market:fat', type: 't', data: { s: 'x'.repeat(3000) } }, { channel: 'market:fat', type: 't' }]);
    expect(fat.json).toMatchObject({ accepted: 1, rejected: 1, errors: [{ index: 0, code: 'PAYLOAD_TOO_LARGE' }] });
    const huge = await ingest(pulse.url, JSON.stringify([{ channel: 'market:huge', type: 't', data: { s: 'x'.repeat(300_000) } }]));
    expect([huge.status, huge.json.code]).toEqual([413, 'PAYLOAD_TOO_LARGE']);
    const badJson = await ingest(pulse.url, '{"channel":');
    expect([badJson.status, badJson.json.code]).toEqual([400, 'BAD_JSON']);
    const allBad = await ingest(pulse.url, [{ channel: 'x y', type: 't' }]);
    expect(allBad.status).toBe(400);
  });

  it('strips prototype-polluting keys before storing or sending', async () => {
    const raw = '[{"channel":"market:proto","type":"t","data":{"a":1,"__proto__":{"polluted":true},"nested":{"constructor":{"prototype":{"x":1}},"ok":2}}}]';
    const r = await ingest(pulse.url, raw);
    expect(r.json.accepted).toBe(1);
    const h = await fetch(pulse.url + '/v1/channels/market:proto/events?since=0').then((x) => x.text());
    expect(h).not.toContain('__proto__');
    expect(h).not.toContain('constructor');
    expect(JSON.parse(h).events[0].data).toEqual({ a: 1, nested: { ok: 2 } });
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
  });
});
