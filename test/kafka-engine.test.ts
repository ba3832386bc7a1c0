// End to end through the real broker with the engine's own processes:
// remote_write into a `--role collector` engine, Kafka, a `--role ingester`
// engine into its store. The ingester is killed with SIGKILL in the middle
// of the stream and started again on the same store; afterwards the store
// holds exactly the N distinct samples sent, each once.
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Store } from '../core/store.ts';
import { buildFleetLoad, sendAll } from '../bench/fleet.ts';
import { removeDir, startEngineProcess, type EngineProcess } from '../bench/engine-process.ts';
import { eventually, kafkaBroker, testBus } from './helpers/kafka.ts';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

let address = '';
const processes: EngineProcess[] = [];
const dirs: string[] = [];

beforeAll(async () => {
  address = (await kafkaBroker()).address;
}, 300_000);

afterAll(async () => {
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

    let ingester = await startEngineProcess(config('ingester'), {}, storePath);
    processes.push(ingester);
    const collector = await startEngineProcess(config('collector'));
    processes.push(collector);

    // A small synthetic fleet (node_exporter and cAdvisor label sets), 12 rounds of distinct samples.
    const load = buildFleetLoad({ nodes: 30, containers: 60, rounds: 12, intervalSeconds: 15, samplesPerRequest: 500 });
    const half = Math.floor(load.bodies.length / 2);
    const first = await sendAll(`${collector.url}/api/v1/write`, load.bodies.slice(0, half), 4);
    expect(first.failures).toBe(0);

    // Kill the ingester while the second half streams in, then start it again on the same store.
    const second = sendAll(`${collector.url}/api/v1/write`, load.bodies.slice(half), 4);
    await new Promise((r) => setTimeout(r, 300));
    ingester.child.kill('SIGKILL');
    await new Promise((r) => ingester.child.once('exit', r));
    const sent = await second;
    expect(sent.failures).toBe(0);
    ingester = await startEngineProcess(config('ingester'), {}, storePath);
    processes.push(ingester);

    // Done when the ingesters' group has committed everything.
    const observer = testBus({ brokers: [address], clientId: `e2e-${id}-observer`, groupId: kafka.groupId, topicPrefix: kafka.topicPrefix, partitions: 3, replicationFactor: 1 });
    try {
      await observer.whenReady(30_000);
      await eventually('the ingester group to catch up', 120_000, async () => (await observer.refreshLag()).metrics === 0);
    } finally {
      await observer.close();
    }
    await ingester.stop();

    const store = await Store.open({ dataPath: storePath, database: 'tidemark' });
    try {
      const [row] = await store.query<{ rows: string; distinct: string }>(
        `SELECT count() AS rows, uniqExact(series_id, ts) AS distinct FROM tidemark.samples`,
      );
      console.log(`SIGKILL e2e: sent ${load.samples}, stored ${row!.rows} rows, ${row!.distinct} distinct`);
      expect(Number(row!.distinct)).toBe(load.samples);
      expect(Number(row!.rows)).toBe(load.samples);
    } finally {
      await store.close();
    }
  }, 300_000);
});
