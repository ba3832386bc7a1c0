import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { InputError } from '../core/errors.ts';
import { formatFromContentType, parseExposition, parseSampleValue } from './exposition.ts';

const fixture = (name: string) => readFileSync(new URL(`./fixtures/${name}`, import.meta.url), 'utf8');

function errorOf(fn: () => unknown): InputError {
  try {
    fn();
  } catch (e) {
    if (e instanceof InputError) return e;
    throw e;
  }
  throw new Error('expected an InputError');
}

describe('parseExposition: Prometheus text 0.0.4', () => {
  it('parses a real node_exporter 1.5 scrape with its families and label sets', () => {
    const { samples, families } = parseExposition(fixture('node-exporter-1.5.prom'), 'prometheus');
    const sampleLines = fixture('node-exporter-1.5.prom').split('\n').filter((l) => l !== '' && !l.startsWith('#'));
    expect(samples).toHaveLength(sampleLines.length);
    expect(families.get('node_cpu_seconds_total')?.type).toBe('counter');
    expect(families.get('node_load1')?.type).toBe('gauge');
    const cpu = samples.find((s) => s.labels['__name__'] === 'node_cpu_seconds_total');
    expect(Object.keys(cpu!.labels).sort()).toEqual(['__name__', 'cpu', 'mode']);
    const fs = samples.find((s) => s.labels['__name__'] === 'node_filesystem_avail_bytes');
    expect(Object.keys(fs!.labels).sort()).toEqual(['__name__', 'device', 'fstype', 'mountpoint']);
    expect(samples.every((s) => s.timestampMs === undefined)).toBe(true);
    // A histogram arrives as its flat series.
    const names = new Set(samples.map((s) => s.labels['__name__']));
    expect(names.has('go_gc_duration_seconds_sum')).toBe(true);
    expect(names.has('go_gc_duration_seconds_count')).toBe(true);
    const quantiles = samples.filter((s) => s.labels['__name__'] === 'go_gc_duration_seconds' && s.labels['quantile'] !== undefined);
    expect(quantiles.length).toBeGreaterThanOrEqual(3);
  });

  it('parses a kubelet /metrics/cadvisor scrape with namespace, pod and container labels and its timestamps', () => {
    const { samples } = parseExposition(fixture('kubelet-cadvisor.prom'), 'prometheus');
    const cpu = samples.filter((s) => s.labels['__name__'] === 'container_cpu_usage_seconds_total');
    expect(cpu).toHaveLength(2);
    // The pod-level cgroup has container="" which, as in Prometheus, means no container label.
    expect(cpu[0]!.labels['container']).toBeUndefined();
    expect(cpu[1]!.labels).toMatchObject({ namespace: 'shop', pod: 'checkout-7d9f8b6c5d-x2x8q', container: 'checkout', cpu: 'total' });
    expect(cpu[1]!.value).toBe(118.20411);
    expect(cpu[1]!.timestampMs).toBe(1732400000123);
    const mem = samples.find((s) => s.labels['__name__'] === 'container_memory_working_set_bytes')!;
    expect(mem.labels).toMatchObject({ namespace: 'shop', pod: 'checkout-7d9f8b6c5d-x2x8q', container: 'checkout' });
    expect(mem.value).toBe(251658240);
    const net = samples.find((s) => s.labels['__name__'] === 'container_network_receive_bytes_total')!;
    expect(net.labels).toMatchObject({ namespace: 'shop', pod: 'checkout-7d9f8b6c5d-x2x8q', interface: 'eth0' });
    expect(net.timestampMs).toBe(1732400002789);
  });

  it('reads escapes, blanks, trailing commas, NaN and ±Inf', () => {
    const text = [
      '# a free comment',
      'm{a="x\\"y",b="back\\\\slash",c="new\\nline",} 1',
      '  m2 { a = "1" } NaN',
      'm3 +Inf 1700000000000',
      'm4 -Inf',
      'm5 1.5e3',
      '',
    ].join('\n');
    const { samples } = parseExposition(text, 'prometheus');
    expect(samples[0]!.labels).toEqual({ __name__: 'm', a: 'x"y', b: 'back\\slash', c: 'new\nline' });
    expect(samples[1]!.labels).toEqual({ __name__: 'm2', a: '1' });
    expect(Number.isNaN(samples[1]!.value)).toBe(true);
    expect(samples[2]).toEqual({ labels: { __name__: 'm3' }, value: Number.POSITIVE_INFINITY, timestampMs: 1700000000000 });
    expect(samples[3]!.value).toBe(Number.NEGATIVE_INFINITY);
    expect(samples[4]!.value).toBe(1500);
  });

  it.each([
    ['m{1x="a"} 1', 1, /invalid label name "1x"/],
    ['ok 1\nm{a="b} 1', 2, /unterminated label value/],
    ['ok 1\nok 2\nm abc', 3, /invalid value "abc"/],
    ['m 1 12.5', 1, /invalid timestamp "12.5"/],
    ['m 1 2 3', 1, /unexpected "3"/],
    ['m{a="1",a="2"} 1', 1, /duplicate label name "a"/],
    ['m{a="1"', 1, /unterminated label set/],
    ['m', 1, /no value for m/],
    ['# TYPE m bogus', 1, /unknown metric type "bogus"/],
    ['3m 1', 1, /expected a metric name/],
  ])('rejects %j at line %i', (text, line, message) => {
    const e = errorOf(() => parseExposition(text, 'prometheus'));
    expect(e.field).toBe(`line ${line}`);
    expect(e.message).toMatch(message);
  });
});

describe('parseExposition: OpenMetrics 1.0', () => {
  it('parses metadata, drops _created and exemplars, converts second timestamps', () => {
    const { samples, families } = parseExposition(fixture('openmetrics.txt'), 'openmetrics');
    expect(families.get('acme_http_router_request_seconds')).toMatchObject({ type: 'summary', unit: 'seconds' });
    expect(families.get('process_cpu_seconds')).toMatchObject({ type: 'counter', unit: 'seconds', help: 'Total user and system CPU time spent in seconds.' });
    const names = samples.map((s) => s.labels['__name__']);
    expect(names.filter((n) => n?.endsWith('_created'))).toEqual([]);
    expect(names).toContain('process_cpu_seconds_total');
    expect(names.filter((n) => n === 'foo_bucket')).toHaveLength(4);
    const bucket = samples.find((s) => s.labels['__name__'] === 'foo_bucket' && s.labels['le'] === '0.1')!;
    expect(bucket.value).toBe(8);
    expect(bucket.timestampMs).toBeUndefined();
    const build = samples.find((s) => s.labels['__name__'] === 'build_info')!;
    expect(build.labels['escaped']).toBe('quote " backslash \\ newline \n end');
    expect(build.timestampMs).toBe(1520879607789);
    const edge = samples.filter((s) => s.labels['__name__'] === 'edge').map((s) => s.value);
    expect(Number.isNaN(edge[0])).toBe(true);
    expect(edge.slice(1)).toEqual([Number.POSITIVE_INFINITY, Number.NEGATIVE_INFINITY]);
    // summary sum+count for two paths, goroutines, cpu, four buckets, count, sum, build_info, three edges
    expect(samples).toHaveLength(4 + 1 + 1 + 4 + 2 + 1 + 3);
  });

  it('requires # EOF and nothing after it', () => {
    expect(errorOf(() => parseExposition('m 1\n', 'openmetrics')).message).toMatch(/does not end with # EOF/);
    const after = errorOf(() => parseExposition('m 1\n# EOF\nm 2\n', 'openmetrics'));
    expect(after.field).toBe('line 3');
  });

  it('rejects blank lines and unknown comments, which the text format allows', () => {
    expect(errorOf(() => parseExposition('m 1\n\n# EOF\n', 'openmetrics')).field).toBe('line 2');
    expect(errorOf(() => parseExposition('# hello\nm 1\n# EOF\n', 'openmetrics')).message).toMatch(/unexpected comment/);
    expect(parseExposition('# hello\n\nm 1\n', 'prometheus').samples).toHaveLength(1);
  });
});

describe('helpers', () => {
  it('picks the format from the Content-Type', () => {
    expect(formatFromContentType('application/openmetrics-text; version=1.0.0; charset=utf-8')).toBe('openmetrics');
    expect(formatFromContentType('text/plain; version=0.0.4; charset=utf-8')).toBe('prometheus');
    expect(formatFromContentType(undefined)).toBe('prometheus');
  });

  it('reads sample values as Prometheus does', () => {
    expect(parseSampleValue('1e-05')).toBe(0.00001);
    expect(parseSampleValue('.5')).toBe(0.5);
    expect(parseSampleValue('inf')).toBe(Number.POSITIVE_INFINITY);
    expect(parseSampleValue('0x10')).toBeNull();
    expect(parseSampleValue('')).toBeNull();
  });
});
