import { describe, expect, it } from 'vitest';
import { formatDuration, parseDuration } from './duration.ts';

describe('parseDuration', () => {
  it.each([
    ['500ms', 500],
    ['15s', 15_000],
    ['5m', 300_000],
    ['1h30m', 5_400_000],
    ['1.5h', 5_400_000],
    ['7d', 604_800_000],
    ['2w', 1_209_600_000],
    ['0', 0],
  ])('prometheus: %s is %d ms', (text, ms) => expect(parseDuration(text, 'f')).toBe(ms));

  it.each([
    ['10m', 600_000],
    ['1h30m', 5_400_000],
    ['90s', 90_000],
    ['250ms', 250],
  ])('go: %s is %d ms', (text, ms) => expect(parseDuration(text, 'f', { dialect: 'go' })).toBe(ms));

  it('go has no days', () => expect(() => parseDuration('5d', 'scaleDownUnneededTime', { dialect: 'go' })).toThrow(/^scaleDownUnneededTime: .*90s, 10m or 1h30m/));

  it.each(['', '10', '10 m', 'm', '5x', '1h-5m', 's5'])('refuses %j, naming the field', (text) =>
    expect(() => parseDuration(text, 'collector.host.interval')).toThrow(/^collector\.host\.interval: /),
  );

  it('reads the configuration durations and names the field of a bad one (moved from config.test.ts)', () => {
    expect(parseDuration('15s')).toBe(15_000);
    expect(parseDuration('2h')).toBe(7_200_000);
    expect(() => parseDuration('fast', 'ingester.maxWait')).toThrow(/^ingester\.maxWait:/);
  });

  it('takes bare seconds only when asked', () => {
    expect(parseDuration('60', 'step', { bareSeconds: true })).toBe(60_000);
    expect(parseDuration('0.5', 'step', { bareSeconds: true })).toBe(500);
    expect(() => parseDuration('60', 'step')).toThrow(/^step: /);
  });
});

describe('formatDuration', () => {
  it.each([
    [750_000, '12m30s'],
    [3_600_000, '1h'],
    [0, '0s'],
  ])('%d ms is %s', (ms, text) => expect(formatDuration(ms)).toBe(text));
});

describe('parseDuration, go dialect (moved from autoscaler/nodes/cli.test.ts)', () => {
  it.each([
    ['10m', 600_000],
    ['1h30m', 5_400_000],
    ['90s', 90_000],
    ['1.5h', 5_400_000],
    ['0', 0],
    ['250ms', 250],
  ])('%s is %d ms', (text, ms) => expect(parseDuration(text, 'duration', { dialect: 'go' })).toBe(ms));
  it.each(['', '10', '10 m', 'm', '5d'])('rejects %j', (text) => expect(() => parseDuration(text, 'duration', { dialect: 'go' })).toThrow(/not a duration/));
});
