// The wire partitioning of bus payloads: which partition a series or a
// record lands in, and how a sample batch is cut into messages that fit the
// broker's limits. Pure functions; the Kafka bus's messages.ts encodes what
// they return.
import type { SampleBatch, SeriesDefinition } from '../samples.ts';
import { encodedSampleBatchSize } from '../sample-codec.ts';

/** Partition of a series: the low 32 bits of its id (a SHA-256 prefix, so uniform) modulo the partition count. */
export function seriesPartition(id: bigint, partitions: number): number {
  return Number(id & 0xffff_ffffn) % partitions;
}

/**
 * Splits a batch into per-partition batches (one series, one partition,
 * so per-series order survives any number of consumers), each cut to fit
 * maxMessageBytes; a partition's definitions come before its samples. Reads the ids' low words through a Uint32Array view to
 * keep BigInt arithmetic out of the per-sample loop.
 */
export function partitionSampleBatch(batch: SampleBatch, partitions: number, maxMessageBytes: number): { partition: number; batch: SampleBatch }[] {
  const n = batch.length;
  const low = new Uint32Array(batch.seriesIds.buffer, batch.seriesIds.byteOffset, n * 2);
  const target = new Uint32Array(n);
  const counts = new Uint32Array(partitions);
  for (let i = 0; i < n; i++) {
    const p = low[2 * i]! % partitions;
    target[i] = p;
    counts[p]!++;
  }
  const definitions = new Map<number, SeriesDefinition[]>();
  for (const def of batch.series) {
    const p = seriesPartition(def.id, partitions);
    let list = definitions.get(p);
    if (!list) definitions.set(p, (list = []));
    list.push(def);
  }
  const columns = new Map<number, { ids: BigUint64Array; ts: Float64Array; vals: Float64Array; fill: number }>();
  for (let p = 0; p < partitions; p++) {
    const c = counts[p]!;
    if (c > 0) columns.set(p, { ids: new BigUint64Array(c), ts: new Float64Array(c), vals: new Float64Array(c), fill: 0 });
  }
  for (let i = 0; i < n; i++) {
    const col = columns.get(target[i]!)!;
    col.ids[col.fill] = batch.seriesIds[i]!;
    col.ts[col.fill] = batch.timestamps[i]!;
    col.vals[col.fill] = batch.values[i]!;
    col.fill++;
  }
  const out: { partition: number; batch: SampleBatch }[] = [];
  const partitionsUsed = new Set<number>([...columns.keys(), ...definitions.keys()]);
  const empty = { ids: new BigUint64Array(0), ts: new Float64Array(0), vals: new Float64Array(0), fill: 0 };
  const chunkOverhead = encodedSampleBatchSize({ tenant: batch.tenant, series: [], length: 0, seriesIds: empty.ids, timestamps: empty.ts, values: empty.vals });
  for (const p of [...partitionsUsed].sort((a, b) => a - b)) {
    const col = columns.get(p) ?? empty;
    // Definitions first, in messages of their own when they are many (a new
    // fleet's first scrape): in partition order they land before the samples
    // that use them, and no message outgrows maxMessageBytes.
    let group: SeriesDefinition[] = [];
    let groupBytes = chunkOverhead;
    const flushDefinitions = (): void => {
      if (group.length === 0) return;
      out.push({ partition: p, batch: { tenant: batch.tenant, series: group, length: 0, seriesIds: empty.ids, timestamps: empty.ts, values: empty.vals } });
      group = [];
      groupBytes = chunkOverhead;
    };
    for (const def of definitions.get(p) ?? []) {
      const size = definitionSize(def);
      if (group.length > 0 && groupBytes + size > maxMessageBytes) flushDefinitions();
      group.push(def);
      groupBytes += size;
    }
    flushDefinitions();
    const room = Math.max(1, Math.floor((maxMessageBytes - chunkOverhead) / 24));
    for (let start = 0; start < col.fill; start += room) {
      const end = Math.min(col.fill, start + room);
      out.push({
        partition: p,
        batch: {
          tenant: batch.tenant,
          series: [],
          length: end - start,
          seriesIds: col.ids.subarray(start, end),
          timestamps: col.ts.subarray(start, end),
          values: col.vals.subarray(start, end),
        },
      });
    }
  }
  return out;
}

function definitionSize(def: SeriesDefinition): number {
  let size = 10;
  for (const [name, value] of Object.entries(def.labels)) size += 4 + Buffer.byteLength(name) + Buffer.byteLength(value);
  return size;
}

