/**
 * The connection state machine. Every transition carries a code and a human reason, so an app
 * can tell "server restarted" from "token expired" from "gave up after five tries".
 */
import type { ErrorCode } from '@pulse/protocol/errors';

export const ConnectionState = {
  Disconnected: 'disconnected',
  Connecting: 'connecting',
  Connected: 'connected',
  Reconnecting: 'reconnecting',
  Failed: 'failed',
} as const;
export type ConnectionState = (typeof ConnectionState)[keyof typeof ConnectionState];

/**
 * Why a transition happened. Failure codes reuse the protocol's error codes (`UNAUTHORIZED`,
 * `TOKEN_EXPIRED`, `SLOW_CONSUMER`, `SERVER_SHUTDOWN`); the rest describe client actions.
 */
export type TransitionCode =
  | 'CONNECT'
  | 'CONNECTED'
  | 'DISCONNECT'
  | 'RECONNECT'
  | 'TRANSPORT_CLOSED'
  | 'TRANSPORT_FAILED'
  | 'SERVER_SHUTDOWN'
  | 'SLOW_CONSUMER'
  | 'TOKEN_EXPIRED'
  | 'UNAUTHORIZED'
  | 'FORBIDDEN'
  | 'PROTOCOL_ERROR'
  | 'HEARTBEAT_TIMEOUT'
  | 'MAX_ATTEMPTS';

export interface StateChange {
  oldState: ConnectionState;
  newState: ConnectionState;
  code: TransitionCode;
  reason: string;
}

/** Allowed transitions; anything else is a bug in the client and throws. */
const ALLOWED: Record<ConnectionState, readonly ConnectionState[]> = {
  disconnected: ['connecting'],
  connecting: ['connected', 'reconnecting', 'disconnected', 'failed'],
  connected: ['reconnecting', 'disconnected', 'failed'],
  reconnecting: ['connected', 'disconnected', 'failed'],
  failed: ['connecting', 'disconnected'],
};

export function canTransition(from: ConnectionState, to: ConnectionState): boolean {
  return ALLOWED[from].includes(to);
}

export class StateMachine {
  private current: ConnectionState = 'disconnected';
  constructor(private readonly onChange: (change: StateChange) => void) {}

  get state(): ConnectionState {
    return this.current;
  }

  /** Moves to `next`; a no-op when already there. Returns whether a transition happened. */
  set(next: ConnectionState, code: TransitionCode, reason: string): boolean {
    if (next === this.current) return false;
    if (!canTransition(this.current, next)) {
      throw new Error(`invalid transition ${this.current} → ${next} (${code})`);
    }
    const change: StateChange = { oldState: this.current, newState: next, code, reason };
    this.current = next;
    this.onChange(change);
    return true;
  }
}

/** Maps a WebSocket close code to the transition it causes. */
export function classifyClose(code: number): { code: TransitionCode; retry: boolean; refreshToken: boolean } {
  switch (code) {
    case 1012:
      return { code: 'SERVER_SHUTDOWN', retry: true, refreshToken: false };
    case 4008:
      return { code: 'SLOW_CONSUMER', retry: true, refreshToken: false };
    case 4000:
      // The client's own close after two silent heartbeats (see WebSocketTransport).
      return { code: 'HEARTBEAT_TIMEOUT', retry: true, refreshToken: false };
    case 4009:
      return { code: 'TOKEN_EXPIRED', retry: true, refreshToken: true };
    case 4001:
      return { code: 'UNAUTHORIZED', retry: true, refreshToken: true };
    case 4003:
      return { code: 'FORBIDDEN', retry: false, refreshToken: false };
    case 4400:
      return { code: 'PROTOCOL_ERROR', retry: false, refreshToken: false };
    default:
      return { code: 'TRANSPORT_CLOSED', retry: true, refreshToken: false };
  }
}

/** Close reasons the server names with an error code. */
export const TRANSITION_FROM_ERROR: Partial<Record<ErrorCode, TransitionCode>> = {
  TOKEN_EXPIRED: 'TOKEN_EXPIRED',
  UNAUTHORIZED: 'UNAUTHORIZED',
  FORBIDDEN: 'FORBIDDEN',
  SLOW_CONSUMER: 'SLOW_CONSUMER',
  SERVER_SHUTDOWN: 'SERVER_SHUTDOWN',
};
/** The error an app sees when the client gives up. */
export const ERROR_FROM_TRANSITION: Partial<Record<TransitionCode, ErrorCode>> = {
  TOKEN_EXPIRED: 'TOKEN_EXPIRED',
  UNAUTHORIZED: 'UNAUTHORIZED',
  FORBIDDEN: 'FORBIDDEN',
  PROTOCOL_ERROR: 'INVALID_MESSAGE',
  MAX_ATTEMPTS: 'UNAVAILABLE',
};
