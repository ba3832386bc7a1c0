// The HTTP server (fastify): JSON errors with a stable `error` code, a body
// limit answered with 413, raw bodies for binary content types, and the
// health endpoints. Domains add their routes through RouteModule functions.
import Fastify, { type FastifyInstance, type FastifyError } from 'fastify';
import { InputError, type HttpErrorBody } from './errors.ts';
import type { AppContext } from './context.ts';
import type { CoreConfig } from './config.ts';
import { readFileSync } from 'node:fs';
import { installAuth, type AuthSetup } from './auth/http.ts';

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

export interface HttpServerOptions {
  bodyLimit: number;
  /** Serve HTTPS with these PEM files (server.tls). */
  tls?: { cert: string; key: string };
  /** Tenancy and web hygiene (core/auth/http.ts), hooked in before any route. */
  auth?: AuthSetup;
}

export function createHttpServer(options: HttpServerOptions): FastifyInstance {
  const https = options.tls ? { https: { cert: readFileSync(options.tls.cert), key: readFileSync(options.tls.key) } } : {};
  const app = Fastify({ bodyLimit: options.bodyLimit, logger: false, ...https }) as unknown as FastifyInstance;
  if (options.auth) installAuth(app, options.auth);
  // Binary and text bodies arrive as Buffers; each route parses its own format once.
  app.addContentTypeParser(
    ['application/x-protobuf', 'application/octet-stream', 'text/plain', 'application/openmetrics-text'],
    { parseAs: 'buffer' },
    (_req, body, done) => done(null, body),
  );
  app.setErrorHandler((err: FastifyError | HttpError | InputError | Error, _req, reply) => {
    let status = 500;
    let body: HttpErrorBody;
    if (err instanceof HttpError) {
      status = err.statusCode;
      body = { error: err.code, message: err.message, ...(err.field ? { field: err.field } : {}) };
      for (const [k, v] of Object.entries(err.headers)) void reply.header(k, v);
    } else if (err instanceof InputError) {
      status = 400;
      body = { error: err.code, message: err.message, field: err.field };
    } else if ('statusCode' in err && typeof err.statusCode === 'number' && err.statusCode < 500) {
      status = err.statusCode;
      const code = err.code === 'FST_ERR_CTP_BODY_TOO_LARGE' ? 'body_too_large' : err.code === 'FST_ERR_CTP_INVALID_MEDIA_TYPE' ? 'unsupported_media_type' : 'bad_request';
      body = { error: code, message: err.message };
    } else {
      body = { error: 'internal', message: err.message };
    }
    void reply.status(status).type('application/json').send(body);
  });
  app.setNotFoundHandler((req, reply) => {
    void reply.status(404).send({ error: 'not_found', message: `no route for ${req.method} ${req.url}` });
  });
  return app;
}
