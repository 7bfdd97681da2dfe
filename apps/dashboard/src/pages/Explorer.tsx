/** Subscribe to any channel or pattern, watch raw events, read history and stats. */
import { useEffect, useRef, useState } from 'react';
import { usePulseClient } from '@pulse/react';
import { isValidSubscriptionTarget, isPattern, type PulseEvent, type Subscription } from '@pulse/client';
import { Card, ErrorNote, PageHead } from '../components/ui';
import { apiGet } from '../session';
import { useToken } from '../components/token';
import { fmtInt, fmtTime } from '../format';
import type { ChannelStats } from '@pulse/protocol';

const MAX_EVENTS = 200;

interface Watch {
  target: string;
  types?: string[];
  sub: Subscription;
  status: 'pending' | 'subscribed' | 'error';
  error?: string;
  recovered?: boolean;
}

export function Explorer() {
  const client = usePulseClient();
  const token = useToken();
  const [target, setTarget] = useState('market:*');
  const [types, setTypes] = useState('');
  const [watches, setWatches] = useState<Watch[]>([]);
  const [events, setEvents] = useState<PulseEvent[]>([]);
  const [paused, setPaused] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const [channels, setChannels] = useState<Array<{ channel: string; offset: number }>>([]);
  const [history, setHistory] = useState<{ channel: string; events: PulseEvent[] } | null>(null);
  const [stats, setStats] = useState<ChannelStats | null>(null);
  const [selected, setSelected] = useState<PulseEvent | null>(null);
  const pausedRef = useRef(paused);
  pausedRef.current = paused;
  const buffer = useRef<PulseEvent[]>([]);
  const watchesRef = useRef(watches);
  watchesRef.current = watches;

  // Events are gathered and rendered at most once per animation frame, so a busy pattern costs one render per frame.
  useEffect(() => {
    let raf = 0;
    const tick = () => {
      if (buffer.current.length && !pausedRef.current) {
        const fresh = buffer.current.reverse();
        buffer.current = [];
        setEvents((old) => [...fresh, ...old].slice(0, MAX_EVENTS));
      }
      raf = requestAnimationFrame(tick);
    };
    raf = requestAnimationFrame(tick);
    return () => cancelAnimationFrame(raf);
  }, []);

  useEffect(() => () => watchesRef.current.forEach((w) => w.sub.unsubscribe()), []);

  const refreshChannels = () =>
    apiGet('/v1/channels?limit=200', token)
      .then((r) => setChannels((r as { channels: Array<{ channel: string; offset: number }> }).channels))
      .catch((e: Error) => setError(`Channels: ${e.message}`));
  useEffect(() => {
    void refreshChannels();
  }, [token]);

  const update = (t: string, patch: Partial<Watch>) => setWatches((ws) => ws.map((w) => (w.target === t ? { ...w, ...patch } : w)));

  const subscribe = () => {
    const t = target.trim();
    setError(null);
    if (!isValidSubscriptionTarget(t)) return setError(`"${t}" is not a channel (namespace:id) or a pattern (namespace:*)`);
    if (watches.some((w) => w.target === t)) return setError(`Already watching ${t}`);
    const typeList = types
      .split(',')
      .map((s) => s.trim())
      .filter(Boolean);
    const sub = client.subscribe(t, typeList.length ? { types: typeList } : {}, (ev) => {
      buffer.current.push(ev as PulseEvent);
      if (buffer.current.length > MAX_EVENTS) buffer.current.splice(0, buffer.current.length - MAX_EVENTS);
    });
    sub.on('subscribed', (i) => update(t, { status: 'subscribed', recovered: i.recovered, error: undefined }));
    sub.on('error', (e) => update(t, { status: 'error', error: `${e.code}: ${e.message}` }));
    setWatches((ws) => [...ws, { target: t, types: typeList.length ? typeList : undefined, sub, status: 'pending' }]);
  };

  const unsubscribe = (t: string) => {
    watches.find((w) => w.target === t)?.sub.unsubscribe();
    setWatches((ws) => ws.filter((w) => w.target !== t));
  };

  const loadHistory = async (channel: string) => {
    setError(null);
    try {
      const [h, s] = await Promise.all([client.history(channel, 50), client.stats(channel)]);
      setHistory({ channel, events: [...h].reverse() });
      setStats(s);
    } catch (e) {
      setError(`History of ${channel}: ${(e as Error).message}`);
    }
  };

  const exact = target.trim() && !isPattern(target.trim());
  return (
    <>
      <PageHead title="Explorer">Subscribe to any channel or pattern; read its history and stats</PageHead>
      <Card title="Subscribe" id="explorer-form">
        <form
          className="explorer-form"
          onSubmit={(e) => {
            e.preventDefault();
            subscribe();
          }}
        >
          <label>
            Channel or pattern
            <input data-testid="explorer-target" value={target} onChange={(e) => setTarget(e.target.value)} placeholder="market:* or content:42" spellCheck={false} list="known-channels" />
          </label>
          <label>
            Event types <small>(comma-separated, optional)</small>
            <input data-testid="explorer-types" value={types} onChange={(e) => setTypes(e.target.value)} placeholder="market:trade" spellCheck={false} />
          </label>
          <div className="row">
            <button type="submit" data-testid="explorer-subscribe">
              Subscribe
            </button>
            <button type="button" className="ghost" disabled={!exact} onClick={() => void loadHistory(target.trim())} data-testid="explorer-history">
              History &amp; stats
            </button>
          </div>
          <datalist id="known-channels">
            {channels.map((c) => (
              <option key={c.channel} value={c.channel} />
            ))}
          </datalist>
        </form>
        <ErrorNote error={error} />
        <ul className="chips" data-testid="explorer-watches">
          {watches.map((w) => (
            <li key={w.target} className={`chip chip-${w.status}`} title={w.error}>
              <code>{w.target}</code>
              {w.types && <small> [{w.types.join(', ')}]</small>} <small>{w.status}</small>
              <button type="button" className="chip-x" aria-label={`Unsubscribe ${w.target}`} onClick={() => unsubscribe(w.target)}>
                ×
              </button>
            </li>
          ))}
        </ul>
      </Card>
      <div className="grid-2 explorer-grid">
        <Card
          title={`Live events (${fmtInt(events.length)})`}
          id="explorer-events"
          actions={
            <>
              <button type="button" className="ghost" onClick={() => setPaused((p) => !p)}>
                {paused ? 'Resume' : 'Pause'}
              </button>
              <button type="button" className="ghost" onClick={() => setEvents([])}>
                Clear
              </button>
            </>
          }
        >
          <ol className="feed raw" data-testid="explorer-feed" style={{ height: 420 }}>
            {events.length === 0 && <li className="feed-empty">{watches.length ? 'Waiting for events…' : 'Subscribe to a channel to see its events.'}</li>}
            {events.map((e) => (
              <li key={`${e.channel}@${e.epoch}:${e.offset}`} onClick={() => setSelected(e)} className={selected === e ? 'selected' : ''} data-event-id={e.id} data-channel={e.channel} data-offset={e.offset}>
                <time>{fmtTime(e.ts)}</time>
                <span className="feed-type">{e.type}</span>
                <span className="feed-body">
                  <code>{e.channel}</code> <small>#{e.offset}</small> {JSON.stringify(e.data).slice(0, 140)}
                </span>
              </li>
            ))}
          </ol>
        </Card>
        <Card title={selected ? 'Event' : history ? `History of ${history.channel}` : 'Channels'} id="explorer-side">
          {selected ? (
            <>
              <pre className="json">{JSON.stringify(selected, null, 2)}</pre>
              <button type="button" className="ghost" onClick={() => setSelected(null)}>
                Close
              </button>
            </>
          ) : history ? (
            <>
              {stats && (
                <div className="kv" data-testid="explorer-stats">
                  <span>Total events</span>
                  <strong>{fmtInt(stats.totalEvents)}</strong>
                  <span>Offset</span>
                  <strong>{fmtInt(stats.offset)}</strong>
                  <span>Last update</span>
                  <strong>{stats.lastUpdated ? fmtTime(stats.lastUpdated) : '—'}</strong>
                  {Object.entries(stats.eventsByType).map(([t, n]) => (
                    <FragmentKV key={t} k={t} v={fmtInt(n)} />
                  ))}
                </div>
              )}
              <ol className="feed raw" data-testid="explorer-history-list" style={{ height: 260 }}>
                {history.events.length === 0 && <li className="feed-empty">No stored events</li>}
                {history.events.map((e) => (
                  <li key={`${e.epoch}:${e.offset}`} onClick={() => setSelected(e)}>
                    <time>{fmtTime(e.ts)}</time>
                    <span className="feed-type">{e.type}</span>
                    <span className="feed-body">
                      <small>#{e.offset}</small> {JSON.stringify(e.data).slice(0, 120)}
                    </span>
                  </li>
                ))}
              </ol>
              <button type="button" className="ghost" onClick={() => (setHistory(null), setStats(null))}>
                Back to channels
              </button>
            </>
          ) : (
            <>
              <ul className="channel-list" data-testid="explorer-channels">
                {channels.length === 0 && <li className="feed-empty">No channels yet</li>}
                {channels.map((c) => (
                  <li key={c.channel}>
                    <button type="button" className="link" onClick={() => (setTarget(c.channel), void loadHistory(c.channel))}>
                      {c.channel}
                    </button>
                    <small>{fmtInt(c.offset)}</small>
                  </li>
                ))}
              </ul>
              <button type="button" className="ghost" onClick={() => void refreshChannels()}>
                Refresh
              </button>
            </>
          )}
        </Card>
      </div>
    </>
  );
}

function FragmentKV({ k, v }: { k: string; v: string }) {
  return (
    <>
      <span>{k}</span>
      <strong>{v}</strong>
    </>
  );
}
