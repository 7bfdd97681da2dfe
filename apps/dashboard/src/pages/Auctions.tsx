/** Seed 000's live bidding: the bid stream, highest bid and trend, plus the auctions' states. */
import { useState } from 'react';
import { LiveBiddingInterface, useMetrics } from '@pulse/react';
import type { CampaignValues } from '@pulse/protocol';
import { Card, PageHead, Stat, Stats } from '../components/ui';
import { ContractPicker } from '../components/ContractPicker';
import { AUCTIONS_CONTRACT } from '../demo';
import { fmtInt } from '../format';

export function Auctions() {
  const [contractId, setContractId] = useState(AUCTIONS_CONTRACT);
  const [alerts, setAlerts] = useState(false);
  const m = useMetrics<CampaignValues>('campaign', contractId);
  const a = m.values?.auctions;
  return (
    <>
      <PageHead title="Auctions">
        <ContractPicker value={contractId} onChange={setContractId} />
      </PageHead>
      <Card title="Auctions" id="auction-states">
        <Stats>
          <Stat id="auctions-total" label="Auctions" value={fmtInt(a?.total)} />
          <Stat id="auctions-open" label="Open" value={fmtInt(a?.byStatus.open ?? (a ? 0 : null))} />
          <Stat id="auctions-bidding" label="Bidding" value={fmtInt(a?.byStatus.bidding ?? (a ? 0 : null))} tone="warn" />
          <Stat id="auctions-finalized" label="Finalized" value={fmtInt(a?.byStatus.finalized ?? (a ? 0 : null))} tone="ok" />
          <Stat id="auctions-bids" label="Bids" value={fmtInt(m.values?.bids)} />
        </Stats>
      </Card>
      <Card
        title="Live bidding"
        id="live-bidding"
        actions={
          <label className="toggle">
            <input type="checkbox" checked={alerts} onChange={(e) => setAlerts(e.target.checked)} /> toasts for new highs
          </label>
        }
      >
        <div className="bidding-box">
          <LiveBiddingInterface key={contractId} contractId={contractId} enableToasts={alerts} maxBids={50} />
        </div>
      </Card>
    </>
  );
}
