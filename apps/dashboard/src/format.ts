/**
 * Number formatting for the dashboard: fixed rules so a value never changes width by surprise
 * (compact above 10 000, fixed decimals for money and percentages). Wei amounts (seed 004) are
 * shown in whole tokens.
 */
const int = new Intl.NumberFormat('en-US', { maximumFractionDigits: 0 });
const compact = new Intl.NumberFormat('en-US', { notation: 'compact', maximumFractionDigits: 1 });
const money = new Intl.NumberFormat('en-US', { style: 'currency', currency: 'USD', minimumFractionDigits: 2, maximumFractionDigits: 2 });
const moneyCompact = new Intl.NumberFormat('en-US', { style: 'currency', currency: 'USD', notation: 'compact', maximumFractionDigits: 1 });
const dec2 = new Intl.NumberFormat('en-US', { minimumFractionDigits: 2, maximumFractionDigits: 2 });

const DASH = '—';
const ok = (n: unknown): n is number => typeof n === 'number' && Number.isFinite(n);

/** 1,234 below 100 000; 123.4K above. */
export function fmtInt(n: number | null | undefined): string {
  if (!ok(n)) return DASH;
  return Math.abs(n) < 100_000 ? int.format(n) : compact.format(n);
}

export function fmtMoney(n: number | null | undefined): string {
  if (!ok(n)) return DASH;
  return Math.abs(n) < 1_000_000 ? money.format(n) : moneyCompact.format(n);
}

export function fmtPercent(n: number | null | undefined): string {
  return ok(n) ? `${dec2.format(n)}%` : DASH;
}

export function fmtDecimal(n: number | null | undefined, digits = 2): string {
  return ok(n) ? n.toFixed(digits) : DASH;
}

/** Wei (a number or a decimal string, 18 decimals) as tokens. */
export function weiToNumber(v: unknown): number | null {
  if (typeof v === 'number') return Number.isFinite(v) ? v / 1e18 : null;
  if (typeof v === 'string' && /^\d+$/.test(v)) {
    // Split before converting so large values keep their cents.
    const whole = v.length > 18 ? v.slice(0, -18) : '0';
    const frac = v.padStart(18, '0').slice(-18, -12);
    return Number(whole) + Number(frac) / 1e6;
  }
  return null;
}

export function fmtTokens(n: number | null | undefined): string {
  if (!ok(n)) return DASH;
  return Math.abs(n) < 100_000 ? dec2.format(n) : compact.format(n);
}

/** A price in (0, 1) as cents: 0.634 → "63.4¢". */
export function fmtCents(p: number | null | undefined): string {
  return ok(p) ? `${(p * 100).toFixed(1)}¢` : DASH;
}

export function fmtMs(ms: number | null | undefined): string {
  if (!ok(ms)) return DASH;
  if (ms < 1) return `${(ms * 1000).toFixed(0)} µs`;
  if (ms < 1000) return `${ms.toFixed(ms < 10 ? 1 : 0)} ms`;
  return `${(ms / 1000).toFixed(2)} s`;
}

export function fmtBytes(b: number | null | undefined): string {
  if (!ok(b)) return DASH;
  const units = ['B', 'KB', 'MB', 'GB'];
  let i = 0;
  while (b >= 1024 && i < units.length - 1) {
    b /= 1024;
    i++;
  }
  return `${b.toFixed(i === 0 ? 0 : 1)} ${units[i]}`;
}

export function fmtDuration(s: number | null | undefined): string {
  if (!ok(s)) return DASH;
  const d = Math.floor(s / 86400);
  const h = Math.floor((s % 86400) / 3600);
  const m = Math.floor((s % 3600) / 60);
  return d ? `${d}d ${h}h` : h ? `${h}h ${m}m` : `${m}m ${Math.floor(s % 60)}s`;
}

export function fmtTime(ts: number): string {
  return new Date(ts).toLocaleTimeString('en-GB', { hour12: false });
}
