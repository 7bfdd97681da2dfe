/** Seed 002: search and filter analytics, with the seed's real-time on/off toggle. */
import { useState } from 'react';
import type { PulseEvent } from '@pulse/client';
import { useMetrics } from '@pulse/react';
import { useFeed } from '../components/use-feed';
import type { MarketplaceValues } from '@pulse/protocol';
import { Bars, Card, ErrorNote, Feed, PageHead, SampledChart, Stat, Stats } from '../components/ui';
import { fmtInt } from '../format';

export function Marketplace() {
  const [realtime, setRealtime] = useState(true);
  const [frozen, setFrozen] = useState<MarketplaceValues | null>(null);
  const [frozenFeed, setFrozenFeed] = useState<ReadonlyArray<PulseEvent>>([]);
  const m = useMetrics<MarketplaceValues>('marketplace');
  // Seed 002 channel names: `analytics:*` carries search, filter, listing and session events.
  const feed = useFeed('analytics:*', { max: 80, enabled: realtime });
  const v = realtime ? m.values : frozen;
  const toggle = (on: boolean) => {
    // Paused, the page keeps what it showed; resumed, it catches up from the server.
    setFrozen(on ? null : m.values);
    setFrozenFeed(on ? [] : feed.events);
    setRealtime(on);
  };
  return (
    <>
      <PageHead title="Marketplace">
        <label className="toggle big" data-testid="realtime-toggle">
          <input type="checkbox" role="switch" checked={realtime} onChange={(e) => toggle(e.target.checked)} />
          Real-time updates <strong>{realtime ? 'on' : 'paused'}</strong>
        </label>
      </PageHead>
      <ErrorNote error={m.error} />
      <Card title="Search & filter analytics" id="marketplace-totals">
        <Stats>
          <Stat id="mp-searches" label="Searches" value={fmtInt(v?.searches)} />
          <Stat id="mp-filters" label="Filters applied" value={fmtInt(v?.filterUses)} />
          <Stat id="mp-listings" label="Listing views" value={fmtInt(v?.listingViews)} />
          <Stat id="mp-sessions" label="Sessions" value={fmtInt(v?.sessions)} />
          <Stat id="mp-users" label="Unique users" value={fmtInt(v?.uniqueUsers)} />
        </Stats>
      </Card>
      <div className="grid-3">
        <Card title="Popular search terms">
          <Bars id="mp-terms" rows={(v?.popularSearchTerms ?? []).slice(0, 8)} format={fmtInt} />
        </Card>
        <Card title="Most used filters">
          <Bars id="mp-filter-bars" rows={(v?.popularFilters ?? []).slice(0, 8)} format={fmtInt} />
        </Card>
        <Card title="Top listings">
          <Bars id="mp-top-listings" rows={(v?.topListings ?? []).slice(0, 8)} format={fmtInt} />
        </Card>
      </div>
      <div className="grid-2">
        <Card title="Searches (sampled every 2 s)">
          <SampledChart id="chart-searches" value={v ? v.searches : null} label="searches" everyMs={2000} max={30} color="#a855f7" />
        </Card>
        <Card title={realtime ? 'Live analytics events' : 'Live analytics events (paused)'}>
          <Feed
            id="feed-analytics"
            events={realtime ? feed.events : frozenFeed}
            height={220}
            render={(e) => {
              const d = e.data as Record<string, unknown>;
              const what = d.query ?? (d.filterType ? `${String(d.filterType)}=${String(d.value)}` : (d.listingId ?? d.device ?? ''));
              return (
                <>
                  <code>{e.channel}</code> {String(what)}
                </>
              );
            }}
          />
        </Card>
      </div>
    </>
  );
}
