// A fake Kubernetes API server for tests: the real REST and watch protocol over
// HTTP on 127.0.0.1, serving a ClusterObjects (test/kit/cluster/cluster-objects.ts)
// so that @kubernetes/client-node is exercised for real. It speaks discovery,
// list/get/create/update/patch (merge, strategic treated as merge, JSON patch)
// /delete, watch with resourceVersion, bookmarks and 410 Gone, label and field
// selectors, /status, /scale (autoscaling/v1 Scale) and pods/eviction honouring
// PodDisruptionBudgets. Not served: authentication, admission, server-side
// apply, pagination, protobuf, schema validation of custom resources.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { KubeConfig } from '@kubernetes/client-node';
import {
  ClusterObjects,
  LabelSelectorError,
  ObjectError,
  apiVersionOf,
  clone,
  formatSelector,
  labelsMatch,
  parseLabelSelector,
  readPath,
  writePath,
  type KubeObject,
  type LabelSelectorObject,
  type ResourceType,
  type ObjectChange,
} from '../kit/cluster/cluster-objects.ts';
import { evictionVerdict } from '../kit/cluster/disruption.ts';

export interface FakeApiServerOptions {
  objects?: ClusterObjects;
  /** How often a watch that asked for bookmarks gets one. */
  bookmarkIntervalMs?: number;
}

export interface RequestRecord {
  method: string;
  path: string;
  query: string;
  contentType?: string;
}

export interface FakeApiServer {
  readonly url: string;
  readonly port: number;
  readonly objects: ClusterObjects;
  /** The most recent requests (up to 5,000), oldest first. */
  readonly requests: RequestRecord[];
  /** A KubeConfig (loadFromOptions) pointing at this server. */
  kubeConfig(): KubeConfig;
  /** Ends every open watch stream, as an API server restart or a load balancer would. */
  dropWatches(): void;
  openWatches(): number;
  close(): Promise<void>;
}

type Json = Record<string, unknown>;

class HttpFailure extends Error {
  constructor(
    readonly code: number,
    readonly reason: string,
    message: string,
  ) {
    super(message);
  }
}

function status(code: number, reason: string, message: string, details?: Json): Json {
  return { kind: 'Status', apiVersion: 'v1', metadata: {}, status: code < 400 ? 'Success' : 'Failure', message, reason, ...(details ? { details } : {}), code };
}

function send(res: ServerResponse, code: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(code, { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(text) });
  res.end(text);
}

async function readBody(req: IncomingMessage): Promise<unknown> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size > 16 * 1024 * 1024) throw new HttpFailure(413, 'RequestEntityTooLarge', 'request body too large');
    chunks.push(chunk as Buffer);
  }
  const text = Buffer.concat(chunks).toString('utf8');
  if (text.trim() === '') return undefined;
  try {
    return JSON.parse(text) as unknown;
  } catch (e) {
    throw new HttpFailure(400, 'BadRequest', `body is not JSON: ${(e as Error).message}`);
  }
}

// ---- patches ----

function isObject(v: unknown): v is Json {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** RFC 7386 JSON merge patch. */
export function mergePatch(target: unknown, patch: unknown): unknown {
  if (!isObject(patch)) return clone(patch);
  const out: Json = isObject(target) ? { ...target } : {};
  for (const [k, v] of Object.entries(patch)) {
    if (v === null) delete out[k];
    else out[k] = mergePatch(out[k], v);
  }
  return out;
}

interface JsonPatchOp {
  op: 'add' | 'remove' | 'replace' | 'move' | 'copy' | 'test';
  path: string;
  from?: string;
  value?: unknown;
}

function pointer(path: string): string[] {
  if (path === '') return [];
  if (!path.startsWith('/')) throw new HttpFailure(422, 'Invalid', `json patch path "${path}" must start with /`);
  return path.slice(1).split('/').map((s) => s.replace(/~1/g, '/').replace(/~0/g, '~'));
}

function parentOf(doc: unknown, keys: string[], path: string): { parent: Json | unknown[]; key: string } {
  let node: unknown = doc;
  for (const k of keys.slice(0, -1)) {
    if (Array.isArray(node)) node = node[Number(k)];
    else if (isObject(node)) node = node[k];
    else node = undefined;
    if (node === undefined) throw new HttpFailure(422, 'Invalid', `json patch path "${path}" does not exist`);
  }
  if (!Array.isArray(node) && !isObject(node)) throw new HttpFailure(422, 'Invalid', `json patch path "${path}" does not exist`);
  return { parent: node, key: keys[keys.length - 1]! };
}

function getAt(doc: unknown, path: string): unknown {
  let node: unknown = doc;
  for (const k of pointer(path)) {
    if (Array.isArray(node)) node = node[Number(k)];
    else if (isObject(node)) node = node[k];
    else return undefined;
  }
  return node;
}

function removeAt(doc: unknown, path: string): unknown {
  const { parent, key } = parentOf(doc, pointer(path), path);
  if (Array.isArray(parent)) {
    const i = Number(key);
    if (!(i >= 0 && i < parent.length)) throw new HttpFailure(422, 'Invalid', `json patch path "${path}" does not exist`);
    return parent.splice(i, 1)[0];
  }
  if (!(key in parent)) throw new HttpFailure(422, 'Invalid', `json patch path "${path}" does not exist`);
  const v = parent[key];
  delete parent[key];
  return v;
}

function addAt(doc: unknown, path: string, value: unknown, replace: boolean): unknown {
  const keys = pointer(path);
  if (keys.length === 0) return clone(value);
  const { parent, key } = parentOf(doc, keys, path);
  if (Array.isArray(parent)) {
    const i = key === '-' ? parent.length : Number(key);
    if (!(i >= 0 && i <= parent.length)) throw new HttpFailure(422, 'Invalid', `json patch index "${path}" out of range`);
    if (replace) parent[i] = clone(value);
    else parent.splice(i, 0, clone(value));
  } else {
    if (replace && !(key in parent)) throw new HttpFailure(422, 'Invalid', `json patch path "${path}" does not exist`);
    parent[key] = clone(value);
  }
  return doc;
}

/** RFC 6902 JSON patch. */
export function jsonPatch(target: unknown, ops: unknown): unknown {
  if (!Array.isArray(ops)) throw new HttpFailure(400, 'BadRequest', 'a json patch must be an array of operations');
  let doc = clone(target);
  for (const raw of ops as JsonPatchOp[]) {
    switch (raw.op) {
      case 'add':
        doc = addAt(doc, raw.path, raw.value, false);
        break;
      case 'replace':
        doc = addAt(doc, raw.path, raw.value, true);
        break;
      case 'remove':
        removeAt(doc, raw.path);
        break;
      case 'move': {
        const v = removeAt(doc, raw.from ?? '');
        doc = addAt(doc, raw.path, v, false);
        break;
      }
      case 'copy':
        doc = addAt(doc, raw.path, getAt(doc, raw.from ?? ''), false);
        break;
      case 'test':
        if (JSON.stringify(getAt(doc, raw.path)) !== JSON.stringify(raw.value)) throw new HttpFailure(422, 'Invalid', `json patch test failed at "${raw.path}"`);
        break;
      default:
        throw new HttpFailure(400, 'BadRequest', `unknown json patch op ${JSON.stringify((raw as { op?: unknown }).op)}`);
    }
  }
  return doc;
}

function applyPatch(contentType: string, target: KubeObject, patch: unknown): KubeObject {
  const type = contentType.split(';')[0]!.trim();
  let out: unknown;
  if (type === 'application/json-patch+json') out = jsonPatch(target, patch);
  else if (type === 'application/merge-patch+json' || type === 'application/strategic-merge-patch+json') out = mergePatch(target, patch);
  else throw new HttpFailure(415, 'UnsupportedMediaType', `the body of the request was in an unknown format - accepted media types include: application/json-patch+json, application/merge-patch+json, application/strategic-merge-patch+json`);
  if (!isObject(out)) throw new HttpFailure(422, 'Invalid', 'the patch does not leave an object');
  return out as KubeObject;
}

// ---- selectors ----

type Filter = (o: KubeObject) => boolean;

function fieldFilter(text: string | null): Filter | undefined {
  if (!text) return undefined;
  const terms = text.split(',').filter(Boolean).map((t) => {
    const m = /^([\w.]+)\s*(==|=|!=)\s*(.*)$/.exec(t.trim());
    if (!m) throw new HttpFailure(400, 'BadRequest', `invalid field selector "${t}"`);
    return { path: m[1]!, negate: m[2] === '!=', value: m[3]! };
  });
  return (o) => terms.every((t) => (String(readPath(o, t.path) ?? '') === t.value) !== t.negate);
}

function selectorFilter(params: URLSearchParams): Filter | undefined {
  const label = params.get('labelSelector');
  const requirements = label ? parseLabelSelector(label) : undefined;
  const field = fieldFilter(params.get('fieldSelector'));
  if (!requirements && !field) return undefined;
  return (o) => (!requirements || labelsMatch(requirements, o.metadata.labels)) && (!field || field(o));
}

// ---- routing ----

interface Route {
  type: ResourceType;
  namespace?: string;
  name?: string;
  subresource?: string;
}

function discoveryResources(objects: ClusterObjects, group: string, version: string): Json[] {
  const out: Json[] = [];
  for (const t of objects.resourceTypes()) {
    if (t.group !== group || t.version !== version) continue;
    out.push({
      name: t.plural,
      singularName: t.singular ?? '',
      namespaced: t.namespaced,
      kind: t.kind,
      verbs: ['create', 'delete', 'deletecollection', 'get', 'list', 'patch', 'update', 'watch'],
      ...(t.shortNames ? { shortNames: t.shortNames } : {}),
    });
    if (t.statusSubresource) out.push({ name: `${t.plural}/status`, singularName: '', namespaced: t.namespaced, kind: t.kind, verbs: ['get', 'patch', 'update'] });
    if (t.scale) out.push({ name: `${t.plural}/scale`, singularName: '', namespaced: t.namespaced, group: 'autoscaling', version: 'v1', kind: 'Scale', verbs: ['get', 'patch', 'update'] });
    if (t.kind === 'Pod' && t.group === '') out.push({ name: 'pods/eviction', singularName: '', namespaced: true, group: 'policy', version: 'v1', kind: 'Eviction', verbs: ['create'] });
  }
  return out;
}

function groups(objects: ClusterObjects): Map<string, string[]> {
  const out = new Map<string, string[]>();
  for (const t of objects.resourceTypes()) {
    if (t.group === '') continue;
    const versions = out.get(t.group) ?? [];
    if (!versions.includes(t.version)) versions.push(t.version);
    out.set(t.group, versions);
  }
  return out;
}

function apiGroup(name: string, versions: string[]): Json {
  const list = versions.map((v) => ({ groupVersion: `${name}/${v}`, version: v }));
  return { name, versions: list, preferredVersion: list[0] };
}

/** Discovery documents, or undefined when the path is not a discovery path. */
function discovery(objects: ClusterObjects, segments: string[]): Json | undefined {
  if (segments[0] === 'version' && segments.length === 1) return { major: '1', minor: '30', gitVersion: 'v1.30.0-tidemark-fake', platform: 'linux/amd64' };
  if (segments[0] === 'api') {
    if (segments.length === 1) return { kind: 'APIVersions', versions: ['v1'], serverAddressByClientCIDRs: [] };
    if (segments.length === 2 && segments[1] === 'v1') return { kind: 'APIResourceList', groupVersion: 'v1', resources: discoveryResources(objects, '', 'v1') };
  }
  if (segments[0] === 'apis') {
    const all = groups(objects);
    if (segments.length === 1) return { kind: 'APIGroupList', apiVersion: 'v1', groups: [...all].map(([g, v]) => apiGroup(g, v)) };
    const versions = all.get(segments[1]!);
    if (!versions) return undefined;
    if (segments.length === 2) return { kind: 'APIGroup', apiVersion: 'v1', ...apiGroup(segments[1]!, versions) };
    if (segments.length === 3 && versions.includes(segments[2]!)) {
      return { kind: 'APIResourceList', apiVersion: 'v1', groupVersion: `${segments[1]}/${segments[2]}`, resources: discoveryResources(objects, segments[1]!, segments[2]!) };
    }
  }
  return undefined;
}

function resolve(objects: ClusterObjects, segments: string[]): Route | undefined {
  let group: string;
  let version: string;
  let rest: string[];
  if (segments[0] === 'api' && segments.length >= 3) {
    group = '';
    version = segments[1]!;
    rest = segments.slice(2);
  } else if (segments[0] === 'apis' && segments.length >= 4) {
    group = segments[1]!;
    version = segments[2]!;
    rest = segments.slice(3);
  } else return undefined;
  let namespace: string | undefined;
  // namespaces/{ns}/{plural}/... unless it is the Namespace object's own subresource.
  if (rest[0] === 'namespaces' && rest.length >= 3 && objects.resourceType(group, version, rest[2]!)) {
    namespace = rest[1]!;
    rest = rest.slice(2);
  }
  const type = objects.resourceType(group, version, rest[0]!);
  if (!type) return undefined;
  if (rest.length > 3) return undefined;
  return { type, ...(namespace !== undefined ? { namespace } : {}), ...(rest[1] !== undefined ? { name: rest[1] } : {}), ...(rest[2] !== undefined ? { subresource: rest[2] } : {}) };
}

function scaleOf(t: ResourceType, o: KubeObject): Json {
  const scale = t.scale!;
  const rawSelector = scale.labelSelectorPath ? readPath(o, scale.labelSelectorPath) : undefined;
  const selector = typeof rawSelector === 'string' ? rawSelector : rawSelector ? formatSelector(rawSelector as LabelSelectorObject) : '';
  return {
    kind: 'Scale',
    apiVersion: 'autoscaling/v1',
    metadata: {
      name: o.metadata.name,
      namespace: o.metadata.namespace,
      uid: o.metadata.uid,
      resourceVersion: o.metadata.resourceVersion,
      creationTimestamp: o.metadata.creationTimestamp,
    },
    spec: { replicas: Number(readPath(o, scale.specReplicasPath) ?? 0) },
    status: { replicas: Number(readPath(o, scale.statusReplicasPath) ?? 0), ...(selector ? { selector } : {}) },
  };
}

export async function startFakeApiServer(options: FakeApiServerOptions = {}): Promise<FakeApiServer> {
  const objects = options.objects ?? new ClusterObjects();
  const bookmarkMs = options.bookmarkIntervalMs ?? 1000;
  const requests: RequestRecord[] = [];
  const watches = new Set<ServerResponse>();

  function list(route: Route, params: URLSearchParams): Json {
    const items = objects.list(route.type, route.namespace, selectorFilter(params));
    return {
      kind: `${route.type.kind}List`,
      apiVersion: apiVersionOf(route.type),
      metadata: { resourceVersion: String(objects.resourceVersion) },
      items,
    };
  }

  function watch(route: Route, params: URLSearchParams, req: IncomingMessage, res: ServerResponse): void {
    const filter = selectorFilter(params);
    const inScope = (c: ObjectChange): boolean =>
      c.resource === route.type &&
      (route.namespace === undefined || !route.type.namespaced || c.object.metadata.namespace === route.namespace) &&
      (route.name === undefined || c.object.metadata.name === route.name);
    /** The event this watch sees: a change that moves an object into or out of the selector is an ADDED or DELETED, as the API server sends. */
    const eventFor = (c: ObjectChange): string | undefined => {
      if (!inScope(c)) return undefined;
      if (!filter) return c.type;
      const now = filter(c.object);
      if (c.type !== 'MODIFIED') return now ? c.type : undefined;
      const before = c.previous ? filter(c.previous) : now;
      if (before && now) return 'MODIFIED';
      if (now) return 'ADDED';
      if (before) return 'DELETED';
      return undefined;
    };
    res.writeHead(200, { 'Content-Type': 'application/json', 'Transfer-Encoding': 'chunked', 'Cache-Control': 'no-cache' });
    res.flushHeaders();
    const write = (type: string, object: unknown): void => {
      res.write(JSON.stringify({ type, object }) + '\n');
    };
    const rvParam = params.get('resourceVersion');
    // Events that arrive while the backlog is written wait their turn, so order matches resourceVersion order.
    let sentUpTo = 0;
    if (rvParam === null || rvParam === '' || rvParam === '0') {
      sentUpTo = objects.resourceVersion;
      for (const o of objects.list(route.type, route.namespace, filter)) if (route.name === undefined || o.metadata.name === route.name) write('ADDED', o);
    } else {
      const since = Number(rvParam);
      if (!Number.isInteger(since) || since < 0) {
        write('ERROR', status(400, 'BadRequest', `invalid resourceVersion "${rvParam}"`));
        res.end();
        return;
      }
      try {
        for (const c of objects.changesSince(since)) {
          const type = eventFor(c);
          if (type) write(type, c.object);
        }
      } catch (e) {
        if (e instanceof ObjectError && e.code === 410) {
          write('ERROR', status(410, 'Expired', e.message));
          res.end();
          return;
        }
        throw e;
      }
      sentUpTo = objects.resourceVersion;
    }
    watches.add(res);
    const unsubscribe = objects.onChange((c) => {
      if (c.resourceVersion <= sentUpTo) return;
      const type = eventFor(c);
      if (type) write(type, c.object);
    });
    const timers: NodeJS.Timeout[] = [];
    if (params.get('allowWatchBookmarks') === 'true' || params.get('allowWatchBookmarks') === '1') {
      timers.push(
        setInterval(() => {
          write('BOOKMARK', { kind: route.type.kind, apiVersion: apiVersionOf(route.type), metadata: { resourceVersion: String(objects.resourceVersion) } });
        }, bookmarkMs),
      );
    }
    const timeoutSeconds = Number(params.get('timeoutSeconds') ?? '0');
    if (timeoutSeconds > 0) timers.push(setTimeout(() => res.end(), timeoutSeconds * 1000));
    const cleanup = (): void => {
      unsubscribe();
      for (const t of timers) clearTimeout(t);
      watches.delete(res);
    };
    res.on('close', cleanup);
    req.on('close', cleanup);
  }

  function evict(route: Route, body: unknown): Json {
    const namespace = route.namespace ?? 'default';
    const pod = objects.get(route.type, namespace, route.name!);
    const b = (body ?? {}) as { kind?: string; metadata?: { name?: string } };
    if (b.kind !== undefined && b.kind !== 'Eviction') throw new HttpFailure(400, 'BadRequest', `expected an Eviction, got ${b.kind}`);
    if (b.metadata?.name !== undefined && b.metadata.name !== route.name) throw new HttpFailure(400, 'BadRequest', 'name in URL does not match name in Eviction object');
    const pdbType = objects.resourceType('policy', 'v1', 'poddisruptionbudgets')!;
    const verdict = evictionVerdict(pod, objects.list(pdbType, namespace), objects.list(route.type, namespace));
    if (!verdict.allowed) {
      throw new HttpFailure(429, 'TooManyRequests', verdict.message);
    }
    objects.delete(route.type, namespace, route.name!);
    return status(201, '', '', { name: route.name, kind: 'pods' });
  }

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://127.0.0.1');
    const method = req.method ?? 'GET';
    requests.push({ method, path: url.pathname, query: url.search, ...(req.headers['content-type'] ? { contentType: req.headers['content-type'] } : {}) });
    if (requests.length > 5000) requests.splice(0, requests.length - 5000);
    const segments = url.pathname.split('/').filter(Boolean).map(decodeURIComponent);
    const params = url.searchParams;
    if (method === 'GET') {
      const doc = discovery(objects, segments);
      if (doc) return send(res, 200, doc);
    }
    const route = resolve(objects, segments);
    if (!route) throw new HttpFailure(404, 'NotFound', `the server could not find the requested resource (${method} ${url.pathname})`);
    const { type } = route;
    if (type.namespaced && route.name !== undefined && route.namespace === undefined) {
      throw new HttpFailure(404, 'NotFound', `${type.plural} is namespaced: use /namespaces/{namespace}/${type.plural}/{name}`);
    }
    const contentType = String(req.headers['content-type'] ?? 'application/json');

    if (route.name === undefined) {
      if (method === 'GET') {
        if (params.get('watch') === 'true' || params.get('watch') === '1') return watch(route, params, req, res);
        return send(res, 200, list(route, params));
      }
      if (method === 'POST') {
        const body = (await readBody(req)) as KubeObject | undefined;
        if (!isObject(body)) throw new HttpFailure(400, 'BadRequest', 'the request body must be an object');
        if (body.kind !== undefined && body.kind !== type.kind) throw new HttpFailure(400, 'BadRequest', `expected kind ${type.kind}, got ${String(body.kind)}`);
        // Custom resources with a status subresource take status only through /status.
        if (type.custom && type.statusSubresource) delete body.status;
        if (body.metadata) delete body.metadata.creationTimestamp;
        return send(res, 201, objects.create(type, body, type.namespaced ? (route.namespace ?? body.metadata?.namespace ?? 'default') : undefined));
      }
      if (method === 'DELETE') {
        const gone = objects.list(type, route.namespace, selectorFilter(params)).map((o) => objects.delete(type, o.metadata.namespace, o.metadata.name!));
        return send(res, 200, { kind: `${type.kind}List`, apiVersion: apiVersionOf(type), metadata: { resourceVersion: String(objects.resourceVersion) }, items: gone });
      }
      throw new HttpFailure(405, 'MethodNotAllowed', `${method} is not allowed on a collection`);
    }

    const ns = route.namespace;
    const name = route.name;
    if (route.subresource === undefined) {
      if (method === 'GET') return send(res, 200, objects.get(type, ns, name));
      if (method === 'PUT') {
        const body = (await readBody(req)) as KubeObject;
        if (!isObject(body)) throw new HttpFailure(400, 'BadRequest', 'the request body must be an object');
        if (body.metadata?.name !== undefined && body.metadata.name !== name) throw new HttpFailure(400, 'BadRequest', 'the name of the object does not match the name on the URL');
        return send(res, 200, objects.update(type, { ...body, metadata: { ...body.metadata, name } }, { ...(ns !== undefined ? { namespace: ns } : {}) }));
      }
      if (method === 'PATCH') {
        const patched = applyPatch(contentType, objects.get(type, ns, name), await readBody(req));
        return send(res, 200, objects.update(type, patched, { ...(ns !== undefined ? { namespace: ns } : {}) }));
      }
      if (method === 'DELETE') return send(res, 200, objects.delete(type, ns, name));
      throw new HttpFailure(405, 'MethodNotAllowed', `${method} is not allowed`);
    }

    if (route.subresource === 'status' && type.statusSubresource) {
      const current = objects.get(type, ns, name);
      if (method === 'GET') return send(res, 200, current);
      let next: KubeObject;
      if (method === 'PUT') next = (await readBody(req)) as KubeObject;
      else if (method === 'PATCH') next = applyPatch(contentType, current, await readBody(req));
      else throw new HttpFailure(405, 'MethodNotAllowed', `${method} is not allowed on status`);
      if (!isObject(next)) throw new HttpFailure(400, 'BadRequest', 'the request body must be an object');
      return send(res, 200, objects.update(type, { ...next, metadata: { ...next.metadata, name } }, { ...(ns !== undefined ? { namespace: ns } : {}), subresource: 'status' }));
    }

    if (route.subresource === 'scale' && type.scale) {
      const current = objects.get(type, ns, name);
      const scale = scaleOf(type, current);
      if (method === 'GET') return send(res, 200, scale);
      let next: Json;
      if (method === 'PUT') next = (await readBody(req)) as Json;
      else if (method === 'PATCH') next = applyPatch(contentType, scale as KubeObject, await readBody(req)) as Json;
      else throw new HttpFailure(405, 'MethodNotAllowed', `${method} is not allowed on scale`);
      const replicas = readPath(next, '.spec.replicas');
      if (typeof replicas !== 'number' || !Number.isInteger(replicas) || replicas < 0) {
        throw new HttpFailure(422, 'Invalid', `Scale.autoscaling "${name}" is invalid: spec.replicas: Invalid value: must be a non-negative integer`);
      }
      const rv = readPath(next, '.metadata.resourceVersion');
      if (method === 'PUT' && typeof rv === 'string' && rv !== '' && rv !== current.metadata.resourceVersion) {
        throw new HttpFailure(409, 'Conflict', `Operation cannot be fulfilled on ${type.plural} "${name}": the object has been modified; please apply your changes to the latest version and try again`);
      }
      writePath(current as unknown as Json, type.scale.specReplicasPath, replicas);
      return send(res, 200, scaleOf(type, objects.update(type, current, { ...(ns !== undefined ? { namespace: ns } : {}) })));
    }

    if (route.subresource === 'eviction' && type.kind === 'Pod' && type.group === '' && method === 'POST') {
      return send(res, 201, evict(route, await readBody(req)));
    }
    throw new HttpFailure(404, 'NotFound', `the server could not find the requested resource (${method} ${url.pathname})`);
  }

  const server: Server = createServer((req, res) => {
    handle(req, res).catch((e: unknown) => {
      if (res.headersSent) {
        res.end();
        return;
      }
      if (e instanceof HttpFailure) send(res, e.code, status(e.code, e.reason, e.message));
      else if (e instanceof ObjectError) send(res, e.code, status(e.code, e.reason, e.message));
      else if (e instanceof LabelSelectorError) send(res, 400, status(400, 'BadRequest', e.message));
      else send(res, 500, status(500, 'InternalError', (e as Error).message));
    });
  });
  server.keepAliveTimeout = 1000;
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  const url = `http://127.0.0.1:${port}`;

  return {
    url,
    port,
    objects,
    requests,
    kubeConfig(): KubeConfig {
      const kc = new KubeConfig();
      kc.loadFromOptions({
        clusters: [{ name: 'fake', server: url, skipTLSVerify: true }],
        users: [{ name: 'tester' }],
        contexts: [{ name: 'fake', cluster: 'fake', user: 'tester' }],
        currentContext: 'fake',
      });
      return kc;
    },
    dropWatches(): void {
      for (const w of [...watches]) w.end();
    },
    openWatches(): number {
      return watches.size;
    },
    async close(): Promise<void> {
      for (const w of [...watches]) w.destroy();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
