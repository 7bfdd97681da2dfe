import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { start, cleanup, NativeClient, waitFor, ingest } from './core-helpers.js';
import type { PulseServer } from '../src/index.js';

let pulse: PulseServer & { dir: string };
beforeAll(async () => {
  pulse = await start({ MAX_SUBSCRIPTIONS_PER_CLIENT: '5' });
});
afterAll(async () => {
  await pulse.close();
  cleanup(pulse.dir);
});

describe('native protocol /ws', () => {
  it('welcomes, subscribes, and pushes events with channel, epoch and offset', async () => {
    const c = await NativeClient.open(pulse.wsUrl);
    expect(c.messages[0]).toMatchObject({ type: 'welcome', protocol: 1 });
    const r = await c.result({ op: 'subscribe', channel: 'market:n1' });
    expect(r).toMatchObject({ channel: 'market:n1', types: null, position: { offset: 0 } });
    await ingest(pulse.url, [
      { channel: 'market:n1', type: 'trade', data: { p: 1 } },
      { channel: 'market:n1', type: 'trade', data: { p: 2 } },
      { channel: 'market:other', type: 'trade', data: { p: 3 } },
    ]);
    await waitFor(() => c.events.length >= 2, 'two events');
    expect(c.events.map((e) => [e.channel, e.offset, (e.data as { p: number }).p])).toEqual([
      ['market:n1', 1, 1],
      ['market:n1', 2, 2],
    ]);
    expect(typeof c.events[0].epoch).toBe('string');
    // Both events of one ingest call arrive in one frame.
    expect(c.messages.filter((m) => m.type === 'events')).toHaveLength(1);
    c.close();
  });

  it('filters by type, matches patterns and parents, and delivers an event once per connection', async () => {
    const c = await NativeClient.open(pulse.wsUrl);
    await c.result({ op: 'subscribe', channel: 'analytics' });
    await c.result({ op: 'subscribe', channel: 'analytics:search', types: ['search'] });
    await c.result({ op: 'subscribe', channel: 'shop:*', types: ['buy'] });
    await ingest(pulse.url, [
      { channel: 'analytics:search', type: 'search', data: {} },
      { channel: 'analytics:filters', type: 'filter_apply', data: {} },
      { channel: 'shop:1', type: 'view', data: {} },
      { channel: 'shop:2', type: 'buy', data: {} },
      { channel: 'shopping:1', type: 'buy', data: {} },
    ]);
    await waitFor(() => c.events.length >= 3, 'three events');
    await c.result({ op: 'ping' });
    expect(c.events.map((e) => `${e.channel}/${e.type}`)).toEqual(['analytics:search/search', 'analytics:filters/filter_apply', 'shop:2/buy']);
    c.close();
  });

  it('answers history, stats and ping; errors carry codes and the connection survives', async () => {
    const c = await NativeClient.open(pulse.wsUrl);
    await ingest(pulse.url, [1, 2, 3].map((i) => ({ channel: 'contract:h1', type: i === 2 ? 'bid_placed' : 'campaign_created', data: { i } })), '?wait=durable');
    const h = await c.result({ op: 'history', channel: 'contract:h1', limit: 2 });
    expect((h.events as Array<{ data: { i: number } }>).map((e) => e.data.i)).toEqual([2, 3]);
    const st = await c.result({ op: 'stats', channel: 'contract:h1' });
    expect(st).toMatchObject({ totalEvents: 3, eventsByType: { campaign_created: 2, bid_placed: 1 } });
    expect(await c.result({ op: 'ping' })).toHaveProperty('serverTime');

    c.ws.send('not json');
    c.ws.send(Buffer.from([0xff, 0x00, 0x13]), { binary: true });
    expect((await c.request({ op: 'fly' })).code).toBe('UNKNOWN_OP');
    expect((await c.request({ op: 'subscribe', channel: 'bad channel!' })).code).toBe('INVALID_MESSAGE');
    expect((await c.request({ op: 'unsubscribe', channel: 'market:never' })).code).toBe('NOT_SUBSCRIBED');
    await waitFor(() => c.messages.filter((m) => m.type === 'error' && m.id === undefined).length >= 2, 'two unsolicited errors');
    const codes = c.messages.filter((m) => m.type === 'error' && m.id === undefined).map((m) => m.code);
    expect(codes).toEqual(['BAD_JSON', 'INVALID_MESSAGE']);
    expect(c.closeCode).toBeNull();
    for (let i = 0; i < 5; i++) await c.result({ op: 'subscribe', channel: `market:max${i}` });
    expect((await c.request({ op: 'subscribe', channel: 'market:max5' })).code).toBe('MAX_SUBSCRIPTIONS');
    // Re-subscribing to a channel replaces it and does not count twice.
    await c.result({ op: 'subscribe', channel: 'market:max0', types: ['x'] });
    c.close();
  });

  it('publishes from a socket only where the namespace allows it', async () => {
    const c = await NativeClient.open(pulse.wsUrl);
    // SKIP_AUTH development principal may publish; an authenticated plain user may not (see security tests).
    const r = await c.result({ op: 'publish', channel: 'market:p1', type: 'note', data: { a: 1 }, eventId: 'pub-1' });
    expect(r).toMatchObject({ id: 'pub-1', channel: 'market:p1', offset: 1, duplicate: false });
    const again = await c.result({ op: 'publish', channel: 'market:p1', type: 'note', data: { a: 1 }, eventId: 'pub-1' });
    expect(again).toMatchObject({ duplicate: true });
    c.close();
  });

  it('recovers exactly the missed events after a reconnect, in order, once', async () => {
    const a = await NativeClient.open(pulse.wsUrl);
    const sub = await a.result({ op: 'subscribe', channel: 'market:rec' });
    await ingest(pulse.url, [1, 2, 3].map((i) => ({ channel: 'market:rec', type: 't', data: { i } })));
    await waitFor(() => a.events.length === 3, 'first three');
    const last = a.events[2];
    a.close();
    await ingest(pulse.url, [4, 5, 6, 7].map((i) => ({ channel: 'market:rec', type: 't', data: { i } })));
    const b = await NativeClient.open(pulse.wsUrl);
    const r = await b.result({ op: 'subscribe', channel: 'market:rec', since: { epoch: last.epoch, offset: last.offset } });
    expect(r.recovered).toBe(true);
    await ingest(pulse.url, [{ channel: 'market:rec', type: 't', data: { i: 8 } }]);
    await waitFor(() => b.events.length >= 5, 'missed + live');
    await b.result({ op: 'ping' });
    expect(b.events.map((e) => (e.data as { i: number }).i)).toEqual([4, 5, 6, 7, 8]);
    expect((sub.position as { epoch: string }).epoch).toBe(last.epoch);

    const c = await NativeClient.open(pulse.wsUrl);
    const wrong = await c.result({ op: 'subscribe', channel: 'market:rec', since: { epoch: 'other-epoch', offset: 2 } });
    expect(wrong.recovered).toBe(false);
    b.close();
    c.close();
  });

  it('says recovered:false when the missed events fell out of history', async () => {
    const small = await start({ EVENT_HISTORY_LIMIT: '3', RECOVERY_MAX_EVENTS: '5' });
    try {
      const a = await NativeClient.open(small.wsUrl);
      await a.result({ op: 'subscribe', channel: 'market:gone' });
      await ingest(small.url, [{ channel: 'market:gone', type: 't' }]);
      await waitFor(() => a.events.length === 1, 'one');
      const pos = a.events[0];
      a.close();
      // Eight missed: more than the ring (3) holds and more than RECOVERY_MAX_EVENTS (5).
      await ingest(small.url, Array.from({ length: 8 }, (_, i) => ({ channel: 'market:gone', type: 't', data: { i } })));
      const b = await NativeClient.open(small.wsUrl);
      const r = await b.result({ op: 'subscribe', channel: 'market:gone', since: { epoch: pos.epoch, offset: pos.offset } });
      expect(r.recovered).toBe(false);
      // Four missed: beyond the ring, within RECOVERY_MAX_EVENTS, so read from the store.
      const before = b.events.length;
      const c = await NativeClient.open(small.wsUrl);
      const r2 = await c.result({ op: 'subscribe', channel: 'market:gone', since: { epoch: pos.epoch, offset: 5 } });
      expect(r2.recovered).toBe(true);
      await waitFor(() => c.events.length === 4, 'four from the store');
      expect(c.events.map((e) => e.offset)).toEqual([6, 7, 8, 9]);
      expect(b.events.length).toBe(before);
      b.close();
      c.close();
    } finally {
      await small.close();
      cleanup(small.dir);
    }
  });

  it('recovers a pattern subscription per channel', async () => {
    const a = await NativeClient.open(pulse.wsUrl);
    await a.result({ op: 'subscribe', channel: 'creator:*' });
    await ingest(pulse.url, [
      { channel: 'creator:a', type: 't', data: { n: 1 } },
      { channel: 'creator:b', type: 't', data: { n: 2 } },
    ]);
    await waitFor(() => a.events.length === 2, 'two');
    const pos = Object.fromEntries(a.events.map((e) => [e.channel, { epoch: e.epoch, offset: e.offset }]));
    a.close();
    await ingest(pulse.url, [
      { channel: 'creator:a', type: 't', data: { n: 3 } },
      { channel: 'creator:b', type: 't', data: { n: 4 } },
      { channel: 'creator:a', type: 't', data: { n: 5 } },
    ]);
    const b = await NativeClient.open(pulse.wsUrl);
    const r = await b.result({ op: 'subscribe', channel: 'creator:*', since: pos });
    expect(r.recovered).toBe(true);
    await waitFor(() => b.events.length === 3, 'three');
    expect(b.events.map((e) => (e.data as { n: number }).n).sort()).toEqual([3, 4, 5]);
    b.close();
  });

  it('answers recovered:false for a pattern whose since names more channels than it replays (1,000)', async () => {
    const a = await NativeClient.open(pulse.wsUrl);
    await a.result({ op: 'subscribe', channel: 'fan:*' });
    const events = Array.from({ length: 1001 }, (_, i) => ({ channel: `fan:${i}`, type: 't' }));
    await ingest(pulse.url, events.slice(0, 500));
    await ingest(pulse.url, events.slice(500));
    await waitFor(() => a.events.length === 1001, 'one event in each of 1,001 channels');
    const pos = Object.fromEntries(a.events.map((e) => [e.channel, { epoch: e.epoch, offset: e.offset }]));
    a.close();
    // Every position is current, so nothing was missed; but past 1,000 channels the server replays
    // only the first 1,000 and cannot vouch for the rest.
    const b = await NativeClient.open(pulse.wsUrl);
    const first1000 = Object.fromEntries(Object.entries(pos).slice(0, 1000));
    expect((await b.result({ op: 'subscribe', channel: 'fan:*', since: first1000 })).recovered).toBe(true);
    expect((await b.result({ op: 'subscribe', channel: 'fan:*', since: pos })).recovered).toBe(false);
    b.close();
  });
});

describe('retention', () => {
  it('prunes stored events past their namespace TTL and then answers recovered:false for them', async () => {
    const { writeFileSync } = await import('node:fs');
    const { join } = await import('node:path');
    const dir = (await import('./core-helpers.js')).tempDir();
    const cfg = join(dir, 'pulse.yaml');
    writeFileSync(cfg, 'namespaces:\n  short:\n    ttlSeconds: 60\n    history: 0\n');
    const p = await start({ PULSE_CONFIG: cfg }, { dir });
    try {
      const r = await ingest(p.url, [1, 2].map((i) => ({ channel: 'short:a', type: 't', data: { i } })), '?wait=durable');
      const epoch = (r.json.events as Array<{ epoch: string }>)[0].epoch;
      expect(await p.hub.prune(Date.now())).toBe(0);
      expect(await p.hub.prune(Date.now() + 61_000)).toBe(2);
      const h = (await fetch(`${p.url}/v1/channels/short:a/events?since=0&epoch=${epoch}`).then((x) => x.json())) as { events: unknown[]; recovered: boolean };
      expect(h).toMatchObject({ events: [], recovered: false });
    } finally {
      await p.close();
      cleanup(dir);
    }
  });
});
