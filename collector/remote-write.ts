// The Prometheus remote_write 1.0 decoder (snappy block + protobuf
// prometheus.WriteRequest) into one SampleBatch (the encoder is in
// remote-write-encode.ts). The decoder is the ingest hot path:
// a series already seen by this process costs a hash of the raw bytes of its
// label section and a map lookup, never a label decode.
import protobuf from 'protobufjs/minimal.js';
import snappy from 'snappy';
import { isUtf8 } from 'node:buffer';
import { InputError } from '../core/errors.ts';
import { snappyLength } from '../core/snappy.ts';
import type { Labels, SampleBatch, SeriesDefinition } from '../core/bus/samples.ts';
import { isValidLabelName, labelSetProblem, seriesId } from '../metrics/series.ts';
import { LabelHasher } from './label-hash.ts';
import { firstOutOfBounds, type SampleTimeBounds } from './sample-bounds.ts';

const { Reader } = protobuf;
type ProtoReader = protobuf.Reader;

/** A remembered label section: the second hash half and length to confirm a match, and the series id. */
interface LabelSectionEntry {
  readonly check: number;
  readonly length: number;
  readonly id: bigint;
  next: LabelSectionEntry | null;
}

/**
 * Series ids by the 64-bit hash of their raw label-section bytes (see
 * label-hash.ts), bounded: two generations, the older dropped whole when the
 * newer fills, entries still in use promoted. A hash is used rather than a
 * string of the bytes because V8 hashes a long fresh string at several times
 * the cost; two different label sets of equal length with the same 64-bit
 * hash would share an id (odds about n²/2^65 for n series).
 */
export class LabelSectionCache {
  private current = new Map<number, LabelSectionEntry>();
  private previous = new Map<number, LabelSectionEntry>();
  private count = 0;

  constructor(readonly capacity: number) {
    if (!(capacity >= 2)) throw new RangeError('series cache capacity must be at least 2');
  }

  get(hash: number, check: number, length: number): bigint | undefined {
    for (let e: LabelSectionEntry | null | undefined = this.current.get(hash); e; e = e.next) if (e.check === check && e.length === length) return e.id;
    for (let e: LabelSectionEntry | null | undefined = this.previous.get(hash); e; e = e.next) {
      if (e.check === check && e.length === length) {
        this.set(hash, check, length, e.id);
        return e.id;
      }
    }
    return undefined;
  }

  set(hash: number, check: number, length: number, id: bigint): void {
    if (this.count * 2 >= this.capacity) {
      this.previous = this.current;
      this.current = new Map();
      this.count = 0;
    }
    this.current.set(hash, { check, length, id, next: this.current.get(hash) ?? null });
    this.count++;
  }

  get size(): number {
    return this.current.size + this.previous.size;
  }
}

export interface RemoteWriteDecoderOptions {
  readonly tenant: string;
  /** Most series remembered as already defined; a forgotten series is simply defined again. */
  readonly seriesCacheSize?: number;
  /** Largest uncompressed WriteRequest accepted (default 256 MiB). */
  readonly maxDecodedBytes?: number;
}

const DEFAULT_MAX_DECODED_BYTES = 256 * 1024 * 1024;

/** A decoded request: its batch, and the acknowledgement that makes its new series known once the bus took it. */
export interface DecodedWrite {
  readonly batch: SampleBatch;
  /** Call after the batch was accepted by the bus, so a rejected request's series are defined again next time. */
  commit(): void;
}

const MALFORMED = 'malformed protobuf WriteRequest';

/** A series first seen in the request being decoded. */
interface FreshSeries {
  readonly hash: number;
  readonly check: number;
  readonly length: number;
  readonly id: bigint;
}

/**
 * Decodes remote_write requests for one tenant. Not re-entrant (it reuses
 * growable columns between requests); one per receiver is enough because
 * decoding is synchronous.
 */
export class RemoteWriteDecoder {
  private readonly cache: LabelSectionCache;
  private readonly hasher = new LabelHasher();
  private pieceHasher: LabelHasher | null = null;
  private ids = new BigUint64Array(4096);
  private timestamps = new Float64Array(4096);
  private values = new Float64Array(4096);
  private n = 0;

  constructor(private readonly options: RemoteWriteDecoderOptions) {
    this.cache = new LabelSectionCache(options.seriesCacheSize ?? 1_000_000);
  }

  /** Seconds spent resolving series on cache misses (label decode, validation, id hash), since creation. */
  resolveSeconds = 0;

  /** Series this decoder currently remembers as defined. */
  get knownSeries(): number {
    return this.cache.size;
  }

  /**
   * Decodes a snappy-compressed WriteRequest body. Throws InputError naming
   * what was wrong; with `bounds`, a sample timestamp outside them is wrong.
   */
  decode(body: Uint8Array, bounds?: SampleTimeBounds): DecodedWrite {
    return this.decodeWriteRequest(uncompressBlock(body, this.options.maxDecodedBytes ?? DEFAULT_MAX_DECODED_BYTES), bounds);
  }

  /** Decodes an uncompressed WriteRequest. Nothing is remembered until commit(). */
  decodeWriteRequest(raw: Uint8Array, bounds?: SampleTimeBounds): DecodedWrite {
    const buf = Buffer.isBuffer(raw) ? raw : Buffer.from(raw.buffer, raw.byteOffset, raw.byteLength);
    const hasher = this.hasher;
    hasher.load(buf);
    const reader = Reader.create(buf);
    const definitions: SeriesDefinition[] = [];
    const cache = this.cache;
    // New series of this request, so that a series repeated within it is defined once.
    let fresh: FreshSeries[] | null = null;
    let freshIds: LabelSectionCache | null = null;
    this.n = 0;
    let index = 0;
    let inSeries = false;
    try {
      while (reader.pos < reader.len) {
        const tag = reader.uint32();
        if (tag === 0x0a) {
          const length = reader.uint32();
          const end = reader.pos + length;
          if (end > reader.len) throw new InputError(`timeseries[${index}]`, `${MALFORMED}: truncated`);
          const first = this.n;
          inSeries = true;
          this.readTimeSeries(reader, buf, end);
          if (bounds) {
            const out = firstOutOfBounds(this.timestamps, first, this.n, bounds);
            if (out) throw new InputError(`timeseries[${index}].samples[${out.index - first}].timestamp`, out.problem);
          }
          let bytes: Uint8Array = buf;
          let from = this.labelStart;
          let to = this.labelEnd;
          let hash: number;
          let check: number;
          if (this.pieces) {
            bytes = Buffer.concat(this.pieces);
            from = 0;
            to = bytes.length;
            const pieceHasher = (this.pieceHasher ??= new LabelHasher());
            pieceHasher.load(bytes);
            hash = pieceHasher.hash(0, to);
            check = pieceHasher.check;
          } else {
            hash = hasher.hash(from, to);
            check = hasher.check;
          }
          const size = to - from;
          let id = cache.get(hash, check, size);
          if (id === undefined && freshIds) id = freshIds.get(hash, check, size);
          if (id === undefined) {
            const missStarted = performance.now();
            const labels = decodeLabels(bytes, from, to, index);
            id = seriesId(labels);
            this.resolveSeconds += (performance.now() - missStarted) / 1000;
            (fresh ??= []).push({ hash, check, length: size, id });
            (freshIds ??= new LabelSectionCache(Infinity)).set(hash, check, size, id);
            definitions.push({ id, labels });
          }
          // A loop, not fill(): a builtin call per series costs more than the usual single store.
          const ids = this.ids;
          for (let i = first; i < this.n; i++) ids[i] = id;
          index++;
          inSeries = false;
        } else {
          // metadata (3) and anything newer are not samples.
          if ((tag & 7) === 4 || tag >>> 3 === 0) throw new InputError('body', `${MALFORMED}: invalid tag ${tag} at byte ${reader.pos}`);
          reader.skipType(tag & 7);
        }
      }
    } catch (e) {
      if (e instanceof InputError) throw e;
      throw new InputError(inSeries ? `timeseries[${index}]` : 'body', `${MALFORMED}: ${(e as Error).message}`);
    }
    const batch: SampleBatch = {
      tenant: this.options.tenant,
      series: definitions,
      length: this.n,
      seriesIds: this.ids.slice(0, this.n),
      timestamps: this.timestamps.slice(0, this.n),
      values: this.values.slice(0, this.n),
    };
    const remembered = fresh as FreshSeries[] | null;
    return {
      batch,
      commit() {
        if (remembered) for (const f of remembered) cache.set(f.hash, f.check, f.length, f.id);
      },
    };
  }

  // Where the current series' label fields lie, set by readTimeSeries (fields, not a result object, to allocate nothing per series).
  private labelStart = 0;
  private labelEnd = 0;
  /** Set when label fields are not contiguous (never from Prometheus); the key is then built from pieces. */
  private pieces: Buffer[] | null = null;

  /**
   * One TimeSeries message up to `end`: appends its samples and notes where
   * its label fields lie. The caller fills in the series id afterwards,
   * because labels and samples may come in any order on the wire.
   */
  private readTimeSeries(reader: ProtoReader, buf: Buffer, end: number): void {
    let labelStart = -1;
    let labelEnd = -1;
    let pieces: Buffer[] | null = null;
    while (reader.pos < end) {
      const fieldStart = reader.pos;
      const tag = reader.uint32();
      if (tag === 0x0a) {
        const length = reader.uint32();
        reader.pos += length;
        if (labelStart < 0) labelStart = fieldStart;
        else if (labelEnd !== fieldStart) {
          pieces ??= [buf.subarray(labelStart, labelEnd)];
          pieces.push(buf.subarray(fieldStart, reader.pos));
        }
        labelEnd = reader.pos;
      } else if (tag === 0x12) {
        const length = reader.uint32();
        this.readSample(reader, reader.pos + length);
      } else {
        // exemplars (3) and native histograms (4) are not stored by this receiver.
        if ((tag & 7) === 4 || tag >>> 3 === 0) throw new Error(`invalid tag ${tag} at byte ${fieldStart}`);
        reader.skipType(tag & 7);
      }
    }
    if (reader.pos !== end) throw new Error(`a field overruns its timeseries at byte ${reader.pos}`);
    this.labelStart = labelStart < 0 ? 0 : labelStart;
    this.labelEnd = labelStart < 0 ? 0 : labelEnd;
    this.pieces = pieces;
  }

  private readSample(reader: ProtoReader, end: number): void {
    let value = 0;
    let timestamp = 0;
    while (reader.pos < end) {
      const tag = reader.uint32();
      if (tag === 0x09) value = reader.double();
      else if (tag === 0x10) timestamp = readInt64(reader);
      else {
        if ((tag & 7) === 4 || tag >>> 3 === 0) throw new Error(`invalid tag ${tag} in a sample`);
        reader.skipType(tag & 7);
      }
    }
    if (reader.pos !== end) throw new Error('a sample overruns its length');
    if (this.n === this.ids.length) this.grow();
    this.values[this.n] = value;
    this.timestamps[this.n] = timestamp;
    this.n++;
  }

  private grow(): void {
    const size = this.ids.length * 2;
    const ids = new BigUint64Array(size);
    ids.set(this.ids);
    const ts = new Float64Array(size);
    ts.set(this.timestamps);
    const vals = new Float64Array(size);
    vals.set(this.values);
    this.ids = ids;
    this.timestamps = ts;
    this.values = vals;
  }
}

/**
 * An int64 varint as a number. protobufjs' own int64() allocates a Long per
 * call when the `long` package is present; millisecond timestamps fit in 7
 * bytes, so those are read here and only longer (e.g. negative) ones go
 * through the library.
 */
function readInt64(reader: ProtoReader): number {
  const buf = reader.buf;
  let pos = reader.pos;
  let result = 0;
  let scale = 1;
  for (let i = 0; i < 7 && pos < reader.len; i++) {
    const b = buf[pos++]!;
    result += (b & 0x7f) * scale;
    if (b < 0x80) {
      reader.pos = pos;
      return result;
    }
    scale *= 128;
  }
  const long = reader.int64() as unknown as number | { toNumber(): number };
  return typeof long === 'number' ? long : long.toNumber();
}

/** The labels of one series, on a cache miss only; validated as a Prometheus receiver would. */
function decodeLabels(bytes: Uint8Array, start: number, end: number, index: number): Labels {
  const field = `timeseries[${index}].labels`;
  const reader = Reader.create(bytes.subarray(start, end));
  const labels: Record<string, string> = {};
  const seen = new Set<string>();
  while (reader.pos < reader.len) {
    reader.uint32(); // field 1 of TimeSeries: these bytes hold only labels
    const labelEnd = reader.uint32() + reader.pos;
    let name = '';
    let value = '';
    while (reader.pos < labelEnd) {
      const tag = reader.uint32();
      if (tag === 0x0a) name = utf8(reader.bytes(), field, 'name');
      else if (tag === 0x12) value = utf8(reader.bytes(), field, `value of "${name}"`);
      else reader.skipType(tag & 7);
    }
    if (seen.has(name)) throw new InputError(field, `duplicate label name "${name}"`);
    seen.add(name);
    if (name !== '__name__' && !isValidLabelName(name)) throw new InputError(field, `invalid label name "${name}"`);
    // Prometheus treats an empty label value as the label being absent.
    if (value !== '') labels[name] = value;
  }
  const problem = labelSetProblem(labels);
  if (problem) throw new InputError(field, problem);
  return labels;
}

/**
 * A label string from its bytes, refusing invalid UTF-8 as Prometheus does
 * (protobufjs' own string() would turn bad bytes into U+FFFD silently).
 */
function utf8(bytes: Uint8Array, field: string, what: string): string {
  if (!isUtf8(bytes)) throw new InputError(field, `label ${what} is not valid UTF-8`);
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('utf8');
}


function uncompressBlock(body: Uint8Array, maxBytes: number): Buffer {
  if (body.length === 0) throw new InputError('body', 'empty body: expected a snappy-compressed WriteRequest');
  // Checked before decompressing: a small body can announce (and expand to) gigabytes.
  const announced = snappyLength(body);
  if (announced > maxBytes) throw new InputError('body', `snappy block expands to ${announced} bytes, more than the ${maxBytes} accepted`, 'body_too_large');
  try {
    // copyOutputData: an external output buffer is about ten times slower to create and collect.
    return snappy.uncompressSync(body, { asBuffer: true, copyOutputData: true }) as Buffer;
  } catch (e) {
    throw new InputError('body', `bad snappy block: ${(e as Error).message}`);
  }
}
