import { describe, expect, it } from 'vitest';
import { labelSetProblem, seriesId } from './series.ts';

describe('seriesId', () => {
  it('is the same whatever order the labels come in', () => {
    expect(seriesId({ __name__: 'up', job: 'a', instance: 'b' })).toBe(seriesId({ instance: 'b', job: 'a', __name__: 'up' }));
  });

  it('tells label sets apart, including values that would collide if joined naively', () => {
    const ids = new Set([
      seriesId({ __name__: 'up', a: 'bc' }),
      seriesId({ __name__: 'up', ab: 'c' }),
      seriesId({ __name__: 'up', a: 'b', c: '' }),
      seriesId({ __name__: 'up' }),
    ]);
    expect(ids.size).toBe(4);
  });

  it('is a stable 64-bit value', () => {
    const id = seriesId({ __name__: 'node_load1', instance: 'vm', job: 'node' });
    expect(typeof id).toBe('bigint');
    expect(id).toBeLessThan(2n ** 64n);
    expect(seriesId({ __name__: 'node_load1', instance: 'vm', job: 'node' })).toBe(id);
  });
});

describe('labelSetProblem', () => {
  it('names what is wrong', () => {
    expect(labelSetProblem({ job: 'x' })).toBe('series has no __name__ label');
    expect(labelSetProblem({ __name__: '1up' })).toMatch(/invalid metric name/);
    expect(labelSetProblem({ __name__: 'up', 'bad-name': 'x' })).toBe('invalid label name "bad-name"');
    expect(labelSetProblem({ __name__: 'up', job: 'x' })).toBeNull();
  });
});
