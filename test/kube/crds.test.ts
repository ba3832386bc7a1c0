// The CRDs under deploy/crds/ and the examples under deploy/examples/: the
// examples conform to the CRD schemas (our OpenAPI-subset validator, strict on
// unknown fields), the schemas refuse what they should, the pod policy examples
// are accepted by the recommender's own input parser, and the CRDs register
// with the fake API server so the examples can be created through client-node.
import { readFileSync, readdirSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseAllDocuments } from 'yaml';
import { ApiextensionsV1Api, CustomObjectsApi, type V1CustomResourceDefinition } from '@kubernetes/client-node';
import { policyCrd, policyIssues, type PolicyKind } from '../../autoscaler/kube/policies.ts';
import { validateAgainstSchema, type OpenApiSchema } from '../../autoscaler/kube/openapi-schema.ts';
import { parseRecommendInput } from '../../autoscaler/pods/input.ts';
import { startFakeApiServer, type FakeApiServer } from './fake-apiserver.ts';

const examplesDir = new URL('../../deploy/examples/', import.meta.url);
const examples = readdirSync(examplesDir)
  .filter((f) => f.endsWith('.yaml'))
  .flatMap((f) => parseAllDocuments(readFileSync(new URL(f, examplesDir), 'utf8')).map((d) => ({ file: f, object: d.toJSON() as { kind: PolicyKind; metadata: { name: string; namespace?: string }; spec: Record<string, unknown> } })));

/** Every schema node says its type (or is int-or-string / preserve-unknown), as a structural schema must. */
function structuralGaps(s: OpenApiSchema, path: string): string[] {
  const out: string[] = [];
  if (!s.type && !s['x-kubernetes-int-or-string'] && !s['x-kubernetes-preserve-unknown-fields']) out.push(path);
  for (const [k, v] of Object.entries(s.properties ?? {})) out.push(...structuralGaps(v, `${path}.${k}`));
  if (s.items) out.push(...structuralGaps(s.items, `${path}[]`));
  if (typeof s.additionalProperties === 'object') out.push(...structuralGaps(s.additionalProperties, `${path}{}`));
  return out;
}

describe('CRD manifests', () => {
  for (const kind of ['PodAutoscalingPolicy', 'NodeAutoscalingPolicy'] as const) {
    it(`${kind} is an apiextensions.k8s.io/v1 CRD with a structural schema and a status subresource`, () => {
      const crd = policyCrd(kind);
      expect(crd.apiVersion).toBe('apiextensions.k8s.io/v1');
      expect(crd.spec.group).toBe('autoscaling.tidemark.io');
      expect(crd.spec.names.kind).toBe(kind);
      const v = crd.spec.versions[0]!;
      expect(v.name).toBe('v1alpha1');
      expect(v.subresources?.status).toEqual({});
      expect(structuralGaps(v.schema.openAPIV3Schema, 'spec')).toEqual([]);
    });
  }

  it('models every HPA metric type and the behavior fields', () => {
    const spec = policyCrd('PodAutoscalingPolicy').spec.versions[0]!.schema.openAPIV3Schema.properties!['spec']!;
    const metric = spec.properties!['metrics']!.items!;
    expect(metric.properties!['type']!.enum).toEqual(['Resource', 'ContainerResource', 'Pods', 'Object', 'External']);
    expect(Object.keys(spec.properties!['behavior']!.properties!['scaleUp']!.properties!).sort()).toEqual(['policies', 'selectPolicy', 'stabilizationWindowSeconds', 'tolerance']);
    const status = policyCrd('PodAutoscalingPolicy').spec.versions[0]!.schema.openAPIV3Schema.properties!['status']!;
    expect(Object.keys(status.properties!)).toEqual(expect.arrayContaining(['currentReplicas', 'desiredReplicas', 'lastScaleTime', 'currentMetrics', 'conditions']));
  });
});

describe('examples', () => {
  it('there are examples of both kinds', () => {
    expect(new Set(examples.map((e) => e.object.kind))).toEqual(new Set(['PodAutoscalingPolicy', 'NodeAutoscalingPolicy']));
  });

  for (const { file, object } of examples) {
    it(`${file} (${object.metadata.name}) conforms to the ${object.kind} schema`, () => {
      expect(policyIssues(object.kind, object)).toEqual([]);
    });
    if (object.kind === 'PodAutoscalingPolicy') {
      it(`${file} is accepted by the recommender's input parser`, () => {
        const parsed = parseRecommendInput({ now: '2026-11-23T10:00:00Z', hpa: { spec: object.spec, status: { currentReplicas: 3 } } });
        expect(parsed.hpa.spec.maxReplicas).toBe(object.spec['maxReplicas']);
      });
    }
  }
});

describe('the schema refuses', () => {
  const web = examples.find((e) => e.file === 'web-cpu.yaml')!.object;
  const cases: [string, (s: Record<string, unknown>) => void, string][] = [
    ['a missing maxReplicas', (s) => delete s['maxReplicas'], 'spec.maxReplicas'],
    ['an unknown metric type', (s) => ((s['metrics'] as { type: string }[])[0]!.type = 'Cpu'), 'spec.metrics[0].type'],
    ['a string where an integer goes', (s) => (s['minReplicas'] = 'two'), 'spec.minReplicas'],
    ['a malformed quantity', (s) => (s['behavior'] = { scaleUp: { tolerance: 'ten percent' } }), 'spec.behavior.scaleUp.tolerance'],
    ['a stabilization window over an hour', (s) => (s['behavior'] = { scaleDown: { stabilizationWindowSeconds: 7200 } }), 'spec.behavior.scaleDown.stabilizationWindowSeconds'],
    ['an unknown field', (s) => (s['maxReplica'] = 3), 'spec.maxReplica'],
  ];
  for (const [what, mutate, field] of cases) {
    it(`${what}, naming ${field}`, () => {
      const bad = structuredClone(web);
      mutate(bad.spec);
      expect(policyIssues('PodAutoscalingPolicy', bad).map((i) => i.field)).toContain(field);
    });
  }

  it('a node group without a template, and a threshold above 1', () => {
    const nodes = structuredClone(examples.find((e) => e.object.kind === 'NodeAutoscalingPolicy')!.object);
    delete (nodes.spec['nodeGroups'] as Record<string, unknown>[])[0]!['template'];
    nodes.spec['scaleDownUtilizationThreshold'] = 1.5;
    expect(policyIssues('NodeAutoscalingPolicy', nodes).map((i) => i.field).sort()).toEqual(['spec.nodeGroups[0].template', 'spec.scaleDownUtilizationThreshold']);
  });

  it('validator basics: int-or-string patterns, enums, nullability', () => {
    const q: OpenApiSchema = { 'x-kubernetes-int-or-string': true, pattern: '^[0-9]+m?$' };
    expect(validateAgainstSchema(q, 5)).toEqual([]);
    expect(validateAgainstSchema(q, '250m')).toEqual([]);
    expect(validateAgainstSchema(q, 2.5)).toHaveLength(1);
    expect(validateAgainstSchema(q, 'x')).toHaveLength(1);
    expect(validateAgainstSchema({ type: 'string', enum: ['a'] }, 'b')[0]!.message).toMatch(/one of "a"/);
    expect(validateAgainstSchema({ type: 'object', properties: { a: { type: 'string' } } }, { a: null })[0]!.field).toBe('a');
  });
});

describe('CRDs in the fake API server', () => {
  let server: FakeApiServer;
  beforeAll(async () => {
    server = await startFakeApiServer();
  });
  afterAll(async () => {
    await server.close();
  });

  it('register both kinds and accept every example through CustomObjectsApi', async () => {
    const kc = server.kubeConfig();
    const ext = kc.makeApiClient(ApiextensionsV1Api);
    for (const kind of ['PodAutoscalingPolicy', 'NodeAutoscalingPolicy'] as const) {
      await ext.createCustomResourceDefinition({ body: policyCrd(kind) as unknown as V1CustomResourceDefinition });
    }
    const custom = kc.makeApiClient(CustomObjectsApi);
    for (const { object } of examples) {
      const plural = object.kind === 'PodAutoscalingPolicy' ? 'podautoscalingpolicies' : 'nodeautoscalingpolicies';
      if (object.metadata.namespace) {
        await custom.createNamespacedCustomObject({ group: 'autoscaling.tidemark.io', version: 'v1alpha1', plural, namespace: object.metadata.namespace, body: object });
      } else {
        await custom.createClusterCustomObject({ group: 'autoscaling.tidemark.io', version: 'v1alpha1', plural, body: object });
      }
    }
    const pods = (await custom.listCustomObjectForAllNamespaces({ group: 'autoscaling.tidemark.io', version: 'v1alpha1', plural: 'podautoscalingpolicies' })) as { items: { metadata: { name: string } }[] };
    expect(pods.items.map((i) => i.metadata.name).sort()).toEqual(['api', 'web', 'worker']);
    const nodes = (await custom.listClusterCustomObject({ group: 'autoscaling.tidemark.io', version: 'v1alpha1', plural: 'nodeautoscalingpolicies' })) as { items: { metadata: { name: string } }[] };
    expect(nodes.items.map((i) => i.metadata.name)).toEqual(['cluster']);
  });
});
