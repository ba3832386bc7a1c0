// A real Debian Prometheus remote-writing to the receiver over loopback: its
// samples arrive as batches, and while the receiver answers 503 Prometheus
// retries, so the samples of that time arrive once it answers again.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Registry } from 'prom-client';
import type { FastifyInstance } from 'fastify';
import { createHttpServer } from '../core/http.ts';
import { authOff } from '../core/auth/http.ts';
import { MemoryBus } from '../core/bus/memory-bus.ts';
import { configSchema } from '../bin/config.ts';
import { silentLogger } from '../core/log.ts';
import type { AppContext } from '../core/context.ts';
import type { SampleBatch } from '../core/bus/samples.ts';
import type { Store } from '../core/store.ts';
import { collectorRoutes } from '../collector/routes.ts';
import { startPrometheus, type Peer } from './helpers/peers.ts';

class SwitchableBus extends MemoryBus {
  readonly published: SampleBatch[] = [];
  down = false;
  statuses: number[] = [];
  constructor() {
    super({ capacity: 10_000_000, maxDelivery: 10_000_000 });
  }
  override async publish(topic: 'metrics' | 'logs' | 'probes', payload: unknown): Promise<void> {
    if (topic === 'metrics') this.published.push(payload as SampleBatch);
  }
  override ready(): boolean {
    return !this.down;
  }
}

let app: FastifyInstance;
let bus: SwitchableBus;
let prometheus: Peer;

beforeAll(async () => {
  bus = new SwitchableBus();
  const ctx: AppContext = {
    config: configSchema.parse({}),
    store: null as unknown as Store,
    bus,
    log: silentLogger,
    registry: new Registry(),
    onClose: () => {},
  };
  app = createHttpServer({ bodyLimit: 32 * 1024 * 1024, auth: authOff(ctx.config.tenant) });
  await collectorRoutes(app, ctx);
  app.addHook('onResponse', async (req, reply) => {
    if (req.url === '/api/v1/write') bus.statuses.push(reply.statusCode);
  });
  await app.listen({ host: '127.0.0.1', port: 0 });
  const address = app.server.address();
  const port = typeof address === 'object' && address ? address.port : 0;
  prometheus = await startPrometheus(`
global:
  scrape_interval: 1s
  evaluation_interval: 1s
scrape_configs:
  - job_name: prometheus
    static_configs:
      - targets: ['\${self}']
remote_write:
  - url: http://127.0.0.1:${port}/api/v1/write
    queue_config:
      batch_send_deadline: 1s
      min_backoff: 100ms
      max_backoff: 1s
`);
});

afterAll(async () => {
  await prometheus?.stop();
  await app?.close();
});

async function waitFor(what: string, predicate: () => boolean, timeoutMs = 45_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!predicate()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}; prometheus output:\n${prometheus.output().slice(-3000)}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

function hasUp(batches: readonly SampleBatch[]): boolean {
  return batches.some((b) => b.series.some((s) => s.labels['__name__'] === 'up' && s.labels['job'] === 'prometheus'));
}

describe('a real Prometheus remote-writing to /api/v1/write', () => {
  it('delivers its samples with their label sets, each series defined once', async () => {
    await waitFor('up{job="prometheus"} to arrive', () => hasUp(bus.published));
    await waitFor('a few more requests', () => bus.published.length >= 3);
    expect(bus.statuses.every((s) => s === 204)).toBe(true);
    const up = bus.published.flatMap((b) => b.series).filter((s) => s.labels['__name__'] === 'up');
    expect(up).toHaveLength(1);
    expect(up[0]!.labels).toEqual({ __name__: 'up', job: 'prometheus', instance: `127.0.0.1:${prometheus.port}` });
    const total = bus.published.reduce((n, b) => n + b.length, 0);
    expect(total).toBeGreaterThan(100);
  });

  it('retries while the receiver answers 503, and the held-back samples arrive after', async () => {
    bus.down = true;
    const downSince = Date.now();
    await waitFor('a 503', () => bus.statuses.includes(503));
    await new Promise((r) => setTimeout(r, 2500));
    const before = bus.published.length;
    bus.down = false;
    await waitFor('deliveries to resume', () => bus.published.length > before + 1);
    // Samples scraped while we refused them arrive late rather than being dropped.
    const heldBack = bus.published.slice(before).some((b) => {
      for (let i = 0; i < b.length; i++) if (b.timestamps[i]! >= downSince && b.timestamps[i]! < downSince + 2000) return true;
      return false;
    });
    expect(heldBack).toBe(true);
  });
});
