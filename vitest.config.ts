import { defineConfig } from 'vitest/config';

// Each test file runs in its own child process (forks pool): chDB binds one
// data directory per process, so store-opening tests must not share one.
export default defineConfig({
  test: {
    include: ['**/*.test.ts'],
    exclude: ['node_modules/**', 'data/**'],
    pool: 'forks',
    isolate: true,
    maxWorkers: 2,
    testTimeout: 60_000,
    hookTimeout: 120_000,
    reporters: ['default'],
    // Stops a Kafka broker the run started (the Kafka test files start it on first use).
    globalSetup: ['test/helpers/kafka-global.ts'],
  },
});
