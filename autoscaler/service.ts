// The autoscaler as the engine runs it: the control loop against the cluster
// the configured kubeconfig points at, reading pod metrics and load history
// from the store and keeping its decisions there.
import { KubeConfig } from '@kubernetes/client-node';
import type { AppContext } from '../core/context.ts';
import type { AutoscalerConfig } from './config.ts';
import { parseDuration } from '../core/duration.ts';
import { InputError } from '../core/errors.ts';
import { runAutoscaler, type RunningAutoscaler } from './in-cluster.ts';
import { StoreLoadHistory, StorePodMetrics } from './store-metrics.ts';
import { sharedDecisionLog } from './decision-log.ts';

/** The kubeconfig file when one is configured, else the default chain (KUBECONFIG, ~/.kube/config, in-cluster). */
export function loadKubeConfig(file: string | undefined): KubeConfig {
  const kc = new KubeConfig();
  try {
    if (file) kc.loadFromFile(file);
    else kc.loadFromDefault();
  } catch (e) {
    throw new InputError('autoscaler.kubeconfig', `cannot load ${file ?? 'the default kubeconfig'}: ${(e as Error).message}`);
  }
  if (!kc.getCurrentCluster()) throw new InputError('autoscaler.kubeconfig', `${file ?? 'the default kubeconfig'} names no current cluster`);
  return kc;
}

/**
 * Starts the loop when `autoscaler.enabled`. The watchers retry an
 * unreachable API server by themselves (each failure is logged as a
 * warning), so the engine comes up either way; a kubeconfig that cannot be
 * read fails the start, naming the field.
 */
export async function startAutoscaling(ctx: AppContext<AutoscalerConfig>): Promise<RunningAutoscaler | undefined> {
  const config = ctx.config.autoscaler;
  if (!config.enabled) return undefined;
  const kubeConfig = loadKubeConfig(config.kubeconfig);
  let running: RunningAutoscaler;
  try {
    running = await runAutoscaler({
      kubeConfig,
      metrics: new StorePodMetrics(ctx.store, ctx.config.tenant),
      loadHistory: new StoreLoadHistory(ctx.store, ctx.config.tenant),
      decisions: sharedDecisionLog(ctx),
      tickMs: parseDuration(config.tick, 'autoscaler.tick'),
      log: ctx.log,
    });
  } catch (e) {
    throw new InputError('autoscaler.kubeconfig', `cannot start watching ${kubeConfig.getCurrentCluster()?.server}: ${(e as Error).message}`);
  }
  ctx.onClose(() => running.stop());
  ctx.log.info({ server: kubeConfig.getCurrentCluster()?.server, tick: config.tick }, 'autoscaler running');
  return running;
}
