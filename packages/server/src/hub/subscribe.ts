/**
 * Subscribing a session, with recovery: the missed events are queued before any live one, each
 * exactly once, and `recovered: false` says when they are no longer all available. Live events
 * that arrive while the store is read wait in the subscription's buffer and are merged by offset.
 */
import type { Logger } from 'pino';
import { MAX_SINCE_CHANNELS, PulseError, isValidChannel, isValidSubscriptionTarget, type Position } from '@pulse/protocol';
import type { Config, NamespacePolicy } from '../config.js';
import * as permissions from '../auth/permissions.js';
import type { Guard } from '../limits/guard.js';
import type { MemoryLog } from './log.js';
import type { SubscriptionIndex } from './subscriptions.js';
import { Subscription, type Session } from './session.js';
import type { LogReader, ReadAfter } from './reader.js';
import type { DialectId } from './envelope.js';

export interface SubscribeOptions {
  types?: readonly string[] | null;
  since?: Position | Record<string, Position>;
  dialect: DialectId;
  orgId?: string | null;
  /** Joined by the server (auto-joined rooms, long-poll waits): not counted against the client's limits. */
  system?: boolean;
  /** Seed 001 client scope: skip events whose `data.clientId` names another client. */
  clientId?: string | null;
  /**
   * The caller has already charged this subscription to the rate limit, with the rest of its set
   * (`Guard.admitSubscribe(principal, set)`, all or nothing): not charged again here.
   */
  admitted?: boolean;
}

export interface SubscribeResult {
  channel: string;
  types: string[] | null;
  recovered?: boolean;
  position?: Position;
}

/** What subscribing needs from the hub. */
export interface SubscribeDeps {
  config: Config;
  log: MemoryLog;
  index: SubscriptionIndex;
  reader: LogReader;
  logger: Logger;
  policy(channel: string): NamespacePolicy;
  readonly guard: Guard | null;
}

export async function subscribe(d: SubscribeDeps, s: Session, target: string, o: SubscribeOptions): Promise<SubscribeResult> {
  if (!isValidSubscriptionTarget(target)) throw new PulseError('INVALID_CHANNEL', `Invalid channel or pattern: ${String(target).slice(0, 64)}`);
  // Server-made subscriptions (auto-joined rooms, long-poll waits) serve reads: `read` suffices.
  if (!permissions.canSubscribe(d.config, s.principal, target, o.system ? 'read' : 'subscribe')) throw new PulseError('FORBIDDEN', `Not allowed to subscribe to ${target}`);
  const orgId = permissions.orgScope(s.principal, o.orgId);
  const exact = target.includes(':') && !target.endsWith('*');
  const { positions, truncated } = o.since === undefined ? NO_POSITIONS : positionsOf(o.since, exact, target);
  const types = o.types && o.types.length ? [...o.types] : null;
  // A subscribe that MAX_SUBSCRIPTIONS refuses is refused before the rate limit charges it (it is
  // checked again below: the connection's set may change while the limiter answers).
  if (!o.system && !s.subs.has(target) && userSubscriptionCount(s) >= d.config.MAX_SUBSCRIPTIONS_PER_CLIENT) {
    throw new PulseError('MAX_SUBSCRIPTIONS', `Maximum ${d.config.MAX_SUBSCRIPTIONS_PER_CLIENT} subscriptions per client`);
  }
  if (!o.system && !o.admitted && d.guard && !s.subs.has(target)) {
    await d.guard.admitSubscribe(s.principal, [target]);
    // The connection may have gone while the limiter answered; a subscription added now would leak.
    if (s.closed) throw new PulseError('UNAVAILABLE', 'Connection closed');
  }
  const existing = s.subs.get(target);
  if (existing) {
    d.index.remove(existing);
    s.subs.delete(target);
    d.guard?.released(existing);
  } else if (!o.system && userSubscriptionCount(s) >= d.config.MAX_SUBSCRIPTIONS_PER_CLIENT) {
    throw new PulseError('MAX_SUBSCRIPTIONS', `Maximum ${d.config.MAX_SUBSCRIPTIONS_PER_CLIENT} subscriptions per client`);
  }
  const sub = new Subscription(s, target, types ? new Set(types) : null, o.dialect, orgId, o.system === true, o.clientId ?? null);
  if (positions.length) sub.buffer = [];
  const result: SubscribeResult = { channel: target, types };
  if (exact) {
    const ch = d.log.open(target);
    result.position = { epoch: ch.epoch, offset: ch.committed };
  }
  s.subs.set(target, sub);
  d.index.add(sub);
  // Held by the identity until removed (hub.unsubscribe / hub.detach), and for a window after.
  d.guard?.held(sub);
  if (positions.length) result.recovered = (await replayMissed(d, sub, positions)) && !truncated;
  else if (truncated) result.recovered = false;
  return result;
}

const NO_POSITIONS = { positions: [] as Array<[string, Position]>, truncated: false };

/**
 * `since` as positions by channel: one for a channel, a map for a pattern (its first
 * MAX_SINCE_CHANNELS valid entries; `truncated` when there were more, so the answer cannot say
 * that nothing was missed).
 */
function positionsOf(since: Position | Record<string, Position>, exact: boolean, target: string): { positions: Array<[string, Position]>; truncated: boolean } {
  if (exact) {
    if (!isPosition(since)) throw new PulseError('INVALID_MESSAGE', 'since for a channel is {epoch, offset}');
    return { positions: [[target, since]], truncated: false };
  }
  if (isPosition(since)) throw new PulseError('INVALID_MESSAGE', 'since for a pattern maps channels to {epoch, offset}');
  const positions: Array<[string, Position]> = [];
  let truncated = false;
  for (const c in since) {
    if (!Object.hasOwn(since, c)) continue;
    const p = since[c];
    if (!isValidChannel(c) || !isPosition(p)) continue;
    if (positions.length === MAX_SINCE_CHANNELS) {
      truncated = true;
      break;
    }
    positions.push([c, p]);
  }
  return { positions, truncated };
}

/** Queue each channel's missed events, then what arrived meanwhile that is newer; true if nothing was lost. */
async function replayMissed(d: SubscribeDeps, sub: Subscription, positions: Array<[string, Position]>): Promise<boolean> {
  const s = sub.session;
  let recovered = true;
  const last = new Map<string, number>();
  for (const [channel, pos] of positions) {
    if (!sub.matches(channel)) continue;
    const m = await missed(d, channel, pos);
    if (!m.recovered) recovered = false;
    s.replay(
      m.events.filter((e) => sub.accepts(e)),
      sub,
    );
    last.set(channel, m.events.length ? m.events[m.events.length - 1].event.offset : pos.offset);
  }
  const buffered = sub.buffer ?? [];
  sub.buffer = null;
  s.replay(
    buffered.filter((env) => {
      const l = last.get(env.event.channel);
      return l === undefined || env.event.offset > l;
    }),
    sub,
  );
  return recovered;
}

/** The committed events of a channel after a position, and whether that is all of them. */
async function missed(d: SubscribeDeps, channel: string, pos: Position): Promise<ReadAfter> {
  const ch = d.log.get(channel);
  if (ch && (!d.policy(channel).recoverable || ch.committed - pos.offset > d.config.RECOVERY_MAX_EVENTS)) return { events: [], recovered: false };
  try {
    return await d.reader.after(channel, pos, d.config.RECOVERY_MAX_EVENTS);
  } catch (e) {
    d.logger.warn({ err: e, channel }, 'recovery read failed');
    return { events: [], recovered: false };
  }
}

function userSubscriptionCount(s: Session): number {
  let n = 0;
  for (const sub of s.subs.values()) if (!sub.system) n++;
  return n;
}

function isPosition(v: unknown): v is Position {
  return typeof v === 'object' && v !== null && typeof (v as Position).epoch === 'string' && typeof (v as Position).offset === 'number';
}
