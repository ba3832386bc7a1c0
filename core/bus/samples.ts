// The sample batch: the one shape in which metrics travel from a source,
// over the bus, to the ingester. Columnar so that the ingester can hand the
// typed arrays to ClickHouse as they are.

export type Labels = Readonly<Record<string, string>>;

/** A series the store may not have seen yet: its id and full label set (with __name__). */
export interface SeriesDefinition {
  readonly id: bigint;
  readonly labels: Labels;
}

export interface SampleBatch {
  readonly tenant: string;
  /** Definitions of series that appear in this batch and that this producer has not sent before. */
  readonly series: SeriesDefinition[];
  readonly length: number;
  /** Per sample: the series id (see seriesId in metrics/series.ts). */
  readonly seriesIds: BigUint64Array;
  /** Per sample: unix time in milliseconds. */
  readonly timestamps: Float64Array;
  /** Per sample: the value; NaN, ±Inf and the stale marker are kept as they are. */
  readonly values: Float64Array;
}

/** Prometheus' staleness marker: a NaN with this exact bit pattern. */
export const STALE_NAN_BITS = 0x7ff0000000000002n;

const scratch = new Float64Array(1);
const scratchBits = new BigUint64Array(scratch.buffer);

export function isStaleMarker(value: number): boolean {
  scratch[0] = value;
  return scratchBits[0] === STALE_NAN_BITS;
}

export function staleMarker(): number {
  scratchBits[0] = STALE_NAN_BITS;
  return scratch[0]!;
}

/** Grows typed columns while a source appends samples, then freezes them into a batch. */
export class SampleBatchBuilder {
  private ids: BigUint64Array;
  private ts: Float64Array;
  private vals: Float64Array;
  private n = 0;
  readonly series: SeriesDefinition[] = [];

  constructor(readonly tenant: string, capacity = 1024) {
    this.ids = new BigUint64Array(capacity);
    this.ts = new Float64Array(capacity);
    this.vals = new Float64Array(capacity);
  }

  get length(): number {
    return this.n;
  }

  add(id: bigint, timestampMs: number, value: number): void {
    if (this.n === this.ids.length) this.grow();
    this.ids[this.n] = id;
    this.ts[this.n] = timestampMs;
    this.vals[this.n] = value;
    this.n++;
  }

  define(definition: SeriesDefinition): void {
    this.series.push(definition);
  }

  build(): SampleBatch {
    return {
      tenant: this.tenant,
      series: this.series,
      length: this.n,
      seriesIds: this.ids.subarray(0, this.n),
      timestamps: this.ts.subarray(0, this.n),
      values: this.vals.subarray(0, this.n),
    };
  }

  private grow(): void {
    const size = this.ids.length * 2;
    const ids = new BigUint64Array(size);
    ids.set(this.ids);
    const ts = new Float64Array(size);
    ts.set(this.ts);
    const vals = new Float64Array(size);
    vals.set(this.vals);
    this.ids = ids;
    this.ts = ts;
    this.vals = vals;
  }
}
