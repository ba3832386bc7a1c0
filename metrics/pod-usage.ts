// The pod-usage questions the autoscaler puts to the metrics tables, as
// plain rows: every selected pod's CPU rate and working set from the
// kubelet's cAdvisor series, and a workload's load per minute from the
// 1-minute rollup. ClickHouse does the rates and the reductions; the
// autoscaler maps the rows to its own types (autoscaler/store-metrics.ts).
import type { Store, QueryParams } from '../core/store.ts';
import { NOT_STALE } from './schema.ts';
import { rollupSourceSql, rollupWatermark } from './rollups.ts';

export const CPU_METRIC = 'container_cpu_usage_seconds_total';
export const MEMORY_METRIC = 'container_memory_working_set_bytes';

/** One pod's usage as ClickHouse returns it. */
export interface PodUsageRow {
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
 */
function podUsageSql(store: Store): string {
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

/** Every pod's usage in `namespaces` over the `windowSeconds` before `now` (epoch seconds). */
export function queryPodUsage(store: Store, tenant: string, namespaces: readonly string[], now: number, windowSeconds: number): Promise<PodUsageRow[]> {
  const params: QueryParams = { tenant, cpu: CPU_METRIC, memory: MEMORY_METRIC, namespaces: [...namespaces], since: now - windowSeconds, now };
  return store.query<PodUsageRow>(podUsageSql(store), params);
}

export interface WorkloadLoadQuery {
  tenant: string;
  resource: 'cpu' | 'memory';
  namespace: string;
  /** An RE2 pattern, fully anchored, that the workload's pod names match. */
  podPattern: string;
  /** Epoch seconds, whole. */
  since: number;
  now: number;
}

/**
 * A workload's total load per minute from the 1-minute rollup: CPU cores (the
 * counter's rate between each minute's last samples, so a gap or a restart
 * does not count twice) or working-set bytes (the minute's average), summed
 * over its containers. Points in epoch milliseconds, oldest first.
 */
export async function queryWorkloadLoad(store: Store, q: WorkloadLoadQuery): Promise<{ time: number; value: number }[]> {
  const params: QueryParams = { tenant: q.tenant, metric: q.resource === 'cpu' ? CPU_METRIC : MEMORY_METRIC, namespace: q.namespace, pods: q.podPattern, since: q.since, now: q.now };
  const resource = q.resource;
  const sel = `SELECT series_id FROM ${store.table('series')}
    WHERE tenant = {tenant:String} AND metric = {metric:String} AND labels['namespace'] = {namespace:String}
      AND match(labels['pod'], concat('^(?:', {pods:String}, ')$')) AND labels['container'] NOT IN ('', 'POD')
    GROUP BY series_id`;
  const range = `tenant = {tenant:String} AND series_id IN (${sel}) AND ts >= toDateTime({since:UInt32}, 'UTC') AND ts < toDateTime({now:UInt32}, 'UTC')`;
  // Minutes not rolled up yet are read from the raw samples (metrics/rollups.ts).
  const wm = (await rollupWatermark(store, q.tenant))['1m'];
  const minutes = Number.isFinite(wm) && wm < q.now ? rollupSourceSql(store, 'samples_1m', `series_id IN (${sel})`) : store.table('samples_1m');
  Object.assign(params, { wm, start: q.since, end: q.now });
  const perSeries =
    resource === 'cpu'
      ? `SELECT series_id, t, if(isNaN(pv) OR lt <= pt, nan, if(lv >= pv, lv - pv, lv) / (lt - pt)) AS v FROM (
           SELECT series_id, t, lt, lv, lagInFrame(lv, 1, nan) OVER w AS pv, lagInFrame(lt, 1, nan) OVER w AS pt
           FROM (SELECT series_id, ts AS t, toFloat64(max(last).1) AS lt, max(last).2 AS lv FROM ${minutes} WHERE ${range} GROUP BY series_id, t)
           WINDOW w AS (PARTITION BY series_id ORDER BY t ROWS BETWEEN 1 PRECEDING AND CURRENT ROW))`
      : `SELECT series_id, ts AS t, sum(sum) / sum(count) AS v FROM ${minutes} WHERE ${range} GROUP BY series_id, t`;
  const rows = await store.query<{ time: number; value: number }>(
    `SELECT toUnixTimestamp(t) * 1000 AS time, sum(v) AS value FROM (${perSeries}) WHERE NOT isNaN(v) GROUP BY t ORDER BY t`,
    params,
  );
  return rows.map((r) => ({ time: Number(r.time), value: Number(r.value) }));
}
