import { useEffect, useRef } from 'react';
import { useChannel } from '../hooks.js';

export interface ActivityFeedProps {
  contractId: string;
  /** Keep the newest event in view (default true). */
  autoScroll?: boolean;
  maxEvents?: number;
  height?: number;
  eventTypes?: string[];
}

/** Seed 000's activity feed: the contract's events, newest first, bounded to `maxEvents`. */
export function ActivityFeed({ contractId, autoScroll = true, maxEvents = 100, height = 600, eventTypes }: ActivityFeedProps) {
  const { events, latest } = useChannel(`contract:${contractId}`, { max: maxEvents, types: eventTypes });
  const box = useRef<HTMLOListElement>(null);
  useEffect(() => {
    if (autoScroll && box.current) box.current.scrollTop = 0;
  }, [latest, autoScroll]);
  return (
    <ol ref={box} className="pulse-activity-feed" aria-label="Activity" style={{ maxHeight: height, overflowY: 'auto', listStyle: 'none', padding: 0 }}>
      {events.length === 0 && <li className="pulse-empty">Waiting for events…</li>}
      {events.map((e) => (
        <li key={`${e.channel}@${e.epoch}:${e.offset}`} data-testid="activity">
          <time dateTime={new Date(e.ts).toISOString()}>{new Date(e.ts).toLocaleTimeString()}</time> <strong>{e.type}</strong>
          {e.txId && <small> tx {e.txId.slice(0, 10)}</small>}
        </li>
      ))}
    </ol>
  );
}
