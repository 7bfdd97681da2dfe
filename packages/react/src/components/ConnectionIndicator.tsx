import { useConnection } from '../hooks.js';

const CSS = `@keyframes pulse-ring{0%{box-shadow:0 0 0 0 rgba(34,197,94,.6)}70%{box-shadow:0 0 0 8px rgba(34,197,94,0)}100%{box-shadow:0 0 0 0 rgba(34,197,94,0)}}
.pulse-dot{display:inline-block;width:10px;height:10px;border-radius:50%;vertical-align:middle;margin-right:6px}
.pulse-dot[data-state=connected]{background:#22c55e;animation:pulse-ring 1.6s infinite}
.pulse-dot[data-state=connecting],.pulse-dot[data-state=reconnecting]{background:#f59e0b}
.pulse-dot[data-state=disconnected],.pulse-dot[data-state=failed]{background:#ef4444}`;

const LABELS = { connected: 'Live', connecting: 'Connecting…', reconnecting: 'Reconnecting…', disconnected: 'Disconnected', failed: 'Disconnected' } as const;

/** Seed 003's status light: pulsing green while connected, amber while (re)connecting, red otherwise. */
export function ConnectionIndicator({ showLabel = true, showTransport = false }: { showLabel?: boolean; showTransport?: boolean }) {
  const c = useConnection();
  return (
    <span className="pulse-connection" role="status" aria-live="polite" data-state={c.state}>
      <style>{CSS}</style>
      <span className="pulse-dot" data-state={c.state} aria-hidden="true" />
      {showLabel && <span>{LABELS[c.state]}</span>}
      {showTransport && c.transport && <small> ({c.transport})</small>}
      {c.state === 'failed' && (
        <button type="button" onClick={c.reconnect} style={{ marginLeft: 8 }}>
          Reconnect
        </button>
      )}
    </span>
  );
}
