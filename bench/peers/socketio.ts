/**
 * The baseline users hand-build, written the way the seeds do it: a Socket.IO server where a
 * `subscribe` joins a room and every event goes out with `io.to(room).emit('event', event)`.
 * Publishing uses the shared `POST /v1/events` API.
 */
import { Server } from 'socket.io';
import { createIngestServer, listen, type PeerEvent } from './common.js';

const server = createIngestServer(publish);
const io = new Server(server, { cors: { origin: '*' } });

function publish(events: PeerEvent[]): void {
  for (const ev of events) io.to(ev.channel).emit('event', ev);
}

io.on('connection', (socket) => {
  socket.emit('connected', { message: 'Connected', socketId: socket.id, timestamp: Date.now() });
  socket.on('subscribe', (msg: unknown, ack?: (r: unknown) => void) => {
    const channel = typeof msg === 'object' && msg !== null ? (msg as { channel?: unknown }).channel : undefined;
    if (typeof channel !== 'string') {
      socket.emit('error', { message: 'channel required', code: 'INVALID_SUBSCRIPTION' });
      return;
    }
    void socket.join(channel);
    ack?.({ success: true, room: channel, message: `Subscribed to ${channel}` });
  });
});
listen(server);
