import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { backoffDelay, BACKOFF_ADSTACK, BACKOFF_KNOWTON, type BackoffOptions } from '../src/backoff.js';
import { canTransition, classifyClose, StateMachine, type StateChange } from '../src/state.js';
import { PositionTracker } from '../src/positions.js';
import { SseParser, type SseMessage } from '../src/sse-parser.js';
import { jwtExpiry } from '../src/token.js';

describe('backoffDelay', () => {
  it('seed 003: 1, 2, 4, 8, 16 s without jitter', () => {
    expect([0, 1, 2, 3, 4].map((a) => backoffDelay(a, BACKOFF_KNOWTON))).toEqual([1000, 2000, 4000, 8000, 16000]);
  });

  it('seed 000: starts at 5 s and is capped at 60 s', () => {
    expect(backoffDelay(0, BACKOFF_ADSTACK, () => 0.999)).toBe(5000);
    expect(backoffDelay(10, BACKOFF_ADSTACK, () => 0.999999)).toBe(60000);
    expect(backoffDelay(40, BACKOFF_ADSTACK, () => 0.5)).toBe(32500);
    expect(backoffDelay(10, BACKOFF_ADSTACK, () => 0)).toBe(5000);
  });

  it('full jitter stays within [min, min(max, min·2^n)] for any attempt and random value', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: -5, max: 10_000 }),
        fc.integer({ min: 0, max: 100_000 }),
        fc.integer({ min: 0, max: 1_000_000 }),
        fc.double({ min: -1, max: 2, noNaN: true }),
        (attempt, min, extra, r) => {
          const opts: BackoffOptions = { minDelay: min, maxDelay: min + extra, maxAttempts: Infinity, jitter: 'full' };
          const d = backoffDelay(attempt, opts, () => r);
          const ceiling = Math.min(min + extra, min * 2 ** Math.min(Math.max(0, attempt), 31));
          expect(Number.isFinite(d)).toBe(true);
          expect(d).toBeGreaterThanOrEqual(min);
          expect(d).toBeLessThanOrEqual(Math.max(min, ceiling));
        },
      ),
    );
  });

  it('the jitter ceiling grows with the attempt', () => {
    const opts: BackoffOptions = { minDelay: 100, maxDelay: 1e9, maxAttempts: Infinity, jitter: 'full' };
    const hi = (a: number) => backoffDelay(a, opts, () => 0.999999);
    for (let a = 0; a < 20; a++) expect(hi(a + 1)).toBeGreaterThanOrEqual(hi(a));
  });
});

describe('state machine', () => {
  it('emits {oldState,newState,code,reason} on every transition and rejects invalid ones', () => {
    const seen: StateChange[] = [];
    const m = new StateMachine((c) => seen.push(c));
    m.set('connecting', 'CONNECT', 'go');
    m.set('connected', 'CONNECTED', 'via websocket');
    expect(m.set('connected', 'CONNECTED', 'again')).toBe(false);
    m.set('reconnecting', 'SERVER_SHUTDOWN', 'restart');
    m.set('failed', 'MAX_ATTEMPTS', 'gave up');
    expect(() => m.set('connected', 'CONNECTED', 'nope')).toThrow(/invalid transition/);
    expect(seen.map((c) => `${c.oldState}>${c.newState}:${c.code}`)).toEqual([
      'disconnected>connecting:CONNECT',
      'connecting>connected:CONNECTED',
      'connected>reconnecting:SERVER_SHUTDOWN',
      'reconnecting>failed:MAX_ATTEMPTS',
    ]);
    expect(canTransition('disconnected', 'connected')).toBe(false);
  });

  it('classifies close codes', () => {
    expect(classifyClose(1012)).toMatchObject({ code: 'SERVER_SHUTDOWN', retry: true });
    expect(classifyClose(4009)).toMatchObject({ code: 'TOKEN_EXPIRED', refreshToken: true });
    expect(classifyClose(4008)).toMatchObject({ code: 'SLOW_CONSUMER', retry: true });
    expect(classifyClose(4400)).toMatchObject({ retry: false });
    expect(classifyClose(1006)).toMatchObject({ code: 'TRANSPORT_CLOSED', retry: true });
  });
});

describe('PositionTracker (dedupe)', () => {
  it('delivers each (channel, epoch, offset) once, in order, whatever the overlap of replays', () => {
    fc.assert(
      fc.property(
        fc.array(fc.tuple(fc.integer({ min: 0, max: 3 }), fc.integer({ min: 1, max: 30 })), { maxLength: 40 }),
        (segments) => {
          // Each segment replays channel c from some earlier point: like a live push followed by
          // a recovery replay, or two transports overlapping during a switch.
          const t = new PositionTracker();
          const delivered: string[] = [];
          const head = [0, 0, 0, 0];
          for (const [c, n] of segments) {
            const from = Math.max(1, head[c]! - 5);
            for (let o = from; o <= head[c]! + n; o++) if (t.accept({ channel: `ch:${c}`, epoch: 'e1', offset: o })) delivered.push(`${c}:${o}`);
            head[c]! += n;
          }
          for (let c = 0; c < 4; c++) {
            const mine = delivered.filter((d) => d.startsWith(`${c}:`)).map((d) => Number(d.split(':')[1]));
            expect(mine).toEqual(Array.from({ length: head[c]! }, (_, i) => i + 1));
          }
        },
      ),
    );
  });

  it('accepts a new epoch and never moves back on advance()', () => {
    const t = new PositionTracker();
    expect(t.accept({ channel: 'a', epoch: 'e1', offset: 5 })).toBe(true);
    expect(t.accept({ channel: 'a', epoch: 'e1', offset: 5 })).toBe(false);
    t.advance('a', { epoch: 'e1', offset: 3 });
    expect(t.get('a')).toEqual({ epoch: 'e1', offset: 5 });
    expect(t.accept({ channel: 'a', epoch: 'e2', offset: 1 })).toBe(true);
    expect(t.get('a')).toEqual({ epoch: 'e2', offset: 1 });
  });
});

describe('SseParser', () => {
  const stream = [
    ': heartbeat\n\n',
    'event: subscribed\ndata: {"channel":"a"}\n\n',
    'event: event\r\nid: a@e:1\r\ndata: {"x":1}\r\n\r\n',
    'data: line1\ndata: line2\n\n',
    'event: event\nid: a@e:2\ndata:{"y":"é"}\n\n',
  ].join('');
  const expected: SseMessage[] = [
    { event: 'subscribed', data: '{"channel":"a"}', id: undefined },
    { event: 'event', data: '{"x":1}', id: 'a@e:1' },
    { event: 'message', data: 'line1\nline2', id: 'a@e:1' },
    { event: 'event', data: '{"y":"é"}', id: 'a@e:2' },
  ];

  it('parses the same messages however the stream is split into chunks', () => {
    fc.assert(
      fc.property(fc.uniqueArray(fc.integer({ min: 1, max: stream.length - 1 }), { maxLength: 20 }), (cuts) => {
        const points = [0, ...cuts.sort((a, b) => a - b), stream.length];
        const out: SseMessage[] = [];
        const p = new SseParser((m) => out.push(m));
        for (let i = 0; i + 1 < points.length; i++) p.push(stream.slice(points[i], points[i + 1]));
        expect(out).toEqual(expected);
      }),
    );
  });
});

describe('jwtExpiry', () => {
  it('reads exp from a JWT payload (base64url) and returns null for anything else', () => {
    const enc = (o: unknown) => Buffer.from(JSON.stringify(o)).toString('base64url');
    expect(jwtExpiry(`${enc({ alg: 'HS256' })}.${enc({ exp: 1700000000, sub: 'ü~?' })}.sig`)).toBe(1_700_000_000_000);
    expect(jwtExpiry(`${enc({})}.${enc({ sub: 'x' })}.sig`)).toBeNull();
    fc.assert(fc.property(fc.string(), (s) => {
      const r = jwtExpiry(s);
      expect(r === null || Number.isFinite(r)).toBe(true);
    }));
  });
});
