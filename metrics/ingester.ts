// The ingester: drains metric deliveries from the bus into the store in
// large binary inserts. Series definitions are written before the samples
// that use them; each insert carries the delivery's token so that a replayed
// delivery (a crash between insert and acknowledgement) is not stored twice.
// Samples of a series this ingester has not stored since it started are
// checked against the store first, so a client re-sending what a previous
// life stored (it died before answering) is not counted twice by the rollups.
// A delivery the store refuses for good is split into its payloads; only the
// refused ones go to the dead-letter table, the rest are stored. Before its
// raw insert, every insert announces the minutes it fills to the roll-up
// loop (metrics/rollups.ts), so no stored sample is missed by the rollups.
import { Counter, Histogram, Gauge, type Registry } from 'prom-client';
import type { Bus, Delivery, DeliveryOutcome } from '../core/bus/bus.ts';
import type { SampleBatch } from '../core/bus/samples.ts';
import type { Store } from '../core/store.ts';
import type { Logger } from '../core/log.ts';
import { storeErrorKind } from './store-errors.ts';
import { announcementRows, minutesOf, writeAnnouncements, type AnnouncementLedger, type Announcement } from './rollups.ts';
import { addStage, ingestStageSeconds, type IngestStage } from './ingest-stages.ts';
import { mergeBatches, NewestTimes, withLate, type MergedSamples } from './sample-merge.ts';
import { deadLetterOf, insertDeadLetter, insertSamples, insertSeries, newestStored, unseenLateSamples } from './sample-writes.ts';

export interface IngesterMetrics {
  samples: Counter;
  duplicates: Counter;
  batchSize: Histogram;
  insertSeconds: Histogram;
  errors: Counter;
  deadLetters: Counter;
  verifySeconds: Histogram;
  busDepth: Gauge;
  stageSeconds: Counter;
}

export function ingesterMetrics(registry: Registry, bus: Bus): IngesterMetrics {
  return {
    samples: new Counter({ name: 'tidemark_ingest_samples_total', help: 'Samples inserted into the store.', registers: [registry] }),
    duplicates: new Counter({ name: 'tidemark_ingest_duplicate_samples_total', help: 'Samples dropped because their series already had a sample at that timestamp.', registers: [registry] }),
    batchSize: new Histogram({
      name: 'tidemark_ingest_batch_samples',
      help: 'Samples per insert.',
      buckets: [100, 1_000, 10_000, 50_000, 100_000, 250_000, 500_000, 1_000_000],
      registers: [registry],
    }),
    insertSeconds: new Histogram({
      name: 'tidemark_ingest_insert_seconds',
      help: 'Latency of one insert into the store.',
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
      registers: [registry],
    }),
    errors: new Counter({ name: 'tidemark_ingest_errors_total', help: 'Failed inserts (retried, or dead-lettered when retrying cannot fix them).', registers: [registry] }),
    deadLetters: new Counter({
      name: 'tidemark_ingest_dead_letter_total',
      help: 'Payloads (requests, scrapes) the store refused for good, written to the ingest_dead_letters table instead; by ClickHouse error.',
      labelNames: ['error'],
      registers: [registry],
    }),
    verifySeconds: new Histogram({
      name: 'tidemark_ingest_verify_seconds',
      help: 'Time spent checking samples of series not seen since start (or late samples) against the store, per delivery.',
      buckets: [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
      registers: [registry],
    }),
    stageSeconds: new Counter({
      name: 'tidemark_ingest_stage_seconds_total',
      help: 'Seconds this process spent per ingest stage: decode, resolve (series on a cache miss), encode, verify, announce, insert, rollup (the roll-up loop).',
      labelNames: ['stage'],
      registers: [registry],
      collect() {
        this.reset();
        for (const [stage, seconds] of Object.entries(ingestStageSeconds)) this.inc({ stage: stage as IngestStage }, seconds);
      },
    }),
    busDepth: new Gauge({
      name: 'tidemark_bus_depth',
      help: 'Payload units waiting on the bus, per topic.',
      labelNames: ['topic'],
      registers: [registry],
      collect() {
        for (const [topic, depth] of Object.entries(bus.depth())) this.set({ topic }, depth);
      },
    }),
  };
}

export interface IngesterOptions {
  /** Bound on the duplicate-detection memory: past this many series the table starts afresh. */
  maxTrackedSeries?: number;
  /**
   * Shared with the roll-up loop when it runs in this process (and is the only one taking the store's
   * announcements): a minute is then announced once until the loop takes it, not by every insert.
   * Without it every insert announces its minutes (the loop is elsewhere).
   */
  ledger?: AnnouncementLedger;
  /**
   * Whether samples past the newest one stored at start skip the check (default). Off where other
   * processes store into the same store meanwhile (Kafka ingesters of one group: a partition handed
   * over re-delivers what its previous owner stored after this process started).
   */
  boundByStart?: boolean;
}

export class Ingester {
  /** Samples stored since start. */
  stored = 0;
  /** Per series, the newest timestamp stored: anything at or before it is checked against the store. */
  private readonly newest = new NewestTimes();
  /**
   * The newest sample time (ms) the store held when this ingester started (read before its first insert,
   * and again after a failed one): a sample of a series not in `newest` after it cannot be a re-send of
   * something a previous life stored, so only samples at or before it are checked. Undefined: to be read.
   */
  private storedBefore: number | undefined;
  private readonly maxTrackedSeries: number;
  private readonly ledger: AnnouncementLedger | undefined;

  constructor(
    private readonly store: Store,
    private readonly metrics: IngesterMetrics,
    private readonly log: Logger,
    options: IngesterOptions = {},
  ) {
    this.maxTrackedSeries = options.maxTrackedSeries ?? 2_000_000;
    this.ledger = options.ledger;
    if (options.boundByStart === false) this.storedBefore = Infinity;
  }

  /**
   * Stores one delivery. Rejects (so the bus redelivers, same token) when the
   * store fails in a way retrying can fix. When the store refuses the
   * delivery for good, its payloads are stored one by one and the refused
   * ones dead-lettered; the outcome names them.
   */
  readonly handle = async (delivery: Delivery<'metrics'>): Promise<DeliveryOutcome | void> => {
    const { payloads, token } = delivery;
    let refusal: unknown;
    try {
      await this.insert(payloads, token);
      return;
    } catch (err) {
      this.failed(err, token);
      if (storeErrorKind(err) === 'retryable') throw err;
      refusal = err;
    }
    if (payloads.length === 1) return { rejected: new Map([[0, await this.deadLetter(payloads[0]!, token, refusal)]]) };
    const rejected = new Map<number, string>();
    for (let i = 0; i < payloads.length; i++) {
      const own = `${token}/p${i}`;
      try {
        await this.insert([payloads[i]!], own);
      } catch (err) {
        this.failed(err, own);
        if (storeErrorKind(err) === 'retryable') throw err;
        rejected.set(i, await this.deadLetter(payloads[i]!, own, err));
      }
    }
    return { rejected };
  };

  /** Writes the refused payload's dead-letter row; returns the reason. A failure here is retried with the delivery. */
  private async deadLetter(payload: SampleBatch, token: string, err: unknown): Promise<string> {
    const letter = deadLetterOf(payload, token, err);
    await insertDeadLetter(this.store, letter);
    this.metrics.deadLetters.inc({ error: letter.error });
    this.log.error({ token, tenant: letter.tenant, samples: letter.samples, reason: letter.reason }, 'the store refused a payload for good; it is in ingest_dead_letters');
    return letter.reason;
  }

  private failed(err: unknown, token: string): void {
    this.metrics.errors.inc();
    // The payloads come back (same token, or one by one): forget what this attempt advanced so
    // that they are checked against the store; ClickHouse also drops a retry by its token.
    this.newest.clear();
    // What this attempt stored may be past the bound read at start: read it again before the retry.
    if (this.storedBefore !== Infinity) this.storedBefore = undefined;
    this.log.error({ err: (err as Error).message, token, retry: storeErrorKind(err) === 'retryable' }, 'insert failed');
  }

  /** Merges payloads and inserts them as one insert per tenant under `token`. */
  private async insert(payloads: readonly SampleBatch[], token: string): Promise<void> {
    if (this.newest.size > this.maxTrackedSeries) this.newest.clear();
    const started = performance.now();
    this.storedBefore ??= await newestStored(this.store);
    let at = addStage('verify', started);
    const merged = mergeBatches(payloads, this.newest, this.storedBefore);
    at = addStage('encode', at);
    let stored = 0;
    let dropped = 0;
    const ready: MergedSamples[] = [];
    const minutes: Announcement[] = [];
    for (const m of merged) {
      // Minutes of samples found already stored are announced too: a re-sent request re-rolls what it
      // touches, so rollups a previous life left short (killed before its roll) are made whole.
      minutes.push({ tenant: m.tenant, buckets: minutesOf(m.timestamps, minutesOf(m.late.map((l) => l.ts))) });
      if (m.late.length === 0) {
        ready.push(m);
        dropped += m.duplicates;
        continue;
      }
      const verifyStarted = performance.now();
      // Samples already stored are dropped, so that each (series, ts) is in the raw table once.
      const late = await unseenLateSamples(this.store, m.tenant, m.late);
      this.metrics.verifySeconds.observe((performance.now() - verifyStarted) / 1000);
      at = addStage('verify', verifyStarted);
      dropped += m.duplicates + (m.late.length - late.length);
      ready.push(withLate(m, late));
      at = addStage('encode', at);
    }
    // Announced before the raw insert: a process killed after it still leaves the minutes to roll.
    // With the loop in this process, only minutes no untaken announcement covers; the ones relied on
    // are held until the raw insert is done, so the loop cannot roll them before it.
    const held: string[] = [];
    try {
      const ledger = this.ledger;
      const rows = announcementRows('1m', ledger ? minutes.map((a) => ({ tenant: a.tenant, buckets: ledger.cover(a.tenant, a.buckets, held) })) : minutes, token);
      if (rows.length > 0) {
        for (const r of rows) {
          ledger?.hold(r.id);
          if (ledger) held.push(r.id);
        }
        await writeAnnouncements(this.store, rows);
        for (const r of rows) ledger?.written(r);
      }
      at = addStage('announce', at);
      for (const all of ready) {
        await insertSeries(this.store, all.tenant, all.series);
        await insertSamples(this.store, all, token);
        stored += all.length;
      }
    } finally {
      this.ledger?.release(held);
    }
    addStage('insert', at);
    this.metrics.insertSeconds.observe((performance.now() - started) / 1000);
    this.stored += stored;
    this.metrics.samples.inc(stored);
    this.metrics.duplicates.inc(dropped);
    this.metrics.batchSize.observe(stored);
  }

  async start(bus: Bus): Promise<void> {
    // Read before the first delivery, so that it does not wait behind that delivery's statements.
    this.storedBefore ??= await newestStored(this.store);
    await bus.consume('metrics', this.handle);
  }
}
