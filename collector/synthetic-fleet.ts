// Label sets shaped like a real fleet's node_exporter and cAdvisor series,
// for benchmarks and tests of the receivers (not used by the engine itself).
import type { Labels } from '../core/bus/samples.ts';

const NODE_METRICS = [
  'node_cpu_seconds_total',
  'node_memory_MemAvailable_bytes',
  'node_network_receive_bytes_total',
  'node_filesystem_avail_bytes',
  'node_load1',
] as const;

const CONTAINER_METRICS = [
  'container_cpu_usage_seconds_total',
  'container_memory_working_set_bytes',
  'container_network_receive_bytes_total',
  'container_fs_usage_bytes',
] as const;

/** A node_exporter series of node `node` (8-10 labels, as Prometheus adds them after relabelling). */
export function nodeSeries(node: number, variant: number): Labels {
  const name = NODE_METRICS[variant % NODE_METRICS.length]!;
  const labels: Record<string, string> = {
    __name__: name,
    job: 'node-exporter',
    instance: `10.${(node >> 16) & 255}.${(node >> 8) & 255}.${node & 255}:9100`,
    node: `ip-10-${(node >> 8) & 255}-${node & 255}.eu-west-1.compute.internal`,
    cluster: 'prod-eu-west-1',
    region: 'eu-west-1',
    availability_zone: `eu-west-1${'abc'[node % 3]}`,
    nodepool: `pool-${node % 7}`,
  };
  if (name === 'node_cpu_seconds_total') {
    labels['cpu'] = String(variant % 16);
    labels['mode'] = ['user', 'system', 'idle', 'iowait', 'irq', 'softirq', 'steal', 'nice'][variant % 8]!;
  } else if (name === 'node_network_receive_bytes_total') {
    labels['device'] = `eth${variant % 2}`;
  } else if (name === 'node_filesystem_avail_bytes') {
    labels['device'] = '/dev/nvme0n1p1';
    labels['fstype'] = 'ext4';
    labels['mountpoint'] = `/var/lib/disk${variant % 4}`;
  }
  return labels;
}

/** A kubelet /metrics/cadvisor series of one container (11-12 labels). */
export function containerSeries(container: number, variant: number): Labels {
  const name = CONTAINER_METRICS[variant % CONTAINER_METRICS.length]!;
  const pod = `checkout-${(container * 2654435761) % 100000}-${(container % 9973).toString(36)}`;
  const labels: Record<string, string> = {
    __name__: name,
    job: 'kubelet',
    metrics_path: '/metrics/cadvisor',
    instance: `10.0.${(container >> 5) & 255}.${(container >> 2) & 255}:10250`,
    node: `ip-10-0-${(container >> 5) & 255}-${(container >> 2) & 255}.eu-west-1.compute.internal`,
    namespace: `team-${container % 40}`,
    pod,
    container: ['app', 'sidecar', 'istio-proxy'][container % 3]!,
    image: `registry.example.com/team-${container % 40}/app:v1.${container % 17}.0`,
    id: `/kubepods/burstable/pod${container.toString(16).padStart(8, '0')}-4b1f-11ee-be56-0242ac120002/${container.toString(16).padStart(12, '0')}`,
    name: `k8s_app_${pod}_team-${container % 40}_${container}`,
  };
  if (name === 'container_network_receive_bytes_total') labels['interface'] = 'eth0';
  return labels;
}

/** `count` distinct series, half node_exporter- and half cAdvisor-like. */
export function fleetSeries(count: number, offset = 0): Labels[] {
  const out: Labels[] = [];
  for (let i = offset; i < offset + count; i++) {
    out.push(i % 2 === 0 ? nodeSeries(i >> 4, i) : containerSeries(i >> 2, i));
  }
  return out;
}
