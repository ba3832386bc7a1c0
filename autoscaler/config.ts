// The autoscaler's configuration section: whether the loop runs, which
// cluster it watches and how often it decides. Composed into the whole in
// bin/config.ts.
import { z } from 'zod';
import { duration, type CoreConfig } from '../core/config.ts';

export const autoscalerSection = z
  .object({
    /** Runs the autoscaler's control loop (roles all and api), reading pod metrics from the store. */
    enabled: z.boolean().default(false),
    /** A kubeconfig file; absent: KUBECONFIG, ~/.kube/config or the in-cluster service account. */
    kubeconfig: z.string().min(1).optional(),
    /** Round interval: how soon after samples land a policy is decided. */
    tick: duration.default('1s'),
  })
  .prefault({});

/** What the autoscaler's service reads of the configuration. */
export type AutoscalerConfig = CoreConfig & { autoscaler: z.output<typeof autoscalerSection> };
