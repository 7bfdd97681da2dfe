/**
 * ALLOWED_ORIGINS: a comma-separated list of origins, or `*`. Requests without an Origin pass
 * (non-browser clients). A page served by Pulse itself (the dashboard) is always allowed: its
 * Origin names the host the request was sent to (`Host`), so it is not cross-site, and a
 * browser's WebSocket always sends an Origin, even to its own site.
 */
export function isOriginAllowed(allowed: string, origin: string | undefined, host?: string | string[]): boolean {
  if (!origin) return true;
  const list = allowed.split(',').map((s) => s.trim()).filter(Boolean);
  return list.includes('*') || list.includes(origin) || isSameOrigin(origin, host);
}

/** The Origin's host (and port) is the request's Host header. */
function isSameOrigin(origin: string, host: string | string[] | undefined): boolean {
  const h = Array.isArray(host) ? host[0] : host;
  if (!h) return false;
  try {
    const u = new URL(origin);
    return (u.protocol === 'https:' || u.protocol === 'http:') && u.host === h.toLowerCase();
  } catch {
    return false;
  }
}
