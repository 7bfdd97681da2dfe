/**
 * The one registry of Pulse error codes. Every error on the wire (native, Socket.IO, seed
 * profiles, HTTP) carries one of these codes. A test checks that each code is documented in
 * the README, so add the row there when you add one here.
 */
export const ERRORS = {
  BAD_JSON: { status: 400, message: 'Message is not valid JSON' },
  INVALID_MESSAGE: { status: 400, message: 'Message does not match the protocol' },
  UNKNOWN_OP: { status: 400, message: 'Unknown operation' },
  INVALID_CHANNEL: { status: 400, message: 'Invalid channel name' },
  INVALID_EVENT: { status: 400, message: 'Invalid event' },
  INVALID_REQUEST: { status: 400, message: 'Invalid request' },
  UNSUPPORTED_MEDIA_TYPE: { status: 415, message: 'Unsupported content type' },
  PAYLOAD_TOO_LARGE: { status: 413, message: 'Payload too large' },
  UNAUTHORIZED: { status: 401, message: 'Authentication required' },
  TOKEN_EXPIRED: { status: 401, message: 'Token expired' },
  FORBIDDEN: { status: 403, message: 'Not allowed' },
  NOT_FOUND: { status: 404, message: 'Not found' },
  NOT_SUBSCRIBED: { status: 409, message: 'Not subscribed to this channel' },
  MAX_SUBSCRIPTIONS: { status: 429, message: 'Maximum subscriptions reached' },
  RATE_LIMITED: { status: 429, message: 'Too many requests' },
  LIMIT_EXCEEDED: { status: 429, message: 'Limit exceeded' },
  SLOW_CONSUMER: { status: 503, message: 'Connection could not keep up and was closed' },
  SERVER_SHUTDOWN: { status: 503, message: 'Server is restarting' },
  UNAVAILABLE: { status: 503, message: 'Service unavailable' },
  INTERNAL: { status: 500, message: 'Internal error' },
} as const satisfies Record<string, { status: number; message: string }>;

export type ErrorCode = keyof typeof ERRORS;
export const ERROR_CODES = Object.keys(ERRORS) as ErrorCode[];

/**
 * WebSocket close codes Pulse uses. 1012 (service restart) tells clients to reconnect and
 * recover; the 4xxx codes mirror error codes.
 */
export const CLOSE_CODES = {
  NORMAL: 1000,
  SERVICE_RESTART: 1012,
  UNAUTHORIZED: 4001,
  FORBIDDEN: 4003,
  SLOW_CONSUMER: 4008,
  TOKEN_EXPIRED: 4009,
  RATE_LIMITED: 4029,
  PROTOCOL_ERROR: 4400,
} as const;

/** An error with a stable code. Throw these, never plain objects. */
export class PulseError extends Error {
  readonly code: ErrorCode;
  readonly status: number;
  readonly retryAfter?: number;
  readonly details?: unknown;
  constructor(code: ErrorCode, message?: string, opts: { retryAfter?: number; details?: unknown } = {}) {
    super(message ?? ERRORS[code].message);
    this.name = 'PulseError';
    this.code = code;
    this.status = ERRORS[code].status;
    if (opts.retryAfter !== undefined) this.retryAfter = opts.retryAfter;
    if (opts.details !== undefined) this.details = opts.details;
  }
  toJSON(): { code: ErrorCode; message: string; retryAfter?: number } {
    const out: { code: ErrorCode; message: string; retryAfter?: number } = { code: this.code, message: this.message };
    if (this.retryAfter !== undefined) out.retryAfter = this.retryAfter;
    return out;
  }
}

export function isPulseError(e: unknown): e is PulseError {
  return e instanceof PulseError;
}
