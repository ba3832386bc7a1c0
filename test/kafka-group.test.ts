// Two consumers in one group split the partitions; when one dies its
// partitions go to the other, and every sample is consumed. With both
// members storing through the engine's Ingester into one store, every
// sample is stored once: counted where a duplicate would show (raw rows
// without FINAL with merges held, and the rollups' counts).
import { spawn } from 'node:child_process';
import { resolve } from 'node:path';
import { createInterface } from 'node:readline';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { KafkaBus } from '../core/bus/kafka/kafka-bus.ts';
import { eventually, kafkaBroker, testBus, testBusOptions } from './helpers/kafka.ts';
import { makeBatch, ReceivedSamples } from './helpers/sample-stream.ts';
import { openTestStore, type TestStore } from './helpers/store.ts';
import { holdMerges, storedCounts, storingHandler } from './helpers/kafka-store.ts';

let address = '';
let stored: TestStore;
const buses: KafkaBus[] = [];

beforeAll(async () => {
  address = (await kafkaBroker()).address;
  stored = await openTestStore();
  await holdMerges(stored.store);
}, 300_000);

afterAll(async () => {
  await Promise.all(buses.map((b) => b.close()));
  await stored?.close();
}, 60_000);

describe('KafkaBus consumer group', () => {
  it('splits partitions between two members and hands a dead member’s partitions to the survivor', async () => {
    const options = testBusOptions(address, { partitions: 4 });
    const producer = testBus(options);
    const a = testBus({ ...options, clientId: `${options.clientId}-a` });
    const b = testBus({ ...options, clientId: `${options.clientId}-b` });
    buses.push(producer, a, b);
    await producer.whenReady(30_000);
    const fromA = new ReceivedSamples();
    const fromB = new ReceivedSamples();
    await a.consume('metrics', storingHandler(stored.store, a, (d) => fromA.add(d)));
    await eventually('a owns all 4 partitions', 30_000, () => a.assignment('metrics').length === 4);
    await b.consume('metrics', storingHandler(stored.store, b, (d) => fromB.add(d)));
    await eventually('a and b split the partitions', 30_000, () => a.assignment('metrics').length === 2 && b.assignment('metrics').length === 2);
    expect([...a.assignment('metrics'), ...b.assignment('metrics')].sort()).toEqual([0, 1, 2, 3]);

    for (let i = 0; i < 10; i++) await producer.publish('metrics', makeBatch(40, 2, 1_700_000_000_000 + i * 10_000, i === 0));
    await eventually('both members consume', 30_000, () => fromA.distinct + fromB.distinct === 800);
    expect(fromA.distinct).toBeGreaterThan(0);
    expect(fromB.distinct).toBeGreaterThan(0);
    // Members never see the same series: a series lives in one partition.
    for (const id of fromA.partitionsBySeries.keys()) expect(fromB.partitionsBySeries.has(id)).toBe(false);

    await a.close();
    await eventually('b owns all 4 partitions', 30_000, () => b.assignment('metrics').length === 4);
    for (let i = 10; i < 20; i++) await producer.publish('metrics', makeBatch(40, 2, 1_700_000_000_000 + i * 10_000, false));
    await eventually('b consumes the rest, including a’s former partitions', 30_000, () => fromA.distinct + fromB.distinct === 1600);
    const bPartitions = new Set([...fromB.partitionsBySeries.values()].flatMap((s) => [...s]));
    expect([...bPartitions].sort()).toEqual([0, 1, 2, 3]);
    expect(fromA.duplicates + fromB.duplicates).toBe(0);
    // Stored once each, across the hand-over: raw rows (no FINAL, no merges) and both rollups.
    await eventually('every sample stored', 30_000, async () => (await storedCounts(stored.store, 'tenant-a')).distinct === 1600);
    expect(await storedCounts(stored.store, 'tenant-a')).toEqual({ rawRows: 1600, distinct: 1600, rollup1m: 1600, rollup1h: 1600 });
  }, 120_000);

  it('hands the partitions of a member killed with SIGKILL to the survivor after its session times out, losing nothing', async () => {
    const options = testBusOptions(address, { partitions: 4 });
    const producer = testBus(options);
    const survivor = testBus({ ...options, clientId: `${options.clientId}-survivor` });
    buses.push(producer, survivor);
    await producer.whenReady(30_000);

    const fromVictim = new Set<string>();
    let victimAssignment: number[] = [];
    // node itself with tsx's loader, not the tsx CLI: the CLI runs the script in a child
    // process that a SIGKILL of the CLI would leave running.
    const victim = spawn(process.execPath, ['--import', 'tsx', resolve(import.meta.dirname, 'helpers/kafka-member.ts')], {
      env: { ...process.env, KAFKA_MEMBER_OPTIONS: JSON.stringify({ ...options, clientId: `${options.clientId}-victim` }) },
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    try {
      createInterface({ input: victim.stdout! }).on('line', (line) => {
        const m = JSON.parse(line) as { keys?: string[]; assignment?: number[] };
        if (m.keys) for (const k of m.keys) fromVictim.add(k);
        if (m.assignment) victimAssignment = m.assignment;
      });
      await eventually('the victim owns all 4 partitions', 60_000, () => victimAssignment.length === 4);
      const fromSurvivor = new ReceivedSamples();
      await survivor.consume('metrics', async (d) => fromSurvivor.add(d));
      await eventually('victim and survivor split the partitions', 30_000, () => victimAssignment.length === 2 && survivor.assignment('metrics').length === 2);

      for (let i = 0; i < 10; i++) await producer.publish('metrics', makeBatch(40, 2, 1_700_000_000_000 + i * 10_000, i === 0));
      await eventually('both consume the first half', 30_000, () => fromVictim.size + fromSurvivor.distinct === 800);
      expect(fromVictim.size).toBeGreaterThan(0);

      victim.kill('SIGKILL');
      const killedAt = Date.now();
      // The stream goes on while the group has not yet noticed.
      for (let i = 10; i < 20; i++) await producer.publish('metrics', makeBatch(40, 2, 1_700_000_000_000 + i * 10_000, false));
      await eventually('the survivor owns all 4 partitions', 40_000, () => survivor.assignment('metrics').length === 4);
      const handOverSeconds = (Date.now() - killedAt) / 1000;
      const all = new Set([...fromVictim, ...fromSurvivor.seen.keys()]);
      await eventually('every sample consumed by one or the other', 30_000, () => {
        for (const k of fromSurvivor.seen.keys()) all.add(k);
        return all.size === 1600;
      });
      console.log(`SIGKILL hand-over after ${handOverSeconds.toFixed(1)} s (session timeout 6 s); survivor saw ${fromSurvivor.distinct} samples`);
      // The survivor took over the victim's partitions: it has samples from all four.
      const partitions = new Set([...fromSurvivor.partitionsBySeries.values()].flatMap((s) => [...s]));
      expect([...partitions].sort()).toEqual([0, 1, 2, 3]);
    } finally {
      if (victim.exitCode === null) victim.kill('SIGKILL');
    }
  }, 150_000);
});
