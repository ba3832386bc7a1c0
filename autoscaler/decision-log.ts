// The autoscaler's decisions in the store: every decision the loop makes,
// with the recommender's or planner's input and output as JSON, so that
// `tidemark autoscale explain` can show one and replay it. Owns the
// autoscaler_decisions table and its migration.
import { createTable, type Migration } from '../core/migrations.ts';
import type { Store } from '../core/store.ts';
import type { Logger } from '../core/log.ts';
import type { AppContext } from '../core/context.ts';
import type { AutoscalingDecision, DecisionLog, PolicyRef } from './ports.ts';
import type { ReplicaRecommendation } from './pods/recommend.ts';

export const autoscalerMigrations: Migration[] = [
  {
    component: 'autoscaler',
    version: 1,
    name: 'autoscaler_decisions',
    statements: (ctx) =>
      createTable(ctx, {
        name: 'autoscaler_decisions',
        columns: [
          'tenant LowCardinality(String)',
          'policy_kind LowCardinality(String)',
          // Node policies are cluster-scoped: their namespace is ''.
          'namespace String',
          'name String',
          "time DateTime64(3, 'UTC') CODEC(DoubleDelta, ZSTD(1))",
          'action LowCardinality(String)',
          'current_replicas Nullable(Int32)',
          'desired_replicas Nullable(Int32)',
          'reason String CODEC(ZSTD(1))',
          // The whole AutoscalingDecision, inputs included: what explain replays.
          'decision String CODEC(ZSTD(3))',
        ],
        engine: 'MergeTree',
        orderBy: '(tenant, policy_kind, namespace, name, time)',
        partitionBy: 'toDate(time)',
        // Decisions carry whole pod lists; they are kept as long as raw samples, the inputs they were made from.
        ttl: `toDateTime(time) + INTERVAL ${ctx.rawRetentionDays} DAY`,
      }),
  },
];

interface DecisionRow {
  decision: string;
}

export interface StoreDecisionLogOptions {
  /** How long decisions wait to be written together: a round decides for many policies at once. */
  lingerMs?: number;
  /** Most decisions per insert. */
  maxBatch?: number;
  /**
   * A decision that changes nothing and says the same as the policy's last
   * stored one is stored at most this often (0: every one). The loop decides
   * on every new sample, and each decision carries its policy's whole pod
   * list; explain --at then finds the same outcome from at most this long before.
   */
  unchangedEveryMs?: number;
  log?: Logger;
}

/** What a decision says, without its inputs: two decisions with the same gist differ only in the figures they were made from. */
function decisionGist(d: AutoscalingDecision): string {
  const output = d.output as Partial<ReplicaRecommendation> | undefined;
  const conditions = d.conditions.map((c) => `${c.type}=${c.status}:${c.reason}`).join(',');
  return `${d.action}|${d.fromReplicas ?? ''}|${d.toReplicas ?? ''}|${output?.desiredReplicas ?? ''}|${output?.limitedBy ?? ''}|${d.reason}|${conditions}`;
}

/** ClickHouse's DateTime64 text form, which every input format setting accepts. */
function clickhouseTime(iso: string): string {
  return new Date(iso).toISOString().replace('T', ' ').replace('Z', '');
}

/**
 * A DecisionLog in the store. Writes are batched: a round may decide for
 * thousands of policies, and one insert per decision would make as many
 * parts. record() returns once the decision is queued, so a round never waits
 * on the store; find() writes what is queued before it reads.
 */
export class StoreDecisionLog implements DecisionLog {
  private pending: Record<string, unknown>[] = [];
  private timer: NodeJS.Timeout | undefined;
  private flushing: Promise<void> = Promise.resolve();
  private readonly lingerMs: number;
  private readonly maxBatch: number;
  private readonly unchangedEveryMs: number;
  /** Per policy: what its last stored decision said, and when. */
  private readonly lastStored = new Map<string, { gist: string; time: number }>();

  constructor(
    private readonly store: Store,
    private readonly tenant: string,
    private readonly options: StoreDecisionLogOptions = {},
  ) {
    this.lingerMs = options.lingerMs ?? 200;
    this.maxBatch = options.maxBatch ?? 5000;
    this.unchangedEveryMs = options.unchangedEveryMs ?? 15_000;
  }

  async record(decision: AutoscalingDecision): Promise<void> {
    const key = `${decision.policy.kind}/${decision.policy.namespace ?? ''}/${decision.policy.name}`;
    const gist = decisionGist(decision);
    const time = Date.parse(decision.time);
    const last = this.lastStored.get(key);
    if (decision.action === 'none' && last && last.gist === gist && time >= last.time && time - last.time < this.unchangedEveryMs) return;
    this.lastStored.set(key, { gist, time });
    const output = decision.output as Partial<ReplicaRecommendation> | undefined;
    this.pending.push({
      tenant: this.tenant,
      policy_kind: decision.policy.kind,
      namespace: decision.policy.namespace ?? '',
      name: decision.policy.name,
      time: clickhouseTime(decision.time),
      action: decision.action,
      current_replicas: decision.fromReplicas ?? output?.currentReplicas ?? null,
      desired_replicas: decision.toReplicas ?? output?.desiredReplicas ?? null,
      reason: decision.reason,
      decision: JSON.stringify(decision),
    });
    if (this.pending.length >= this.maxBatch) void this.flush().catch(() => undefined);
    else this.timer ??= setTimeout(() => void this.flush().catch(() => undefined), this.lingerMs);
  }

  /** Writes every queued decision; failures are logged and the batch dropped (the loop goes on deciding). */
  flush(): Promise<void> {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    const rows = this.pending;
    this.pending = [];
    // Batches are written in order, one at a time.
    this.flushing = this.flushing.then(async () => {
      if (rows.length === 0) return;
      try {
        await this.store.insertRows('autoscaler_decisions', rows);
      } catch (e) {
        this.options.log?.warn({ err: e, decisions: rows.length }, 'decision log write failed; decisions dropped');
        throw e;
      }
    });
    const done = this.flushing;
    this.flushing = done.catch(() => undefined);
    return done;
  }

  async find(policy: PolicyRef, at?: Date): Promise<AutoscalingDecision | undefined> {
    await this.flush().catch(() => undefined);
    const rows = await this.store.query<DecisionRow>(
      `SELECT decision FROM ${this.store.table('autoscaler_decisions')}
       WHERE tenant = {tenant:String} AND policy_kind = {kind:String} AND namespace = {namespace:String} AND name = {name:String}
         ${at ? "AND time <= toDateTime64({at:Float64}, 3, 'UTC')" : ''}
       ORDER BY time DESC LIMIT 1`,
      { tenant: this.tenant, kind: policy.kind, namespace: policy.namespace ?? '', name: policy.name, ...(at ? { at: at.getTime() / 1000 } : {}) },
    );
    return rows[0] ? (JSON.parse(rows[0].decision) as AutoscalingDecision) : undefined;
  }

  /** Writes what is queued; the engine calls it on the way down. */
  async close(): Promise<void> {
    await this.flush().catch(() => undefined);
  }
}

// One log per running engine, shared by the loop and the API: find() then sees the decisions still queued.
const shared = new WeakMap<AppContext, StoreDecisionLog>();

/** The engine's decision log, created on first use and flushed when the engine stops. */
export function sharedDecisionLog(ctx: AppContext): StoreDecisionLog {
  let log = shared.get(ctx);
  if (!log) {
    const created = new StoreDecisionLog(ctx.store, ctx.config.tenant, { log: ctx.log });
    ctx.onClose(() => created.close());
    shared.set(ctx, created);
    log = created;
  }
  return log;
}
