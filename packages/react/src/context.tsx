import { createContext, useContext, useEffect, useState, type ReactNode } from 'react';
import { PulseClient, wsClient, type PulseClientOptions } from '@pulse/client';

/** The part of a React Query `QueryClient` the hooks use; typed structurally so React Query stays optional. */
export interface QueryInvalidator {
  invalidateQueries(filters: { queryKey: readonly unknown[] }): unknown;
}

interface PulseContextValue {
  client: PulseClient;
  queryClient: QueryInvalidator | undefined;
}

const PulseContext = createContext<PulseContextValue | null>(null);

export interface PulseProviderProps {
  /** A client you created; otherwise one is created from `options` (and closed on unmount). */
  client?: PulseClient;
  options?: PulseClientOptions;
  /** Connects on mount (default true). */
  autoConnect?: boolean;
  /** When given, `useRealTimeAnalytics` invalidates its queries on every update (seed 001). */
  queryClient?: QueryInvalidator;
  children?: ReactNode;
}

/**
 * Provides a Pulse client to the hooks below it.
 * @example
 * <PulseProvider options={{ url: 'http://localhost:3002', getToken }}><Dashboard /></PulseProvider>
 */
export function PulseProvider({ client, options, autoConnect = true, queryClient, children }: PulseProviderProps) {
  // Created once per provider; a new `options` object on re-render must not reconnect.
  const [own] = useState(() => (client ? undefined : new PulseClient(options)));
  const active = client ?? own!;
  useEffect(() => {
    if (autoConnect) active.connect();
    return () => {
      if (own) own.disconnect();
    };
  }, [active, own, autoConnect]);
  return <PulseContext.Provider value={{ client: active, queryClient }}>{children}</PulseContext.Provider>;
}

/** The provider's client, or seed 000's shared `wsClient` when there is no provider. */
export function usePulseClient(): PulseClient {
  return useContext(PulseContext)?.client ?? wsClient.client;
}

/** The provider's client, or `undefined` without a provider (hooks that bring their own). */
export function useOptionalPulseClient(): PulseClient | undefined {
  return useContext(PulseContext)?.client;
}

export function useQueryInvalidator(): QueryInvalidator | undefined {
  return useContext(PulseContext)?.queryClient;
}
