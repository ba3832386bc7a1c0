import { describe, expect, it } from 'vitest';
import { decodePushRequest, timestampNanos } from './logproto.ts';
import { encodePush, labelString } from '../test/logs/promtail.ts';

describe('decodePushRequest', () => {
  it('reads what protobufjs encodes from Loki\'s definitions: labels, exact times, lines, structured metadata', () => {
    const bytes = encodePush([
      { labels: labelString({ job: 'a' }), entries: [{ ns: 1795990200123456789n, line: 'héllo', metadata: { trace_id: 't1', span: 's' } }, { ns: 1795990200000000001n, line: '' }] },
      { labels: '{job="b"}', entries: [] },
    ]);
    const streams = decodePushRequest(bytes);
    expect(streams).toEqual([
      {
        labels: '{job="a"}',
        entries: [
          { seconds: 1795990200, nanos: 123456789, line: 'héllo', metadata: { trace_id: 't1', span: 's' } },
          { seconds: 1795990200, nanos: 1, line: '', metadata: null },
        ],
      },
      { labels: '{job="b"}', entries: [] },
    ]);
    expect(timestampNanos(1795990200, 1)).toBe('1795990200000000001');
    expect(timestampNanos(0, 5)).toBe('5');
  });

  it('refuses invalid UTF-8 naming the field, and truncated bytes', () => {
    const bytes = Buffer.from(encodePush([{ labels: '{job="a"}', entries: [{ ns: 1n, line: 'ok-line' }] }]));
    bytes[bytes.indexOf('ok-line')] = 0xc3;
    expect(() => decodePushRequest(bytes)).toThrow(/streams\[0\]\.entries\[0\]\.line: not valid UTF-8/);
    const whole = encodePush([{ labels: '{job="a"}', entries: [{ ns: 1n, line: 'a line' }] }]);
    expect(() => decodePushRequest(whole.subarray(0, whole.length - 3))).toThrow();
  });
});
