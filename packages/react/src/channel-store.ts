import type { PulseClient, Subscription, TypedEvent } from '@pulse/client';
import type { PulseError } from '@pulse/client';

function keyOf(e: { channel: string; epoch: string; offset: number }): string {
  return `${e.channel}@${e.epoch}:${e.offset}`;
}

export interface ChannelSnapshot<D> {
  /** Newest first, at most `max` (seed 000: `[newEvent, ...prev].slice(0, 100)`). */
  events: ReadonlyArray<TypedEvent<D>>;
  latest: TypedEvent<D> | null;
  /** Events received since mount, including those dropped from `events` by the bound. */
  count: number;
  status: 'idle' | 'pending' | 'subscribed';
  /** `false` after a reconnect that could not replay everything: refetch. */
  recovered: boolean | undefined;
  /** How many (re)subscriptions reported `recovered: false`: changes on each one, so an app refetches every time. */
  gaps: number;
  error: PulseError | null;
}

/**
 * An external store over one subscription, for `useSyncExternalStore`. It subscribes while it
 * has listeners, keeps a bounded newest-first list, and publishes a new snapshot at most once
 * per microtask, so a burst of events costs one render.
 */
export class ChannelStore<D = Record<string, unknown>> {
  private listeners = new Set<() => void>();
  private subs: Array<Subscription<D>> = [];
  /** Keys of listed and pending events: overlapping targets (`analytics`, `analytics:search`) deliver one event twice. */
  private keys = new Set<string>();
  private pending: Array<TypedEvent<D>> = [];
  private flushQueued = false;
  private snapshot: ChannelSnapshot<D> = { events: [], latest: null, count: 0, status: 'idle', recovered: undefined, gaps: 0, error: null };

  constructor(
    private readonly client: PulseClient,
    /** One target, several (seed 001's content ids, seed 002's channels), or none (paused). */
    readonly targets: readonly string[],
    private readonly types: string[] | undefined,
    private readonly max: number,
  ) {}

  getSnapshot = (): ChannelSnapshot<D> => this.snapshot;

  subscribe = (listener: () => void): (() => void) => {
    this.listeners.add(listener);
    if (this.listeners.size === 1) this.start();
    return () => {
      this.listeners.delete(listener);
      if (this.listeners.size === 0) this.stop();
    };
  };

  /** Empties the list (seed 000's `clearEvents`). */
  clear(): void {
    this.pending = [];
    this.keys.clear();
    this.set({ events: [], latest: null });
  }

  /** Adds events from elsewhere (history) behind the live ones, oldest last. */
  appendOlder(older: Array<TypedEvent<D>>): void {
    const extra = [...older].reverse().filter((e) => !this.keys.has(keyOf(e)));
    const events = [...this.snapshot.events, ...extra].slice(0, this.max);
    for (const e of extra) this.keys.add(keyOf(e));
    this.trimKeys(events);
    this.set({ events, latest: this.snapshot.latest ?? events[0] ?? null });
  }

  private start(): void {
    if (this.targets.length === 0) return;
    this.set({ status: 'pending' });
    const confirmed = new Set<string>();
    for (const target of this.targets) {
      const sub = this.client.subscribe<D>(target, this.types ? { types: this.types } : {}, (ev) => {
        const k = keyOf(ev);
        if (this.keys.has(k)) return;
        this.keys.add(k);
        this.pending.push(ev);
        if (!this.flushQueued) {
          this.flushQueued = true;
          queueMicrotask(() => this.flush());
        }
      });
      sub.on('subscribed', (i) => {
        confirmed.add(target);
        const recovered = i.recovered === false ? false : this.snapshot.recovered === false ? false : i.recovered;
        const gaps = this.snapshot.gaps + (i.recovered === false ? 1 : 0);
        this.set({ status: confirmed.size === this.targets.length ? 'subscribed' : 'pending', recovered, gaps, error: null });
      });
      sub.on('error', (e) => this.set({ error: e }));
      this.subs.push(sub);
    }
  }

  private stop(): void {
    for (const sub of this.subs) sub.unsubscribe();
    this.subs = [];
    this.set({ status: 'idle' });
  }

  /** Forget keys of events that fell off the list, so the set stays bounded too. */
  private trimKeys(events: ReadonlyArray<TypedEvent<D>>): void {
    if (this.keys.size <= this.max * 4) return;
    this.keys = new Set(events.map(keyOf));
    for (const e of this.pending) this.keys.add(keyOf(e));
  }

  private flush(): void {
    this.flushQueued = false;
    if (this.pending.length === 0) return;
    const fresh = this.pending.reverse();
    this.pending = [];
    const events = fresh.length >= this.max ? fresh.slice(0, this.max) : [...fresh, ...this.snapshot.events.slice(0, this.max - fresh.length)];
    this.trimKeys(events);
    this.set({ events, latest: fresh[0]!, count: this.snapshot.count + fresh.length });
  }

  private set(patch: Partial<ChannelSnapshot<D>>): void {
    this.snapshot = { ...this.snapshot, ...patch };
    for (const l of [...this.listeners]) l();
  }
}
