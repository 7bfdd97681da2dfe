/** Seed 004: prediction-market trades and prices (amounts and prices arrive in wei). */
import { useMemo } from 'react';
import { useMetrics } from '@pulse/react';
import { channelId, type TypedEvent } from '@pulse/client';
import { useFeed } from '../components/use-feed';
import type { MarketsValues } from '@pulse/protocol';
import { Card, EventChart, Feed, PageHead, Stat, Stats, ErrorNote } from '../components/ui';
import { fmtCents, fmtInt, fmtTokens, weiToNumber } from '../format';

type Trade = {
  marketId?: string;
  direction?: string;
  outcome?: number;
  amount?: string;
  newYesPrice?: string;
  trader?: string;
};

export function Markets() {
  const all = useMetrics<MarketsValues>('markets');
  const trades = useFeed<Trade>('market:*', { max: 300, types: ['market:trade'] });
  const created = useFeed<{ marketId?: string; question?: string }>('global:all', { max: 50, types: ['market:created'] });
  const questions = useMemo(() => {
    const q = new Map<string, string>();
    for (const e of created.events) if (e.data.marketId && e.data.question) q.set(e.data.marketId, e.data.question);
    return q;
  }, [created.events]);
  // Trades per market (newest first), grouped once per update: MarketCard's memo then sees the same array until trades change.
  const byMarket = useMemo(() => {
    const groups = new Map<string, Array<TypedEvent<Trade>>>();
    for (const e of trades.events) {
      const id = e.data.marketId ?? channelId(e.channel);
      const list = groups.get(id);
      if (list) list.push(e);
      else groups.set(id, [e]);
    }
    return groups;
  }, [trades.events]);
  const markets = [...byMarket.keys()].sort();
  const v = all.values;
  return (
    <>
      <PageHead title="Markets">Trades and prices (seed 004), live from <code>market:*</code></PageHead>
      <ErrorNote error={all.error} />
      <Card title="All markets" id="markets-totals">
        <Stats>
          <Stat id="mk-trades" label="Trades" value={fmtInt(v?.trades)} />
          <Stat id="mk-volume" label="Volume (tokens)" value={fmtTokens(weiToNumber(v?.volume))} />
          <Stat id="mk-traders" label="Traders" value={fmtInt(v?.traders)} />
          <Stat id="mk-last" label="Last YES price" value={fmtCents(weiToNumber(v?.lastYesPrice))} />
        </Stats>
      </Card>
      <div className="grid-2">
        {markets.length === 0 && (
          <Card title="Markets">
            <p className="muted">Waiting for trades…</p>
          </Card>
        )}
        {markets.map((id) => (
          <MarketCard key={id} id={id} question={questions.get(id)} trades={byMarket.get(id)!} />
        ))}
      </div>
      <Card title="Trades">
        <Feed
          id="feed-trades"
          events={trades.events.slice(0, 60)}
          height={260}
          render={(e) => {
            const d = e.data as Trade;
            return (
              <>
                <code>{d.marketId}</code> <span className={`pill pill-${d.direction}`}>{d.direction}</span> {d.outcome === 1 ? 'YES' : 'NO'} {fmtTokens(weiToNumber(d.amount))} → YES {fmtCents(weiToNumber(d.newYesPrice))}
              </>
            );
          }}
        />
      </Card>
    </>
  );
}

function MarketCard({ id, question, trades }: { id: string; question?: string; trades: ReadonlyArray<{ ts: number; data: Trade }> }) {
  const m = useMetrics<MarketsValues>('markets', id);
  const points = useMemo(
    () =>
      trades
        .map((e) => ({ t: e.ts, v: (weiToNumber(e.data.newYesPrice) ?? 0) * 100 }))
        .reverse()
        .slice(-60),
    [trades],
  );
  const yes = weiToNumber(m.values?.lastYesPrice) ?? (points.length ? points[points.length - 1]!.v / 100 : null);
  return (
    <Card title={question ?? `Market ${id}`} id={`market-${id}`}>
      <Stats>
        <Stat id={`mk-${id}-yes`} label="YES" value={fmtCents(yes)} tone="ok" />
        <Stat id={`mk-${id}-no`} label="NO" value={fmtCents(yes === null ? null : 1 - yes)} tone="bad" />
        <Stat id={`mk-${id}-trades`} label="Trades" value={fmtInt(m.values?.trades)} />
        <Stat id={`mk-${id}-volume`} label="Volume" value={fmtTokens(weiToNumber(m.values?.volume))} />
      </Stats>
      <EventChart id={`chart-market-${id}`} points={points} label="YES price (¢)" height={120} color="#16a34a" />
    </Card>
  );
}
