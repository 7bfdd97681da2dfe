/**
 * A client worker process: opens many WebSocket clients of one dialect and kind, and reports
 * counters to the orchestrator over IPC. Sinks never decode after subscribing (they count frames,
 * bytes and an event marker), so thousands of them cost the load generator little.
 */
import WebSocket from 'ws';
import { codecs, type DialectCodec, type Position } from '../lib/dialects.js';
import { createHistogram, encode, recordMs, wallMs } from '../lib/histogram.js';
import {
  EVENT_MARKER,
  PUSHER_EVENT_MARKER,
  type ClientKind,
  type OpenRequest,
  type OpenResult,
  type ReconnectRequest,
  type ReconnectResult,
  type Reply,
  type WorkerRequest,
  type WorkerStats,
  type HandoffResult,
} from '../lib/messages.js';
import { serveIpc } from '../lib/ipc-child.js';
import { RawSink } from './raw-sink.js';
import { buildReader, SinkReader } from './sink-reader.js';

/** What the worker needs from a connection, whichever client implements it. */
interface Conn {
  terminate(): void;
  readonly open: boolean;
}

interface Client {
  conn: Conn | null;
  /** Resolves when the current connection has closed. */
  closed: Promise<void>;
  channel: string;
  kind: ClientKind;
  subscribed: boolean;
  expectClose: boolean;
  lastSeq: number;
  position: Position | null;
  recovered: boolean | null;
  /** S5: sequence this client must reach, and when it did. */
  target: number;
  caughtUpAt: number;
}

let url = '';
let codec: DialectCodec = codecs.native;
let marker = Buffer.from(EVENT_MARKER);
const clients: Client[] = [];
const hist = createHistogram();
const stats = { frames: 0, bytes: 0, events: 0, samples: 0, gaps: 0, duplicates: 0, closedUnexpectedly: 0, errors: 0 };
const closeCodes: Record<string, number> = {};
let onCaughtUp: (() => void) | null = null;
/** The C reader that reads the sinks handed to it (fan-out scenarios), if any. */
let reader: SinkReader | null = null;
let pendingCatchUp = 0;

function onProbeEvents(c: Client, events: ReturnType<DialectCodec['decode']> & { kind: 'events' }): void {
  const now = wallMs();
  for (const e of events.events) {
    if (e.channel !== c.channel) continue;
    stats.events++;
    stats.samples++;
    recordMs(hist, now - e.t0);
    if (e.seq <= c.lastSeq) stats.duplicates++;
    else {
      if (c.lastSeq > 0 && e.seq > c.lastSeq + 1) stats.gaps += e.seq - c.lastSeq - 1;
      c.lastSeq = e.seq;
    }
    if (e.position) c.position = e.position;
  }
  if (c.target > 0 && c.caughtUpAt === 0 && c.lastSeq >= c.target) {
    c.caughtUpAt = wallMs();
    if (--pendingCatchUp === 0 && onCaughtUp) onCaughtUp();
  }
}

function onClosed(c: Client, conn: Conn, code: number): void {
  if (!c.expectClose) {
    stats.closedUnexpectedly++;
    closeCodes[String(code)] = (closeCodes[String(code)] ?? 0) + 1;
  }
  if (c.conn === conn) c.conn = null;
}

/** Opens one client; resolves once it is subscribed (idle: once the handshake is done). */
function connect(c: Client, timeoutMs = 30_000): Promise<void> {
  const attempt = connectOnce(c);
  // An attempt that hangs (a SYN dropped by a full accept queue is retried by the kernel only after
  // 1, 3, 7... s) is abandoned, as a client's connect timeout would.
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      c.expectClose = true;
      c.conn?.terminate();
      reject(new Error(`not subscribed within ${timeoutMs} ms`));
    }, timeoutMs);
  });
  return Promise.race([attempt, timeout]).finally(() => clearTimeout(timer));
}

function connectOnce(c: Client): Promise<void> {
  c.subscribed = false;
  c.expectClose = false;
  let markClosed = (): void => undefined;
  c.closed = new Promise<void>((r) => (markClosed = r));
  if (c.kind !== 'probe') {
    return new Promise((resolve, reject) => {
      const sink: RawSink = new RawSink({
        url,
        codec,
        channel: c.kind === 'idle' ? null : c.channel,
        marker,
        counters: stats,
        onSettled: (err) => (err ? reject(err) : resolve()),
        onClose: (code) => {
          onClosed(c, sink, code);
          markClosed();
        },
      });
      c.conn = sink;
    });
  }
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url, { perMessageDeflate: false });
    const conn: Conn = {
      terminate: () => ws.terminate(),
      get open() {
        return ws.readyState === WebSocket.OPEN;
      },
    };
    c.conn = conn;
    let settled = false;
    const done = (err?: Error): void => {
      if (settled) return;
      settled = true;
      if (err) reject(err);
      else resolve();
    };
    ws.on('message', (buf: Buffer) => {
      const msg = codec.decode(buf.toString());
      if (c.subscribed) {
        stats.frames++;
        stats.bytes += buf.length;
      }
      switch (msg.kind) {
        case 'ready':
          ws.send(codec.subscribe(c.channel, c.position));
          break;
        case 'subscribed':
          c.subscribed = true;
          c.recovered = msg.recovered;
          if (msg.position && !c.position) c.position = msg.position;
          done();
          break;
        case 'events':
          onProbeEvents(c, msg);
          break;
        case 'reply':
          ws.send(msg.text);
          break;
        case 'error':
          stats.errors++;
          if (!c.subscribed) done(new Error(msg.message));
          break;
        case 'other':
          break;
      }
    });
    ws.on('error', (err) => {
      stats.errors++;
      done(err);
    });
    ws.on('close', (code) => {
      onClosed(c, conn, code);
      markClosed();
      done(new Error(`closed ${code} before subscribing`));
    });
  });
}

/** Runs `fn` over items with at most `limit` in flight. */
async function pool<T>(items: T[], limit: number, fn: (item: T) => Promise<void>): Promise<{ failed: number; firstError: string | null }> {
  let next = 0;
  let failed = 0;
  let firstError: string | null = null;
  const lanes = Array.from({ length: Math.min(limit, items.length) }, async () => {
    while (next < items.length) {
      const item = items[next++];
      try {
        await fn(item);
      } catch (err) {
        failed++;
        firstError ??= err instanceof Error ? err.message : String(err);
      }
    }
  });
  await Promise.all(lanes);
  return { failed, firstError };
}

async function open(req: OpenRequest): Promise<OpenResult> {
  url = req.url;
  codec = codecs[req.dialect];
  marker = Buffer.from(req.dialect === 'pusher' ? PUSHER_EVENT_MARKER : EVENT_MARKER);
  const fresh: Client[] = [];
  for (let i = 0; i < req.count; i++) {
    fresh.push({ conn: null, closed: Promise.resolve(), channel: req.channels[i % req.channels.length], kind: req.kind, subscribed: false, expectClose: false, lastSeq: 0, position: null, recovered: null, target: 0, caughtUpAt: 0 });
  }
  clients.push(...fresh);
  const t = performance.now();
  const { failed, firstError } = await pool(fresh, req.concurrency, connect);
  return { opened: req.count - failed, failed, ms: performance.now() - t, firstError };
}

/** Hand every subscribed sink to a C reader process; from then on this process no longer reads them. */
function handoff(): HandoffResult {
  const built = buildReader();
  const sinks = clients.filter((c) => c.kind === 'sink' && c.conn instanceof RawSink);
  if ('error' in built) return { pid: -1, handedOff: 0, kept: sinks.length, error: built.error };
  const fds: number[] = [];
  for (const c of sinks) {
    const fd = (c.conn as RawSink).detach();
    if (fd !== null) fds.push(fd);
  }
  if (fds.length) reader = new SinkReader(built.bin, fds, marker, codec.pingRule);
  return { pid: reader?.pid ?? -1, handedOff: fds.length, kept: sinks.length - fds.length, error: null };
}

async function dropAll(): Promise<void> {
  // The reader holds copies of the sinks' sockets: it goes first, so closing them here closes them.
  await reader?.stop();
  reader = null;
  const closing: Array<Promise<void>> = [];
  for (const c of clients) {
    if (!c.conn) continue;
    c.expectClose = true;
    closing.push(c.closed);
    c.conn.terminate();
  }
  await Promise.all(closing);
}

/** How long one reconnection attempt may take before it is abandoned and retried. */
const RECONNECT_ATTEMPT_MS = 10_000;

async function reconnect(req: ReconnectRequest): Promise<ReconnectResult> {
  const start = wallMs();
  pendingCatchUp = 0;
  for (const c of clients) {
    c.target = req.targets[c.channel] ?? 0;
    c.caughtUpAt = 0;
    c.recovered = null;
    if (c.target > c.lastSeq) pendingCatchUp++;
    else c.caughtUpAt = start;
  }
  const caughtUp = new Promise<void>((resolve) => {
    onCaughtUp = resolve;
    if (pendingCatchUp === 0) resolve();
  });
  // "At once": every client starts its handshake in the same tick. A failed attempt is retried
  // with full-jitter exponential backoff (250 ms doubling to 4 s) until the deadline, as a real
  // client would; retrying at once would only feed a storm.
  const deadline = start + req.timeoutMs;
  let retries = 0;
  let firstError: string | null = null;
  const attempt = async (c: Client): Promise<void> => {
    for (let n = 0; ; n++) {
      try {
        await connect(c, RECONNECT_ATTEMPT_MS);
        return;
      } catch (err) {
        firstError ??= err instanceof Error ? err.message : String(err);
        if (wallMs() > deadline) throw err;
        retries++;
        await new Promise((r) => setTimeout(r, Math.random() * Math.min(4000, 250 * 2 ** n)));
      }
    }
  };
  const { failed } = await pool(clients, clients.length, attempt);
  await Promise.race([caughtUp, new Promise((r) => setTimeout(r, req.timeoutMs))]);
  onCaughtUp = null;
  let recovered = 0;
  let notRecovered = 0;
  let reached = 0;
  let last = start;
  for (const c of clients) {
    if (c.recovered === true) recovered++;
    else if (c.recovered === false) notRecovered++;
    if (c.caughtUpAt > 0) {
      reached++;
      last = Math.max(last, c.caughtUpAt);
    }
  }
  return { recovered, notRecovered, failed, caughtUp: reached, ms: last - start, retries, firstError };
}

async function snapshot(): Promise<WorkerStats> {
  const r = reader ? await reader.counters() : null;
  const codes = { ...closeCodes };
  if (r) for (const [k, v] of Object.entries(r.closeCodes)) codes[k] = (codes[k] ?? 0) + v;
  return {
    ...stats,
    frames: stats.frames + (r?.frames ?? 0),
    bytes: stats.bytes + (r?.bytes ?? 0),
    events: stats.events + (r?.events ?? 0),
    closedUnexpectedly: stats.closedUnexpectedly + (r?.closed ?? 0),
    histogram: encode(hist),
    lastSeq: clients.filter((c) => c.kind === 'probe').map((c) => ({ channel: c.channel, seq: c.lastSeq })),
    // Sinks in the reader still look open here; the reader counts the ones that closed.
    open: clients.filter((c) => c.conn !== null && c.conn.open).length - (r?.closed ?? 0),
    closeCodes: codes,
    rssBytes: process.memoryUsage.rss(),
  };
}

function reset(): void {
  stats.frames = stats.bytes = stats.events = stats.samples = stats.gaps = stats.duplicates = stats.errors = stats.closedUnexpectedly = 0;
  for (const k of Object.keys(closeCodes)) delete closeCodes[k];
  hist.reset();
  reader?.reset();
}

serveIpc<WorkerRequest>(async (req): Promise<Reply<unknown>> => {
  switch (req.cmd) {
    case 'open':
      return { rid: req.rid, ok: true, result: await open(req) };
    case 'reset':
      reset();
      return { rid: req.rid, ok: true, result: null };
    case 'stats':
      return { rid: req.rid, ok: true, result: await snapshot() };
    case 'handoff':
      return { rid: req.rid, ok: true, result: handoff() };
    case 'drop':
      await dropAll();
      return { rid: req.rid, ok: true, result: null };
    case 'reconnect':
      return { rid: req.rid, ok: true, result: await reconnect(req) };
    case 'exit':
      await dropAll();
      return { rid: req.rid, ok: true, result: null };
  }
});
