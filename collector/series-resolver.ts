// Series identity for sources that hold label objects (push, scrape, host):
// label set to series id, remembering which series this process has already
// defined on the bus so a definition travels once (bounded; a forgotten
// series is simply defined again). Definitions are remembered per tenant:
// the series table is keyed by (tenant, id), so a second tenant sending the
// same label set needs its own definition written. The remote_write decoder has its own,
// byte-keyed cache for its hot path.
import { SampleBatchBuilder, type Labels, type SampleBatch, type SeriesDefinition } from '../core/bus/samples.ts';
import { seriesId } from '../metrics/series.ts';

/** A label set as one string, the same whatever order its labels came in. */
export function labelKey(labels: Labels): string {
  const names = Object.keys(labels).sort();
  let key = '';
  for (const name of names) key += `${name}\u0000${labels[name]}\u0001`;
  return key;
}

export class SeriesResolver {
  private current = new Map<string, bigint>();
  private previous = new Map<string, bigint>();
  // Ids by key whether or not defined yet, so that seriesId runs once per label set.
  private readonly ids = new Map<string, bigint>();

  constructor(readonly capacity = 200_000) {}

  /** The id of a label set, and whether this process has defined it on the bus for `tenant`. */
  lookup(tenant: string, labels: Labels): { id: bigint; key: string; defined: boolean } {
    const series = labelKey(labels);
    // Tenant names never hold NUL (core/auth/roles.ts TENANT_PATTERN), so the tenant prefix cannot run into the labels.
    const key = `${tenant}\u0000${series}`;
    let id = this.current.get(key);
    if (id !== undefined) return { id, key, defined: true };
    id = this.previous.get(key);
    if (id !== undefined) {
      this.remember(key, id);
      return { id, key, defined: true };
    }
    // A series id is a hash of the labels alone: the same for every tenant.
    id = this.ids.get(series);
    if (id === undefined) {
      id = seriesId(labels);
      if (this.ids.size >= this.capacity) this.ids.clear();
      this.ids.set(series, id);
    }
    return { id, key, defined: false };
  }

  remember(key: string, id: bigint): void {
    if (this.current.size * 2 >= this.capacity) {
      this.previous = this.current;
      this.current = new Map();
    }
    this.current.set(key, id);
  }

  /** A builder whose new series are remembered only when commit() is called (after the bus accepted the batch). */
  batch(tenant: string, capacity?: number): LabelledBatchBuilder {
    return new LabelledBatchBuilder(this, tenant, capacity);
  }
}

export class LabelledBatchBuilder {
  private readonly builder: SampleBatchBuilder;
  private readonly fresh = new Map<string, bigint>();

  constructor(private readonly resolver: SeriesResolver, private readonly tenant: string, capacity?: number) {
    this.builder = new SampleBatchBuilder(tenant, capacity);
  }

  get length(): number {
    return this.builder.length;
  }

  /** Adds a sample; labels must already be valid (checked at the edge). Returns the series id. */
  add(labels: Labels, timestampMs: number, value: number): bigint {
    const { id, key, defined } = this.resolver.lookup(this.tenant, labels);
    if (!defined && !this.fresh.has(key)) {
      this.fresh.set(key, id);
      const definition: SeriesDefinition = { id, labels: { ...labels } };
      this.builder.define(definition);
    }
    this.builder.add(id, timestampMs, value);
    return id;
  }

  /** Adds a sample of a series already known by id (e.g. a stale marker for a series seen before). */
  addById(id: bigint, timestampMs: number, value: number): void {
    this.builder.add(id, timestampMs, value);
  }

  build(): SampleBatch {
    return this.builder.build();
  }

  commit(): void {
    for (const [key, id] of this.fresh) this.resolver.remember(key, id);
  }
}
