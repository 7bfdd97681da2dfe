/** Seed 000 (AdStack): `useWebSocket` — the seed's documented signature and return value over @pulse/client. */
import { useCallback, useEffect, useMemo, useState } from 'react';
import { channelId, type TypedEvent, type PulseEvent } from '@pulse/client';
import { usePulseClient } from './context.js';
import { seedError, useChannelOf, useConnectionOf } from './hooks.js';
/** Seed 000's `event` payload. */
export interface ContractEvent {
  id: string;
  type: string;
  contractId: string;
  txId: string;
  blockHeight: number;
  timestamp: number;
  data: Record<string, unknown>;
}

export function toContractEvent(e: PulseEvent): ContractEvent {
  return {
    id: e.id,
    type: e.type,
    contractId: channelId(e.channel),
    txId: e.txId ?? '',
    blockHeight: e.blockHeight ?? 0,
    timestamp: e.ts,
    data: e.data,
  };
}

export interface UseWebSocketOptions {
  contractId?: string;
  eventTypes?: string[];
  /** Connect on mount (default true). */
  autoConnect?: boolean;
  token?: string;
  /** Bound of `events` (default 100, as seed 000's components keep). */
  maxEvents?: number;
}

export interface UseWebSocketResult {
  isConnected: boolean;
  /** Newest first. */
  events: ContractEvent[];
  latestEvent: ContractEvent | null;
  error: string | null;
  subscribe(contractId: string, eventTypes?: string[]): void;
  unsubscribe(contractId?: string): void;
  /** Loads stored events (default 50, max 100) into `events` and returns them, oldest first. */
  getHistory(limit?: number): Promise<ContractEvent[]>;
  clearEvents(): void;
}

/**
 * Seed 000's hook: events of `contract:<contractId>`.
 * @example const { isConnected, events, latestEvent } = useWebSocket({ contractId, eventTypes: ['bid_placed'] });
 */
export function useWebSocket(options: UseWebSocketOptions = {}): UseWebSocketResult {
  const client = usePulseClient();
  const { autoConnect = true, token, maxEvents = 100 } = options;
  const [target, setTarget] = useState<{ contractId: string; eventTypes: string[] | undefined } | null>(
    options.contractId ? { contractId: options.contractId, eventTypes: options.eventTypes } : null,
  );
  const typesKey = options.eventTypes?.join(',');
  useEffect(() => {
    setTarget(options.contractId ? { contractId: options.contractId, eventTypes: typesKey ? typesKey.split(',') : undefined } : null);
  }, [options.contractId, typesKey]);
  useEffect(() => {
    if (autoConnect) client.connect(token);
  }, [client, autoConnect, token]);
  const conn = useConnectionOf(client);
  const channel = target ? `contract:${target.contractId}` : null;
  const ch = useChannelOf(client, channel, { types: target?.eventTypes, max: maxEvents });
  const events = useMemo(() => ch.events.map((e) => toContractEvent(e as PulseEvent)), [ch.events]);
  const error = seedError(ch, conn);
  const store = ch.store;
  const getHistory = useCallback(
    async (limit = 50) => {
      if (!channel) return [];
      const all = await client.history(channel, Math.min(Math.max(1, limit), 100));
      // The same filter as the live subscription, so the list stays one kind of event.
      const types = target?.eventTypes;
      const h = types ? all.filter((e) => types.includes(e.type)) : all;
      store.appendOlder(h as Array<TypedEvent<Record<string, unknown>>>);
      return h.map(toContractEvent);
    },
    [client, channel, store, target],
  );
  return {
    isConnected: conn.isConnected,
    events,
    latestEvent: events[0] ?? null,
    error,
    subscribe: useCallback((contractId: string, eventTypes?: string[]) => setTarget({ contractId, eventTypes }), []),
    unsubscribe: useCallback(
      (contractId?: string) => setTarget((t) => (!contractId || t?.contractId === contractId ? null : t)),
      [],
    ),
    getHistory,
    clearEvents: useCallback(() => store.clear(), [store]),
  };
}

