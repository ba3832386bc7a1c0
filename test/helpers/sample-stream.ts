// Sample batches with known contents for the Kafka tests, and a collector of
// what a consumer received, keyed by (series, timestamp) to count losses and
// duplicates.
import { SampleBatchBuilder, type SampleBatch } from '../../core/bus/samples.ts';
import { seriesId } from '../../metrics/series.ts';
import type { Delivery } from '../../core/bus/bus.ts';

export function seriesIds(count: number, name = 'test_metric'): bigint[] {
  return Array.from({ length: count }, (_, i) => seriesId({ __name__: name, instance: `host-${i}` }));
}

/** `perSeries` samples for each of `count` series, timestamps from `t0` in 1 s steps, value = a function of both. */
export function makeBatch(count: number, perSeries: number, t0: number, define = true, name = 'test_metric'): SampleBatch {
  const b = new SampleBatchBuilder('tenant-a', count * perSeries);
  for (let i = 0; i < count; i++) {
    const labels = { __name__: name, instance: `host-${i}` };
    if (define) b.define({ id: seriesId(labels), labels });
  }
  const ids = seriesIds(count, name);
  for (let k = 0; k < perSeries; k++) {
    for (let i = 0; i < count; i++) b.add(ids[i]!, t0 + k * 1000, i * 1_000_000 + t0 + k);
  }
  return b.build();
}

export class ReceivedSamples {
  readonly seen = new Map<string, number>();
  readonly partitionsBySeries = new Map<bigint, Set<number>>();
  readonly tokens: string[] = [];
  /** Per sample, the partition/offset positions it arrived from: more than one means the producer wrote it twice. */
  readonly positions = new Map<string, Set<string>>();
  definitions = 0;

  add(delivery: Delivery<'metrics'>): void {
    this.tokens.push(delivery.token);
    const [, partitionText, range] = delivery.token.split('/');
    const partition = Number(partitionText);
    // Payloads are the decodable messages in offset order; exact when no message was a dead letter.
    const firstOffset = Number(range!.split('-')[0]);
    for (const [index, batch] of delivery.payloads.entries()) {
      this.definitions += batch.series.length;
      for (let i = 0; i < batch.length; i++) {
        const id = batch.seriesIds[i]!;
        const key = `${id}@${batch.timestamps[i]}`;
        this.seen.set(key, (this.seen.get(key) ?? 0) + 1);
        let at = this.positions.get(key);
        if (!at) this.positions.set(key, (at = new Set()));
        at.add(`${partition}/${firstOffset + index}`);
        let set = this.partitionsBySeries.get(id);
        if (!set) this.partitionsBySeries.set(id, (set = new Set()));
        set.add(partition);
      }
    }
  }

  get distinct(): number {
    return this.seen.size;
  }

  /** Samples written to the log more than once (a producer-side duplicate), as opposed to redelivered. */
  get producerDuplicates(): number {
    let d = 0;
    for (const at of this.positions.values()) d += at.size - 1;
    return d;
  }

  get duplicates(): number {
    let d = 0;
    for (const n of this.seen.values()) d += n - 1;
    return d;
  }
}
