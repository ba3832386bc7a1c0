// The autoscaler's API: GET /api/v1/autoscale/decisions, a policy's decision
// at a moment with its stored inputs, replayed through the recommender to
// show whether the same inputs still give the same replica count.
import { z } from 'zod';
import { HttpError, type RouteModule } from '../core/http.ts';
import { InputError } from '../core/errors.ts';
import { parseInput } from '../core/validate.ts';
import { parseTime } from '../metrics/range-query.ts';
import { explainDecision, type DecisionExplanation } from './explain.ts';
import type { PolicyRef } from './ports.ts';
import { StoreDecisionLog, sharedDecisionLog } from './decision-log.ts';

const decisionQuery = z.object({
  policy: z.string().min(1, 'required: namespace/name of a PodAutoscalingPolicy, or the name of a NodeAutoscalingPolicy'),
  kind: z.enum(['PodAutoscalingPolicy', 'NodeAutoscalingPolicy']).default('PodAutoscalingPolicy'),
  at: z.string().optional(),
});

/** `ns/name` for a pod policy (namespaced), `name` for a node policy (cluster-scoped). */
export function parsePolicyRef(text: string, kind: PolicyRef['kind'], field = 'policy'): PolicyRef {
  const parts = text.split('/');
  if (kind === 'NodeAutoscalingPolicy') {
    if (parts.length !== 1 || !parts[0]) throw new InputError(field, `"${text}" is not a NodeAutoscalingPolicy name (they are cluster-scoped: no namespace)`);
    return { kind, name: parts[0] };
  }
  if (parts.length !== 2 || !parts[0] || !parts[1]) throw new InputError(field, `"${text}" is not namespace/name`);
  return { kind, namespace: parts[0], name: parts[1] };
}

export interface DecisionAnswer extends DecisionExplanation {
  /** Why the stored input could not be replayed (it no longer parses). */
  replayError?: string;
}

export const autoscalerRoutes: RouteModule = (app, ctx) => {
  const shared = sharedDecisionLog(ctx);
  // The loop decides for the configured tenant (its log also holds decisions not yet written); another tenant's decisions are read from the store.
  const decisionsOf = (tenant: string) => (tenant === ctx.config.tenant ? shared : new StoreDecisionLog(ctx.store, tenant, { log: ctx.log }));

  app.get('/api/v1/autoscale/decisions', { config: { auth: { action: 'read' } } }, async (req): Promise<DecisionAnswer> => {
    const decisions = decisionsOf(req.tenant);
    const q = parseInput(decisionQuery, req.query);
    const policy = parsePolicyRef(q.policy, q.kind);
    const at = q.at === undefined ? undefined : new Date(parseTime(q.at, 'at') * 1000);
    let explained: DecisionAnswer | undefined;
    try {
      explained = await explainDecision(decisions, policy, at);
    } catch (e) {
      // A decision whose input no longer parses is still shown, with why it cannot be replayed.
      if (!(e instanceof InputError)) throw e;
      const decision = await decisions.find(policy, at);
      if (decision) explained = { decision, reproducible: false, replayError: e.message };
    }
    if (!explained) {
      const when = at ? ` at or before ${at.toISOString()}` : '';
      throw new HttpError(404, 'not_found', `no decision recorded for ${policy.kind} ${q.policy}${when}`, 'policy');
    }
    return explained;
  });
};
