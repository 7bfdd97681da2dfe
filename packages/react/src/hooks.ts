import { useCallback, useEffect, useMemo, useState, useSyncExternalStore } from 'react';
import type { ConnectionState, PulseClient, StateChange, TransportKind } from '@pulse/client';
import { PulseError } from '@pulse/client';
import type { MetricSnapshot } from '@pulse/protocol';
import { usePulseClient } from './context.js';
import { ChannelStore, type ChannelSnapshot } from './channel-store.js';

export interface ConnectionInfo {
  state: ConnectionState;
  isConnected: boolean;
  transport: TransportKind | null;
  lastChange: StateChange | null;
  reconnect(): void;
  disconnect(): void;
}

/** Subscribes a component to a client's connection state. */
export function useConnectionOf(client: PulseClient): ConnectionInfo {
  const subscribe = useCallback(
    (cb: () => void) => {
      const a = client.on('state', cb);
      const b = client.on('transport', cb);
      return () => {
        a();
        b();
      };
    },
    [client],
  );
  const snap = useSyncExternalStore(subscribe, client.getSnapshot, client.getSnapshot);
  return useMemo(
    () => ({
      state: snap.state,
      isConnected: snap.state === 'connected',
      transport: snap.transport,
      lastChange: snap.lastChange,
      reconnect: () => client.reconnect(),
      disconnect: () => client.disconnect(),
    }),
    [snap, client],
  );
}

/** The `error` string of the seed hooks: the subscription's error, else why the connection failed for good. */
export function seedError(ch: { error: PulseError | null }, conn: ConnectionInfo): string | null {
  return ch.error?.message ?? (conn.state === 'failed' ? (conn.lastChange?.reason ?? 'Connection failed') : null);
}

/** The connection state of the provider's client. */
export function useConnection(): ConnectionInfo {
  return useConnectionOf(usePulseClient());
}

export interface UseChannelOptions {
  types?: string[];
  /** Bound of the `events` list (default 100). */
  max?: number;
  /** `false` pauses the subscription. */
  enabled?: boolean;
}

export interface ChannelResult<D> extends ChannelSnapshot<D> {
  clear(): void;
  /** @internal the store, for hooks that add history to the list */
  store: ChannelStore<D>;
}

/** A store per (client, target, types, max), subscribed while the component is mounted. */
export function useChannelOf<D = Record<string, unknown>>(
  client: PulseClient,
  target: string | readonly string[] | null,
  options: UseChannelOptions = {},
): ChannelResult<D> {
  const { max = 100, enabled = true } = options;
  const typesKey = options.types ? [...options.types].sort().join(',') : '';
  // Keyed by value, so a new array with the same targets does not resubscribe.
  const targetsKey = target === null ? '' : typeof target === 'string' ? target : [...new Set(target)].sort().join(',');
  const store = useMemo(
    () => new ChannelStore<D>(client, enabled && targetsKey ? targetsKey.split(',') : [], typesKey ? typesKey.split(',') : undefined, max),
    [client, targetsKey, typesKey, max, enabled],
  );
  const snap = useSyncExternalStore(store.subscribe, store.getSnapshot, store.getSnapshot);
  return useMemo(() => ({ ...snap, clear: () => store.clear(), store }), [snap, store]);
}

/**
 * Live events of a channel or pattern, newest first, bounded.
 * @example const { events, latest } = useChannel('market:m1', { types: ['trade'], max: 50 });
 */
export function useChannel<D = Record<string, unknown>>(target: string | readonly string[] | null, options: UseChannelOptions = {}): ChannelResult<D> {
  return useChannelOf<D>(usePulseClient(), target, options);
}

export interface MetricsResult<V> {
  snapshot: MetricSnapshot | null;
  values: V | null;
  loading: boolean;
  error: PulseError | null;
  refetch(): void;
}

/**
 * A metric set's snapshot: fetched from `GET /v1/metrics/:set`, then kept live by the
 * `metrics:<set>[:<scope>]` channel. Refetched after a reconnect that could not recover.
 */
export function useMetricsOf<V = MetricSnapshot['values']>(client: PulseClient, set: string, scope?: string | null): MetricsResult<V> {
  const channel = scope ? `metrics:${set}:${scope}` : `metrics:${set}`;
  const live = useChannelOf<MetricSnapshot>(client, channel, { max: 1, types: ['snapshot'] });
  const [fetched, setFetched] = useState<MetricSnapshot | null>(null);
  const [error, setError] = useState<PulseError | null>(null);
  const [loading, setLoading] = useState(true);
  const [nonce, setNonce] = useState(0);
  const refetch = useCallback(() => setNonce((n) => n + 1), []);
  useEffect(() => {
    let cancelled = false;
    setLoading(true);
    client
      .metrics<MetricSnapshot>(set, scope)
      .then((s) => {
        if (cancelled) return;
        setFetched(s);
        setError(null);
      })
      .catch((e: unknown) => {
        if (!cancelled) setError(e instanceof PulseError ? e : new PulseError('INTERNAL', String(e)));
      })
      .finally(() => {
        if (!cancelled) setLoading(false);
      });
    return () => {
      cancelled = true;
    };
  }, [client, set, scope, nonce]);
  // A fetch that failed (server unreachable) is retried once the connection is back.
  const connected = useConnectionOf(client).isConnected;
  useEffect(() => {
    if (connected && error) refetch();
  }, [connected]); // eslint-disable-line react-hooks/exhaustive-deps
  // Every resubscription that could not recover (not only the first: `recovered` stays false).
  const gaps = live.gaps;
  useEffect(() => {
    if (gaps > 0) refetch();
  }, [gaps, refetch]);
  const pushed = live.latest?.data ?? null;
  // The newer of the fetched and the pushed snapshot wins.
  const snapshot = pushed && (!fetched || pushed.ts >= fetched.ts) ? pushed : fetched;
  return {
    snapshot,
    values: (snapshot?.values as V | undefined) ?? null,
    loading: loading && !snapshot,
    error: error ?? live.error,
    refetch,
  };
}

/** @example const { values } = useMetrics<PlatformValues>('platform'); */
export function useMetrics<V = MetricSnapshot['values']>(set: string, scope?: string | null): MetricsResult<V> {
  return useMetricsOf<V>(usePulseClient(), set, scope);
}
