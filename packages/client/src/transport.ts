import type { PulseEvent, Position } from '@pulse/protocol/types';
import type { ErrorCode } from '@pulse/protocol/errors';

export type TransportKind = 'websocket' | 'sse' | 'polling';

/** What a (re)subscription asks for: a target, a type filter and where to resume. */
export interface SubscribeSpec {
  target: string;
  /** Union of the local subscribers' filters; undefined = every type. */
  types: string[] | undefined;
  /** Exact channel: one position. Pattern: a position per channel seen. */
  since: Position | Record<string, Position> | undefined;
}

export interface SubscribeOutcome {
  /** Present when `since` was sent: false means events were lost and the app should refetch. */
  recovered?: boolean;
  /** Log head at subscribe time (exact channels). */
  position?: Position;
}

export interface CloseInfo {
  /** WebSocket close code, or a 4xxx code mapped from an HTTP / SSE error code. */
  code: number;
  reason: string;
  /** Stable error code, when the server gave one. */
  errorCode?: ErrorCode;
  /** False when the transport never opened (upgrade refused, connection refused). */
  wasOpen: boolean;
}

export interface TransportHandlers {
  onOpen(info: { session?: string; userId?: string | null; heartbeatMs?: number }): void;
  onEvents(events: PulseEvent[]): void;
  /** A server error not tied to a request. */
  onError(code: ErrorCode, message: string): void;
  onClose(info: CloseInfo): void;
}

/**
 * One way of talking to the server. The client owns subscriptions and positions; a transport
 * only carries them. After `onClose` a transport is dead and is never reused.
 */
export interface Transport {
  readonly kind: TransportKind;
  subscribe(spec: SubscribeSpec): Promise<SubscribeOutcome>;
  unsubscribe(target: string): Promise<void>;
  /** Closes without calling `onClose` (the client asked for it). */
  close(): void;
}

/** HTTP error code → the close code the WebSocket gateway would have used. */
export function closeCodeForError(code: ErrorCode | undefined): number {
  switch (code) {
    case 'UNAUTHORIZED':
      return 4001;
    case 'FORBIDDEN':
      return 4003;
    case 'TOKEN_EXPIRED':
      return 4009;
    case 'SERVER_SHUTDOWN':
      return 1012;
    case 'SLOW_CONSUMER':
      return 4008;
    // The request itself is refused (too many channels for one stream, a bad parameter):
    // retrying the same request cannot succeed.
    case 'MAX_SUBSCRIPTIONS':
    case 'INVALID_CHANNEL':
    case 'INVALID_REQUEST':
    case 'NOT_FOUND':
      return 4400;
    default:
      return 1006;
  }
}
