/**
 * Seed clients across a server restart: plain WebSocket profiles are closed with 1012 (service
 * restart) so their reconnect logic runs; Socket.IO clients with the seed's reconnection options
 * come back on their own, are auto-joined again, and a client that subscribes on `connect` (the
 * seed's Vue example) gets its room's events again.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { io } from 'socket.io-client';
import { CLOSE_CODES } from '@pulse/protocol';
import { Cleanup, SioCollector, WsCollector, startTestServer, tokenFor, waitFor } from './support/index.js';

const cleanup = new Cleanup();
afterEach(() => cleanup.run());

describe('seed clients across a server restart', () => {
  it('001, 002 and 003 connections are closed with 1012 when the server stops', async () => {
    const s = cleanup.server(await startTestServer());
    const content = cleanup.closable(await WsCollector.open(`${s.wsUrl}/analytics`));
    const vowswap = cleanup.closable(await WsCollector.open(`${s.wsUrl}/api/websocket/analytics`));
    const knowton = cleanup.closable(await WsCollector.open(`${s.wsUrl}/ws/metrics`));
    await content.nextOfType('connected');
    await vowswap.nextOfType('connect');
    await knowton.nextOfType('metrics');
    await s.stop();
    for (const c of [content, vowswap, knowton]) expect((await c.closed()).code).toBe(CLOSE_CODES.SERVICE_RESTART);
  });

  it("004: the document's client reconnects by itself, is auto-joined again and resubscribes on `connect`", async () => {
    let s = cleanup.server(await startTestServer({ auth: 'jwt' }));
    const address = '0xA11CE00000000000000000000000000000000001';
    const token = await tokenFor('user-1', address, 'user');
    // The Vue example: subscribe inside the `connect` handler (so it runs again on reconnect).
    const socket = io(s.url, {
      auth: { token },
      transports: ['websocket', 'polling'],
      reconnection: true,
      reconnectionAttempts: 5,
      reconnectionDelay: 1000,
      forceNew: true,
    });
    const c = cleanup.closable(new SioCollector(socket));
    socket.on('connect', () => {
      socket.emit('subscribe', {
        room: 'market',
        id: 'market123',
      });
    });
    await c.connected();
    await waitFor(async () => (await c.ack<string[]>('getRooms')).includes('market:market123'), 'market room joined');

    const from = c.mark();
    s = cleanup.server(await s.restart({}, { samePort: true }));
    await c.next('disconnect', () => true, { from });
    const hello = await c.next<{ rooms: string[] }>('connected', () => true, { from, timeoutMs: 15_000 });
    expect([...hello.rooms].sort()).toEqual(['global:all', `user:${address}`].sort());
    await waitFor(async () => (await c.ack<string[]>('getRooms')).includes('market:market123'), 'market room joined again');

    await s.hub.ingest(
      [
        { channel: 'market:market123', type: 'market:trade', data: { tradeId: 't-after-restart' } },
        { channel: `user:${address}`, type: 'notification', data: { title: 'after restart' } },
      ],
      { wait: 'durable' },
    );
    expect(await c.next<{ data: unknown }>('market:trade', () => true, { from })).toMatchObject({ type: 'market:trade', data: { tradeId: 't-after-restart' } });
    expect(await c.next<{ data: unknown }>('notification', () => true, { from })).toMatchObject({ data: { title: 'after restart' } });
  });
});
