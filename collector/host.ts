// The built-in host source: this machine's CPU, memory, network, load and
// filesystems from /proc and statfs, under node_exporter's metric names and
// label sets (job="node", instance=<hostname>), so dashboards and queries
// written for node_exporter work on a fresh install with no exporter. The
// /proc parsers are pure; HostSource is the timer-and-read shell.
import { readFile, statfs } from 'node:fs/promises';
import os from 'node:os';
import type { Logger } from '../core/log.ts';
import type { Bus } from '../core/bus/bus.ts';
import type { Labels, SampleBatch } from '../core/bus/samples.ts';
import { SeriesResolver } from './series-resolver.ts';
import type { CollectorMetrics } from './self-metrics.ts';

/** A host sample before the target labels are attached. */
export interface HostSample {
  readonly labels: Labels;
  readonly value: number;
}

const sample = (name: string, value: number, labels: Record<string, string> = {}): HostSample => ({ labels: { __name__: name, ...labels }, value });

/** Kernel clock ticks per second for /proc/stat; 100 on every Linux node_exporter supports. */
const USER_HZ = 100;
const CPU_MODES = ['user', 'nice', 'system', 'idle', 'iowait', 'irq', 'softirq', 'steal'] as const;

/** node_cpu_seconds_total, node_cpu_guest_seconds_total and the counters of /proc/stat. */
export function parseProcStat(text: string): HostSample[] {
  const out: HostSample[] = [];
  for (const line of text.split('\n')) {
    const parts = line.trim().split(/\s+/);
    const key = parts[0];
    if (!key) continue;
    if (/^cpu\d+$/.test(key)) {
      const cpu = key.slice(3);
      const fields = parts.slice(1).map(Number);
      CPU_MODES.forEach((mode, i) => {
        if (fields[i] !== undefined) out.push(sample('node_cpu_seconds_total', fields[i]! / USER_HZ, { cpu, mode }));
      });
      if (fields[8] !== undefined) out.push(sample('node_cpu_guest_seconds_total', fields[8] / USER_HZ, { cpu, mode: 'user' }));
      if (fields[9] !== undefined) out.push(sample('node_cpu_guest_seconds_total', fields[9] / USER_HZ, { cpu, mode: 'nice' }));
    } else if (key === 'btime') out.push(sample('node_boot_time_seconds', Number(parts[1])));
    else if (key === 'ctxt') out.push(sample('node_context_switches_total', Number(parts[1])));
    else if (key === 'processes') out.push(sample('node_forks_total', Number(parts[1])));
    else if (key === 'intr') out.push(sample('node_intr_total', Number(parts[1])));
    else if (key === 'procs_running') out.push(sample('node_procs_running', Number(parts[1])));
    else if (key === 'procs_blocked') out.push(sample('node_procs_blocked', Number(parts[1])));
  }
  return out;
}

/** node_memory_<Field>[_bytes]: kB fields in bytes with a _bytes suffix, "(anon)" as "_anon", as node_exporter names them. */
export function parseMeminfo(text: string): HostSample[] {
  const out: HostSample[] = [];
  for (const line of text.split('\n')) {
    const parts = line.trim().split(/\s+/);
    if (parts.length < 2 || !parts[0]!.endsWith(':')) continue;
    let key = parts[0]!.slice(0, -1).replace(/\((.*)\)/, '_$1');
    let value = Number(parts[1]);
    if (!Number.isFinite(value)) continue;
    if (parts.length === 3) {
      value *= 1024;
      key += '_bytes';
    }
    if (!/^[a-zA-Z_:][a-zA-Z0-9_:]*$/.test(key)) continue;
    out.push(sample(`node_memory_${key}`, value));
  }
  return out;
}

const RECEIVE = ['bytes', 'packets', 'errs', 'drop', 'fifo', 'frame', 'compressed', 'multicast'] as const;
const TRANSMIT = ['bytes', 'packets', 'errs', 'drop', 'fifo', 'colls', 'carrier', 'compressed'] as const;

/** node_network_{receive,transmit}_*_total{device} from /proc/net/dev. */
export function parseNetDev(text: string): HostSample[] {
  const out: HostSample[] = [];
  for (const line of text.split('\n')) {
    const colon = line.indexOf(':');
    if (colon < 0 || line.includes('|')) continue;
    const device = line.slice(0, colon).trim();
    const fields = line.slice(colon + 1).trim().split(/\s+/).map(Number);
    if (!device || fields.length < 16) continue;
    RECEIVE.forEach((f, i) => out.push(sample(`node_network_receive_${f}_total`, fields[i]!, { device })));
    TRANSMIT.forEach((f, i) => out.push(sample(`node_network_transmit_${f}_total`, fields[8 + i]!, { device })));
  }
  return out;
}

/** node_load1, node_load5, node_load15. */
export function parseLoadavg(text: string): HostSample[] {
  const [l1, l5, l15] = text.trim().split(/\s+/).map(Number);
  if (l1 === undefined || l5 === undefined || l15 === undefined) return [];
  return [sample('node_load1', l1), sample('node_load5', l5), sample('node_load15', l15)];
}

export interface Mount {
  readonly device: string;
  readonly mountpoint: string;
  readonly fstype: string;
  readonly readonly: boolean;
}

// Upstream node_exporter 1.5's defaults for --collector.filesystem.mount-points-exclude and
// fs-types-exclude (Debian's build also leaves out /run, /mnt and /media).
export const EXCLUDED_MOUNT_POINTS = /^\/(dev|proc|run\/credentials\/.+|sys|var\/lib\/docker\/.+|var\/lib\/containers\/storage\/.+)($|\/)/;
export const EXCLUDED_FS_TYPES =
  /^(autofs|binfmt_misc|bpf|cgroup2?|configfs|debugfs|devpts|devtmpfs|fusectl|hugetlbfs|iso9660|mqueue|nsfs|overlay|proc|procfs|pstore|rpc_pipefs|securityfs|selinuxfs|squashfs|sysfs|tracefs)$/;

/** /proc/mounts escapes blanks and backslashes as octal (\040). */
function unescapeMountField(s: string): string {
  return s.replace(/\\([0-7]{3})/g, (_m, oct: string) => String.fromCharCode(parseInt(oct, 8)));
}

/** The filesystems node_exporter would report: pseudo filesystems and system mount points left out, duplicates once. */
export function parseMounts(text: string, excludedMountPoints: RegExp = EXCLUDED_MOUNT_POINTS): Mount[] {
  const out: Mount[] = [];
  const seen = new Set<string>();
  for (const line of text.split('\n')) {
    const parts = line.trim().split(/\s+/);
    if (parts.length < 4) continue;
    const [device, mountpoint, fstype, options] = [unescapeMountField(parts[0]!), unescapeMountField(parts[1]!), parts[2]!, parts[3]!];
    if (excludedMountPoints.test(mountpoint) || EXCLUDED_FS_TYPES.test(fstype)) continue;
    const key = `${device}\u0000${mountpoint}\u0000${fstype}`;
    if (seen.has(key)) continue;
    seen.add(key);
    out.push({ device, mountpoint, fstype, readonly: options.split(',').includes('ro') });
  }
  return out;
}

export interface FilesystemStats {
  readonly bsize: number;
  readonly blocks: number;
  readonly bfree: number;
  readonly bavail: number;
  readonly files: number;
  readonly ffree: number;
}

/** node_filesystem_* for one mount; statfs failing yields only device_error 1, as in node_exporter. */
export function filesystemSamples(mount: Mount, stats: FilesystemStats | null): HostSample[] {
  const labels = { device: mount.device, fstype: mount.fstype, mountpoint: mount.mountpoint };
  if (!stats) return [sample('node_filesystem_device_error', 1, labels)];
  return [
    sample('node_filesystem_size_bytes', stats.blocks * stats.bsize, labels),
    sample('node_filesystem_free_bytes', stats.bfree * stats.bsize, labels),
    sample('node_filesystem_avail_bytes', stats.bavail * stats.bsize, labels),
    sample('node_filesystem_files', stats.files, labels),
    sample('node_filesystem_files_free', stats.ffree, labels),
    sample('node_filesystem_readonly', mount.readonly ? 1 : 0, labels),
    sample('node_filesystem_device_error', 0, labels),
  ];
}

/** node_uname_info from what Node exposes of uname(2). */
export function unameSample(domainname: string): HostSample {
  return sample('node_uname_info', 1, {
    domainname,
    machine: os.machine(),
    nodename: os.hostname(),
    release: os.release(),
    sysname: os.type(),
    version: os.version(),
  });
}

async function readOptional(path: string): Promise<string | null> {
  try {
    return await readFile(path, 'utf8');
  } catch {
    return null;
  }
}

/** A statfs that gives up after `timeoutMs` (a hung network mount must not stall the source). */
async function statfsWithin(path: string, timeoutMs: number): Promise<FilesystemStats | null> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<null>((resolve) => {
    timer = setTimeout(() => resolve(null), timeoutMs);
  });
  try {
    return await Promise.race([statfs(path).catch(() => null), timeout]);
  } finally {
    clearTimeout(timer);
  }
}

export interface HostReadOptions {
  /** Where /proc is (tests point it elsewhere). */
  readonly procPath?: string;
  readonly statfsTimeoutMs?: number;
  /** Mount points left out (default: upstream node_exporter's). */
  readonly excludedMountPoints?: RegExp;
}

/** One reading of every host metric, unlabelled by target. */
export async function readHostSamples(options: HostReadOptions = {}): Promise<HostSample[]> {
  const proc = options.procPath ?? '/proc';
  const [stat, meminfo, netdev, loadavg, mounts1, mountsSelf, domainname] = await Promise.all([
    readOptional(`${proc}/stat`),
    readOptional(`${proc}/meminfo`),
    readOptional(`${proc}/net/dev`),
    readOptional(`${proc}/loadavg`),
    // node_exporter reads init's mount table, which is the host's when we run in a container with hostPID.
    readOptional(`${proc}/1/mounts`),
    readOptional(`${proc}/mounts`),
    readOptional(`${proc}/sys/kernel/domainname`),
  ]);
  const out: HostSample[] = [];
  if (stat) out.push(...parseProcStat(stat));
  if (meminfo) out.push(...parseMeminfo(meminfo));
  if (netdev) out.push(...parseNetDev(netdev));
  if (loadavg) out.push(...parseLoadavg(loadavg));
  const mounts = parseMounts(mounts1 ?? mountsSelf ?? '', options.excludedMountPoints);
  const stats = await Promise.all(mounts.map((m) => statfsWithin(m.mountpoint, options.statfsTimeoutMs ?? 2000)));
  mounts.forEach((m, i) => out.push(...filesystemSamples(m, stats[i] ?? null)));
  out.push(unameSample(domainname?.trim() || '(none)'));
  out.push(sample('node_time_seconds', Date.now() / 1000));
  return out;
}

export interface HostSourceDeps {
  readonly bus: Bus;
  readonly tenant: string;
  readonly log: Logger;
  readonly intervalMs: number;
  readonly metrics?: CollectorMetrics;
  readonly resolver?: SeriesResolver;
  /** The instance label (default: this machine's hostname). */
  readonly instance?: string;
  readonly read?: () => Promise<HostSample[]>;
  readonly now?: () => number;
}

/** Reads the host every interval and publishes each reading as one batch with job="node", instance=<hostname>. */
export class HostSource {
  private timer: NodeJS.Timeout | null = null;
  private running: Promise<unknown> | null = null;
  private failing = false;
  private readonly resolver: SeriesResolver;
  readonly instance: string;

  constructor(private readonly deps: HostSourceDeps) {
    this.resolver = deps.resolver ?? new SeriesResolver();
    this.instance = deps.instance ?? os.hostname();
  }

  start(): void {
    const tick = () => {
      if (!this.running) {
        this.running = this.collectOnce()
          .then(() => {
            if (this.failing) this.deps.log.info('host source recovered');
            this.failing = false;
          })
          .catch((e: unknown) => {
            // Once per failure streak, not every interval.
            if (!this.failing) this.deps.log.warn({ err: e }, 'host source could not publish');
            this.failing = true;
          })
          .finally(() => (this.running = null));
      }
      this.timer = setTimeout(tick, this.deps.intervalMs);
      this.timer.unref?.();
    };
    tick();
  }

  async stop(): Promise<void> {
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    await this.running;
  }

  /** One reading, published. Returns the batch. */
  async collectOnce(): Promise<SampleBatch> {
    const timestampMs = (this.deps.now ?? Date.now)();
    const samples = await (this.deps.read ?? readHostSamples)();
    const builder = this.resolver.batch(this.deps.tenant, samples.length);
    for (const s of samples) builder.add({ ...s.labels, job: 'node', instance: this.instance }, timestampMs, s.value);
    const batch = builder.build();
    try {
      await this.deps.bus.publish('metrics', batch);
    } catch (e) {
      this.deps.metrics?.requestsRejected.inc({ source: 'host', reason: 'unavailable' });
      throw e;
    }
    builder.commit();
    this.deps.metrics?.samplesReceived.inc({ source: 'host' }, batch.length);
    return batch;
  }
}
