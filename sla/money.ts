// Exact money arithmetic for compensation. Amounts enter as decimal numbers
// and are converted once to integer micro-units (1e-6 of the currency unit);
// every pro-rating and multiplication after that is done on BigInt
// fractions, so the only rounding is the final half-up to the cent. Floats
// would drift (0.1 + 0.2) and a voucher must be right to the cent.

export const MICRO = 1_000_000n;

/** A non-negative or negative rational number n/d with d > 0, kept reduced. */
export class Fraction {
  readonly n: bigint;
  readonly d: bigint;
  constructor(n: bigint, d: bigint = 1n) {
    if (d === 0n) throw new RangeError('Fraction with zero denominator');
    if (d < 0n) {
      n = -n;
      d = -d;
    }
    const g = gcd(n < 0n ? -n : n, d);
    this.n = g > 1n ? n / g : n;
    this.d = g > 1n ? d / g : d;
  }
  static readonly ZERO = new Fraction(0n);
  add(o: Fraction): Fraction {
    return new Fraction(this.n * o.d + o.n * this.d, this.d * o.d);
  }
  mul(o: Fraction): Fraction {
    return new Fraction(this.n * o.n, this.d * o.d);
  }
  div(o: Fraction): Fraction {
    return new Fraction(this.n * o.d, this.d * o.n);
  }
  /** Rounds half away from zero to an integer (half-up for the non-negative values we use). */
  roundHalfUp(): bigint {
    const neg = this.n < 0n;
    const a = neg ? -this.n : this.n;
    const q = (2n * a + this.d) / (2n * this.d);
    return neg ? -q : q;
  }
  floor(): bigint {
    const q = this.n / this.d;
    return this.n < 0n && q * this.d !== this.n ? q - 1n : q;
  }
  compare(o: Fraction): number {
    const l = this.n * o.d;
    const r = o.n * this.d;
    return l < r ? -1 : l > r ? 1 : 0;
  }
}

function gcd(a: bigint, b: bigint): bigint {
  while (b !== 0n) [a, b] = [b, a % b];
  return a === 0n ? 1n : a;
}

/**
 * A decimal number as an exact fraction. Goes through the number's shortest
 * decimal representation (what JSON carried), not its binary value, so 0.1
 * is exactly 1/10.
 */
export function decimalFraction(x: number | string): Fraction {
  if (typeof x === 'number' && !Number.isFinite(x)) throw new RangeError(`not a finite number: ${x}`);
  const text = typeof x === 'number' ? x.toString() : x.trim();
  const m = /^(-?)(\d+)(?:\.(\d+))?(?:e([+-]?\d+))?$/.exec(text);
  if (!m) throw new RangeError(`cannot read ${text} as a decimal`);
  const digits = BigInt((m[2] ?? '') + (m[3] ?? ''));
  let exp = -(m[3]?.length ?? 0) + Number(m[4] ?? 0);
  const sign = m[1] === '-' ? -1n : 1n;
  if (exp >= 0) return new Fraction(sign * digits * 10n ** BigInt(exp));
  exp = -exp;
  return new Fraction(sign * digits, 10n ** BigInt(exp));
}

/** Integer cents of a fraction of currency units, rounded half-up. */
export function toCents(units: Fraction): bigint {
  return units.mul(new Fraction(100n)).roundHalfUp();
}

/** Cents as a JSON number (exact for any realistic amount: < 2^53 cents). */
export function centsToNumber(cents: bigint): number {
  return Number(cents) / 100;
}

/** A fraction rounded half-up to `places` decimals, as a number. */
export function roundedNumber(f: Fraction, places: number): number {
  const scale = 10n ** BigInt(places);
  const q = f.mul(new Fraction(scale)).roundHalfUp();
  return Number(q) / Number(scale);
}
