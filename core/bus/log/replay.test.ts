import { describe, expect, it } from 'vitest';
import { replayPlan } from './replay.ts';
import type { PositionedEntry } from './entries.ts';

const payload = (topic: 'metrics' | 'logs', position: number): PositionedEntry => ({ kind: 'payload', topic, bytes: Buffer.from([position]), position });

describe('replay plan', () => {
  it('replays what follows the consumer progress, cut at the intents announced after it', () => {
    const entries: PositionedEntry[] = [
      payload('metrics', 0),
      payload('metrics', 10),
      { kind: 'intent', topic: 'metrics', from: 0, to: 10, position: 20 },
      payload('metrics', 30),
      payload('logs', 40),
      { kind: 'handled', topic: 'metrics', through: 10, position: 50 },
      { kind: 'intent', topic: 'metrics', from: 30, to: 30, position: 60 },
      payload('metrics', 70),
      { kind: 'intent', topic: 'logs', from: 40, to: 40, position: 80 },
      payload('metrics', 90),
    ];
    const plan = replayPlan(entries);
    const metrics = plan.get('metrics')!;
    expect(metrics.handledThrough).toBe(10);
    expect(metrics.pending.map((p) => [p.position, p.intent])).toEqual([
      [30, { from: 30, to: 30 }],
      [70, null],
      [90, null],
    ]);
    const logs = plan.get('logs')!;
    expect(logs.handledThrough).toBe(-1);
    expect(logs.pending.map((p) => [p.position, p.intent])).toEqual([[40, { from: 40, to: 40 }]]);
  });

  it('replays intents whose handled mark never became durable, each as the delivery it announced', () => {
    const entries: PositionedEntry[] = [
      payload('metrics', 0),
      payload('metrics', 10),
      { kind: 'intent', topic: 'metrics', from: 0, to: 0, position: 20 },
      { kind: 'intent', topic: 'metrics', from: 10, to: 10, position: 30 },
    ];
    const pending = replayPlan(entries).get('metrics')!.pending;
    expect(pending.map((p) => p.intent)).toEqual([{ from: 0, to: 0 }, { from: 10, to: 10 }]);
    expect(pending[0]!.intent).not.toBe(pending[1]!.intent);
  });

  it('has nothing to replay once everything is handled', () => {
    const entries: PositionedEntry[] = [payload('metrics', 0), { kind: 'intent', topic: 'metrics', from: 0, to: 0, position: 10 }, { kind: 'handled', topic: 'metrics', through: 0, position: 20 }];
    expect(replayPlan(entries).get('metrics')!.pending).toEqual([]);
  });
});
