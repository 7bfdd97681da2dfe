import { useEffect, useRef, useState } from 'react';

/** `value`, but changing at most once per `ms` (seed 000's `refreshInterval`): the last value always lands. */
export function useThrottled<T>(value: T, ms: number): T {
  const [shown, setShown] = useState(value);
  const last = useRef(0);
  useEffect(() => {
    if (ms <= 0) {
      setShown(value);
      return;
    }
    const wait = last.current + ms - Date.now();
    if (wait <= 0) {
      last.current = Date.now();
      setShown(value);
      return;
    }
    const t = setTimeout(() => {
      last.current = Date.now();
      setShown(value);
    }, wait);
    return () => clearTimeout(t);
  }, [value, ms]);
  return shown;
}

/**
 * A number that glides to its new value (seed 003's animated revenue counter). Ends exactly on
 * the target; without `requestAnimationFrame` (SSR, tests) it jumps.
 */
export function useAnimatedNumber(target: number, durationMs = 600): number {
  const [value, setValue] = useState(target);
  const current = useRef(target);
  useEffect(() => {
    const raf = globalThis.requestAnimationFrame;
    if (typeof raf !== 'function' || durationMs <= 0 || current.current === target) {
      current.current = target;
      setValue(target);
      return;
    }
    const from = current.current;
    const start = performance.now();
    let handle = 0;
    const step = (now: number) => {
      const t = Math.min(1, (now - start) / durationMs);
      const eased = 1 - (1 - t) ** 3;
      const v = t >= 1 ? target : from + (target - from) * eased;
      current.current = v;
      setValue(v);
      if (t < 1) handle = raf(step);
    };
    handle = raf(step);
    return () => globalThis.cancelAnimationFrame?.(handle);
  }, [target, durationMs]);
  return value;
}

const integer = new Intl.NumberFormat('en-US', { maximumFractionDigits: 0 });
const money = new Intl.NumberFormat('en-US', { style: 'currency', currency: 'USD', minimumFractionDigits: 2, maximumFractionDigits: 2 });

export function formatInt(n: number | null | undefined): string {
  return typeof n === 'number' && Number.isFinite(n) ? integer.format(n) : '—';
}
export function formatMoney(n: number | null | undefined): string {
  return typeof n === 'number' && Number.isFinite(n) ? money.format(n) : '—';
}
export function formatPercent(n: number | null | undefined): string {
  return typeof n === 'number' && Number.isFinite(n) ? `${n.toFixed(2)}%` : '—';
}

/** A number from an event's data, trying several field names (seeds name amounts differently). */
export function numberField(data: Record<string, unknown>, names: readonly string[]): number | null {
  for (const n of names) {
    const v = data[n];
    if (typeof v === 'number' && Number.isFinite(v)) return v;
    if (typeof v === 'string' && v.trim() !== '' && Number.isFinite(Number(v))) return Number(v);
  }
  return null;
}
