import { it } from 'vitest';
import { openTestStore } from '../../test/helpers/store.ts';
import { rangeQuery } from './engine.ts';
it('probe', async () => {
  const t = await openTestStore();
  const store = t.store;
  const NODES = Number(process.env.NODES ?? 100);
  const SERIES = NODES * 64;
  const POINTS = 5760;
  const T0 = Date.UTC(2026, 10, 1);
  let a = performance.now();
  await store.command(`INSERT INTO ${store.table('series')} (tenant, metric, series_id, labels)
    SELECT 'default', 'node_cpu_seconds_total', number, map('__name__', 'node_cpu_seconds_total', 'node', concat('n', toString(intDiv(number, 64))), 'cpu', toString(intDiv(number % 64, 8)), 'mode', toString(number % 8)) FROM numbers(${SERIES})`);
  await store.command(`INSERT INTO ${store.table('samples')} (tenant, series_id, ts, value)
    SELECT 'default', number % ${SERIES}, fromUnixTimestamp64Milli(toInt64(${T0} + intDiv(number, ${SERIES}) * 15000), 'UTC'), toFloat64(intDiv(number, ${SERIES}) * (1 + number % 7))
    FROM numbers(${SERIES * POINTS}) SETTINGS max_insert_threads = 2`, undefined, { max_memory_usage: '4000000000' } as never);
  console.log('insert', Math.round(performance.now() - a));
  for (let i = 0; i < 2; i++) {
    a = performance.now();
    const r = await rangeQuery(store, 'avg by (node) (rate(node_cpu_seconds_total[5m]))', T0 + 600_000, T0 + 86_400_000, 60_000, { tenant: 'default', stats: true });
    console.log('query', Math.round(performance.now() - a), r.data.result.length, JSON.stringify(r.stats));
  }
  await t.close();
}, 900_000);
