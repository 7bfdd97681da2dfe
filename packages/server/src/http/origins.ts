/** ALLOWED_ORIGINS: a comma-separated list of origins, or `*`. Requests without an Origin pass (non-browser clients). */
export function isOriginAllowed(allowed: string, origin: string | undefined): boolean {
  if (!origin) return true;
  const list = allowed.split(',').map((s) => s.trim()).filter(Boolean);
  return list.includes('*') || list.includes(origin);
}
