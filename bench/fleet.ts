// The synthetic fleet load shared by the ingest, peers and kafka benchmarks:
// 1,000 nodes and 30,000 containers with node_exporter and cAdvisor label
// sets, as remote_write requests (2,000 samples each, like Prometheus'
// max_samples_per_send), pre-encoded so sending costs no encoding work.
import http from 'node:http';
import { containerSeries, nodeSeries } from '../collector/synthetic-fleet.ts';
import protobuf from 'protobufjs/minimal.js';
import snappy from 'snappy';
import type { Labels } from '../core/samples.ts';

export interface FleetOptions {
  nodes: number;
  containers: number;
  rounds: number;
  /** Seconds between rounds, as a scrape interval. */
  intervalSeconds: number;
  samplesPerRequest: number;
}

export const DEFAULT_FLEET: FleetOptions = { nodes: 1000, containers: 30_000, rounds: 20, intervalSeconds: 15, samplesPerRequest: 2000 };

/** Distinct label sets of the fleet: per node its cpu/mode, memory, network, filesystem and load series; per container its four cAdvisor series. */
export function fleetLabelSets(o: FleetOptions): Labels[] {
  const seen = new Set<string>();
  const out: Labels[] = [];
  const add = (l: Labels) => {
    const key = JSON.stringify(Object.entries(l).sort());
    if (seen.has(key)) return;
    seen.add(key);
    out.push(l);
  };
  for (let n = 0; n < o.nodes; n++) for (let v = 0; v < 80; v++) add(nodeSeries(n, v));
  for (let c = 0; c < o.containers; c++) for (let v = 0; v < 4; v++) add(containerSeries(c, v));
  return out;
}

export interface FleetLoad {
  series: number;
  samples: number;
  /** Snappy-compressed WriteRequest bodies, in sending order (round by round). */
  bodies: Buffer[];
  firstTimestampMs: number;
  lastTimestampMs: number;
  metrics: string[];
}

export function buildFleetLoad(o: FleetOptions = DEFAULT_FLEET, endMs = Date.now()): FleetLoad {
  const sets = fleetLabelSets(o);
  // Each series' Label messages are encoded once; a round only adds its Sample (protobufjs' Writer does the framing).
  const encodedLabels = sets.map((l) =>
    Object.entries(l)
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
      .map(([name, value]) => protobuf.Writer.create().uint32(10).string(name).uint32(18).string(value).finish()),
  );
  const bodies: Buffer[] = [];
  const first = Math.floor(endMs / 1000 - o.rounds * o.intervalSeconds) * 1000;
  for (let r = 0; r < o.rounds; r++) {
    const ts = first + r * o.intervalSeconds * 1000;
    for (let i = 0; i < sets.length; i += o.samplesPerRequest) {
      const w = protobuf.Writer.create();
      const end = Math.min(i + o.samplesPerRequest, sets.length);
      for (let j = i; j < end; j++) {
        w.uint32(10).fork(); // WriteRequest.timeseries
        for (const label of encodedLabels[j]!) w.uint32(10).bytes(label); // TimeSeries.labels
        // Counters grow, gauges wobble: values change between rounds as real ones do.
        w.uint32(18).fork().uint32(9).double((r + 1) * 1000 + (j % 977)).uint32(16).int64(ts).ldelim(); // TimeSeries.samples
        w.ldelim();
      }
      bodies.push(snappy.compressSync(Buffer.from(w.finish())));
    }
  }
  return {
    series: sets.length,
    samples: sets.length * o.rounds,
    bodies,
    firstTimestampMs: first,
    lastTimestampMs: first + (o.rounds - 1) * o.intervalSeconds * 1000,
    metrics: [...new Set(sets.map((s) => s['__name__']!))].sort(),
  };
}

export interface SendResult {
  seconds: number;
  requests: number;
  failures: number;
  statuses: Record<number, number>;
}

/**
 * Sends every body to `url` with `concurrency` keep-alive connections,
 * retrying 429/5xx answers as Prometheus does (bounded: 50 tries a body).
 */
export async function sendAll(url: string, bodies: readonly Buffer[], concurrency = 8, deadlineMs = 600_000): Promise<SendResult> {
  const agent = new http.Agent({ keepAlive: true, maxSockets: concurrency });
  const target = new URL(url);
  const statuses: Record<number, number> = {};
  let next = 0;
  let failures = 0;
  const started = performance.now();
  const post = (body: Buffer) =>
    new Promise<number>((resolve) => {
      const req = http.request(
        {
          agent,
          host: target.hostname,
          port: target.port,
          path: target.pathname,
          method: 'POST',
          headers: {
            'Content-Type': 'application/x-protobuf',
            'Content-Encoding': 'snappy',
            'X-Prometheus-Remote-Write-Version': '0.1.0',
            'Content-Length': body.length,
          },
        },
        (res) => {
          res.resume();
          res.on('end', () => resolve(res.statusCode ?? 0));
        },
      );
      req.on('error', () => resolve(0));
      req.end(body);
    });
  const worker = async () => {
    while (next < bodies.length && performance.now() - started < deadlineMs) {
      const body = bodies[next++]!;
      for (let attempt = 0; attempt < 50; attempt++) {
        const status = await post(body);
        statuses[status] = (statuses[status] ?? 0) + 1;
        if (status >= 200 && status < 300) break;
        if (status >= 400 && status < 500 && status !== 429) {
          failures++;
          break;
        }
        await new Promise((r) => setTimeout(r, 50 * Math.min(attempt + 1, 10)));
        if (attempt === 49) failures++;
      }
    }
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
  agent.destroy();
  return { seconds: (performance.now() - started) / 1000, requests: bodies.length, failures, statuses };
}

/** Polls `count` until it reaches `expected` or the deadline passes; returns the last count and when it was reached. */
export async function waitForCount(count: () => Promise<number>, expected: number, deadlineMs: number, pollMs = 250): Promise<{ count: number; atMs: number }> {
  const end = performance.now() + deadlineMs;
  let last = 0;
  while (performance.now() < end) {
    try {
      last = await count();
    } catch {
      // The peer may not answer while it is busy ingesting; try again.
    }
    if (last >= expected) return { count: last, atMs: performance.now() };
    await new Promise((r) => setTimeout(r, pollMs));
  }
  return { count: last, atMs: performance.now() };
}

/** Peak resident memory (VmHWM) of a process, in MiB. */
export async function peakRssMb(pid: number): Promise<number> {
  const { readFile } = await import('node:fs/promises');
  const status = await readFile(`/proc/${pid}/status`, 'utf8');
  const m = /VmHWM:\s+(\d+) kB/.exec(status);
  return m ? Number(m[1]) / 1024 : NaN;
}
