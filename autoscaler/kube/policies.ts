// The two policy kinds as the CRDs under deploy/crds/ define them: their
// group/version/plural, their schemas (read from the CRD files themselves, so
// the files stay the one source of truth) and the check that refuses what the
// API server would refuse, naming the field.
import { readFileSync } from 'node:fs';
import { parse as parseYaml } from 'yaml';
import { validateAgainstSchema, type OpenApiSchema, type SchemaIssue } from './openapi-schema.ts';

export const POLICY_GROUP = 'autoscaling.tidemark.io';
export const POLICY_VERSION = 'v1alpha1';
export const POD_POLICY_PLURAL = 'podautoscalingpolicies';
export const NODE_POLICY_PLURAL = 'nodeautoscalingpolicies';
export type PolicyKind = 'PodAutoscalingPolicy' | 'NodeAutoscalingPolicy';

const CRD_FILES: Record<PolicyKind, URL> = {
  PodAutoscalingPolicy: new URL('../../deploy/crds/podautoscalingpolicy.yaml', import.meta.url),
  NodeAutoscalingPolicy: new URL('../../deploy/crds/nodeautoscalingpolicy.yaml', import.meta.url),
};

export interface CustomResourceDefinition {
  apiVersion: 'apiextensions.k8s.io/v1';
  kind: 'CustomResourceDefinition';
  metadata: { name: string; labels?: Record<string, string> };
  spec: {
    group: string;
    scope: 'Namespaced' | 'Cluster';
    names: { plural: string; singular: string; kind: string; listKind: string; shortNames?: string[] };
    versions: { name: string; served: boolean; storage: boolean; subresources?: { status?: object }; schema: { openAPIV3Schema: OpenApiSchema } }[];
  };
}

const cache = new Map<PolicyKind, CustomResourceDefinition>();

/** The CRD manifest of a policy kind, as shipped in deploy/crds/. */
export function policyCrd(kind: PolicyKind): CustomResourceDefinition {
  let crd = cache.get(kind);
  if (!crd) {
    crd = parseYaml(readFileSync(CRD_FILES[kind], 'utf8')) as CustomResourceDefinition;
    cache.set(kind, crd);
  }
  return crd;
}

export function policySchema(kind: PolicyKind): OpenApiSchema {
  const v = policyCrd(kind).spec.versions.find((x) => x.name === POLICY_VERSION);
  if (!v) throw new Error(`${kind} CRD does not define ${POLICY_VERSION}`);
  return v.schema.openAPIV3Schema;
}

/** What the CRD schema refuses in a policy object (metadata and status are the server's concern and skipped). */
export function policyIssues(kind: PolicyKind, object: unknown): SchemaIssue[] {
  if (typeof object !== 'object' || object === null) return [{ field: '(root)', message: 'must be an object' }];
  const { metadata: _m, status: _s, ...rest } = object as Record<string, unknown>;
  const schema = policySchema(kind);
  const { status: _ss, ...properties } = schema.properties ?? {};
  return validateAgainstSchema({ ...schema, properties }, rest);
}

// ---- typed views of the policies, valid once policyIssues() is empty ----

export interface ObjectMeta {
  name: string;
  namespace?: string;
  uid?: string;
  generation?: number;
  resourceVersion?: string;
  creationTimestamp?: string;
}

export interface PolicyCondition {
  type: string;
  status: 'True' | 'False' | 'Unknown';
  reason?: string;
  message?: string;
  lastTransitionTime?: string;
}

/** The HPA spec plus Tidemark's block; metrics and behavior are passed to the recommender verbatim. */
export interface PodAutoscalingPolicySpec {
  scaleTargetRef: { apiVersion?: string; kind: string; name: string };
  minReplicas?: number;
  maxReplicas: number;
  metrics?: Record<string, unknown>[];
  behavior?: Record<string, unknown>;
  tidemark?: Record<string, unknown>;
}

export interface PodAutoscalingPolicyStatus {
  observedGeneration?: number;
  lastScaleTime?: string;
  currentReplicas?: number;
  desiredReplicas?: number;
  currentMetrics?: Record<string, unknown>[];
  conditions?: PolicyCondition[];
}

export interface PodAutoscalingPolicy {
  apiVersion: string;
  kind: 'PodAutoscalingPolicy';
  metadata: ObjectMeta;
  spec: PodAutoscalingPolicySpec;
  status?: PodAutoscalingPolicyStatus;
}

export interface NodeGroupPolicy {
  name: string;
  minSize: number;
  maxSize: number;
  priority?: number;
  machineDeployment?: string;
  template: { capacity: { cpu: string | number; memory: string | number; pods: string | number }; labels?: Record<string, string>; taints?: { key: string; value?: string; effect: string }[] };
}

export interface NodeAutoscalingPolicySpec {
  provider?: { type: 'simulated' | 'clusterapi'; namespace?: string };
  nodeGroups: NodeGroupPolicy[];
  expander?: 'least-waste' | 'most-pods' | 'priority' | 'random';
  scaleDownUtilizationThreshold?: number;
  scaleDownUnneededTime?: string;
  scaleDownEnabled?: boolean;
  quotas?: { maxNodesPerCluster?: number; maxPodsPerNode?: number };
}

export interface NodeAutoscalingPolicyStatus {
  observedGeneration?: number;
  lastScaleUpTime?: string;
  lastScaleDownTime?: string;
  unschedulablePods?: number;
  nodeGroups?: { name: string; targetSize: number; readyNodes?: number }[];
  conditions?: PolicyCondition[];
}

export interface NodeAutoscalingPolicy {
  apiVersion: string;
  kind: 'NodeAutoscalingPolicy';
  metadata: ObjectMeta;
  spec: NodeAutoscalingPolicySpec;
  status?: NodeAutoscalingPolicyStatus;
}

export type AutoscalingPolicy = PodAutoscalingPolicy | NodeAutoscalingPolicy;

export function policyKey(p: { metadata: { namespace?: string; name: string } }): string {
  return p.metadata.namespace ? `${p.metadata.namespace}/${p.metadata.name}` : p.metadata.name;
}
