import { describe, expect, it } from 'vitest';
import snappy from 'snappy';
import protobuf from 'protobufjs/minimal.js';
import { InputError } from '../core/errors.ts';
import { isStaleMarker, staleMarker } from '../core/bus/samples.ts';
import { seriesId } from '../metrics/series.ts';
import { LabelSectionCache, RemoteWriteDecoder } from './remote-write.ts';
import { encodeWriteRequest, encodeWriteRequestProto, type WriteSeries } from './remote-write-encode.ts';
import { fleetSeries } from './synthetic-fleet.ts';

const T0 = Date.parse('2026-03-01T00:00:00Z');

function decoder(seriesCacheSize?: number): RemoteWriteDecoder {
  return new RemoteWriteDecoder({ tenant: 'acme', ...(seriesCacheSize ? { seriesCacheSize } : {}) });
}

function expectInputError(fn: () => unknown, field: string, message: RegExp): void {
  let caught: unknown;
  try {
    fn();
  } catch (e) {
    caught = e;
  }
  expect(caught).toBeInstanceOf(InputError);
  expect((caught as InputError).field).toBe(field);
  expect((caught as InputError).message).toMatch(message);
}

describe('RemoteWriteDecoder', () => {
  it('decodes labels, values and timestamps into one columnar batch with series ids from core', () => {
    const up = { __name__: 'up', job: 'node', instance: 'a:9100' };
    const load = { __name__: 'node_load1', job: 'node', instance: 'a:9100' };
    const { batch } = decoder().decode(
      encodeWriteRequest([
        { labels: up, samples: [{ value: 1, timestamp: T0 }, { value: 0, timestamp: T0 + 15_000 }] },
        { labels: load, samples: [{ value: 0.42, timestamp: T0 }] },
      ]),
    );
    expect(batch.tenant).toBe('acme');
    expect(batch.length).toBe(3);
    expect([...batch.seriesIds]).toEqual([seriesId(up), seriesId(up), seriesId(load)]);
    expect([...batch.timestamps]).toEqual([T0, T0 + 15_000, T0]);
    expect([...batch.values]).toEqual([1, 0, 0.42]);
    expect(batch.series).toEqual([
      { id: seriesId(up), labels: up },
      { id: seriesId(load), labels: load },
    ]);
  });

  it('defines a series once it is committed, and again when the request was not committed', () => {
    const d = decoder();
    const body = encodeWriteRequest([{ labels: { __name__: 'x', a: 'b' }, samples: [{ value: 1, timestamp: T0 }] }]);
    expect(d.decode(body).batch.series).toHaveLength(1);
    const second = d.decode(body);
    expect(second.batch.series).toHaveLength(1);
    second.commit();
    const third = d.decode(body);
    expect(third.batch.series).toHaveLength(0);
    expect(third.batch.seriesIds[0]).toBe(seriesId({ __name__: 'x', a: 'b' }));
  });

  it('defines a series repeated within one request once', () => {
    const labels = { __name__: 'x', a: 'b' };
    const { batch } = decoder().decode(
      encodeWriteRequest([
        { labels, samples: [{ value: 1, timestamp: T0 }] },
        { labels, samples: [{ value: 1, timestamp: T0 }] },
      ]),
    );
    expect(batch.series).toHaveLength(1);
    // Duplicates are accepted here; the store counts them once.
    expect(batch.length).toBe(2);
  });

  it('keeps NaN, ±Inf and the stale marker bit-exact', () => {
    const stale = staleMarker();
    const { batch } = decoder().decode(
      encodeWriteRequest([
        {
          labels: { __name__: 'edge' },
          samples: [
            { value: Number.NaN, timestamp: T0 },
            { value: Number.POSITIVE_INFINITY, timestamp: T0 + 1 },
            { value: Number.NEGATIVE_INFINITY, timestamp: T0 + 2 },
            { value: stale, timestamp: T0 + 3 },
          ],
        },
      ]),
    );
    expect(Number.isNaN(batch.values[0])).toBe(true);
    expect(isStaleMarker(batch.values[0]!)).toBe(false);
    expect(batch.values[1]).toBe(Number.POSITIVE_INFINITY);
    expect(batch.values[2]).toBe(Number.NEGATIVE_INFINITY);
    expect(isStaleMarker(batch.values[3]!)).toBe(true);
    const bits = new BigUint64Array(batch.values.buffer, batch.values.byteOffset, batch.length);
    expect(bits[3]).toBe(0x7ff0000000000002n);
  });

  it('reads timestamps beyond 32 bits, zero and negative ones', () => {
    const { batch } = decoder().decode(
      encodeWriteRequest([
        { labels: { __name__: 't' }, samples: [{ value: 1, timestamp: 0 }, { value: 2, timestamp: -1000 }, { value: 3, timestamp: 4_102_444_800_000 }] },
      ]),
    );
    expect([...batch.timestamps]).toEqual([0, -1000, 4_102_444_800_000]);
  });

  it('treats an empty label value as an absent label, as Prometheus does', () => {
    const { batch } = decoder().decode(encodeWriteRequest([{ labels: [['__name__', 'm'], ['pod', '']], samples: [{ value: 1, timestamp: T0 }] }]));
    expect(batch.series[0]!.labels).toEqual({ __name__: 'm' });
    expect(batch.seriesIds[0]).toBe(seriesId({ __name__: 'm' }));
  });

  it('gives the same series id whatever order labels and samples come in on the wire', () => {
    const Writer = protobuf.Writer;
    const w = Writer.create();
    // TimeSeries with a sample between its two labels.
    const ts = Writer.create();
    ts.uint32(0x0a).fork().uint32(0x0a).string('job').uint32(0x12).string('node').ldelim();
    ts.uint32(0x12).fork().uint32(0x09).double(7).uint32(0x10).int64(T0).ldelim();
    ts.uint32(0x0a).fork().uint32(0x0a).string('__name__').uint32(0x12).string('up').ldelim();
    const tsBytes = ts.finish();
    w.uint32(0x0a).bytes(tsBytes);
    const d = decoder();
    const first = d.decodeWriteRequest(w.finish());
    first.commit();
    expect(first.batch.seriesIds[0]).toBe(seriesId({ __name__: 'up', job: 'node' }));
    expect(first.batch.values[0]).toBe(7);
    const again = d.decodeWriteRequest(Writer.create().uint32(0x0a).bytes(tsBytes).finish());
    expect(again.batch.series).toHaveLength(0);
    expect(again.batch.seriesIds[0]).toBe(seriesId({ __name__: 'up', job: 'node' }));
  });

  it('reads UTF-8 label values beyond ASCII and hashes them to the id core gives', () => {
    const labels = { __name__: 'groesse_bytes', zone: 'Zürich-🌊', job: 'naïve' };
    const { batch } = decoder().decode(encodeWriteRequest([{ labels, samples: [{ value: 1, timestamp: T0 }] }]));
    expect(batch.series[0]!.labels).toEqual(labels);
    expect(batch.seriesIds[0]).toBe(seriesId(labels));
  });

  it('reads a timestamp given as a ten-byte negative varint and refuses one cut short', () => {
    const w = protobuf.Writer.create();
    const ts = protobuf.Writer.create();
    ts.uint32(0x0a).fork().uint32(0x0a).string('__name__').uint32(0x12).string('neg').ldelim();
    ts.uint32(0x12).fork().uint32(0x09).double(1).uint32(0x10).int64(-5).ldelim();
    w.uint32(0x0a).bytes(ts.finish());
    const raw = w.finish();
    expect([...decoder().decodeWriteRequest(raw).batch.timestamps]).toEqual([-5]);
    expectInputError(() => decoder().decodeWriteRequest(raw.subarray(0, raw.length - 2)), 'timeseries[0]', /malformed protobuf/);
  });

  it('skips metadata and fields it does not store', () => {
    const proto = encodeWriteRequestProto([{ labels: { __name__: 'm' }, samples: [{ value: 1, timestamp: T0 }] }]);
    const w = protobuf.Writer.create();
    w.uint32((3 << 3) | 2).fork().uint32(0x08).int32(1).uint32(0x12).string('m').ldelim();
    const withMetadata = Buffer.concat([Buffer.from(w.finish()), Buffer.from(proto)]);
    const { batch } = decoder().decodeWriteRequest(withMetadata);
    expect(batch.length).toBe(1);
  });

  it('decodes a realistic fleet request and matches core seriesId for every series', () => {
    const labels = fleetSeries(500);
    const { batch } = decoder().decode(encodeWriteRequest(labels.map((l, i) => ({ labels: l, samples: [{ value: i, timestamp: T0 }] }))));
    expect(batch.length).toBe(500);
    for (let i = 0; i < 500; i++) expect(batch.seriesIds[i]).toBe(seriesId(labels[i]!));
  });

  describe('bad input rejects the whole request, naming what was wrong', () => {
    const good: WriteSeries = { labels: { __name__: 'ok' }, samples: [{ value: 1, timestamp: T0 }] };

    it('an invalid label name', () => {
      const body = encodeWriteRequest([good, { labels: [['__name__', 'm'], ['1x', 'v']], samples: [{ value: 1, timestamp: T0 }] }]);
      expectInputError(() => decoder().decode(body), 'timeseries[1].labels', /invalid label name "1x"/);
    });

    it('a series without __name__', () => {
      const body = encodeWriteRequest([good, good, { labels: { job: 'x' }, samples: [{ value: 1, timestamp: T0 }] }]);
      expectInputError(() => decoder().decode(body), 'timeseries[2].labels', /no __name__/);
    });

    it('an invalid metric name', () => {
      const body = encodeWriteRequest([{ labels: { __name__: '3m' }, samples: [{ value: 1, timestamp: T0 }] }]);
      expectInputError(() => decoder().decode(body), 'timeseries[0].labels', /invalid metric name "3m"/);
    });

    it('a duplicate label name', () => {
      const body = encodeWriteRequest([{ labels: [['__name__', 'm'], ['a', '1'], ['a', '2']], samples: [{ value: 1, timestamp: T0 }] }]);
      expectInputError(() => decoder().decode(body), 'timeseries[0].labels', /duplicate label name "a"/);
    });

    it('truncated protobuf', () => {
      const proto = encodeWriteRequestProto([good, good]);
      const body = snappy.compressSync(Buffer.from(proto).subarray(0, proto.length - 3));
      expectInputError(() => decoder().decode(body), 'timeseries[1]', /malformed protobuf/);
    });

    it('garbage that is valid snappy but not a WriteRequest', () => {
      const body = snappy.compressSync(Buffer.from([0x0f, 0xff, 0xff, 0xff, 0xff, 0x0f]));
      expectInputError(() => decoder().decode(body), 'body', /malformed protobuf/);
    });

    it('a bad snappy block', () => {
      expectInputError(() => decoder().decode(Buffer.from('definitely not snappy at all')), 'body', /bad snappy block/);
    });

    it('a snappy block announcing more than the decoded-size limit, before decompressing it', () => {
      const body = encodeWriteRequest([good, good, good]);
      const d = new RemoteWriteDecoder({ tenant: 'acme', maxDecodedBytes: 64 });
      expectInputError(() => d.decode(body), 'body', /expands to \d+ bytes, more than the 64 accepted/);
      expect(new RemoteWriteDecoder({ tenant: 'acme', maxDecodedBytes: 4096 }).decode(body).batch.length).toBe(3);
    });

    it('an empty body', () => {
      expectInputError(() => decoder().decode(Buffer.alloc(0)), 'body', /empty body/);
    });

    it('does not remember series of a rejected request', () => {
      const d = decoder();
      const body = encodeWriteRequest([good, { labels: { job: 'x' }, samples: [{ value: 1, timestamp: T0 }] }]);
      expect(() => d.decode(body)).toThrow(InputError);
      expect(d.knownSeries).toBe(0);
      expect(d.decode(encodeWriteRequest([good])).batch.series).toHaveLength(1);
    });
  });
});

describe('LabelSectionCache', () => {
  it('is bounded: the older generation is dropped whole, entries in use are promoted', () => {
    const cache = new LabelSectionCache(4);
    cache.set(1, 1, 10, 1n);
    cache.set(2, 2, 10, 2n);
    cache.set(3, 3, 10, 3n); // generation change: {1,2} become the older one
    expect(cache.get(1, 1, 10)).toBe(1n); // promoted into the newer generation
    cache.set(4, 4, 10, 4n); // generation change: {3,1} older, {2} dropped
    expect(cache.get(2, 2, 10)).toBeUndefined();
    expect(cache.get(1, 1, 10)).toBe(1n);
    expect(cache.size).toBeLessThanOrEqual(4);
  });

  it('tells apart entries whose first hash half collides', () => {
    const cache = new LabelSectionCache(100);
    cache.set(7, 1, 10, 1n);
    cache.set(7, 2, 10, 2n);
    cache.set(7, 2, 11, 3n);
    expect(cache.get(7, 1, 10)).toBe(1n);
    expect(cache.get(7, 2, 10)).toBe(2n);
    expect(cache.get(7, 2, 11)).toBe(3n);
    expect(cache.get(7, 3, 10)).toBeUndefined();
  });

  it('a decoder with a small cache defines evicted series again', () => {
    const d = decoder(4);
    const bodies = fleetSeries(10).map((labels) => encodeWriteRequest([{ labels, samples: [{ value: 1, timestamp: T0 }] }]));
    for (const b of bodies) d.decode(b).commit();
    expect(d.knownSeries).toBeLessThanOrEqual(4);
    expect(d.decode(bodies[0]!).batch.series).toHaveLength(1);
    expect(d.decode(bodies[9]!).batch.series).toHaveLength(0);
  });
});

describe('LabelHasher', () => {
  it('hashes the same bytes alike wherever they sit, and different bytes apart', async () => {
    const { LabelHasher } = await import('./label-hash.ts');
    const h = new LabelHasher();
    const text = Buffer.from('__name__ node_cpu_seconds_total cpu 0 mode idle job node instance a:9100');
    h.load(Buffer.concat([Buffer.from('ab'), text]));
    const a = [h.hash(2, 2 + text.length), h.check];
    h.load(Buffer.concat([Buffer.from('abcdefg'), text, Buffer.from('zz')]));
    expect([h.hash(7, 7 + text.length), h.check]).toEqual(a);
    expect([h.hash(7, 6 + text.length), h.check]).not.toEqual(a);
    const seen = new Set<string>();
    const labels = fleetSeries(2000).map((l) => Buffer.from(JSON.stringify(l)));
    h.load(Buffer.concat(labels));
    let offset = 0;
    for (const l of labels) {
      seen.add(`${h.hash(offset, offset + l.length)}/${h.check}`);
      offset += l.length;
    }
    expect(seen.size).toBe(new Set(labels.map((l) => l.toString())).size);
  });

  it('grows its memory for large requests', async () => {
    const { LabelHasher } = await import('./label-hash.ts');
    const h = new LabelHasher();
    const big = Buffer.alloc(300_000, 7);
    big.write('marker', 250_000);
    h.load(big);
    const x = h.hash(249_990, 250_020);
    big.write('MARKER', 250_000);
    h.load(big);
    expect(h.hash(249_990, 250_020)).not.toBe(x);
  });
});
