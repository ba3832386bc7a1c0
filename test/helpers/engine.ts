// An engine in this process for a test: a fresh data directory, a free
// port, no host source, reports under the same directory.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadConfig } from '../../bin/config.ts';
import { silentLogger } from '../../core/log.ts';
import { startEngine, type Engine } from '../../bin/engine.ts';

export interface TestEngine {
  engine: Engine;
  dir: string;
  close(): Promise<void>;
}

export async function startTestEngine(overrides: { path: string[]; value: unknown }[] = []): Promise<TestEngine> {
  const dir = mkdtempSync(join(tmpdir(), 'tidemark-engine-'));
  const config = loadConfig({
    env: {},
    overrides: [
      { path: ['server', 'port'], value: 0 },
      { path: ['store', 'dataPath'], value: join(dir, 'store') },
      { path: ['collector', 'host', 'enabled'], value: false },
      { path: ['sla', 'report', 'outputDir'], value: join(dir, 'reports') },
      ...overrides,
    ],
  });
  const engine = await startEngine(config, silentLogger);
  return {
    engine,
    dir,
    async close() {
      await engine.close();
      rmSync(dir, { recursive: true, force: true, maxRetries: 10, retryDelay: 100 });
    },
  };
}
