/** A stored, ordered event as every consumer sees it. */
export interface PulseEvent {
  /** Idempotency key: client-supplied or generated. */
  id: string;
  channel: string;
  type: string;
  /** Event time, ms since epoch. */
  ts: number;
  data: Record<string, unknown>;
  /** Position in the channel's log: strictly increasing within an epoch. */
  offset: number;
  /** Changes when the channel's log is reset; positions are only comparable within one epoch. */
  epoch: string;
  userId?: string;
  orgId?: string;
  txId?: string;
  blockHeight?: number;
}

/** Where a client is in one channel's log. */
export interface Position {
  epoch: string;
  offset: number;
}

/** What a producer sends. Everything but channel and type is optional. */
export interface EventInput {
  channel: string;
  type: string;
  data?: Record<string, unknown>;
  id?: string;
  ts?: number | string;
  userId?: string;
  orgId?: string;
  txId?: string;
  blockHeight?: number;
}

/** Result of one ingest call. Indexes refer to the position of the item in the request. */
export interface IngestResult {
  accepted: number;
  duplicates: number;
  rejected: number;
  /** The accepted events' ids and positions, in request order. */
  events: Array<{ index: number; id: string; channel: string; offset: number; epoch: string }>;
  duplicateItems: Array<{ index: number; id: string }>;
  errors: Array<{ index: number; code: string; message: string }>;
  durable: boolean;
}
