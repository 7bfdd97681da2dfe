/**
 * What every bench peer shares: the publish API (`POST /v1/events` with a JSON array of
 * `{channel, type, data}`, the same request Pulse takes), the event shape it pushes (Pulse's
 * `PulseEvent` fields, so frames weigh about the same), and a clean exit on SIGTERM.
 */
import http from 'node:http';

export interface PeerEvent {
  id: string;
  channel: string;
  type: string;
  ts: number;
  data: unknown;
  epoch: string;
  offset: number;
}

interface InputEvent {
  channel: string;
  type: string;
  data?: unknown;
}

function isInput(v: unknown): v is InputEvent {
  if (typeof v !== 'object' || v === null) return false;
  const r = v as Record<string, unknown>;
  return typeof r.channel === 'string' && typeof r.type === 'string';
}

const epoch = Date.now().toString(36);
const offsets = new Map<string, number>();
let nextId = 0;

/** Assigns ids and per-channel offsets the way a log would. */
export function toEvent(input: InputEvent): PeerEvent {
  const offset = (offsets.get(input.channel) ?? 0) + 1;
  offsets.set(input.channel, offset);
  return { id: `e${++nextId}`, channel: input.channel, type: input.type, ts: Date.now(), data: input.data ?? {}, epoch, offset };
}

/** An HTTP server whose `POST /v1/events` hands each decoded batch to `publish`. */
export function createIngestServer(publish: (events: PeerEvent[]) => void): http.Server {
  return http.createServer((req, res) => {
    if (req.method !== 'POST' || !req.url?.startsWith('/v1/events')) {
      res.writeHead(req.method === 'GET' ? 200 : 404).end();
      return;
    }
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      let body: unknown;
      try {
        body = JSON.parse(Buffer.concat(chunks).toString());
      } catch {
        res.writeHead(400, { 'content-type': 'application/json' }).end('{"code":"INVALID_JSON"}');
        return;
      }
      const inputs = Array.isArray(body) ? body : [body];
      if (!inputs.every(isInput)) {
        res.writeHead(400, { 'content-type': 'application/json' }).end('{"code":"INVALID_EVENT"}');
        return;
      }
      const events = inputs.map(toEvent);
      publish(events);
      res.writeHead(202, { 'content-type': 'application/json' }).end(`{"accepted":${events.length}}`);
    });
  });
}

export function listen(server: http.Server): void {
  const port = Number(process.env.PORT);
  if (!Number.isInteger(port) || port <= 0) throw new Error('PORT must be set to a free port');
  server.listen(port, '127.0.0.1');
  // --cpu-prof writes its profile only on a normal exit.
  process.on('SIGTERM', () => process.exit(0));
  process.on('SIGINT', () => process.exit(0));
}
