/** A minimal typed event emitter: the client's only observer mechanism, so React can bridge it. */
export type Listener<T> = (value: T) => void;

export class Emitter<M extends { [K in keyof M]: unknown }> {
  private listeners: { [K in keyof M]?: Set<Listener<M[K]>> } = {};

  /** Returns the unsubscribe function (the shape `useSyncExternalStore` wants). */
  on<K extends keyof M>(name: K, fn: Listener<M[K]>): () => void {
    let set = this.listeners[name];
    if (!set) {
      set = new Set();
      this.listeners[name] = set;
    }
    set.add(fn);
    return () => {
      set.delete(fn);
    };
  }

  emit<K extends keyof M>(name: K, value: M[K]): void {
    const set = this.listeners[name];
    if (!set) return;
    // Copy so a listener that unsubscribes during emit does not skip its neighbour.
    for (const fn of [...set]) {
      try {
        fn(value);
      } catch (err) {
        // A throwing app listener must not break the client's own bookkeeping; rethrow async
        // so it still reaches the host's unhandled-error reporting.
        setTimeout(() => {
          throw err;
        }, 0);
      }
    }
  }

  removeAll(): void {
    this.listeners = {};
  }
}
