// The PromQL engine's limits on a real store: the sample budget (422
// execution), the timeout (503 timeout, and the query gone from the
// store's process list), cancellation, and bad input as bad_data.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openTestStore, type TestStore } from '../helpers/store.ts';
import { instantQuery, rangeQuery, PromQLError } from '../../metrics/promql/engine.ts';
import { announce, rollUp } from '../../metrics/rollups.ts';

let t: TestStore;
const T0 = Date.UTC(2026, 10, 1, 0, 0, 0);
const SERIES = 50;
const SECONDS = 3 * 3600;

async function failure(run: () => Promise<unknown>): Promise<PromQLError> {
  try {
    await run();
  } catch (e) {
    if (e instanceof PromQLError) return e;
    throw e;
  }
  throw new Error('expected the query to fail');
}

beforeAll(async () => {
  t = await openTestStore();
  const { store } = t;
  // 50 counters with a sample every second for three hours: 540,000 samples, written inside ClickHouse.
  await store.command(
    `INSERT INTO ${store.table('series')} (tenant, metric, series_id, labels)
     SELECT 'default', 'load_total', number, map('__name__', 'load_total', 'instance', toString(number)) FROM numbers(${SERIES})`,
  );
  await store.command(
    `INSERT INTO ${store.table('samples')} (tenant, series_id, ts, value)
     SELECT 'default', number % ${SERIES}, fromUnixTimestamp64Milli(toInt64(${T0} + intDiv(number, ${SERIES}) * 1000), 'UTC'), toFloat64(intDiv(number, ${SERIES}))
     FROM numbers(${SERIES * SECONDS})`,
  );
  // Written around the ingester, so announced and rolled here as the ingester and the roll-up loop would.
  await announce(store, '1m', [{ tenant: 'default', buckets: Array.from({ length: SECONDS / 60 }, (_, i) => T0 / 1000 + i * 60) }], 'test');
  await rollUp(store, { all: true });
});

afterAll(async () => {
  await t?.close();
});

describe('PromQL limits', () => {
  it('answers within the budget and reports the samples read', async () => {
    const answer = await instantQuery(t.store, 'sum(rate(load_total[1m]))', T0 + 3_600_000, { tenant: 'default', stats: true });
    expect(answer.data).toEqual({ resultType: 'vector', result: [{ metric: {}, value: [(T0 + 3_600_000) / 1000, '50'] }] });
    expect(answer.stats?.samplesRead).toBe(SERIES * 61);
    expect(answer.stats?.table).toBe('samples');
  });

  it('answers min/max_over_time from the 1-minute rollup when the windows fall on minutes, as raw would', async () => {
    const start = T0 + 3_600_000;
    const opts = { tenant: 'default', stats: true };
    const max = await rangeQuery(t.store, 'max(max_over_time(load_total[5m]))', start, start + 600_000, 60_000, opts);
    const min = await rangeQuery(t.store, 'min(min_over_time(load_total[5m]))', start, start + 600_000, 60_000, opts);
    expect(max.stats?.table).toBe('samples_1m');
    expect(min.stats?.table).toBe('samples_1m');
    // One sample a second valued at its second since T0: the closed window [te − 5m, te] holds both ends.
    const expected = (d: number) => Array.from({ length: 11 }, (_, i) => [(start + i * 60_000) / 1000, String((start + i * 60_000 - T0) / 1000 + d)]);
    expect(max.data).toEqual({ resultType: 'matrix', result: [{ metric: {}, values: expected(0) }] });
    expect(min.data).toEqual({ resultType: 'matrix', result: [{ metric: {}, values: expected(-300) }] });
    const unaligned = await rangeQuery(t.store, 'max(max_over_time(load_total[5m]))', start + 500, start + 600_500, 60_000, opts);
    expect(unaligned.stats?.table).toBe('samples');
  });

  it('reads raw, with the same answer, while a bucket its rollup read touches is still announced', async () => {
    const start = T0 + 3_600_000;
    const opts = { tenant: 'default', stats: true };
    const rolled = await rangeQuery(t.store, 'max(max_over_time(load_total[5m]))', start, start + 600_000, 60_000, opts);
    await announce(t.store, '1m', [{ tenant: 'default', buckets: [start / 1000 + 300] }], 'test');
    const pending = await rangeQuery(t.store, 'max(max_over_time(load_total[5m]))', start, start + 600_000, 60_000, opts);
    expect(rolled.stats?.table).toBe('samples_1m');
    expect(pending.stats?.table).toBe('samples');
    expect(pending.data).toEqual(rolled.data);
    await rollUp(t.store, { all: true });
  });

  it('refuses a query over maxSamples with execution (422), on the pushed-down and the Node path', async () => {
    for (const expr of ['sum(rate(load_total[10m]))', 'load_total[10m]', 'max_over_time(load_total[10m:1m])']) {
      const e = await failure(() => instantQuery(t.store, expr, T0 + 3_600_000, { tenant: 'default', maxSamples: 10_000 }));
      expect(e.errorType).toBe('execution');
      expect(e.status).toBe(422);
      expect(e.message).toBe('query processing would load too many samples into memory in query execution');
    }
  });

  it('times out with 503 and leaves nothing running in the store', async () => {
    const began = Date.now();
    const e = await failure(() => rangeQuery(t.store, 'sum(avg_over_time(load_total[1h]))', T0 + 3_600_000, T0 + 3 * 3_600_000, 1000, { tenant: 'default', timeoutMs: 300 }));
    expect(e.errorType).toBe('timeout');
    expect(e.status).toBe(503);
    expect(Date.now() - began).toBeLessThan(10_000);
    const running = await t.store.query<{ n: number }>(`SELECT count() AS n FROM system.processes WHERE query_id LIKE 'promql-%'`);
    expect(running[0]?.n).toBe(0);
  });

  it('is canceled by the caller’s signal, and the store stops it by the deadline at the latest', async () => {
    const controller = new AbortController();
    setTimeout(() => controller.abort(), 200);
    const began = Date.now();
    const e = await failure(() => rangeQuery(t.store, 'sum(avg_over_time(load_total[1h]))', T0 + 3_600_000, T0 + 3 * 3_600_000, 1000, { tenant: 'default', signal: controller.signal, timeoutMs: 2000 }));
    expect(e.errorType).toBe('canceled');
    expect(Date.now() - began).toBeLessThan(1500);
    // Embedded chDB cannot interrupt a running query: it ends at max_execution_time (a server gets KILL QUERY at once).
    const running = await t.store.query<{ n: number }>(`SELECT count() AS n FROM system.processes WHERE query_id LIKE 'promql-%'`);
    expect(running[0]?.n).toBe(0);
    expect(Date.now() - began).toBeLessThan(10_000);
  });

  it('answers bad input with bad_data naming it', async () => {
    const cases: [string, RegExp][] = [
      ['rate(load_total)', /expected type range vector in call to function "rate", got instant vector/],
      ['load_total{instance=~"(?=x)"}', /regexp/],
      ['load_total[5x]', /parse error/],
      ['sum(load_total', /parse error/],
    ];
    for (const [expr, message] of cases) {
      const e = await failure(() => instantQuery(t.store, expr, T0, { tenant: 'default' }));
      expect(e.errorType).toBe('bad_data');
      expect(e.status).toBe(400);
      expect(e.message).toMatch(message);
    }
    const range = await failure(() => rangeQuery(t.store, 'load_total[5m]', T0, T0 + 60_000, 1000, { tenant: 'default' }));
    expect(range.message).toBe('invalid expression type "range vector" for range query, must be Scalar or instant Vector');
  });

  it('reads only its own tenant', async () => {
    const answer = await instantQuery(t.store, 'count(load_total)', T0 + 60_000, { tenant: 'other' });
    expect(answer.data).toEqual({ resultType: 'vector', result: [] });
  });
});
