/**
 * Pulse's own protocol: JSON over WebSocket at `/ws`.
 *
 * Client requests carry an optional `id`; the server answers each with a `reply` or an `error`
 * carrying the same id. Events arrive in `events` pushes: one frame may carry many events, from
 * any of the connection's subscriptions, each with its channel, epoch and offset.
 */
import { z } from 'zod';
import type { ErrorCode } from './errors.js';
import type { PulseEvent, Position } from './event.js';
import { isValidSubscriptionTarget, isValidChannel, MAX_CHANNEL_LENGTH } from './channel.js';

export const PROTOCOL_VERSION = 1;

const requestId = z.union([z.string().max(64), z.number().int().safe()]).optional();
const target = z.string().max(MAX_CHANNEL_LENGTH).refine(isValidSubscriptionTarget, 'invalid channel or pattern');
const channel = z.string().max(MAX_CHANNEL_LENGTH).refine(isValidChannel, 'invalid channel');
const typeName = z.string().min(1).max(100);
export const positionSchema = z.object({ epoch: z.string().min(1).max(64), offset: z.number().int().min(0) });

export const subscribeSchema = z.object({
  op: z.literal('subscribe'),
  id: requestId,
  channel: target,
  types: z.array(typeName).max(100).optional(),
  /** Exact channel: one position. Pattern: a position per channel already seen. */
  since: z.union([positionSchema, z.record(z.string().max(MAX_CHANNEL_LENGTH), positionSchema)]).optional(),
});
export const unsubscribeSchema = z.object({ op: z.literal('unsubscribe'), id: requestId, channel: target });
export const historySchema = z.object({
  op: z.literal('history'),
  id: requestId,
  channel,
  limit: z.number().int().min(1).max(1000).optional(),
  /** Return events after this position (ascending), else the latest `limit`. */
  since: positionSchema.optional(),
});
export const statsSchema = z.object({ op: z.literal('stats'), id: requestId, channel });
export const publishSchema = z.object({
  op: z.literal('publish'),
  id: requestId,
  channel,
  type: typeName,
  data: z.record(z.string(), z.unknown()).optional(),
  eventId: z.string().min(1).max(128).optional(),
});
export const pingSchema = z.object({ op: z.literal('ping'), id: requestId });
export const authSchema = z.object({ op: z.literal('auth'), id: requestId, token: z.string().min(1).max(8192) });

export const clientMessageSchema = z.discriminatedUnion('op', [
  subscribeSchema,
  unsubscribeSchema,
  historySchema,
  statsSchema,
  publishSchema,
  pingSchema,
  authSchema,
]);

export type SubscribeRequest = z.infer<typeof subscribeSchema>;
export type UnsubscribeRequest = z.infer<typeof unsubscribeSchema>;
export type HistoryRequest = z.infer<typeof historySchema>;
export type StatsRequest = z.infer<typeof statsSchema>;
export type PublishRequest = z.infer<typeof publishSchema>;
export type PingRequest = z.infer<typeof pingSchema>;
export type AuthRequest = z.infer<typeof authSchema>;
export type ClientMessage = z.infer<typeof clientMessageSchema>;
export type ClientOp = ClientMessage['op'];

export interface ChannelStats {
  channel: string;
  totalEvents: number;
  eventsByType: Record<string, number>;
  lastUpdated: number | null;
  epoch: string | null;
  offset: number;
}

/** Result payloads, by op. */
export interface ReplyResults {
  subscribe: {
    channel: string;
    types: string[] | null;
    /** Present when `since` was given: true when every missed event follows this reply. */
    recovered?: boolean;
    /** Exact channels: the log head at subscribe time. */
    position?: Position;
  };
  unsubscribe: { channel: string };
  history: { channel: string; events: PulseEvent[]; position: Position | null; recovered?: boolean };
  stats: ChannelStats;
  publish: { id: string; channel: string; offset: number; epoch: string; duplicate: boolean };
  ping: { serverTime: number };
  auth: { userId: string | null; expiresAt: number | null };
}

export type ServerMessage =
  | { type: 'welcome'; protocol: number; session: string; userId: string | null; serverTime: number; heartbeatMs: number }
  | { [K in ClientOp]: { type: 'reply'; id?: string | number; op: K; result: ReplyResults[K] } }[ClientOp]
  | { type: 'error'; id?: string | number; op?: string; code: ErrorCode; message: string; retryAfter?: number }
  | { type: 'events'; events: PulseEvent[] }
  | { type: 'closing'; code: number; reason: ErrorCode };
