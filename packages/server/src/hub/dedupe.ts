/**
 * The most recent client-supplied ids, for dropping repeats without a store lookup. Bounded:
 * past the bound the oldest id is forgotten, and the store's unique index catches the rest.
 */
export class RecentIds {
  private set = new Set<string>();
  private ring: string[];
  private next = 0;
  constructor(private capacity: number) {
    this.ring = new Array(Math.max(0, capacity));
  }

  has(id: string): boolean {
    return this.set.has(id);
  }

  /**
   * Forget an id (its commit failed, so a retry must be accepted). Its ring slot stays: when it
   * comes round it may forget the id again early, which only means the store's unique index
   * catches a later repeat instead.
   */
  delete(id: string): void {
    this.set.delete(id);
  }

  add(id: string): void {
    if (this.capacity === 0 || this.set.has(id)) return;
    const old = this.ring[this.next];
    if (old !== undefined) this.set.delete(old);
    this.ring[this.next] = id;
    this.next = (this.next + 1) % this.capacity;
    this.set.add(id);
  }
}
