/**
 * The dashboard's credentials: a JWT kept in localStorage, or none (a server in development
 * with SKIP_AUTH accepts connections without one). `?token=` in the address sets it once.
 */
const KEY = 'pulse.token';

export function loadToken(): string {
  const fromUrl = new URLSearchParams(window.location.search).get('token');
  if (fromUrl) {
    saveToken(fromUrl);
    const url = new URL(window.location.href);
    url.searchParams.delete('token');
    window.history.replaceState(null, '', url.pathname + url.search + url.hash);
    return fromUrl;
  }
  try {
    return window.localStorage.getItem(KEY) ?? '';
  } catch {
    return '';
  }
}

export function saveToken(token: string): void {
  try {
    if (token) window.localStorage.setItem(KEY, token);
    else window.localStorage.removeItem(KEY);
  } catch {
    // Private mode without storage: the token lasts for this page only.
  }
}

/** GET a server path with the token, as JSON or text. Throws with the server's error code. */
export async function apiGet(path: string, token: string, as: 'json' | 'text' = 'json'): Promise<unknown> {
  const res = await fetch(path, { headers: token ? { Authorization: `Bearer ${token}` } : {} });
  if (!res.ok) {
    let code = `HTTP ${res.status}`;
    try {
      const body = (await res.json()) as { code?: string; message?: string };
      code = body.code ? `${body.code}: ${body.message ?? ''}` : code;
    } catch {
      // not JSON: keep the status
    }
    throw new Error(code);
  }
  return as === 'json' ? res.json() : res.text();
}
