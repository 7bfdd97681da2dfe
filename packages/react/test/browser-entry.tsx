/** Bundled by browser.test.ts for Chromium: mounts components against the page's origin. */
import { createRoot } from 'react-dom/client';
import { PulseProvider, RealTimeChart, ConnectionIndicator, LiveCampaignMetrics } from '../src/index.js';

export function mount(el: HTMLElement, contractId: string): void {
  createRoot(el).render(
    <PulseProvider options={{}}>
      <ConnectionIndicator />
      <LiveCampaignMetrics contractId={contractId} refreshInterval={0} />
      <RealTimeChart contractId={contractId} metric="impressions" refreshInterval={100} height={200} />
    </PulseProvider>,
  );
}
