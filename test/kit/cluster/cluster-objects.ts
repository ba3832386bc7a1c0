// ClusterObjects: a cluster's Kubernetes objects held in memory, the state a
// fake API server serves and the cluster simulator drives (test kit: product
// code never imports it). It owns resource types (built-in and those that
// CRDs register), resourceVersions, the bounded watch history (older versions
// answer 410 Gone, as etcd compaction does) and change listeners.
import { randomUUID } from 'node:crypto';

export interface KubeObject {
  apiVersion?: string;
  kind?: string;
  metadata: KubeMeta;
  spec?: unknown;
  status?: unknown;
  [key: string]: unknown;
}

export interface KubeMeta {
  name?: string;
  generateName?: string;
  namespace?: string;
  uid?: string;
  resourceVersion?: string;
  generation?: number;
  creationTimestamp?: string;
  deletionTimestamp?: string;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
  [key: string]: unknown;
}

/** The scale subresource's paths, as a CRD's `subresources.scale` names them. */
export interface ScaleSubresource {
  specReplicasPath: string;
  statusReplicasPath: string;
  labelSelectorPath?: string;
}

export interface ResourceType {
  group: string;
  version: string;
  plural: string;
  kind: string;
  namespaced: boolean;
  /** With a status subresource, writes to the main resource keep status and writes to /status keep everything else. */
  statusSubresource: boolean;
  scale?: ScaleSubresource;
  shortNames?: string[];
  singular?: string;
  /** Served because a CustomResourceDefinition registered it. */
  custom?: boolean;
}

export type WatchEventType = 'ADDED' | 'MODIFIED' | 'DELETED';

export interface ObjectChange {
  type: WatchEventType;
  resource: ResourceType;
  object: KubeObject;
  /** The object before a MODIFIED change, so a filtered watch can tell an object entering or leaving its selector. */
  previous?: KubeObject;
  resourceVersion: number;
}

export class ObjectError extends Error {
  constructor(
    readonly code: 400 | 404 | 409 | 410 | 422 | 429,
    readonly reason: string,
    message: string,
  ) {
    super(message);
    this.name = 'ObjectError';
  }
}

export function typeKey(group: string, version: string, plural: string): string {
  return `${group}/${version}/${plural}`;
}

export function apiVersionOf(t: Pick<ResourceType, 'group' | 'version'>): string {
  return t.group === '' ? t.version : `${t.group}/${t.version}`;
}

function objectKey(namespace: string | undefined, name: string): string {
  return `${namespace ?? ''}/${name}`;
}

export function clone<T>(value: T): T {
  return structuredClone(value);
}

const BUILT_IN: ResourceType[] = [
  { group: '', version: 'v1', plural: 'namespaces', kind: 'Namespace', namespaced: false, statusSubresource: true, singular: 'namespace' },
  { group: '', version: 'v1', plural: 'nodes', kind: 'Node', namespaced: false, statusSubresource: true, singular: 'node' },
  { group: '', version: 'v1', plural: 'pods', kind: 'Pod', namespaced: true, statusSubresource: true, singular: 'pod' },
  { group: '', version: 'v1', plural: 'events', kind: 'Event', namespaced: true, statusSubresource: false, singular: 'event' },
  { group: '', version: 'v1', plural: 'services', kind: 'Service', namespaced: true, statusSubresource: true, singular: 'service' },
  { group: '', version: 'v1', plural: 'configmaps', kind: 'ConfigMap', namespaced: true, statusSubresource: false, singular: 'configmap' },
  {
    group: 'apps', version: 'v1', plural: 'deployments', kind: 'Deployment', namespaced: true, statusSubresource: true, singular: 'deployment',
    scale: { specReplicasPath: '.spec.replicas', statusReplicasPath: '.status.replicas', labelSelectorPath: '.spec.selector' },
  },
  {
    group: 'apps', version: 'v1', plural: 'statefulsets', kind: 'StatefulSet', namespaced: true, statusSubresource: true, singular: 'statefulset',
    scale: { specReplicasPath: '.spec.replicas', statusReplicasPath: '.status.replicas', labelSelectorPath: '.spec.selector' },
  },
  {
    group: 'apps', version: 'v1', plural: 'replicasets', kind: 'ReplicaSet', namespaced: true, statusSubresource: true, singular: 'replicaset',
    scale: { specReplicasPath: '.spec.replicas', statusReplicasPath: '.status.replicas', labelSelectorPath: '.spec.selector' },
  },
  { group: 'policy', version: 'v1', plural: 'poddisruptionbudgets', kind: 'PodDisruptionBudget', namespaced: true, statusSubresource: true, singular: 'poddisruptionbudget' },
  { group: 'events.k8s.io', version: 'v1', plural: 'events', kind: 'Event', namespaced: true, statusSubresource: false, singular: 'event' },
  { group: 'apiextensions.k8s.io', version: 'v1', plural: 'customresourcedefinitions', kind: 'CustomResourceDefinition', namespaced: false, statusSubresource: true, singular: 'customresourcedefinition' },
];

interface CrdVersion {
  name: string;
  served?: boolean;
  subresources?: { status?: object; scale?: ScaleSubresource };
}

interface CrdSpec {
  group: string;
  scope: 'Namespaced' | 'Cluster';
  names: { plural: string; kind: string; singular?: string; shortNames?: string[] };
  versions: CrdVersion[];
}

export interface ClusterObjectsOptions {
  /** Watch events kept for resumption; a watch from an older resourceVersion gets 410 Gone. */
  historyLimit?: number;
  now?: () => Date;
}

export class ClusterObjects {
  private readonly types = new Map<string, ResourceType>();
  private readonly objects = new Map<string, Map<string, KubeObject>>();
  private readonly history: ObjectChange[] = [];
  private readonly listeners = new Set<(change: ObjectChange) => void>();
  private revision = 1;
  /** Oldest resourceVersion a watch can still resume from. */
  private compacted = 0;
  private readonly historyLimit: number;
  private readonly now: () => Date;

  constructor(options: ClusterObjectsOptions = {}) {
    this.historyLimit = options.historyLimit ?? 10_000;
    this.now = options.now ?? (() => new Date());
    for (const t of BUILT_IN) this.types.set(typeKey(t.group, t.version, t.plural), t);
  }

  get resourceVersion(): number {
    return this.revision;
  }

  resourceTypes(): ResourceType[] {
    return [...this.types.values()];
  }

  resourceType(group: string, version: string, plural: string): ResourceType | undefined {
    return this.types.get(typeKey(group, version, plural));
  }

  /** The served type for an apiVersion and kind (used by the simulator and for events' involvedObject). */
  typeForKind(apiVersion: string, kind: string): ResourceType | undefined {
    for (const t of this.types.values()) if (apiVersionOf(t) === apiVersion && t.kind === kind) return t;
    return undefined;
  }

  onChange(listener: (change: ObjectChange) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** Changes after `since`, or a 410 ObjectError when they are no longer kept. */
  changesSince(since: number): ObjectChange[] {
    if (since < this.compacted) throw new ObjectError(410, 'Expired', `too old resource version: ${since} (${this.compacted})`);
    const out: ObjectChange[] = [];
    for (let i = this.history.length - 1; i >= 0; i--) {
      const c = this.history[i]!;
      if (c.resourceVersion <= since) break;
      out.push(c);
    }
    return out.reverse();
  }

  /** Forgets all watch history up to now, so that any older resourceVersion is Gone (tests of relisting). */
  compact(): void {
    this.history.length = 0;
    this.compacted = this.revision;
  }

  private bucket(t: ResourceType): Map<string, KubeObject> {
    const k = typeKey(t.group, t.version, t.plural);
    let b = this.objects.get(k);
    if (!b) {
      b = new Map();
      this.objects.set(k, b);
    }
    return b;
  }

  private record(type: WatchEventType, t: ResourceType, object: KubeObject, previous?: KubeObject): void {
    const change: ObjectChange = { type, resource: t, object, ...(previous ? { previous } : {}), resourceVersion: this.revision };
    this.history.push(change);
    if (this.history.length > this.historyLimit) {
      const dropped = this.history.splice(0, this.history.length - this.historyLimit);
      this.compacted = dropped[dropped.length - 1]!.resourceVersion;
    }
    for (const l of [...this.listeners]) l(change);
  }

  list(t: ResourceType, namespace?: string, selector?: (o: KubeObject) => boolean): KubeObject[] {
    const out: KubeObject[] = [];
    for (const o of this.bucket(t).values()) {
      if (namespace !== undefined && t.namespaced && o.metadata.namespace !== namespace) continue;
      if (selector && !selector(o)) continue;
      out.push(clone(o));
    }
    return out;
  }

  /** How many objects of a type are held, without copying them. */
  count(t: ResourceType): number {
    return this.bucket(t).size;
  }

  /** Iterates the objects held without copying; callers must not mutate them. */
  *peek(t: ResourceType): IterableIterator<KubeObject> {
    yield* this.bucket(t).values();
  }

  get(t: ResourceType, namespace: string | undefined, name: string): KubeObject {
    const o = this.bucket(t).get(objectKey(t.namespaced ? namespace : undefined, name));
    if (!o) throw new ObjectError(404, 'NotFound', `${t.plural}${t.group ? '.' + t.group : ''} "${name}" not found`);
    return clone(o);
  }

  find(t: ResourceType, namespace: string | undefined, name: string): KubeObject | undefined {
    const o = this.bucket(t).get(objectKey(t.namespaced ? namespace : undefined, name));
    return o ? clone(o) : undefined;
  }

  create(t: ResourceType, input: KubeObject, namespace?: string): KubeObject {
    const obj = clone(input);
    obj.metadata = obj.metadata ?? {};
    if (!obj.metadata.name) {
      if (!obj.metadata.generateName) throw new ObjectError(422, 'Invalid', 'metadata.name: Required value: name or generateName is required');
      obj.metadata.name = obj.metadata.generateName + randomUUID().slice(0, 5);
    }
    if (t.namespaced) {
      const ns = namespace ?? obj.metadata.namespace ?? 'default';
      if (obj.metadata.namespace && obj.metadata.namespace !== ns) {
        throw new ObjectError(400, 'BadRequest', 'the namespace of the provided object does not match the namespace sent on the request');
      }
      obj.metadata.namespace = ns;
    } else {
      delete obj.metadata.namespace;
    }
    const key = objectKey(obj.metadata.namespace, obj.metadata.name);
    const b = this.bucket(t);
    if (b.has(key)) throw new ObjectError(409, 'AlreadyExists', `${t.plural}${t.group ? '.' + t.group : ''} "${obj.metadata.name}" already exists`);
    this.revision++;
    obj.apiVersion = apiVersionOf(t);
    obj.kind = t.kind;
    obj.metadata.uid = randomUUID();
    obj.metadata.resourceVersion = String(this.revision);
    // In-process callers (the simulator) may backdate objects; the HTTP layer strips client-sent timestamps.
    obj.metadata.creationTimestamp = obj.metadata.creationTimestamp ?? this.now().toISOString().replace(/\.\d{3}Z$/, 'Z');
    obj.metadata.generation = 1;
    delete obj.metadata.deletionTimestamp;
    if (t.kind === 'CustomResourceDefinition') this.registerCrd(obj);
    b.set(key, obj);
    this.record('ADDED', t, clone(obj));
    return clone(obj);
  }

  /**
   * Replaces an object. `subresource` 'status' keeps everything but status;
   * a write to the main resource of a type with a status subresource keeps status.
   */
  update(t: ResourceType, input: KubeObject, options: { namespace?: string; subresource?: 'status' } = {}): KubeObject {
    const name = input.metadata?.name;
    if (!name) throw new ObjectError(422, 'Invalid', 'metadata.name: Required value');
    const key = objectKey(t.namespaced ? (options.namespace ?? input.metadata.namespace ?? 'default') : undefined, name);
    const b = this.bucket(t);
    const old = b.get(key);
    if (!old) throw new ObjectError(404, 'NotFound', `${t.plural}${t.group ? '.' + t.group : ''} "${name}" not found`);
    const rv = input.metadata.resourceVersion;
    if (rv !== undefined && rv !== '' && rv !== old.metadata.resourceVersion) {
      throw new ObjectError(409, 'Conflict', `Operation cannot be fulfilled on ${t.plural} "${name}": the object has been modified; please apply your changes to the latest version and try again`);
    }
    let next: KubeObject;
    if (options.subresource === 'status') {
      next = clone(old);
      next.status = clone(input.status);
    } else {
      next = clone(input);
      if (t.statusSubresource) next.status = clone(old.status);
      if (next.status === undefined) delete next.status;
    }
    // Identity fields are the server's, whatever the client sent.
    next.apiVersion = old.apiVersion;
    next.kind = old.kind;
    next.metadata = {
      ...next.metadata,
      name: old.metadata.name,
      uid: old.metadata.uid,
      creationTimestamp: old.metadata.creationTimestamp,
      ...(old.metadata.namespace !== undefined ? { namespace: old.metadata.namespace } : {}),
    };
    if (old.metadata.deletionTimestamp) next.metadata.deletionTimestamp = old.metadata.deletionTimestamp;
    const specChanged = JSON.stringify(old.spec) !== JSON.stringify(next.spec);
    next.metadata.generation = (old.metadata.generation ?? 1) + (specChanged ? 1 : 0);
    next.metadata.resourceVersion = old.metadata.resourceVersion;
    if (JSON.stringify(old) === JSON.stringify(next)) return clone(old);
    this.revision++;
    next.metadata.resourceVersion = String(this.revision);
    if (t.kind === 'CustomResourceDefinition') this.registerCrd(next);
    b.set(key, next);
    this.record('MODIFIED', t, clone(next), old);
    return clone(next);
  }

  delete(t: ResourceType, namespace: string | undefined, name: string): KubeObject {
    const key = objectKey(t.namespaced ? namespace : undefined, name);
    const b = this.bucket(t);
    const old = b.get(key);
    if (!old) throw new ObjectError(404, 'NotFound', `${t.plural}${t.group ? '.' + t.group : ''} "${name}" not found`);
    b.delete(key);
    this.revision++;
    const gone = clone(old);
    gone.metadata.resourceVersion = String(this.revision);
    if (t.kind === 'CustomResourceDefinition') this.unregisterCrd(gone);
    this.record('DELETED', t, gone);
    return clone(gone);
  }

  private registerCrd(crd: KubeObject): void {
    const spec = crd.spec as CrdSpec | undefined;
    if (!spec?.group || !spec.names?.plural || !spec.names.kind || !Array.isArray(spec.versions)) {
      throw new ObjectError(422, 'Invalid', 'spec: a CustomResourceDefinition needs group, names.plural, names.kind and versions');
    }
    for (const v of spec.versions) {
      if (v.served === false) continue;
      this.types.set(typeKey(spec.group, v.name, spec.names.plural), {
        group: spec.group,
        version: v.name,
        plural: spec.names.plural,
        kind: spec.names.kind,
        namespaced: spec.scope !== 'Cluster',
        statusSubresource: v.subresources?.status !== undefined,
        ...(v.subresources?.scale ? { scale: v.subresources.scale } : {}),
        ...(spec.names.shortNames ? { shortNames: spec.names.shortNames } : {}),
        singular: spec.names.singular ?? spec.names.kind.toLowerCase(),
        custom: true,
      });
    }
  }

  private unregisterCrd(crd: KubeObject): void {
    const spec = crd.spec as CrdSpec | undefined;
    if (!spec) return;
    for (const v of spec.versions ?? []) {
      const k = typeKey(spec.group, v.name, spec.names.plural);
      this.types.delete(k);
      this.objects.delete(k);
    }
  }
}

// Label selectors live with the kube layer; re-exported for the simulator and the fake server.
export { LabelSelectorError, formatSelector, labelsMatch, parseLabelSelector, selectorRequirements, type LabelRequirement, type LabelSelectorObject } from '../../../autoscaler/label-selector.ts';

/** A dotted path (`.spec.replicas`) read from an object. */
export function readPath(obj: unknown, path: string): unknown {
  let node: unknown = obj;
  for (const key of path.replace(/^\./, '').split('.')) {
    if (node === null || typeof node !== 'object') return undefined;
    node = (node as Record<string, unknown>)[key];
  }
  return node;
}

export function writePath(obj: Record<string, unknown>, path: string, value: unknown): void {
  const keys = path.replace(/^\./, '').split('.');
  let node = obj;
  for (const key of keys.slice(0, -1)) {
    const next = node[key];
    if (next === null || typeof next !== 'object') node[key] = {};
    node = node[key] as Record<string, unknown>;
  }
  node[keys[keys.length - 1]!] = value;
}
