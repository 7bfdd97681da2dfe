/**
 * Token verification. HS256 (HS384/512) with JWT_SECRET, RS/PS/ES/EdDSA with a PEM public key (JWT_PUBLIC_KEY)
 * or a JWKS URL (JWKS_URL, cached by jose, refetched when an unknown `kid` shows up so key
 * rotation is honoured). The algorithm is pinned: a token's `alg` must be one of the configured
 * algorithms *and* belong to the key source that verifies it, so `alg: none` and HS/RS
 * confusion (an HS256 token "signed" with the public key) are refused. Claims are mapped from
 * the shapes the seeds' identity providers issue (custom JWTs, Supabase).
 */
import { createHmac, createPublicKey, type KeyObject } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import {
  jwtVerify,
  createRemoteJWKSet,
  decodeProtectedHeader,
  errors as joseErrors,
  type JWTPayload,
  type JWTVerifyGetKey,
  type JWTVerifyOptions,
} from 'jose';
import { PulseError } from '@pulse/protocol';
import { ANONYMOUS_DEV, type Principal, type Role } from './principal.js';

export const HMAC_ALGS = ['HS256', 'HS384', 'HS512'] as const;
export const ASYMMETRIC_ALGS = ['RS256', 'RS384', 'RS512', 'PS256', 'PS384', 'PS512', 'ES256', 'ES384', 'ES512', 'EdDSA'] as const;
export const SUPPORTED_ALGS: readonly string[] = [...HMAC_ALGS, ...ASYMMETRIC_ALGS];
const MAX_TOKEN_CHARS = 8192;

/** Anything that turns an API key string into a principal (auth/keys.ts). */
export interface KeyVerifier {
  verify(key: string): Promise<Principal>;
}

export interface AuthOptions {
  secret?: string;
  /** PEM text of an SPKI public key (RSA, EC or Ed25519). */
  publicKey?: string;
  jwksUrl?: string;
  issuer?: string[];
  audience?: string[];
  /** Allowed `alg` values; default: derived from the configured keys. */
  algorithms?: string[];
  clockToleranceSec?: number;
  jwksCacheMs?: number;
  jwksCooldownMs?: number;
  skipAuth: boolean;
  keys?: KeyVerifier;
}

/** The config fields the authenticator reads. */
export interface AuthConfig {
  JWT_SECRET?: string;
  JWT_PUBLIC_KEY?: string;
  JWKS_URL?: string;
  JWT_ISSUER?: string;
  JWT_AUDIENCE?: string;
  JWT_ALGORITHMS?: string;
  JWT_CLOCK_TOLERANCE_S: number;
  JWKS_CACHE_MS: number;
  JWKS_COOLDOWN_MS: number;
  SKIP_AUTH: boolean;
}

function list(v: string | undefined): string[] | undefined {
  const l = v?.split(',').map((s) => s.trim()).filter(Boolean);
  return l && l.length ? l : undefined;
}

/** PEM text from the variable itself (with `\n` escapes allowed, as .env files need) or a file path. */
export function readPem(v: string): string {
  const t = v.trim();
  if (t.startsWith('-----BEGIN')) return t.replace(/\\n/g, '\n');
  if (existsSync(t)) return readFileSync(t, 'utf8');
  throw new PulseError('INVALID_REQUEST', 'JWT_PUBLIC_KEY is neither PEM text nor a readable file');
}

/** The algorithms a PEM public key can verify. */
export function algorithmsForKey(k: KeyObject): string[] {
  switch (k.asymmetricKeyType) {
    case 'rsa':
      return ['RS256', 'RS384', 'RS512'];
    case 'rsa-pss':
      return ['PS256', 'PS384', 'PS512'];
    case 'ec': {
      const curve = k.asymmetricKeyDetails?.namedCurve;
      return curve === 'secp384r1' ? ['ES384'] : curve === 'secp521r1' ? ['ES512'] : ['ES256'];
    }
    case 'ed25519':
      return ['EdDSA'];
    default:
      throw new PulseError('INVALID_REQUEST', `JWT_PUBLIC_KEY: unsupported key type ${k.asymmetricKeyType ?? 'unknown'}`);
  }
}

function parsePublicKey(pem: string): KeyObject {
  try {
    return createPublicKey({ key: pem, format: 'pem' });
  } catch {
    throw new PulseError('INVALID_REQUEST', 'Invalid configuration: JWT_PUBLIC_KEY is not a PEM public key');
  }
}

export function authOptionsFromConfig(c: AuthConfig, keys?: KeyVerifier): AuthOptions {
  return {
    secret: c.JWT_SECRET,
    publicKey: c.JWT_PUBLIC_KEY ? readPem(c.JWT_PUBLIC_KEY) : undefined,
    jwksUrl: c.JWKS_URL,
    issuer: list(c.JWT_ISSUER),
    audience: list(c.JWT_AUDIENCE),
    algorithms: list(c.JWT_ALGORITHMS),
    clockToleranceSec: c.JWT_CLOCK_TOLERANCE_S,
    jwksCacheMs: c.JWKS_CACHE_MS,
    jwksCooldownMs: c.JWKS_COOLDOWN_MS,
    skipAuth: c.SKIP_AUTH,
    keys,
  };
}

function str(v: unknown): string | null {
  return typeof v === 'string' && v.length > 0 && v.length <= 256 ? v : null;
}

export function principalFromClaims(p: JWTPayload): Principal {
  const c = p as Record<string, unknown>;
  const roleRaw = str(c.role);
  // An unknown role string (e.g. Supabase's `anon`, `service_role`) gets no role at all, so it
  // passes no role-based check; a missing role means a plain user.
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
  private readonly secret: Uint8Array | null;
  private readonly publicKey: KeyObject | null;
  private readonly jwks: JWTVerifyGetKey | null;
  private readonly hmacAlgs: string[];
  private readonly pemAlgs: string[];
  private readonly jwksAlgs: string[];
  private readonly base: JWTVerifyOptions;

  constructor(private opts: AuthOptions) {
    this.secret = opts.secret ? new TextEncoder().encode(opts.secret) : null;
    this.publicKey = opts.publicKey ? parsePublicKey(opts.publicKey) : null;
    this.jwks = opts.jwksUrl
      ? createRemoteJWKSet(new URL(opts.jwksUrl), { cacheMaxAge: opts.jwksCacheMs ?? 600_000, cooldownDuration: opts.jwksCooldownMs ?? 30_000, timeoutDuration: 5000 })
      : null;
    const allowed = opts.algorithms;
    const pick = (candidates: readonly string[]) => (allowed ? candidates.filter((a) => allowed.includes(a)) : [...candidates]);
    this.hmacAlgs = this.secret ? pick(allowed ? HMAC_ALGS : ['HS256']) : [];
    this.pemAlgs = this.publicKey ? pick(algorithmsForKey(this.publicKey)) : [];
    this.jwksAlgs = this.jwks ? pick(allowed ? ASYMMETRIC_ALGS : ['RS256', 'ES256']) : [];
    if (allowed && this.hmacAlgs.length + this.pemAlgs.length + this.jwksAlgs.length === 0 && this.configured) {
      throw new PulseError('INVALID_REQUEST', `JWT_ALGORITHMS (${allowed.join(',')}) matches none of the configured keys`);
    }
    this.base = { clockTolerance: opts.clockToleranceSec ?? 0 };
    if (opts.issuer) this.base.issuer = opts.issuer;
    if (opts.audience) this.base.audience = opts.audience;
  }

  get skipAuth(): boolean {
    return this.opts.skipAuth;
  }

  /** A verification key of some kind is configured. */
  get configured(): boolean {
    return Boolean(this.secret || this.publicKey || this.jwks);
  }

  /** Algorithms accepted, for /status and the docs. */
  algorithms(): string[] {
    return [...new Set([...this.hmacAlgs, ...this.pemAlgs, ...this.jwksAlgs])];
  }

  /** Verify a token (or an API key); throws UNAUTHORIZED, TOKEN_EXPIRED or UNAVAILABLE (JWKS unreachable). */
  async verify(token: string): Promise<Principal> {
    if (typeof token !== 'string' || token.length === 0) throw new PulseError('UNAUTHORIZED');
    if (token.length > MAX_TOKEN_CHARS) throw new PulseError('UNAUTHORIZED', 'Token too long');
    if (token.startsWith('pk_')) {
      if (!this.opts.keys) throw new PulseError('UNAUTHORIZED', 'API keys are not enabled');
      return this.opts.keys.verify(token);
    }
    if (!this.configured) throw new PulseError('UNAUTHORIZED', 'Token verification is not configured (set JWT_SECRET, JWT_PUBLIC_KEY or JWKS_URL)');
    let alg: string | undefined;
    let kid: string | undefined;
    try {
      const h = decodeProtectedHeader(token);
      alg = h.alg;
      kid = h.kid;
    } catch {
      throw new PulseError('UNAUTHORIZED', 'Invalid token');
    }
    if (typeof alg !== 'string') throw new PulseError('UNAUTHORIZED', 'Invalid token');
    let usingJwks = false;
    let key: Uint8Array | KeyObject | JWTVerifyGetKey;
    let algorithms: string[];
    if (this.hmacAlgs.includes(alg)) {
      key = this.secret!;
      algorithms = this.hmacAlgs;
    } else if (this.jwksAlgs.includes(alg) && (kid !== undefined || !this.pemAlgs.includes(alg))) {
      key = this.jwks!;
      algorithms = this.jwksAlgs;
      usingJwks = true;
    } else if (this.pemAlgs.includes(alg)) {
      key = this.publicKey!;
      algorithms = this.pemAlgs;
    } else {
      throw new PulseError('UNAUTHORIZED', `Token algorithm ${alg.slice(0, 16)} is not accepted`);
    }
    try {
      const opts = { ...this.base, algorithms };
      // Two calls because jose's overloads take a key or a key resolver, not their union.
      const { payload } = typeof key === 'function' ? await jwtVerify(token, key, opts) : await jwtVerify(token, key, opts);
      return principalFromClaims(payload);
    } catch (e) {
      throw mapJoseError(e, usingJwks);
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

function mapJoseError(e: unknown, usingJwks: boolean): PulseError {
  if (e instanceof joseErrors.JWTExpired) return new PulseError('TOKEN_EXPIRED');
  if (e instanceof joseErrors.JWTClaimValidationFailed) return new PulseError('UNAUTHORIZED', `Token rejected: ${e.claim} check failed`);
  if (e instanceof joseErrors.JWKSNoMatchingKey) return new PulseError('UNAUTHORIZED', 'No key in the JWKS matches this token');
  if (usingJwks && (e instanceof joseErrors.JWKSTimeout || e instanceof joseErrors.JWKSInvalid || !(e instanceof joseErrors.JOSEError))) {
    // The identity provider is unreachable: not the client's fault, so not UNAUTHORIZED (which
    // would make clients throw their token away).
    return new PulseError('UNAVAILABLE', 'Cannot fetch the JWKS to verify the token');
  }
  return new PulseError('UNAUTHORIZED', 'Invalid token');
}

/** A Unix time in seconds from 10^9 (September 2001) on: a number this large is an `exp`, not a duration. */
const ABSOLUTE_EXP_FROM = 1e9;
const DURATION_UNITS: Record<string, number> = { s: 1, m: 60, h: 3600, d: 86_400 };

/**
 * `exp` for `expiresIn`: a number of seconds from `iat` (negative: already expired), or a string
 * `<n>s`, `<n>m`, `<n>h`, `<n>d` ('30s', '15m', '24h', '7d'). A number of 10^9 or more is taken as
 * the `exp` itself (a Unix time in seconds), as earlier versions (jose's setExpirationTime) read
 * every number; no useful duration is that long.
 */
export function expiryOf(expiresIn: string | number, iat: number): number {
  let exp: number;
  if (typeof expiresIn === 'number') {
    if (!Number.isFinite(expiresIn)) throw new PulseError('INVALID_REQUEST', `generateToken: expiresIn must be a finite number of seconds (got ${expiresIn})`);
    exp = Math.abs(expiresIn) >= ABSOLUTE_EXP_FROM ? Math.floor(expiresIn) : iat + Math.floor(expiresIn);
  } else {
    const m = typeof expiresIn === 'string' ? /^(\d{1,12})(s|m|h|d)$/.exec(expiresIn.trim()) : null;
    if (!m) {
      throw new PulseError('INVALID_REQUEST', `generateToken: expiresIn must be a number of seconds or a duration like '30s', '15m', '24h', '7d' (got ${JSON.stringify(String(expiresIn).slice(0, 32))})`);
    }
    exp = iat + Number(m[1]) * DURATION_UNITS[m[2]];
  }
  if (!Number.isSafeInteger(exp) || exp < 0 || exp > 253_402_300_799) {
    throw new PulseError('INVALID_REQUEST', `generateToken: expiresIn ${JSON.stringify(expiresIn)} gives an expiry outside the years 1970 to 9999`);
  }
  return exp;
}

function base64url(data: string | Buffer): string {
  return Buffer.from(data).toString('base64url');
}

/**
 * Seed 000's helper, synchronous as the seed uses it (`const token = generateToken(userId,
 * address, role)`): an HS256 token (node:crypto HMAC-SHA256) with `userId`, `role`, `address`,
 * `organizationId` when given, `sub`, `iat`, `exp` (default 24 h), `iss` and `aud` when given.
 * Callers that `await` it get the same string.
 */
export function generateToken(
  userId: string,
  address: string | null,
  role: Role = 'user',
  opts: { secret?: string; expiresIn?: string | number; organizationId?: string; issuer?: string; audience?: string } = {},
): string {
  const secret = opts.secret ?? process.env.JWT_SECRET;
  if (!secret) throw new PulseError('INVALID_REQUEST', 'generateToken needs a secret (opts.secret or JWT_SECRET)');
  const iat = Math.floor(Date.now() / 1000);
  const claims: Record<string, unknown> = { userId, role };
  if (address) claims.address = address;
  if (opts.organizationId) claims.organizationId = opts.organizationId;
  claims.sub = userId;
  claims.iat = iat;
  claims.exp = expiryOf(opts.expiresIn ?? '24h', iat);
  if (opts.issuer) claims.iss = opts.issuer;
  if (opts.audience) claims.aud = opts.audience;
  const input = base64url(JSON.stringify({ alg: 'HS256', typ: 'JWT' })) + '.' + base64url(JSON.stringify(claims));
  return input + '.' + createHmac('sha256', secret).update(input).digest('base64url');
}

/** Token from `Authorization: Bearer`, `X-API-Key`, or `?token=`, in that order. */
export function tokenFromRequest(headers: Record<string, string | string[] | undefined>, url: string | undefined): string | null {
  const h = headers['authorization'];
  const auth = Array.isArray(h) ? h[0] : h;
  if (auth && /^Bearer\s+/i.test(auth)) return auth.replace(/^Bearer\s+/i, '').trim() || null;
  const k = headers['x-api-key'];
  const apiKey = Array.isArray(k) ? k[0] : k;
  if (apiKey && apiKey.trim()) return apiKey.trim();
  if (url) {
    const q = url.indexOf('?');
    if (q >= 0) {
      const t = new URLSearchParams(url.slice(q + 1)).get('token');
      if (t) return t;
    }
  }
  return null;
}
