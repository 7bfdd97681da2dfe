export type Role = 'user' | 'admin' | 'developer';

/** Who is on the other end of a connection or request. */
export interface Principal {
  userId: string | null;
  /** Wallet / Stacks address: owner of `user:<address>` channels. */
  address: string | null;
  role: Role | null;
  orgId: string | null;
  /** A verified token was presented. */
  authenticated: boolean;
  /** Let in without a token because SKIP_AUTH=true in development. */
  devBypass: boolean;
  /** Token expiry, ms since epoch. */
  expiresAt: number | null;
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
