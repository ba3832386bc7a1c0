// Wires the control loop to a cluster through @kubernetes/client-node: the
// policy informers, ClusterAccess reading informer caches and writing through
// the API, and, given a node provider, the drain-then-delete actuator. What
// the engine calls to run the autoscaler. It sits above kube/ (the adapters)
// so that kube/ never imports the loop it serves.
import type { KubeConfig } from '@kubernetes/client-node';
import type { Logger } from '../core/log.ts';
import { KubeDrainApi, type DrainOptions } from './actuation/drain.ts';
import type { NodeProvider } from './providers/provider.ts';
import { startAutoscaler, type Autoscaler } from './controller.ts';
import type { AutoscalingDecision, CustomMetricsSource, DecisionLog, LoadHistorySource, PodMetricsSource } from './ports.ts';
import { InformerClusterAccess } from './kube/informer-access.ts';
import { ProviderNodeActuator } from './actuation/node-actuator.ts';
import { PolicyWatcher } from './kube/policy-watch.ts';

export interface InClusterAutoscalerOptions {
  kubeConfig: KubeConfig;
  metrics: PodMetricsSource;
  decisions: DecisionLog;
  customMetrics?: CustomMetricsSource;
  loadHistory?: LoadHistorySource;
  /** With a provider, node plans are carried out; without, they are only planned and recorded. */
  provider?: NodeProvider;
  drainOptions?: DrainOptions;
  tickMs?: number;
  staleAfterMs?: number;
  log?: Logger;
  onDecision?: (decision: AutoscalingDecision) => void;
}

export interface RunningAutoscaler {
  readonly autoscaler: Autoscaler;
  readonly policies: PolicyWatcher;
  stop(): Promise<void>;
}

/** Starts watching policies (resolves once both kinds are listed) and the loop. */
export async function runAutoscaler(options: InClusterAutoscalerOptions): Promise<RunningAutoscaler> {
  const { kubeConfig: kc } = options;
  const policies = new PolicyWatcher(kc, { onError: (err) => options.log?.warn({ err }, 'policy watch failed; restarting') });
  const cluster = new InformerClusterAccess(kc, { onError: (err) => options.log?.warn({ err }, 'cluster watch failed; restarting') });
  await Promise.all([policies.start(), cluster.start()]);
  const autoscaler = startAutoscaler({
    cluster,
    policies,
    metrics: options.metrics,
    decisions: options.decisions,
    ...(options.customMetrics ? { customMetrics: options.customMetrics } : {}),
    ...(options.loadHistory ? { loadHistory: options.loadHistory } : {}),
    ...(options.provider
      ? {
          nodes: new ProviderNodeActuator({
            provider: options.provider,
            drain: new KubeDrainApi(kc),
            cluster,
            ...(options.drainOptions ? { drainOptions: options.drainOptions } : {}),
            onDrainFailure: (node, reason) => options.log?.warn({ node, reason }, 'drain did not finish; node kept'),
          }),
        }
      : {}),
    ...(options.tickMs !== undefined ? { tickMs: options.tickMs } : {}),
    ...(options.staleAfterMs !== undefined ? { staleAfterMs: options.staleAfterMs } : {}),
    ...(options.log ? { log: options.log } : {}),
    ...(options.onDecision ? { onDecision: options.onDecision } : {}),
  });
  return {
    autoscaler,
    policies,
    async stop() {
      await autoscaler.stop();
      await Promise.all([policies.stop(), cluster.stop()]);
    },
  };
}
