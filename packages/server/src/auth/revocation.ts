/**
 * A revoked API key ends the connections opened with it. Keys carry no expiry, so without this a
 * key revoked with `pulse keys revoke` (or leaked and revoked) kept every socket, SSE stream and
 * long-poll it had already opened, and kept receiving. Every `everyMs` the key ids held by open
 * sessions are checked through ApiKeys' own cache (a revocation made in another process shows
 * within API_KEY_CACHE_MS); sessions of a key no longer accepted are ended with 4001
 * UNAUTHORIZED, as a refused connect is. Work per round: one cached lookup per distinct key in use.
 *
 * Hub sessions and seed 003's `/ws/metrics` push clients (not hub sessions) are both covered:
 * anything that holds a principal and can be ended.
 */
import { CLOSE_CODES } from '@pulse/protocol';
import type { Principal } from './principal.js';
import type { ApiKeys } from './keys.js';

/** A connection that holds a principal and can be ended (a hub session, a metrics push client). */
export interface Revocable {
  readonly principal: Principal;
  terminate(code: number, reason: string): void;
}

export function watchRevocations(keys: Pick<ApiKeys, 'active'>, sessions: Iterable<Revocable>, everyMs: number): () => void {
  let running = false;
  const round = async (): Promise<void> => {
    if (running) return;
    running = true;
    try {
      const byKey = new Map<string, Revocable[]>();
      for (const s of sessions) {
        const id = s.principal.key?.id;
        if (id === undefined) continue;
        const list = byKey.get(id);
        if (list) list.push(s);
        else byKey.set(id, [s]);
      }
      for (const [id, list] of byKey) {
        if (await keys.active(id).catch(() => true)) continue;
        // Still held by the same key: a session may have renewed to another credential meanwhile.
        for (const s of list) if (s.principal.key?.id === id) s.terminate(CLOSE_CODES.UNAUTHORIZED, 'UNAUTHORIZED');
      }
    } finally {
      running = false;
    }
  };
  const timer = setInterval(() => void round(), Math.max(100, everyMs));
  timer.unref();
  return () => clearInterval(timer);
}
