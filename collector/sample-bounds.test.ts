import { describe, expect, it } from 'vitest';
import { MAX_FUTURE_MS, firstOutOfBounds, sampleTimeBounds, sampleTimeProblem } from './sample-bounds.ts';

const NOW = Date.parse('2026-11-29T12:00:00Z');
const DAY = 86_400_000;
const bounds = sampleTimeBounds(NOW, 15);

describe('sample time bounds', () => {
  it('spans the raw retention back and ten minutes ahead of now', () => {
    expect(bounds).toEqual({ minMs: NOW - 15 * DAY, maxMs: NOW + MAX_FUTURE_MS });
    expect(sampleTimeProblem(NOW, bounds)).toBeNull();
    expect(sampleTimeProblem(NOW - 15 * DAY, bounds)).toBeNull();
    expect(sampleTimeProblem(NOW + 10 * 60_000, bounds)).toBeNull();
  });

  it('refuses what the store would not keep or no query would find', () => {
    expect(sampleTimeProblem(NOW - 15 * DAY - 1, bounds)).toMatch(/older than the raw retention/);
    expect(sampleTimeProblem(NOW + 10 * 60_000 + 1, bounds)).toMatch(/more than 10 minutes in the future/);
    expect(sampleTimeProblem(Date.parse('3000-01-01T00:00:00Z'), bounds)).toMatch(/future/);
    expect(sampleTimeProblem(1e11 * 1000, bounds)).toMatch(/future/);
    expect(sampleTimeProblem(0, bounds)).toMatch(/not after 1970/);
    expect(sampleTimeProblem(-5, bounds)).toMatch(/not after 1970/);
    expect(sampleTimeProblem(Number.NaN, bounds)).toMatch(/not a finite/);
    expect(sampleTimeProblem(Number.POSITIVE_INFINITY, bounds)).toMatch(/not a finite/);
  });

  it('refuses 0 and negative times even with a retention reaching before 1970', () => {
    const long = sampleTimeBounds(NOW, 100_000);
    expect(long.minMs).toBe(1);
    expect(sampleTimeProblem(0, long)).not.toBeNull();
    expect(sampleTimeProblem(1, long)).toBeNull();
  });

  it('finds the first out-of-bounds timestamp of a column, NaN included', () => {
    const column = new Float64Array([NOW, NOW - DAY, Number.NaN, 0]);
    expect(firstOutOfBounds(column, 0, 2, bounds)).toBeNull();
    expect(firstOutOfBounds(column, 0, 4, bounds)).toMatchObject({ index: 2, problem: expect.stringMatching(/finite/) });
    expect(firstOutOfBounds(column, 3, 4, bounds)?.index).toBe(3);
  });
});
