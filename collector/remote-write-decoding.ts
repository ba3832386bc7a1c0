// One remote_write request decoded for a tenant, as a plain message in and
// out, so that the same code runs on the main thread and in a decoding
// worker (remote-write-worker.ts): a refusal comes back as data (an
// InputError does not survive a thread boundary with its field), and the
// seconds spent come back with the batch so the ingest stage counters still
// add up when the decoding happened elsewhere.
import { InputError } from '../core/errors.ts';
import type { SampleBatch } from '../core/bus/samples.ts';
import { RemoteWriteDecoder, type DecodedWrite } from './remote-write.ts';
import type { SampleTimeBounds } from './sample-bounds.ts';

export interface DecodeTask {
  readonly tenant: string;
  /** The snappy-compressed WriteRequest. */
  readonly body: Uint8Array;
  readonly bounds?: SampleTimeBounds;
}

/** What a refused request is refused for: an InputError's parts. */
export interface Refusal {
  readonly field: string;
  readonly message: string;
  readonly code: string;
}

export interface DecodeOutcome {
  readonly batch?: SampleBatch;
  /** The request's new label sections (DecodedWrite.fresh), remembered once the bus took the batch. */
  readonly fresh?: Int32Array | null;
  readonly refused?: Refusal;
  /** Seconds decoding, net of resolving series (`resolveSeconds`). */
  readonly decodeSeconds: number;
  readonly resolveSeconds: number;
}

export interface DecoderOptions {
  /** Series each tenant's decoder remembers as defined (default 1,000,000). */
  readonly seriesCacheSize?: number;
}

/** The refusal an InputError stands for. */
export function refusalOf(e: InputError): Refusal {
  const prefix = `${e.field}: `;
  return { field: e.field, message: e.message.startsWith(prefix) ? e.message.slice(prefix.length) : e.message, code: e.code };
}

/** The InputError back from a refusal. */
export function refusalError(r: Refusal): InputError {
  return new InputError(r.field, r.message, r.code);
}

/**
 * A decoder per tenant: its cache remembers which series it has defined,
 * and a series is defined per tenant.
 */
export class TenantDecoders {
  private readonly decoders = new Map<string, RemoteWriteDecoder>();

  constructor(private readonly options: DecoderOptions = {}) {}

  decoder(tenant: string): RemoteWriteDecoder {
    let decoder = this.decoders.get(tenant);
    if (!decoder) {
      decoder = new RemoteWriteDecoder({ tenant, ...(this.options.seriesCacheSize ? { seriesCacheSize: this.options.seriesCacheSize } : {}) });
      this.decoders.set(tenant, decoder);
    }
    return decoder;
  }

  /** Decodes one request; `decoded` is the decoder's result (with its commit) when there was one. */
  decode(task: DecodeTask): { outcome: DecodeOutcome; decoded: DecodedWrite | null } {
    const decoder = this.decoder(task.tenant);
    const started = performance.now();
    const resolving = decoder.resolveSeconds;
    let decoded: DecodedWrite | null = null;
    let refused: Refusal | undefined;
    try {
      decoded = decoder.decode(task.body, task.bounds);
    } catch (e) {
      if (!(e instanceof InputError)) throw e;
      refused = refusalOf(e);
    }
    const resolveSeconds = decoder.resolveSeconds - resolving;
    const decodeSeconds = (performance.now() - started) / 1000 - resolveSeconds;
    const outcome: DecodeOutcome = decoded
      ? { batch: decoded.batch, fresh: decoded.fresh, decodeSeconds, resolveSeconds }
      : { refused: refused!, decodeSeconds, resolveSeconds };
    return { outcome, decoded };
  }

  /** Remembers series another thread's decoder defined for `tenant`. */
  remember(tenant: string, fresh: Int32Array): void {
    this.decoder(tenant).remember(fresh);
  }

  /** Series remembered, all tenants together, and the bytes their caches hold. */
  get cached(): { series: number; bytes: number } {
    let series = 0;
    let bytes = 0;
    for (const d of this.decoders.values()) {
      series += d.knownSeries;
      bytes += d.cacheBytes;
    }
    return { series, bytes };
  }
}
