import { describe, expect, it } from 'vitest';
import { workloadOf, workloadName } from './workload.ts';

describe('workloadOf', () => {
  it.each([
    ['web-7d9f8b6c5d-x2x9z', 'Deployment', 'web'],
    ['coredns-5d78c9869d-8qg5n', 'Deployment', 'coredns'],
    ['checkout-api-6b7f9c8d4-hwz7p', 'Deployment', 'checkout-api'],
    ['nginx-ingress-controller-bd8bcfvhd-k2l4m', 'Deployment', 'nginx-ingress-controller'],
    ['backup-29410560-q7kzd', 'CronJob', 'backup'],
    ['nightly-report-29410560-b8x2w', 'CronJob', 'nightly-report'],
    ['fluent-bit-5xk2p', 'DaemonSetOrJob', 'fluent-bit'],
    ['kube-dns-x2x9z', 'DaemonSetOrJob', 'kube-dns'],
    ['db-migrate-7hq4c', 'DaemonSetOrJob', 'db-migrate'],
    ['postgres-0', 'StatefulSet', 'postgres'],
    ['kafka-broker-12', 'StatefulSet', 'kafka-broker'],
    ['etcd-control-plane', 'Pod', 'etcd-control-plane'],
    ['standalone', 'Pod', 'standalone'],
  ])('%s is %s %s', (pod, kind, name) => {
    expect(workloadOf(pod)).toEqual({ kind, name });
  });

  it('never returns an empty name, and the name is a prefix of the pod name', () => {
    for (const pod of ['a', 'a-b', '-0', 'x-00', 'x-bcdfg', 'x-y-bcdfg', '0', 'web-7d9f8b6c5d-']) {
      const name = workloadName(pod);
      expect(name.length).toBeGreaterThan(0);
      expect(pod.startsWith(name)).toBe(true);
    }
  });
});
