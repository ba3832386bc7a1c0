// The built-in host source against a real prometheus-node-exporter on the
// same machine: for the metrics both report, the same names and label names,
// the same CPUs and modes, the same filesystems, and the same MemTotal.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readHostSamples, type HostSample } from '../collector/host.ts';
import { fetchTarget, scrapeTarget } from '../collector/scrape.ts';
import { formatFromContentType, parseExposition, type ExpositionSample } from '../collector/exposition.ts';
import { startNodeExporter, type Peer } from './helpers/peers.ts';

const SHARED = [
  'node_cpu_seconds_total',
  'node_memory_MemTotal_bytes',
  'node_memory_MemAvailable_bytes',
  'node_memory_MemFree_bytes',
  'node_memory_Buffers_bytes',
  'node_memory_Cached_bytes',
  'node_network_receive_bytes_total',
  'node_network_transmit_bytes_total',
  'node_filesystem_avail_bytes',
  'node_filesystem_size_bytes',
  'node_filesystem_free_bytes',
  'node_load1',
  'node_load5',
  'node_load15',
  'node_boot_time_seconds',
  'node_context_switches_total',
  'node_procs_running',
];

let exporter: Peer;
let theirs: ExpositionSample[];
let ours: HostSample[];
beforeAll(async () => {
  exporter = await startNodeExporter();
  const res = await fetchTarget(scrapeTarget({ job: 'node', url: `${exporter.baseUrl}/metrics`, interval: '15s', timeout: '10s', labels: {} }));
  if (!res.ok) throw new Error(res.error);
  theirs = parseExposition(res.body, formatFromContentType(res.contentType)).samples;
  // The Debian build of node_exporter excludes more mount points than upstream by default.
  ours = await readHostSamples({ excludedMountPoints: /^\/(dev|proc|run|sys|mnt|media|var\/lib\/docker\/.+|var\/lib\/containers\/storage\/.+)($|\/)/ });
});
afterAll(async () => {
  await exporter?.stop();
});

const byName = <S extends { labels: Record<string, string> }>(samples: readonly S[], name: string): S[] => samples.filter((s) => s.labels['__name__'] === name);
const labelNames = (samples: readonly { labels: Record<string, string> }[]) => new Set(samples.map((s) => Object.keys(s.labels).sort().join(',')));
const labelValues = (samples: readonly { labels: Record<string, string> }[], names: string[]) => new Set(samples.map((s) => names.map((n) => s.labels[n]).join('|')));

describe('host source vs node_exporter', () => {
  it.each(SHARED)('%s has the same label names', (name) => {
    const theirSamples = byName(theirs, name);
    const ourSamples = byName(ours, name);
    expect(theirSamples.length, 'node_exporter reports it').toBeGreaterThan(0);
    expect(ourSamples.length, 'the host source reports it').toBeGreaterThan(0);
    expect(labelNames(ourSamples)).toEqual(labelNames(theirSamples));
  });

  it('every node_* metric name of ours that node_exporter also has carries the same label names', () => {
    const theirNames = new Set(theirs.map((s) => s.labels['__name__']));
    const compared: string[] = [];
    for (const name of new Set(ours.map((s) => s.labels['__name__']!))) {
      if (!theirNames.has(name) || name === 'node_uname_info') continue;
      compared.push(name);
      expect(labelNames(byName(ours, name)), name).toEqual(labelNames(byName(theirs, name)));
    }
    expect(compared.length).toBeGreaterThan(60);
  });

  it('sees the same CPUs and modes, network devices and filesystems, and the same MemTotal', () => {
    expect(labelValues(byName(ours, 'node_cpu_seconds_total'), ['cpu', 'mode'])).toEqual(labelValues(byName(theirs, 'node_cpu_seconds_total'), ['cpu', 'mode']));
    // node_exporter may see devices through netlink that /proc/net/dev also lists; ours must cover its set.
    const theirDevices = labelValues(byName(theirs, 'node_network_receive_bytes_total'), ['device']);
    const ourDevices = labelValues(byName(ours, 'node_network_receive_bytes_total'), ['device']);
    for (const d of theirDevices) expect(ourDevices).toContain(d);
    const fsLabels = ['device', 'fstype', 'mountpoint'];
    expect(labelValues(byName(ours, 'node_filesystem_size_bytes'), fsLabels)).toEqual(labelValues(byName(theirs, 'node_filesystem_size_bytes'), fsLabels));
    expect(byName(ours, 'node_memory_MemTotal_bytes')[0]!.value).toBe(byName(theirs, 'node_memory_MemTotal_bytes')[0]!.value);
    expect(byName(ours, 'node_boot_time_seconds')[0]!.value).toBe(byName(theirs, 'node_boot_time_seconds')[0]!.value);
  });
});
