// Outage windows from stored probe results, derived inside ClickHouse: a
// minute is down when the majority of its probes failed (a tie is not a
// majority), and consecutive down minutes form one window (gaps and islands:
// minute number minus row number is constant along a run). Minutes without
// any probe are not evidence of an outage and never join two runs.
import type { Store } from '../core/store.ts';

export interface OutageWindow {
  cluster: string;
  start: number;
  end: number;
  minutes: number;
}

export async function deriveOutageWindows(store: Store, tenant: string, period: { start: number; end: number }, clusters: readonly string[] = []): Promise<OutageWindow[]> {
  const probes = store.table('sla_probes');
  const where = `tenant = {tenant:String}
           AND ts >= fromUnixTimestamp64Milli({from:Int64}, 'UTC') AND ts < fromUnixTimestamp64Milli({to:Int64}, 'UTC')
           AND (empty({clusters:Array(String)}) OR has({clusters:Array(String)}, cluster))`;
  // Only a minute with at least one failed probe can be down. Grouping every
  // (cluster, minute) of a month is tens of millions of hash-table keys, so
  // the minutes are first narrowed by a 64-bit key of the failed ones. The key
  // is only a pre-filter: a hash collision lets an extra minute through to the
  // exact GROUP BY below, it never drops one.
  const minuteKey = 'cityHash64(cluster) + minute';
  const rows = await store.query<{ cluster: string; start_ms: string; end_ms: string; minutes: string }>(
    `SELECT cluster,
            toString(min(minute) * 60000) AS start_ms,
            toString((max(minute) + 1) * 60000) AS end_ms,
            toString(count()) AS minutes
     FROM (
       SELECT cluster, minute, toInt64(minute) - toInt64(row_number() OVER (PARTITION BY cluster ORDER BY minute)) AS island
       FROM (
         SELECT cluster, minute
         FROM ${probes}
         WHERE ${where}
           AND ${minuteKey} IN (SELECT ${minuteKey} FROM ${probes} WHERE ${where} AND ok = 0)
         GROUP BY cluster, minute
         HAVING countIf(ok = 0) * 2 > count()
       )
     )
     GROUP BY cluster, island
     ORDER BY cluster, min(minute)`,
    { tenant, from: period.start, to: period.end, clusters },
  );
  return rows.map((r) => ({ cluster: r.cluster, start: Number(r.start_ms), end: Number(r.end_ms), minutes: Number(r.minutes) }));
}

/** Clusters that reported any probe in the months the period touches (kept per month at insert by a materialized view). */
export async function probedClusters(store: Store, tenant: string, period: { start: number; end: number }): Promise<string[]> {
  const rows = await store.query<{ cluster: string }>(
    `SELECT DISTINCT cluster FROM ${store.table('sla_probe_clusters')}
     WHERE tenant = {tenant:String}
       AND month >= toYYYYMM(fromUnixTimestamp64Milli({from:Int64}, 'UTC')) AND month <= toYYYYMM(fromUnixTimestamp64Milli({last:Int64}, 'UTC'))
     ORDER BY cluster`,
    { tenant, from: period.start, last: period.end - 1 },
  );
  return rows.map((r) => r.cluster);
}
