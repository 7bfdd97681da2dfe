/**
 * Token verification. HS256 with JWT_SECRET, algorithm pinned. Claims are mapped from the
 * shapes the seeds' identity providers issue (custom JWTs, Supabase).
 */
import { jwtVerify, SignJWT, errors as joseErrors, type JWTPayload } from 'jose';
import { PulseError } from '@pulse/protocol';
import { ANONYMOUS_DEV, type Principal, type Role } from './principal.js';

export interface AuthOptions {
  secret?: string;
  skipAuth: boolean;
}

function str(v: unknown): string | null {
  return typeof v === 'string' && v.length > 0 && v.length <= 256 ? v : null;
}

export function principalFromClaims(p: JWTPayload): Principal {
  const c = p as Record<string, unknown>;
  const roleRaw = str(c.role);
  const role: Role | null =
    roleRaw === 'admin' || roleRaw === 'developer' || roleRaw === 'user' ? roleRaw : roleRaw === 'authenticated' ? 'user' : roleRaw ? null : 'user';
  const appMeta = c.app_metadata && typeof c.app_metadata === 'object' ? (c.app_metadata as Record<string, unknown>) : {};
  return {
    userId: str(c.userId) ?? str(p.sub),
    address: str(c.address) ?? str(c.stacksAddress) ?? str(c.walletAddress),
    role,
    orgId: str(c.organizationId) ?? str(c.org_id) ?? str(appMeta.organization_id),
    authenticated: true,
    devBypass: false,
    expiresAt: typeof p.exp === 'number' ? p.exp * 1000 : null,
  };
}

export class Authenticator {
  private key: Uint8Array | null;
  constructor(private opts: AuthOptions) {
    this.key = opts.secret ? new TextEncoder().encode(opts.secret) : null;
  }

  get skipAuth(): boolean {
    return this.opts.skipAuth;
  }

  /** Verify a token; throws UNAUTHORIZED or TOKEN_EXPIRED. */
  async verify(token: string): Promise<Principal> {
    if (!this.key) throw new PulseError('UNAUTHORIZED', 'Token verification is not configured (JWT_SECRET unset)');
    if (token.length > 8192) throw new PulseError('UNAUTHORIZED', 'Token too long');
    try {
      const { payload } = await jwtVerify(token, this.key, { algorithms: ['HS256'] });
      return principalFromClaims(payload);
    } catch (e) {
      if (e instanceof joseErrors.JWTExpired) throw new PulseError('TOKEN_EXPIRED');
      throw new PulseError('UNAUTHORIZED', 'Invalid token');
    }
  }

  /**
   * The principal for a connection or request. A presented token is always verified (and used,
   * even with SKIP_AUTH); without one, only SKIP_AUTH lets the caller in.
   */
  async authenticate(token: string | null | undefined): Promise<Principal> {
    if (token) return this.verify(token);
    if (this.opts.skipAuth) return ANONYMOUS_DEV;
    throw new PulseError('UNAUTHORIZED');
  }
}

/** Seed 000's helper: a signed HS256 token for a user, address and role. */
export async function generateToken(
  userId: string,
  address: string | null,
  role: Role = 'user',
  opts: { secret?: string; expiresIn?: string | number; organizationId?: string } = {},
): Promise<string> {
  const secret = opts.secret ?? process.env.JWT_SECRET;
  if (!secret) throw new PulseError('INVALID_REQUEST', 'generateToken needs a secret (opts.secret or JWT_SECRET)');
  const claims: Record<string, unknown> = { userId, role };
  if (address) claims.address = address;
  if (opts.organizationId) claims.organizationId = opts.organizationId;
  return new SignJWT(claims)
    .setProtectedHeader({ alg: 'HS256', typ: 'JWT' })
    .setSubject(userId)
    .setIssuedAt()
    .setExpirationTime(opts.expiresIn ?? '24h')
    .sign(new TextEncoder().encode(secret));
}

/** Token from `?token=`, `Authorization: Bearer`, in that order of preference: header first. */
export function tokenFromRequest(headers: Record<string, string | string[] | undefined>, url: string | undefined): string | null {
  const h = headers['authorization'];
  const auth = Array.isArray(h) ? h[0] : h;
  if (auth && /^Bearer\s+/i.test(auth)) return auth.replace(/^Bearer\s+/i, '').trim() || null;
  if (url) {
    const q = url.indexOf('?');
    if (q >= 0) {
      const t = new URLSearchParams(url.slice(q + 1)).get('token');
      if (t) return t;
    }
  }
  return null;
}
