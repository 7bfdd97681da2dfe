/**
 * Who may do what on which channel. One place for every gateway and HTTP route:
 *
 * - Namespace policies (config.ts, PULSE_CONFIG) say who may subscribe (`public`,
 *   `authenticated`, `owner` of `ns:<address|userId>`, `admin`) and publish from a socket.
 * - Admins may do everything; SKIP_AUTH's anonymous development principal too.
 * - A JWT with an unrecognised role (Supabase `anon`, `service_role`, …) counts as no user at
 *   all: only `public` namespaces. Supabase's anon key is public, so it must not unlock anything.
 * - API keys carry their own grant: operations × channel patterns; namespace policies do not
 *   widen or narrow it (an admin issued it for exactly that).
 * - A pattern whose prefix has no `:` (e.g. `us*`) would span namespaces, including ones the
 *   caller may not read: admins (and keys granted `*`) only.
 * - Organisation-scoped events (those with an `orgId`) reach only members of that organisation;
 *   admins and organisation-less API keys see all of them.
 */
import { PulseError, namespaceOf, type PulseEvent } from '@pulse/protocol';
import type { NamespacePolicy } from '../config.js';
import type { KeyGrant, KeyOperation, Principal } from './principal.js';
import { patternCovers } from './keys.js';
import { ingestChannel, isPlainObject } from '../hub/normalize.js';

export interface PolicySource {
  namespaces: Record<string, NamespacePolicy>;
  defaultPolicy: NamespacePolicy;
  /** Plain user tokens may ingest over HTTP (into channels they may read). */
  INGEST_USER_TOKENS: boolean;
}

/** Stands for "no organisation": a subscription scoped to it receives only events without one. */
export const NO_ORG = '';

function policyOf(cfg: PolicySource, target: string): NamespacePolicy {
  return cfg.namespaces[namespaceOf(target)] ?? cfg.defaultPolicy;
}

function isDev(p: Principal): boolean {
  return p.devBypass && !p.authenticated;
}

/** A verified user token with a role we know. */
function isUser(p: Principal): boolean {
  return p.authenticated && p.key === undefined && p.role !== null;
}

/** A pattern spanning several namespaces (`us*`, `*`). */
export function spansNamespaces(target: string): boolean {
  return target.endsWith('*') && !target.slice(0, -1).includes(':');
}

function keyAllows(k: KeyGrant, ops: readonly KeyOperation[], target: string): boolean {
  if (!ops.some((o) => k.operations.has(o))) return false;
  return k.channels.some((c) => patternCovers(c, target));
}

function owns(p: Principal, target: string): boolean {
  if (target.endsWith('*') || !target.includes(':')) return false;
  const id = target.slice(target.indexOf(':') + 1);
  return (p.address !== null && id === p.address) || (p.userId !== null && id === p.userId);
}

/**
 * May this principal receive events of this channel or pattern? `read` (history, stats,
 * polling) also accepts a key granted `subscribe`; a live subscription needs `subscribe`.
 */
export function canSubscribe(cfg: PolicySource, p: Principal, target: string, op: 'subscribe' | 'read' = 'subscribe'): boolean {
  if (p.key) return keyAllows(p.key, op === 'read' ? ['read', 'subscribe'] : ['subscribe'], target);
  if (isDev(p) || (isUser(p) && p.role === 'admin')) return true;
  if (spansNamespaces(target)) return false;
  switch (policyOf(cfg, target).subscribe) {
    case 'public':
      return true;
    case 'authenticated':
      return isUser(p);
    case 'owner':
      return isUser(p) && owns(p, target);
    case 'admin':
      return false;
  }
}

/** May this principal publish to this channel from a socket (native `publish`)? */
export function canPublish(cfg: PolicySource, p: Principal, channel: string): boolean {
  if (p.key) return keyAllows(p.key, ['publish'], channel);
  if (isDev(p) || (isUser(p) && p.role === 'admin')) return true;
  switch (policyOf(cfg, channel).publish) {
    case 'none':
    case 'admin':
      return false;
    case 'authenticated':
      return isUser(p);
    case 'owner':
      return isUser(p) && owns(p, channel);
  }
}

/**
 * May this principal ingest into this channel over HTTP? Keys with `ingest`; admin and
 * developer tokens; plain users only when INGEST_USER_TOKENS is on (default outside production),
 * and then only into channels they may read.
 */
export function canIngest(cfg: PolicySource, p: Principal, channel: string): boolean {
  if (p.key) return keyAllows(p.key, ['ingest'], channel);
  if (isDev(p)) return true;
  if (!isUser(p)) return false;
  if (p.role === 'admin' || p.role === 'developer') return true;
  return cfg.INGEST_USER_TOKENS && canSubscribe(cfg, p, channel);
}

/** Sees every organisation's events. */
function orgUnrestricted(p: Principal): boolean {
  return isDev(p) || (isUser(p) && p.role === 'admin') || (p.key !== undefined && p.orgId === null);
}

/**
 * The organisation a subscription is scoped to: null = every event; an organisation id; or
 * NO_ORG = only events without an organisation. Naming an organisation that is not the
 * caller's is FORBIDDEN.
 */
export function orgScope(p: Principal, requested: string | null | undefined): string | null {
  if (orgUnrestricted(p)) return requested ?? null;
  if (requested && requested !== p.orgId) throw new PulseError('FORBIDDEN', 'organizationId does not match your credentials');
  return p.orgId ?? NO_ORG;
}

/** Whether an event may be shown to this principal (history, polling, stats-free reads). */
export function canSee(p: Principal, e: Pick<PulseEvent, 'orgId'>): boolean {
  return e.orgId === undefined || orgUnrestricted(p) || e.orgId === p.orgId;
}

/** The events of a read that this principal may see. */
export function visibleEvents<T extends Pick<PulseEvent, 'orgId'>>(p: Principal, events: T[]): T[] {
  return orgUnrestricted(p) ? events : events.filter((e) => canSee(p, e));
}

/**
 * The organisation an ingested event is stamped with. A caller bound to an organisation writes
 * only into it (events without one get it); a caller with none may not write into one, except
 * admins, developers and organisation-less keys.
 */
export function ingestOrg(p: Principal, orgId: unknown): string | undefined {
  const given = typeof orgId === 'string' ? orgId : undefined;
  if (orgUnrestricted(p) || (isUser(p) && p.role === 'developer' && p.orgId === null)) return given;
  if (p.orgId === null) {
    if (given !== undefined) throw new PulseError('FORBIDDEN', 'Not allowed to write events of an organisation');
    return undefined;
  }
  if (given !== undefined && given !== p.orgId) throw new PulseError('FORBIDDEN', 'orgId does not match your credentials');
  return p.orgId;
}

/** The channel an ingest item will land in, read exactly as the hub reads it. */
export function itemChannel(item: unknown): unknown {
  return isPlainObject(item) ? ingestChannel(item) : undefined;
}

/**
 * Check an ingest batch against the caller's rights before anything is accepted: FORBIDDEN
 * (naming the first offending index) when any item targets a channel the caller may not write
 * or an organisation not its own. Returns the items with their organisation stamped.
 * Items that are not objects or have no valid channel pass through for the hub to reject.
 */
export function authorizeIngest(cfg: PolicySource, p: Principal, items: readonly unknown[]): unknown[] {
  const out: unknown[] = new Array(items.length);
  // Batches mostly repeat a channel: the last one allowed needs no second check.
  let allowed: string | undefined;
  for (let i = 0; i < items.length; i++) {
    const item = items[i];
    const channel = itemChannel(item);
    if (typeof channel === 'string' && channel.length > 0 && channel !== allowed) {
      if (!canIngest(cfg, p, channel)) throw new PulseError('FORBIDDEN', `Not allowed to ingest into ${channel.slice(0, 200)} (item ${i})`);
      allowed = channel;
    }
    // Not an object, or an orgId that is not a string: the hub rejects the item with its own code.
    if (!isPlainObject(item) || (item.orgId !== undefined && item.orgId !== null && typeof item.orgId !== 'string')) {
      out[i] = item;
      continue;
    }
    let org: string | undefined;
    try {
      org = ingestOrg(p, item.orgId);
    } catch (e) {
      throw new PulseError('FORBIDDEN', `${(e as Error).message} (item ${i})`);
    }
    out[i] = org === item.orgId || (org === undefined && item.orgId === undefined) ? item : { ...item, orgId: org };
  }
  return out;
}

/**
 * May this principal read the server's own operations data (`/status`, `/metrics`)? Admin and
 * developer tokens, API keys granted `read` on `*` (e.g. for a Prometheus scraper), and the
 * development principal. Plain users may not: connection counts and channel names are not theirs.
 */
export function canOperate(p: Principal): boolean {
  if (p.key) return p.key.operations.has('read') && p.key.channels.includes('*');
  return isDev(p) || (isUser(p) && (p.role === 'admin' || p.role === 'developer'));
}

/**
 * A credential renewed in-band on a live connection may not narrow what the connection already
 * receives: its subscriptions were allowed, and scoped to an organisation, for the old one. The
 * first held subscription the new principal could not have made as it is (not allowed, or another
 * organisation scope), or null when every one could. The caller refuses such a renewal; the old
 * credential's expiry then ends the connection, and the client reconnects with the new one.
 */
export function narrowedByRenewal(
  cfg: PolicySource,
  next: Principal,
  held: Iterable<{ readonly target: string; readonly orgId: string | null; readonly system: boolean }>,
): string | null {
  for (const sub of held) {
    if (sub.system) continue;
    if (!canSubscribe(cfg, next, sub.target)) return sub.target;
    // Sees every organisation: any scope the subscription has is within its rights.
    if (orgUnrestricted(next)) continue;
    let scope: string | null;
    try {
      scope = orgScope(next, sub.orgId === NO_ORG ? null : sub.orgId);
    } catch {
      return sub.target;
    }
    if (scope !== sub.orgId) return sub.target;
  }
  return null;
}
