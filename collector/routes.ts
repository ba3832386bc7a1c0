// The collector's HTTP receivers: Prometheus remote_write 1.0 at
// POST /api/v1/write, a JSON push endpoint at POST /api/v1/push and
// exposition-text import at POST /api/v1/import/prometheus. Each request is
// decoded whole before anything is published, so a bad request stores nothing.
//
// Back-pressure and outages answer 503 with Retry-After, not 429: Prometheus
// retries every 5xx but drops a batch answered 429 unless the sender set
// retry_on_http_429, and it honours Retry-After on both.
import type { FastifyReply, FastifyRequest } from 'fastify';
import { z } from 'zod';
import { HttpError, type RouteModule } from '../core/http.ts';
import { InputError } from '../core/errors.ts';
import { parseInput } from '../core/validate.ts';
import { labelSetProblem } from '../metrics/series.ts';
import type { AppContext } from '../core/context.ts';
import { PayloadRejectedError } from '../core/bus/bus.ts';
import type { Labels, SampleBatch } from '../core/bus/samples.ts';
import { createRemoteWriteDecoding, DecodingUnavailable } from './remote-write-pool.ts';
import { ingestStageSeconds } from '../metrics/ingest-stages.ts';
import { formatFromContentType, parseExposition } from './exposition.ts';
import { SeriesResolver } from './series-resolver.ts';
import { isUtf8 } from 'node:buffer';
import { sampleTimeBounds, sampleTimeProblem, type SampleTimeBounds } from './sample-bounds.ts';
import { collectorMetrics, type CollectorMetrics, type CollectorSource } from './self-metrics.ts';

/** Seconds a sender is asked to wait while the bus is full or the store is away. */
const RETRY_AFTER_SECONDS = '5';

function unavailable(code: string, message: string): HttpError {
  return new HttpError(503, code, message, undefined, { 'Retry-After': RETRY_AFTER_SECONDS });
}

function headerValue(request: FastifyRequest, name: string): string | undefined {
  const v = request.headers[name];
  return Array.isArray(v) ? v[0] : v;
}

/** Refuses before decoding when the bus cannot take the samples now. */
function checkBus(ctx: AppContext, metrics: CollectorMetrics, source: CollectorSource): void {
  if (!ctx.bus.ready()) {
    metrics.requestsRejected.inc({ source, reason: 'unavailable' });
    throw unavailable('store_unavailable', 'the store is not accepting samples; retry later');
  }
  if (ctx.bus.saturated()) {
    metrics.requestsRejected.inc({ source, reason: 'overloaded' });
    throw unavailable('overloaded', 'the ingest queue is full; retry later');
  }
}

/** Longest a receiver waits for the store to confirm a request's samples before answering 503. */
const STORE_WAIT_MS = 10_000;

class StoreWaitTimeout extends Error {}

/**
 * Publishes a request's samples and resolves once they are safe: on the
 * memory bus, stored (group commit); on Kafka, acknowledged by the broker.
 * Only then does the receiver answer 2xx. A payload the store refused for
 * good (it is in ingest_dead_letters) is answered 400, nothing of it stored.
 */
async function publish(ctx: AppContext, metrics: CollectorMetrics, source: CollectorSource, batch: SampleBatch): Promise<void> {
  if (batch.length === 0 && batch.series.length === 0) return;
  let timer: NodeJS.Timeout | undefined;
  try {
    // A sender is not held longer than STORE_WAIT_MS (the store failing, retried with back-off):
    // it gets a 503 and sends again; the queued samples are still stored once (a re-sent sample
    // already stored is dropped by the ingester's duplicate check).
    const timedOut = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new StoreWaitTimeout()), STORE_WAIT_MS);
    });
    await Promise.race([ctx.bus.publish('metrics', batch), timedOut]);
  } catch (e) {
    if (e instanceof StoreWaitTimeout) {
      metrics.requestsRejected.inc({ source, reason: 'unavailable' });
      throw unavailable('store_unavailable', 'the store has not confirmed these samples in time; retry later');
    }
    if (e instanceof PayloadRejectedError) {
      metrics.requestsRejected.inc({ source, reason: 'rejected_by_store' });
      throw new HttpError(400, 'rejected_by_store', e.reason);
    }
    metrics.requestsRejected.inc({ source, reason: 'unavailable' });
    throw unavailable('store_unavailable', `samples not accepted: ${(e as Error).message}`);
  } finally {
    clearTimeout(timer);
  }
  metrics.samplesReceived.inc({ source }, batch.length);
}

/** Runs a decode step, counting its InputError as a rejection of this source. */
function decoding<T>(metrics: CollectorMetrics, source: CollectorSource, reason: string, fn: () => T): T {
  try {
    return fn();
  } catch (e) {
    if (e instanceof InputError || e instanceof HttpError) metrics.requestsRejected.inc({ source, reason });
    throw e;
  }
}

function bodyBuffer(request: FastifyRequest, expected: string): Buffer {
  if (!Buffer.isBuffer(request.body)) {
    throw new HttpError(415, 'unsupported_media_type', `expected Content-Type ${expected}, got ${headerValue(request, 'content-type') ?? 'none'}`, 'content-type');
  }
  return request.body;
}

// ---------------------------------------------------------------------------
// JSON push: {"series":[{"labels":{"__name__":"x",…},"samples":[[unixSeconds, value],…]}]}

const pushValue = z.union([
  z.number(),
  z.enum(['NaN', '+Inf', '-Inf', 'Inf']),
  z.string().regex(/^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/, 'expected a number or "NaN", "+Inf", "-Inf"'),
]);

/** The push request: timestamps in Unix seconds (fractions allowed) as in Prometheus' HTTP API. */
export const pushRequestSchema = z.object({
  series: z
    .array(
      z.object({
        labels: z.record(z.string(), z.string()),
        samples: z
          .array(
            z.tuple([
              // Beyond 1e11 s (year 5138) the sender almost surely meant milliseconds.
              // The store's own bounds (sample-bounds.ts) are checked after parsing.
              z.number().finite().max(1e11, 'timestamps are Unix seconds; this looks like milliseconds'),
              pushValue,
            ]),
          )
          .min(1),
      }),
    )
    .max(100_000),
});

export type PushRequest = z.output<typeof pushRequestSchema>;

function pushValueNumber(v: z.output<typeof pushValue>): number {
  if (typeof v === 'number') return v;
  if (v === 'NaN') return Number.NaN;
  if (v === '+Inf' || v === 'Inf') return Number.POSITIVE_INFINITY;
  if (v === '-Inf') return Number.NEGATIVE_INFINITY;
  return Number(v);
}

/**
 * Validates a push request whole and turns it into one batch (nothing is
 * kept of an invalid one). With `bounds`, every sample time must lie in them.
 */
export function pushBatch(body: unknown, tenant: string, resolver: SeriesResolver, bounds?: SampleTimeBounds): { batch: SampleBatch; commit(): void } {
  const request = parseInput(pushRequestSchema, body);
  request.series.forEach((s, i) => {
    const labels: Record<string, string> = {};
    for (const [k, v] of Object.entries(s.labels)) if (v !== '') labels[k] = v;
    const problem = labelSetProblem(labels);
    if (problem) throw new InputError(`series[${i}].labels`, problem);
    s.labels = labels;
    if (bounds) {
      s.samples.forEach(([t], j) => {
        const timeProblem = sampleTimeProblem(Math.round(t * 1000), bounds);
        if (timeProblem) throw new InputError(`series[${i}].samples[${j}][0]`, timeProblem);
      });
    }
  });
  const builder = resolver.batch(tenant);
  for (const s of request.series) {
    for (const [t, v] of s.samples) builder.add(s.labels, Math.round(t * 1000), pushValueNumber(v));
  }
  return { batch: builder.build(), commit: () => builder.commit() };
}

// ---------------------------------------------------------------------------
// Exposition import: text or OpenMetrics as a scrape would return it.

const extraLabelSchema = z.union([z.string(), z.array(z.string())]).optional();

/**
 * Turns an exposition body into one batch; samples without a timestamp get
 * `nowMs`. With `bounds`, a sample's own timestamp must lie in them.
 */
export function importBatch(text: string, contentType: string | undefined, extra: Labels, nowMs: number, tenant: string, resolver: SeriesResolver, bounds?: SampleTimeBounds): { batch: SampleBatch; commit(): void } {
  const exposition = parseExposition(text, formatFromContentType(contentType));
  const builder = resolver.batch(tenant, Math.max(16, exposition.samples.length));
  exposition.samples.forEach((s, i) => {
    const labels = { ...s.labels, ...extra };
    const problem = labelSetProblem(labels);
    if (problem) throw new InputError(`samples[${i}]`, problem);
    const timeProblem = bounds && s.timestampMs !== undefined ? sampleTimeProblem(s.timestampMs, bounds) : null;
    if (timeProblem) throw new InputError(`samples[${i}].timestamp`, timeProblem);
    builder.add(labels, s.timestampMs ?? nowMs, s.value);
  });
  return { batch: builder.build(), commit: () => builder.commit() };
}

function parseExtraLabels(query: unknown): Labels {
  const raw = parseInput(extraLabelSchema, (query as Record<string, unknown> | undefined)?.['extra_label'], 'extra_label');
  const labels: Record<string, string> = {};
  for (const pair of raw === undefined ? [] : Array.isArray(raw) ? raw : [raw]) {
    const eq = pair.indexOf('=');
    if (eq <= 0) throw new InputError('extra_label', `"${pair}" is not name=value`);
    labels[pair.slice(0, eq)] = pair.slice(eq + 1);
  }
  return labels;
}

/** An exposition body as text, refusing bytes that are not UTF-8 (they would become U+FFFD in label values). */
function expositionText(body: Buffer): string {
  if (!isUtf8(body)) throw new InputError('body', 'the exposition is not valid UTF-8');
  return body.toString('utf8');
}

/** The remote_write 1.0 request headers: protobuf, snappy, version 0.1.x when given. */
function checkRemoteWriteHeaders(request: FastifyRequest): void {
  const contentType = headerValue(request, 'content-type') ?? '';
  if (!/^application\/x-protobuf\s*(;|$)/i.test(contentType)) {
    throw new HttpError(415, 'unsupported_media_type', `expected Content-Type application/x-protobuf, got ${contentType || 'none'}`, 'content-type');
  }
  const proto = /;\s*proto=([^;\s]+)/i.exec(contentType)?.[1];
  if (proto && proto !== 'prometheus.WriteRequest') {
    // Remote write 2.0 senders fall back to 1.0 on a 415.
    throw new HttpError(415, 'unsupported_media_type', `only remote_write 1.0 (prometheus.WriteRequest) is accepted, not ${proto}`, 'content-type');
  }
  const encoding = headerValue(request, 'content-encoding');
  if (!encoding || encoding.toLowerCase() !== 'snappy') {
    throw new HttpError(415, 'unsupported_media_type', `expected Content-Encoding snappy, got ${encoding ?? 'none'}`, 'content-encoding');
  }
  const version = headerValue(request, 'x-prometheus-remote-write-version');
  if (version !== undefined && !/^0\.1(\.|$)/.test(version)) {
    throw new HttpError(415, 'unsupported_media_type', `remote write version ${version} is not supported (expected 0.1.0)`, 'x-prometheus-remote-write-version');
  }
}

// ---------------------------------------------------------------------------

export interface CollectorRouteOptions {
  /** Series the remote_write decoder remembers as defined (default 1,000,000). */
  readonly seriesCacheSize?: number;
  /** Worker threads decoding remote_write (default: `collector.decodeWorkers` of the configuration). */
  readonly decodeWorkers?: number;
}

/**
 * Decoding workers when the configuration says nothing. Measured on the
 * shared 2-core machine (load average 10-15, BENCH_ROUNDS=8, back to back):
 * bench:peers stored 32,357 samples/s with 0 workers (0.49 of
 * VictoriaMetrics in the same run), 46,409 with 1 (0.70), 46,698 with 2
 * (0.71); bench:ingest 8,252 / 11,387 and 11,176 / 14,040 samples/s with
 * 0 / 1 worker in two passes, 2 workers once better, once not. One thread
 * takes decoding off the main thread; a second adds a cache copy and little
 * on two cores.
 */
export const DEFAULT_DECODE_WORKERS = 1;

function configuredDecodeWorkers(ctx: AppContext): number {
  const collector = (ctx.config as { collector?: { decodeWorkers?: number } }).collector;
  return collector?.decodeWorkers ?? DEFAULT_DECODE_WORKERS;
}

export function createCollectorRoutes(options: CollectorRouteOptions = {}): RouteModule {
  return (app, ctx) => {
    const metrics = collectorMetrics(ctx.registry);
    // Per-tenant decoders (a series is defined per tenant), on this thread or in worker threads.
    const remoteWrite = createRemoteWriteDecoding({
      workers: options.decodeWorkers ?? configuredDecodeWorkers(ctx),
      ...(options.seriesCacheSize ? { seriesCacheSize: options.seriesCacheSize } : {}),
    });
    // After the server stopped taking requests and those in flight are answered (engine shutdown, SIGTERM).
    app.addHook('onClose', async () => remoteWrite.close());
    const resolver = new SeriesResolver();
    const bounds = (): SampleTimeBounds => sampleTimeBounds(Date.now(), ctx.config.store.rawRetentionDays);

    // Samples are published under the request's tenant (core/auth/http.ts: from the token, or X-Scope-OrgID among its tenants).
    app.post('/api/v1/write', { config: { auth: { action: 'ingest', contentTypes: ['application/x-protobuf'] } } }, async (request: FastifyRequest, reply: FastifyReply) => {
      decoding(metrics, 'remote_write', 'unsupported', () => checkRemoteWriteHeaders(request));
      checkBus(ctx, metrics, 'remote_write');
      const body = bodyBuffer(request, 'application/x-protobuf');
      const result = await remoteWrite.decode(request.tenant, body, bounds()).catch((e: unknown) => {
        if (!(e instanceof DecodingUnavailable)) throw e;
        metrics.requestsRejected.inc({ source: 'remote_write', reason: 'unavailable' });
        throw unavailable('decoding_unavailable', `${e.message}; retry later`);
      });
      // Decoding net of series resolution (the decoder counts its cache misses' time apart), wherever it ran.
      ingestStageSeconds.decode += result.decodeSeconds;
      ingestStageSeconds.resolve += result.resolveSeconds;
      const batch = decoding(metrics, 'remote_write', 'malformed', () => {
        if (result.error) throw result.error;
        return result.batch!;
      });
      await publish(ctx, metrics, 'remote_write', batch);
      result.commit();
      return reply.status(204).send();
    });

    app.post('/api/v1/push', { config: { auth: { action: 'ingest', contentTypes: ['application/json'] } } }, async (request: FastifyRequest, reply: FastifyReply) => {
      const contentType = headerValue(request, 'content-type') ?? '';
      if (!/^application\/json\s*(;|$)/i.test(contentType)) {
        metrics.requestsRejected.inc({ source: 'push', reason: 'unsupported' });
        throw new HttpError(415, 'unsupported_media_type', `expected Content-Type application/json, got ${contentType || 'none'}`, 'content-type');
      }
      checkBus(ctx, metrics, 'push');
      const result = decoding(metrics, 'push', 'malformed', () => pushBatch(request.body, request.tenant, resolver, bounds()));
      await publish(ctx, metrics, 'push', result.batch);
      result.commit();
      return reply.status(204).send();
    });

    app.post('/api/v1/import/prometheus', { config: { auth: { action: 'ingest', contentTypes: ['text/plain', 'application/openmetrics-text'] } } }, async (request: FastifyRequest, reply: FastifyReply) => {
      const contentType = headerValue(request, 'content-type');
      if (contentType && !/^(text\/plain|application\/openmetrics-text)\s*(;|$)/i.test(contentType)) {
        metrics.requestsRejected.inc({ source: 'import', reason: 'unsupported' });
        throw new HttpError(415, 'unsupported_media_type', `expected text/plain or application/openmetrics-text, got ${contentType}`, 'content-type');
      }
      checkBus(ctx, metrics, 'import');
      const body = bodyBuffer(request, 'text/plain');
      const result = decoding(metrics, 'import', 'malformed', () =>
        importBatch(expositionText(body), contentType, parseExtraLabels(request.query), Date.now(), request.tenant, resolver, bounds()),
      );
      await publish(ctx, metrics, 'import', result.batch);
      result.commit();
      return reply.status(204).send();
    });
  };
}

/** The receivers with default options, registered by the engine. */
export const collectorRoutes: RouteModule = createCollectorRoutes();
