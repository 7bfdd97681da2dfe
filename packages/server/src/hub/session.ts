/**
 * What every gateway's connection is to the hub: a principal, its subscriptions, and a queue of
 * envelopes waiting for the next flush. Gateways only decode client messages into hub calls and
 * encode what `flush` finds in the queue.
 */
import { randomUUID } from 'node:crypto';
import type { Envelope, DialectId } from './envelope.js';
import type { Principal } from '../auth/principal.js';

export class Subscription {
  /** 0: exact channel, 1: whole namespace (`ns` or `ns:*`), 2: other prefix pattern. */
  readonly kind: 0 | 1 | 2;
  readonly key: string;
  /** Live events arriving while a recovery reads the store wait here. */
  buffer: Envelope[] | null = null;
  /** Maintained by the index. */
  indexed = false;
  constructor(
    readonly session: Session,
    readonly target: string,
    readonly types: Set<string> | null,
    readonly dialect: DialectId,
    /** Organisation scope: events of another organisation are not delivered. */
    readonly orgId: string | null,
    /** Joined by the server (auto-joined rooms): does not count against the client's limit. */
    readonly system = false,
    /** Client scope (seed 001): events whose `data.clientId` names another client are not delivered. */
    readonly clientId: string | null = null,
  ) {
    if (target.endsWith('*')) {
      const prefix = target.slice(0, -1);
      const colon = prefix.indexOf(':');
      if (colon === prefix.length - 1) {
        this.kind = 1;
        this.key = prefix.slice(0, -1);
      } else {
        this.kind = 2;
        this.key = prefix;
      }
    } else if (!target.includes(':')) {
      // A bare namespace covers the namespace channel itself and all of `ns:*`.
      this.kind = 1;
      this.key = target;
    } else {
      this.kind = 0;
      this.key = target;
    }
  }

  matches(channel: string): boolean {
    if (this.kind === 0) return channel === this.key;
    if (this.kind === 1) return channel === this.key || channel.startsWith(this.key + ':');
    return channel.startsWith(this.key);
  }

  accepts(env: Envelope): boolean {
    if (this.types !== null && !this.types.has(env.event.type)) return false;
    if (this.orgId !== null && env.event.orgId !== undefined && env.event.orgId !== this.orgId) return false;
    if (this.clientId !== null) {
      const c = env.event.data.clientId;
      if (typeof c === 'string' && c !== this.clientId) return false;
    }
    return true;
  }
}

export interface SessionHost {
  markDirty(s: Session): void;
}

export abstract class Session {
  readonly id = randomUUID();
  readonly subs = new Map<string, Subscription>();
  /** Envelopes and the subscription each matched, in delivery order. */
  protected queue: Envelope[] = [];
  protected queueSubs: Subscription[] = [];
  private lastStamp = -1;
  dirty = false;
  closed = false;
  abstract readonly dialectName: string;
  /** The last ordered request (see `inOrder`) still in progress, or null. */
  private lane: Promise<void> | null = null;

  constructor(
    protected readonly host: SessionHost,
    public principal: Principal,
  ) {}

  /**
   * Run `fn` now when no ordered request is in progress, else after the last one (skipped if the
   * connection has closed meanwhile). Requests that change what a connection receives (subscribe,
   * unsubscribe, a token renewal) go through here: a subscribe finishes asynchronously (rate
   * limiter, permission checks, recovery), and one sent right after it must see it done. `fn`
   * answers the request itself and should not reject. The promise settles once `fn` has finished.
   */
  inOrder(fn: () => void | Promise<void>): Promise<void> {
    const prev = this.lane;
    const p = prev === null ? fn() : prev.then(() => (this.closed ? undefined : fn()));
    if (p === undefined) return Promise.resolve();
    const mine: Promise<void> = p.then(
      () => {
        if (this.lane === mine) this.lane = null;
      },
      () => {
        if (this.lane === mine) this.lane = null;
      },
    );
    this.lane = mine;
    return mine;
  }

  /** Queue an envelope; an envelope matched by two of this session's subscriptions goes once. */
  push(env: Envelope, sub: Subscription): void {
    if (env.stamp === this.lastStamp || this.closed) return;
    this.lastStamp = env.stamp;
    this.queue.push(env);
    this.queueSubs.push(sub);
    if (!this.dirty) {
      this.dirty = true;
      this.host.markDirty(this);
    }
  }

  /** Queue events replayed for a recovery (they may predate the last live stamp). */
  replay(envs: readonly Envelope[], sub: Subscription): void {
    if (this.closed || envs.length === 0) return;
    for (const env of envs) {
      this.queue.push(env);
      this.queueSubs.push(sub);
    }
    if (!this.dirty) {
      this.dirty = true;
      this.host.markDirty(this);
    }
  }

  /** Write the queue to the wire and empty it. Called by the hub once per cycle. */
  abstract flush(): void;
  /** Close the transport with a code the client understands. */
  abstract terminate(code: number, reason: string): void;
}
