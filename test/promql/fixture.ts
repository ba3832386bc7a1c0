// The agreement test's data: four hours of scrapes at 15 s (with per-target
// jitter) for several jobs and instances: counters with resets, gauges
// (negative, NaN and Inf values too), classic histograms, a gap, and series
// that go stale (real staleness markers) and come back. Deterministic for
// a given start time; written in time order so Prometheus' head accepts it.
import type { WriteSeries } from '../../collector/remote-write-encode.ts';
import { staleMarker } from '../../core/bus/samples.ts';

export const SCRAPE_MS = 15_000;
export const HOURS = 4;

type Labels = Record<string, string>;

interface FixtureSeries {
  labels: Labels;
  /** The value at scrape i (null: no sample; 'stale': a staleness marker). */
  value(i: number): number | null | 'stale';
  jitterMs: number;
}

function counter(labels: Labels, rate: number, resetEvery: number | null, jitterMs: number, start = 0): FixtureSeries {
  return {
    labels,
    jitterMs,
    value(i) {
      const since = resetEvery ? i % resetEvery : i;
      // A slightly uneven increase, so rates are not constant.
      return start + since * rate + Math.floor(since / 3) * 0.5 + (since % 7) * 0.25;
    },
  };
}

function gauge(labels: Labels, f: (i: number) => number | null | 'stale', jitterMs: number): FixtureSeries {
  return { labels, jitterMs, value: f };
}

export function fixtureSeries(): FixtureSeries[] {
  const out: FixtureSeries[] = [];
  const jobs = ['api', 'web'];
  const instances = ['i1', 'i2', 'i3'];
  let target = 0;
  for (const job of jobs) {
    for (const instance of instances) {
      // A constant per target: the value functions below close over it.
      const j = ++target;
      const jitter = j * 137;
      for (const method of ['get', 'post']) {
        out.push(counter({ __name__: 'http_requests_total', job, instance, method }, method === 'get' ? 3 + j : 1 + j / 2, instance === 'i2' ? 200 : null, jitter));
      }
      out.push(counter({ __name__: 'http_errors_total', job, instance }, 0.1 * j, null, jitter));
      out.push(gauge({ __name__: 'memory_usage_bytes', job, instance }, (i) => (instance === 'i3' && i >= 300 && i < 340 ? null : 1e8 + j * 1e7 + Math.round(Math.sin(i / 20 + j) * 5e6)), jitter));
      out.push(gauge({ __name__: 'up', job, instance }, (i) => (instance === 'i1' && job === 'web' && i >= 500 && i < 520 ? 0 : 1), jitter));
      out.push(gauge({ __name__: 'cpu_temperature_celsius', job, instance }, (i) => Math.round((40 + 10 * Math.sin(i / 30 + j) - (j === 4 ? 60 : 0)) * 100) / 100, jitter));
      // A classic histogram: cumulative buckets growing at different speeds, with a reset on i2.
      const bounds = ['0.05', '0.1', '0.25', '0.5', '1', '2.5', '+Inf'];
      bounds.forEach((le, b) => {
        out.push(counter({ __name__: 'request_duration_seconds_bucket', job, instance, le }, (b + 1) * (1 + j / 3), instance === 'i2' ? 250 : null, jitter));
      });
      out.push(counter({ __name__: 'request_duration_seconds_count', job, instance }, 7 * (1 + j / 3), instance === 'i2' ? 250 : null, jitter));
      out.push(counter({ __name__: 'request_duration_seconds_sum', job, instance }, 2.5 * (1 + j / 3), instance === 'i2' ? 250 : null, jitter));
    }
  }
  // Node CPU counters: two nodes, two CPUs, three modes.
  for (const node of ['n1', 'n2']) {
    for (const cpu of ['0', '1']) {
      for (const mode of ['idle', 'user', 'system']) {
        const rate = mode === 'idle' ? 12 : mode === 'user' ? 2.5 : 0.5;
        out.push(counter({ __name__: 'node_cpu_seconds_total', node, cpu, mode, instance: `${node}:9100`, job: 'node' }, rate + Number(cpu) * 0.3, null, node === 'n1' ? 50 : 950, 1000));
      }
    }
  }
  // A target that goes away (staleness markers) and comes back.
  out.push(gauge({ __name__: 'batch_jobs_running', job: 'batch', instance: 'b1' }, (i) => (i >= 400 && i < 480 ? (i === 400 ? 'stale' : null) : 3 + (i % 5)), 300));
  out.push(counter({ __name__: 'batch_processed_total', job: 'batch', instance: 'b1' }, 4, null, 300));
  const processed = out[out.length - 1]!;
  const baseValue = processed.value;
  processed.value = (i) => (i >= 400 && i < 480 ? (i === 400 ? 'stale' : null) : (baseValue(i) as number));
  // Odd values: NaN and infinities among ordinary ones.
  out.push(gauge({ __name__: 'odd_values', kind: 'nan' }, (i) => (i % 10 === 3 ? NaN : i % 13), 700));
  out.push(gauge({ __name__: 'odd_values', kind: 'inf' }, (i) => (i % 17 === 5 ? Infinity : i % 17 === 11 ? -Infinity : -i / 4), 700));
  out.push(gauge({ __name__: 'odd_values', kind: 'big' }, (i) => 1e21 * (1 + (i % 3)) + (i % 2 ? 1e-7 : 0), 700));
  out.push(gauge({ __name__: 'odd_values', kind: 'small' }, (i) => 1e-7 * (i % 9) - 3e-8, 700));
  // A sparse series (one sample a minute) and one that starts late.
  out.push(gauge({ __name__: 'sparse_gauge', job: 'api' }, (i) => (i % 4 === 0 ? i / 4 : null), 0));
  out.push(gauge({ __name__: 'late_start_total', job: 'api' }, (i) => (i >= 600 ? (i - 600) * 2 : null), 0));
  // Same labels but the name: for collisions once __name__ is dropped.
  out.push(gauge({ __name__: 'twin_a', job: 'twin' }, (i) => i, 0));
  out.push(gauge({ __name__: 'twin_b', job: 'twin' }, (i) => 2 * i, 0));
  // Label values to exercise label_replace/label_join and regex matchers.
  out.push(gauge({ __name__: 'service_info', service: 'checkout-eu-1', team: 'pay', version: 'v1.2.3' }, () => 1, 0));
  out.push(gauge({ __name__: 'service_info', service: 'search-us-2', team: 'find', version: 'v2.0.0' }, () => 1, 0));
  return out;
}

/** The remote-write requests, oldest first: each holds every series' samples of `sliceMs`. */
export function fixtureWrites(t0: number, sliceMs = 10 * 60_000): WriteSeries[][] {
  const series = fixtureSeries();
  const scrapes = (HOURS * 3_600_000) / SCRAPE_MS;
  const requests: WriteSeries[][] = [];
  for (let from = 0; from < scrapes * SCRAPE_MS; from += sliceMs) {
    const request: WriteSeries[] = [];
    for (const s of series) {
      const samples = [];
      for (let i = Math.ceil(from / SCRAPE_MS); i * SCRAPE_MS < from + sliceMs && i < scrapes; i++) {
        const v = s.value(i);
        if (v === null) continue;
        samples.push({ timestamp: t0 + i * SCRAPE_MS + s.jitterMs, value: v === 'stale' ? staleMarker() : v });
      }
      if (samples.length > 0) request.push({ labels: s.labels, samples });
    }
    requests.push(request);
  }
  return requests;
}
