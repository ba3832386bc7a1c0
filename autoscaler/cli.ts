// `tidemark autoscale …`: thin I/O around the pure recommender (`recommend`)
// and a running engine's decision log (`explain`, over its HTTP API: chDB
// binds one data directory per process, so the CLI cannot open the engine's store).
import { readFileSync } from 'node:fs';
import { Command } from 'commander';
import { engineAuthHeaders, runJsonCommand, type CliResult } from '../core/cli.ts';
import { parseRecommendInput, recommend, type ReplicaRecommendation } from './pods/recommend.ts';
import type { DecisionAnswer } from './routes.ts';

/** JSON in, JSON out; bad input gives exit code 2, a message naming the field, and nothing on stdout. */
export function runRecommend(text: string): CliResult {
  return runJsonCommand(text, (raw) => recommend(parseRecommendInput(raw)));
}

/** A decision as `autoscale explain` prints it: what was decided, why, each metric's proposal, and whether replay agrees. */
export function formatExplanation(answer: DecisionAnswer): string {
  const d = answer.decision;
  const ref = d.policy.namespace ? `${d.policy.namespace}/${d.policy.name}` : d.policy.name;
  const out = answer.decision.output as Partial<ReplicaRecommendation> | undefined;
  const lines = [`${d.policy.kind} ${ref}`, `  time       ${d.time}`, `  action     ${d.action}`];
  const from = d.fromReplicas ?? out?.currentReplicas;
  const to = out?.desiredReplicas ?? d.toReplicas;
  if (from !== undefined || to !== undefined) lines.push(`  replicas   ${from ?? '?'} → ${to ?? '?'}`);
  if (out && 'limitedBy' in out) lines.push(`  limitedBy  ${out.limitedBy ?? 'none'}`);
  lines.push(`  reason     ${d.reason}`);
  if (d.predictive) lines.push(`  predictive ${d.predictive.source}: ${d.predictive.desiredReplicas} (${d.predictive.reason})`);
  if (out?.metrics && out.metrics.length > 0) {
    lines.push('  metrics');
    for (const m of out.metrics) {
      const current = m.currentAverageUtilization !== undefined ? `, current ${m.currentAverageUtilization}% of request` : m.currentAverageValue !== undefined ? `, current ${m.currentAverageValue}` : '';
      lines.push(`    ${m.type} ${m.name}: proposal ${m.proposal}${current}`);
    }
  }
  for (const c of d.conditions) lines.push(`  condition  ${c.type}=${c.status} ${c.reason}${c.message ? `: ${c.message}` : ''}`);
  if (answer.replayError) lines.push(`  replay     impossible: ${answer.replayError}`);
  else if (answer.replayed && answer.reproducible) lines.push(`  replay     reproduces ${answer.replayed.desiredReplicas} replicas from the stored inputs`);
  else if (answer.replayed) lines.push(`  replay     DIFFERS: the stored inputs now give ${answer.replayed.desiredReplicas} replicas`);
  else lines.push('  replay     not applicable (no recommender input stored)');
  return `${lines.join('\n')}\n`;
}

/** Asks a running engine for a policy's decision; the answer's text, or an error naming the field. */
export async function runExplain(policy: string, opts: { at?: string; url: string; json?: boolean; node?: boolean }): Promise<CliResult> {
  const params = new URLSearchParams({ policy });
  if (opts.at !== undefined) params.set('at', opts.at);
  if (opts.node) params.set('kind', 'NodeAutoscalingPolicy');
  const url = `${opts.url.replace(/\/$/, '')}/api/v1/autoscale/decisions?${params}`;
  let res: Response;
  try {
    res = await fetch(url, { headers: engineAuthHeaders() });
  } catch (e) {
    return { stdout: '', stderr: `--url: cannot reach ${opts.url}: ${(e as Error).message}\n`, code: 1 };
  }
  const body = (await res.json().catch(() => undefined)) as (DecisionAnswer & { error?: string; message?: string }) | undefined;
  if (!res.ok || !body || !body.decision) {
    const message = body?.message ?? `HTTP ${res.status}`;
    // Bad input is the caller's (exit 2, as for recommend); a missing decision or a server error is not.
    return { stdout: '', stderr: `${message}\n`, code: res.status === 400 ? 2 : 1 };
  }
  return { stdout: opts.json ? `${JSON.stringify(body, null, 2)}\n` : formatExplanation(body), stderr: '', code: 0 };
}

function readAll(file: string | undefined): string {
  return readFileSync(file ?? 0, 'utf8');
}

export function autoscaleCommand(): Command {
  const autoscale = new Command('autoscale').description('pod autoscaling: HPA-compatible recommendations and explanations of the decisions made');
  autoscale
    .command('recommend')
    .description('recommend a replica count for an autoscaling/v2 HPA, its pods and their metrics (JSON on stdin or --input)')
    .option('--input <file>', 'read the input JSON from FILE instead of stdin')
    .action((opts: { input?: string }) => {
      let text: string;
      try {
        text = readAll(opts.input);
      } catch (err) {
        process.stderr.write(`--input: ${(err as Error).message}\n`);
        process.exitCode = 2;
        return;
      }
      const out = runRecommend(text);
      if (out.stdout) process.stdout.write(out.stdout);
      if (out.stderr) process.stderr.write(out.stderr);
      process.exitCode = out.code;
    });
  autoscale
    .command('explain')
    .description("print a policy's decision at a time (latest by default) from a running engine, and whether replaying its stored inputs reproduces it")
    .argument('<policy>', 'namespace/name of a PodAutoscalingPolicy (a NodeAutoscalingPolicy name with --node)')
    .option('--at <time>', 'the decision in force at this time (unix seconds or RFC 3339)')
    .option('--url <url>', 'engine address (also TIDEMARK_URL)', process.env['TIDEMARK_URL'] ?? 'http://127.0.0.1:8080')
    .option('--node', 'the policy is a NodeAutoscalingPolicy')
    .option('--json', 'print the decision and its replay as JSON')
    .action(async (policy: string, opts: { at?: string; url: string; json?: boolean; node?: boolean }) => {
      const out = await runExplain(policy, opts);
      if (out.stdout) process.stdout.write(out.stdout);
      if (out.stderr) process.stderr.write(out.stderr);
      process.exitCode = out.code;
    });
  return autoscale;
}
