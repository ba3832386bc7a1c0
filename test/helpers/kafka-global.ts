// vitest globalSetup: a Kafka broker that this test run started is stopped
// when the run ends. Test files start the shared brokers lazily (through
// scripts/kafka.sh, see ./kafka.ts) and leave them up for the files after
// them; without this the JVM outlived `npm test`. Each run has an identity
// (inherited by its workers) that a start records beside the broker, so a
// broker started by another run going on at the same time, or already
// running when this one began, is left alone.
import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { randomUUID } from 'node:crypto';
import { KAFKA_OWNER_ENV, kafkaCacheDir, startedBy } from './kafka.ts';

const SCRIPT = resolve(import.meta.dirname, '../../scripts/kafka.sh');

/** The brokers' state directories the tests use: `kafka-run` and `kafka-run-<name>`. */
export function brokerRunDirs(cache = kafkaCacheDir()): string[] {
  if (!existsSync(cache)) return [];
  return readdirSync(cache)
    .filter((name) => name === 'kafka-run' || name.startsWith('kafka-run-'))
    .map((name) => join(cache, name));
}

/** Whether the broker of `runDir` is running and answering (scripts/kafka.sh status exits 0). */
export function brokerRunning(runDir: string): boolean {
  try {
    execFileSync('bash', [SCRIPT, 'status'], { env: { ...process.env, TIDEMARK_KAFKA_RUN: runDir }, stdio: 'ignore', timeout: 20_000 });
    return true;
  } catch {
    return false;
  }
}

/** The brokers running now that the run `owner` started. */
export function startedByRun(owner: string, cache = kafkaCacheDir()): string[] {
  return brokerRunDirs(cache).filter((dir) => startedBy(dir, owner) && brokerRunning(dir));
}

const owner = randomUUID();

export function setup(): void {
  process.env[KAFKA_OWNER_ENV] = owner;
}

export function teardown(): void {
  for (const runDir of startedByRun(owner)) {
    try {
      execFileSync('bash', [SCRIPT, 'stop'], { env: { ...process.env, TIDEMARK_KAFKA_RUN: runDir }, stdio: ['ignore', 'ignore', 'inherit'], timeout: 60_000 });
    } catch (e) {
      // Exit 4: it stopped by itself meanwhile. Anything else is reported, not thrown: the tests' verdict stands.
      if ((e as { status?: number }).status !== 4) console.error(`kafka: stopping ${runDir} failed: ${(e as Error).message}`);
    }
  }
}
