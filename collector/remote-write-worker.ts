// A remote_write decoding worker thread, started by remote-write-pool.ts:
// decodes requests with its own per-tenant decoders and series caches, and
// hands each batch's columns back by transfer (one buffer, no copy). Series
// any thread of the pool defined reach every worker's cache over a
// BroadcastChannel once their batch was accepted by the bus, so a series is
// defined once per pool rather than once per worker (one defined twice, by
// two workers at the same moment, is harmless: the series table is a
// ReplacingMergeTree).
import { BroadcastChannel, isMainThread, parentPort, workerData } from 'node:worker_threads';
import { TenantDecoders, type DecodeOutcome, type DecodeTask } from './remote-write-decoding.ts';

/** This module's URL, for the pool to start workers from (the .ts source or its compiled .js alike). */
export const workerModuleUrl = import.meta.url;

/** What a worker is started with (its workerData). */
export interface DecodeWorkerData {
  /** The BroadcastChannel the pool announces committed series on. */
  readonly channel: string;
  readonly seriesCacheSize?: number;
}

/** A committed request's new series, as broadcast to the workers. */
export interface CommittedSeries {
  readonly tenant: string;
  readonly fresh: Int32Array;
}

/** A task as posted to a worker. */
export interface DecodeRequestMessage {
  readonly id: number;
  readonly task: DecodeTask;
}

/** A worker's answer: the outcome, or the message of an error that is not the sender's fault; or, once, that it is listening. */
export interface DecodeReplyMessage {
  readonly id: number;
  readonly ready?: true;
  readonly outcome?: DecodeOutcome;
  readonly failure?: string;
}

function serve(data: DecodeWorkerData): void {
  const decoders = new TenantDecoders(data.seriesCacheSize ? { seriesCacheSize: data.seriesCacheSize } : {});
  const channel = new BroadcastChannel(data.channel);
  channel.onmessage = (event: unknown) => {
    const { tenant, fresh } = (event as { data: CommittedSeries }).data;
    decoders.remember(tenant, fresh);
  };
  // The worker lives as long as its port to the pool; the channel must not hold it.
  channel.unref();
  parentPort!.on('message', ({ id, task }: DecodeRequestMessage) => {
    let reply: DecodeReplyMessage;
    const transfer: ArrayBuffer[] = [];
    try {
      const { outcome } = decoders.decode(task);
      if (outcome.batch) transfer.push(outcome.batch.seriesIds.buffer as ArrayBuffer);
      if (outcome.fresh) transfer.push(outcome.fresh.buffer as ArrayBuffer);
      reply = { id, outcome };
    } catch (e) {
      reply = { id, failure: e instanceof Error ? e.message : String(e) };
    }
    parentPort!.postMessage(reply, transfer);
  });
  // Subscribed: series committed from now on reach this worker.
  parentPort!.postMessage({ id: -1, ready: true } satisfies DecodeReplyMessage);
}

if (!isMainThread && parentPort && typeof (workerData as DecodeWorkerData | undefined)?.channel === 'string') serve(workerData as DecodeWorkerData);
