import { useEffect, useMemo, useRef, useState, type ReactNode } from 'react';
import { PulseProvider, ConnectionIndicator, PulseToaster, useConnection } from '@pulse/react';
import { usePath, navigate } from './router';
import { loadToken, saveToken } from './session';
import { TokenContext } from './components/token';
import { Overview } from './pages/Overview';
import { Campaigns } from './pages/Campaigns';
import { Auctions } from './pages/Auctions';
import { Content } from './pages/Content';
import { Marketplace } from './pages/Marketplace';
import { Markets } from './pages/Markets';
import { Explorer } from './pages/Explorer';
import { System } from './pages/System';

export const PAGES: Array<{ path: string; title: string; render: () => ReactNode }> = [
  { path: '/', title: 'Overview', render: () => <Overview /> },
  { path: '/campaigns', title: 'Campaigns', render: () => <Campaigns /> },
  { path: '/auctions', title: 'Auctions', render: () => <Auctions /> },
  { path: '/content', title: 'Content', render: () => <Content /> },
  { path: '/marketplace', title: 'Marketplace', render: () => <Marketplace /> },
  { path: '/markets', title: 'Markets', render: () => <Markets /> },
  { path: '/explorer', title: 'Explorer', render: () => <Explorer /> },
  { path: '/system', title: 'System', render: () => <System /> },
];

export function App() {
  const [token, setToken] = useState(loadToken);
  const options = useMemo(() => ({ token: token || undefined }), [token]);
  const apply = (t: string) => {
    saveToken(t);
    setToken(t);
  };
  return (
    // A new token means a new client: the provider is keyed by it.
    <PulseProvider key={token} options={options}>
      <TokenContext.Provider value={token}>
        <Shell token={token} onToken={apply} />
        <PulseToaster position="bottom-right" />
      </TokenContext.Provider>
    </PulseProvider>
  );
}

function Shell({ token, onToken }: { token: string; onToken: (t: string) => void }) {
  const path = usePath();
  const page = PAGES.find((p) => p.path === path) ?? null;
  const nav = useRef<HTMLElement>(null);
  // On a phone the nav scrolls sideways: keep the current page's tab in view.
  useEffect(() => {
    nav.current?.querySelector('[aria-current="page"]')?.scrollIntoView({ block: 'nearest', inline: 'nearest' });
  }, [path]);
  return (
    <div className="app">
      <header className="topbar">
        <a className="brand" href="/" onClick={(e) => (e.preventDefault(), navigate('/'))}>
          <img src="/favicon.svg" alt="" width={24} height={24} />
          <span>Pulse</span>
        </a>
        <nav className="nav" aria-label="Pages" ref={nav}>
          {PAGES.map((p) => (
            <a
              key={p.path}
              href={p.path}
              aria-current={p.path === path ? 'page' : undefined}
              onClick={(e) => {
                if (e.metaKey || e.ctrlKey || e.shiftKey || e.button !== 0) return;
                e.preventDefault();
                navigate(p.path);
              }}
            >
              {p.title}
            </a>
          ))}
        </nav>
        <div className="topbar-right">
          <span data-testid="connection">
            <ConnectionIndicator showTransport />
          </span>
          <TokenField token={token} onToken={onToken} />
        </div>
      </header>
      <AuthHint token={token} />
      <main className="page" data-page={page?.title ?? 'not-found'}>
        {page ? (
          page.render()
        ) : (
          <section className="card">
            <h1>Not found</h1>
            <p>
              No page at <code>{path}</code>. <a href="/">Go to the overview</a>.
            </p>
          </section>
        )}
      </main>
    </div>
  );
}

/** Shown when the server refuses the connection: the way to a token. */
function AuthHint({ token }: { token: string }) {
  const c = useConnection();
  const code = c.lastChange?.code;
  if (c.state !== 'failed' && code !== 'UNAUTHORIZED' && code !== 'TOKEN_EXPIRED') return null;
  if (code !== 'UNAUTHORIZED' && code !== 'TOKEN_EXPIRED' && code !== 'FORBIDDEN') {
    return (
      <div className="banner" role="alert">
        Disconnected: {c.lastChange?.reason ?? 'the server cannot be reached'}. <button onClick={c.reconnect}>Reconnect</button>
      </div>
    );
  }
  return (
    <div className="banner" role="alert">
      {token ? 'The server refused this token' : 'This server requires a token'} ({code}). Create one with{' '}
      <code>npm run pulse -- token admin - admin</code> and paste it in the token field, or run the server in development with{' '}
      <code>SKIP_AUTH=true</code>.
    </div>
  );
}

function TokenField({ token, onToken }: { token: string; onToken: (t: string) => void }) {
  const [open, setOpen] = useState(false);
  const [draft, setDraft] = useState(token);
  return (
    <div className="token">
      <button type="button" className="ghost" data-testid="token-button" onClick={() => setOpen((o) => !o)} aria-expanded={open} title={token ? 'Token set' : 'No token (development mode)'}>
        {token ? 'Token ✓' : 'Dev mode'}
      </button>
      {open && (
        <form
          className="token-form"
          onSubmit={(e) => {
            e.preventDefault();
            onToken(draft.trim());
            setOpen(false);
          }}
        >
          <label>
            JWT token <small>(empty = development mode, for a server with SKIP_AUTH)</small>
            <input value={draft} onChange={(e) => setDraft(e.target.value)} placeholder="eyJhbGciOi…" autoComplete="off" spellCheck={false} />
          </label>
          <div className="row">
            <button type="submit">Connect</button>
            <button type="button" className="ghost" onClick={() => (setDraft(''), onToken(''), setOpen(false))}>
              Clear
            </button>
          </div>
        </form>
      )}
    </div>
  );
}
