export type Role = 'user' | 'admin' | 'developer';

/** Operations an API key may be granted. */
export type KeyOperation = 'ingest' | 'publish' | 'subscribe' | 'read';
export const KEY_OPERATIONS: readonly KeyOperation[] = ['ingest', 'publish', 'subscribe', 'read'];

/** What an API key allows: operations on channels matching its patterns. */
export interface KeyGrant {
  id: string;
  operations: ReadonlySet<KeyOperation>;
  /** Channel patterns: `*` (all), `ns:*`, `ns:prefix*`, a bare `ns`, or an exact channel. */
  channels: readonly string[];
}

/** Who is on the other end of a connection or request. */
export interface Principal {
  userId: string | null;
  /** Wallet / Stacks address: owner of `user:<address>` channels. */
  address: string | null;
  role: Role | null;
  orgId: string | null;
  /** A verified token (or API key) was presented. */
  authenticated: boolean;
  /** Let in without a token because SKIP_AUTH=true in development. */
  devBypass: boolean;
  /** Token expiry, ms since epoch. */
  expiresAt: number | null;
  /** Present when the caller authenticated with an API key instead of a user token. */
  key?: KeyGrant;
}

export const ANONYMOUS_DEV: Principal = Object.freeze({
  userId: 'anonymous',
  address: null,
  role: 'developer',
  orgId: null,
  authenticated: false,
  devBypass: true,
  expiresAt: null,
}) as Principal;

/**
 * Run `onExpire` when the principal's token expires; returns a cancel function. Tokens valid for
 * longer than setTimeout can wait (~24.8 days) are not timed.
 */
export function onTokenExpiry(p: Principal, onExpire: () => void): () => void {
  if (p.expiresAt === null) return () => undefined;
  const ms = Math.max(0, p.expiresAt - Date.now());
  if (ms > 2 ** 31 - 1) return () => undefined;
  const t = setTimeout(onExpire, ms);
  t.unref();
  return () => clearTimeout(t);
}
