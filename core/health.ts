// The engine's own routes, the same whatever domains it runs: liveness,
// readiness (the store answers and the bus can take data; why not, when the
// bus knows), its status and its self-metrics. The last two are engine-wide
// (every tenant's figures at once): cloud administrators only.
import type { FastifyInstance } from 'fastify';
import type { Registry } from 'prom-client';
import type { Bus } from './bus/bus.ts';
import type { Store } from './store.ts';

export interface HealthSources {
  readonly store: Store;
  readonly bus: Bus;
  readonly registry: Registry;
  /** What /api/v1/status says beside the bus (role, store, ingest figures). */
  readonly status: () => Record<string, unknown>;
}

export function healthRoutes(app: FastifyInstance, h: HealthSources): void {
  app.get('/healthz', { config: { auth: { action: 'public' } } }, async () => ({ status: 'ok' }));
  app.get('/readyz', { config: { auth: { action: 'public' } } }, async (_req, reply) => {
    const checks = { store: await h.store.ping().catch(() => false), bus: h.bus.ready() };
    const ready = checks.store && checks.bus;
    const problem = h.bus.problem?.() ?? null;
    return reply.status(ready ? 200 : 503).send({ status: ready ? 'ready' : 'not ready', checks, ...(problem ? { problem } : {}) });
  });
  const engineWide = { auth: { action: 'read' as const, engineWide: true } };
  app.get('/api/v1/status', { config: engineWide }, async () => ({
    ...h.status(),
    bus: { kind: h.bus.kind, ready: h.bus.ready(), depth: h.bus.depth() },
  }));
  app.get('/metrics', { config: engineWide }, async (_req, reply) => reply.type(h.registry.contentType).send(await h.registry.metrics()));
}
