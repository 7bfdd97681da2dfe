/** Small HTTP helpers over Node's fetch for talking to a test server. */

export interface HttpResult<T = unknown> {
  status: number;
  headers: Headers;
  body: T;
  text: string;
}

export async function http<T = unknown>(
  method: string,
  url: string,
  opts: { body?: unknown; token?: string; headers?: Record<string, string> } = {},
): Promise<HttpResult<T>> {
  const headers: Record<string, string> = { ...opts.headers };
  if (opts.token) headers.authorization = `Bearer ${opts.token}`;
  let body: string | undefined;
  if (opts.body !== undefined) {
    body = typeof opts.body === 'string' ? opts.body : JSON.stringify(opts.body);
    if (!Object.keys(headers).some((k) => k.toLowerCase() === 'content-type')) headers['content-type'] = 'application/json';
  }
  const res = await fetch(url, { method, headers, body });
  const text = await res.text();
  let parsed: unknown = text;
  try {
    parsed = JSON.parse(text);
  } catch {
    // not JSON (Prometheus text, empty body): keep the text
  }
  return { status: res.status, headers: res.headers, body: parsed as T, text };
}

export interface IngestAnswer {
  accepted: number;
  duplicates: number;
  rejected: number;
  events: Array<{ index: number; id: string; channel: string; offset: number; epoch: string }>;
  errors: Array<{ index: number; code: string; message: string }>;
}

/** `POST /v1/events?wait=durable` with one event or an array; throws unless every item was accepted. */
export async function postEvents(baseUrl: string, events: unknown, token?: string): Promise<IngestAnswer> {
  const r = await http<IngestAnswer>('POST', `${baseUrl}/v1/events?wait=durable`, { body: events, token });
  const n = Array.isArray(events) ? events.length : 1;
  if (r.status !== 200 || r.body.accepted !== n) throw new Error(`ingest failed: ${r.status} ${r.text}`);
  return r.body;
}
