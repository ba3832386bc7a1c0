// The synthetic fleet loads shared by the ingest, peers and kafka benchmarks:
// 1,000 nodes and 30,000 containers with node_exporter and cAdvisor label
// sets, as remote_write requests (2,000 samples each, like Prometheus'
// max_samples_per_send), or cAdvisor-only series in larger requests (peers),
// pre-encoded so sending costs no encoding work; and the senders.
import http from 'node:http';
import { containerSeries, nodeSeries } from '../collector/synthetic-fleet.ts';
import protobuf from 'protobufjs/minimal.js';
import snappy from 'snappy';
import type { Labels } from '../core/bus/samples.ts';

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
  const rounds = encodeRounds(sets, o.rounds, o.intervalSeconds, o.samplesPerRequest, endMs);
  return { ...rounds, bodies: rounds.roundBodies.flat() };
}

/** `series` distinct cAdvisor-like series: per container its four cAdvisor metrics (cpu, memory, network receive, …). */
export function cadvisorLabelSets(series: number): Labels[] {
  const out: Labels[] = [];
  for (let i = 0; i < series; i++) out.push(containerSeries(i >> 2, i & 3));
  return out;
}

export interface RoundLoad extends Omit<FleetLoad, 'bodies'> {
  /** Per round (scrape), its requests: request k of every round carries the same series, as one remote_write shard would. */
  roundBodies: Buffer[][];
}

/**
 * Pre-encoded remote_write requests: `rounds` samples of every series,
 * `intervalSeconds` apart and ending before `endMs`, `samplesPerRequest`
 * series a request.
 */
export function encodeRounds(sets: readonly Labels[], rounds: number, intervalSeconds: number, samplesPerRequest: number, endMs = Date.now()): RoundLoad {
  // Each series' Label messages are encoded once; a round only adds its Sample (protobufjs' Writer does the framing).
  const encodedLabels = sets.map((l) =>
    Object.entries(l)
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
      .map(([name, value]) => protobuf.Writer.create().uint32(10).string(name).uint32(18).string(value).finish()),
  );
  const roundBodies: Buffer[][] = [];
  const first = Math.floor(endMs / 1000 - rounds * intervalSeconds) * 1000;
  for (let r = 0; r < rounds; r++) {
    const ts = first + r * intervalSeconds * 1000;
    const bodies: Buffer[] = [];
    for (let i = 0; i < sets.length; i += samplesPerRequest) {
      const w = protobuf.Writer.create();
      const end = Math.min(i + samplesPerRequest, sets.length);
      for (let j = i; j < end; j++) {
        w.uint32(10).fork(); // WriteRequest.timeseries
        for (const label of encodedLabels[j]!) w.uint32(10).bytes(label); // TimeSeries.labels
        // Counters grow, gauges wobble: values change between rounds as real ones do.
        w.uint32(18).fork().uint32(9).double((r + 1) * 1000 + (j % 977)).uint32(16).int64(ts).ldelim(); // TimeSeries.samples
        w.ldelim();
      }
      bodies.push(snappy.compressSync(Buffer.from(w.finish())));
    }
    roundBodies.push(bodies);
  }
  return {
    series: sets.length,
    samples: sets.length * rounds,
    roundBodies,
    firstTimestampMs: first,
    lastTimestampMs: first + (rounds - 1) * intervalSeconds * 1000,
    metrics: [...new Set(sets.map((s) => s['__name__']!))].sort(),
  };
}

export interface SendResult {
  seconds: number;
  requests: number;
  failures: number;
  statuses: Record<number, number>;
}

/** A keep-alive remote_write poster to `url`; `post(body)` resolves to the HTTP status (0: no answer). */
export function remoteWritePoster(url: string, connections: number): { post(body: Buffer): Promise<number>; close(): void } {
  const agent = new http.Agent({ keepAlive: true, maxSockets: connections });
  const target = new URL(url);
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
  return { post, close: () => agent.destroy() };
}

/**
 * Posts one body until it is accepted, as Prometheus does: 2xx done, other
 * 4xx (not 429) dropped as a failure, 429/5xx/no answer retried with backoff
 * (bounded: 50 tries). Every status seen is counted in `statuses`.
 */
export async function postUntilAccepted(post: (body: Buffer) => Promise<number>, body: Buffer, statuses: Record<number, number>): Promise<boolean> {
  for (let attempt = 0; attempt < 50; attempt++) {
    const status = await post(body);
    statuses[status] = (statuses[status] ?? 0) + 1;
    if (status >= 200 && status < 300) return true;
    if (status >= 400 && status < 500 && status !== 429) return false;
    await new Promise((r) => setTimeout(r, 50 * Math.min(attempt + 1, 10)));
  }
  return false;
}

/**
 * Sends every body to `url` with `concurrency` keep-alive connections,
 * retrying 429/5xx answers as Prometheus does (bounded: 50 tries a body).
 * `progress.accepted` counts the bodies answered 2xx so far, for a caller
 * that acts mid-stream.
 */
export async function sendAll(url: string, bodies: readonly Buffer[], concurrency = 8, deadlineMs = 600_000, progress?: { accepted: number }): Promise<SendResult> {
  const { post, close } = remoteWritePoster(url, concurrency);
  const statuses: Record<number, number> = {};
  let next = 0;
  let failures = 0;
  const started = performance.now();
  const worker = async () => {
    while (next < bodies.length && performance.now() - started < deadlineMs) {
      const body = bodies[next++]!;
      if (await postUntilAccepted(post, body, statuses)) {
        if (progress) progress.accepted++;
      } else failures++;
    }
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
  close();
  return { seconds: (performance.now() - started) / 1000, requests: bodies.length, failures, statuses };
}

/**
 * Sends rounds as Prometheus' remote_write does with `shards` shards: each
 * series belongs to one shard (request k of every round to shard k mod
 * shards), a shard sends its requests one at a time in round order, so a
 * series' samples arrive in time order, and the shards run concurrently.
 */
export async function sendSharded(url: string, roundBodies: readonly (readonly Buffer[])[], shards: number, deadlineMs = 600_000): Promise<SendResult> {
  const { post, close } = remoteWritePoster(url, shards);
  const statuses: Record<number, number> = {};
  let failures = 0;
  let requests = 0;
  const started = performance.now();
  const shard = async (s: number) => {
    for (const bodies of roundBodies) {
      for (let k = s; k < bodies.length; k += shards) {
        if (performance.now() - started > deadlineMs) return;
        requests++;
        if (!(await postUntilAccepted(post, bodies[k]!, statuses))) failures++;
      }
    }
  };
  await Promise.all(Array.from({ length: shards }, (_, s) => shard(s)));
  close();
  return { seconds: (performance.now() - started) / 1000, requests, failures, statuses };
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
