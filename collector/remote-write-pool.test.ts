import { afterEach, describe, expect, it } from 'vitest';
import { InputError } from '../core/errors.ts';
import { seriesId } from '../metrics/series.ts';
import { createRemoteWriteDecoding, DecodingUnavailable, type RemoteWriteDecoding } from './remote-write-pool.ts';
import { encodeWriteRequest, type WriteSeries } from './remote-write-encode.ts';
import { fleetSeries } from './synthetic-fleet.ts';

const T0 = Date.parse('2026-03-01T00:00:00Z');
const bounds = { minMs: T0 - 86_400_000, maxMs: T0 + 86_400_000 };

let decoding: RemoteWriteDecoding | undefined;
afterEach(async () => {
  await decoding?.close();
  decoding = undefined;
});

const series: WriteSeries[] = fleetSeries(300).map((labels, i) => ({ labels, samples: [{ value: i / 4, timestamp: T0 + i }, { value: -i, timestamp: T0 + 15_000 + i }] }));
const settle = () => new Promise((r) => setTimeout(r, 100));

describe.each([0, 2])('remote_write decoding with %i worker threads', (workers) => {
  it('gives the batch the main thread would, with the seconds it took', async () => {
    decoding = createRemoteWriteDecoding({ workers });
    expect(decoding.workers).toBe(workers);
    const r = await decoding.decode('acme', encodeWriteRequest(series), bounds);
    expect(r.error).toBeUndefined();
    const batch = r.batch!;
    expect(batch.tenant).toBe('acme');
    expect(batch.length).toBe(600);
    // The fleet repeats some label sets: each is defined once.
    expect(batch.series).toHaveLength(new Set(series.map((s) => seriesId(s.labels as Record<string, string>))).size);
    for (let i = 0; i < 300; i++) {
      expect(batch.seriesIds[2 * i]).toBe(seriesId(series[i]!.labels as Record<string, string>));
      expect(batch.seriesIds[2 * i + 1]).toBe(batch.seriesIds[2 * i]);
      expect([batch.timestamps[2 * i], batch.values[2 * i]]).toEqual([T0 + i, i / 4]);
      expect([batch.timestamps[2 * i + 1], batch.values[2 * i + 1]]).toEqual([T0 + 15_000 + i, -i]);
    }
    expect(batch.series[7]).toEqual({ id: seriesId(series[7]!.labels as Record<string, string>), labels: series[7]!.labels });
    expect(r.decodeSeconds).toBeGreaterThan(0);
    expect(r.resolveSeconds).toBeGreaterThan(0);
  });

  it('defines a series once it is committed, on whichever worker the next request lands, and again when it was not', async () => {
    decoding = createRemoteWriteDecoding({ workers });
    await decoding.started();
    const body = () => encodeWriteRequest(series.slice(0, 10));
    const first = await decoding.decode('acme', body());
    expect(first.batch!.series).toHaveLength(10);
    // Not committed (the bus refused it): defined again.
    const second = await decoding.decode('acme', body());
    expect(second.batch!.series).toHaveLength(10);
    second.commit();
    await settle();
    // Several at once, so that every worker takes some.
    const later = await Promise.all(Array.from({ length: 6 }, () => decoding!.decode('acme', body())));
    for (const r of later) expect(r.batch!.series).toHaveLength(0);
    // Another tenant defines its own.
    expect((await decoding.decode('other', body())).batch!.series).toHaveLength(10);
  });

  it('refuses bad input with the InputError naming the field, as on the main thread', async () => {
    decoding = createRemoteWriteDecoding({ workers });
    const bad = await decoding.decode('acme', encodeWriteRequest([series[0]!, { labels: [['__name__', 'm'], ['1x', 'v']], samples: [{ value: 1, timestamp: T0 }] }]));
    expect(bad.batch).toBeUndefined();
    expect(bad.error).toBeInstanceOf(InputError);
    expect(bad.error!.field).toBe('timeseries[1].labels');
    expect(bad.error!.message).toBe('timeseries[1].labels: invalid label name "1x"');
    const late = await decoding.decode('acme', encodeWriteRequest([{ labels: { __name__: 'x' }, samples: [{ value: 1, timestamp: T0 + 3 * 86_400_000 }] }]), bounds);
    expect(late.error!.field).toBe('timeseries[0].samples[0].timestamp');
    const snappy = await decoding.decode('acme', Buffer.from('not snappy'));
    expect([snappy.error!.field, snappy.error!.code]).toEqual(['body', 'invalid_input']);
    const huge = Buffer.from([0xff, 0xff, 0xff, 0xff, 0x0f]);
    expect((await decoding.decode('acme', huge)).error!.code).toBe('body_too_large');
    // Still decoding after refusals.
    expect((await decoding.decode('acme', encodeWriteRequest(series.slice(0, 1)))).batch!.length).toBe(2);
  });
});

describe('a pool of worker threads', () => {
  it('takes a body that owns its buffer by transfer, and copies a slice of a shared one', async () => {
    decoding = createRemoteWriteDecoding({ workers: 1 });
    const encoded = encodeWriteRequest(series.slice(0, 5));
    const own = Buffer.from(new Uint8Array(encoded).buffer);
    expect((await decoding.decode('acme', own)).batch!.length).toBe(10);
    expect(own.buffer.byteLength).toBe(0); // detached: moved, not copied
    const shared = Buffer.alloc(encoded.length + 16);
    encoded.copy(shared, 8);
    const slice = shared.subarray(8, 8 + encoded.length);
    expect((await decoding.decode('acme', slice)).batch!.length).toBe(10);
    expect(shared.buffer.byteLength).toBe(encoded.length + 16);
    expect(slice.equals(encoded)).toBe(true);
  });

  it('fails what a dying worker held as unavailable (not the sender\'s fault), and starts it again', async () => {
    decoding = createRemoteWriteDecoding({ workers: 1 });
    const body = () => encodeWriteRequest(series.slice(0, 5));
    expect((await decoding.decode('acme', body())).batch!.length).toBe(10);
    const thread = (decoding as unknown as { threads: { worker: { terminate(): Promise<number> } }[] }).threads[0]!;
    const held = decoding.decode('acme', body());
    void thread.worker.terminate();
    await expect(held).rejects.toBeInstanceOf(DecodingUnavailable);
    await expect(decoding.decode('acme', body())).rejects.toBeInstanceOf(DecodingUnavailable);
    let again: number | undefined;
    for (let i = 0; i < 100 && again === undefined; i++) {
      await new Promise((r) => setTimeout(r, 100));
      again = await decoding.decode('acme', body()).then((r) => r.batch!.length, () => undefined);
    }
    expect(again).toBe(10);
  });

  it('spreads concurrent requests over its workers and stops when closed', async () => {
    decoding = createRemoteWriteDecoding({ workers: 2 });
    const bodies = Array.from({ length: 8 }, (_, k) => encodeWriteRequest(series.slice(k * 30, k * 30 + 30)));
    const results = await Promise.all(bodies.map((b) => decoding!.decode('acme', b)));
    expect(results.reduce((n, r) => n + r.batch!.length, 0)).toBe(480);
    await decoding.close();
    await expect(decoding.decode('acme', bodies[0]!)).rejects.toThrow();
    decoding = undefined;
  });
});
