// Request rate limits per principal: a token bucket each (refilled at a
// steady rate, holding at most a burst), decided from plain numbers so the
// clock is the caller's.

export interface BucketLimits {
  readonly requestsPerSecond: number;
  readonly burst: number;
}

export type Take = { readonly ok: true } | { readonly ok: false; readonly retryAfterSeconds: number };

export class RateLimiter {
  private readonly buckets = new Map<string, { tokens: number; at: number }>();

  constructor(
    private readonly limits: BucketLimits,
    private readonly now: () => number = Date.now,
    /** Most buckets kept; idle ones (full again) are dropped first. */
    private readonly maxKeys = 100_000,
  ) {}

  /** Whether `key` has a request left, without spending it. */
  has(key: string): boolean {
    const b = this.buckets.get(key);
    if (!b) return true;
    return Math.min(this.limits.burst, b.tokens + ((this.now() - b.at) / 1000) * this.limits.requestsPerSecond) >= 1;
  }

  take(key: string): Take {
    const now = this.now();
    const { requestsPerSecond: rate, burst } = this.limits;
    const b = this.buckets.get(key) ?? { tokens: burst, at: now };
    b.tokens = Math.min(burst, b.tokens + ((now - b.at) / 1000) * rate);
    b.at = now;
    if (!this.buckets.has(key)) {
      if (this.buckets.size >= this.maxKeys) this.sweep(now);
      this.buckets.set(key, b);
    }
    if (b.tokens >= 1) {
      b.tokens -= 1;
      return { ok: true };
    }
    return { ok: false, retryAfterSeconds: Math.max(1, Math.ceil((1 - b.tokens) / rate)) };
  }

  /** Drops buckets that have refilled (they behave as new ones), or the oldest if none has. */
  private sweep(now: number): void {
    const { requestsPerSecond: rate, burst } = this.limits;
    for (const [k, b] of this.buckets) if (b.tokens + ((now - b.at) / 1000) * rate >= burst) this.buckets.delete(k);
    if (this.buckets.size >= this.maxKeys) this.buckets.delete(this.buckets.keys().next().value!);
  }
}
