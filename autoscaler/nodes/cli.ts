// `tidemark nodes plan [--input FILE]`: JSON in on stdin or FILE, the plan out
// on stdout. Bad input exits 2 with the field named on stderr and nothing on
// stdout, so a pipeline never consumes half a decision.
import { readFileSync } from 'node:fs';
import { Command } from 'commander';
import { runJsonCommand, type CliResult } from '../../core/cli.ts';
import { parseNodePlanInput } from './input.ts';
import { planNodes } from './plan.ts';

/** The plan for JSON input text. */
export function runPlan(text: string): CliResult {
  return runJsonCommand(text, (raw) => planNodes(parseNodePlanInput(raw)));
}

async function readStdin(): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

export function nodesCommand(): Command {
  const nodes = new Command('nodes').description('node autoscaler: plan node-group scale-up and scale-down');
  nodes
    .command('plan')
    .description('decide which node groups grow and which autoscaler-added nodes go (JSON on stdin or --input)')
    .option('--input <file>', 'read the input from FILE instead of stdin')
    .action(async (opts: { input?: string }) => {
      let text: string;
      try {
        text = opts.input ? readFileSync(opts.input, 'utf8') : await readStdin();
      } catch (e) {
        process.stderr.write(`--input: ${e instanceof Error ? e.message : String(e)}\n`);
        process.exitCode = 2;
        return;
      }
      const result = runPlan(text);
      if (result.stdout) process.stdout.write(result.stdout);
      if (result.stderr) process.stderr.write(result.stderr);
      process.exitCode = result.code;
    });
  return nodes;
}
