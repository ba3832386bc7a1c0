// The Prometheus remote_write 1.0 decoder (snappy block + protobuf
// prometheus.WriteRequest) into one SampleBatch (the encoder is in
// remote-write-encode.ts). The decoder is the ingest hot path, so it walks
// the bytes itself (no protobuf library, no object per message or sample):
// values and timestamps go straight into typed columns, and a series already
// seen costs a hash of the raw bytes of its label section and a probe of a
// typed-array table (label-section-cache.ts) whose id words are copied into
// the id column: no label decode, no BigInt, no allocation per sample.
// Labels are decoded and validated only for a section not seen before.
import snappy from 'snappy';
import { isUtf8 } from 'node:buffer';
import { InputError } from '../core/errors.ts';
import { snappyLength } from '../core/snappy.ts';
import type { SampleBatch, SeriesDefinition } from '../core/bus/samples.ts';
import { isValidLabelName, isValidMetricName, seriesId, seriesIdOfCanonical } from '../metrics/series.ts';
import { LabelHasher } from './label-hash.ts';
import { LabelSectionCache, SectionTable, idWords } from './label-section-cache.ts';
import { firstOutOfBounds, type SampleTimeBounds } from './sample-bounds.ts';

export { LabelSectionCache } from './label-section-cache.ts';

export interface RemoteWriteDecoderOptions {
  readonly tenant: string;
  /** Most series remembered as already defined; a forgotten series is simply defined again. */
  readonly seriesCacheSize?: number;
  /** Largest uncompressed WriteRequest accepted (default 256 MiB). */
  readonly maxDecodedBytes?: number;
}

export const DEFAULT_MAX_DECODED_BYTES = 256 * 1024 * 1024;

/** A decoded request: its batch, and the acknowledgement that makes its new series known once the bus took it. */
export interface DecodedWrite {
  readonly batch: SampleBatch;
  /**
   * The label sections first seen in this request, packed as FRESH_WORDS
   * Int32s each (hash, check, length, id low word, id high word), or null:
   * what commit() remembers, and what a worker pool sends its other workers.
   */
  readonly fresh: Int32Array | null;
  /** Call after the batch was accepted by the bus, so a rejected request's series are defined again next time. */
  commit(): void;
}

/** Int32s per packed fresh entry (see DecodedWrite.fresh). */
export const FRESH_WORDS = 5;

const MALFORMED = 'malformed protobuf WriteRequest';

/** Thrown while walking the bytes; decode() turns it into an InputError naming the series or the body. */
class Malformed extends Error {}

// Where the last varint read ended: a module variable, so that reading one allocates nothing.
let next = 0;

/**
 * A varint from buf[pos] as a number (exact up to 2^53; a negative int64,
 * ten bytes on the wire, comes out negative); sets `next` past it.
 */
function varint(buf: Uint8Array, pos: number, limit: number): number {
  let result = 0;
  let scale = 1;
  // Up to 7 bytes (49 bits) adds up exactly as a double; millisecond timestamps take 6.
  for (let i = 0; i < 7; i++) {
    if (pos >= limit) throw new Malformed(`truncated varint at byte ${pos}`);
    const b = buf[pos++]!;
    result += (b & 0x7f) * scale;
    if (b < 0x80) {
      next = pos;
      return result;
    }
    scale *= 128;
  }
  return varint64(buf, pos - 7, limit);
}

/** A longer varint as a two's-complement 64-bit integer, in two 32-bit halves. */
function varint64(buf: Uint8Array, pos: number, limit: number): number {
  let low = 0;
  let high = 0;
  for (let shift = 0; shift < 70; shift += 7) {
    if (pos >= limit) throw new Malformed(`truncated varint at byte ${pos}`);
    const b = buf[pos++]!;
    if (shift < 28) low |= (b & 0x7f) << shift;
    else if (shift === 28) {
      low |= (b & 0x0f) << 28;
      high |= (b & 0x7f) >> 4;
    } else high |= (b & 0x7f) << (shift - 32);
    if (b < 0x80) {
      next = pos;
      return high * 4294967296 + (low >>> 0);
    }
  }
  throw new Malformed(`a varint longer than 10 bytes at byte ${pos}`);
}

/** Skips the value of a field of wire type `type` starting at `pos`; returns the position after it. */
function skipField(buf: Uint8Array, pos: number, limit: number, type: number, tag: number, at: number): number {
  switch (type) {
    case 0:
      varint(buf, pos, limit);
      return next;
    case 1:
      pos += 8;
      break;
    case 2: {
      const length = varint(buf, pos, limit);
      pos = next + length;
      break;
    }
    case 5:
      pos += 4;
      break;
    default:
      // Groups (3, 4) are long deprecated and never sent by Prometheus; 6 and 7 do not exist.
      throw new Malformed(`invalid tag ${tag} at byte ${at}`);
  }
  if (pos > limit) throw new Malformed(`a field overruns its message at byte ${at}`);
  return pos;
}

/** Reads a tag at `pos` (one byte for every field the decoder knows); sets `next`. Field 0 is invalid. */
function readTag(buf: Uint8Array, pos: number, limit: number): number {
  const b = buf[pos]!;
  let tag: number;
  if (b < 0x80) {
    tag = b;
    next = pos + 1;
  } else tag = varint(buf, pos, limit);
  if (tag < 8) throw new Malformed(`invalid tag ${tag} at byte ${pos}`);
  return tag;
}

/**
 * Decodes remote_write requests for one tenant. Not re-entrant (it reuses
 * growable columns between requests); one per receiver (or per worker
 * thread) is enough because decoding is synchronous.
 */
export class RemoteWriteDecoder {
  private readonly cache: LabelSectionCache;
  private readonly hasher = new LabelHasher();
  private pieceHasher: LabelHasher | null = null;
  /** Label sections first seen in the request being decoded, so that one repeated within it is defined once. */
  private readonly fresh = new SectionTable();
  private ids = new Uint32Array(2 * 4096);
  private timestamps = new Float64Array(4096);
  private values = new Float64Array(4096);
  private readonly word = new Uint32Array(2);

  constructor(private readonly options: RemoteWriteDecoderOptions) {
    this.cache = new LabelSectionCache(options.seriesCacheSize ?? 1_000_000);
  }

  /** Seconds spent resolving series on cache misses (label decode, validation, id hash), since creation. */
  resolveSeconds = 0;

  /** Series this decoder currently remembers as defined. */
  get knownSeries(): number {
    return this.cache.size;
  }

  /** Bytes held by the series cache's tables. */
  get cacheBytes(): number {
    return this.cache.bytes;
  }

  /** Remembers series another decoder (another worker's) defined: entries as in DecodedWrite.fresh. */
  remember(fresh: Int32Array): void {
    this.cache.addPacked(fresh);
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
    const len = raw.length;
    const view = new DataView(raw.buffer, raw.byteOffset, raw.byteLength);
    const hasher = this.hasher;
    hasher.load(raw);
    const cache = this.cache;
    const freshIds = this.fresh;
    freshIds.clear();
    const word = this.word;
    const definitions: SeriesDefinition[] = [];
    let fresh: number[] | null = null;
    let n = 0;
    let index = 0;
    let inSeries = false;
    let pos = 0;
    try {
      while (pos < len) {
        const tag = readTag(buf, pos, len);
        pos = next;
        if (tag !== 0x0a) {
          // metadata (3) and anything newer are not samples.
          pos = skipField(buf, pos, len, tag & 7, tag, pos);
          continue;
        }
        inSeries = true;
        const length = varint(buf, pos, len);
        pos = next;
        const end = pos + length;
        if (end > len) throw new InputError(`timeseries[${index}]`, `${MALFORMED}: truncated`);
        const first = n;
        // Where the label fields lie: contiguous, as Prometheus sends them, unless `pieces` is set.
        let labelStart = -1;
        let labelEnd = -1;
        let pieces: Buffer[] | null = null;
        while (pos < end) {
          const fieldStart = pos;
          const t = readTag(buf, pos, end);
          pos = next;
          if (t === 0x12) {
            let l = buf[pos]!;
            if (l < 0x80) pos++;
            else {
              l = varint(buf, pos, end);
              pos = next;
            }
            const sampleEnd = pos + l;
            if (sampleEnd > end) throw new Malformed(`a sample overruns its timeseries at byte ${fieldStart}`);
            let value = 0;
            let timestamp = 0;
            while (pos < sampleEnd) {
              const st = readTag(buf, pos, sampleEnd);
              pos = next;
              if (st === 0x09) {
                if (pos + 8 > sampleEnd) throw new Malformed('a sample overruns its length');
                value = view.getFloat64(pos, true);
                pos += 8;
              } else if (st === 0x10) {
                timestamp = varint(buf, pos, sampleEnd);
                pos = next;
              } else pos = skipField(buf, pos, sampleEnd, st & 7, st, pos);
            }
            if (pos !== sampleEnd) throw new Malformed('a sample overruns its length');
            if (n === this.timestamps.length) this.grow();
            this.values[n] = value;
            this.timestamps[n] = timestamp;
            n++;
          } else if (t === 0x0a) {
            const l = varint(buf, pos, end);
            pos = next + l;
            if (pos > end) throw new Malformed(`a field overruns its timeseries at byte ${fieldStart}`);
            if (labelStart < 0) labelStart = fieldStart;
            else if (labelEnd !== fieldStart) {
              pieces ??= [buf.subarray(labelStart, labelEnd)];
              pieces.push(buf.subarray(fieldStart, pos));
            }
            labelEnd = pos;
          } else {
            // exemplars (3) and native histograms (4) are not stored by this receiver.
            pos = skipField(buf, pos, end, t & 7, t, fieldStart);
          }
        }
        if (pos !== end) throw new Malformed(`a field overruns its timeseries at byte ${pos}`);
        if (bounds) {
          const out = firstOutOfBounds(this.timestamps, first, n, bounds);
          if (out) throw new InputError(`timeseries[${index}].samples[${out.index - first}].timestamp`, out.problem);
        }
        let bytes = buf;
        let from = labelStart < 0 ? 0 : labelStart;
        let to = labelStart < 0 ? 0 : labelEnd;
        let hash: number;
        let check: number;
        if (pieces) {
          bytes = Buffer.concat(pieces);
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
        if (!cache.copyId(hash, check, size, word, 0)) {
          const at = freshIds.find(hash, check, size);
          if (at >= 0) {
            word[0] = freshIds.low(at);
            word[1] = freshIds.high(at);
          } else {
            const missStarted = performance.now();
            const definition = resolveLabels(bytes, from, to, index);
            const [low, high] = idWords(definition.id);
            word[0] = low;
            word[1] = high;
            this.resolveSeconds += (performance.now() - missStarted) / 1000;
            freshIds.insert(hash, check, size, low, high);
            (fresh ??= []).push(hash, check, size, low, high);
            definitions.push(definition);
          }
        }
        // A loop, not fill(): a builtin call per series costs more than the usual single store.
        const ids = this.ids;
        const low = word[0]!;
        const high = word[1]!;
        for (let i = first; i < n; i++) {
          ids[2 * i] = low;
          ids[2 * i + 1] = high;
        }
        index++;
        inSeries = false;
      }
    } catch (e) {
      if (e instanceof InputError) throw e;
      throw new InputError(inSeries ? `timeseries[${index}]` : 'body', `${MALFORMED}: ${(e as Error).message}`);
    }
    const batch = this.batch(n, definitions);
    const remembered = fresh ? Int32Array.from(fresh) : null;
    return {
      batch,
      fresh: remembered,
      commit() {
        if (remembered) cache.addPacked(remembered);
      },
    };
  }

  /** The first `n` samples as one batch: its three columns in one buffer (one transfer between threads). */
  private batch(n: number, definitions: SeriesDefinition[]): SampleBatch {
    const buffer = new ArrayBuffer(n * 24);
    const seriesIds = new BigUint64Array(buffer, 0, n);
    new Uint32Array(buffer, 0, 2 * n).set(this.ids.subarray(0, 2 * n));
    const timestamps = new Float64Array(buffer, 8 * n, n);
    timestamps.set(this.timestamps.subarray(0, n));
    const values = new Float64Array(buffer, 16 * n, n);
    values.set(this.values.subarray(0, n));
    return { tenant: this.options.tenant, series: definitions, length: n, seriesIds, timestamps, values };
  }

  private grow(): void {
    const size = this.timestamps.length * 2;
    const ids = new Uint32Array(2 * size);
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

// The canonical form of the label set being resolved (name NUL value SOH …), the bytes its id hashes.
let canonical = new Uint8Array(1024);

/**
 * The labels of one series and its id, on a cache miss only; validated as
 * a Prometheus receiver would. Labels arrive sorted by name from every
 * Prometheus, so the id is hashed from their bytes as they are read; only
 * a sender that sends them in another order pays for the sort.
 */
function resolveLabels(bytes: Buffer, start: number, end: number, index: number): SeriesDefinition {
  const field = `timeseries[${index}].labels`;
  const labels: Record<string, string> = {};
  const names: string[] = [];
  let sorted = true;
  let previous = '';
  let size = 0;
  let pos = start;
  while (pos < end) {
    readTag(bytes, pos, end); // field 1 of TimeSeries: these bytes hold only labels
    const length = varint(bytes, next, end);
    pos = next;
    const labelEnd = pos + length;
    let nameStart = pos;
    let nameEnd = pos;
    let valueStart = pos;
    let valueEnd = pos;
    let name = '';
    let value = '';
    while (pos < labelEnd) {
      const tag = readTag(bytes, pos, labelEnd);
      pos = next;
      if (tag === 0x0a || tag === 0x12) {
        const l = varint(bytes, pos, labelEnd);
        pos = next;
        if (pos + l > labelEnd) throw new Malformed('a label overruns its length');
        const s = text(bytes, pos, pos + l);
        if (tag === 0x0a) {
          if (s === null) throw new InputError(field, 'label name is not valid UTF-8');
          name = s;
          nameStart = pos;
          nameEnd = pos + l;
        } else {
          if (s === null) throw new InputError(field, `label value of "${name}" is not valid UTF-8`);
          value = s;
          valueStart = pos;
          valueEnd = pos + l;
        }
        pos += l;
      } else pos = skipField(bytes, pos, labelEnd, tag & 7, tag, pos);
    }
    if (pos !== labelEnd) throw new Malformed('a label overruns its length');
    if (names.length > 0 && name <= previous) {
      if (names.includes(name)) throw new InputError(field, `duplicate label name "${name}"`);
      sorted = false;
    }
    names.push(name);
    previous = name;
    if (name !== '__name__' && !isValidLabelName(name)) throw new InputError(field, `invalid label name "${name}"`);
    // Prometheus treats an empty label value as the label being absent.
    if (value === '') continue;
    labels[name] = value;
    if (sorted) {
      const need = size + (nameEnd - nameStart) + (valueEnd - valueStart) + 2;
      if (need > canonical.length) {
        const grown = new Uint8Array(Math.max(need, canonical.length * 2));
        grown.set(canonical.subarray(0, size));
        canonical = grown;
      }
      // Byte loops: label text is short, and a subarray per copy costs more than the copy.
      for (let i = nameStart; i < nameEnd; i++) canonical[size++] = bytes[i]!;
      canonical[size++] = 0;
      for (let i = valueStart; i < valueEnd; i++) canonical[size++] = bytes[i]!;
      canonical[size++] = 1;
    }
  }
  // labelSetProblem's checks that are left: label names were checked above, and valid UTF-8 holds no lone surrogate.
  const metric = labels['__name__'];
  if (metric === undefined) throw new InputError(field, 'series has no __name__ label');
  if (!isValidMetricName(metric)) throw new InputError(field, `invalid metric name "${metric}"`);
  return { id: sorted ? seriesIdOfCanonical(canonical.subarray(0, size)) : seriesId(labels), labels };
}

/**
 * A label string from its bytes, or null when they are not valid UTF-8
 * (refused, as Prometheus does, where a lenient decoder would put U+FFFD).
 * Most label text is ASCII: checked in a loop, then read as Latin-1.
 */
function text(bytes: Buffer, start: number, end: number): string | null {
  for (let i = start; i < end; i++) {
    if (bytes[i]! >= 0x80) return isUtf8(bytes.subarray(start, end)) ? bytes.toString('utf8', start, end) : null;
  }
  return (bytes as unknown as Latin1Slice).latin1Slice(start, end);
}

/** Buffer's own Latin-1 reader, which toString('latin1', …) calls after checking its arguments (these are checked). */
interface Latin1Slice {
  latin1Slice(start: number, end: number): string;
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
