import { describe, expect, it } from 'vitest';
import { PartialJoiner, parseCriLine, podLogLabels, podLogPath } from './cri.ts';

describe('CRI log lines', () => {
  it('parses time (to the nanosecond), stream, tag and text', () => {
    expect(parseCriLine('2026-11-29T22:10:00.123456789Z stdout F GET /healthz 200')).toEqual({ tsNs: 1795990200123456789n, stream: 'stdout', partial: false, text: 'GET /healthz 200' });
    expect(parseCriLine('2026-11-29T22:10:00+01:00 stderr P ')).toEqual({ tsNs: 1795986600000000000n, stream: 'stderr', partial: true, text: '' });
    expect(parseCriLine('2026-11-29T22:10:00Z stdout F')?.text).toBe('');
  });

  it('refuses what is not a CRI line', () => {
    for (const bad of ['', 'hello world', '2026-11-29T22:10:00Z stdin F x', '2026-11-29T22:10:00Z stdout X x', 'yesterday stdout F x']) expect(parseCriLine(bad)).toBeNull();
  });

  it('joins partial pieces per stream, with the first piece\'s time', () => {
    const j = new PartialJoiner();
    const p = (stream: 'stdout' | 'stderr', partial: boolean, text: string, t: bigint) => ({ tsNs: t, stream, partial, text });
    expect(j.push(p('stdout', true, 'hel', 1n))).toBeNull();
    expect(j.push(p('stderr', false, 'oops', 2n))).toEqual(p('stderr', false, 'oops', 2n));
    expect(j.pending).toBe(true);
    expect(j.push(p('stdout', true, 'lo ', 3n))).toBeNull();
    expect(j.push(p('stdout', false, 'world', 4n))).toEqual(p('stdout', false, 'hello world', 1n));
    expect(j.pending).toBe(false);
  });

  it('derives namespace, pod, workload and container from the path', () => {
    const path = podLogPath('/var/log/pods/shop_web-7d9f8b6c5d-x2x9z_0f9a7c1e-1111-2222-3333-444455556666/app/0.log')!;
    expect(path).toEqual({ namespace: 'shop', pod: 'web-7d9f8b6c5d-x2x9z', uid: '0f9a7c1e-1111-2222-3333-444455556666', container: 'app' });
    expect(podLogLabels(path, 'prod-eu')).toEqual({ cluster: 'prod-eu', namespace: 'shop', workload: 'web', pod: 'web-7d9f8b6c5d-x2x9z', container: 'app' });
    expect(podLogPath('/var/log/pods/shop_web_uid/app/0.log.20261129-221000')).toBeNull();
    expect(podLogPath('/var/log/syslog')).toBeNull();
  });
});
