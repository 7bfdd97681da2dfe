/**
 * An in-process scripted WebSocket for tests on fake timers (real sockets cannot run on fake
 * time): the test plays the server with `welcome`, `push`, `reply` and `drop`. The same
 * behaviour is checked against the real server in server.test.ts.
 */
import type { WebSocketLike } from '../src/env.js';

export class ScriptedSocket implements WebSocketLike {
  static all: ScriptedSocket[] = [];
  readyState = 0;
  sent: Array<Record<string, unknown>> = [];
  onopen: WebSocketLike['onopen'] = null;
  onmessage: WebSocketLike['onmessage'] = null;
  onclose: WebSocketLike['onclose'] = null;
  onerror: WebSocketLike['onerror'] = null;
  constructor(readonly url: string) {
    ScriptedSocket.all.push(this);
  }
  send(data: string): void {
    this.sent.push(JSON.parse(data) as Record<string, unknown>);
  }
  close(code = 1000, reason = ''): void {
    if (this.readyState === 3) return;
    this.readyState = 3;
    this.onclose?.({ code, reason });
  }
  // server side
  push(msg: unknown): void {
    this.onmessage?.({ data: JSON.stringify(msg) });
  }
  welcome(): void {
    this.readyState = 1;
    this.push({ type: 'welcome', protocol: 1, session: 's', userId: null, serverTime: 0, heartbeatMs: 0 });
  }
  drop(code = 1006, reason = ''): void {
    this.readyState = 3;
    this.onclose?.({ code, reason });
  }
  reply(op: string, result: unknown): void {
    const req = [...this.sent].reverse().find((m) => m.op === op);
    if (!req) throw new Error(`no ${op} request sent`);
    this.push({ type: 'reply', id: req.id, op, result });
  }
}

export const last = () => ScriptedSocket.all[ScriptedSocket.all.length - 1]!;
