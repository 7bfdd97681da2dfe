/** Seed 002 (VowSwap): `useAnalyticsWebSocket` — the seed's hook over @pulse/client. */
import { useCallback, useEffect, useMemo, useState } from 'react';
import type { PulseEvent } from '@pulse/client';
import { usePulseClient } from './context.js';
import { seedError, useChannelOf, useConnectionOf } from './hooks.js';
/** Seed 002's channels. */
export const ChannelType = {
  ANALYTICS: 'analytics',
  SEARCH: 'analytics:search',
  FILTERS: 'analytics:filters',
  LISTINGS: 'analytics:listings',
  USER_SESSIONS: 'analytics:user_sessions',
} as const;
export type ChannelType = (typeof ChannelType)[keyof typeof ChannelType];

/** Seed 002's `payload`: the event's data with `eventType` set to its type (as the 002 profile sends it). */
export interface AnalyticsPayload extends Record<string, unknown> {
  id: string;
  eventType: string;
  channel: string;
  offset: number;
  epoch: string;
  /** ISO 8601. */
  timestamp: string;
  userId?: string;
}

export function toAnalyticsPayload(e: PulseEvent): AnalyticsPayload {
  const p: AnalyticsPayload = { ...e.data, id: e.id, eventType: e.type, channel: e.channel, offset: e.offset, epoch: e.epoch, timestamp: new Date(e.ts).toISOString() };
  if (e.userId !== undefined) p.userId = e.userId;
  return p;
}

export interface UseAnalyticsWebSocketOptions {
  /** Channels subscribed from the start (default none: call `subscribe`). */
  channels?: string[];
  autoConnect?: boolean;
  maxEvents?: number;
}

export interface UseAnalyticsWebSocketResult {
  connectionState: 'disconnected' | 'connecting' | 'connected' | 'reconnecting' | 'failed';
  isConnected: boolean;
  /** Newest first, bounded. */
  analyticsEvents: AnalyticsPayload[];
  channels: string[];
  subscribe(channel: string): void;
  unsubscribe(channel: string): void;
  clearEvents(): void;
  error: string | null;
}

/** Seed 002's hook. `analytics` receives every `analytics:*` event, once even when both are subscribed. */
export function useAnalyticsWebSocket(options: UseAnalyticsWebSocketOptions = {}): UseAnalyticsWebSocketResult {
  const client = usePulseClient();
  const { autoConnect = true, maxEvents = 200 } = options;
  const [channels, setChannels] = useState<string[]>(options.channels ?? []);
  useEffect(() => {
    if (autoConnect) client.connect();
  }, [client, autoConnect]);
  const conn = useConnectionOf(client);
  const ch = useChannelOf(client, channels, { max: maxEvents });
  const analyticsEvents = useMemo(() => ch.events.map((e) => toAnalyticsPayload(e as PulseEvent)), [ch.events]);
  const store = ch.store;
  return {
    connectionState: conn.state,
    isConnected: conn.isConnected,
    analyticsEvents,
    channels,
    subscribe: useCallback((c: string) => setChannels((l) => (l.includes(c) ? l : [...l, c])), []),
    unsubscribe: useCallback((c: string) => setChannels((l) => l.filter((x) => x !== c)), []),
    clearEvents: useCallback(() => store.clear(), [store]),
    error: seedError(ch, conn),
  };
}

