// Pod metrics and load history from the store instead of the metrics-server:
// the kubelet's cAdvisor series (container_cpu_usage_seconds_total as a rate,
// container_memory_working_set_bytes as its latest value) become
// metrics.k8s.io PodMetrics, with one ClickHouse query per round for every
// pod the policies select. ClickHouse does the rate and the per-container
// reduction; Node only matches its rows to the pods asked about.
import type { Store, QueryParams } from '../core/store.ts';
import { NOT_STALE } from '../core/metrics/schema.ts';
import type { LoadPoint } from './pods/predictive.ts';
import type { PodAutoscalingPolicy } from './kube/policies.ts';
import type { LoadHistorySource, PodMetricsJson, PodMetricsSource, PodRef } from './ports.ts';

export const CPU_METRIC = 'container_cpu_usage_seconds_total';
export const MEMORY_METRIC = 'container_memory_working_set_bytes';

export interface StorePodMetricsOptions {
  /** The CPU rate is taken over this many seconds before `now` (the metrics-server's window is about as long). */
  windowSeconds?: number;
}

/** One pod's row as ClickHouse returns it. */
interface PodUsageRow {
  namespace: string;
  pod: string;
  /** Epoch ms of the newest sample of any of the pod's containers. */
  newest: number;
  /** Longest span (ms) a container's CPU rate was measured over; 0 when no rate could be taken. */
  span: number;
  /** (container, nano-cores or null, working-set bytes or null). */
  containers: [string, number | null, number | null][];
}

/**
 * Per (namespace, pod, container): the CPU rate (nano-cores) over the window
 * and the latest working set. A container with several series (a restart
 * gives the new container a new cAdvisor `id`) is answered by the series
 * with the newest sample, as the old container's usage has ended.
 * Exported for benchmarks that time the query alone.
 */
export function podUsageSql(store: Store): string {
  const range = `tenant = {tenant:String} AND ts > toDateTime64({since:Float64}, 3, 'UTC') AND ts <= toDateTime64({now:Float64}, 3, 'UTC')`;
  return `WITH sel AS (
      SELECT series_id, metric AS series_metric, any(labels['namespace']) AS series_namespace, any(labels['pod']) AS series_pod, any(labels['container']) AS series_container
      FROM ${store.table('series')}
      WHERE tenant = {tenant:String} AND metric IN ({cpu:String}, {memory:String})
        AND has({namespaces:Array(String)}, labels['namespace']) AND labels['pod'] != ''
        -- cAdvisor also reports the pod cgroup (container "") and the pause container ("POD"); the HPA counts neither.
        AND labels['container'] NOT IN ('', 'POD')
      GROUP BY series_id, metric)
    SELECT series_namespace AS namespace, series_pod AS pod, toUnixTimestamp64Milli(max(container_newest)) AS newest, max(cpu_span) AS span,
      groupArray((series_container, cpu, memory)) AS containers
    FROM (
      SELECT series_namespace, series_pod, series_container, max(series_newest) AS container_newest,
        countIf(series_metric = {cpu:String} AND series_span > 0) > 0 AS has_cpu,
        countIf(series_metric = {memory:String}) > 0 AS has_mem,
        maxIf(series_span, series_metric = {cpu:String}) AS cpu_span,
        if(has_cpu, toNullable(round(argMaxIf(series_rate, series_newest, series_metric = {cpu:String} AND series_span > 0) * 1e9)), NULL) AS cpu,
        if(has_mem, toNullable(round(argMaxIf(series_last, series_newest, series_metric = {memory:String}))), NULL) AS memory
      FROM (
        -- Per series, its samples in time order: the increases between consecutive ones (a drop is a
        -- counter reset: the counter restarted from zero) over the time they span. One sorted array per
        -- series needs no separate GROUP BY (series, ts) to drop duplicates: a duplicate not yet merged
        -- away adds no time, and no increase when its value is the same.
        SELECT series_id, max(ts) AS series_newest, argMax(value, ts) AS series_last,
          arraySort(groupArray((toFloat64(ts), value))) AS points,
          arrayMap(x -> x.2, points) AS vals,
          points[length(points)].1 - points[1].1 AS seconds,
          round(seconds * 1000) AS series_span,
          if(seconds > 0, arraySum(arrayMap((d, v) -> if(d >= 0, d, v), arrayDifference(vals), vals)) / seconds, 0) AS series_rate
        FROM ${store.table('samples')}
        WHERE ${range} AND series_id IN (SELECT series_id FROM sel) AND ${NOT_STALE}
        GROUP BY series_id) AS s
      INNER JOIN sel USING series_id
      GROUP BY series_namespace, series_pod, series_container
      HAVING has_cpu OR has_mem)
    GROUP BY series_namespace, series_pod`;
}

/** Seconds as a Go duration, as metrics.k8s.io writes the window ("30s", "59.5s"). */
function goDuration(ms: number): string {
  return `${Math.round(ms) / 1000}s`;
}

export class StorePodMetrics implements PodMetricsSource {
  private readonly windowSeconds: number;

  constructor(
    private readonly store: Store,
    private readonly tenant: string,
    options: StorePodMetricsOptions = {},
  ) {
    this.windowSeconds = options.windowSeconds ?? 60;
  }

  async podMetrics(pods: readonly PodRef[], now: Date): Promise<(PodMetricsJson | undefined)[]> {
    const out = new Array<PodMetricsJson | undefined>(pods.length);
    if (pods.length === 0) return out;
    // The question is put by namespace, not by pod: 100,000 pod names would not fit in a
    // request's parameters, and a namespace's recent series are close to the pods asked about.
    const namespaces = [...new Set(pods.map((p) => p.namespace))];
    const params: QueryParams = {
      tenant: this.tenant,
      cpu: CPU_METRIC,
      memory: MEMORY_METRIC,
      namespaces,
      since: now.getTime() / 1000 - this.windowSeconds,
      now: now.getTime() / 1000,
    };
    const rows = await this.store.query<PodUsageRow>(podUsageSql(this.store), params);
    const byNamespace = new Map<string, Map<string, PodUsageRow>>();
    for (const row of rows) {
      let ns = byNamespace.get(row.namespace);
      if (!ns) byNamespace.set(row.namespace, (ns = new Map()));
      ns.set(row.pod, row);
    }
    for (let i = 0; i < pods.length; i++) {
      const row = byNamespace.get(pods[i]!.namespace)?.get(pods[i]!.name);
      if (row) out[i] = podMetricsOf(row, this.windowSeconds);
    }
    return out;
  }
}

function podMetricsOf(row: PodUsageRow, windowSeconds: number): PodMetricsJson {
  return {
    metadata: { name: row.pod, namespace: row.namespace },
    timestamp: new Date(row.newest).toISOString(),
    window: goDuration(row.span > 0 ? row.span : windowSeconds * 1000),
    containers: [...row.containers]
      .sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0))
      .map(([name, cpu, memory]) => {
        const usage: Record<string, string> = {};
        if (cpu !== null) usage['cpu'] = `${cpu}n`;
        if (memory !== null) usage['memory'] = String(memory);
        return { name, usage };
      }),
  };
}

/** The Resource a policy's load history follows: its first metric, when that is a Resource one (80% CPU when it has none, as the API server defaults). */
export function loadResourceOf(policy: PodAutoscalingPolicy): 'cpu' | 'memory' | undefined {
  const first = (policy.spec.metrics ?? [{ type: 'Resource', resource: { name: 'cpu' } }])[0] as { type?: string; resource?: { name?: string } } | undefined;
  if (first?.type !== 'Resource') return undefined;
  const name = first.resource?.name;
  return name === 'cpu' || name === 'memory' ? name : undefined;
}

function escapeRegex(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

/**
 * The names a target's pods get from their controller: a Deployment's pods are
 * `<name>-<replicaset hash>-<suffix>`, a StatefulSet's `<name>-<ordinal>`. The
 * cAdvisor series carry no owner, so the pod name is what ties them to the target.
 */
export function targetPodPattern(target: { kind: string; name: string }): string {
  const name = escapeRegex(target.name);
  switch (target.kind) {
    case 'Deployment':
      return `${name}-[a-z0-9]{1,10}-[a-z0-9]{5}`;
    case 'StatefulSet':
      return `${name}-[0-9]+`;
    case 'ReplicaSet':
      return `${name}-[a-z0-9]{5}`;
    default:
      return `${name}-.+`;
  }
}

/**
 * A workload's total load per minute from the 1-minute rollup: CPU cores (the
 * counter's rate between each minute's last samples, so a gap or a restart
 * does not count twice) or working-set bytes (the minute's average), summed
 * over the target's containers.
 */
export class StoreLoadHistory implements LoadHistorySource {
  constructor(
    private readonly store: Store,
    private readonly tenant: string,
  ) {}

  async loadHistory(policy: PodAutoscalingPolicy, since: Date, now: Date): Promise<LoadPoint[]> {
    const resource = loadResourceOf(policy);
    if (!resource) return [];
    const params: QueryParams = {
      tenant: this.tenant,
      metric: resource === 'cpu' ? CPU_METRIC : MEMORY_METRIC,
      namespace: policy.metadata.namespace ?? 'default',
      pods: targetPodPattern(policy.spec.scaleTargetRef),
      since: Math.floor(since.getTime() / 1000),
      now: Math.floor(now.getTime() / 1000),
    };
    const sel = `SELECT series_id FROM ${this.store.table('series')}
      WHERE tenant = {tenant:String} AND metric = {metric:String} AND labels['namespace'] = {namespace:String}
        AND match(labels['pod'], concat('^(?:', {pods:String}, ')$')) AND labels['container'] NOT IN ('', 'POD')
      GROUP BY series_id`;
    const range = `tenant = {tenant:String} AND series_id IN (${sel}) AND ts >= toDateTime({since:UInt32}, 'UTC') AND ts < toDateTime({now:UInt32}, 'UTC')`;
    const perSeries =
      resource === 'cpu'
        ? `SELECT series_id, t, if(isNaN(pv) OR lt <= pt, nan, if(lv >= pv, lv - pv, lv) / (lt - pt)) AS v FROM (
             SELECT series_id, t, lt, lv, lagInFrame(lv, 1, nan) OVER w AS pv, lagInFrame(lt, 1, nan) OVER w AS pt
             FROM (SELECT series_id, ts AS t, toFloat64(max(last).1) AS lt, max(last).2 AS lv FROM ${this.store.table('samples_1m')} WHERE ${range} GROUP BY series_id, t)
             WINDOW w AS (PARTITION BY series_id ORDER BY t ROWS BETWEEN 1 PRECEDING AND CURRENT ROW))`
        : `SELECT series_id, ts AS t, sum(sum) / sum(count) AS v FROM ${this.store.table('samples_1m')} WHERE ${range} GROUP BY series_id, t`;
    const rows = await this.store.query<{ time: number; value: number }>(
      `SELECT toUnixTimestamp(t) * 1000 AS time, sum(v) AS value FROM (${perSeries}) WHERE NOT isNaN(v) GROUP BY t ORDER BY t`,
      params,
    );
    return rows.map((r) => ({ time: Number(r.time), value: Number(r.value) }));
  }
}
