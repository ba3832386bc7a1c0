// A store in a fresh temporary directory, with the metrics schema migrated.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Store } from '../../core/store.ts';
import { migrate, schemaContext } from '../../core/migrations.ts';
import { metricsMigrations } from '../../metrics/schema.ts';
import { SampleBatchBuilder, type SampleBatch } from '../../core/bus/samples.ts';
import { seriesId } from '../../metrics/series.ts';

export interface TestStore {
  store: Store;
  dir: string;
  close(): Promise<void>;
}

export async function openTestStore(database = 'tidemark_test'): Promise<TestStore> {
  const dir = mkdtempSync(join(tmpdir(), 'tidemark-store-'));
  const store = await Store.open({ dataPath: dir, database });
  await migrate(store, schemaContext(store, { rawRetentionDays: 3650, rollupRetentionDays: 3650 }), metricsMigrations);
  return {
    store,
    dir,
    async close() {
      await store.close();
      rmSync(dir, { recursive: true, force: true, maxRetries: 10, retryDelay: 100 });
    },
  };
}

export interface TestPoint {
  labels: Record<string, string>;
  /** Unix milliseconds. */
  ts: number;
  value: number;
}

/** A sample batch of these points, defining each series once. */
export function sampleBatch(points: readonly TestPoint[], tenant = 'default'): SampleBatch {
  const b = new SampleBatchBuilder(tenant);
  const defined = new Set<bigint>();
  for (const p of points) {
    const id = seriesId(p.labels);
    if (!defined.has(id)) {
      defined.add(id);
      b.define({ id, labels: p.labels });
    }
    b.add(id, p.ts, p.value);
  }
  return b.build();
}
