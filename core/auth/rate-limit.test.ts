import { describe, expect, it } from 'vitest';
import { RateLimiter } from './rate-limit.ts';

describe('RateLimiter', () => {
  it('allows a burst, then the steady rate, per key, with a Retry-After', () => {
    let now = 0;
    const rl = new RateLimiter({ requestsPerSecond: 2, burst: 3 }, () => now);
    expect([rl.take('a'), rl.take('a'), rl.take('a')].every((t) => t.ok)).toBe(true);
    expect(rl.take('a')).toEqual({ ok: false, retryAfterSeconds: 1 });
    expect(rl.take('b').ok).toBe(true); // another token has its own bucket
    now = 500; // half a second refills one request at 2/s
    expect(rl.take('a').ok).toBe(true);
    expect(rl.take('a').ok).toBe(false);
    now = 10_000; // never more than the burst
    expect([1, 2, 3].map(() => rl.take('a').ok)).toEqual([true, true, true]);
    expect(rl.take('a').ok).toBe(false);
  });

  it('rounds Retry-After up at slow rates and keeps a bounded number of buckets', () => {
    let now = 0;
    const rl = new RateLimiter({ requestsPerSecond: 0.1, burst: 1 }, () => now, 2);
    expect(rl.take('a').ok).toBe(true);
    expect(rl.take('a')).toEqual({ ok: false, retryAfterSeconds: 10 });
    rl.take('b');
    rl.take('c'); // evicts the oldest: a
    now = 1;
    expect(rl.take('a').ok).toBe(true);
  });
});

describe('RateLimiter.has', () => {
  it('tells whether a request is left without spending it', () => {
    let now = 0;
    const rl = new RateLimiter({ requestsPerSecond: 1, burst: 1 }, () => now);
    expect(rl.has('a')).toBe(true);
    expect(rl.has('a')).toBe(true);
    rl.take('a');
    expect(rl.has('a')).toBe(false);
    now = 1000;
    expect(rl.has('a')).toBe(true);
  });
});
