// Where remote_write requests are decoded: in a small pool of worker
// threads (collector.decodeWorkers), so that HTTP serving,
// decoding and the ingester's inserts overlap on separate cores, or on the
// main thread (0 workers). Either way a request comes back as a batch to
// publish and a commit to call once the bus took it, or as the InputError
// the receiver answers 400 with, and with the seconds it took, for the
// ingest stage counters. The tenant is decided on the main thread and
// travels with the task; the body goes to the worker and the columns come
// back by transfer, not copied.
import { BroadcastChannel, Worker } from 'node:worker_threads';
import { randomUUID } from 'node:crypto';
import type { InputError } from '../core/errors.ts';
import type { SampleBatch } from '../core/bus/samples.ts';
import type { SampleTimeBounds } from './sample-bounds.ts';
import { refusalError, TenantDecoders, type DecodeOutcome, type DecodeTask, type DecoderOptions } from './remote-write-decoding.ts';
import { workerModuleUrl, type CommittedSeries, type DecodeReplyMessage, type DecodeRequestMessage, type DecodeWorkerData } from './remote-write-worker.ts';

/** Decoding could not run (a worker died, or the pool is closing): not the sender's fault, worth a retry. */
export class DecodingUnavailable extends Error {}

/** A decoded request: its batch and commit, or why it was refused; and the seconds it took. */
export interface DecodedRequest {
  readonly batch?: SampleBatch;
  readonly error?: InputError;
  /** Call after the bus took the batch: its new series are then known to every decoder of the pool. */
  commit(): void;
  /** Seconds decoding (net of resolving), wherever it ran. */
  readonly decodeSeconds: number;
  /** Seconds resolving series seen for the first time. */
  readonly resolveSeconds: number;
}

export interface RemoteWriteDecoding {
  /** Worker threads decoding; 0 when decoding runs on the calling thread. */
  readonly workers: number;
  decode(tenant: string, body: Buffer, bounds?: SampleTimeBounds): Promise<DecodedRequest>;
  /**
   * Starts the threads if the first request has not, and resolves once each
   * listens. A series committed before a thread listened is not known to it
   * (it defines it once more, harmlessly).
   */
  started(): Promise<void>;
  /** Stops the workers (requests still decoding finish first). */
  close(): Promise<void>;
}

export interface RemoteWriteDecodingOptions extends DecoderOptions {
  /** Worker threads; 0 decodes on the main thread. */
  readonly workers: number;
}

export function createRemoteWriteDecoding(options: RemoteWriteDecodingOptions): RemoteWriteDecoding {
  return options.workers > 0 ? new DecodingPool(options) : new InThreadDecoding(options);
}

/** Decoding on the calling thread. */
class InThreadDecoding implements RemoteWriteDecoding {
  readonly workers = 0;
  private readonly decoders: TenantDecoders;

  constructor(options: DecoderOptions) {
    this.decoders = new TenantDecoders(options);
  }

  async decode(tenant: string, body: Buffer, bounds?: SampleTimeBounds): Promise<DecodedRequest> {
    const { outcome, decoded } = this.decoders.decode({ tenant, body, ...(bounds ? { bounds } : {}) });
    return {
      ...(outcome.batch ? { batch: outcome.batch } : {}),
      ...(outcome.refused ? { error: refusalError(outcome.refused) } : {}),
      commit: () => decoded?.commit(),
      decodeSeconds: outcome.decodeSeconds,
      resolveSeconds: outcome.resolveSeconds,
    };
  }

  async started(): Promise<void> {}

  async close(): Promise<void> {}
}

/**
 * A worker thread running this pool's worker module. From TypeScript
 * sources (tests, tsx) the thread first registers tsx's loader through its
 * API: loader hooks given on the command line do not reach a worker's own
 * modules on Node 20.
 */
function startWorkerThread(data: DecodeWorkerData): Worker {
  if (!workerModuleUrl.endsWith('.ts')) return new Worker(new URL(workerModuleUrl), { workerData: data });
  const api = JSON.stringify(import.meta.resolve('tsx/esm/api'));
  const code = `import(${api}).then((tsx) => { tsx.register(); return import(${JSON.stringify(workerModuleUrl)}); });`;
  return new Worker(code, { eval: true, workerData: data });
}

/** A body's bytes as something to transfer: its own buffer when it owns all of it, else a copy (a slice of a shared buffer must not be detached). */
function transferable(body: Buffer): Uint8Array {
  if (body.byteOffset === 0 && body.buffer.byteLength === body.byteLength && body.buffer instanceof ArrayBuffer) return body;
  return new Uint8Array(body);
}

interface Pending {
  resolve(outcome: DecodeOutcome): void;
  reject(error: Error): void;
}

/** How long a worker that died waits before it is started again (a worker that cannot start must not spin). */
const RESTART_DELAY_MS = 1000;

/** One worker thread and the tasks it holds. */
class DecodeWorker {
  readonly pending = new Map<number, Pending>();
  private worker: Worker | null = null;
  private closing = false;
  /** Resolves when the current thread listens (to tasks and to committed series). */
  ready: Promise<void> = Promise.resolve();

  constructor(private readonly data: DecodeWorkerData) {
    this.start();
  }

  private start(): void {
    const worker = startWorkerThread(this.data);
    this.worker = worker;
    let listening = () => {};
    this.ready = new Promise((resolve) => (listening = resolve));
    worker.on('message', (reply: DecodeReplyMessage) => {
      if (reply.ready) {
        if (this.pending.size === 0) worker.unref();
        return listening();
      }
      const p = this.pending.get(reply.id);
      if (!p) return;
      this.pending.delete(reply.id);
      if (this.pending.size === 0) worker.unref();
      if (reply.outcome) p.resolve(reply.outcome);
      else p.reject(new DecodingUnavailable(`remote_write decoding failed: ${reply.failure}`));
    });
    // A worker that dies fails what it held (503: the sender sends again) and is started again.
    worker.on('error', (e) => this.fail(new DecodingUnavailable(`remote_write decoding worker failed: ${e.message}`)));
    worker.on('exit', (code) => {
      this.worker = null;
      listening();
      this.fail(new DecodingUnavailable(`remote_write decoding worker exited with code ${code}`));
      if (!this.closing) setTimeout(() => this.closing || this.start(), RESTART_DELAY_MS).unref();
    });
    // Held until it listens (someone may be waiting in started()), then only while it has work.
  }

  private fail(e: Error): void {
    for (const p of this.pending.values()) p.reject(e);
    this.pending.clear();
  }

  /** Whether it can take a task now. */
  get alive(): boolean {
    return this.worker !== null && !this.closing;
  }

  run(id: number, task: DecodeTask, transfer: ArrayBuffer[]): Promise<DecodeOutcome> {
    const worker = this.worker;
    if (!worker || this.closing) return Promise.reject(new DecodingUnavailable('remote_write decoding is not running'));
    return new Promise((resolve, reject) => {
      this.pending.set(id, { resolve, reject });
      // Held while it has work: the process must not exit under a request being decoded.
      worker.ref();
      worker.postMessage({ id, task } satisfies DecodeRequestMessage, transfer);
    });
  }

  async close(): Promise<void> {
    this.closing = true;
    await this.worker?.terminate();
    this.fail(new DecodingUnavailable('remote_write decoding stopped'));
  }
}

/** Worker threads decoding, each task to the one holding fewest. */
class DecodingPool implements RemoteWriteDecoding {
  readonly workers: number;
  private readonly threads: DecodeWorker[] = [];
  private readonly channel: BroadcastChannel;
  private readonly data: DecodeWorkerData;
  private nextId = 0;
  private closed = false;

  constructor(options: RemoteWriteDecodingOptions) {
    this.workers = options.workers;
    const name = `tidemark-remote-write-${process.pid}-${randomUUID()}`;
    this.data = { channel: name, ...(options.seriesCacheSize ? { seriesCacheSize: options.seriesCacheSize } : {}) };
    this.channel = new BroadcastChannel(name);
    this.channel.unref();
  }

  async started(): Promise<void> {
    // Started with the first request (or this call): an engine that never receives remote_write starts no thread.
    while (this.threads.length < this.workers) this.threads.push(new DecodeWorker(this.data));
    await Promise.all(this.threads.map((t) => t.ready));
  }

  async decode(tenant: string, body: Buffer, bounds?: SampleTimeBounds): Promise<DecodedRequest> {
    if (this.closed) throw new DecodingUnavailable('remote_write decoding stopped');
    while (this.threads.length < this.workers) this.threads.push(new DecodeWorker(this.data));
    const bytes = transferable(body);
    const task: DecodeTask = { tenant, body: bytes, ...(bounds ? { bounds } : {}) };
    let thread = this.threads[0]!;
    for (const t of this.threads) if (!thread.alive || (t.alive && t.pending.size < thread.pending.size)) thread = t;
    const outcome = await thread.run(this.nextId++, task, [bytes.buffer as ArrayBuffer]);
    const fresh = outcome.fresh ?? null;
    return {
      ...(outcome.batch ? { batch: outcome.batch } : {}),
      ...(outcome.refused ? { error: refusalError(outcome.refused) } : {}),
      commit: () => {
        if (fresh) this.channel.postMessage({ tenant, fresh } satisfies CommittedSeries);
      },
      decodeSeconds: outcome.decodeSeconds,
      resolveSeconds: outcome.resolveSeconds,
    };
  }

  /** Waits (at most 10 s) for the tasks in hand, then stops the workers. */
  async close(): Promise<void> {
    this.closed = true;
    const deadline = Date.now() + 10_000;
    while (this.threads.some((t) => t.pending.size > 0) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
    await Promise.all(this.threads.map((t) => t.close()));
    this.channel.close();
  }
}
