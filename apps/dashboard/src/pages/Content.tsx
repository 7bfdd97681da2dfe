/** Seed 001: per-content views, likes, shares and comments, performance tier, and what is trending. */
import { useMemo } from 'react';
import { useMetrics } from '@pulse/react';
import { channelId } from '@pulse/client';
import { useFeed } from '../components/use-feed';
import type { ContentValues } from '@pulse/protocol';
import { Bars, Card, ErrorNote, Feed, PageHead, Stat, Stats } from '../components/ui';
import { fmtInt } from '../format';

const ROWS = 6;

export function Content() {
  const all = useMetrics<ContentValues>('content');
  const v = all.values;
  // Which contents are active: the live stream tells, so the table follows the traffic.
  const live = useFeed<{ contentId?: string }>('content:*', { max: 200 });
  const ids = useMemo(() => {
    const counts = new Map<string, number>();
    for (const e of live.events) {
      const id = channelId(e.channel);
      counts.set(id, (counts.get(id) ?? 0) + 1);
    }
    for (const t of v?.trendingContent ?? []) counts.set(t.key, (counts.get(t.key) ?? 0) + 1000);
    return [...counts.entries()]
      .sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0]))
      .slice(0, ROWS)
      .map(([id]) => id)
      .sort();
  }, [live.events, v?.trendingContent]);
  return (
    <>
      <PageHead title="Content">Per-content analytics (seed 001), live from <code>content:*</code> and <code>metrics:content</code></PageHead>
      <ErrorNote error={all.error} />
      <Card title="All content" id="content-totals">
        <Stats>
          <Stat id="content-total-views" label="Views" value={fmtInt(v?.views)} />
          <Stat id="content-total-likes" label="Likes" value={fmtInt(v?.likes)} />
          <Stat id="content-total-shares" label="Shares" value={fmtInt(v?.shares)} />
          <Stat id="content-total-comments" label="Comments" value={fmtInt(v?.comments)} />
        </Stats>
      </Card>
      <div className="grid-2">
        <Card title="Most active content" id="content-table">
          <div className="table-box">
            <table className="table">
              <thead>
                <tr>
                  <th>Content</th>
                  <th className="num">Views</th>
                  <th className="num">Likes</th>
                  <th className="num">Shares</th>
                  <th className="num">Score</th>
                  <th>Tier</th>
                </tr>
              </thead>
              <tbody>
                {ids.map((id) => (
                  <ContentRow key={id} id={id} />
                ))}
                {Array.from({ length: Math.max(0, ROWS - ids.length) }, (_, i) => (
                  <tr key={`empty-${i}`} className="empty-row">
                    <td colSpan={6}>{i === 0 && ids.length === 0 ? 'Waiting for content events…' : '\u00a0'}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
        </Card>
        <Card title="Trending" id="content-trending">
          <Bars id="trending" rows={(v?.trendingContent ?? []).slice(0, 8)} format={(n) => fmtInt(n)} />
          <p className="muted">Content whose weighted score (views + 5×likes + 10×shares + 3×comments) passes the trending threshold.</p>
        </Card>
      </div>
      <Card title="Live content events">
        <Feed
          id="feed-content"
          events={live.events.slice(0, 60)}
          height={260}
          render={(e) => (
            <>
              <code>{e.channel}</code> {e.userId && <small>{e.userId}</small>}
            </>
          )}
        />
      </Card>
    </>
  );
}

function ContentRow({ id }: { id: string }) {
  const m = useMetrics<ContentValues>('content', id);
  const v = m.values;
  return (
    <tr data-testid={`content-row-${id}`}>
      <td>
        {id} {v?.trending && <span className="pill pill-hot">trending</span>}
      </td>
      <td className="num">{fmtInt(v?.views)}</td>
      <td className="num">{fmtInt(v?.likes)}</td>
      <td className="num">{fmtInt(v?.shares)}</td>
      <td className="num">{fmtInt(v?.score)}</td>
      <td>{v?.tier ? <span className={`pill pill-${v.tier}`}>{v.tier}</span> : '—'}</td>
    </tr>
  );
}
