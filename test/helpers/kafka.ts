// The real Kafka broker for tests: started through the project's own
// scripts/kafka.sh (never a mock), shared by test files through its state
// directory. A broker that cannot start fails the test run, in CI and
// locally alike: a skipped Kafka test would prove nothing.
import { execFile } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { homedir } from 'node:os';
import { join, resolve } from 'node:path';
import { readFileSync, writeFileSync } from 'node:fs';
import { Registry } from 'prom-client';
import { KafkaBus, type KafkaBusOptions } from '../../core/bus/kafka/kafka-bus.ts';

const SCRIPT = resolve(import.meta.dirname, '../../scripts/kafka.sh');

export interface BrokerHandle {
  /** host:port to bootstrap from. */
  address: string;
  /** The state directory (TIDEMARK_KAFKA_RUN) of this broker. */
  runDir: string;
}

/** Where scripts/kafka.sh keeps its brokers' state directories. */
export function kafkaCacheDir(): string {
  return cacheDir();
}

function cacheDir(): string {
  return process.env['TIDEMARK_CACHE'] ?? join(homedir(), '.cache', 'tidemark');
}

function script(command: 'start' | 'stop' | 'status', runDir: string, timeoutMs: number): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolvePromise) => {
    execFile('bash', [SCRIPT, command], { env: { ...process.env, TIDEMARK_KAFKA_RUN: runDir }, timeout: timeoutMs }, (error, stdout, stderr) => {
      const code = error ? (typeof error.code === 'number' ? error.code : 1) : 0;
      resolvePromise({ code, stdout: stdout.trim(), stderr: stderr.trim() });
    });
  });
}

/**
 * The broker at `name` (default: the shared one), started if it is not
 * running. Concurrent callers are serialised by the script's lock; one that
 * loses the race reads the address the winner wrote.
 */
export async function kafkaBroker(name = 'kafka-run'): Promise<BrokerHandle> {
  const runDir = join(cacheDir(), name);
  const status = await script('status', runDir, 20_000);
  if (status.code === 0 && status.stdout) return { address: status.stdout, runDir };
  const started = await script('start', runDir, 300_000);
  if (started.code === 0 && started.stdout) {
    markStartedByThisRun(runDir);
    return { address: started.stdout.split('\n').pop()!, runDir };
  }
  if (started.code === 3) {
    const again = await script('status', runDir, 20_000);
    if (again.code === 0 && again.stdout) return { address: again.stdout, runDir };
  }
  throw new Error(`Kafka broker (${runDir}) could not start (exit ${started.code}${process.env['CI'] === 'true' ? ', CI' : ''}):\n${started.stderr}`);
}

export async function stopBroker(handle: BrokerHandle): Promise<void> {
  const r = await script('stop', handle.runDir, 60_000);
  if (r.code !== 0 && r.code !== 4) throw new Error(`stopping ${handle.runDir} failed: ${r.stderr}`);
}

/** The test run that owns brokers it starts (set by the global setup, inherited by the workers). */
export const KAFKA_OWNER_ENV = 'TIDEMARK_TEST_RUN';

/** Marks a broker as started by this test run, so that only this run's teardown stops it (not a concurrent run's). */
function markStartedByThisRun(runDir: string): void {
  const owner = process.env[KAFKA_OWNER_ENV];
  if (owner) writeFileSync(join(runDir, 'started-by'), owner);
}

/** Whether the broker of `runDir` was started by the test run `owner`. */
export function startedBy(runDir: string, owner: string): boolean {
  try {
    return readFileSync(join(runDir, 'started-by'), 'utf8').trim() === owner;
  } catch {
    return false;
  }
}

/** Starts a stopped broker again; it comes back on the same port with its data. */
export async function restartBroker(handle: BrokerHandle): Promise<void> {
  const r = await script('start', handle.runDir, 300_000);
  if (r.code !== 0) throw new Error(`restarting ${handle.runDir} failed: ${r.stderr}`);
  markStartedByThisRun(handle.runDir);
  const address = r.stdout.split('\n').pop()!;
  if (address !== handle.address) throw new Error(`broker came back at ${address}, not ${handle.address}`);
}

/** The address the shared broker wrote for other processes (bench, manual runs). */
export function brokerAddressFile(name = 'kafka-run'): string {
  return readFileSync(join(cacheDir(), name, 'broker'), 'utf8').trim();
}

/** Options for a bus isolated from other tests: its own topics and groups, quick rebalances. */
export function testBusOptions(address: string, overrides: Partial<KafkaBusOptions> = {}): KafkaBusOptions {
  const id = randomUUID().slice(0, 8);
  return {
    brokers: [address],
    clientId: `test-${id}`,
    groupId: `test-${id}`,
    topicPrefix: `test.${id}.`,
    partitions: 3,
    replicationFactor: 1,
    lagIntervalMs: 500,
    consumer: { sessionTimeout: 6_000, heartbeatInterval: 500, rebalanceTimeout: 6_000, retryDelayMs: 200 },
    ...overrides,
  };
}

export function testBus(options: KafkaBusOptions): KafkaBus {
  return new KafkaBus({ ...options, registry: options.registry ?? new Registry() });
}

/** Polls `check` until it returns true, failing after timeoutMs with `what`. */
export async function eventually(what: string, timeoutMs: number, check: () => boolean | Promise<boolean>): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await check()) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
}
