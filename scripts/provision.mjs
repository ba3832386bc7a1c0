#!/usr/bin/env node
// Provisions what `npm test` needs on this machine: Debian's Prometheus,
// node_exporter, Alertmanager and VictoriaMetrics (installed with apt-get
// when running as root and missing). Kafka is fetched by scripts/kafka.sh
// when its tests start the broker. With CI=true a peer that cannot be
// provided fails the run instead of letting its tests be skipped.
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';

const PEERS = [
  { binary: '/usr/bin/prometheus', pkg: 'prometheus' },
  { binary: '/usr/bin/prometheus-node-exporter', pkg: 'prometheus-node-exporter' },
  { binary: '/usr/bin/prometheus-alertmanager', pkg: 'prometheus-alertmanager' },
  { binary: '/usr/bin/victoria-metrics', pkg: 'victoria-metrics' },
];

const ci = process.env.CI === 'true' || process.env.CI === '1';
const missing = PEERS.filter((p) => !existsSync(p.binary));
if (missing.length > 0) {
  const isRoot = typeof process.getuid === 'function' && process.getuid() === 0;
  const hasApt = spawnSync('which', ['apt-get']).status === 0;
  if (isRoot && hasApt) {
    const pkgs = missing.map((p) => p.pkg);
    console.log(`provision: installing ${pkgs.join(', ')} with apt-get`);
    const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
    execFileSync('apt-get', ['update', '-qq'], { stdio: 'inherit', env });
    execFileSync('apt-get', ['install', '-y', '-qq', '--no-install-recommends', ...pkgs], { stdio: 'inherit', env });
  }
}
const still = PEERS.filter((p) => !existsSync(p.binary));
if (still.length > 0) {
  const msg = `provision: missing peers: ${still.map((p) => p.pkg).join(', ')} (install them with apt-get as root)`;
  if (ci) {
    console.error(msg);
    process.exit(1);
  }
  console.warn(`${msg}; tests that need them will fail`);
}
// Alertmanager must also start, not just be on disk: the alerting tests post to a real one.
const alertmanager = PEERS.find((p) => p.pkg === 'prometheus-alertmanager');
if (alertmanager && existsSync(alertmanager.binary)) {
  const run = spawnSync(alertmanager.binary, ['--version'], { encoding: 'utf8', timeout: 30_000 });
  if (run.status !== 0) {
    const msg = `provision: ${alertmanager.binary} does not start: ${(run.stderr || run.error?.message || '').trim()}`;
    if (ci) {
      console.error(msg);
      process.exit(1);
    }
    console.warn(`${msg}; the alerting tests will fail`);
  }
}
console.log('provision: peers present');
