import { describe, expect, it } from 'vitest';
import { SeriesResolver } from './series-resolver.ts';

const UP = { __name__: 'up', job: 'node' };

function send(resolver: SeriesResolver, tenant: string, labels = UP) {
  const builder = resolver.batch(tenant);
  builder.add(labels, 1_700_000_000_000, 1);
  const batch = builder.build();
  builder.commit();
  return batch;
}

describe('SeriesResolver', () => {
  it('defines a series once per tenant: a second tenant sending the same label set gets its own definition', () => {
    const resolver = new SeriesResolver();
    const a1 = send(resolver, 'a');
    expect(a1.tenant).toBe('a');
    expect(a1.series.map((s) => s.labels)).toEqual([UP]);
    expect(send(resolver, 'a').series).toEqual([]); // already defined for a
    const b1 = send(resolver, 'b');
    expect(b1.tenant).toBe('b');
    expect(b1.series.map((s) => s.labels)).toEqual([UP]);
    expect(b1.series[0]!.id).toBe(a1.series[0]!.id); // the id is the labels' hash, whatever the tenant
    expect(send(resolver, 'b').series).toEqual([]);
  });

  it('remembers nothing of a batch that was not committed', () => {
    const resolver = new SeriesResolver();
    const builder = resolver.batch('a');
    builder.add(UP, 1_700_000_000_000, 1);
    expect(builder.build().series).toHaveLength(1);
    expect(send(resolver, 'a').series).toHaveLength(1);
    expect(send(resolver, 'a').series).toHaveLength(0);
  });
});
