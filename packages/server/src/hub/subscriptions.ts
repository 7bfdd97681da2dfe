/**
 * The subscription index: fan-out touches only subscriptions that can match a channel.
 * Exact channels and whole namespaces are map lookups; other prefix patterns are a short list.
 */
import type { Envelope } from './envelope.js';
import type { Subscription } from './session.js';

export class SubscriptionIndex {
  private exact = new Map<string, Subscription[]>();
  private byNamespace = new Map<string, Subscription[]>();
  private prefixes: Subscription[] = [];
  private count = 0;

  size(): number {
    return this.count;
  }

  add(s: Subscription): void {
    if (s.indexed) return;
    s.indexed = true;
    this.count++;
    if (s.kind === 2) {
      this.prefixes.push(s);
      return;
    }
    const map = s.kind === 0 ? this.exact : this.byNamespace;
    const list = map.get(s.key);
    if (list) list.push(s);
    else map.set(s.key, [s]);
  }

  remove(s: Subscription): void {
    let list: Subscription[] | undefined;
    if (s.kind === 2) list = this.prefixes;
    else list = (s.kind === 0 ? this.exact : this.byNamespace).get(s.key);
    if (!list) return;
    const i = list.indexOf(s);
    if (i < 0) return;
    s.indexed = false;
    this.count--;
    const last = list.pop()!;
    if (i < list.length) list[i] = last;
    if (list.length === 0 && s.kind !== 2) (s.kind === 0 ? this.exact : this.byNamespace).delete(s.key);
  }

  /** Hand the envelope to every matching subscription's session. */
  fanout(env: Envelope): number {
    let n = 0;
    const ch = env.event.channel;
    const a = this.exact.get(ch);
    if (a !== undefined) for (let i = 0; i < a.length; i++) n += deliver(a[i], env);
    const b = this.byNamespace.get(env.ns);
    if (b !== undefined) for (let i = 0; i < b.length; i++) n += deliver(b[i], env);
    const p = this.prefixes;
    for (let i = 0; i < p.length; i++) if (ch.startsWith(p[i].key)) n += deliver(p[i], env);
    return n;
  }
}

function deliver(s: Subscription, env: Envelope): number {
  if (!s.accepts(env)) return 0;
  if (s.buffer !== null) {
    s.buffer.push(env);
    return 1;
  }
  s.session.push(env, s);
  return 1;
}
