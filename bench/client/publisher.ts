/**
 * The publisher process: posts events at a target rate through each server's own HTTP ingest
 * (the same batches for every peer). Every event's data carries `t0` — the wall time at which the
 * publisher created it — and a per-channel sequence number `seq` starting at 1.
 */
import http from 'node:http';
import { createHash, createHmac } from 'node:crypto';
import { createHistogram, encode, recordMs, wallMs } from '../lib/histogram.js';
import { serveIpc } from '../lib/ipc-child.js';
import type { PublisherRequest, PublishResult, PublishStart, PublishTarget, Reply } from '../lib/messages.js';

const TICK_MS = 5;
const DEFAULT_INFLIGHT = 4;
/** Events per request at most; a backlog is sent in batches this large. */
const MAX_BATCH = 2000;

interface Pending {
  channel: string;
  data: { t0: number; seq: number; pad: string };
}

const agent = new http.Agent({ keepAlive: true, maxSockets: DEFAULT_INFLIGHT });
let maxInflight = DEFAULT_INFLIGHT;
const seqs = new Map<string, number>();
const postHist = createHistogram();
let queue: Pending[] = [];
let inflight = 0;
let timer: NodeJS.Timeout | null = null;
let run = { acked: 0, due: 0, failed: 0, requests: 0, firstError: null as string | null, start: 0, stoppedAt: 0 };
let cfg: PublishStart | null = null;
let rr = 0;
let idle: (() => void) | null = null;

/**
 * One POST. A kept-alive socket the server closed while it sat idle between steps fails with
 * ECONNRESET before the server read anything; that request is sent again once, on a new socket
 * (the pattern Node's http documentation gives for `reusedSocket`).
 */
function post(url: URL, body: string, retried = false): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = http.request(
      url,
      { method: 'POST', agent, headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) } },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => {
          const status = res.statusCode ?? 0;
          if (status >= 200 && status < 300) resolve(status);
          else reject(new Error(`HTTP ${status}: ${Buffer.concat(chunks).toString().slice(0, 200)}`));
        });
      },
    );
    req.on('error', (err: NodeJS.ErrnoException) => {
      if (!retried && req.reusedSocket && err.code === 'ECONNRESET') resolve(post(url, body, true));
      else reject(err);
    });
    req.end(body);
  });
}

function pusherRequest(t: Extract<PublishTarget, { kind: 'pusher' }>, batch: Pending[]): { url: URL; body: string } {
  const body = JSON.stringify({ batch: batch.map((e) => ({ name: 'tick', channel: e.channel, data: JSON.stringify(e.data) })) });
  const path = `/apps/${t.appId}/batch_events`;
  const params: Record<string, string> = {
    auth_key: t.key,
    auth_timestamp: String(Math.floor(Date.now() / 1000)),
    auth_version: '1.0',
    body_md5: createHash('md5').update(body).digest('hex'),
  };
  const query = Object.keys(params)
    .sort()
    .map((k) => `${k}=${params[k]}`)
    .join('&');
  const signature = createHmac('sha256', t.secret).update(`POST\n${path}\n${query}`).digest('hex');
  return { url: new URL(`${t.baseUrl}${path}?${query}&auth_signature=${signature}`), body };
}

function send(batch: Pending[]): void {
  if (!cfg) return;
  const t = cfg.target;
  // Each request with the events it carries: a Pusher batch is split into requests of at most
  // maxBatch events, the last one holding the rest.
  const requests: Array<{ url: URL; body: string; events: Pending[] }> = [];
  if (t.kind === 'json-array') {
    requests.push({ url: new URL(t.url), body: JSON.stringify(batch.map((e) => ({ channel: e.channel, type: 'tick', data: e.data }))), events: batch });
  } else {
    for (let i = 0; i < batch.length; i += t.maxBatch) {
      const events = batch.slice(i, i + t.maxBatch);
      requests.push({ ...pusherRequest(t, events), events });
    }
  }
  for (const r of requests) {
    const n = r.events.length;
    inflight++;
    run.requests++;
    // From the oldest event's creation, so time spent queued behind a slow server counts too.
    const oldest = r.events[0].data.t0;
    post(r.url, r.body)
      .then(() => {
        run.acked += n;
        recordMs(postHist, wallMs() - oldest);
      })
      .catch((err: unknown) => {
        run.failed += n;
        run.firstError ??= err instanceof Error ? err.message : String(err);
      })
      .finally(() => {
        inflight--;
        flush();
      });
  }
}

function flush(): void {
  while (queue.length > 0 && inflight < maxInflight) {
    const batch = queue.length <= MAX_BATCH ? queue : queue.slice(0, MAX_BATCH);
    queue = queue.length <= MAX_BATCH ? [] : queue.slice(MAX_BATCH);
    send(batch);
  }
  if (queue.length === 0 && inflight === 0 && idle) idle();
}

function tick(): void {
  if (!cfg) return;
  const now = wallMs();
  const due = Math.floor(((now - run.start) / 1000) * cfg.rate);
  const pad = 'x'.repeat(cfg.padBytes);
  while (run.due < due) {
    const channel = cfg.channels[rr++ % cfg.channels.length];
    const seq = (seqs.get(channel) ?? 0) + 1;
    seqs.set(channel, seq);
    queue.push({ channel, data: { t0: now, seq, pad } });
    run.due++;
  }
  flush();
}

function start(req: PublishStart): null {
  cfg = req;
  maxInflight = Math.min(DEFAULT_INFLIGHT, Math.max(1, req.maxInflight ?? DEFAULT_INFLIGHT));
  run = { acked: 0, due: 0, failed: 0, requests: 0, firstError: null, start: wallMs(), stoppedAt: 0 };
  postHist.reset();
  timer = setInterval(tick, TICK_MS);
  return null;
}

async function stop(): Promise<PublishResult> {
  if (timer) clearInterval(timer);
  timer = null;
  run.stoppedAt = wallMs();
  if (queue.length > 0 || inflight > 0) {
    // Bounded: a server that stopped answering must not hang the run.
    await Promise.race([new Promise<void>((r) => (idle = r)), new Promise((r) => setTimeout(r, 15_000))]);
    idle = null;
  }
  return {
    acked: run.acked,
    due: run.due,
    failed: run.failed + queue.length,
    firstError: run.firstError,
    ms: run.stoppedAt - run.start,
    seqs: Object.fromEntries(seqs),
    postHistogram: encode(postHist),
    requests: run.requests,
  };
}

serveIpc<PublisherRequest>(async (req): Promise<Reply<unknown>> => {
  switch (req.cmd) {
    case 'start':
      return { rid: req.rid, ok: true, result: start(req) };
    case 'stop':
      return { rid: req.rid, ok: true, result: await stop() };
    case 'seqs':
      return { rid: req.rid, ok: true, result: Object.fromEntries(seqs) };
    case 'exit':
      if (timer) clearInterval(timer);
      return { rid: req.rid, ok: true, result: null };
  }
});
