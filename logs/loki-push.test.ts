// The protobuf push decoder's label cache: a label string checked once is
// reused push after push, without letting one entry's structured metadata
// leak into the stream's shared set, and a bad label string is refused
// every time it comes, naming its own field.
import { describe, expect, it } from 'vitest';
import { lokiProtobufRecords } from './loki-push.ts';
import { lineLimits } from './limits.ts';
import { encodePush } from '../test/logs/promtail.ts';

const nowMs = Date.now();
const limits = lineLimits(nowMs, 30 * 86_400_000, 1 << 16);
const ns = BigInt(nowMs) * 1_000_000n;

describe('lokiProtobufRecords label cache', () => {
  it('gives the same checked label set to the same label string in later pushes, metadata kept per entry', () => {
    const labels = '{cluster="c1", namespace="shop", pod="web-7d9f8b6c5d-x2x9z"}';
    const first = lokiProtobufRecords(encodePush([{ labels, entries: [{ ns, line: 'a', metadata: { trace_id: 't1' } }, { ns: ns + 1n, line: 'b' }] }]), 't', limits, false);
    const second = lokiProtobufRecords(encodePush([{ labels, entries: [{ ns: ns + 2n, line: 'c' }] }]), 'other', limits, false);
    expect(first[0]!.labels).toEqual({ cluster: 'c1', namespace: 'shop', pod: 'web-7d9f8b6c5d-x2x9z', workload: 'web', trace_id: 't1' });
    expect(first[1]!.labels).toEqual({ cluster: 'c1', namespace: 'shop', pod: 'web-7d9f8b6c5d-x2x9z', workload: 'web' });
    // The second push shares the first's checked set (no re-parse), untouched by the first entry's metadata.
    expect(second[0]!.labels).toBe(first[1]!.labels);
    expect(Object.isFrozen(second[0]!.labels)).toBe(true);
    expect(second[0]!.tenant).toBe('other');
  });

  it('refuses a bad label string each time, naming the stream it is in', () => {
    const bad = '{cluster="c1", namespace=}';
    const body = (i: number) => encodePush([...Array.from({ length: i }, () => ({ labels: '{job="ok"}', entries: [{ ns, line: 'x' }] })), { labels: bad, entries: [{ ns, line: 'y' }] }]);
    expect(() => lokiProtobufRecords(body(0), 't', limits, false)).toThrow(/streams\[0\]\.labels/);
    expect(() => lokiProtobufRecords(body(2), 't', limits, false)).toThrow(/streams\[2\]\.labels/);
  });
});
