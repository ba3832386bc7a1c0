// The autoscaler's control loop: every tick (1 s by default, and at once on a
// policy change) it evaluates every PodAutoscalingPolicy and
// NodeAutoscalingPolicy, never two rounds at a time. This file composes the
// rounds and owns their timing; the rooms are in loop/: the pod round
// (pod-round.ts, pod-decision.ts, pod-status.ts, predictive.ts), the node
// round (node-round.ts, drains.ts), Events (events.ts), the policy-to-decider
// mapping (policy-input.ts) and the state carried between rounds
// (context.ts). The ports it talks through are in ports.ts; explain and
// replay in explain.ts. Bad input in one policy (schema, missing target,
// missing or stale metrics, an unparsable quantity) becomes a condition on
// that policy and a "no change" decision; the others go on.
import { createLoopContext, type AutoscalerOptions } from './loop/context.ts';
import { nodeRound } from './loop/node-round.ts';
import { podRound } from './loop/pod-round.ts';

export type { AutoscalerOptions } from './loop/context.ts';

export interface RoundReport {
  podPolicies: number;
  nodePolicies: number;
  scaled: number;
  failed: number;
  durationMs: number;
}

export interface Autoscaler {
  /** One round over every policy; rounds never overlap (a call during a round waits for the next). */
  runOnce(): Promise<RoundReport>;
  stop(): Promise<void>;
  readonly rounds: number;
}

/** Creates the loop without starting its timer (tests and benchmarks drive runOnce). */
export function createAutoscaler(options: AutoscalerOptions): Autoscaler {
  const ctx = createLoopContext(options);
  let rounds = 0;

  async function round(): Promise<RoundReport> {
    const started = Date.now();
    const at = ctx.now();
    const pods = await podRound(ctx, at);
    let scaled = pods.scaled;
    let failed = pods.failed;
    const nodePolicies = options.policies.nodePolicies();
    for (const policy of nodePolicies) {
      try {
        if (await nodeRound(ctx, policy, at)) scaled++;
      } catch (e) {
        failed++;
        options.log?.warn({ err: e, policy: policy.metadata }, 'node policy evaluation failed');
      }
    }
    rounds++;
    return { podPolicies: pods.count, nodePolicies: nodePolicies.length, scaled, failed, durationMs: Date.now() - started };
  }

  // Rounds are chained so that they never overlap.
  let chain: Promise<unknown> = Promise.resolve();
  function runOnce(): Promise<RoundReport> {
    const next = chain.then(() => round());
    chain = next.catch(() => undefined);
    return next;
  }

  return {
    runOnce,
    async stop() {
      await chain;
      await Promise.all([...ctx.drains]);
    },
    get rounds() {
      return rounds;
    },
  };
}

/**
 * Starts the loop: a round every `tickMs` (1 s by default) and one at once on
 * any policy change, never two at a time. Needs a ClusterAccess (KubeClusterAccess
 * for a real cluster), a PolicySource (PolicyWatcher), a PodMetricsSource, a
 * DecisionLog and, to act on node plans, a NodeActuator.
 */
export function startAutoscaler(options: AutoscalerOptions): Autoscaler {
  const loop = createAutoscaler(options);
  const tickMs = options.tickMs ?? 1000;
  let stopped = false;
  let timer: NodeJS.Timeout | undefined;
  let pending = false;
  let inRound = false;

  const kick = (): void => {
    if (stopped) return;
    if (inRound) {
      pending = true;
      return;
    }
    inRound = true;
    loop
      .runOnce()
      .catch((e: unknown) => options.log?.error({ err: e }, 'autoscaler round failed'))
      .finally(() => {
        inRound = false;
        if (pending && !stopped) {
          pending = false;
          kick();
        }
      });
  };
  timer = setInterval(kick, tickMs);
  const unsubscribe = options.policies.onChange(() => kick());
  kick();
  return {
    runOnce: () => loop.runOnce(),
    async stop() {
      stopped = true;
      if (timer) clearInterval(timer);
      timer = undefined;
      unsubscribe();
      await loop.stop();
    },
    get rounds() {
      return loop.rounds;
    },
  };
}
