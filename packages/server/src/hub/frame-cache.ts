/**
 * Frames built in one flush cycle, shared by every connection whose queue holds exactly the same
 * envelopes in the same dialect. With many subscribers of one channel, the frame is built and
 * UTF-8 encoded once instead of once per connection. A hit is verified element by element, so a
 * hash collision can only cost a rebuild, never a wrong frame.
 */
import type { Envelope } from './envelope.js';

interface Entry {
  dialect: number;
  envs: Envelope[];
  frames: Buffer[];
}

export class FrameCache {
  private map = new Map<number, Entry[]>();

  static key(dialect: number, q: readonly Envelope[]): number {
    let h = (dialect + 1) * 0x9e3779b1 + q.length;
    for (let i = 0; i < q.length; i++) h = (Math.imul(h, 31) + q[i].stamp) | 0;
    return h;
  }

  get(key: number, dialect: number, q: readonly Envelope[]): Buffer[] | null {
    const list = this.map.get(key);
    if (!list) return null;
    outer: for (const e of list) {
      if (e.dialect !== dialect || e.envs.length !== q.length) continue;
      for (let i = 0; i < q.length; i++) if (e.envs[i] !== q[i]) continue outer;
      return e.frames;
    }
    return null;
  }

  set(key: number, dialect: number, q: Envelope[], frames: Buffer[]): void {
    const list = this.map.get(key);
    const e = { dialect, envs: q, frames };
    if (list) list.push(e);
    else this.map.set(key, [e]);
  }

  clear(): void {
    if (this.map.size) this.map = new Map();
  }
}
