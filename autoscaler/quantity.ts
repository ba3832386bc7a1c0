// Kubernetes resource quantities ("250m", "1.5", "512Mi", "2Gi", "1e3") as
// numbers. @kubernetes/client-node has a parser but does not export it.
import { InputError } from '../core/errors.ts';

const BINARY: Record<string, number> = { Ki: 2 ** 10, Mi: 2 ** 20, Gi: 2 ** 30, Ti: 2 ** 40, Pi: 2 ** 50, Ei: 2 ** 60 };
const DECIMAL: Record<string, number> = { n: 1e-9, u: 1e-6, m: 1e-3, '': 1, k: 1e3, M: 1e6, G: 1e9, T: 1e12, P: 1e15, E: 1e18 };
const QUANTITY = /^([+-]?(?:\d+\.?\d*|\.\d+))(Ki|Mi|Gi|Ti|Pi|Ei|n|u|m|k|M|G|T|P|E|[eE][+-]?\d+)?$/;

/** The quantity's value in base units (cores, bytes, …); throws InputError naming `field`. */
export function parseQuantity(text: string | number, field = 'quantity'): number {
  if (typeof text === 'number') {
    if (!Number.isFinite(text)) throw new InputError(field, `${text} is not a finite quantity`);
    return text;
  }
  const m = QUANTITY.exec(text.trim());
  if (!m) throw new InputError(field, `"${text}" is not a Kubernetes quantity (e.g. 250m, 1.5, 512Mi)`);
  const n = Number(m[1]);
  const suffix = m[2] ?? '';
  if (suffix in BINARY) return n * BINARY[suffix]!;
  if (suffix in DECIMAL) return n * DECIMAL[suffix]!;
  return n * 10 ** Number(suffix.slice(1));
}

/** Thousandths of the base unit, rounded up as Kubernetes' Quantity.MilliValue does. */
export function milliValue(text: string | number, field = 'quantity'): number {
  const v = parseQuantity(text, field) * 1000;
  // Guard float noise (0.1 * 1000 = 100.00000000000001) before rounding up.
  const r = Math.round(v);
  return Math.abs(v - r) < 1e-6 ? r : Math.ceil(v);
}

/** Formats a milli-value the way Kubernetes prints quantities in status: "250m" or "2" when whole. */
export function formatMilli(milli: number): string {
  return milli % 1000 === 0 ? String(milli / 1000) : `${milli}m`;
}
