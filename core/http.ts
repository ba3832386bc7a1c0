// The HTTP server (fastify): JSON errors with a stable `error` code (and the
// `field` at fault, fastify's own errors included), a body limit answered
// with 413, raw bodies for binary content types, and every 5xx logged once
// with the request id its answer carries. Domains add their routes through
// RouteModule functions.
import Fastify, { type FastifyInstance, type FastifyError, type FastifyReply } from 'fastify';
import { InputError, type HttpErrorBody } from './errors.ts';
import type { AppContext } from './context.ts';
import type { CoreConfig } from './config.ts';
import { readFileSync } from 'node:fs';
import { installAuth, type AuthSetup } from './auth/http.ts';
import type { Logger } from './log.ts';

export type RouteModule<C extends CoreConfig = CoreConfig> = (app: FastifyInstance, ctx: AppContext<C>) => void | Promise<void>;

/** An error a route throws to answer with a given status and code. */
export class HttpError extends Error {
  constructor(
    readonly statusCode: number,
    readonly code: string,
    message: string,
    readonly field?: string,
    readonly headers: Record<string, string> = {},
  ) {
    super(message);
    this.name = 'HttpError';
  }
}

/** The error code and field of one of fastify's own client errors (FST_ERR_…), by its code. */
export function fastifyClientError(code: string | undefined): { error: string; field?: string } {
  switch (code) {
    case 'FST_ERR_CTP_BODY_TOO_LARGE':
      return { error: 'body_too_large', field: 'body' };
    case 'FST_ERR_CTP_INVALID_MEDIA_TYPE':
    case 'FST_ERR_CTP_INVALID_CONTENT_TYPE':
      return { error: 'unsupported_media_type', field: 'content-type' };
    case 'FST_ERR_CTP_INVALID_CONTENT_LENGTH':
      return { error: 'bad_request', field: 'content-length' };
    case 'FST_ERR_CTP_EMPTY_JSON_BODY':
    case 'FST_ERR_CTP_INVALID_JSON_BODY':
    case undefined:
      // fastify's JSON parser answers a syntax error with a plain SyntaxError carrying statusCode 400.
      return { error: 'bad_request', field: 'body' };
    default:
      return code.startsWith('FST_ERR_CTP_') ? { error: 'bad_request', field: 'body' } : { error: 'bad_request' };
  }
}

/** A \uD800-\uDFFF escape in JSON text: only then can a parsed value hold a lone surrogate. */
const SURROGATE_ESCAPE = /\\u[dD][89a-fA-F][0-9a-fA-F]{2}/;
const LONE_SURROGATE = /\p{Cs}/u;

/** The path (a.b[0]) of the first string or key in a parsed JSON value with a lone surrogate, '' for the root, null when none. */
export function loneSurrogatePath(value: unknown, path = ''): string | null {
  if (typeof value === 'string') return LONE_SURROGATE.test(value) ? path : null;
  if (Array.isArray(value)) {
    for (let i = 0; i < value.length; i++) {
      const found = loneSurrogatePath(value[i], `${path}[${i}]`);
      if (found !== null) return found;
    }
    return null;
  }
  if (value !== null && typeof value === 'object') {
    for (const [k, v] of Object.entries(value)) {
      const here = path ? `${path}.${k}` : k;
      if (LONE_SURROGATE.test(k)) return here;
      const found = loneSurrogatePath(v, here);
      if (found !== null) return found;
    }
  }
  return null;
}

export interface HttpServerOptions {
  readonly bodyLimit: number;
  /** Where 5xx answers are logged (once each, with the request id); none: not logged. */
  readonly log?: Logger;
  /** Serve HTTPS with these PEM files (server.tls). */
  readonly tls?: { cert: string; key: string };
  /** Tenancy and web hygiene (core/auth/http.ts), hooked in before any route. */
  readonly auth?: AuthSetup;
}

export function createHttpServer(options: HttpServerOptions): FastifyInstance {
  const https = options.tls ? { https: { cert: readFileSync(options.tls.cert), key: readFileSync(options.tls.key) } } : {};
  const app = Fastify({
    bodyLimit: options.bodyLimit,
    logger: false,
    ...https,
    // Errors the router answers before any handler (a path with a bad %-escape): our JSON shape too.
    frameworkErrors: (err, _req, reply) => {
      const body: HttpErrorBody = { error: 'bad_request', message: err.message, field: 'url' };
      void (reply as FastifyReply).status(400).type('application/json').send(body);
    },
  }) as unknown as FastifyInstance;
  if (options.auth) installAuth(app, options.auth);
  // Binary and text bodies arrive as Buffers; each route parses its own format once.
  app.addContentTypeParser(
    ['application/x-protobuf', 'application/octet-stream', 'text/plain', 'application/openmetrics-text'],
    { parseAs: 'buffer' },
    (_req, body, done) => done(null, body),
  );
  // fastify's own JSON parser (prototype-poisoning checks and all), then lone surrogates refused:
  // JSON may spell them ("\ud800"), no UTF-8 text holds them, and the store refused them as a 500.
  const parseJson = app.getDefaultJsonParser('error', 'ignore');
  app.removeContentTypeParser('application/json');
  app.addContentTypeParser('application/json', { parseAs: 'string' }, (req, body, done) => {
    parseJson(req, body as string, (err: Error | null, value?: unknown) => {
      if (err) return done(err, undefined);
      const text = typeof body === 'string' ? body : body.toString('utf8');
      const at = SURROGATE_ESCAPE.test(text) ? loneSurrogatePath(value) : null;
      if (at !== null) return done(new InputError(at || 'body', 'not valid UTF-8: a lone surrogate (\\ud800-\\udfff without its pair)'), undefined);
      done(null, value);
    });
  });
  app.setErrorHandler((err: FastifyError | HttpError | InputError | Error, req, reply) => {
    let status = 500;
    let body: HttpErrorBody & { requestId?: string };
    if (err instanceof HttpError) {
      status = err.statusCode;
      body = { error: err.code, message: err.message, ...(err.field ? { field: err.field } : {}) };
      for (const [k, v] of Object.entries(err.headers)) void reply.header(k, v);
    } else if (err instanceof InputError) {
      status = 400;
      body = { error: err.code, message: err.message, field: err.field };
    } else if ('statusCode' in err && typeof err.statusCode === 'number' && err.statusCode >= 400 && err.statusCode < 500) {
      status = err.statusCode;
      const { error, field } = fastifyClientError('code' in err && typeof err.code === 'string' ? err.code : undefined);
      body = { error, message: err.message, ...(field ? { field } : {}) };
    } else {
      if ('statusCode' in err && typeof err.statusCode === 'number' && err.statusCode >= 500 && err.statusCode < 600) status = err.statusCode;
      body = { error: 'internal', message: err.message };
    }
    if (status >= 500) {
      // Once per 5xx, findable from what the client saw: the answer names the same request id.
      body.requestId = req.id;
      // A 503 with Retry-After is back-pressure the route chose, not a failure.
      if (!(err instanceof HttpError && status === 503)) options.log?.error({ err, requestId: req.id, method: req.method, url: req.url, status }, 'request failed');
    }
    void reply.status(status).type('application/json').send(body);
  });
  app.setNotFoundHandler((req, reply) => {
    void reply.status(404).send({ error: 'not_found', message: `no route for ${req.method} ${req.url}` });
  });
  return app;
}
