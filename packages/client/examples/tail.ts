/**
 * Tail channels from the command line: one JSON line per event on stdout, connection changes on
 * stderr. Survives server restarts without losing or repeating events.
 *
 *   node --import tsx packages/client/examples/tail.ts http://localhost:3002 'market:*' global:all
 *
 * PULSE_TOKEN sets a JWT when the server requires one.
 */
import WebSocket from 'ws';
import { PulseClient, type WebSocketCtor } from '@pulse/client';

const [url = 'http://localhost:3002', ...targets] = process.argv.slice(2);
if (targets.length === 0) targets.push('global:all');

const client = new PulseClient({
  url,
  token: process.env.PULSE_TOKEN,
  // Node 20 has no global WebSocket; browsers and Node 22+ do.
  WebSocket: (globalThis as { WebSocket?: WebSocketCtor }).WebSocket ?? (WebSocket as unknown as WebSocketCtor),
});
client.on('state', (c) => process.stderr.write(`[pulse] ${c.oldState} -> ${c.newState} (${c.code}: ${c.reason})\n`));
client.on('error', (e) => process.stderr.write(`[pulse] error ${e.code}: ${e.message}\n`));
for (const target of targets) {
  const sub = client.subscribe(target, (e) => process.stdout.write(JSON.stringify({ channel: e.channel, offset: e.offset, type: e.type, data: e.data }) + '\n'));
  sub.on('subscribed', (i) => process.stderr.write(`[pulse] subscribed ${i.target}${i.recovered === false ? ' (events were lost: refetch)' : ''}\n`));
}
client.connect();
process.on('SIGINT', () => {
  client.disconnect();
  process.exit(0);
});
