// A poisoned request through the engine's HTTP receivers, sent together
// with good ones so that they share deliveries: the poisoned one is answered
// 400 rejected_by_store and dead-lettered, the good ones 2xx and stored,
// /readyz stays 200 and later writes are accepted. The poison is injected
// at the store (a refusal retrying cannot fix), since no valid request makes
// the store refuse one any more.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestEngine, type TestEngine } from './helpers/engine.ts';
import { seriesId } from '../metrics/series.ts';

describe('a poisoned request through the engine', () => {
  let running: TestEngine;
  beforeAll(async () => {
    running = await startTestEngine();
  });
  afterAll(async () => {
    await running.close();
  });

  it('refuses the poisoned request with 400 rejected_by_store, stores the good ones (2xx), stays ready and keeps accepting', async () => {
    const { engine } = running;
    const store = engine.ctx.store;
    const poisonId = seriesId({ __name__: 'http_poison' });
    const original = store.insertNative.bind(store);
    store.insertNative = async (table, target, select, columns, rows, settings, params) => {
      const ids = columns.find((c) => c.name === 'series_id')?.data as BigUint64Array | undefined;
      if (table === 'samples' && ids && ids.includes(poisonId)) {
        throw Object.assign(new Error('Cannot parse input: expected Float64'), { code: '27', type: 'CANNOT_PARSE_INPUT_ASSERTION_FAILED' });
      }
      return original(table, target, select, columns, rows, settings, params);
    };
    const now = Math.floor(Date.now() / 1000) - 60;
    const push = (name: string, n: number) =>
      fetch(`${engine.url}/api/v1/push`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ series: [{ labels: { __name__: name }, samples: Array.from({ length: n }, (_, i) => [now + i, i]) }] }),
      });
    try {
      // Sent together so that they share deliveries with the poisoned one.
      const names = ['http_good_0', 'http_good_1', 'http_poison', 'http_good_2', 'http_good_3'];
      const answers = await Promise.all(names.map((n) => push(n, 10)));
      expect(answers.map((a) => a.status)).toEqual([204, 204, 400, 204, 204]);
      expect(await answers[2]!.json()).toEqual({ error: 'rejected_by_store', message: 'Cannot parse input: expected Float64' });
      expect((await fetch(`${engine.url}/readyz`)).status).toBe(200);
      const later = await push('http_after', 3);
      expect(later.status).toBe(204);
      const [raw] = await store.query<{ good: number; poison: number; after: number }>(
        `SELECT countIf(s.metric LIKE 'http_good_%') AS good, countIf(s.metric = 'http_poison') AS poison, countIf(s.metric = 'http_after') AS after
         FROM tidemark.samples AS x INNER JOIN (SELECT DISTINCT series_id, metric FROM tidemark.series) AS s USING series_id`,
      );
      expect(raw).toEqual({ good: 40, poison: 0, after: 3 });
      const letters = await store.query<{ name: string; samples: number }>(`SELECT labels['__name__'] AS name, samples FROM tidemark.ingest_dead_letters`);
      expect(letters).toEqual([{ name: 'http_poison', samples: 10 }]);
      const exposition = await (await fetch(`${engine.url}/metrics`)).text();
      expect(exposition).toMatch(/tidemark_ingest_dead_letter_total\{error="CANNOT_PARSE_INPUT_ASSERTION_FAILED"\} 1/);
    } finally {
      store.insertNative = original;
    }
  });
});
