import { describe, expect, it } from 'vitest';
import { MemoryBus } from '../core/bus/memory-bus.ts';
import { seriesId } from '../metrics/series.ts';
import { silentLogger } from '../core/log.ts';
import { HostSource, filesystemSamples, parseLoadavg, parseMeminfo, parseMounts, parseNetDev, parseProcStat, readHostSamples, type HostSample } from './host.ts';

const value = (samples: HostSample[], labels: Record<string, string>) =>
  samples.find((s) => Object.keys(labels).length === Object.keys(s.labels).length && Object.entries(labels).every(([k, v]) => s.labels[k] === v))?.value;

describe('/proc parsers', () => {
  it('reads /proc/stat into node_cpu_seconds_total{cpu,mode} in seconds and the kernel counters', () => {
    const text = [
      'cpu  13040 0 6449 193574 909 0 180 809 0 0',
      'cpu0 5011 0 2710 99044 72 0 32 387 12 3',
      'cpu1 7428 0 3739 94530 839 0 148 422 0 0',
      'intr 434364 0 9 0',
      'ctxt 1118454',
      'btime 1795471812',
      'processes 7205',
      'procs_running 2',
      'procs_blocked 1',
    ].join('\n');
    const s = parseProcStat(text);
    expect(value(s, { __name__: 'node_cpu_seconds_total', cpu: '0', mode: 'user' })).toBe(50.11);
    expect(value(s, { __name__: 'node_cpu_seconds_total', cpu: '1', mode: 'idle' })).toBe(945.3);
    expect(value(s, { __name__: 'node_cpu_seconds_total', cpu: '0', mode: 'steal' })).toBe(3.87);
    expect(value(s, { __name__: 'node_cpu_guest_seconds_total', cpu: '0', mode: 'nice' })).toBe(0.03);
    expect(s.filter((x) => x.labels['__name__'] === 'node_cpu_seconds_total')).toHaveLength(16);
    expect(value(s, { __name__: 'node_boot_time_seconds' })).toBe(1795471812);
    expect(value(s, { __name__: 'node_context_switches_total' })).toBe(1118454);
    expect(value(s, { __name__: 'node_forks_total' })).toBe(7205);
    expect(value(s, { __name__: 'node_intr_total' })).toBe(434364);
    expect(value(s, { __name__: 'node_procs_running' })).toBe(2);
    expect(value(s, { __name__: 'node_procs_blocked' })).toBe(1);
  });

  it('reads /proc/meminfo with node_exporter names', () => {
    const s = parseMeminfo('MemTotal:       16384000 kB\nMemAvailable:    8192000 kB\nActive(anon):      32812 kB\nHugePages_Total:       0\n');
    expect(value(s, { __name__: 'node_memory_MemTotal_bytes' })).toBe(16384000 * 1024);
    expect(value(s, { __name__: 'node_memory_MemAvailable_bytes' })).toBe(8192000 * 1024);
    expect(value(s, { __name__: 'node_memory_Active_anon_bytes' })).toBe(32812 * 1024);
    expect(value(s, { __name__: 'node_memory_HugePages_Total' })).toBe(0);
  });

  it('reads /proc/net/dev into per-device counters', () => {
    const text = [
      'Inter-|   Receive                                                |  Transmit',
      ' face |bytes    packets errs drop fifo frame compressed multicast|bytes    packets errs drop fifo colls carrier compressed',
      '    lo:    1000      10    0    0    0     0          0         0     1000      10    0    0    0     0       0          0',
      '  eth0: 536067370  400000    1    2    3     4          5         6 12345678   90000    7    8    9    10      11         12',
    ].join('\n');
    const s = parseNetDev(text);
    expect(value(s, { __name__: 'node_network_receive_bytes_total', device: 'eth0' })).toBe(536067370);
    expect(value(s, { __name__: 'node_network_receive_multicast_total', device: 'eth0' })).toBe(6);
    expect(value(s, { __name__: 'node_network_transmit_bytes_total', device: 'eth0' })).toBe(12345678);
    expect(value(s, { __name__: 'node_network_transmit_colls_total', device: 'eth0' })).toBe(10);
    expect(value(s, { __name__: 'node_network_transmit_compressed_total', device: 'eth0' })).toBe(12);
    expect(s).toHaveLength(32);
  });

  it('reads /proc/loadavg', () => {
    expect(parseLoadavg('0.42 0.30 0.15 1/234 5678\n').map((s) => [s.labels['__name__'], s.value])).toEqual([
      ['node_load1', 0.42],
      ['node_load5', 0.3],
      ['node_load15', 0.15],
    ]);
  });

  it('keeps real filesystems from /proc/mounts as node_exporter does', () => {
    const mounts = parseMounts(
      [
        'proc /proc proc rw,relatime 0 0',
        'devtmpfs /dev devtmpfs rw 0 0',
        'tmpfs /dev/shm tmpfs rw 0 0',
        '/dev/vda / ext4 rw,relatime 0 0',
        'overlay /var/lib/docker/overlay2/x/merged overlay rw 0 0',
        'tmpfs /run tmpfs rw,nosuid 0 0',
        '/dev/vdb /mnt/my\\040data xfs ro,relatime 0 0',
        '/dev/vda / ext4 rw,relatime 0 0',
        'cgroup2 /sys/fs/cgroup cgroup2 rw 0 0',
      ].join('\n'),
    );
    expect(mounts).toEqual([
      { device: '/dev/vda', mountpoint: '/', fstype: 'ext4', readonly: false },
      { device: 'tmpfs', mountpoint: '/run', fstype: 'tmpfs', readonly: false },
      { device: '/dev/vdb', mountpoint: '/mnt/my data', fstype: 'xfs', readonly: true },
    ]);
  });

  it('turns statfs into node_filesystem_* bytes, or device_error when it fails', () => {
    const mount = { device: '/dev/vda', mountpoint: '/', fstype: 'ext4', readonly: false };
    const s = filesystemSamples(mount, { bsize: 4096, blocks: 1000, bfree: 600, bavail: 500, files: 100, ffree: 40 });
    const labels = { device: '/dev/vda', fstype: 'ext4', mountpoint: '/' };
    expect(value(s, { __name__: 'node_filesystem_size_bytes', ...labels })).toBe(4_096_000);
    expect(value(s, { __name__: 'node_filesystem_free_bytes', ...labels })).toBe(2_457_600);
    expect(value(s, { __name__: 'node_filesystem_avail_bytes', ...labels })).toBe(2_048_000);
    expect(value(s, { __name__: 'node_filesystem_files_free', ...labels })).toBe(40);
    expect(filesystemSamples(mount, null)).toEqual([{ labels: { __name__: 'node_filesystem_device_error', ...labels }, value: 1 }]);
  });
});

describe('HostSource', () => {
  it('publishes this machine as job="node", instance=<hostname>, defining series once', async () => {
    const bus = new MemoryBus({ capacity: 1_000_000, maxDelivery: 1_000_000 });
    const host = new HostSource({ bus, tenant: 't', log: silentLogger, intervalMs: 15_000, instance: 'box-1', now: () => 1_767_225_600_000 });
    const first = await host.collectOnce();
    const second = await host.collectOnce();
    const mem = seriesId({ __name__: 'node_memory_MemAvailable_bytes', job: 'node', instance: 'box-1' });
    const i = [...first.seriesIds].indexOf(mem);
    expect(i).toBeGreaterThanOrEqual(0);
    expect(first.values[i]).toBeGreaterThan(0);
    expect(first.timestamps[i]).toBe(1_767_225_600_000);
    expect(first.series.length).toBe(first.length);
    expect(second.series).toEqual([]);
    expect(second.length).toBe(first.length);
    await bus.close();
  });

  it('reads this machine: CPUs, memory, load and the root filesystem', async () => {
    const samples = await readHostSamples();
    const names = new Set(samples.map((s) => s.labels['__name__']));
    for (const n of ['node_cpu_seconds_total', 'node_memory_MemTotal_bytes', 'node_memory_MemAvailable_bytes', 'node_load1', 'node_boot_time_seconds', 'node_network_receive_bytes_total']) {
      expect(names, n).toContain(n);
    }
    expect(samples.some((s) => s.labels['__name__'] === 'node_filesystem_size_bytes' && s.labels['mountpoint'] === '/')).toBe(true);
  });
});
