/**
 * A live channel or pattern that starts with its stored past: `useChannel` for what arrives
 * from now on, plus the latest stored events (per channel, via the client's history request) so
 * a page opened on a busy server is not empty. Duplicates between the two are dropped by key.
 */
import { useEffect } from 'react';
import { useChannel, usePulseClient, type UseChannelOptions } from '@pulse/react';
import { isPattern, namespaceOf, type PulseEvent } from '@pulse/client';
import { apiGet } from '../session';
import { useToken } from './token';

/** Channels whose history is read for a pattern, at most. */
const MAX_CHANNELS = 24;

export function useFeed<D = Record<string, unknown>>(target: string, options: UseChannelOptions & { history?: number } = {}) {
  const live = useChannel<D>(target, options);
  const client = usePulseClient();
  const token = useToken();
  const { store } = live;
  const max = options.max ?? 100;
  const per = options.history ?? Math.min(max, 50);
  const typesKey = options.types?.join(',') ?? '';
  const enabled = options.enabled ?? true;
  useEffect(() => {
    if (!enabled) return;
    let cancelled = false;
    const types = typesKey ? new Set(typesKey.split(',')) : null;
    (async () => {
      let channels = [target];
      if (isPattern(target)) {
        const ns = namespaceOf(target);
        const r = (await apiGet(`/v1/channels?prefix=${encodeURIComponent(ns + ':')}&limit=${MAX_CHANNELS}`, token)) as { channels: Array<{ channel: string }> };
        channels = r.channels.map((c) => c.channel);
      }
      const lists = await Promise.all(channels.map((c) => client.history(c, per)));
      if (cancelled) return;
      const merged = lists
        .flat()
        .filter((e) => !types || types.has(e.type))
        .sort((a, b) => a.ts - b.ts || a.offset - b.offset)
        .slice(-max);
      store.appendOlder(merged as unknown as Parameters<typeof store.appendOlder>[0]);
    })().catch(() => {
      // History is a nicety: the live part works without it, and errors show in the live state.
    });
    return () => {
      cancelled = true;
    };
  }, [store, client, token, target, typesKey, per, max, enabled]);
  return live;
}

export type { PulseEvent };
