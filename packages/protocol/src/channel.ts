/**
 * Channel names are `namespace:id` (or a bare `namespace`). A subscription may instead name a
 * pattern: a trailing `*` matches any suffix (`market:*`, `contract:ST1*`), and a bare namespace
 * `analytics` matches `analytics` itself and every `analytics:*` channel.
 */
export const MAX_CHANNEL_LENGTH = 200;
/** A pattern subscription's `since` is replayed for at most this many channels; past it the answer is `recovered: false`. */
export const MAX_SINCE_CHANNELS = 1000;
const CHANNEL_RE = /^[A-Za-z0-9_\-]+(?::[A-Za-z0-9_\-.:@~+]+)?$/;
const PATTERN_RE = /^[A-Za-z0-9_\-]+(?::[A-Za-z0-9_\-.:@~+]*)?\*$/;

export function isValidChannel(name: unknown): name is string {
  return typeof name === 'string' && name.length > 0 && name.length <= MAX_CHANNEL_LENGTH && CHANNEL_RE.test(name);
}

/** A valid subscription target: a channel, a bare namespace, or a trailing-`*` pattern. */
export function isValidSubscriptionTarget(name: unknown): name is string {
  return (
    typeof name === 'string' &&
    name.length > 0 &&
    name.length <= MAX_CHANNEL_LENGTH &&
    (CHANNEL_RE.test(name) || PATTERN_RE.test(name))
  );
}

export function namespaceOf(channel: string): string {
  const i = channel.indexOf(':');
  return i < 0 ? channel : channel.slice(0, i);
}

/** The part after the namespace (`content:42` → `42`); empty for a bare namespace. */
export function channelId(channel: string): string {
  const i = channel.indexOf(':');
  return i < 0 ? '' : channel.slice(i + 1);
}

export function isPattern(target: string): boolean {
  return target.endsWith('*') || !target.includes(':');
}

/** Does subscription target `target` (channel or pattern) cover `channel`? */
export function matches(target: string, channel: string): boolean {
  if (target === channel) return true;
  if (target.endsWith('*')) return channel.startsWith(target.slice(0, -1));
  if (!target.includes(':')) return channel.startsWith(target + ':');
  return false;
}
