/** Seed 001 (content platform): `useRealTimeAnalytics` — the seed's hook over @pulse/client. */
import { useEffect, useMemo, useRef, useState } from 'react';
import { channelId, type PulseEvent } from '@pulse/client';
import { usePulseClient, useQueryInvalidator, type QueryInvalidator } from './context.js';
import { seedError, useChannelOf, useConnectionOf } from './hooks.js';
export const CONTENT_FIELDS = ['views', 'likes', 'shares', 'comments'] as const;
export type ContentField = (typeof CONTENT_FIELDS)[number];

/** Seed 001's `analytics_update` message. */
export interface AnalyticsUpdate {
  type: 'analytics_update';
  contentId: string;
  field: ContentField;
  value: number;
  timestamp: number;
  organizationId?: string;
  clientId?: string;
  /** True for updates made up by the simulation fallback, never for real ones. */
  simulated?: boolean;
}

export function toAnalyticsUpdate(e: PulseEvent): AnalyticsUpdate | null {
  const { field, value } = e.data;
  if (typeof field !== 'string' || !(CONTENT_FIELDS as readonly string[]).includes(field) || typeof value !== 'number') return null;
  const u: AnalyticsUpdate = { type: 'analytics_update', contentId: channelId(e.channel), field: field as ContentField, value, timestamp: e.ts };
  if (e.orgId !== undefined) u.organizationId = e.orgId;
  if (typeof e.data.clientId === 'string') u.clientId = e.data.clientId;
  return u;
}

export interface UseRealTimeAnalyticsOptions {
  contentIds: string[];
  enabled?: boolean;
  /** Simulation tick when falling back, ms (seed default 30000). */
  interval?: number;
  /** Make up updates locally instead of connecting (development), as seed 001's switch. */
  simulateUpdates?: boolean;
  /** Overrides the provider's QueryClient. */
  queryClient?: QueryInvalidator;
  /** Query keys invalidated per update (default `[['analytics', contentId]]`). */
  queryKeys?: (contentId: string) => ReadonlyArray<readonly unknown[]>;
  maxUpdates?: number;
}

export type ContentCounters = Record<ContentField, number>;

export interface UseRealTimeAnalyticsResult {
  isConnected: boolean;
  connectionState: string;
  /** True while updates are simulated (asked for, or the connection failed for good). */
  isSimulating: boolean;
  /** Newest first, bounded. */
  updates: AnalyticsUpdate[];
  lastUpdate: AnalyticsUpdate | null;
  /** Latest known value per content and field. */
  analytics: Record<string, ContentCounters>;
  error: string | null;
}

const defaultKeys = (id: string) => [['analytics', id]] as const;

/**
 * Seed 001's hook: live counters of `content:<id>` channels, React Query invalidation, and the
 * simulation fallback when the connection fails for good (or `simulateUpdates: true`).
 */
export function useRealTimeAnalytics(options: UseRealTimeAnalyticsOptions): UseRealTimeAnalyticsResult {
  const client = usePulseClient();
  const { enabled = true, interval = 30_000, simulateUpdates = false, maxUpdates = 100 } = options;
  const ctxQc = useQueryInvalidator();
  const qc = options.queryClient ?? ctxQc;
  const keys = options.queryKeys ?? defaultKeys;
  const conn = useConnectionOf(client);
  const channels = useMemo(() => options.contentIds.map((id) => `content:${id}`), [options.contentIds.join(',')]); // eslint-disable-line react-hooks/exhaustive-deps
  const live = !simulateUpdates && enabled;
  useEffect(() => {
    if (live) client.connect();
  }, [client, live]);
  const ch = useChannelOf(client, live ? channels : null, { max: maxUpdates });
  const isSimulating = enabled && (simulateUpdates || conn.state === 'failed');
  const [simulated, setSimulated] = useState<AnalyticsUpdate[]>([]);
  const [simCounters, setSimCounters] = useState<Record<string, ContentCounters>>({});

  const real = useMemo(() => ch.events.map((e) => toAnalyticsUpdate(e as PulseEvent)).filter((u): u is AnalyticsUpdate => u !== null), [ch.events]);

  // Invalidate the app's cached queries for contents that changed, once per batch and content.
  const seenCount = useRef(0);
  useEffect(() => {
    const fresh = Math.min(ch.count - seenCount.current, ch.events.length);
    seenCount.current = ch.count;
    if (!qc || fresh <= 0) return;
    const touched = new Set<string>();
    for (let i = 0; i < fresh; i++) touched.add(channelId(ch.events[i]!.channel));
    for (const id of touched) for (const queryKey of keys(id)) void qc.invalidateQueries({ queryKey });
  }, [ch.count]); // eslint-disable-line react-hooks/exhaustive-deps

  useEffect(() => {
    if (!isSimulating || options.contentIds.length === 0) return;
    const timer = setInterval(() => {
      const contentId = options.contentIds[Math.floor(Math.random() * options.contentIds.length)]!;
      const field = CONTENT_FIELDS[Math.floor(Math.random() * CONTENT_FIELDS.length)]!;
      setSimCounters((prev) => {
        const cur = prev[contentId] ?? { views: 0, likes: 0, shares: 0, comments: 0 };
        const next = { ...cur, [field]: cur[field] + 1 + Math.floor(Math.random() * 3) };
        const u: AnalyticsUpdate = { type: 'analytics_update', contentId, field, value: next[field], timestamp: Date.now(), simulated: true };
        setSimulated((list) => [u, ...list].slice(0, maxUpdates));
        return { ...prev, [contentId]: next };
      });
    }, interval);
    return () => clearInterval(timer);
  }, [isSimulating, interval, maxUpdates, options.contentIds.join(',')]); // eslint-disable-line react-hooks/exhaustive-deps

  const updates = isSimulating ? simulated : real;
  // Latest value per content and field over every event received, not only the bounded list:
  // a quiet content's counters must not vanish when a busy one pushes its updates out.
  const latest = useRef<{ store: unknown; seen: number; values: Record<string, ContentCounters> }>({ store: null, seen: 0, values: {} });
  const liveCounters = useMemo(() => {
    let st = latest.current;
    if (st.store !== ch.store || ch.count < st.seen) st = { store: ch.store, seen: 0, values: {} };
    const fresh = Math.min(ch.count - st.seen, ch.events.length);
    if (fresh <= 0 && st === latest.current) return st.values;
    const values = { ...st.values };
    // Oldest to newest so the latest value wins.
    for (let i = fresh - 1; i >= 0; i--) {
      const u = toAnalyticsUpdate(ch.events[i] as PulseEvent);
      if (!u) continue;
      values[u.contentId] = { ...(values[u.contentId] ?? { views: 0, likes: 0, shares: 0, comments: 0 }), [u.field]: u.value };
    }
    latest.current = { store: ch.store, seen: ch.count, values };
    return values;
  }, [ch.store, ch.count, ch.events]);
  const analytics = isSimulating ? simCounters : liveCounters;

  return {
    isConnected: conn.isConnected,
    connectionState: conn.state,
    isSimulating,
    updates,
    lastUpdate: updates[0] ?? null,
    analytics,
    error: seedError(ch, conn),
  };
}

