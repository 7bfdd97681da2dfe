import { useEffect, useMemo, useRef } from 'react';
import type { PulseEvent } from '@pulse/client';
import { useChannel } from '../hooks.js';
import { Chart, type ChartPoint } from './Chart.js';
import { notify } from './toasts.js';
import { formatMoney, numberField } from './util.js';

export interface LiveBiddingInterfaceProps {
  contractId: string;
  /** Browser notifications for new highest bids (asks permission once). */
  enableNotifications?: boolean;
  /** A short tone on each bid (Web Audio; silent where unavailable). */
  enableSound?: boolean;
  /** Toasts per bid (default true; needs `<PulseToaster />` mounted). */
  enableToasts?: boolean;
  maxBids?: number;
}

const BID_TYPES = ['auction_bid_placed', 'bid_placed'];
const AMOUNT = ['amount', 'bidAmount', 'bid'];

function beep(): void {
  const Ctx = (globalThis as { AudioContext?: typeof AudioContext }).AudioContext;
  if (!Ctx) return;
  try {
    const ctx = new Ctx();
    const osc = ctx.createOscillator();
    const gain = ctx.createGain();
    osc.frequency.value = 880;
    gain.gain.value = 0.05;
    osc.connect(gain).connect(ctx.destination);
    osc.start();
    osc.stop(ctx.currentTime + 0.12);
    osc.onended = () => void ctx.close();
  } catch {
    // Autoplay policies may refuse audio before a user gesture; a missing beep is harmless.
  }
}

/** Seed 000's bidding view: live bid stream, highest bid, bid trend chart, toasts, notifications, sound. */
export function LiveBiddingInterface({ contractId, enableNotifications = false, enableSound = false, enableToasts = true, maxBids = 50 }: LiveBiddingInterfaceProps) {
  const { events, count } = useChannel(`contract:${contractId}`, { types: BID_TYPES, max: maxBids });
  const bids = useMemo(
    () =>
      events.map((e) => ({
        id: e.id,
        auctionId: String(e.data.auctionId ?? ''),
        bidder: String(e.data.bidder ?? e.data.bidderAddress ?? e.userId ?? 'unknown'),
        amount: numberField(e.data, AMOUNT) ?? 0,
        ts: e.ts,
      })),
    [events],
  );
  const highest = useRef<{ amount: number; bidder: string } | null>(null);
  const best = bids.reduce<{ amount: number; bidder: string } | null>((a, b) => (!a || b.amount > a.amount ? b : a), highest.current);
  const trend: ChartPoint[] = useMemo(() => [...bids].reverse().map((b, i) => ({ t: b.ts + i / 1000, v: b.amount })), [bids]);

  useEffect(() => {
    if (!enableNotifications) return;
    const N = (globalThis as { Notification?: typeof Notification }).Notification;
    if (N && N.permission === 'default') void N.requestPermission();
  }, [enableNotifications]);

  // React to new bids only (count grows), not to re-renders.
  const seen = useRef(0);
  useEffect(() => {
    const fresh = Math.min(count - seen.current, bids.length);
    seen.current = count;
    if (fresh <= 0) return;
    const newest = bids.slice(0, fresh);
    const top = newest.reduce((a, b) => (b.amount > a.amount ? b : a));
    const isRecord = !highest.current || top.amount > highest.current.amount;
    if (isRecord) highest.current = { amount: top.amount, bidder: top.bidder };
    if (enableToasts) notify(isRecord ? `New highest bid: ${formatMoney(top.amount)}` : `Bid ${formatMoney(top.amount)}`, { description: `by ${top.bidder}` });
    if (enableSound) beep();
    const N = (globalThis as { Notification?: typeof Notification }).Notification;
    if (enableNotifications && isRecord && N && N.permission === 'granted') new N('New highest bid', { body: `${formatMoney(top.amount)} by ${top.bidder}` });
  }, [count]); // eslint-disable-line react-hooks/exhaustive-deps

  return (
    <section className="pulse-bidding">
      <div className="pulse-tile">
        <div className="pulse-tile-label">Highest bid</div>
        <div className="pulse-tile-value" data-testid="highest-bid">
          {best ? formatMoney(best.amount) : '—'}
        </div>
        {best && <small data-testid="highest-bidder">{best.bidder}</small>}
      </div>
      <Chart points={trend} type="line" height={160} label="bid" />
      <ol className="pulse-bid-stream" aria-label="Live bids">
        {bids.map((b) => (
          <li key={b.id} data-testid="bid">
            {formatMoney(b.amount)} — {b.bidder}
            {b.auctionId && <small> (auction {b.auctionId})</small>}
          </li>
        ))}
      </ol>
    </section>
  );
}

export type { PulseEvent };
