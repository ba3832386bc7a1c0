// End to end through the real broker with the engine's own processes:
// remote_write into a `--role collector` engine, Kafka, a `--role ingester`
// engine into its store. The ingester is killed with SIGKILL in the middle
// of the stream (the collector still sending, and records in Kafka it has
// not consumed) and started again on the same store; afterwards the store
// holds exactly the N distinct samples sent, each once: raw rows counted
// without FINAL in tables that never merged, and the rollups' counts.
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Store } from '../core/store.ts';
import type { KafkaBus } from '../core/bus/kafka/kafka-bus.ts';
import { buildFleetLoad, sendAll } from '../bench/fleet.ts';
import { removeDir, startEngineProcess, type EngineProcess } from '../bench/engine-process.ts';
import { migrate, schemaContext } from '../core/migrations.ts';
import { metricsMigrations } from '../metrics/schema.ts';
import { eventually, kafkaBroker, testBus } from './helpers/kafka.ts';
import { holdMerges, storedCounts } from './helpers/kafka-store.ts';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

let address = '';
const processes: EngineProcess[] = [];
const dirs: string[] = [];
const observers: KafkaBus[] = [];

beforeAll(async () => {
  address = (await kafkaBroker()).address;
}, 300_000);

afterAll(async () => {
  for (const o of observers) await o.close();
  for (const p of processes) await p.stop();
  for (const p of processes) removeDir(p.dataDir);
  for (const d of dirs) removeDir(d);
}, 60_000);

describe('collector and ingester engines through Kafka', () => {
  it('stores exactly N samples when the ingester is killed with SIGKILL mid-stream and restarted', async () => {
    const id = randomUUID().slice(0, 8);
    const kafka = { brokers: [address], topicPrefix: `e2e.${id}.`, groupId: `e2e-${id}`, partitions: 3 };
    const config = (role: string) => ({ role, bus: { kind: 'kafka' }, kafka, ingester: { maxWait: '200ms' } });
    const storeDir = mkdtempSync(join(tmpdir(), 'tidemark-kafka-e2e-'));
    dirs.push(storeDir);
    const storePath = join(storeDir, 'store');
    // The schema first, its merges held for good: a duplicate the ingester writes stays a row to count.
    const prepared = await Store.open({ dataPath: storePath, database: 'tidemark' });
    await migrate(prepared, schemaContext(prepared, { rawRetentionDays: 15, rollupRetentionDays: 400 }), metricsMigrations);
    await holdMerges(prepared);
    await prepared.close();

    let ingester = await startEngineProcess(config('ingester'), {}, storePath);
    processes.push(ingester);
    const collector = await startEngineProcess(config('collector'));
    processes.push(collector);

    // A small synthetic fleet (node_exporter and cAdvisor label sets), 12 rounds of distinct samples.
    const load = buildFleetLoad({ nodes: 30, containers: 60, rounds: 12, intervalSeconds: 15, samplesPerRequest: 500 });
    const half = Math.floor(load.bodies.length / 2);
    const first = await sendAll(`${collector.url}/api/v1/write`, load.bodies.slice(0, half), 4);
    expect(first.failures).toBe(0);

    // Kill the ingester while the second half streams in (two connections, so it lasts), then start it again on the same store.
    const observer = testBus({ brokers: [address], clientId: `e2e-${id}-observer`, groupId: kafka.groupId, topicPrefix: kafka.topicPrefix, partitions: 3, replicationFactor: 1 });
    observers.push(observer);
    await observer.whenReady(30_000);
    const rest = load.bodies.slice(half);
    const progress = { accepted: 0 };
    const second = sendAll(`${collector.url}/api/v1/write`, rest, 2, 600_000, progress);
    await eventually('a quarter of the second half accepted', 60_000, () => progress.accepted >= rest.length / 4);
    // Listen for the exit before killing: under load the child can be gone before the lag below is read.
    const exited = new Promise((r) => ingester.child.once('exit', r));
    ingester.child.kill('SIGKILL');
    const acceptedAtKill = progress.accepted;
    const lagAtKill = (await observer.refreshLag()).metrics;
    await exited;
    const sent = await second;
    expect(sent.failures).toBe(0);
    // Mid-stream for real: the collector had not finished, and what it sent after the kill waits in Kafka, unconsumed.
    const lagWhileDown = (await observer.refreshLag()).metrics;
    console.log(`SIGKILL e2e: killed after ${acceptedAtKill}/${rest.length} requests of the second half; lag ${lagAtKill} at the kill, ${lagWhileDown} while the ingester was down`);
    expect(acceptedAtKill).toBeLessThan(rest.length);
    expect(lagWhileDown).toBeGreaterThan(0);
    ingester = await startEngineProcess(config('ingester'), {}, storePath);
    processes.push(ingester);

    // Done when the ingesters' group has committed everything.
    await eventually('the ingester group to catch up', 120_000, async () => (await observer.refreshLag()).metrics === 0);
    await ingester.stop();

    const store = await Store.open({ dataPath: storePath, database: 'tidemark' });
    try {
      const counts = await storedCounts(store);
      console.log(`SIGKILL e2e: sent ${load.samples}, stored ${JSON.stringify(counts)}`);
      // Each once: raw rows without FINAL (no merge ever ran), and in both rollups, where a duplicate would double the count.
      expect(counts).toEqual({ rawRows: load.samples, distinct: load.samples, rollup1m: load.samples, rollup1h: load.samples });
    } finally {
      await store.close();
    }
  }, 300_000);
});
