// Decode throughput of the remote_write receiver's decoder alone: snappy
// block decompress + WriteRequest decode into a SampleBatch, for a realistic
// request (1,000 series x 1 sample, node_exporter- and cAdvisor-like labels),
// once with every series new to the decoder and then with known series.
import { RemoteWriteDecoder } from '../collector/remote-write.ts';
import { encodeWriteRequest } from '../collector/remote-write-encode.ts';
import { fleetSeries } from '../collector/synthetic-fleet.ts';

const SERIES = Number(process.env['BENCH_SERIES'] ?? 1000);
const REQUESTS = Number(process.env['BENCH_REQUESTS'] ?? 3000);

const labels = fleetSeries(SERIES);
const bodies: Buffer[] = [];
const start = Date.parse('2026-01-01T00:00:00Z');
for (let r = 0; r < 16; r++) {
  // Series in a different order in each request, as Prometheus' shards send them, so label sections move.
  const order = labels.map((_, i) => labels[(i * 7 + r * 131) % labels.length]!);
  bodies.push(encodeWriteRequest(order.map((l, i) => ({ labels: l, samples: [{ value: i * 1.5 + r, timestamp: start + r * 15_000 + (i % 3) }] }))));
}

/** Samples per wall-clock second and per CPU second (the latter holds up better on a shared machine). */
function run(decoder: RemoteWriteDecoder, requests: number): { wall: number; cpu: number } {
  let samples = 0;
  const cpu0 = process.cpuUsage();
  const t0 = process.hrtime.bigint();
  for (let r = 0; r < requests; r++) {
    const decoded = decoder.decode(bodies[r % bodies.length]!);
    decoded.commit();
    samples += decoded.batch.length;
  }
  const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
  const cpu = process.cpuUsage(cpu0);
  return { wall: samples / seconds, cpu: samples / ((cpu.user + cpu.system) / 1e6) };
}

// New series every request: a fresh decoder each time defines all 1,000.
let coldSamples = 0;
const coldT0 = process.hrtime.bigint();
for (let r = 0; r < 50; r++) coldSamples += new RemoteWriteDecoder({ tenant: 'default' }).decode(bodies[r % bodies.length]!).batch.length;
const coldRate = coldSamples / (Number(process.hrtime.bigint() - coldT0) / 1e9);

const decoder = new RemoteWriteDecoder({ tenant: 'default' });
run(decoder, 200); // warm-up
const known = run(decoder, REQUESTS);
const bytes = bodies[0]!.length;
console.log(
  `request: ${SERIES} series, ${bytes} bytes snappy; new series ${Math.round(coldRate)} samples/s; known series ${Math.round(known.wall)} samples/s (${Math.round(known.cpu)} per CPU second)`,
);
console.log(
  JSON.stringify({
    bench: 'remote-write-decode',
    samples_per_s: Math.round(known.wall),
    samples_per_cpu_s: Math.round(known.cpu),
    new_series_samples_per_s: Math.round(coldRate),
    request_bytes: bytes,
    series_per_request: SERIES,
  }),
);
