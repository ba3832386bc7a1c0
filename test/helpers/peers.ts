// Starting real peer processes (node_exporter, Prometheus, …) for
// integration tests: find the binary, start it on a free loopback port, wait
// until it answers, stop it. A missing binary is an error, never a skip:
// `npm test` installs the Debian packages when run as root, and with CI=true
// a peer that cannot be started must fail the run.
import { spawn, type ChildProcess } from 'node:child_process';
import { accessSync, constants } from 'node:fs';
import { createServer } from 'node:net';
import { delimiter, join } from 'node:path';

const EXTRA_DIRS = ['/usr/bin', '/usr/sbin', '/usr/local/bin', '/bin'];

/** The first of `names` that is an executable on PATH or in the usual system directories, or null. */
export function findBinary(...names: string[]): string | null {
  const dirs = [...(process.env['PATH'] ?? '').split(delimiter).filter(Boolean), ...EXTRA_DIRS];
  for (const name of names) {
    if (name.includes('/')) {
      if (isExecutable(name)) return name;
      continue;
    }
    for (const dir of dirs) {
      const candidate = join(dir, name);
      if (isExecutable(candidate)) return candidate;
    }
  }
  return null;
}

function isExecutable(path: string): boolean {
  try {
    accessSync(path, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

/** The binary, or an error that says which Debian package provides it. */
export function requireBinary(debianPackage: string, ...names: string[]): string {
  const found = findBinary(...names);
  if (found) return found;
  const ci = process.env['CI'] === 'true' ? ' (CI=true: a missing peer fails the run)' : '';
  throw new Error(`${names.join(' or ')} not found: install the Debian package ${debianPackage} (npm test does so when run as root)${ci}`);
}

/** A port that was free on 127.0.0.1 a moment ago. */
export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.unref();
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

export interface Peer {
  readonly name: string;
  readonly port: number;
  /** http://127.0.0.1:<port> */
  readonly baseUrl: string;
  readonly process: ChildProcess;
  /** What the peer wrote to stdout and stderr, for failure messages. */
  output(): string;
  stop(): Promise<void>;
}

export interface StartPeerOptions {
  readonly name: string;
  readonly binary: string;
  readonly args: (port: number) => string[];
  /** Path polled until it answers 200. */
  readonly readyPath: string;
  readonly timeoutMs?: number;
  readonly cwd?: string;
  /** A port already chosen (e.g. written into the peer's config file); otherwise a free one is picked. */
  readonly fixedPort?: number;
}

export async function startPeer(options: StartPeerOptions): Promise<Peer> {
  const port = options.fixedPort ?? (await freePort());
  const child = spawn(options.binary, options.args(port), { stdio: ['ignore', 'pipe', 'pipe'], cwd: options.cwd });
  let output = '';
  const keep = (chunk: Buffer) => {
    output = (output + chunk.toString('utf8')).slice(-20_000);
  };
  child.stdout?.on('data', keep);
  child.stderr?.on('data', keep);
  let exited: string | null = null;
  const exit = new Promise<void>((resolve) => {
    child.on('exit', (code, signal) => {
      exited = `exited with ${signal ?? code}`;
      resolve();
    });
    child.on('error', (e) => {
      exited = `failed to start: ${e.message}`;
      resolve();
    });
  });
  const baseUrl = `http://127.0.0.1:${port}`;
  const peer: Peer = {
    name: options.name,
    port,
    baseUrl,
    process: child,
    output: () => output,
    async stop() {
      if (exited === null) {
        child.kill('SIGTERM');
        const killer = setTimeout(() => child.kill('SIGKILL'), 5000);
        await exit;
        clearTimeout(killer);
      }
    },
  };
  const deadline = Date.now() + (options.timeoutMs ?? 15_000);
  for (;;) {
    if (exited !== null) throw new Error(`${options.name} ${exited}:\n${output}`);
    try {
      const res = await fetch(`${baseUrl}${options.readyPath}`, { signal: AbortSignal.timeout(1000) });
      await res.arrayBuffer();
      if (res.status === 200) return peer;
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) {
      await peer.stop();
      throw new Error(`${options.name} did not answer ${options.readyPath} on port ${port} in time:\n${output}`);
    }
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** A real prometheus-node-exporter on a free loopback port. */
export function startNodeExporter(extraArgs: string[] = []): Promise<Peer> {
  const binary = requireBinary('prometheus-node-exporter', 'prometheus-node-exporter', 'node_exporter');
  return startPeer({
    name: 'node_exporter',
    binary,
    args: (port) => [`--web.listen-address=127.0.0.1:${port}`, ...extraArgs],
    readyPath: '/metrics',
  });
}

/**
 * A real Prometheus on a free loopback port with the given configuration
 * (YAML text; `${self}` is replaced by its own host:port), its data in a
 * fresh temporary directory removed on stop.
 */
export async function startPrometheus(configYaml: string, extraArgs: string[] = []): Promise<Peer> {
  const { mkdtempSync, writeFileSync, rmSync } = await import('node:fs');
  const { tmpdir } = await import('node:os');
  const binary = requireBinary('prometheus', 'prometheus');
  const dir = mkdtempSync(join(tmpdir(), 'tidemark-prometheus-'));
  const port = await freePort();
  writeFileSync(join(dir, 'prometheus.yml'), configYaml.replaceAll('${self}', `127.0.0.1:${port}`));
  const peer = await startPeer({
    name: 'prometheus',
    binary,
    args: () => [
      `--config.file=${join(dir, 'prometheus.yml')}`,
      `--storage.tsdb.path=${join(dir, 'data')}`,
      `--web.listen-address=127.0.0.1:${port}`,
      ...extraArgs,
    ],
    readyPath: '/-/ready',
    timeoutMs: 30_000,
    fixedPort: port,
  });
  return {
    ...peer,
    async stop() {
      await peer.stop();
      rmSync(dir, { recursive: true, force: true, maxRetries: 10, retryDelay: 100 });
    },
  };
}
