/**
 * Bare `ws` broadcast server — the ceiling. It speaks the subset of Pulse's native protocol the
 * generator uses (`welcome`, `subscribe` → `reply`, `events` pushes), so clients are identical.
 *
 * COALESCE=false: one frame per event per subscriber (each event encoded once).
 * COALESCE=true: events published in the same tick are gathered per channel and sent as one
 * frame per subscriber at the next `setImmediate` — no added timer delay.
 */
import { WebSocketServer, type WebSocket } from 'ws';
import { createIngestServer, listen, type PeerEvent } from './common.js';

const coalesce = process.env.COALESCE === 'true';
const subscribers = new Map<string, Set<WebSocket>>();
const pending = new Map<string, PeerEvent[]>();
let flushScheduled = false;

function sendTo(channel: string, frame: string): void {
  const subs = subscribers.get(channel);
  if (subs) for (const ws of subs) ws.send(frame);
}

function flush(): void {
  flushScheduled = false;
  for (const [channel, events] of pending) sendTo(channel, JSON.stringify({ type: 'events', events }));
  pending.clear();
}

function publish(events: PeerEvent[]): void {
  for (const ev of events) {
    if (!coalesce) {
      sendTo(ev.channel, JSON.stringify({ type: 'events', events: [ev] }));
      continue;
    }
    const list = pending.get(ev.channel);
    if (list) list.push(ev);
    else pending.set(ev.channel, [ev]);
  }
  if (coalesce && !flushScheduled && pending.size > 0) {
    flushScheduled = true;
    setImmediate(flush);
  }
}

const server = createIngestServer(publish);
const wss = new WebSocketServer({ server, path: '/ws' });
let session = 0;
wss.on('connection', (ws) => {
  const mine = new Set<string>();
  ws.send(JSON.stringify({ type: 'welcome', protocol: 1, session: `s${++session}`, userId: null, serverTime: Date.now(), heartbeatMs: 30_000 }));
  ws.on('message', (buf: Buffer) => {
    let msg: { op?: unknown; id?: unknown; channel?: unknown };
    try {
      msg = JSON.parse(buf.toString()) as typeof msg;
    } catch {
      ws.send(JSON.stringify({ type: 'error', code: 'INVALID_JSON', message: 'frame is not JSON' }));
      return;
    }
    if (msg.op !== 'subscribe' || typeof msg.channel !== 'string') {
      ws.send(JSON.stringify({ type: 'error', id: msg.id, code: 'UNSUPPORTED', message: 'the bench peer only subscribes' }));
      return;
    }
    const channel = msg.channel;
    let subs = subscribers.get(channel);
    if (!subs) subscribers.set(channel, (subs = new Set()));
    subs.add(ws);
    mine.add(channel);
    ws.send(JSON.stringify({ type: 'reply', id: msg.id, op: 'subscribe', result: { channel, types: null } }));
  });
  ws.on('close', () => {
    for (const channel of mine) subscribers.get(channel)?.delete(ws);
  });
});
listen(server);
