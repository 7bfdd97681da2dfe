/**
 * A recorder for `socket.io-client` sockets: every event the server emits (via `onAny`) plus the
 * lifecycle events `onAny` does not see (connect, connect_error, disconnect), in arrival order.
 */
import { io, type Socket, type ManagerOptions, type SocketOptions } from 'socket.io-client';
import { waitFor, type WaitOptions } from './wait.js';

export interface SioRecord {
  event: string;
  args: unknown[];
}

export class SioCollector {
  readonly records: SioRecord[] = [];

  constructor(readonly socket: Socket) {
    socket.onAny((event: string, ...args: unknown[]) => this.records.push({ event, args }));
    socket.on('connect', () => this.records.push({ event: 'connect', args: [] }));
    socket.on('connect_error', (err: Error) => this.records.push({ event: 'connect_error', args: [err] }));
    socket.on('disconnect', (reason: string) => this.records.push({ event: 'disconnect', args: [reason] }));
  }

  /**
   * Create a socket (auto-connecting unless `autoConnect: false`) and record it. Reconnection
   * is off unless asked for, so a refused connection fails fast.
   */
  static connect(url: string, opts: Partial<ManagerOptions & SocketOptions> = {}): SioCollector {
    return new SioCollector(io(url, { reconnection: false, forceNew: true, ...opts }));
  }

  mark(): number {
    return this.records.length;
  }

  /** First payloads (args[0]) of `event` from index `from` on. */
  payloads<T = Record<string, unknown>>(event: string, from = 0): T[] {
    return this.records
      .slice(from)
      .filter((r) => r.event === event)
      .map((r) => r.args[0] as T);
  }

  /** Wait for the first `event` from `from` on whose first argument satisfies `pred`. */
  next<T = Record<string, unknown>>(event: string, pred: (p: T) => boolean = () => true, opts: WaitOptions & { from?: number } = {}): Promise<T> {
    const from = opts.from ?? 0;
    return waitFor(
      () => {
        const r = this.records.slice(from).find((x) => x.event === event && pred(x.args[0] as T));
        return r ? { v: r.args[0] as T } : null;
      },
      { what: `socket.io event '${event}'`, ...opts },
    ).then((x) => x.v);
  }

  /** Wait until `n` payloads of `event` (from `from` on) satisfy `pred`. */
  count<T = Record<string, unknown>>(event: string, n: number, pred: (p: T) => boolean = () => true, opts: WaitOptions & { from?: number } = {}): Promise<T[]> {
    return waitFor(
      () => {
        const got = this.payloads<T>(event, opts.from ?? 0).filter(pred);
        return got.length >= n ? got : null;
      },
      { what: `${n} socket.io '${event}' events`, ...opts },
    );
  }

  /** Wait until connected; throws the connect_error if the server refused. */
  async connected(opts: WaitOptions = {}): Promise<void> {
    const r = await waitFor(() => this.records.find((x) => x.event === 'connect' || x.event === 'connect_error'), { what: 'socket.io connect', ...opts });
    if (r.event === 'connect_error') throw r.args[0] as Error;
  }

  /** Emit with an acknowledgement and resolve with the server's answer (fails after the timeout). */
  ack<T = unknown>(event: string, ...args: unknown[]): Promise<T> {
    return this.socket.timeout(15_000).emitWithAck(event, ...args) as Promise<T>;
  }

  close(): void {
    this.socket.close();
  }
}
