/**
 * A recorder for plain WebSocket clients (`ws`): keeps every JSON message in arrival order so a
 * test can wait for the one it expects, and remembers how the connection closed.
 */
import WebSocket from 'ws';
import { waitFor, type WaitOptions } from './wait.js';

export type Json = Record<string, unknown>;
export type Pred<T> = (m: T) => boolean;

export class WsCollector {
  /** Parsed JSON messages, in arrival order. Non-JSON frames are kept as `{ __raw: string }`. */
  readonly messages: Json[] = [];
  closeCode: number | null = null;
  closeReason = '';
  error: Error | null = null;

  constructor(readonly ws: WebSocket) {
    ws.on('message', (data: WebSocket.RawData) => {
      const text = data.toString();
      let m: unknown;
      try {
        m = JSON.parse(text);
      } catch {
        m = { __raw: text };
      }
      this.messages.push(typeof m === 'object' && m !== null && !Array.isArray(m) ? (m as Json) : { __value: m });
    });
    ws.on('close', (code, reason) => {
      this.closeCode = code;
      this.closeReason = reason.toString();
    });
    ws.on('error', (e) => (this.error = e));
  }

  /** Open a connection to `url` and wait until it is open (or closed / failed). */
  static async open(url: string, opts: WebSocket.ClientOptions = {}): Promise<WsCollector> {
    const c = new WsCollector(new WebSocket(url, opts));
    await c.opened();
    return c;
  }

  /** Wait until the socket is open; throws if it closed or failed first. */
  async opened(opts: WaitOptions = {}): Promise<void> {
    await waitFor(() => this.ws.readyState !== WebSocket.CONNECTING || this.error, { what: 'WebSocket open', ...opts });
    if (this.ws.readyState !== WebSocket.OPEN && this.closeCode === null && this.error) throw this.error;
  }

  /** Index of the next message: pass it as `from` to wait only for later messages. */
  mark(): number {
    return this.messages.length;
  }

  send(m: unknown): void {
    this.ws.send(typeof m === 'string' ? m : JSON.stringify(m));
  }

  /** Send messages in one TCP write, so that the server handles them back to back. */
  sendTogether(msgs: unknown[]): void {
    const socket = (this.ws as unknown as { _socket: import('node:net').Socket })._socket;
    socket.cork();
    for (const m of msgs) this.send(m);
    socket.uncork();
  }

  /** Messages (from index `from`) that satisfy `pred`. */
  all(pred: Pred<Json> = () => true, from = 0): Json[] {
    return this.messages.slice(from).filter(pred);
  }

  /** Messages of one `type` (from index `from`). */
  ofType(type: string, from = 0): Json[] {
    return this.all((m) => m.type === type, from);
  }

  /** The first message from `from` on that satisfies `pred`, waiting for it. */
  next(pred: Pred<Json>, opts: WaitOptions & { from?: number } = {}): Promise<Json> {
    const from = opts.from ?? 0;
    return waitFor(() => this.messages.slice(from).find(pred), { what: 'a matching WebSocket message', ...opts });
  }

  /** The first message of `type` from `from` on (and matching `pred`), waiting for it. */
  nextOfType(type: string, pred: Pred<Json> = () => true, opts: WaitOptions & { from?: number } = {}): Promise<Json> {
    return this.next((m) => m.type === type && pred(m), { what: `message of type '${type}'`, ...opts });
  }

  /** Wait until `n` messages from `from` on satisfy `pred`, and return them. */
  async count(pred: Pred<Json>, n: number, opts: WaitOptions & { from?: number } = {}): Promise<Json[]> {
    const from = opts.from ?? 0;
    return waitFor(
      () => {
        const got = this.all(pred, from);
        return got.length >= n ? got : null;
      },
      { what: `${n} matching WebSocket messages`, ...opts },
    );
  }

  /** Send a message and wait for the first later message that satisfies `pred`. */
  request(m: unknown, pred: Pred<Json>, opts: WaitOptions = {}): Promise<Json> {
    const from = this.mark();
    this.send(m);
    return this.next(pred, { ...opts, from });
  }

  /** Wait for the connection to close; returns its code and reason. */
  async closed(opts: WaitOptions = {}): Promise<{ code: number; reason: string }> {
    await waitFor(() => this.closeCode !== null, { what: 'WebSocket close', ...opts });
    return { code: this.closeCode as number, reason: this.closeReason };
  }

  close(): void {
    if (this.ws.readyState === WebSocket.OPEN || this.ws.readyState === WebSocket.CONNECTING) this.ws.terminate();
  }
}
