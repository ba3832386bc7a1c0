import { describe, expect, it } from 'vitest';
import { buildLoadProfile, forecastLoad, predictReplicas, type LoadPoint } from './predictive.ts';

const DAY = 86_400_000;
const START = Date.parse('2026-11-16T00:00:00Z');

/** Load 4 all day, 20 from 12:00 to 14:00 UTC, sampled every 5 minutes. */
function dailyPeak(days: number, growthPerDay = 0): LoadPoint[] {
  const out: LoadPoint[] = [];
  for (let t = START; t < START + days * DAY; t += 5 * 60_000) {
    const hour = ((t - START) % DAY) / 3_600_000;
    const base = 4 + growthPerDay * ((t - START) / DAY);
    out.push({ time: t, value: base + (hour >= 12 && hour < 14 ? 16 : 0) });
  }
  return out;
}

describe('predictive scale-out', () => {
  const history = dailyPeak(4);
  const beforePeak = START + 4 * DAY + 11 * 3_600_000 + 50 * 60_000; // day 5, 11:50

  it('scales out ahead of a recurring peak', () => {
    const out = predictReplicas({ now: beforePeak, history, perReplicaTarget: 0.7, leadTimeSeconds: 900, reactiveReplicas: 6, maxReplicas: 100 });
    expect(out.source).toBe('predictive');
    // The peak is ~20; 20 / 0.7 → 29 replicas (the trend fit may shift it a little).
    expect(out.desiredReplicas).toBeGreaterThanOrEqual(28);
    expect(out.desiredReplicas).toBeLessThanOrEqual(31);
  });

  it('does not scale out when no peak falls within the lead time', () => {
    const early = START + 4 * DAY + 8 * 3_600_000;
    const out = predictReplicas({ now: early, history, perReplicaTarget: 0.7, leadTimeSeconds: 900, reactiveReplicas: 6, maxReplicas: 100 });
    expect(out.predictedReplicas).toBeLessThanOrEqual(8);
    expect(out.desiredReplicas).toBe(Math.max(6, out.predictedReplicas!));
  });

  it('is never below the reactive recommendation', () => {
    const out = predictReplicas({ now: beforePeak, history, perReplicaTarget: 0.7, leadTimeSeconds: 900, reactiveReplicas: 40, maxReplicas: 100 });
    expect(out).toMatchObject({ desiredReplicas: 40, source: 'reactive' });
  });

  it('respects maxReplicas', () => {
    const out = predictReplicas({ now: beforePeak, history, perReplicaTarget: 0.7, leadTimeSeconds: 900, reactiveReplicas: 6, maxReplicas: 10 });
    expect(out.desiredReplicas).toBe(10);
  });

  it('falls back to the reactive count with less than two days of history', () => {
    const out = predictReplicas({ now: START + DAY, history: dailyPeak(1), perReplicaTarget: 0.7, leadTimeSeconds: 900, reactiveReplicas: 3, maxReplicas: 100 });
    expect(out).toMatchObject({ desiredReplicas: 3, predictedReplicas: null, source: 'reactive' });
  });

  it('follows a linear trend: a load growing 1 per day is forecast higher tomorrow', () => {
    const profile = buildLoadProfile(dailyPeak(4, 1))!;
    const nextDay3am = START + 4 * DAY + 3 * 3_600_000;
    // Trend at day 4.125 ≈ 8.1 plus the off-peak residual, which is below the trend line.
    expect(forecastLoad(profile, nextDay3am)).toBeGreaterThan(forecastLoad(profile, START + 3 * 3_600_000) + 3);
    expect(profile.slopePerDay).toBeGreaterThan(0.8);
    expect(profile.slopePerDay).toBeLessThan(1.2);
  });
});
