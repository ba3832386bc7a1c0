// The logs HTTP routes: the receivers (Loki push, Kubernetes audit webhook,
// Grafana Faro) and search. Each receiver decodes its request whole before
// publishing anything (a bad request stores nothing) and answers 2xx only
// once its lines are safe (publish.ts). The Loki query routes are the LogQL
// module's (logs/logql/).
import { createGunzip, createInflate } from 'node:zlib';
import { isUtf8 } from 'node:buffer';
import { Readable } from 'node:stream';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { HttpError, type RouteModule } from '../core/http.ts';
import { InputError } from '../core/errors.ts';
import { parseDuration } from '../core/duration.ts';
import type { LogsConfig } from './config.ts';
import { lineLimits, type LineLimits } from './limits.ts';
import { lokiJsonRecords, lokiProtobufRecords } from './loki-push.ts';
import { auditRecords } from './audit.ts';
import { faroPayload } from './faro.ts';
import { checkBus, publishSafely } from './publish.ts';
import { parseSearchParams, searchLogs } from './search.ts';

function headerValue(request: FastifyRequest, name: string): string | undefined {
  const v = request.headers[name];
  return Array.isArray(v) ? v[0] : v;
}

/**
 * Reads a request body whole (decompressing gzip or deflate when the sender
 * says so, as Promtail and Fluent Bit may), bounded by `limit` bytes after
 * decompression, and refuses bytes that are not UTF-8 when `text`; hands the
 * body on as a fresh stream for the route's parser.
 */
function bodyReader(limit: number, text: (request: FastifyRequest) => boolean) {
  return async (request: FastifyRequest, _reply: FastifyReply, payload: NodeJS.ReadableStream & { receivedEncodedLength?: number }) => {
    const encoding = (headerValue(request, 'content-encoding') ?? 'identity').toLowerCase();
    // Fastify compares the bytes received on the wire with Content-Length: count them before decompressing.
    let received = 0;
    payload.on('data', (chunk: Buffer) => {
      received += chunk.length;
    });
    let source: NodeJS.ReadableStream = payload;
    if (encoding === 'gzip' || encoding === 'x-gzip') source = payload.pipe(createGunzip());
    else if (encoding === 'deflate') source = payload.pipe(createInflate());
    else if (encoding !== 'identity' && encoding !== 'snappy') throw new HttpError(415, 'unsupported_media_type', `Content-Encoding ${encoding} is not supported (gzip, deflate)`, 'content-encoding');
    const chunks: Buffer[] = [];
    let size = 0;
    try {
      for await (const chunk of source as AsyncIterable<Buffer>) {
        size += chunk.length;
        if (size > limit) throw new HttpError(413, 'body_too_large', `the body is larger than ${limit} bytes`, 'body');
        chunks.push(chunk);
      }
    } catch (e) {
      if (e instanceof HttpError) throw e;
      throw new InputError('body', `cannot read the ${encoding} body: ${(e as Error).message}`);
    }
    const body = Buffer.concat(chunks);
    if (text(request) && !isUtf8(body)) throw new InputError('body', 'not valid UTF-8');
    const out = Readable.from([body]) as Readable & { receivedEncodedLength?: number };
    out.receivedEncodedLength = received;
    return out;
  };
}

const isJson = (request: FastifyRequest) => /^application\/json\s*(;|$)/i.test(headerValue(request, 'content-type') ?? '');

/** The receivers: registered where the collector role runs. */
export const logsIngestRoutes: RouteModule<LogsConfig> = (app, ctx) => {
  const limits = (): LineLimits => lineLimits(Date.now(), parseDuration(ctx.config.logs.retention, 'logs.retention'), ctx.config.logs.maxLineBytes);
  const bodyLimit = ctx.config.server.bodyLimit;
  const readBody = bodyReader(bodyLimit, isJson);

  app.post(
    '/loki/api/v1/push',
    { config: { auth: { action: 'ingest', contentTypes: ['application/json', 'application/x-protobuf'] } }, preParsing: readBody },
    async (request: FastifyRequest, reply: FastifyReply) => {
      checkBus(ctx);
      const records = isJson(request)
        ? lokiJsonRecords(request.body, request.tenant, limits())
        : lokiProtobufRecords(Buffer.isBuffer(request.body) ? request.body : Buffer.alloc(0), request.tenant, limits());
      if (records.length > 0) await publishSafely(ctx, 'logs', records);
      return reply.status(204).send();
    },
  );

  app.post('/api/v1/logs/audit', { config: { auth: { action: 'ingest', contentTypes: ['application/json'] } }, preParsing: readBody }, async (request: FastifyRequest, reply: FastifyReply) => {
    checkBus(ctx);
    const cluster = (request.query as Record<string, unknown>)['cluster'];
    if (cluster !== undefined && (typeof cluster !== 'string' || cluster === '')) throw new InputError('cluster', 'expected one non-empty cluster name');
    const records = auditRecords(request.body, request.tenant, (cluster as string | undefined) ?? ctx.config.logs.cluster, limits());
    if (records.length > 0) await publishSafely(ctx, 'logs', records);
    return reply.status(200).send({ stored: records.length });
  });

  // Faro runs in browsers: pages on an origin in server.allowedOrigins (the auth hook refuses
  // other origins' POSTs) get the CORS answers their preflight and POST need.
  const corsFor = (request: FastifyRequest): Record<string, string> => {
    const origin = headerValue(request, 'origin');
    if (!origin || !ctx.config.server.allowedOrigins.includes(origin)) return {};
    return {
      'access-control-allow-origin': origin,
      'access-control-allow-methods': 'POST, OPTIONS',
      'access-control-allow-headers': 'content-type, authorization, x-scope-orgid, x-faro-session-id, x-api-key',
      'access-control-max-age': '600',
      vary: 'Origin',
    };
  };
  const preflight = async (request: FastifyRequest, reply: FastifyReply) => reply.status(200).headers(corsFor(request)).send({});
  app.options('/collect/faro', { config: { auth: { action: 'public' } } }, preflight);
  app.options('/collect/:appKey', { config: { auth: { action: 'public' } } }, preflight);

  const faro = async (request: FastifyRequest, reply: FastifyReply) => {
    void reply.headers(corsFor(request));
    checkBus(ctx);
    const appKey = (request.params as { appKey?: string }).appKey;
    const payload = faroPayload(request.body, request.tenant, appKey, limits());
    // Lines and samples are both stored before the answer; a retry after a 503 may store the first twice.
    await Promise.all([
      payload.records.length > 0 ? publishSafely(ctx, 'logs', payload.records) : Promise.resolve(),
      payload.samples.length > 0 ? publishSafely(ctx, 'metrics', payload.samples) : Promise.resolve(),
    ]);
    return reply.status(202).send({});
  };
  app.post('/collect/faro', { config: { auth: { action: 'ingest', contentTypes: ['application/json'] } }, preParsing: readBody }, faro);
  // Faro's collector convention (Grafana Cloud Frontend Observability, Alloy's faro receiver behind a path): /collect/{app-key}.
  app.post('/collect/:appKey', { config: { auth: { action: 'ingest', contentTypes: ['application/json'] } }, preParsing: readBody }, faro);

};

/** Search: registered where the API role runs. */
export const logsSearchRoutes: RouteModule<LogsConfig> = (app, ctx) => {
  app.get('/api/v1/logs/search', { config: { auth: { action: 'read' } } }, async (request: FastifyRequest) => {
    const search = parseSearchParams(request.query as Record<string, string | string[] | undefined>, request.tenant);
    return searchLogs(ctx.store, search);
  });
};
