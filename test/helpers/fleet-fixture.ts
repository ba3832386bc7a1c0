// A Kubernetes fleet's metrics as the dashboards read them, for the
// dashboard test and bench:promql: node_exporter (CPU, memory, network,
// filesystem, load), cAdvisor (container CPU, memory, network),
// kube-state-metrics (nodes, pods and their phases and restarts,
// deployments, HPAs), the API server's `up` (the SLA's availability) and
// Tidemark's own self-metrics as a self-scrape stores them. Every value is
// computed here, so Tidemark, Prometheus and VictoriaMetrics are loaded with
// the very same numbers: into Tidemark's store directly (Native blocks),
// into Prometheus as OpenMetrics text for `promtool tsdb
// create-blocks-from openmetrics`, into VictoriaMetrics as JSON lines for
// its /api/v1/import.
import type { Store } from '../../core/store.ts';
import { seriesId } from '../../metrics/series.ts';
import { insertSeries } from '../../metrics/sample-writes.ts';
import { announce, minutesOf, rollUp } from '../../metrics/rollups.ts';

export interface FleetOptions {
  readonly clusters: readonly string[];
  /** Nodes per cluster. */
  readonly nodes: number;
  readonly podsPerNode?: number;
  /** Unix seconds, first and last sample time (inclusive). */
  readonly startS: number;
  readonly endS: number;
  readonly intervalS: number;
}

export interface FixtureSeries {
  readonly labels: Record<string, string>;
  /** The value at sample i (time startS + i * intervalS). */
  value(i: number): number;
}

export interface Fleet {
  readonly options: FleetOptions;
  readonly series: FixtureSeries[];
  /** Samples per series. */
  readonly points: number;
  /** Values the dashboards' template variables take, for the test: a cluster, namespace, workload and node with data. */
  readonly example: { cluster: string; namespace: string; workload: string; node: string };
}

/** Small deterministic noise in [0, 1) from integers (no Math.random: the fixture must be the same everywhere). */
function noise(a: number, b: number): number {
  const x = Math.sin(a * 12.9898 + b * 78.233) * 43758.5453;
  return x - Math.floor(x);
}

const counter = (perStep: (i: number) => number, resetEvery = 0) => {
  // A running total; restarts from 0 every `resetEvery` samples when set (a restarted process).
  const totals: number[] = [];
  return (i: number) => {
    for (let k = totals.length; k <= i; k++) totals.push((resetEvery > 0 && k % resetEvery === 0 && k > 0 ? 0 : (totals[k - 1] ?? 0)) + perStep(k));
    return totals[i]!;
  };
};

export function fleetFixture(options: FleetOptions): Fleet {
  const { clusters, nodes, intervalS } = options;
  const podsPerNode = options.podsPerNode ?? 2;
  const points = Math.floor((options.endS - options.startS) / intervalS) + 1;
  const series: FixtureSeries[] = [];
  const add = (labels: Record<string, string>, value: (i: number) => number) => series.push({ labels, value });
  const deployments = Math.max(1, Math.min(24, nodes));
  const namespaces = Math.max(1, Math.min(6, deployments));
  const deploymentOf = (d: number) => ({ namespace: `team-${d % namespaces}`, deployment: `web-${d}` });

  for (const [c, cluster] of clusters.entries()) {
    const ksm = { job: 'kube-state-metrics', instance: '10.96.0.20:8080', cluster };
    for (let n = 0; n < nodes; n++) {
      const node = `node-${n}`;
      const base = { job: 'node-exporter', instance: `10.${c}.${n >> 8}.${n & 255}:9100`, node, cluster };
      const busy = 0.2 + 0.6 * noise(c, n);
      for (const cpu of ['0', '1']) {
        add({ __name__: 'node_cpu_seconds_total', ...base, cpu, mode: 'idle' }, counter((i) => intervalS * (1 - busy * (0.8 + 0.2 * noise(n, i)))));
        add({ __name__: 'node_cpu_seconds_total', ...base, cpu, mode: 'user' }, counter((i) => intervalS * busy * 0.7 * (0.8 + 0.2 * noise(n, i))));
        add({ __name__: 'node_cpu_seconds_total', ...base, cpu, mode: 'system' }, counter((i) => intervalS * busy * 0.3 * (0.8 + 0.2 * noise(n, i))));
      }
      const total = 16 * 2 ** 30;
      add({ __name__: 'node_memory_MemTotal_bytes', ...base }, () => total);
      add({ __name__: 'node_memory_MemAvailable_bytes', ...base }, (i) => Math.round(total * (0.7 - 0.5 * busy * (0.9 + 0.1 * noise(i, n)))));
      add({ __name__: 'node_network_receive_bytes_total', ...base, device: 'eth0' }, counter((i) => Math.round(intervalS * 1e6 * (1 + noise(n, i)))));
      add({ __name__: 'node_network_transmit_bytes_total', ...base, device: 'eth0' }, counter((i) => Math.round(intervalS * 5e5 * (1 + noise(i, n)))));
      const fs = { device: '/dev/nvme0n1p1', fstype: 'ext4', mountpoint: '/' };
      add({ __name__: 'node_filesystem_size_bytes', ...base, ...fs }, () => 100 * 2 ** 30);
      add({ __name__: 'node_filesystem_avail_bytes', ...base, ...fs }, (i) => Math.round(2 ** 30 * (60 - 40 * busy - (i % 100) / 10)));
      add({ __name__: 'node_load1', ...base }, (i) => Math.round(100 * 4 * busy * (0.8 + 0.4 * noise(n, i))) / 100);
      add({ __name__: 'kube_node_info', ...ksm, node }, () => 1);
      add({ __name__: 'kube_node_status_condition', ...ksm, node, condition: 'Ready', status: 'true' }, () => 1);

      for (let k = 0; k < podsPerNode; k++) {
        const p = n * podsPerNode + k;
        const { namespace, deployment } = deploymentOf(p % deployments);
        const pod = `${deployment}-7d9f8c6b5d-${p.toString(36).padStart(5, '0')}`;
        const cadvisor = { job: 'kubelet', metrics_path: '/metrics/cadvisor', instance: `10.${c}.${n >> 8}.${n & 255}:10250`, cluster, node, namespace, pod };
        const load = 0.05 + 0.5 * noise(p, c + 1);
        add({ __name__: 'container_cpu_usage_seconds_total', ...cadvisor, container: 'app' }, counter((i) => intervalS * load * (0.7 + 0.6 * noise(p, i))));
        add({ __name__: 'container_memory_working_set_bytes', ...cadvisor, container: 'app' }, (i) => Math.round(2 ** 28 * (1 + 3 * load) * (0.9 + 0.2 * noise(i, p))));
        add({ __name__: 'container_network_receive_bytes_total', ...cadvisor, interface: 'eth0' }, counter((i) => Math.round(intervalS * 2e5 * load * (1 + noise(p, i)))));
        add({ __name__: 'container_network_transmit_bytes_total', ...cadvisor, interface: 'eth0' }, counter((i) => Math.round(intervalS * 1e5 * load * (1 + noise(i, p)))));
        const restartsEvery = p % 5 === 0 ? 97 + (p % 13) : 0;
        add({ __name__: 'kube_pod_container_status_restarts_total', ...ksm, namespace, pod, container: 'app' }, counter((i) => (restartsEvery > 0 && i > 0 && i % restartsEvery === 0 ? 1 : 0)));
        // A few pods wait for a node for a while every hour or so (what the node autoscaler answers).
        const pendingAt = (i: number) => p % 7 === 0 && Math.floor((i * intervalS) / 600) % 6 === p % 6;
        add({ __name__: 'kube_pod_status_phase', ...ksm, namespace, pod, phase: 'Pending' }, (i) => (pendingAt(i) ? 1 : 0));
        add({ __name__: 'kube_pod_status_phase', ...ksm, namespace, pod, phase: 'Running' }, (i) => (pendingAt(i) ? 0 : 1));
      }
    }
    for (let d = 0; d < deployments; d++) {
      const { namespace, deployment } = deploymentOf(d);
      // Replicas follow a daily-ish wave; the HPA's desired count leads the spec by a step, as an autoscaler acts.
      const desired = (i: number) => 2 + Math.round(4 * (0.5 + 0.5 * Math.sin((i * intervalS) / 7200 + d)));
      add({ __name__: 'kube_deployment_spec_replicas', ...ksm, namespace, deployment }, (i) => desired(Math.max(0, i - 1)));
      add({ __name__: 'kube_deployment_status_replicas_available', ...ksm, namespace, deployment }, (i) => desired(Math.max(0, i - 2)));
      const hpa = { ...ksm, namespace, horizontalpodautoscaler: deployment };
      add({ __name__: 'kube_horizontalpodautoscaler_spec_min_replicas', ...hpa }, () => 2);
      add({ __name__: 'kube_horizontalpodautoscaler_spec_max_replicas', ...hpa }, () => 6);
      add({ __name__: 'kube_horizontalpodautoscaler_status_desired_replicas', ...hpa }, desired);
      add({ __name__: 'kube_horizontalpodautoscaler_status_current_replicas', ...hpa }, (i) => desired(Math.max(0, i - 1)));
    }
    // The control plane's API server: down for two samples now and then (the SLA's incidents).
    add({ __name__: 'up', job: 'apiserver', instance: `10.${c}.255.1:6443`, cluster }, (i) => (i % 211 === 100 + c || i % 211 === 101 + c ? 0 : 1));
    // Tidemark's self-metrics, as a self-scrape job stores them (collector.scrape with the engine's /metrics).
    const self = { job: 'tidemark', instance: '127.0.0.1:8080', cluster };
    const rate = 2000 * nodes;
    add({ __name__: 'tidemark_ingest_samples_total', ...self }, counter((i) => Math.round(intervalS * rate * (0.9 + 0.2 * noise(i, c)))));
    add({ __name__: 'tidemark_collector_samples_received_total', ...self, source: 'remote_write' }, counter((i) => Math.round(intervalS * rate * (0.9 + 0.2 * noise(i, c)))));
    add({ __name__: 'tidemark_collector_requests_rejected_total', ...self, source: 'remote_write', reason: 'invalid' }, counter((i) => (i % 17 === 0 ? 1 : 0)));
    add({ __name__: 'tidemark_ingest_errors_total', ...self }, counter((i) => (i % 29 === 0 ? 1 : 0)));
    add({ __name__: 'tidemark_bus_depth', ...self, topic: 'samples' }, (i) => Math.round(1000 * noise(i, c + 7)));
    add({ __name__: 'tidemark_kafka_consumer_lag', ...self, topic: 'tidemark.samples', partition: '0' }, (i) => Math.round(500 * noise(c + 3, i)));
    const buckets = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5];
    const inserts = (i: number) => Math.round(intervalS * (4 + noise(i, c)));
    const share = (le: number) => Math.min(1, le / 0.1);
    for (const le of buckets) add({ __name__: 'tidemark_ingest_insert_seconds_bucket', ...self, le: String(le) }, counter((i) => Math.round(inserts(i) * share(le))));
    add({ __name__: 'tidemark_ingest_insert_seconds_bucket', ...self, le: '+Inf' }, counter(inserts));
    add({ __name__: 'tidemark_ingest_insert_seconds_count', ...self }, counter(inserts));
    add({ __name__: 'tidemark_ingest_insert_seconds_sum', ...self }, counter((i) => inserts(i) * 0.04));
  }
  return { options, series, points, example: { cluster: clusters[0]!, namespace: deploymentOf(0).namespace, workload: deploymentOf(0).deployment, node: 'node-0' } };
}

/** Samples per insert into the store. */
const CHUNK = 1_000_000;

/** Loads the fleet into Tidemark's store under `tenant`: series definitions, then samples as Native blocks (then announced and rolled up, as the ingester and the roll-up loop do). */
export async function loadIntoStore(store: Store, tenant: string, fleet: Fleet): Promise<number> {
  const defs = fleet.series.map((s) => ({ id: seriesId(s.labels), labels: s.labels }));
  await insertSeries(store, tenant, defs);
  const { startS, intervalS } = fleet.options;
  let ids = new BigUint64Array(CHUNK);
  let ts = new Float64Array(CHUNK);
  let values = new Float64Array(CHUNK);
  let n = 0;
  let total = 0;
  const flush = async () => {
    if (n === 0) return;
    await store.insertNative(
      'samples',
      'tenant, series_id, ts, value',
      `{tenant:String}, series_id, fromUnixTimestamp64Milli(toInt64(ts), 'UTC'), value`,
      [
        { name: 'series_id', type: 'UInt64', data: ids.subarray(0, n) },
        { name: 'ts', type: 'Float64', data: ts.subarray(0, n) },
        { name: 'value', type: 'Float64', data: values.subarray(0, n) },
      ],
      n,
      { max_insert_threads: '2', parallel_view_processing: 1 },
      { tenant },
    );
    total += n;
    n = 0;
    ids = new BigUint64Array(CHUNK);
    ts = new Float64Array(CHUNK);
    values = new Float64Array(CHUNK);
  };
  // Time-major, so that each insert covers a span of time (a day's partition at most a few times over).
  for (let i = 0; i < fleet.points; i++) {
    for (let s = 0; s < fleet.series.length; s++) {
      ids[n] = defs[s]!.id;
      ts[n] = (startS + i * intervalS) * 1000;
      values[n] = fleet.series[s]!.value(i);
      if (++n === CHUNK) await flush();
    }
  }
  await flush();
  // Written around the ingester: announced and rolled up here as the ingester and the roll-up loop would.
  const minutes = minutesOf(Array.from({ length: fleet.points }, (_, i) => (startS + i * intervalS) * 1000));
  await announce(store, '1m', [{ tenant, buckets: minutes }], 'fixture');
  await rollUp(store, { all: true });
  return total;
}

function escapeLabel(v: string): string {
  return v.replace(/\\/g, '\\\\').replace(/\n/g, '\\n').replace(/"/g, '\\"');
}

function formatValue(v: number): string {
  return Number.isNaN(v) ? 'NaN' : v === Infinity ? '+Inf' : v === -Infinity ? '-Inf' : String(v);
}

/**
 * The fleet as OpenMetrics text, in chunks, for promtool's backfill: every
 * series' samples in time order, series after series (no metadata lines:
 * promtool takes untyped samples), ending with `# EOF`.
 */
export function* openMetricsText(fleet: Fleet): Generator<string> {
  const { startS, intervalS } = fleet.options;
  // Grouped by metric name: OpenMetrics wants a metric family's lines together.
  const byName = new Map<string, FixtureSeries[]>();
  for (const s of fleet.series) {
    const name = s.labels['__name__']!;
    let list = byName.get(name);
    if (!list) byName.set(name, (list = []));
    list.push(s);
  }
  for (const [name, list] of byName) {
    for (const s of list) {
      const labels = Object.entries(s.labels)
        .filter(([k]) => k !== '__name__')
        .map(([k, v]) => `${k}="${escapeLabel(v)}"`)
        .join(',');
      const head = `${name}{${labels}} `;
      const lines: string[] = [];
      for (let i = 0; i < fleet.points; i++) lines.push(`${head}${formatValue(s.value(i))} ${startS + i * intervalS}\n`);
      yield lines.join('');
    }
  }
  yield '# EOF\n';
}

/** The fleet as VictoriaMetrics' JSON-lines import (/api/v1/import): one line per series. */
export function* victoriaMetricsLines(fleet: Fleet): Generator<string> {
  const { startS, intervalS } = fleet.options;
  const timestamps = Array.from({ length: fleet.points }, (_, i) => (startS + i * intervalS) * 1000);
  for (const s of fleet.series) {
    const values = Array.from({ length: fleet.points }, (_, i) => s.value(i));
    yield `${JSON.stringify({ metric: s.labels, values, timestamps })}\n`;
  }
}
